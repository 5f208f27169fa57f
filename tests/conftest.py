"""Shared fixtures: a mock server on 127.0.0.1 port 0, and a recording webhook receiver."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mockknock.config import Endpoint, Settings
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaRegistry
from mockknock.server import MockKnockServer
from mockknock.simulation import Simulation

SECRET = "whsec_test_secret"
# What make_server runs unless a test passes scenario_obj: any workflow key, an in-app message sent and
# delivered at once and an email sent then delivered a few seconds later, with no random outcomes, so
# tests can count events. The bundled default (mixed outcomes) is covered by the golden test.
PLAIN_SCENARIO = """
version: 1
name: plain
unknown_workflows: accept
lifecycles:
  - match: {channel_type: in_app_feed}
    events: [sent, delivered]
  - match: {channel_type: email}
    events: ["+1s~500ms sent", "+3s~2s delivered"]
"""
API_KEY = "sk_test_mockknock"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value

    @property
    def type(self) -> str:
        return str(self.json["type"])


@dataclass
class Receiver:
    """A webhook endpoint that records every request and answers from a script of statuses."""

    server: TestServer
    received: list[Received] = field(default_factory=list)
    # Statuses to answer, in order; when exhausted, answer `default_status`.
    script: list[int] = field(default_factory=list)
    default_status: int = 204
    delay_s: float = 0.0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))

    def types(self) -> list[str]:
        return [r.type for r in self.received]

    def types_emitted(self, simulation: Simulation) -> list[str]:
        """The types of what arrived, in the order mockknock emitted them (see in_emission_order)."""
        return [r.type for r in self.in_emission_order(simulation)]

    def in_emission_order(self, simulation: Simulation) -> list[Received]:
        """What arrived, ordered as mockknock emitted it. Deliveries run concurrently, so on a loaded machine
        a later event can arrive first (Knock promises no order either); tests about the sequence emitted
        read it this way. A body mockknock never emitted fails the test here."""
        emitted = {event.body: event.seq for event in simulation.store.events if event.built}
        return sorted(self.received, key=lambda r: emitted[r.body])

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async def enough() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        try:
            await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"expected {count} webhooks within {timeout}s, got {len(self.received)}: {self.types()}"
            ) from None
        return self.received


ReceiverFactory = Callable[[], Awaitable[Receiver]]


@pytest.fixture
async def make_receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> ReceiverFactory:
    async def factory() -> Receiver:
        holder: list[Receiver] = []

        async def hook(request: web.Request) -> web.Response:
            receiver = holder[0]
            receiver.received.append(Received(dict(request.headers), await request.read()))
            receiver.arrived.set()
            if receiver.delay_s:
                await asyncio.sleep(receiver.delay_s)
            status = receiver.script.pop(0) if receiver.script else receiver.default_status
            return web.Response(status=status)

        app = web.Application()
        app.router.add_post("/hook", hook)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        holder.append(Receiver(server))
        return holder[0]

    return factory


@pytest.fixture
async def receiver(make_receiver: ReceiverFactory) -> Receiver:
    return await make_receiver()


@pytest.fixture(scope="session")
def schemas() -> SchemaRegistry:
    return SchemaRegistry.load()


ServerFactory = Callable[..., Awaitable[MockKnockServer]]


def plain_scenario() -> Scenario:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "plain.yaml"
        path.write_text(PLAIN_SCENARIO)
        return load_scenario(path)


@pytest.fixture
async def make_server(schemas: SchemaRegistry) -> AsyncIterator[ServerFactory]:
    """Start MockKnockServers on 127.0.0.1:0 (strict: a schema violation raises); all stop at teardown."""
    started: list[MockKnockServer] = []

    async def factory(*endpoints: str, **overrides: Any) -> MockKnockServer:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "signing_secret": SECRET,
            "seed": 7,
            "quiet": True,
            "webhook_urls": tuple(Endpoint.parse(e) for e in endpoints),
            # In-process POSTs unless a test asks for the delivery process (test_courier.py).
            "delivery_process": False,
        }
        values.update(overrides)
        scenario = values.pop("scenario_obj", None) or plain_scenario()
        # strict=False: bodies built on first use, as in `mockknock serve` (strict builds them at emission)
        strict = values.pop("strict", True)
        server = MockKnockServer(Settings(**values), scenario=scenario, schemas=schemas, strict=strict)
        await server.start()
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        await server.stop()
