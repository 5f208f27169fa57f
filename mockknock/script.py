"""Plays a scenario's ``script:``: the triggers and cancels it makes itself, on the simulation clock.

Each call is filled in when it is made (``{fake: ...}`` values from the seed, keyed by the call and its
repetition, so the same seed gives the same bodies), checked against Knock's trigger schema, and passed
to the engine exactly as an API call would be. What each call did is kept for reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockknock import errors
from mockknock.engine import Engine
from mockknock.fake import FakeData
from mockknock.scenario import ScriptedCall
from mockknock.schemas import SchemaRegistry
from mockknock.trigger import TriggerRequest


@dataclass
class PlayedCall:
    at_us: int
    workflow: str
    cancel: bool
    workflow_run_id: str | None = None
    error: str | None = None


def fill(value: Any, fake: FakeData, *key: str) -> Any:
    """Replace ``{fake: provider}`` markers (and ``recipients: {fake: N}``) with seeded values."""
    if isinstance(value, dict):
        if set(value) == {"fake"}:
            marker = value["fake"]
            if isinstance(marker, int) and not isinstance(marker, bool):
                return fake.users(marker, *key)
            return fake.value(str(marker), *key)
        return {k: fill(v, fake, *key, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, fake, *key, str(i)) for i, v in enumerate(value)]
    return value


class ScriptPlayer:
    def __init__(self, engine: Engine, schemas: SchemaRegistry, fake: FakeData) -> None:
        self._engine = engine
        self._schemas = schemas
        self._fake = fake
        self.played: list[PlayedCall] = []
        self.scheduled = 0

    def errors(self) -> list[str]:
        return [f"script call to {p.workflow} at {p.at_us}: {p.error}" for p in self.played if p.error]

    def schedule(self, calls: tuple[ScriptedCall, ...], start_us: int) -> int:
        """Put every call of the script on the timeline; returns how many calls that is."""
        count = 0
        for index, call in enumerate(calls):
            for repetition, offset in enumerate(call.times()):
                self._engine.timeline.schedule(start_us + offset, self._action(call, index, repetition))
                count += 1
        self.scheduled += count
        return count

    def _action(self, call: ScriptedCall, index: int, repetition: int) -> Any:
        return lambda now: self.play(call, index, repetition, now)

    def play(self, call: ScriptedCall, index: int, repetition: int, now: int) -> PlayedCall:
        body = fill(call.body, self._fake, "script", str(index), str(repetition))
        record = PlayedCall(now, call.workflow, call.cancel)
        self.played.append(record)
        try:
            if call.cancel:
                recipients = body.get("recipients")
                refs = None if recipients is None else [
                    r if isinstance(r, str) else (r["collection"], r["id"]) if "collection" in r else r["id"]
                    for r in recipients
                ]
                self._engine.cancel(call.workflow, str(body["cancellation_key"]), refs)
                return record
            if not self._schemas.is_valid("trigger_request", body):
                problems = "; ".join(f"{i.field}: {i.message}" for i in self._schemas.issues("trigger_request", body))
                raise errors.invalid_params([errors.FieldError("script", problems)])
            workflow = self._engine.resolve_workflow(call.workflow)
            run = self._engine.trigger(workflow, TriggerRequest.from_body(body), f"script-{index}-{repetition}")
            record.workflow_run_id = run.id
        except errors.KnockApiError as exc:
            record.error = f"{exc.status} {exc.code}: {exc.message}"
        return record
