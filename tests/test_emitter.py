"""The emitter: bodies built at emission (strict) or on first use (serve, replay), and what a body that
fails its schema does in each case (no sockets except the delivery test's receiver)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from mockknock.emitter import Emitter
from mockknock.errors import SchemaViolation
from mockknock.model import Event, EventType, Message, MessageState
from mockknock.schemas import SchemaRegistry
from mockknock.store import Store
from tests.conftest import AUTH, ReceiverFactory, ServerFactory

NOW_US = 1_767_225_600_000_000
BROKEN = {"__typename": "Message", "id": "not a ksuid"}


def _emitter(schemas: SchemaRegistry, strict: bool) -> tuple[Emitter, list[Event]]:
    sent: list[Event] = []
    return Emitter(Store(), schemas, validate=True, outbox=sent.append, strict=strict), sent


class TestBuilding:
    def test_lazy_body_is_built_once_on_first_use(self, schemas: SchemaRegistry) -> None:
        """Not strict: the data function runs when the body is first read, and only then."""
        emitter, sent = _emitter(schemas, strict=False)
        calls: list[int] = []

        def data() -> dict[str, object]:
            calls.append(1)
            return {"__typename": "WorkflowRecipientRun"}

        event = emitter.emit(EventType.WORKFLOW_RECIPIENT_RUN_STARTED, NOW_US, data, None, "r1", "started")
        assert sent == [event] and not event.built and calls == []
        with pytest.raises(SchemaViolation):
            event.body  # noqa: B018  # the run object above is incomplete
        assert calls == [1]

    def test_strict_builds_at_emission_and_raises_there(self, schemas: SchemaRegistry) -> None:
        """Strict: a body that fails its schema raises from emit(), where the engine made it."""
        emitter, sent = _emitter(schemas, strict=True)
        with pytest.raises(SchemaViolation, match=r"message\.sent for m1"):
            emitter.emit(EventType.MESSAGE_SENT, NOW_US, BROKEN, None, "m1", "sent")
        assert sent == [] and len(emitter.violations) == 1

    def test_lazy_violation_is_reported_once_and_raised_every_time(self, schemas: SchemaRegistry) -> None:
        """Not strict: the event is logged and handed on; reading its body raises, the problem is listed once."""
        emitter, sent = _emitter(schemas, strict=False)
        event = emitter.emit(EventType.MESSAGE_SENT, NOW_US, BROKEN, None, "m1", "sent")
        for _ in range(2):
            with pytest.raises(SchemaViolation, match="/data/id"):
                event.body  # noqa: B018
        assert len(emitter.violations) == 1 and sent == [event]


async def _trigger(url: str) -> None:
    body = {"recipients": ["u1", "u2"]}
    async with (aiohttp.ClientSession(headers=AUTH) as session,
                session.post(f"{url}/v1/workflows/wf/trigger", json=body) as response):
        assert response.status == 200


class TestServing:
    async def test_unwanted_events_are_never_built(
        self, make_server: ServerFactory, make_receiver: ReceiverFactory
    ) -> None:
        """An endpoint filtered to other types: its events cost no body; the wanted ones are built and sent."""
        receiver = await make_receiver()
        server = await make_server(f"{receiver.url}|message.delivered", virtual_clock=True, strict=False)
        await _trigger(server.url)
        await server.simulation.settle()
        events = list(server.simulation.store.events)
        wanted = [e for e in events if e.type is EventType.MESSAGE_DELIVERED]
        assert wanted and all(e.built for e in wanted)
        assert not any(e.built for e in events if e not in wanted)
        assert sorted(r.body for r in receiver.received) == sorted(e.body for e in wanted)

    async def test_a_body_that_fails_its_schema_is_not_sent(
        self, make_server: ServerFactory, make_receiver: ReceiverFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Not strict: a broken body (a mockknock bug) is never POSTed, is listed as a problem and in the
        control plane's event log, and the other webhooks still go."""
        receiver = await make_receiver()
        server = await make_server(receiver.url, virtual_clock=True, strict=False)
        sim = server.simulation
        real_to_wire = Message.to_wire

        def broken_when_delivered(
            message: Message, shared: bool = False, state: MessageState | None = None
        ) -> dict[str, Any]:
            wire = real_to_wire(message, shared, state)
            # The email's message.delivered only: an in-app message.sent already shows "delivered".
            broken = wire["status"] == "delivered" and wire["channel"]["type"] == "email"
            return {**wire, "id": "not a ksuid"} if broken else wire

        monkeypatch.setattr(Message, "to_wire", broken_when_delivered)
        await _trigger(server.url)
        await asyncio.wait_for(sim.settle(), 10)
        types = {r.type for r in receiver.received if r.json["data"]["channel"]["type"] == "email"}
        assert "message.sent" in types and "message.delivered" not in types
        assert sim.delivery.in_flight == 0
        assert sim.problems() and all("message.delivered" in p for p in sim.problems())
        url = f"{server.url}/__mockknock/events"
        async with (aiohttp.ClientSession() as session,
                    session.get(url, params={"type": "message.delivered"}) as response):
            listed = (await response.json())["items"]
        emails = {m.id for m in sim.store.messages.values() if m.channel.type.value == "email"}
        broken = [item for item in listed if item["subject_id"] in emails]
        assert broken and all(item["body"] is None and "/data/id" in item["not_sent"] for item in broken)
