"""Knock's API (``/v1``) as the official SDKs call it. Handlers parse, call the engine, answer."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mockknock import errors, strict_json
from mockknock.idempotency import MAX_KEY_LENGTH, fingerprint
from mockknock.message_query import list_messages
from mockknock.model import EngagementStatus
from mockknock.trigger import recipient_refs
from mockknock.web.keys import FAULT, REQUEST_ID, SIMULATION
from mockknock.web.responses import json_response, parse_json_object, read_body, validated

IDEMPOTENCY_HEADER = "Idempotency-Key"
KNOCK_API_PREFIX = "/v1/"  # Knock's API; everything else this server answers is mockknock's own
TRIGGER_ROUTE = "/v1/workflows/{key}/trigger"
MAX_METADATA_KEYS = 5
# Endpoints a public (pk_) key may call; everything else under /v1 needs a secret key.
PUBLIC_KEY_ROUTES = frozenset(
    {
        ("PUT", "/v1/messages/{message_id}/{status}"),
        ("DELETE", "/v1/messages/{message_id}/{status}"),
        ("POST", "/v1/messages/batch/{status}"),
    }
)

# PUT sets, DELETE clears; the path segment names the status.
_ENGAGEMENT_PATHS = {
    "seen": EngagementStatus.SEEN,
    "read": EngagementStatus.READ,
    "archived": EngagementStatus.ARCHIVED,
    "interacted": EngagementStatus.INTERACTED,
}
# Batch actions: name -> (status, set or clear).
_BATCH_ACTIONS = {
    "seen": (EngagementStatus.SEEN, True),
    "unseen": (EngagementStatus.SEEN, False),
    "read": (EngagementStatus.READ, True),
    "unread": (EngagementStatus.READ, False),
    "archived": (EngagementStatus.ARCHIVED, True),
    "unarchived": (EngagementStatus.ARCHIVED, False),
    "interacted": (EngagementStatus.INTERACTED, True),
}


async def trigger_workflow(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    raw = await read_body(request, sim.settings.max_body_bytes)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    parsed = parse_json_object(raw)
    print_ = ""
    if key is not None:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise errors.invalid_params(
                [errors.FieldError(IDEMPOTENCY_HEADER, f"must be 1 to {MAX_KEY_LENGTH} characters, got {len(key)}")]
            )
        print_ = fingerprint(request.path, parsed)
        cached = sim.idempotency.lookup(key, print_)
        if cached is not None:
            return web.Response(
                body=cached.body,
                status=cached.status,
                content_type="application/json",
                headers={"idempotent-replayed": "true", "original-x-request-id": cached.request_id},
            )
    body = validated(sim.schemas, "trigger_request", parsed)
    fault = request.get(FAULT)
    run = sim.accept_trigger(request.match_info["key"], body, request[REQUEST_ID], fault)
    response = json_response({"workflow_run_id": run.id})
    # A simulated 5xx will replace this answer; Knock caches only the 2xx a client received.
    if key is not None and not (fault is not None and fault.after_accept):
        assert isinstance(response.body, bytes)
        sim.idempotency.remember(key, print_, response.status, response.body, request[REQUEST_ID])
    return response


async def cancel_workflow(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    raw = await read_body(request, sim.settings.max_body_bytes)
    body = validated(sim.schemas, "cancel_request", parse_json_object(raw))
    sim.engine.cancel(request.match_info["key"], body["cancellation_key"], recipient_refs(body.get("recipients")))
    return web.Response(status=204)


async def get_message(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    message = sim.store.messages.get(request.match_info["message_id"])
    if message is None:
        raise errors.resource_missing("message", request.match_info["message_id"])
    return json_response(message.to_wire())


async def list_all_messages(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    params: dict[str, list[str]] = {}
    for name, value in request.query.items():
        params.setdefault(name, []).append(value)
    return json_response(list_messages(sim.store.messages.values(), params).to_wire())


def _metadata(body: dict[str, Any]) -> dict[str, Any] | None:
    """Knock's limits (api.yml, the interacted endpoints): at most 5 key-value pairs, no nested data."""
    metadata = body.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        problem = f"must be an object of up to {MAX_METADATA_KEYS} flat keys, got {strict_json.kind(metadata)}"
    elif len(metadata) > MAX_METADATA_KEYS:
        problem = f"takes at most {MAX_METADATA_KEYS} key-value pairs, got {len(metadata)}"
    elif nested := [k for k, v in metadata.items() if isinstance(v, dict | list)]:
        problem = f"must not contain nested data; {nested[0]!r} holds {strict_json.kind(metadata[nested[0]])}"
    else:
        return metadata
    raise errors.invalid_params([errors.FieldError("metadata", problem)])



async def _engagement_metadata(request: web.Request) -> dict[str, Any] | None:
    raw = await read_body(request, request.app[SIMULATION].settings.max_body_bytes)
    return _metadata(parse_json_object(raw)) if raw.strip() else None


async def set_message_status(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    name = request.match_info["status"]
    engagement = _ENGAGEMENT_PATHS.get(name)
    on = request.method == "PUT"
    if engagement is None or (engagement is EngagementStatus.INTERACTED and not on):
        raise errors.not_found(request.method, request.path)
    metadata = await _engagement_metadata(request) if engagement is EngagementStatus.INTERACTED else None
    message = sim.engine.set_engagement(request.match_info["message_id"], engagement, on, metadata)
    return json_response(message.to_wire())


async def batch_message_status(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    action = _BATCH_ACTIONS.get(request.match_info["status"])
    if action is None:
        raise errors.not_found(request.method, request.path)
    body = parse_json_object(await read_body(request, sim.settings.max_body_bytes))
    ids = body.get("message_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise errors.invalid_params([errors.FieldError("message_ids", "must be a non-empty list of message ids")])
    missing = [i for i in ids if i not in sim.store.messages]
    if missing:
        raise errors.resource_missing("message", missing[0])
    engagement, on = action
    metadata = _metadata(body) if engagement is EngagementStatus.INTERACTED else None
    return json_response([sim.engine.set_engagement(i, engagement, on, metadata).to_wire() for i in ids])


def register(router: web.UrlDispatcher) -> None:
    # The status segments are spelled out, so that Knock's other endpoints of the same shape (GET
    # /v1/messages/{id}/events, GET /v1/messages/batch/content, ...) are not mistaken for these with the
    # wrong method (405) but answered as endpoints mockknock does not serve (404).
    one = "|".join(sorted(_ENGAGEMENT_PATHS))
    batch = "|".join(sorted(_BATCH_ACTIONS))
    router.add_post(TRIGGER_ROUTE, trigger_workflow)
    router.add_post("/v1/workflows/{key}/cancel", cancel_workflow)
    router.add_get("/v1/messages", list_all_messages)
    router.add_get("/v1/messages/{message_id}", get_message)
    router.add_post(f"/v1/messages/batch/{{status:{batch}}}", batch_message_status)
    router.add_put(f"/v1/messages/{{message_id}}/{{status:{one}}}", set_message_status)
    router.add_delete(f"/v1/messages/{{message_id}}/{{status:{one}}}", set_message_status)
