"""What mockknock emits and answers also validates against Knock's own OpenAPI schemas (read from shared/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from mockknock.scenario_file import load_scenario
from tests.conftest import AUTH, Receiver, ServerFactory
from tests.shared_docs import openapi

RICH_SCENARIO = """
version: 1
name: every-message-event
recipient_run_events: true
channels:
  mail: {type: email, provider: postmark}
  phone: {type: sms, provider: twilio}
  feed: {type: in_app_feed, provider: knock}
  mobile: {type: push, provider: fcm}
workflows:
  everything:
    categories: [alerts]
    steps:
      - {ref: feed_1, channel: feed}
      - {ref: mail_1, channel: mail}
      - {ref: phone_1, channel: phone}
      - {ref: mobile_1, channel: mobile}
lifecycles:
  - match: {channel: feed}
    events: [sent, delivered, +1s seen, +1s read, +1s interacted, +1s archived, +1s unarchived, +1s unread, +1s unseen]
  - match: {channel: mail}
    events: [sent, +2s delivered, "+1m link_clicked(https://example.com/a)"]
  - match: {channel: phone}
    events: [delivery_attempted x3, undelivered(retries_exhausted)]
  - match: {channel: mobile}
    events: [sent, +1s bounced(invalid_token)]
"""


def to_json_schema(node: Any, components: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12: nullable becomes a null branch, refs go to $defs."""
    if isinstance(node, list):
        return [to_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {"$ref": "#/$defs/" + node["$ref"].rsplit("/", 1)[1]}
    converted = {k: to_json_schema(v, components) for k, v in node.items()
                 if not k.startswith("x-") and k not in ("nullable", "example", "discriminator")}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def openapi_validator(name: str) -> Draft202012Validator:
    components = openapi("api")["components"]["schemas"]
    schema = {
        "$defs": {k: to_json_schema(v, components) for k, v in components.items()},
        "$ref": f"#/$defs/{name}",
    }
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_valid(validator: Draft202012Validator, instance: Any, what: str) -> None:
    problems = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not problems, f"{what}: " + "; ".join(f"{list(p.absolute_path)}: {p.message}" for p in problems[:5])


@pytest.fixture
async def rich_run(make_server: ServerFactory, receiver: Receiver, tmp_path: Path) -> tuple[Receiver, Any]:
    path = tmp_path / "rich.yaml"
    path.write_text(RICH_SCENARIO)
    server = await make_server(receiver.url, virtual_clock=True, scenario_obj=load_scenario(path))
    async with aiohttp.ClientSession() as session:
        body = {"recipients": ["u1", {"id": "o1", "collection": "projects"}], "actor": "u2", "tenant": "acme",
                "data": {"n": 1}}
        async with session.post(f"{server.url}/v1/workflows/everything/trigger", json=body, headers=AUTH) as r:
            assert r.status == 200
    await server.simulation.settle()
    return receiver, server


class TestEmittedAgainstOpenApi:
    """Webhook data and API answers against components/schemas of api.yml."""

    async def test_every_message_event_type_is_emitted_and_valid(self, rich_run: tuple[Receiver, Any]) -> None:
        """All 13 message.* types appear, and each data validates as Knock's Message."""
        receiver, _ = rich_run
        validator = openapi_validator("Message")
        types = set()
        for received in receiver.received:
            body = received.json
            types.add(body["type"])
            if body["type"].startswith("message."):
                assert_valid(validator, body["data"], body["type"])
        message_types = {t for t in types if t.startswith("message.")}
        assert message_types == {
            "message.sent", "message.delivered", "message.delivery_attempted", "message.undelivered",
            "message.bounced", "message.seen", "message.unseen", "message.read", "message.unread",
            "message.archived", "message.unarchived", "message.interacted", "message.link_clicked",
        }

    async def test_recipient_run_events_validate(self, rich_run: tuple[Receiver, Any]) -> None:
        """workflow_recipient_run.started/completed carry a valid WorkflowRecipientRun."""
        receiver, _ = rich_run
        validator = openapi_validator("WorkflowRecipientRun")
        runs = [r.json for r in receiver.received if r.type.startswith("workflow_recipient_run.")]
        assert {r["type"] for r in runs} == {"workflow_recipient_run.started", "workflow_recipient_run.completed"}
        for run in runs:
            assert_valid(validator, run["data"], run["type"])

    async def test_event_data_shapes(self, rich_run: tuple[Receiver, Any]) -> None:
        """Attempts count up to the max; failures carry reasons; clicks carry the url; push bounces a token."""
        receiver, server = rich_run
        by_type: dict[str, list[dict[str, Any]]] = {}
        for received in receiver.in_emission_order(server.simulation):
            by_type.setdefault(received.type, []).append(received.json)
        attempts = [e["event_data"]["attempt"] for e in by_type["message.delivery_attempted"]
                    if e["data"]["recipient"] == "u1"]
        assert attempts == [1, 2, 3]
        assert all(e["event_data"]["max_attempts"] == 8 for e in by_type["message.delivery_attempted"])
        assert by_type["message.undelivered"][0]["event_data"]["failure_reason"] == "retries_exhausted"
        bounce = by_type["message.bounced"][0]["event_data"]
        assert bounce["failure_reason"] == "invalid_token" and len(bounce["token"]) == 64
        assert by_type["message.link_clicked"][0]["event_data"] == {
            "__typename": "EventData", "url": "https://example.com/a"}
        clicked = by_type["message.link_clicked"][0]["data"]
        assert clicked["link_clicked_at"] == clicked["clicked_at"] == clicked["updated_at"]
        assert all(e["event_data"] is None for e in by_type["message.sent"])

    async def test_engagement_accumulates_and_clears(self, rich_run: tuple[Receiver, Any]) -> None:
        """seen/read/archived add statuses with *_at; their opposites remove them."""
        receiver, server = rich_run
        feed = [r.json for r in receiver.in_emission_order(server.simulation)
                if r.json["data"].get("channel", {}).get("key") == "feed" and r.json["data"]["recipient"] == "u1"]
        statuses = [(e["type"], e["data"]["engagement_statuses"]) for e in feed]
        assert statuses[4] == ("message.interacted", ["seen", "read", "interacted"])
        assert statuses[5] == ("message.archived", ["seen", "read", "interacted", "archived"])
        assert statuses[-1] == ("message.unseen", ["interacted"])
        last = feed[-1]["data"]
        assert last["seen_at"] is None and last["read_at"] is None and last["interacted_at"] is not None

    async def test_api_answers_validate(self, rich_run: tuple[Receiver, Any]) -> None:
        """GET /v1/messages and GET /v1/messages/{id} answer in the OpenAPI shapes."""
        _, server = rich_run
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/v1/messages", headers=AUTH) as response:
                listing = await response.json()
            assert_valid(openapi_validator("ListMessagesResponse"), listing, "GET /v1/messages")
            assert listing["page_info"]["__typename"] == "PageInfo"
            message_id = listing["items"][0]["id"]
            async with session.get(f"{server.url}/v1/messages/{message_id}", headers=AUTH) as response:
                assert_valid(openapi_validator("Message"), await response.json(), "get message")


def test_converter_rejects_a_broken_message() -> None:
    """The OpenAPI validator built here is not vacuous: a Message without id fails it."""
    example = json.loads(json.dumps(openapi("api")["components"]["schemas"]["Message"]["example"]))
    validator = openapi_validator("Message")
    assert not list(validator.iter_errors(example))
    del example["id"]
    example["status"] = "exploded"
    assert len(list(validator.iter_errors(example))) == 2
