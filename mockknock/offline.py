"""A whole simulation with no server and no network: for fixture files, tests and planning benchmarks.

The engine runs on a virtual clock driven by hand; emitted events are collected instead of delivered.
Running to the end takes as long as the work in it, whatever simulated time it spans.
"""

from __future__ import annotations

from mockknock.clock import VirtualClock
from mockknock.config import DEFAULT_VIRTUAL_START_US
from mockknock.emitter import Emitter
from mockknock.engine import Engine
from mockknock.errors import SimulationFailed
from mockknock.fake import FakeData
from mockknock.model import Event
from mockknock.outages import Outages
from mockknock.randomness import Randomness
from mockknock.scenario import Scenario
from mockknock.schemas import SchemaRegistry
from mockknock.script import ScriptPlayer
from mockknock.store import Store
from mockknock.trigger import TriggerRequest


class OfflineRun:
    def __init__(
        self,
        scenario: Scenario,
        schemas: SchemaRegistry,
        seed: int = 0,
        start_us: int = DEFAULT_VIRTUAL_START_US,
        validate: bool = True,
        strict: bool = True,
        keep_events: bool = True,
        fake: FakeData | None = None,
    ) -> None:
        self.strict = strict
        self.clock = VirtualClock(start_us=start_us, auto_advance=False)
        self.store = Store()
        self.events: list[Event] = []
        outbox = self.events.append if keep_events else _discard
        self.emitter = Emitter(self.store, schemas, validate, outbox, strict=strict)
        fake = fake or FakeData(seed)
        randomness = Randomness(seed)
        self.outages = Outages(randomness.stream("outages"))
        self.outages.add_all(scenario.outages, start_us, "scenario")
        self.engine = Engine(scenario, self.store, self.clock, randomness, self.emitter, fake, self.outages)
        self.script = ScriptPlayer(self.engine, schemas, fake)

    def trigger(self, workflow: str, body: dict[str, object], request_id: str = "offline") -> str:
        """Trigger now, as POST /v1/workflows/{workflow}/trigger would (the body is assumed valid)."""
        found = self.engine.resolve_workflow(workflow)
        return self.engine.trigger(found, TriggerRequest.from_body(dict(body)), request_id).id

    def play_script(self) -> int:
        return self.script.schedule(self.engine.scenario.script, self.clock.now_us())

    def advance(self, duration_us: int) -> None:
        """Move time forward, firing everything due on the way, each at its own time."""
        end = self.clock.now_us() + duration_us
        timeline = self.engine.timeline
        while (due := timeline.next_due_us()) is not None and due <= end:
            self.clock.advance(max(0, due - self.clock.now_us()))
            timeline.fire_due()
        self.clock.advance(end - self.clock.now_us())

    def run(self) -> list[Event]:
        """Fire everything scheduled, however far in simulated time; returns every event emitted.

        When strict, a step that raised, a body that failed its schema or a scripted call that was refused
        raises SimulationFailed here rather than passing unnoticed.
        """
        timeline = self.engine.timeline
        while (due := timeline.next_due_us()) is not None:
            self.clock.advance(max(0, due - self.clock.now_us()))
            timeline.fire_due()
        if self.strict and self.problems():
            raise SimulationFailed("\n".join(self.problems()))
        return self.events

    def problems(self) -> list[str]:
        return [*self.engine.timeline.failures, *self.emitter.violations, *self.script.errors()]


def _discard(_: Event) -> None:
    pass
