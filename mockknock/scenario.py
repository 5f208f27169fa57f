"""Scenario records: the world a run simulates (channels, workflows, lifecycles, endpoints).

These are frozen, validated objects. ``scenario_file`` turns YAML into them; the engine only reads them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from mockknock.config import Endpoint
from mockknock.lifecycle import Step, parse_step
from mockknock.model import Channel, ChannelType

SCENARIO_VERSION = 1
# Channels and workflow versions get ids derived from their keys, so they stay the same across runs
# and seeds: an app may store a channel id (feeds are addressed by it) and must find it again.
CHANNEL_EPOCH_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z: channels "created" before any run


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


@dataclass(frozen=True)
class DelayStep:
    ref: str
    duration_us: int


WorkflowStep = ChannelStep | DelayStep


@dataclass(frozen=True)
class Workflow:
    key: str
    name: str
    steps: tuple[WorkflowStep, ...]
    categories: tuple[str, ...] = ()

    @property
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
    recipient_run_events: bool = False

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

    def channel_ids(self) -> dict[str, Channel]:
        """Every channel any workflow can use, by id."""
        found = {c.id: c for c in self.channels.values()}
        for wf in (*self.workflows.values(), Workflow("", "", self.default_steps)):
            for step in wf.steps:
                if isinstance(step, ChannelStep):
                    found[step.channel.id] = step.channel
        return found
