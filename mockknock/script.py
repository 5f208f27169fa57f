"""Plays a scenario's ``script:``: the triggers and cancels it makes itself, on the simulation clock.

Each call is filled in when it is made (``{fake: ...}`` values from the seed, keyed by the call and its
repetition, so the same seed gives the same bodies), checked against Knock's trigger schema, and passed
to the engine exactly as an API call would be. What each call did is kept for reports.

A scripted call meets API outages as an app using an official SDK would: a 5xx or 429 is retried up to
three attempts in all, after 0.5 s and 1 s (or the retry-after), each attempt accepted before its 5xx
making its own run; a drop outage swallows the trigger after answering it. Latency is not simulated for
scripted calls: nothing waits on their answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mockknock import errors
from mockknock.engine import Engine
from mockknock.fake import FakeData
from mockknock.outages import EffectKind, api_fault
from mockknock.scenario import ScriptedCall
from mockknock.schemas import SchemaRegistry
from mockknock.trigger import TriggerRequest, recipient_refs

SDK_ATTEMPTS = 3  # knockapi and @knocklabs/node: max_retries 2
_SDK_BACKOFF_US = (500_000, 1_000_000)


@dataclass
class PlayedCall:
    at_us: int
    workflow: str
    cancel: bool
    workflow_run_id: str | None = None
    error: str | None = None
    # Set when a simulated outage made the call fail or vanish: expected, not a problem with the script.
    outage_id: str | None = None
    attempts: list[str] = field(default_factory=list)
    dropped: bool = False


def fill(body: dict[str, Any], fake: FakeData, *key: str) -> dict[str, Any]:
    """A trigger body with ``recipients: {fake: N}`` and every ``{fake: provider}`` filled from the seed."""
    recipients = body.get("recipients")
    filled = {k: _fill(v, fake, *key, str(k)) for k, v in body.items() if k != "recipients"}
    if isinstance(recipients, dict) and set(recipients) == {"fake"} and isinstance(recipients["fake"], int):
        filled["recipients"] = fake.users(recipients["fake"], *key, "recipients")
    elif recipients is not None:
        filled["recipients"] = _fill(recipients, fake, *key, "recipients")
    return filled


def _fill(value: Any, fake: FakeData, *key: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {"fake"} and isinstance(value["fake"], str):
            return fake.value(value["fake"], *key)
        return {k: _fill(v, fake, *key, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, fake, *key, str(i)) for i, v in enumerate(value)]
    return value


class ScriptPlayer:
    def __init__(self, engine: Engine, schemas: SchemaRegistry, fake: FakeData) -> None:
        self._engine = engine
        self._schemas = schemas
        self._fake = fake
        self.played: list[PlayedCall] = []
        self.scheduled = 0

    def errors(self) -> list[str]:
        """Calls refused for what they were (not for a simulated outage): problems with the script."""
        return [f"script call to {p.workflow} at {p.at_us}: {p.error}" for p in self.played
                if p.error and p.outage_id is None]

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
        self._attempt(call, body, record, f"script-{index}-{repetition}", 1, now)
        return record

    def _attempt(
        self, call: ScriptedCall, body: dict[str, Any], record: PlayedCall, request_id: str, attempt: int, now: int
    ) -> None:
        fault = api_fault(self._engine.outages, now, is_trigger=not call.cancel)
        if fault is None or fault.kind is EffectKind.LATENCY:
            self._call(call, body, record, request_id)
            return
        outage = fault.outage
        record.outage_id = outage.id
        if fault.kind is EffectKind.DROP:
            try:
                record.workflow_run_id = self._engine.drop(
                    self._engine.resolve_workflow(call.workflow), body, request_id, outage
                ).id
                record.dropped = True
            except errors.KnockApiError as exc:
                record.error = f"{exc.status} {exc.code}: {exc.message}"
            return
        if fault.after_accept:
            self._call(call, body, record, f"{request_id}-{attempt}")
        record.attempts.append(str(fault.status))
        self._engine.outages.record(now, outage, f"scripted call answered {fault.status}", request_id)
        if attempt >= SDK_ATTEMPTS:
            record.error = (f"{fault.status} on all {SDK_ATTEMPTS} attempts (simulated outage {outage.id}: "
                            f"{outage.title})")
            return
        wait = outage.effect.retry_after_s * 1_000_000 if fault.status == 429 else _SDK_BACKOFF_US[attempt - 1]
        self._engine.timeline.schedule(
            now + wait, lambda t: self._attempt(call, body, record, request_id, attempt + 1, t)
        )

    def _call(self, call: ScriptedCall, body: dict[str, Any], record: PlayedCall, request_id: str) -> None:
        try:
            if call.cancel:
                refs = recipient_refs(body.get("recipients"))
                self._engine.cancel(call.workflow, str(body["cancellation_key"]), refs)
                return
            if not self._schemas.is_valid("trigger_request", body):
                problems = "; ".join(f"{i.field}: {i.message}" for i in self._schemas.issues("trigger_request", body))
                raise errors.invalid_params([errors.FieldError("script", problems)])
            workflow = self._engine.resolve_workflow(call.workflow)
            run = self._engine.trigger(workflow, TriggerRequest.from_body(body), request_id)
            record.workflow_run_id = run.id
        except errors.KnockApiError as exc:
            record.error = f"{exc.status} {exc.code}: {exc.message}"
