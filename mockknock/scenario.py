"""Scenario records: the world a run simulates (channels, workflows, lifecycles, endpoints).

These are frozen, validated objects. ``scenario_file`` turns YAML into them; the engine only reads them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from mockknock.conditions import Conditions
from mockknock.config import Endpoint, RetryPolicy
from mockknock.lifecycle import Step, parse_step
from mockknock.model import Channel, ChannelType
from mockknock.outages import OutageSpec

SCENARIO_VERSION = 1
# Channels and workflow versions get ids derived from their keys, so they stay the same across runs
# and seeds: an app may store a channel id (feeds are addressed by it) and must find it again.
CHANNEL_EPOCH_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z: channels "created" before any run


DEFAULT_PROVIDERS = {
    ChannelType.EMAIL: "sendgrid",
    ChannelType.SMS: "twilio",
    ChannelType.PUSH: "apns",
    ChannelType.CHAT: "slack",
    ChannelType.IN_APP_FEED: "knock",
    ChannelType.IN_APP_GUIDE: "knock",
    ChannelType.HTTP: "webhook",
}


def implied_channel(key: str) -> Channel | None:
    """A channel key that is itself a channel type (``email``, ``sms``, ``in-app``...) needs no declaration."""
    aliases: dict[str, ChannelType] = {t.value: t for t in ChannelType}
    aliases["in-app"] = ChannelType.IN_APP_FEED
    channel_type = aliases.get(key)
    return None if channel_type is None else make_channel(key, channel_type, DEFAULT_PROVIDERS[channel_type])


def stable_id(kind: str, key: str) -> str:
    # Shaped as a v4 UUID, as Knock's are, but derived from the key rather than drawn at random.
    digest = hashlib.sha256(f"mockknock:{kind}:{key}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def make_channel(key: str, channel_type: ChannelType, provider: str, name: str | None = None) -> Channel:
    return Channel(
        id=stable_id("channel", key),
        key=key,
        name=name or key.replace("-", " ").replace("_", " ").title(),
        type=channel_type,
        provider=provider,
        created_at_us=CHANNEL_EPOCH_US,
    )


@dataclass(frozen=True)
class ChannelStep:
    ref: str
    channel: Channel
    # Knock's step conditions: the step is skipped for a recipient when they do not hold.
    conditions: Conditions = field(default_factory=Conditions)


@dataclass(frozen=True)
class DelayStep:
    ref: str
    duration_us: int


@dataclass(frozen=True)
class BatchStep:
    """Collects triggers for one recipient (and batch key) over a window; later steps run once for all."""

    ref: str
    window_us: int
    key: str | None = None  # a variable such as data.thread_id; None batches every trigger of the recipient
    sliding: bool = False  # a new trigger extends the window (Knock's batch_window_type: sliding)
    max_actors: int = 10


@dataclass(frozen=True)
class ThrottleStep:
    """Lets at most ``limit`` runs per recipient (and key) through per window; the rest stop here."""

    ref: str
    limit: int
    window_us: int
    key: str | None = None


@dataclass(frozen=True)
class Branch:
    name: str
    conditions: Conditions
    steps: tuple[WorkflowStep, ...]
    terminates: bool = False


@dataclass(frozen=True)
class BranchStep:
    """Takes the first branch whose conditions hold (a branch without conditions is the default)."""

    ref: str
    branches: tuple[Branch, ...]


@dataclass(frozen=True)
class PassStep:
    """A Knock step mockknock does not simulate (http_fetch, update_user, ...): it passes at once."""

    ref: str
    type: str


WorkflowStep = ChannelStep | DelayStep | BatchStep | ThrottleStep | BranchStep | PassStep


@dataclass(frozen=True)
class Workflow:
    key: str
    name: str
    steps: tuple[WorkflowStep, ...]
    categories: tuple[str, ...] = ()

    @cached_property
    def version_id(self) -> str:
        return stable_id("workflow-version", self.key)


@dataclass(frozen=True)
class Outcome:
    name: str
    weight: float
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class LifecycleMatch:
    """Which messages a lifecycle applies to; None matches anything. More fields set = more specific."""

    workflow: str | None = None
    channel: str | None = None
    provider: str | None = None
    channel_type: ChannelType | None = None

    def matches(self, workflow: str, channel: Channel) -> bool:
        return (
            (self.workflow is None or self.workflow == workflow)
            and (self.channel is None or self.channel == channel.key)
            and (self.provider is None or self.provider == channel.provider)
            and (self.channel_type is None or self.channel_type is channel.type)
        )

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        return (
            self.workflow is not None,
            self.channel is not None,
            self.provider is not None,
            self.channel_type is not None,
        )


@dataclass(frozen=True)
class Lifecycle:
    match: LifecycleMatch
    outcomes: tuple[Outcome, ...]


def _steps(*texts: str) -> tuple[Step, ...]:
    return tuple(parse_step(t) for t in texts)


# What each channel type does when the scenario says nothing: the happy path Knock reports.
DEFAULT_LIFECYCLES: dict[ChannelType, tuple[Step, ...]] = {
    ChannelType.IN_APP_FEED: _steps("sent", "delivered"),
    ChannelType.IN_APP_GUIDE: _steps("sent", "delivered"),
    ChannelType.HTTP: _steps("sent", "delivered"),
    ChannelType.EMAIL: _steps("+1s~500ms sent", "+3s~2s delivered"),
    ChannelType.SMS: _steps("+1s~500ms sent", "+5s~3s delivered"),
    ChannelType.PUSH: _steps("+500ms~250ms sent"),
    ChannelType.CHAT: _steps("+500ms~250ms sent"),
}


@dataclass(frozen=True)
class Rule:
    """A "magic recipient" rule: messages whose context matches get a named outcome or these events."""

    when: Conditions
    outcome: str | None = None
    steps: tuple[Step, ...] | None = None
    channel_type: ChannelType | None = None


@dataclass(frozen=True)
class ScriptedCall:
    """A trigger (or cancel) the scenario makes itself, at a time on its clock, optionally repeated.

    ``body`` is Knock's request body, except that values may be ``{"fake": "<provider>"}`` and
    ``recipients`` may be ``{"fake": N}``; they are filled from the seed when the call is made.
    """

    at_us: int
    workflow: str
    body: dict[str, Any]
    cancel: bool = False
    every_us: int = 0
    count: int = 1

    def times(self) -> list[int]:
        return [self.at_us + n * self.every_us for n in range(self.count)]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    version: int = SCENARIO_VERSION
    seed: int | None = None
    channels: dict[str, Channel] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    accept_unknown_workflows: bool = True
    default_steps: tuple[WorkflowStep, ...] = ()
    default_categories: tuple[str, ...] = ()
    lifecycles: tuple[Lifecycle, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    retry: RetryPolicy | None = None
    rules: tuple[Rule, ...] = ()
    recipient_run_events: bool = False
    script: tuple[ScriptedCall, ...] = ()
    outages: tuple[OutageSpec, ...] = ()
    # Things the loader wants the user to know that are not errors (steps not simulated, ...).
    notes: tuple[str, ...] = ()

    def workflow(self, key: str) -> Workflow | None:
        """The workflow for ``key``: a defined one, the default shape if unknown keys are accepted, else None."""
        found = self.workflows.get(key)
        if found is not None:
            return found
        if not self.accept_unknown_workflows:
            return None
        return Workflow(key=key, name=key, steps=self.default_steps, categories=self.default_categories)

    def outcomes_for(self, workflow: str, channel: Channel) -> tuple[Outcome, ...]:
        candidates = [lc for lc in self.lifecycles if lc.match.matches(workflow, channel)]
        if candidates:
            best = max(candidates, key=lambda lc: lc.match.specificity)
            return best.outcomes
        return (Outcome("default", 1.0, DEFAULT_LIFECYCLES[channel.type]),)

    def providers(self) -> set[str]:
        """The providers the channels use: components an outage may name besides Knock's own."""
        return {channel.provider for channel in self.channel_ids().values()}

    def channel_ids(self) -> dict[str, Channel]:
        """Every channel any workflow can use, by id."""
        found = {c.id: c for c in self.channels.values()}
        for wf in (*self.workflows.values(), Workflow("", "", self.default_steps)):
            for step in walk(wf.steps):
                if isinstance(step, ChannelStep):
                    found[step.channel.id] = step.channel
        return found


def walk(steps: tuple[WorkflowStep, ...]) -> list[WorkflowStep]:
    """Every step, branches' steps included, depth first."""
    found: list[WorkflowStep] = []
    for step in steps:
        found.append(step)
        if isinstance(step, BranchStep):
            for branch in step.branches:
                found.extend(walk(branch.steps))
    return found
