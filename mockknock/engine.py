"""The simulation: a trigger becomes recipient runs, messages and a timeline of lifecycle events.

No sockets here. The planner decides which steps run and when; this module turns channel steps into
messages, gives each message its lifecycle, and moves messages through it, handing one webhook event
per step to the emitter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockknock import errors, outcomes
from mockknock.clock import Clock
from mockknock.emitter import Emitter
from mockknock.fake import FakeData
from mockknock.ids import ksuid, uuid4
from mockknock.lifecycle import (
    DEFAULT_MAX_ATTEMPTS,
    ENGAGEMENT_OF,
    EVENT_OF,
    Action,
    Step,
    parse_step,
    status_after,
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
from mockknock.outages import (
    PROVIDER_MAX_ATTEMPTS,
    Component,
    EffectKind,
    Outage,
    Outages,
    provider_retry_delay,
)
from mockknock.planner import Batch, Planner, RunPlan
from mockknock.randomness import Randomness
from mockknock.scenario import ChannelStep, Scenario, Workflow
from mockknock.store import Store, WorkflowRunRecord
from mockknock.timeline import Timeline
from mockknock.trigger import Recipient, TriggerRequest

_SANDBOX = (parse_step("not_sent"),)
# Engagement Knock learns through link and open tracking (an email's seen/read come from its open pixel).
_TRACKED = frozenset({Action.LINK_CLICKED, Action.SEEN, Action.READ})
_BOUNCE_DETAILS = {
    ChannelType.EMAIL: "550 5.1.1 The email account that you tried to reach does not exist.",
    ChannelType.SMS: "30003: Unreachable destination handset.",
    ChannelType.PUSH: "The device token is no longer valid for this topic (Unregistered).",
}
_UNDELIVERED_DETAILS = {
    "fatal_error": "The provider rejected the message and it will not be retried.",
    "retries_exhausted": "The provider could not be reached after the maximum number of attempts.",
}


@dataclass(frozen=True, slots=True)
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
        outages: Outages,
    ) -> None:
        self.scenario = scenario
        self.outages = outages
        self.store = store
        self.clock = clock
        self.emitter = emitter
        self.fake = fake
        self.timeline = Timeline(clock)
        self._workflows: dict[str, Workflow] = {}
        # Each outcome's steps expanded once (repeats unrolled, attempts numbered), shared by its messages.
        self._expanded: dict[tuple[Step, ...], tuple[PlannedStep, ...]] = {}
        self._workflows_of: Scenario | None = None
        self.planner = Planner(self._schedule, self._create_message)
        self._reseed(randomness)

    def _reseed(self, randomness: Randomness) -> None:
        self.randomness = randomness
        self._ids = randomness.stream("ids")
        self._outcomes = randomness.stream("outcomes")
        self._timing = randomness.stream("timing")

    def reset(self, scenario: Scenario, randomness: Randomness, fake: FakeData) -> None:
        self.scenario = scenario
        self.fake = fake
        self._reseed(randomness)
        self.timeline.clear()
        self.timeline.failures.clear()
        self.planner.reset()
        self.store.reset()
        self.emitter.reset()

    # -- triggering -----------------------------------------------------------------------------

    def resolve_workflow(self, key: str) -> Workflow:
        # Kept per key so an undefined key's default-shaped workflow (and its version id) is built once.
        if self._workflows_of is not self.scenario:
            self._workflows, self._workflows_of = {}, self.scenario
        workflow = self._workflows.get(key)
        if workflow is None:
            workflow = self.scenario.workflow(key)
            if workflow is None:
                raise errors.workflow_missing(key)
            self._workflows[key] = workflow
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
                status=RunStatus.PROCESSING,
            )
            run.recipient_runs.append(recipient_run)
            if self.scenario.recipient_run_events:
                self._emit_run(EventType.WORKFLOW_RECIPIENT_RUN_STARTED, recipient_run, now)
            plan = RunPlan(workflow, request, recipient_run, self._context(workflow, request, recipient.ref))
            self.planner.start(plan, now)
            if recipient_run.pending == 0:
                self._finish(recipient_run, now)
        self.store.add_run(run)
        return run

    def drop(
        self, workflow: Workflow, body: dict[str, Any], request_id: str, outage: Outage
    ) -> WorkflowRunRecord:
        """Accept a trigger and silently lose it, as Knock's API did on 24 May 2023: a run id, nothing after."""
        now = self.clock.now_us()
        run = WorkflowRunRecord(uuid4(self._ids), workflow.key, now, request_id)
        run.dropped_reason = f"dropped by simulated outage {outage.id} ({outage.title})"
        run.dropped_body = body
        self.store.add_run(run)
        self.outages.record(now, outage, f"trigger of {workflow.key} accepted and dropped", run.id)
        return run

    def _upsert(self, recipient: Recipient, now: int) -> None:
        ref = recipient.ref
        if isinstance(ref, tuple):
            record = self.store.objects.setdefault(ref, {"id": ref[1], "collection": ref[0]})
        else:
            record = self.store.users.setdefault(ref, {"id": ref})
        record.update(recipient.properties or {})
        record["updated_at_us"] = now

    def _entity(self, ref: RecipientRef) -> dict[str, Any]:
        if isinstance(ref, tuple):
            return dict(self.store.objects.get(ref, {"id": ref[1], "collection": ref[0]}))
        return dict(self.store.users.get(ref, {"id": ref}))

    def _context(self, workflow: Workflow, request: TriggerRequest, recipient: RecipientRef) -> dict[str, Any]:
        """What branch conditions and scenario rules can look at."""
        return {
            "data": request.data or {},
            "recipient": self._entity(recipient),
            "actor": self._entity(request.actor.ref) if request.actor else None,
            "tenant": self.store.tenants.get(request.tenant) if request.tenant else None,
            "workflow": workflow.key,
        }

    def _schedule(self, run: RecipientRun, due_us: int, action: Callable[[int], None]) -> None:
        run.pending += 1
        self.timeline.schedule(due_us, _Pending(self, run, action))

    def _finish(self, run: RecipientRun, now: int) -> None:
        run.status = RunStatus.COMPLETED
        run.updated_at_us = now
        if self.scenario.recipient_run_events:
            self._emit_run(EventType.WORKFLOW_RECIPIENT_RUN_COMPLETED, run, now)

    def _emit_run(self, event_type: EventType, run: RecipientRun, now: int) -> None:
        self.emitter.emit(event_type, now, run.to_wire(), None, run.id, f"{event_type.value} {run.workflow}")

    # -- messages -------------------------------------------------------------------------------

    def _create_message(self, plan: RunPlan, step: ChannelStep, batch: Batch | None, now: int) -> None:
        run, workflow, channel = plan.run, plan.workflow, step.channel
        solo = (run.actor,) if run.actor is not None else ()
        actors = batch.batch_actors() if batch is not None else solo
        message = Message(
            id=ksuid(now, self._ids),
            channel=channel,
            recipient=run.recipient,
            actors=actors,
            source=MessageSource(workflow.key, workflow.version_id, workflow.categories, step.ref, run.workflow_run_id),
            recipient_run_id=run.id,
            tenant=run.tenant,
            data=batch.data if batch is not None else plan.request.data,
            recipient_snapshot=self._snapshot(run.recipient, channel.type),
            inserted_at_us=now,
            updated_at_us=now,
        )
        self.store.add_message(message)
        steps: tuple[Step, ...]
        if plan.request.sandbox_mode:
            steps = _SANDBOX
        else:
            context = {**plan.context, "recipient": self._entity(run.recipient),
                       "channel": {"type": channel.type.value, "key": channel.key, "provider": channel.provider}}
            _, steps = outcomes.choose(self.scenario, workflow.key, channel, context, self._outcomes)
        outage = self._delivery_outage(message, now)
        if outage is not None and outage.effect.kind is EffectKind.PROVIDER_FAILURE:
            self._provider_attempt(run, message, steps, outage, 1, now)
            return
        if outage is not None and outage.effect.kind is EffectKind.LATENCY:
            held = outage.effect.latency_us + self._jitter(outage.effect.jitter_us)
            self.outages.record(now, outage, f"send held for {held // 1_000_000}s", message.id)
            now += max(0, held)
        self._schedule_steps(run, message, steps, now)

    def _schedule_steps(self, run: RecipientRun, message: Message, steps: tuple[Step, ...], start: int) -> None:
        planned = self._expanded.get(steps)
        if planned is None:
            planned = self._expanded[steps] = _expand(steps)
        if planned:
            _Lifecycle(self, run, message, planned).schedule_next(start)

    def _delivery_outage(self, message: Message, now: int) -> Outage | None:
        """An active provider or notification-delivery outage that this message's send runs into."""
        outage = self.outages.active(now, self.outages.for_channel(message.channel))
        return outage if outage is not None and self.outages.hits(outage) else None

    def _provider_attempt(
        self, run: RecipientRun, message: Message, steps: tuple[Step, ...], outage: Outage, attempt: int, now: int
    ) -> None:
        """One provider try during an outage: fail and retry, give up after 8, or carry on once it is over."""
        if not outage.active(now):
            self._schedule_steps(run, message, steps, now)
            return
        self.outages.record(now, outage, f"provider attempt {attempt} failed", message.id)
        failed = Step(Action.DELIVERY_ATTEMPTED, argument=str(PROVIDER_MAX_ATTEMPTS))
        self.apply(message, PlannedStep(failed, attempt), now)
        if attempt >= PROVIDER_MAX_ATTEMPTS:
            self.apply(message, PlannedStep(Step(Action.UNDELIVERED, argument="retries_exhausted"), 1), now)
            return
        due = now + provider_retry_delay(attempt, self._timing.random())
        self._schedule(run, due, lambda t: self._provider_attempt(run, message, steps, outage, attempt + 1, t))

    def _jitter(self, jitter_us: int) -> int:
        return round(self._timing.uniform(-jitter_us, jitter_us)) if jitter_us else 0

    def _snapshot(self, recipient: RecipientRef, channel_type: ChannelType) -> dict[str, Any] | None:
        """Where the message went, as api.yml describes recipient_snapshot: an email's address and name, a
        chat message's destination channel; null for the other channel types and for objects."""
        if isinstance(recipient, tuple):
            return None
        user = self.store.users.setdefault(recipient, {"id": recipient})
        if "email" not in user or "name" not in user:
            # Filled whatever the channel: scenario rules may match on the recipient's email or name.
            for key, value in self.fake.person(recipient).items():
                user.setdefault(key, value)
        if channel_type is ChannelType.EMAIL:
            return {"email": user.get("email"), "name": user.get("name")}
        if channel_type is ChannelType.CHAT:
            return {"channel_id": self.fake.chat_channel_id(recipient)}
        return None

    def apply(self, message: Message, planned: PlannedStep, now: int) -> None:
        """Move a message one lifecycle step and emit the webhook for it."""
        action = planned.step.action
        if action in _TRACKED and (action is Action.LINK_CLICKED or message.channel.type is ChannelType.EMAIL):
            outage = self.outages.active(now, (Component.TRACKING.value,))
            if outage is not None and self.outages.hits(outage):
                self.outages.record(now, outage, f"{action.value} not tracked", message.id)
                return
        status = status_after(action, message.channel.type)
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
            attempt = planned.attempt
            return {"attempt": attempt, "max_attempts": max_attempts, "retryable": attempt < max_attempts}
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
            return dict(message.metadata) if message.metadata else None
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
        # The body may be built later, from the message as it is now (see emitter.py).
        self.emitter.emit(event_type, now, message.snapshot(), event_data, message.id, summary)

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


def _expand(steps: tuple[Step, ...]) -> tuple[PlannedStep, ...]:
    """``delivery_attempted x3`` becomes three attempts, each after the step's delay.

    Attempts are numbered across the whole lifecycle, so ``delivery_attempted, +30s delivery_attempted x2``
    reports attempts 1, 2 and 3.
    """
    planned = []
    attempts = 0
    for step in steps:
        for _ in range(step.repeat):
            if step.action is Action.DELIVERY_ATTEMPTED:
                attempts += 1
            planned.append(PlannedStep(step, attempts if step.action is Action.DELIVERY_ATTEMPTED else 1))
    return tuple(planned)


class _Pending:
    """A scheduled action of a recipient run: skipped once the run is cancelled; the last one completes it."""

    __slots__ = ("action", "engine", "run")

    def __init__(self, engine: Engine, run: RecipientRun, action: Callable[[int], None]) -> None:
        self.engine, self.run, self.action = engine, run, action

    def __call__(self, fired_at: int) -> None:
        run = self.run
        run.pending -= 1
        if not run.cancelled:
            self.action(fired_at)
        if run.pending == 0 and not run.cancelled:
            self.engine._finish(run, fired_at)


class _Lifecycle:
    """A message's way through its lifecycle. Only its next step is on the timeline, so 100,000 messages
    waiting on engagement cost one small object each, not one per step."""

    __slots__ = ("engine", "index", "message", "planned", "run")

    def __init__(self, engine: Engine, run: RecipientRun, message: Message, planned: tuple[PlannedStep, ...]) -> None:
        self.engine, self.run, self.message, self.planned, self.index = engine, run, message, planned, 0

    def schedule_next(self, previous_us: int) -> None:
        step = self.planned[self.index].step
        # Jitter never moves a step before the one it follows: the lifecycle keeps its order.
        due = max(previous_us, previous_us + step.delay_us + self.engine._jitter(step.jitter_us))
        self.engine._schedule(self.run, due, self)

    def __call__(self, now: int) -> None:
        self.engine.apply(self.message, self.planned[self.index], now)
        self.index += 1
        if self.index < len(self.planned):
            self.schedule_next(now)
