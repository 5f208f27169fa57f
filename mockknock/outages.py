"""Simulated bad days: which component is down, when, how badly, and what that does.

An outage is a component (named as on Knock's status page), a status, a window on the simulation clock
and an effect. Each status has a default effect, and each field of it can be overridden. The web layer,
the engine and delivery ask this module whether an effect applies *now*; when no outage is active the
answer costs one comparison, so a list of future or past outages slows nothing.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mockknock.duration import format_duration
from mockknock.model import Channel, ChannelType


class Component(enum.StrEnum):
    """Knock's status-page components; providers are components too."""

    API = "api"
    NOTIFICATION_DELIVERY = "notification_delivery"
    WEBHOOK_DELIVERY = "webhook_delivery"
    LOGS = "api_and_workflow_logs"
    TRACKING = "link_and_open_tracking"
    DASHBOARD = "dashboard"
    SENDGRID = "sendgrid"
    AWS_SES = "aws_ses"
    MAILJET = "mailjet"
    SPARKPOST = "sparkpost"
    SLACK = "slack"
    SEGMENT = "segment"
    DATADOG = "datadog"


COMPONENT_NAMES: dict[Component, str] = {
    Component.API: "API",
    Component.NOTIFICATION_DELIVERY: "Notification delivery",
    Component.WEBHOOK_DELIVERY: "Webhook delivery",
    Component.LOGS: "API and workflow logs",
    Component.TRACKING: "Link and open tracking",
    Component.DASHBOARD: "Dashboard",
    Component.SENDGRID: "SendGrid",
    Component.AWS_SES: "AWS SES",
    Component.MAILJET: "Mailjet",
    Component.SPARKPOST: "SparkPost",
    Component.SLACK: "Slack",
    Component.SEGMENT: "Segment",
    Component.DATADOG: "Datadog",
}
PROVIDER_COMPONENTS = frozenset({Component.SENDGRID, Component.AWS_SES, Component.MAILJET, Component.SPARKPOST,
                                 Component.SLACK, Component.SEGMENT, Component.DATADOG})


def component_title(component: str) -> str:
    """The status page's name for a component; a provider outside Knock's list shows as written."""
    known = {c.value: name for c, name in COMPONENT_NAMES.items()}
    return known.get(component, component)


class Status(enum.StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


class EffectKind(enum.StrEnum):
    ERRORS = "errors"  # API answers 5xx for a fraction of calls
    LATENCY = "latency"  # API answers late; webhook or provider sends are held
    RATE_LIMIT = "rate_limit"  # API answers 429 with retry-after
    DROP = "drop"  # triggers answered 200, then silently discarded (Knock, 24 May 2023)
    PAUSE = "pause"  # webhooks held until the window ends, then caught up in order
    FAIL = "fail"  # webhook attempts fail (retries are spent) for a fraction of attempts
    PROVIDER_FAILURE = "provider_failure"  # sends go delivery_attempted until the provider recovers or retries run out
    SUPPRESS = "suppress"  # no link_clicked / open-driven events
    NONE = "none"  # shown on the status page only


@dataclass(frozen=True)
class Effect:
    kind: EffectKind
    fraction: float = 1.0
    statuses: tuple[int, ...] = (502, 503)
    latency_us: int = 0
    jitter_us: int = 0
    retry_after_s: int = 1
    # For errors on trigger: the share of failed calls Knock had already accepted before the 5xx (a gateway
    # timing out on a slow backend). The SDK retries them, and each retry is a new run, as on Knock.
    accepted_fraction: float = 0.0

    def describe(self) -> str:
        if self.kind is EffectKind.ERRORS:
            text = f"{'/'.join(map(str, self.statuses))} on {self.fraction:.0%} of calls"
            return text + (f", {self.accepted_fraction:.0%} of them after the trigger was accepted"
                           if self.accepted_fraction else "")
        if self.kind is EffectKind.LATENCY:
            return f"+{format_duration(self.latency_us)} (+/-{format_duration(self.jitter_us)})"
        if self.kind is EffectKind.RATE_LIMIT:
            return f"429 with retry-after: {self.retry_after_s}"
        if self.kind in (EffectKind.FAIL, EffectKind.PROVIDER_FAILURE):
            return f"{self.kind.value} on {self.fraction:.0%}"
        return self.kind.value


def default_effect(component: Component | str, status: Status) -> Effect:
    """What a status does to a component unless the outage says otherwise."""
    if status is Status.OPERATIONAL:
        return Effect(EffectKind.NONE)
    degraded = status is Status.DEGRADED_PERFORMANCE
    partial = status is Status.PARTIAL_OUTAGE
    if component == Component.API:
        if degraded:
            return Effect(EffectKind.LATENCY, latency_us=2_000_000, jitter_us=1_000_000)
        if partial:
            return Effect(EffectKind.ERRORS, fraction=0.3, statuses=(502, 503), accepted_fraction=0.5)
        return Effect(EffectKind.ERRORS, statuses=(503,) if status is Status.UNDER_MAINTENANCE else (502, 503))
    if component == Component.WEBHOOK_DELIVERY:
        if degraded:
            return Effect(EffectKind.LATENCY, latency_us=60_000_000, jitter_us=30_000_000)
        return Effect(EffectKind.FAIL, fraction=0.5) if partial else Effect(EffectKind.PAUSE)
    if component == Component.TRACKING:
        return Effect(EffectKind.SUPPRESS, fraction=0.5 if degraded or partial else 1.0)
    if component in (Component.LOGS, Component.DASHBOARD, Component.SEGMENT, Component.DATADOG):
        return Effect(EffectKind.NONE)
    # Notification delivery and the providers behind it.
    if degraded:
        return Effect(EffectKind.LATENCY, latency_us=5 * 60_000_000, jitter_us=2 * 60_000_000)
    return Effect(EffectKind.PROVIDER_FAILURE, fraction=0.5 if partial else 1.0)


@dataclass
class Outage:
    id: str
    component: str  # a Component value, or the name of a provider used by a channel
    status: Status
    start_us: int
    end_us: int
    effect: Effect
    name: str = ""
    source: str = "scenario"
    ended_early_at_us: int | None = None

    def active(self, now: int) -> bool:
        return self.start_us <= now < self.end_us

    @property
    def title(self) -> str:
        return self.name or f"{component_title(self.component)}: {self.status.value.replace('_', ' ')}"

    def to_wire(self, now: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "component": self.component,
            "status": self.status.value,
            "name": self.title,
            "start_us": self.start_us,
            "end_us": self.end_us,
            "duration": format_duration(self.end_us - self.start_us),
            "effect": {"kind": self.effect.kind.value, "description": self.effect.describe()},
            "active": self.active(now),
            "source": self.source,
            "ended_early": self.ended_early_at_us is not None,
        }


@dataclass(frozen=True)
class OutageSpec:
    """An outage as written in a scenario or sent to the control plane: times relative to a start."""

    component: str
    status: Status
    start_us: int
    duration_us: int
    effect: Effect
    name: str = ""


@dataclass
class SimulatedFailure:
    """A failure mockknock caused on purpose, so a user can tell it from a bug."""

    at_us: int
    outage_id: str
    what: str
    subject: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"at_us": self.at_us, "outage_id": self.outage_id, "what": self.what, "subject": self.subject}


@dataclass
class Outages:
    """Every outage of one simulation, and the seeded draws that decide who a partial outage hits."""

    rng: random.Random
    items: list[Outage] = field(default_factory=list)
    failures: list[SimulatedFailure] = field(default_factory=list)
    _next_id: int = 1
    # [earliest start, latest end) over all outages: outside it nothing can be active.
    _span: tuple[int, int] = (0, 0)

    def add(self, spec: OutageSpec, origin_us: int, source: str) -> Outage:
        outage = Outage(f"out_{self._next_id}", spec.component, spec.status, origin_us + spec.start_us,
                        origin_us + spec.start_us + spec.duration_us, spec.effect, spec.name, source)
        self._next_id += 1
        self.items.append(outage)
        self._respan()
        return outage

    def add_all(self, specs: Iterable[OutageSpec], origin_us: int, source: str) -> None:
        for spec in specs:
            self.add(spec, origin_us, source)

    def end(self, outage_id: str, now: int) -> Outage | None:
        for outage in self.items:
            if outage.id == outage_id:
                if outage.active(now):
                    outage.end_us = now
                    outage.ended_early_at_us = now
                elif outage.start_us > now:  # not begun: it never happens
                    outage.start_us = outage.end_us = now
                    outage.ended_early_at_us = now
                self._respan()
                return outage
        return None

    def remove_source(self, source: str) -> None:
        self.items[:] = [o for o in self.items if o.source != source]
        self._respan()

    def clear(self) -> None:
        self.items.clear()
        self.failures.clear()
        self._next_id = 1
        self._respan()

    def _respan(self) -> None:
        if self.items:
            self._span = (min(o.start_us for o in self.items), max(o.end_us for o in self.items))
        else:
            self._span = (0, 0)

    def active(self, now: int, components: Iterable[str]) -> Outage | None:
        """The most severe active outage on any of ``components`` (None on the fast path)."""
        start, end = self._span
        if not start <= now < end:
            return None
        wanted = set(components)
        found = [o for o in self.items if o.component in wanted and o.active(now)
                 and o.effect.kind is not EffectKind.NONE]
        if not found:
            return None
        return max(found, key=lambda o: _SEVERITY[o.status])

    def hits(self, outage: Outage) -> bool:
        """Whether this call, attempt or message is one a partial effect touches (seeded)."""
        fraction = outage.effect.fraction
        return fraction >= 1.0 or self.rng.random() < fraction

    def record(self, at: int, outage: Outage, what: str, subject: str = "") -> None:
        self.failures.append(SimulatedFailure(at, outage.id, what, subject))

    def for_channel(self, channel: Channel) -> list[str]:
        """The components whose outage holds up a send on this channel (in-app never leaves Knock)."""
        if channel.type in (ChannelType.IN_APP_FEED, ChannelType.IN_APP_GUIDE):
            return []
        return [Component.NOTIFICATION_DELIVERY.value, channel.provider]

    def status_of(self, component: str, now: int) -> Status:
        found = [o.status for o in self.items if o.component == component and o.active(now)]
        return max(found, key=lambda s: _SEVERITY[s]) if found else Status.OPERATIONAL


_SEVERITY = {
    Status.OPERATIONAL: 0,
    Status.UNDER_MAINTENANCE: 1,
    Status.DEGRADED_PERFORMANCE: 2,
    Status.PARTIAL_OUTAGE: 3,
    Status.MAJOR_OUTAGE: 4,
}


def with_overrides(base: Effect, overrides: dict[str, Any]) -> Effect:
    return replace(base, **overrides)


# Knock documents provider retries as "up to 8 times over a 30-minute window, exponential back-off with
# jitter"; this schedule (15s doubling, capped at 10m) spends its 7 waits over about 26 minutes.
PROVIDER_MAX_ATTEMPTS = 8
PROVIDER_BASE_US = 15_000_000
PROVIDER_CAP_US = 10 * 60_000_000


def provider_retry_delay(attempt: int, unit_random: float) -> int:
    """Simulated wait after provider attempt ``attempt`` (1-based), +/-20% jitter."""
    raw = min(PROVIDER_BASE_US << (attempt - 1), PROVIDER_CAP_US)
    return round(raw * (1 + 0.2 * (2 * unit_random - 1)))


@dataclass(frozen=True)
class ApiFault:
    """What an API outage does to one request."""

    outage: Outage
    kind: EffectKind
    status: int = 0
    delay_s: float = 0.0
    # errors on trigger: handle the trigger first, then answer the error (the SDK's retry makes a new run)
    after_accept: bool = False

    @property
    def headers(self) -> dict[str, str]:
        found = {"x-mockknock-simulated-outage": self.outage.id}
        if self.kind is EffectKind.RATE_LIMIT:
            found["retry-after"] = str(self.outage.effect.retry_after_s)
        return found


def api_fault(outages: Outages, now: int, is_trigger: bool) -> ApiFault | None:
    """The fault, if any, an API outage puts on this request (seeded draws for partial effects)."""
    outage = outages.active(now, (Component.API.value,))
    if outage is None:
        return None
    effect = outage.effect
    if effect.kind is EffectKind.LATENCY:
        spread = outages.rng.uniform(-effect.jitter_us, effect.jitter_us) if effect.jitter_us else 0
        return ApiFault(outage, EffectKind.LATENCY, delay_s=max(0.0, (effect.latency_us + spread) / 1e6))
    if effect.kind is EffectKind.DROP:
        return ApiFault(outage, EffectKind.DROP) if is_trigger else None
    if not outages.hits(outage):
        return None
    if effect.kind is EffectKind.RATE_LIMIT:
        return ApiFault(outage, EffectKind.RATE_LIMIT, status=429)
    if effect.kind is EffectKind.ERRORS:
        status = outages.rng.choice(effect.statuses)
        accepted = is_trigger and effect.accepted_fraction > 0 and outages.rng.random() < effect.accepted_fraction
        return ApiFault(outage, EffectKind.ERRORS, status=status, after_accept=accepted)
    return None
