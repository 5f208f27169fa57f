"""The simulation: a trigger becomes recipient runs, messages and a timeline of lifecycle events.

No sockets here. The engine plans what happens and when on the timeline; each fired step changes a
message and hands one webhook event to the emitter.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from mockknock import errors
from mockknock.clock import Clock
from mockknock.emitter import Emitter
from mockknock.fake import FakeData
from mockknock.ids import ksuid, uuid4
from mockknock.lifecycle import (
    DEFAULT_MAX_ATTEMPTS,
    ENGAGEMENT_OF,
    EVENT_OF,
    STATUS_OF,
    Action,
    Step,
    parse_step,
)
from mockknock.model import (
    ChannelType,
    EngagementStatus,
    EventType,
    Message,
    MessageSource,
    RecipientRef,
    RecipientRun,
    RunStatus,
)
from mockknock.randomness import Randomness
from mockknock.scenario import ChannelStep, DelayStep, Outcome, Scenario, Workflow
from mockknock.store import Store, WorkflowRunRecord
from mockknock.timeline import Timeline
from mockknock.trigger import Recipient, TriggerRequest

_SANDBOX = (parse_step("not_sent"),)
_BOUNCE_DETAILS = {
    ChannelType.EMAIL: "550 5.1.1 The email account that you tried to reach does not exist.",
    ChannelType.SMS: "30003: Unreachable destination handset.",
    ChannelType.PUSH: "The device token is no longer valid for this topic (Unregistered).",
}
_UNDELIVERED_DETAILS = {
    "fatal_error": "The provider rejected the message and it will not be retried.",
    "retries_exhausted": "The provider could not be reached after the maximum number of attempts.",
}


@dataclass(frozen=True)
class PlannedStep:
    """One lifecycle step of one message, with its attempt number when it is a repeated attempt."""

    step: Step
    attempt: int


class Engine:
    def __init__(
        self,
        scenario: Scenario,
        store: Store,
        clock: Clock,
        randomness: Randomness,
        emitter: Emitter,
        fake: FakeData,
    ) -> None:
        self.scenario = scenario
        self.store = store
        self.clock = clock
        self.randomness = randomness
        self.emitter = emitter
        self.fake = fake
        self.timeline = Timeline(clock)
        self._ids = randomness.stream("ids")
        self._outcomes = randomness.stream("outcomes")
        self._timing = randomness.stream("timing")

    def reset(self, scenario: Scenario | None = None, randomness: Randomness | None = None) -> None:
        if scenario is not None:
            self.scenario = scenario
        if randomness is not None:
            self.randomness = randomness
        self.timeline.clear()
        self.store.reset()
        self.emitter.reset()
        self._ids = self.randomness.stream("ids")
        self._outcomes = self.randomness.stream("outcomes")
        self._timing = self.randomness.stream("timing")

    # -- triggering -----------------------------------------------------------------------------

    def resolve_workflow(self, key: str) -> Workflow:
        workflow = self.scenario.workflow(key)
        if workflow is None:
            raise errors.workflow_missing(key)
        return workflow

    def trigger(self, workflow: Workflow, request: TriggerRequest, request_id: str) -> WorkflowRunRecord:
        """Accept a trigger: upsert inline entities, create the runs, and plan their steps."""
        now = self.clock.now_us()
        for recipient in (*request.recipients, *((request.actor,) if request.actor else ())):
            self._upsert(recipient, now)
        if request.tenant is not None:
            tenant = self.store.tenants.setdefault(request.tenant, {"id": request.tenant})
            tenant.update(request.tenant_properties or {})
        run = WorkflowRunRecord(uuid4(self._ids), workflow.key, now, request_id)
        actor = request.actor.ref if request.actor else None
        for recipient in request.recipients:
            recipient_run = RecipientRun(
                id=uuid4(self._ids),
                workflow_run_id=run.id,
                workflow=workflow.key,
                recipient=recipient.ref,
                actor=actor,
                tenant=request.tenant,
                cancellation_key=request.cancellation_key,
                inserted_at_us=now,
                updated_at_us=now,
            )
            run.recipient_runs.append(recipient_run)
            self._plan_run(workflow, request, recipient_run, now)
        self.store.add_run(run)
        return run

    def _upsert(self, recipient: Recipient, now: int) -> None:
        ref = recipient.ref
        if isinstance(ref, tuple):
            record = self.store.objects.setdefault(ref, {"id": ref[1], "collection": ref[0]})
        else:
            record = self.store.users.setdefault(ref, {"id": ref})
        record.update(recipient.properties or {})
        record["updated_at_us"] = now

    def _plan_run(self, workflow: Workflow, request: TriggerRequest, run: RecipientRun, now: int) -> None:
        offset = 0
        run.status = RunStatus.PROCESSING
        if self.scenario.recipient_run_events:
            self._emit_run(EventType.WORKFLOW_RECIPIENT_RUN_STARTED, run, now)
        for step in workflow.steps:
            if isinstance(step, DelayStep):
                offset += 0 if request.skip_delay else step.duration_us
            elif isinstance(step, ChannelStep):
                self._schedule(run, now + offset, _CreateMessage(self, workflow, step, request, run))
        if run.pending == 0:
            self._finish(run, now)

    def _schedule(self, run: RecipientRun, due_us: int, action: Any) -> None:
        run.pending += 1

        def fire(fired_at: int) -> None:
            run.pending -= 1
            if not run.cancelled:
                action(fired_at)
            if run.pending == 0 and not run.cancelled:
                self._finish(run, fired_at)

        self.timeline.schedule(due_us, fire)

    def _finish(self, run: RecipientRun, now: int) -> None:
        run.status = RunStatus.COMPLETED
        run.updated_at_us = now
        if self.scenario.recipient_run_events:
            self._emit_run(EventType.WORKFLOW_RECIPIENT_RUN_COMPLETED, run, now)

    def _emit_run(self, event_type: EventType, run: RecipientRun, now: int) -> None:
        self.emitter.emit(event_type, now, run.to_wire(), None, run.id, f"{event_type.value} {run.workflow}")

    # -- messages -------------------------------------------------------------------------------

    def create_message(
        self, workflow: Workflow, step: ChannelStep, request: TriggerRequest, run: RecipientRun, now: int
    ) -> Message:
        channel = step.channel
        message = Message(
            id=ksuid(now, self._ids),
            channel=channel,
            recipient=run.recipient,
            actors=(run.actor,) if run.actor is not None else (),
            source=MessageSource(workflow.key, workflow.version_id, workflow.categories, step.ref, run.workflow_run_id),
            recipient_run_id=run.id,
            tenant=run.tenant,
            data=request.data,
            recipient_snapshot=self._snapshot(run.recipient, channel.type),
            inserted_at_us=now,
            updated_at_us=now,
        )
        self.store.add_message(message)
        outcome = _SANDBOX if request.sandbox_mode else self._pick_outcome(workflow.key, message).steps
        at = now
        for planned in _expand(outcome):
            at += planned.step.delay_us + self._jitter(planned.step.jitter_us)
            self._schedule(run, at, _Transition(self, message, planned))
        return message

    def _pick_outcome(self, workflow: str, message: Message) -> Outcome:
        outcomes = self.scenario.outcomes_for(workflow, message.channel)
        if len(outcomes) == 1:
            return outcomes[0]
        cumulative = []
        total = 0.0
        for outcome in outcomes:
            total += outcome.weight
            cumulative.append(total)
        return outcomes[bisect.bisect_right(cumulative, self._outcomes.random() * total)]

    def _jitter(self, jitter_us: int) -> int:
        return round(self._timing.uniform(-jitter_us, jitter_us)) if jitter_us else 0

    def _snapshot(self, recipient: RecipientRef, channel_type: ChannelType) -> dict[str, Any] | None:
        if isinstance(recipient, tuple):
            return None
        user = self.store.users.setdefault(recipient, {"id": recipient})
        if "email" not in user or "name" not in user:
            for key, value in self.fake.person(recipient).items():
                user.setdefault(key, value)
        snapshot: dict[str, Any] = {"user_id": recipient, "name": user.get("name")}
        if channel_type is ChannelType.EMAIL:
            snapshot["email"] = user.get("email")
        return snapshot

    def apply(self, message: Message, planned: PlannedStep, now: int) -> None:
        """Move a message one lifecycle step and emit the webhook for it."""
        action = planned.step.action
        status = STATUS_OF.get(action)
        if status is not None:
            message.status = status
        else:
            engagement, on = ENGAGEMENT_OF[action]
            if on:
                message.engagement[engagement] = now
            else:
                message.engagement.pop(engagement, None)
        message.updated_at_us = now
        event_type = EVENT_OF[action]
        if event_type is not None:
            self._emit_message(event_type, message, now, self._event_data(message, planned))

    def _event_data(self, message: Message, planned: PlannedStep) -> dict[str, Any] | None:
        step = planned.step
        if step.action is Action.DELIVERY_ATTEMPTED:
            max_attempts = int(step.argument) if step.argument else DEFAULT_MAX_ATTEMPTS
            return {"attempt": planned.attempt, "max_attempts": max_attempts, "retryable": planned.attempt < max_attempts}
        if step.action is Action.UNDELIVERED:
            reason = step.argument or "retries_exhausted"
            return {"failure_reason": reason, "failure_details": _UNDELIVERED_DETAILS.get(reason)}
        if step.action is Action.BOUNCED:
            data: dict[str, Any] = {
                "failure_reason": step.argument or "hard_bounce",
                "failure_details": _BOUNCE_DETAILS.get(message.channel.type, "The provider reported a bounce."),
            }
            if message.channel.type is ChannelType.PUSH:
                data["token"] = self.fake.push_token(message.id)
            return data
        if step.action is Action.LINK_CLICKED:
            return {"url": step.argument or self.fake.url(message.id)}
        if step.action is Action.INTERACTED:
            return dict(message.metadata or {})
        return None

    def _emit_message(
        self, event_type: EventType, message: Message, now: int, event_data: dict[str, Any] | None
    ) -> None:
        recipient = message.recipient if isinstance(message.recipient, str) else "/".join(message.recipient)
        summary = (
            f"{event_type.value:<27} {message.id}  {message.source.workflow}/{message.source.step_ref}"
            f"  to {recipient}  via {message.channel.type.value}/{message.channel.provider}"
            f"  status={message.status.value}"
        )
        self.emitter.emit(event_type, now, message.to_wire(), event_data, message.id, summary)

    # -- the API's engagement calls and cancellation ----------------------------------------------

    def set_engagement(
        self, message_id: str, engagement: EngagementStatus, on: bool, metadata: dict[str, Any] | None = None
    ) -> Message:
        message = self.store.messages.get(message_id)
        if message is None:
            raise errors.resource_missing("message", message_id)
        action = next(a for a, (status, flag) in ENGAGEMENT_OF.items() if status is engagement and flag is on)
        if metadata is not None:
            message.metadata = metadata
        self.apply(message, PlannedStep(Step(action), 1), self.clock.now_us())
        return message

    def cancel(self, workflow: str, cancellation_key: str, recipients: list[RecipientRef] | None) -> int:
        """Cancel matching runs that still have steps to come; returns how many were cancelled."""
        wanted = None if recipients is None else set(recipients)
        now = self.clock.now_us()
        cancelled = 0
        for run in self.store.runs_to_cancel(workflow, cancellation_key):
            if run.pending == 0 or run.cancelled:
                continue
            if wanted is not None and run.recipient not in wanted:
                continue
            run.status = RunStatus.CANCELLED
            run.note = "cancelled by POST /v1/workflows/{key}/cancel"
            run.updated_at_us = now
            cancelled += 1
        return cancelled


def _expand(steps: tuple[Step, ...]) -> list[PlannedStep]:
    """``delivery_attempted x3`` becomes three attempts, each after the step's delay."""
    planned = []
    for step in steps:
        for attempt in range(1, step.repeat + 1):
            planned.append(PlannedStep(step, attempt))
    return planned


class _CreateMessage:
    def __init__(
        self, engine: Engine, workflow: Workflow, step: ChannelStep, request: TriggerRequest, run: RecipientRun
    ) -> None:
        self.engine, self.workflow, self.step, self.request, self.run = engine, workflow, step, request, run

    def __call__(self, now: int) -> None:
        self.engine.create_message(self.workflow, self.step, self.request, self.run, now)


class _Transition:
    def __init__(self, engine: Engine, message: Message, planned: PlannedStep) -> None:
        self.engine, self.message, self.planned = engine, message, planned

    def __call__(self, now: int) -> None:
        self.engine.apply(self.message, self.planned, now)

