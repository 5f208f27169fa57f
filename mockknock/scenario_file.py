"""Scenario YAML to a validated Scenario, or a ScenarioError listing every problem with its place.

Each problem names the file, line and column, the YAML path, what was expected and what was found,
and suggests the nearest valid name when a name is misspelt.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mockknock import yaml_source
from mockknock.config import Endpoint
from mockknock.duration import DurationError, parse_duration
from mockknock.errors import ConfigError, ScenarioError
from mockknock.lifecycle import Action, LifecycleError, Step, check_sequence, parse_step
from mockknock.model import Channel, ChannelType
from mockknock.resources import bundled_scenario
from mockknock.scenario import (
    SCENARIO_VERSION,
    ChannelStep,
    DelayStep,
    Lifecycle,
    LifecycleMatch,
    Outcome,
    Scenario,
    Workflow,
    WorkflowStep,
    make_channel,
)
from mockknock.yaml_source import Located, PathKey, YamlSyntaxError, format_path

TOP_KEYS = (
    "version", "name", "description", "seed", "channels", "workflows", "unknown_workflows",
    "default_workflow", "lifecycles", "webhooks", "recipient_run_events",
)
CHANNEL_KEYS = ("type", "provider", "name")
STEP_KEYS = ("ref", "channel", "delay", "type", "name")
LIFECYCLE_KEYS = ("match", "outcomes", "events")
MATCH_KEYS = ("workflow", "channel", "provider", "channel_type")
OUTCOME_KEYS = ("weight", "events")
DEFAULT_PROVIDERS = {
    ChannelType.EMAIL: "sendgrid",
    ChannelType.SMS: "twilio",
    ChannelType.PUSH: "apns",
    ChannelType.CHAT: "slack",
    ChannelType.IN_APP_FEED: "knock",
    ChannelType.IN_APP_GUIDE: "knock",
    ChannelType.HTTP: "webhook",
}


def load_scenario(path: Path) -> Scenario:
    try:
        located = yaml_source.load_file(path)
    except YamlSyntaxError as exc:
        raise ScenarioError(str(exc)) from None
    return _Parser(located).scenario()


def load_default() -> Scenario:
    return load_scenario(bundled_scenario("default"))


def suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Parser:
    def __init__(self, located: Located) -> None:
        self.src = located
        self.problems: list[str] = []

    def problem(self, path: PathKey, text: str) -> None:
        self.problems.append(f"{self.src.where(path)}: {format_path(path)}: {text}")

    def scenario(self) -> Scenario:
        data = self.src.data
        if not isinstance(data, dict):
            self.problem((), f"expected a mapping of scenario keys ({', '.join(TOP_KEYS[:4])}, ...), "
                             f"found {_kind(data)}")
            raise ScenarioError("\n".join(self.problems))
        self.unknown_keys(data, (), TOP_KEYS)
        version = data.get("version", SCENARIO_VERSION)
        if version != SCENARIO_VERSION:
            self.problem(("version",), f"this mockknock reads scenario version {SCENARIO_VERSION}, found {version!r}")
        name = self.typed(data, ("name",), str, "a string") or Path(self.src.file).stem
        description = self.typed(data, ("description",), str, "a string") or ""
        seed = self.typed(data, ("seed",), int, "an integer")
        channels = self.channels(data.get("channels", {}), ("channels",))
        workflows: dict[str, Workflow] = {}
        raw_workflows = data.get("workflows", {})
        if not isinstance(raw_workflows, dict):
            self.problem(("workflows",), f"expected a mapping of workflow key -> workflow, found {_kind(raw_workflows)}")
        else:
            for key, body in raw_workflows.items():
                workflow = self.workflow(key, body, ("workflows", key), channels)
                if workflow is not None:
                    workflows[key] = workflow
        unknown = data.get("unknown_workflows", "accept")
        if unknown not in ("accept", "reject"):
            self.problem(("unknown_workflows",), f"expected 'accept' or 'reject', found {unknown!r}")
        default_steps: tuple[WorkflowStep, ...] = ()
        default_categories: tuple[str, ...] = ()
        if "default_workflow" in data:
            default = self.workflow("default", data["default_workflow"], ("default_workflow",), channels)
            if default is not None:
                default_steps, default_categories = default.steps, default.categories
        elif unknown == "accept":
            in_app = channels.get("in-app") or make_channel("in-app", ChannelType.IN_APP_FEED, "knock")
            email = channels.get("email") or make_channel("email", ChannelType.EMAIL, "sendgrid")
            default_steps = (ChannelStep("in_app_feed_1", in_app), ChannelStep("email_1", email))
        lifecycles = self.lifecycles(data.get("lifecycles", []), ("lifecycles",), channels, workflows)
        endpoints = self.endpoints(data.get("webhooks", {}), ("webhooks",))
        run_events = self.typed(data, ("recipient_run_events",), bool, "true or false") or False
        if self.problems:
            raise ScenarioError("\n".join(self.problems))
        return Scenario(
            name=name,
            description=description,
            version=SCENARIO_VERSION,
            seed=seed,
            channels=channels,
            workflows=workflows,
            accept_unknown_workflows=unknown == "accept",
            default_steps=default_steps,
            default_categories=default_categories,
            lifecycles=lifecycles,
            endpoints=endpoints,
            recipient_run_events=run_events,
        )

    def unknown_keys(self, data: dict[str, Any], path: PathKey, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.problem((*path, key), f"unknown key {key!r}{suggest(key, allowed)} "
                                           f"(allowed here: {', '.join(allowed)})")

    def typed(self, data: dict[str, Any], path: PathKey, kind: type, expected: str) -> Any:
        value = data.get(path[-1])
        if value is None:
            return None
        # bool is an int in Python; a scenario that writes `seed: true` is wrong all the same.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(path, f"expected {expected}, found {_kind(value)} {value!r}")
            return None
        return value

    def channels(self, raw: Any, path: PathKey) -> dict[str, Channel]:
        found: dict[str, Channel] = {}
        if not isinstance(raw, dict):
            self.problem(path, f"expected a mapping of channel key -> {{type, provider}}, found {_kind(raw)}")
            return found
        for key, body in raw.items():
            where = (*path, key)
            if not isinstance(body, dict):
                self.problem(where, f"expected {{type: email, provider: sendgrid}}, found {_kind(body)}")
                continue
            self.unknown_keys(body, where, CHANNEL_KEYS)
            channel_type = self.channel_type(body.get("type"), (*where, "type"))
            if channel_type is None:
                continue
            provider = body.get("provider", DEFAULT_PROVIDERS[channel_type])
            if not isinstance(provider, str) or not provider:
                self.problem((*where, "provider"), f"expected a provider name such as sendgrid, found {provider!r}")
                continue
            found[key] = make_channel(key, channel_type, provider, body.get("name"))
        return found

    def channel_type(self, raw: Any, path: PathKey) -> ChannelType | None:
        names = [t.value for t in ChannelType]
        if not isinstance(raw, str) or raw not in names:
            hint = suggest(raw, names) if isinstance(raw, str) else ""
            self.problem(path, f"expected a channel type ({', '.join(names)}), found {raw!r}{hint}")
            return None
        return ChannelType(raw)

    def workflow(self, key: str, body: Any, path: PathKey, channels: dict[str, Channel]) -> Workflow | None:
        if not isinstance(body, dict):
            self.problem(path, f"expected a workflow mapping with steps, found {_kind(body)}")
            return None
        self.unknown_keys(body, path, ("name", "steps", "categories", "description"))
        raw_steps = body.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            self.problem((*path, "steps"), f"expected a non-empty list of steps, found {_kind(raw_steps)}")
            return None
        steps: list[WorkflowStep] = []
        refs: set[str] = set()
        for index, raw in enumerate(raw_steps):
            step = self.step(raw, (*path, "steps", index), channels, len(steps) + 1)
            if step is None:
                continue
            if step.ref in refs:
                self.problem((*path, "steps", index, "ref"), f"duplicate step ref {step.ref!r}: refs must be unique")
            refs.add(step.ref)
            steps.append(step)
        categories = body.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            self.problem((*path, "categories"), f"expected a list of category names, found {categories!r}")
            categories = []
        return Workflow(key=key, name=str(body.get("name", key)), steps=tuple(steps), categories=tuple(categories))

    def step(self, raw: Any, path: PathKey, channels: dict[str, Channel], position: int) -> WorkflowStep | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a step such as {{channel: email}} or {{delay: 5m}}, found {_kind(raw)}")
            return None
        self.unknown_keys(raw, path, STEP_KEYS)
        if "delay" in raw:
            try:
                duration = parse_duration(raw["delay"])
            except DurationError as exc:
                self.problem((*path, "delay"), str(exc))
                return None
            return DelayStep(str(raw.get("ref", f"delay_{position}")), duration)
        channel_key = raw.get("channel")
        if not isinstance(channel_key, str):
            self.problem(path, "a step needs 'channel: <channel key>' or 'delay: <duration>'")
            return None
        channel = channels.get(channel_key)
        if channel is None:
            inferred = _implied_channel(channel_key)
            if inferred is None:
                self.problem((*path, "channel"), f"unknown channel {channel_key!r}{suggest(channel_key, channels)}; "
                                                 "declare it under channels: with a type and provider")
                return None
            channel = inferred
        return ChannelStep(str(raw.get("ref", f"{channel.type.value}_{position}")), channel)

    def lifecycles(
        self, raw: Any, path: PathKey, channels: dict[str, Channel], workflows: dict[str, Workflow]
    ) -> tuple[Lifecycle, ...]:
        if not isinstance(raw, list):
            self.problem(path, f"expected a list of lifecycles, found {_kind(raw)}")
            return ()
        found = []
        for index, body in enumerate(raw):
            where = (*path, index)
            if not isinstance(body, dict):
                self.problem(where, f"expected {{match: ..., outcomes: ...}}, found {_kind(body)}")
                continue
            self.unknown_keys(body, where, LIFECYCLE_KEYS)
            match = self.match(body.get("match", {}), (*where, "match"))
            channel_type = match.channel_type if match else None
            if match is not None and match.channel is not None and match.channel in channels:
                channel_type = channels[match.channel].type
            outcomes = self.outcomes(body, where, channel_type)
            if match is not None and outcomes:
                found.append(Lifecycle(match, outcomes))
        return tuple(found)

    def match(self, raw: Any, path: PathKey) -> LifecycleMatch | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a mapping of {', '.join(MATCH_KEYS)}, found {_kind(raw)}")
            return None
        self.unknown_keys(raw, path, MATCH_KEYS)
        channel_type = None
        if "channel_type" in raw:
            channel_type = self.channel_type(raw["channel_type"], (*path, "channel_type"))
        return LifecycleMatch(
            workflow=raw.get("workflow"), channel=raw.get("channel"), provider=raw.get("provider"),
            channel_type=channel_type,
        )

    def outcomes(self, body: dict[str, Any], path: PathKey, channel_type: ChannelType | None) -> tuple[Outcome, ...]:
        if "events" in body:
            steps = self.events(body["events"], (*path, "events"), channel_type)
            return (Outcome("default", 1.0, steps),) if steps is not None else ()
        raw = body.get("outcomes")
        if not isinstance(raw, dict) or not raw:
            self.problem((*path, "outcomes"), "expected 'events: [...]' or 'outcomes: {name: {weight, events}}'")
            return ()
        found = []
        for name, outcome in raw.items():
            where = (*path, "outcomes", name)
            if not isinstance(outcome, dict):
                self.problem(where, f"expected {{weight: 1, events: [...]}}, found {_kind(outcome)}")
                continue
            self.unknown_keys(outcome, where, OUTCOME_KEYS)
            weight = outcome.get("weight", 1)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                self.problem((*where, "weight"), f"expected a number 0 or above, found {weight!r}")
                continue
            steps = self.events(outcome.get("events"), (*where, "events"), channel_type)
            if steps is not None:
                found.append(Outcome(str(name), float(weight), steps))
        if found and sum(o.weight for o in found) <= 0:
            self.problem((*path, "outcomes"), "the weights sum to zero: give at least one outcome a weight above 0")
        return tuple(found)

    def events(self, raw: Any, path: PathKey, channel_type: ChannelType | None) -> tuple[Step, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.problem(path, f"expected a non-empty list such as [sent, +2s delivered], found {_kind(raw)}")
            return None
        steps = []
        for index, text in enumerate(raw):
            if not isinstance(text, str):
                self.problem((*path, index), f"expected a step such as '+2s delivered', found {_kind(text)}")
                return None
            try:
                steps.append(parse_step(text))
            except LifecycleError as exc:
                self.problem((*path, index), _with_suggestion(str(exc), text))
                return None
        try:
            check_sequence(tuple(steps), channel_type)
        except LifecycleError as exc:
            self.problem(path, str(exc))
            return None
        return tuple(steps)

    def endpoints(self, raw: Any, path: PathKey) -> tuple[Endpoint, ...]:
        if not isinstance(raw, dict):
            self.problem(path, f"expected {{endpoints: [url, ...]}}, found {_kind(raw)}")
            return ()
        self.unknown_keys(raw, path, ("endpoints",))
        found = []
        for index, item in enumerate(raw.get("endpoints", [])):
            where = (*path, "endpoints", index)
            parsed = self.endpoint(item, where)
            if parsed is not None:
                found.append(parsed)
        return tuple(found)

    def endpoint(self, item: Any, where: PathKey) -> Endpoint | None:
        spec = item
        if isinstance(item, dict):
            spec = f"{item.get('url', '')}|{','.join(item.get('events', []) or [])}"
        if not isinstance(spec, str):
            self.problem(where, f"expected a URL or {{url, events}}, found {_kind(item)}")
            return None
        try:
            return Endpoint.parse(spec)
        except ConfigError as exc:
            self.problem(where, str(exc))
            return None


def _implied_channel(key: str) -> Channel | None:
    """A channel key that is itself a channel type (``email``, ``sms``...) needs no declaration."""
    aliases: dict[str, ChannelType] = {t.value: t for t in ChannelType}
    aliases["in-app"] = ChannelType.IN_APP_FEED
    channel_type = aliases.get(key)
    return None if channel_type is None else make_channel(key, channel_type, DEFAULT_PROVIDERS[channel_type])


def _with_suggestion(message: str, text: str) -> str:
    word = text.strip().split()[-1].split("(")[0] if text.strip() else ""
    if message.startswith("unknown lifecycle step"):
        return message + suggest(word, [a.value for a in Action])
    return message


def _kind(value: Any) -> str:
    kinds: dict[type, str] = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
                              int: "an integer", float: "a number", type(None): "nothing"}
    return kinds.get(type(value), type(value).__name__)

