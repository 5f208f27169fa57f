"""Walks a workflow's steps for one recipient run and schedules what each step does, and when.

Branches are resolved when the trigger arrives (their conditions read the trigger's context); delays move
the walk forward in simulated time; batch and throttle steps are judged at the moment the run reaches
them, so the walk pauses there and resumes on the timeline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mockknock.conditions import lookup
from mockknock.model import RecipientRef, RecipientRun
from mockknock.scenario import (
    BatchStep,
    BranchStep,
    ChannelStep,
    DelayStep,
    PassStep,
    ThrottleStep,
    Workflow,
    WorkflowStep,
)
from mockknock.trigger import TriggerRequest

Schedule = Callable[[RecipientRun, int, Callable[[int], None]], None]


@dataclass
class RunPlan:
    """One recipient run being walked: what it needs to create messages, and its condition context."""

    workflow: Workflow
    request: TriggerRequest
    run: RecipientRun
    context: dict[str, Any]
    steps: list[WorkflowStep] = field(default_factory=list)


@dataclass
class Batch:
    """An open batch window: its first run carries the rest of the workflow for everyone who joined."""

    key: tuple[Any, ...]
    owner: RunPlan
    step: BatchStep
    resume_at: int
    close_at_us: int
    actors: list[RecipientRef] = field(default_factory=list)
    activities: int = 1
    # The messages after a batch carry the data of its most recent trigger (api.yml, Message.data).
    data: dict[str, Any] | None = None

    def join(self, plan: RunPlan, at: int) -> None:
        self.activities += 1
        self.data = plan.request.data
        actor = plan.run.actor
        if actor is not None and actor not in self.actors:
            self.actors.append(actor)
        if self.step.sliding:
            self.close_at_us = max(self.close_at_us, at + self.step.window_us)

    def batch_actors(self) -> tuple[RecipientRef, ...]:
        return tuple(self.actors[: self.step.max_actors])


CreateMessage = Callable[[RunPlan, ChannelStep, "Batch | None", int], None]


class Planner:
    def __init__(self, schedule: Schedule, create_message: CreateMessage) -> None:
        self._schedule = schedule
        self._create_message = create_message
        self.reset()

    def reset(self) -> None:
        self._batches: dict[tuple[Any, ...], Batch] = {}
        self._throttles: dict[tuple[Any, ...], deque[int]] = {}

    def start(self, plan: RunPlan, now: int) -> None:
        plan.steps = linearize(plan.workflow.steps, plan.context)
        self._walk(plan, 0, now, now, None)

    def _walk(self, plan: RunPlan, index: int, at: int, now: int, batch: Batch | None) -> None:
        steps = plan.steps
        while index < len(steps):
            step = steps[index]
            if isinstance(step, DelayStep):
                at += 0 if plan.request.skip_delay else step.duration_us
            elif isinstance(step, ChannelStep):
                if step.conditions.holds(plan.context):
                    self._schedule(plan.run, at, _bind_create(self._create_message, plan, step, batch))
            elif isinstance(step, BatchStep | ThrottleStep):
                if at > now:
                    # Judge the step when the run gets there, not now: other runs may arrive first.
                    self._schedule(plan.run, at, self._resume(plan, index, batch))
                    return
                if isinstance(step, ThrottleStep):
                    if self._throttled(plan, step, at):
                        plan.run.note = f"throttled at step {step.ref}"
                        return
                else:
                    self._batch(plan, step, index, at)
                    return
            elif isinstance(step, PassStep):
                pass
            index += 1

    def _resume(self, plan: RunPlan, index: int, batch: Batch | None) -> Callable[[int], None]:
        return lambda now: self._walk(plan, index, now, now, batch)

    def _throttled(self, plan: RunPlan, step: ThrottleStep, at: int) -> bool:
        key = (plan.workflow.key, step.ref, plan.run.recipient, _key_value(plan, step.key))
        window = self._throttles.setdefault(key, deque())
        while window and window[0] <= at - step.window_us:
            window.popleft()
        if len(window) >= step.limit:
            return True
        window.append(at)
        return False

    def _batch(self, plan: RunPlan, step: BatchStep, index: int, at: int) -> None:
        key = (plan.workflow.key, step.ref, plan.run.recipient, _key_value(plan, step.key), plan.run.tenant)
        open_batch = self._batches.get(key)
        if open_batch is not None and open_batch.close_at_us >= at and not open_batch.owner.run.cancelled:
            open_batch.join(plan, at)
            plan.run.note = f"batched into workflow recipient run {open_batch.owner.run.id}"
            return
        actors = [plan.run.actor] if plan.run.actor is not None else []
        batch = Batch(key, plan, step, index + 1, at + step.window_us, actors, data=plan.request.data)
        self._batches[key] = batch
        self._schedule(plan.run, batch.close_at_us, lambda t: self._close(batch, t))

    def _close(self, batch: Batch, now: int) -> None:
        if batch.close_at_us > now:  # a sliding window was extended since this close was scheduled
            self._schedule(batch.owner.run, batch.close_at_us, lambda t: self._close(batch, t))
            return
        if self._batches.get(batch.key) is batch:
            del self._batches[batch.key]
        self._walk(batch.owner, batch.resume_at, now, now, batch)


def _bind_create(create: CreateMessage, plan: RunPlan, step: ChannelStep, batch: Batch | None) -> Callable[[int], None]:
    return lambda now: create(plan, step, batch, now)


def _key_value(plan: RunPlan, variable: str | None) -> Any:
    if variable is None:
        return None
    value = lookup(plan.context, variable)
    # Unhashable keys (lists, objects) are compared by their text form.
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)


def linearize(steps: tuple[WorkflowStep, ...], context: dict[str, Any]) -> list[WorkflowStep]:
    """The steps this run will walk, with each branch replaced by the steps of the branch it takes."""
    out, _ = _linearize(steps, context)
    return out


def _linearize(steps: tuple[WorkflowStep, ...], context: dict[str, Any]) -> tuple[list[WorkflowStep], bool]:
    out: list[WorkflowStep] = []
    for step in steps:
        if not isinstance(step, BranchStep):
            out.append(step)
            continue
        taken = next((b for b in step.branches if b.conditions.holds(context)), None)
        if taken is None:
            continue
        inner, stopped = _linearize(taken.steps, context)
        out.extend(inner)
        if stopped or taken.terminates:
            return out, True
    return out, False

