"""One simulated Knock environment: settings, scenario, clock, state, engine and delivery, wired once.

The web layer and the pytest plugin hold a Simulation; nothing else is shared, so several can run
side by side in one process (one per test server).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from typing import Any

from mockknock import __version__
from mockknock.clock import Clock, ScaledClock, VirtualClock
from mockknock.config import Endpoint, RetryPolicy, Settings
from mockknock.courier import transport_for
from mockknock.delivery import Delivery
from mockknock.emitter import Emitter
from mockknock.engine import Engine
from mockknock.errors import ConfigError
from mockknock.fake import FakeData
from mockknock.idempotency import IdempotencyCache
from mockknock.model import Event
from mockknock.outages import ApiFault, EffectKind, Outages
from mockknock.priority import ApiFirst
from mockknock.randomness import Randomness
from mockknock.scenario import Scenario
from mockknock.schemas import SchemaRegistry
from mockknock.script import ScriptPlayer
from mockknock.store import Store, WorkflowRunRecord
from mockknock.trigger import TriggerRequest


def make_clock(settings: Settings) -> Clock:
    if settings.virtual_clock:
        return VirtualClock(start_us=settings.start_at_us, auto_advance=settings.auto_advance)
    return ScaledClock(settings.speed)


class Simulation:
    def __init__(
        self,
        settings: Settings,
        scenario: Scenario,
        schemas: SchemaRegistry,
        clock: Clock | None = None,
        strict: bool = False,
    ) -> None:
        self.settings = settings
        self.scenario = scenario
        self.schemas = schemas
        self.seed = self._choose_seed(settings, scenario)
        self.secret_generated = settings.signing_secret is None
        self.secret = settings.signing_secret or f"whsec_{secrets.token_hex(24)}"
        self.clock = clock or make_clock(settings)
        self.randomness = Randomness(self.seed)
        self.store = Store(delivery_log_size=settings.delivery_log_size)
        self.idempotency = IdempotencyCache(self.clock)
        self.outages = Outages(self.randomness.stream("outages"))
        self.delivery = Delivery(
            self.store,
            self.clock,
            self.randomness,
            settings.retry_policy(scenario.retry),
            self.secret,
            settings.environment_id,
            settings.delivery_concurrency,
            user_agent=f"mockknock/{__version__}",
            outages=self.outages,
            transport=transport_for(settings.delivery_process, settings.delivery_concurrency,
                                    settings.webhook_client),
        )
        self.api_first = ApiFirst(settings.api_first_wait_s)
        self.delivery.gate = self.api_first.turn
        self.emitter = Emitter(self.store, schemas, settings.validate_webhooks, self._outbox, strict=strict)
        fake = FakeData(self.seed)
        self.engine = Engine(scenario, self.store, self.clock, self.randomness, self.emitter, fake, self.outages)
        self.script = ScriptPlayer(self.engine, schemas, fake)
        self._request_ids = self.randomness.stream("request-ids")
        self._timeline_task: asyncio.Task[None] | None = None
        # Known once the server has bound its port; the built-in sink lives on the same server.
        self.sink_url: str | None = None
        self._endpoint_override: tuple[Endpoint, ...] | None = None

    @staticmethod
    def _choose_seed(settings: Settings, scenario: Scenario) -> int:
        if settings.seed is not None:
            return settings.seed
        if scenario.seed is not None:
            return scenario.seed
        # No seed given: pick one and report it, so a surprising run can be replayed exactly.
        return secrets.randbelow(2**31)

    def endpoints(self) -> tuple[Endpoint, ...]:
        """Flags win over the scenario; with neither, webhooks go to the built-in sink."""
        if self._endpoint_override is not None:
            return self._endpoint_override
        sink = (Endpoint(self.sink_url),) if self.sink_url else ()
        return self.settings.webhook_urls or self.scenario.endpoints or sink

    def retry_policy(self) -> RetryPolicy:
        return self.settings.retry_policy(self.scenario.retry)

    def use_scenario(self, scenario: Scenario) -> None:
        """Switch scenario for what happens next, keeping every run, message and delivery so far."""
        self.scenario = scenario
        self.engine.scenario = scenario
        self.outages.remove_source("scenario")
        self.outages.add_all(scenario.outages, self.clock.now_us(), "scenario")
        self.delivery.policy = self.retry_policy()
        self.delivery.endpoints = self.endpoints()

    def _outbox(self, event: Event) -> None:
        self.delivery.enqueue(event)

    def next_request_id(self) -> str:
        # Phoenix-style request ids (20 url-safe base64 characters), as Knock's API is a Phoenix app.
        return base64.urlsafe_b64encode(self._request_ids.getrandbits(120).to_bytes(15, "big")).decode()

    async def start(self, endpoints: tuple[Endpoint, ...]) -> None:
        # A scenario's outage windows count from the moment the simulation starts.
        self.outages.add_all(self.scenario.outages, self.clock.now_us(), "scenario")
        await self.delivery.start(endpoints)
        self._timeline_task = asyncio.get_running_loop().create_task(
            self.engine.timeline.run(), name="mockknock-timeline"
        )

    async def stop(self) -> None:
        if self._timeline_task is not None:
            self._timeline_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timeline_task
            self._timeline_task = None
        await self.delivery.close()
        if isinstance(self.clock, VirtualClock):
            await self.clock.close()

    def reset(self, seed: int | None = None, scenario: Scenario | None = None) -> None:
        """Forget every run, message, event and delivery; optionally switch seed and scenario."""
        if seed is not None:
            self.seed = seed
        if scenario is not None:
            self.use_scenario(scenario)
        self.randomness = Randomness(self.seed)
        self._request_ids = self.randomness.stream("request-ids")
        if isinstance(self.clock, VirtualClock):
            # A reset virtual run starts where a fresh one would, so same-seed runs stamp the same times.
            self.clock.rewind(self.settings.start_at_us)
        self.outages.clear()
        self.outages.rng = self.randomness.stream("outages")
        self.outages.add_all(self.scenario.outages, self.clock.now_us(), "scenario")
        self.delivery.reset(self.randomness)
        self.idempotency.clear()
        fake = FakeData(self.seed)
        self.engine.reset(self.scenario, self.randomness, fake)
        self.script = ScriptPlayer(self.engine, self.schemas, fake)

    def problems(self) -> list[str]:
        """Everything that went wrong inside the simulation: mockknock bugs and refused scripted calls."""
        return [*self.emitter.violations, *self.engine.timeline.failures, *self.script.errors()]

    def set_endpoints(self, endpoints: tuple[Endpoint, ...]) -> None:
        """Send webhooks here from now on, whatever the flags or the scenario say (tests, the pytest plugin)."""
        self._endpoint_override = endpoints
        self.delivery.endpoints = endpoints

    def accept_trigger(
        self, workflow_key: str, body: dict[str, Any], request_id: str, fault: ApiFault | None
    ) -> WorkflowRunRecord:
        """A validated trigger, as the API takes it: run, or (under a drop outage) answered and lost."""
        workflow = self.engine.resolve_workflow(workflow_key)
        if fault is not None and fault.kind is EffectKind.DROP:
            return self.engine.drop(workflow, body, request_id, fault.outage)
        return self.engine.trigger(workflow, TriggerRequest.from_body(body), request_id)

    def advance(self, duration_us: int) -> None:
        """Move a virtual clock forward, firing each step that falls due on the way at its own time."""
        if not isinstance(self.clock, VirtualClock):
            raise ConfigError(f"the clock is {self.clock.mode}; only a virtual clock can be advanced "
                              "(serve --virtual-clock)")
        end = self.clock.now_us() + duration_us
        timeline = self.engine.timeline
        while (due := timeline.next_due_us()) is not None and due <= end:
            self.clock.advance(max(0, due - self.clock.now_us()))
            timeline.fire_due()
        self.clock.advance(max(0, end - self.clock.now_us()))

    def play_script(self) -> int:
        """Schedule the scenario's script from now; returns how many calls it will make."""
        return self.script.schedule(self.scenario.script, self.clock.now_us())

    async def settle(self) -> None:
        """Wait until every scheduled step has fired and every delivery has finished.

        A virtual clock that only moves when told to is let run for the duration, then held again.
        """
        manual = isinstance(self.clock, VirtualClock) and not self.clock.auto_advance
        if manual:
            assert isinstance(self.clock, VirtualClock)
            self.clock.set_auto_advance(True)
        try:
            while True:
                await self.engine.timeline.until_idle()
                await self.delivery.until_idle()
                if not len(self.engine.timeline) and not self.delivery.in_flight:
                    return
        finally:
            if manual:
                assert isinstance(self.clock, VirtualClock)
                self.clock.set_auto_advance(False)
