"""Which lifecycle a message gets: a forced outcome, a matching rule, or a weighted draw.

Order: ``data.force_outcome`` naming one of the message's outcomes wins; then the first scenario rule whose
conditions hold (and whose events this channel can follow); else a seeded draw by weight.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping, Sequence
from typing import Any

from mockknock.lifecycle import LifecycleError, Step, check_sequence
from mockknock.model import Channel
from mockknock.scenario import Outcome, Scenario

FORCE_OUTCOME_FIELD = "force_outcome"


def choose(
    scenario: Scenario, workflow: str, channel: Channel, context: Mapping[str, Any], rng: random.Random
) -> tuple[str, tuple[Step, ...]]:
    """(outcome name, steps) for one message."""
    outcomes = scenario.outcomes_for(workflow, channel)
    data = context.get("data") or {}
    forced = data.get(FORCE_OUTCOME_FIELD) if isinstance(data, Mapping) else None
    if isinstance(forced, str) and (found := _named(outcomes, forced)) is not None:
        return forced, found.steps
    for index, rule in enumerate(scenario.rules):
        if rule.channel_type is not None and rule.channel_type is not channel.type:
            continue
        if not rule.when.holds(context):
            continue
        if rule.outcome is not None and (found := _named(outcomes, rule.outcome)) is not None:
            return rule.outcome, found.steps
        if rule.steps is not None and _possible(rule.steps, channel):
            return f"rule {index + 1}", rule.steps
    return _draw(outcomes, rng)


def _named(outcomes: Sequence[Outcome], name: str) -> Outcome | None:
    return next((o for o in reversed(outcomes) if o.name == name), None)  # the last, as a dict by name had it


def _possible(steps: tuple[Step, ...], channel: Channel) -> bool:
    try:
        check_sequence(steps, channel.type)
    except LifecycleError:
        return False
    return True


def _draw(outcomes: tuple[Outcome, ...], rng: random.Random) -> tuple[str, tuple[Step, ...]]:
    if len(outcomes) == 1:
        return outcomes[0].name, outcomes[0].steps
    cumulative = []
    total = 0.0
    for outcome in outcomes:
        total += outcome.weight
        cumulative.append(total)
    # A draw of exactly `total` cannot happen (random() < 1), so the index is always in range.
    chosen = outcomes[bisect.bisect_right(cumulative, rng.random() * total)]
    return chosen.name, chosen.steps
