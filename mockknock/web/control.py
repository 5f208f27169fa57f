"""The control plane, ``/__mockknock/...``: read and steer the simulation (never part of Knock's API).

GET  /__mockknock                 overview: version, seed, scenario, clock, endpoints, counts
GET  /__mockknock/clock           the simulated clock
POST /__mockknock/clock/advance   {"by": "30m"}: move a virtual clock forward
POST /__mockknock/reset           {"seed": 7, "scenario": "default"} (both optional): forget everything
PUT  /__mockknock/scenario        {"scenario": "email-bounces"} (bundled name or file path): switch, keep state
GET  /__mockknock/events          emitted webhooks, oldest first (?type=message.sent&limit=100)
GET  /__mockknock/deliveries      every delivery attempt (?event_seq=3&limit=100)
GET  /__mockknock/runs            accepted workflow runs with their recipient runs
GET  /__mockknock/outages         every outage, with whether it is active now
POST /__mockknock/outages         {"component": "api", "status": "major_outage", "start": "0s", "duration": "10m",
                                  "effect": "drop"}: start one (start counts from now)
DELETE /__mockknock/outages/{id}  end one early (or cancel one not yet begun)
GET  /__mockknock/failures        every failure a simulated outage caused on purpose
GET  /__mockknock/dropped         triggers answered 200 and dropped by an outage, with their bodies, to resend
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from mockknock import __version__, errors
from mockknock.duration import DurationError, parse_duration
from mockknock.errors import ConfigError, FieldError, ScenarioError
from mockknock.model import Event
from mockknock.outages import OutageSpec
from mockknock.resources import bundled_scenario
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario, outage_spec
from mockknock.web.keys import SIMULATION
from mockknock.web.responses import json_response, parse_json_object, read_body

PREFIX = "/__mockknock"


def _limit(request: web.Request, default: int = 100) -> int:
    text = request.query.get("limit", str(default))
    if not text.isdigit() or int(text) < 1:
        raise errors.invalid_params([FieldError("limit", f"must be a positive integer, got {text!r}")])
    return int(text)


async def overview(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    return json_response(
        {
            "mockknock": __version__,
            "seed": sim.seed,
            "scenario": {"name": sim.scenario.name, "description": sim.scenario.description},
            "clock": sim.clock.describe(),
            "endpoints": [{"url": e.url, "events": list(e.events)} for e in sim.delivery.endpoints],
            "retry_policy": sim.delivery.policy.describe(),
            "counts": {
                "runs": len(sim.store.runs),
                "messages": len(sim.store.messages),
                "events_emitted": sim.store.events_emitted,
                "delivery_attempts": sim.store.attempts_made,
                "scheduled_steps": len(sim.engine.timeline),
                "deliveries_in_flight": sim.delivery.in_flight,
                "deliveries_deferred": sim.api_first.deferred,
            },
            "problems": sim.problems(),
        }
    )


async def clock(request: web.Request) -> web.Response:
    return json_response(request.app[SIMULATION].clock.describe())


async def advance_clock(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    body = parse_json_object(await read_body(request, sim.settings.max_body_bytes))
    try:
        by = parse_duration(body.get("by", ""))
    except DurationError as exc:
        raise errors.invalid_params([FieldError("by", str(exc))]) from None
    try:
        sim.advance(by)
    except ConfigError as exc:
        raise errors.KnockApiError(409, "clock_not_virtual", "invalid_request_error", str(exc)) from None
    return json_response(sim.clock.describe())


def _named_scenario(value: object) -> Scenario:
    """A bundled scenario by name, or a scenario file by path; a 422 naming the problem otherwise."""
    if not isinstance(value, str) or not value:
        raise errors.invalid_params([FieldError("scenario", "must be a bundled scenario name or a file path")])
    try:
        path = Path(value) if Path(value).is_file() else bundled_scenario(value)
        return load_scenario(path)
    except (FileNotFoundError, ScenarioError) as exc:
        raise errors.invalid_params([FieldError("scenario", str(exc))]) from None


async def reset(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    raw = await read_body(request, sim.settings.max_body_bytes)
    body = parse_json_object(raw) if raw.strip() else {}
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise errors.invalid_params([FieldError("seed", f"must be an integer, got {seed!r}")])
    scenario = _named_scenario(body["scenario"]) if body.get("scenario") is not None else None
    sim.reset(seed=seed, scenario=scenario)
    return json_response({"seed": sim.seed, "scenario": sim.scenario.name})


async def switch_scenario(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    body = parse_json_object(await read_body(request, sim.settings.max_body_bytes))
    sim.use_scenario(_named_scenario(body.get("scenario")))
    return json_response({"scenario": sim.scenario.name, "notes": list(sim.scenario.notes)})


def _event_item(event: Event) -> dict[str, Any]:
    item: dict[str, Any] = {"seq": event.seq, "type": event.type.value, "subject_id": event.subject_id}
    try:
        item["body"] = json.loads(event.body)
    except Exception as exc:  # a mockknock bug (usually a SchemaViolation), never sent: show why, list the rest
        item["body"], item["not_sent"] = None, str(exc)
    return item


async def events(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    wanted = request.query.get("type")
    found = [e for e in sim.store.events if wanted is None or e.type.value == wanted]
    items = [_event_item(e) for e in found[-_limit(request):]]
    return json_response({"items": items, "total_emitted": sim.store.events_emitted})


async def deliveries(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    seq = request.query.get("event_seq")
    found = [a for a in sim.store.deliveries if seq is None or str(a.event_seq) == seq]
    return json_response({"items": [a.to_wire() for a in found[-_limit(request):]],
                          "total_attempts": sim.store.attempts_made})


async def runs(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    items = [
        {
            "workflow_run_id": run.id,
            "workflow": run.workflow,
            "request_id": run.request_id,
            "dropped_reason": run.dropped_reason,
            "recipient_runs": [{**r.to_wire(), "note": r.note} for r in run.recipient_runs],
        }
        for run in list(sim.store.runs.values())[-_limit(request):]
    ]
    return json_response({"items": items})


async def list_outages(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    now = sim.clock.now_us()
    return json_response({"items": [o.to_wire(now) for o in sim.outages.items], "now_us": now})


async def create_outage(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    body = parse_json_object(await read_body(request, sim.settings.max_body_bytes))
    spec = outage_spec(body, sim.scenario.providers())
    if not isinstance(spec, OutageSpec):
        raise errors.invalid_params([FieldError(".".join(map(str, where)) or "body", text) for where, text in spec])
    outage = sim.outages.add(spec, sim.clock.now_us(), "control")
    return json_response(outage.to_wire(sim.clock.now_us()), status=201)


async def end_outage(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    outage = sim.outages.end(request.match_info["outage_id"], sim.clock.now_us())
    if outage is None:
        raise errors.resource_missing("outage", request.match_info["outage_id"])
    return json_response(outage.to_wire(sim.clock.now_us()))


async def failures(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    return json_response({"items": [f.to_wire() for f in sim.outages.failures[-_limit(request, 1000):]],
                          "total": len(sim.outages.failures)})


async def dropped(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    items = [
        {"workflow_run_id": run.id, "workflow": run.workflow, "accepted_at_us": run.accepted_at_us,
         "request_id": run.request_id, "reason": run.dropped_reason, "body": run.dropped_body}
        for run in sim.store.runs.values() if run.dropped_reason is not None
    ]
    return json_response({"items": items})


def register(router: web.UrlDispatcher) -> None:
    router.add_get(PREFIX, overview)
    router.add_get(f"{PREFIX}/clock", clock)
    router.add_post(f"{PREFIX}/clock/advance", advance_clock)
    router.add_post(f"{PREFIX}/reset", reset)
    router.add_put(f"{PREFIX}/scenario", switch_scenario)
    router.add_get(f"{PREFIX}/events", events)
    router.add_get(f"{PREFIX}/deliveries", deliveries)
    router.add_get(f"{PREFIX}/runs", runs)
    router.add_get(f"{PREFIX}/outages", list_outages)
    router.add_post(f"{PREFIX}/outages", create_outage)
    router.add_delete(f"{PREFIX}/outages/{{outage_id}}", end_outage)
    router.add_get(f"{PREFIX}/failures", failures)
    router.add_get(f"{PREFIX}/dropped", dropped)
