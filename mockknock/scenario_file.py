"""Scenario YAML to a validated Scenario, or a ScenarioError listing every problem with its place.

Each problem names the file, line and column, the YAML path, what was expected and what was found,
and suggests the nearest valid name when a name is misspelt.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mockknock import yaml_source
from mockknock.conditions import ConditionError, Conditions, parse_compact
from mockknock.config import Endpoint, RetryPolicy
from mockknock.duration import DurationError, parse_duration
from mockknock.errors import ConfigError, ScenarioError
from mockknock.fake import PROVIDERS
from mockknock.knock_project import load_knock_project
from mockknock.lifecycle import Action, LifecycleError, Step, check_sequence, parse_step
from mockknock.model import Channel, ChannelType
from mockknock.outages import Component, Effect, EffectKind, OutageSpec, default_effect, with_overrides
from mockknock.outages import Status as OutageStatus
from mockknock.resources import bundled_scenario
from mockknock.scenario import (
    DEFAULT_PROVIDERS,
    SCENARIO_VERSION,
    BatchStep,
    Branch,
    BranchStep,
    ChannelStep,
    DelayStep,
    Lifecycle,
    LifecycleMatch,
    Outcome,
    Rule,
    Scenario,
    ScriptedCall,
    ThrottleStep,
    Workflow,
    WorkflowStep,
    implied_channel,
    make_channel,
    walk,
)
from mockknock.yaml_source import Located, PathKey, YamlSyntaxError, format_path

TOP_KEYS = (
    "version", "name", "description", "seed", "channels", "workflows", "workflows_dir", "unknown_workflows",
    "default_workflow", "lifecycles", "rules", "webhooks", "recipient_run_events", "script", "outages",
)
CHANNEL_KEYS = ("type", "provider", "name")
WORKFLOW_KEYS = ("name", "description", "categories", "steps")
STEP_KINDS = ("channel", "delay", "batch", "throttle", "branch")
STEP_KEYS = ("ref", "name", "when", *STEP_KINDS)
BATCH_KEYS = ("window", "key", "sliding", "max_actors")
THROTTLE_KEYS = ("limit", "window", "key")
BRANCH_KEYS = ("name", "when", "steps", "terminates")
LIFECYCLE_KEYS = ("match", "outcomes", "events")
MATCH_KEYS = ("workflow", "channel", "provider", "channel_type")
OUTCOME_KEYS = ("weight", "events")
RULE_KEYS = ("when", "outcome", "events", "channel_type")
WEBHOOK_KEYS = ("endpoints", "retry")
RETRY_KEYS = ("max_attempts", "base", "cap", "jitter", "timeout")
TRIGGER_BODY_KEYS = ("recipients", "actor", "data", "tenant", "cancellation_key", "settings")
OUTAGE_KEYS = ("component", "status", "start", "duration", "name", "effect")
EFFECT_KEYS = ("kind", "fraction", "statuses", "latency", "retry_after", "accepted_fraction")
SCRIPT_KEYS = ("at", "every", "count", "workflow", "cancel", *TRIGGER_BODY_KEYS)
MAX_SCRIPT_COUNT = 1_000_000  # calls one script entry makes; a billion would be built in memory first


def load_scenario(path: Path) -> Scenario:
    try:
        located = yaml_source.load_file(path)
    except YamlSyntaxError as exc:
        raise ScenarioError(str(exc)) from None
    return _Parser(located, path.parent).scenario()


def load_default() -> Scenario:
    return load_scenario(bundled_scenario("default"))


def suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _kind(value: Any) -> str:
    kinds: dict[type, str] = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
                              int: "an integer", float: "a number", type(None): "nothing"}
    return kinds.get(type(value), type(value).__name__)


class _Parser:
    def __init__(self, located: Located, base_dir: Path) -> None:
        self.src = located
        self.base_dir = base_dir
        self.problems: list[str] = []
        # Channels declared with errors: already reported, so steps naming them are not reported again.
        self.broken_channels: set[str] = set()
        self._ref_counts: dict[str, int] = {}

    def problem(self, path: PathKey, text: str) -> None:
        self.problems.append(f"{self.src.where(path)}: {format_path(path)}: {text}")

    def fail_if_problems(self) -> None:
        if self.problems:
            count = len(self.problems)
            header = f"{self.src.file}: {count} problem{'s' if count > 1 else ''}:"
            raise ScenarioError("\n".join([header, *("  " + p for p in self.problems)]))

    # -- top level --------------------------------------------------------------------------------

    def scenario(self) -> Scenario:
        data = self.src.data
        if not isinstance(data, dict):
            expected = ", ".join(TOP_KEYS[:4])
            self.problem((), f"expected a mapping of scenario keys ({expected}, ...), found {_kind(data)}")
            self.fail_if_problems()
        self.unknown_keys(data, (), TOP_KEYS)
        version = data.get("version", SCENARIO_VERSION)
        if version != SCENARIO_VERSION or isinstance(version, bool):
            self.problem(("version",), f"this mockknock reads scenario version {SCENARIO_VERSION}, found {version!r}")
        name = self.typed(data, ("name",), str, "a string") or Path(self.src.file).stem
        description = self.typed(data, ("description",), str, "a string") or ""
        seed = self.typed(data, ("seed",), int, "an integer")
        channels = self.channels(data.get("channels", {}), ("channels",))
        notes: list[str] = []
        workflows = self.project_workflows(data, channels, notes)
        raw_workflows = data.get("workflows", {})
        if not isinstance(raw_workflows, dict):
            self.problem(("workflows",), f"expected a mapping of key -> workflow, found {_kind(raw_workflows)}")
        else:
            for key, body in raw_workflows.items():
                workflow = self.workflow(str(key), body, ("workflows", key), channels)
                if workflow is not None:
                    workflows[str(key)] = workflow
        unknown = data.get("unknown_workflows", "accept")
        if unknown not in ("accept", "reject"):
            self.problem(("unknown_workflows",), f"expected 'accept' or 'reject', found {unknown!r}"
                                                 f"{suggest(str(unknown), ['accept', 'reject'])}")
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
        lifecycles = self.lifecycles(data.get("lifecycles", []), ("lifecycles",), channels)
        outcome_names = {o.name for lc in lifecycles for o in lc.outcomes}
        rules = self.rules(data.get("rules", []), ("rules",), outcome_names)
        endpoints, retry = self.webhooks(data.get("webhooks", {}), ("webhooks",))
        run_events = self.typed(data, ("recipient_run_events",), bool, "true or false") or False
        script = self.script(data.get("script", []), ("script",), workflows, unknown == "accept")
        providers = {c.provider for c in channels.values()} | {
            s.channel.provider for wf in (*workflows.values(), Workflow("", "", default_steps))
            for s in walk(wf.steps) if isinstance(s, ChannelStep)
        }
        outages = self.outages(data.get("outages", []), ("outages",), providers)
        self.fail_if_problems()
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
            retry=retry,
            rules=rules,
            recipient_run_events=run_events,
            script=script,
            outages=outages,
            notes=tuple(notes),
        )

    def project_workflows(
        self, data: dict[str, Any], channels: dict[str, Channel], notes: list[str]
    ) -> dict[str, Workflow]:
        raw = data.get("workflows_dir")
        if raw is None:
            return {}
        if not isinstance(raw, str) or not raw:
            self.problem(("workflows_dir",), f"expected a path to a Knock CLI project, found {_kind(raw)}")
            return {}
        try:
            project = load_knock_project((self.base_dir / raw).resolve(), channels)
        except ScenarioError as exc:
            self.problem(("workflows_dir",), str(exc))
            return {}
        notes.extend(project.notes)
        return dict(project.workflows)

    def unknown_keys(self, data: dict[str, Any], path: PathKey, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.problem((*path, key), f"unknown key {key!r}{suggest(str(key), allowed)} "
                                           f"(allowed here: {', '.join(allowed)})")

    def typed(self, data: dict[str, Any], path: PathKey, kind: type, expected: str) -> Any:
        value = data.get(str(path[-1]))
        if value is None:
            return None
        # bool is an int in Python; a scenario that writes `seed: true` is wrong all the same.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.problem(path, f"expected {expected}, found {_kind(value)} {value!r}")
            return None
        return value

    def duration(self, raw: Any, path: PathKey, positive: bool = False) -> int | None:
        try:
            value = parse_duration(raw)
        except DurationError as exc:
            self.problem(path, str(exc))
            return None
        if positive and value <= 0:
            self.problem(path, f"expected a duration above zero, found {raw!r}")
            return None
        return value

    def conditions(self, raw: Any, path: PathKey) -> Conditions | None:
        try:
            return parse_compact(raw)
        except ConditionError as exc:
            self.problem(path, str(exc))
            return None

    # -- channels and workflows ---------------------------------------------------------------------

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
                self.broken_channels.add(str(key))
                continue
            provider = body.get("provider", DEFAULT_PROVIDERS[channel_type])
            if not isinstance(provider, str) or not provider:
                self.problem((*where, "provider"), f"expected a provider name such as sendgrid, found {provider!r}")
                continue
            name = body.get("name")
            if name is not None and not isinstance(name, str):
                self.problem((*where, "name"), f"expected a display name (a string), found {_kind(name)}")
                continue
            found[str(key)] = make_channel(str(key), channel_type, provider, name)
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
        self.unknown_keys(body, path, WORKFLOW_KEYS)
        self._ref_counts = {}
        steps = self.steps(body.get("steps"), (*path, "steps"), channels)
        if steps is None:
            return None
        seen: dict[str, int] = {}
        for step in walk(steps):
            seen[step.ref] = seen.get(step.ref, 0) + 1
        for ref, count in seen.items():
            if count > 1:
                self.problem((*path, "steps"), f"step ref {ref!r} is used {count} times; refs must be unique")
        categories = body.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            self.problem((*path, "categories"), f"expected a list of category names, found {categories!r}")
            categories = []
        return Workflow(key=key, name=str(body.get("name", key)), steps=steps, categories=tuple(categories))

    def steps(self, raw: Any, path: PathKey, channels: dict[str, Channel]) -> tuple[WorkflowStep, ...] | None:
        if not isinstance(raw, list) or not raw:
            found = "an empty list" if raw == [] else _kind(raw)
            self.problem(path, f"expected a non-empty list of steps, found {found}")
            return None
        steps = [self.step(item, (*path, index), channels) for index, item in enumerate(raw)]
        return tuple(s for s in steps if s is not None)

    def default_ref(self, kind: str) -> str:
        """Knock-style refs for steps written without one: email_1, email_2, delay_1, ... per workflow."""
        count = self._ref_counts.get(kind, 0) + 1
        self._ref_counts[kind] = count
        return f"{kind}_{count}"

    def step(self, raw: Any, path: PathKey, channels: dict[str, Channel]) -> WorkflowStep | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a step such as {{channel: email}} or {{delay: 5m}}, found {_kind(raw)}")
            return None
        self.unknown_keys(raw, path, STEP_KEYS)
        kinds = [k for k in STEP_KINDS if k in raw]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            self.problem(path, f"a step needs exactly one of {', '.join(STEP_KINDS)}; found {found}")
            return None
        kind = kinds[0]
        ref = raw.get("ref")
        if ref is not None and (not isinstance(ref, str) or not ref):
            self.problem((*path, "ref"), f"expected a non-empty string, found {ref!r}")
            return None
        if "when" in raw and kind != "channel":
            self.problem((*path, "when"), "only channel steps take 'when'; put conditions on a branch instead")
        value = raw[kind]
        where = (*path, kind)
        if kind == "delay":
            duration = self.duration(value, where)
            return None if duration is None else DelayStep(ref or self.default_ref("delay"), duration)
        if kind == "batch":
            return self.batch(value, where, ref or self.default_ref("batch"))
        if kind == "throttle":
            return self.throttle(value, where, ref or self.default_ref("throttle"))
        if kind == "branch":
            return self.branch(value, where, ref or self.default_ref("branch"), channels)
        return self.channel_step(raw, path, channels, ref)

    def channel_step(
        self, raw: dict[str, Any], path: PathKey, channels: dict[str, Channel], ref: str | None
    ) -> ChannelStep | None:
        channel_key = raw["channel"]
        if not isinstance(channel_key, str):
            self.problem((*path, "channel"), f"expected a channel key, found {_kind(channel_key)}")
            return None
        channel = channels.get(channel_key) or implied_channel(channel_key)
        if channel is None and channel_key in self.broken_channels:
            return None
        if channel is None:
            known = [*channels, *(t.value for t in ChannelType)]
            self.problem((*path, "channel"), f"unknown channel {channel_key!r}{suggest(channel_key, known)}; "
                                             "declare it under channels: with a type and provider")
            return None
        conditions = Conditions()
        if "when" in raw:
            parsed = self.conditions(raw["when"], (*path, "when"))
            if parsed is None:
                return None
            conditions = parsed
        return ChannelStep(ref or self.default_ref(channel.type.value), channel, conditions)

    def batch(self, raw: Any, path: PathKey, ref: str) -> BatchStep | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected {{window: 10m, key: data.thread_id}}, found {_kind(raw)}")
            return None
        self.unknown_keys(raw, path, BATCH_KEYS)
        window = self.duration(raw.get("window"), (*path, "window"), positive=True)
        key = raw.get("key")
        if key is not None and not isinstance(key, str):
            self.problem((*path, "key"), f"expected a variable such as data.thread_id, found {key!r}")
            return None
        max_actors = raw.get("max_actors", 10)
        if isinstance(max_actors, bool) or not isinstance(max_actors, int) or not 1 <= max_actors <= 10:
            self.problem((*path, "max_actors"), f"expected 1 to 10 (Knock's limit), found {max_actors!r}")
            return None
        sliding = raw.get("sliding", False)
        if not isinstance(sliding, bool):
            self.problem((*path, "sliding"), f"expected true or false, found {sliding!r}")
            return None
        return None if window is None else BatchStep(ref, window, key, sliding, max_actors)

    def throttle(self, raw: Any, path: PathKey, ref: str) -> ThrottleStep | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected {{limit: 1, window: 1h}}, found {_kind(raw)}")
            return None
        self.unknown_keys(raw, path, THROTTLE_KEYS)
        limit = raw.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            self.problem((*path, "limit"), f"expected an integer of at least 1, found {limit!r}")
            return None
        window = self.duration(raw.get("window"), (*path, "window"), positive=True)
        key = raw.get("key")
        if key is not None and not isinstance(key, str):
            self.problem((*path, "key"), f"expected a variable such as data.project_id, found {key!r}")
            return None
        return None if window is None else ThrottleStep(ref, limit, window, key)

    def branch(self, raw: Any, path: PathKey, ref: str, channels: dict[str, Channel]) -> BranchStep | None:
        if not isinstance(raw, list) or not raw:
            self.problem(path, f"expected a list of branches [{{name, when, steps}}], found {_kind(raw)}")
            return None
        branches = []
        for index, body in enumerate(raw):
            where = (*path, index)
            if not isinstance(body, dict):
                self.problem(where, f"expected {{name, when, steps}}, found {_kind(body)}")
                continue
            self.unknown_keys(body, where, BRANCH_KEYS)
            conditions = Conditions()
            if "when" in body:
                parsed = self.conditions(body["when"], (*where, "when"))
                if parsed is None:
                    continue
                conditions = parsed
            steps = self.steps(body.get("steps"), (*where, "steps"), channels)
            terminates = body.get("terminates", False)
            if not isinstance(terminates, bool):
                self.problem((*where, "terminates"), f"expected true or false, found {terminates!r}")
                continue
            if steps is not None:
                branches.append(Branch(str(body.get("name", f"branch {index + 1}")), conditions, steps, terminates))
        return BranchStep(ref, tuple(branches)) if len(branches) == len(raw) else None

    # -- lifecycles and rules -------------------------------------------------------------------------

    def lifecycles(self, raw: Any, path: PathKey, channels: dict[str, Channel]) -> tuple[Lifecycle, ...]:
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
            if match is not None and match.channel is not None:
                known = channels.get(match.channel) or implied_channel(match.channel)
                channel_type = known.type if known else channel_type
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
        for key in ("workflow", "channel", "provider"):
            if key in raw and not isinstance(raw[key], str):
                self.problem((*path, key), f"expected a string, found {_kind(raw[key])}")
                return None
        return LifecycleMatch(
            workflow=raw.get("workflow"), channel=raw.get("channel"), provider=raw.get("provider"),
            channel_type=channel_type,
        )

    def outcomes(self, body: dict[str, Any], path: PathKey, channel_type: ChannelType | None) -> tuple[Outcome, ...]:
        if "events" in body and "outcomes" in body:
            self.problem(path, "give either 'events' (one outcome) or 'outcomes' (several), not both")
            return ()
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
        if found and len(found) == len(raw) and sum(o.weight for o in found) <= 0:
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

    def rules(self, raw: Any, path: PathKey, outcome_names: set[str]) -> tuple[Rule, ...]:
        if not isinstance(raw, list):
            self.problem(path, f"expected a list of rules [{{when, outcome}}], found {_kind(raw)}")
            return ()
        found = []
        for index, body in enumerate(raw):
            where = (*path, index)
            if not isinstance(body, dict):
                self.problem(where, f"expected {{when: ..., outcome: name}}, found {_kind(body)}")
                continue
            self.unknown_keys(body, where, RULE_KEYS)
            when = self.conditions(body.get("when"), (*where, "when"))
            channel_type = self.channel_type(body["channel_type"], (*where, "channel_type")) \
                if "channel_type" in body else None
            outcome, steps = body.get("outcome"), None
            if ("outcome" in body) == ("events" in body) or ("outcome" in body and outcome is None):
                self.problem(where, "a rule needs exactly one of 'outcome' (a name) or 'events' (a lifecycle)")
                continue
            if outcome is not None and (not isinstance(outcome, str) or outcome not in outcome_names):
                self.problem((*where, "outcome"), f"no lifecycle has an outcome named {outcome!r}"
                                                  f"{suggest(str(outcome), outcome_names)}; "
                                                  f"known: {', '.join(sorted(outcome_names)) or 'none'}")
                continue
            if "events" in body:
                steps = self.events(body["events"], (*where, "events"), channel_type)
                if steps is None:
                    continue
            if when is not None:
                found.append(Rule(when, outcome, steps, channel_type))
        return tuple(found)

    # -- script ---------------------------------------------------------------------------------------

    def script(
        self, raw: Any, path: PathKey, workflows: dict[str, Workflow], accept_unknown: bool
    ) -> tuple[ScriptedCall, ...]:
        if not isinstance(raw, list):
            self.problem(path, f"expected a list of calls [{{at: 0s, workflow: key, recipients: [...]}}], "
                               f"found {_kind(raw)}")
            return ()
        found = []
        for index, body in enumerate(raw):
            call = self.scripted_call(body, (*path, index), workflows, accept_unknown)
            if call is not None:
                found.append(call)
        return tuple(found)

    def scripted_call(
        self, raw: Any, path: PathKey, workflows: dict[str, Workflow], accept_unknown: bool
    ) -> ScriptedCall | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected {{at: 1m, workflow: key, recipients: [...]}}, found {_kind(raw)}")
            return None
        self.unknown_keys(raw, path, SCRIPT_KEYS)
        before = len(self.problems)
        at = self.duration(raw.get("at", 0), (*path, "at"))
        every = self.duration(raw["every"], (*path, "every"), positive=True) if "every" in raw else 0
        count = raw.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SCRIPT_COUNT:
            self.problem((*path, "count"), f"expected an integer from 1 to {MAX_SCRIPT_COUNT:,}, found {count!r}")
        elif count > 1 and "every" not in raw:
            self.problem((*path, "count"), "a repeated call needs 'every: <duration>' between repetitions")
        workflow = raw.get("workflow")
        if not isinstance(workflow, str) or not workflow:
            self.problem((*path, "workflow"), f"expected the workflow key to call, found {workflow!r}")
        elif workflow not in workflows and not accept_unknown:
            self.problem((*path, "workflow"), f"no workflow {workflow!r} in this scenario"
                                              f"{suggest(workflow, workflows)} and unknown_workflows is reject")
        cancel = raw.get("cancel", False)
        if not isinstance(cancel, bool):
            self.problem((*path, "cancel"), f"expected true or false, found {cancel!r}")
        body = {k: raw[k] for k in TRIGGER_BODY_KEYS if k in raw}
        if cancel is True:
            if not isinstance(body.get("cancellation_key"), str):
                self.problem(path, "a cancel call needs cancellation_key")
        else:
            self.check_recipients(body.get("recipients"), (*path, "recipients"))
        self.check_trigger_fields(body, path)
        self.check_fakes(body, path)
        if len(self.problems) > before or at is None or every is None:
            return None
        return ScriptedCall(at, str(workflow), body, cancel is True, every, count)

    def check_recipients(self, raw: Any, path: PathKey) -> None:
        if isinstance(raw, dict) and set(raw) == {"fake"}:
            count = raw["fake"]
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
                self.problem((*path, "fake"), f"expected how many fake users, 1 to 1000, found {count!r}")
            return
        if not isinstance(raw, list) or not raw:
            self.problem(path, "expected a non-empty list of recipients (ids or {id, ...}), or {fake: N}")

    def check_trigger_fields(self, body: dict[str, Any], path: PathKey) -> None:
        """The fields of Knock's trigger body besides recipients, as the API would check them."""
        def fake(value: Any) -> bool:
            return isinstance(value, dict) and set(value) == {"fake"} and isinstance(value["fake"], str)

        data = body.get("data")
        if data is not None and not isinstance(data, dict):
            self.problem((*path, "data"), f"expected a mapping of trigger data, found {_kind(data)}")
        for key in ("actor", "tenant"):
            value = body.get(key)
            if value is None or isinstance(value, str) or fake(value):
                continue
            if not isinstance(value, dict) or not isinstance(value.get("id"), str):
                self.problem((*path, key), f"expected an id or a mapping with a string id, found {_kind(value)}")
        cancellation_key = body.get("cancellation_key")
        if cancellation_key is not None and not isinstance(cancellation_key, str) and not fake(cancellation_key):
            self.problem((*path, "cancellation_key"), f"expected a string, found {_kind(cancellation_key)}")
        settings = body.get("settings")
        if settings is not None:
            if not isinstance(settings, dict):
                self.problem((*path, "settings"), f"expected {{sandbox_mode, skip_delay}}, found {_kind(settings)}")
                return
            for name, value in settings.items():
                if name not in ("sandbox_mode", "skip_delay"):
                    self.problem((*path, "settings", name), f"unknown setting {name!r}"
                                                            f"{suggest(str(name), ['sandbox_mode', 'skip_delay'])}")
                elif value is not None and not isinstance(value, bool):
                    self.problem((*path, "settings", name), f"expected true or false, found {value!r}")

    def check_fakes(self, value: Any, path: PathKey) -> None:
        """Every {fake: provider} marker names a provider mockknock allows."""
        if isinstance(value, dict):
            # Only {fake: "<provider>"} is a marker; {fake: <anything else>} is plain data, sent as written
            # (recipients: {fake: N} is checked by check_recipients).
            marker = value.get("fake")
            if set(value) == {"fake"} and isinstance(marker, str) and marker not in PROVIDERS:
                self.problem((*path, "fake"), f"unknown fake value {marker!r}{suggest(str(marker), PROVIDERS)}; "
                                              f"allowed: {', '.join(sorted(PROVIDERS))}")
                return
            for key, item in value.items():
                self.check_fakes(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.check_fakes(item, (*path, index))

    # -- outages --------------------------------------------------------------------------------------

    def outages(self, raw: Any, path: PathKey, providers: set[str]) -> tuple[OutageSpec, ...]:
        if not isinstance(raw, list):
            self.problem(path, f"expected a list of outages [{{component, status, start, duration}}], "
                               f"found {_kind(raw)}")
            return ()
        found = []
        for index, body in enumerate(raw):
            spec = outage_spec(body, providers)
            if isinstance(spec, OutageSpec):
                found.append(spec)
            else:
                for where, text in spec:
                    self.problem((*path, index, *where), text)
        return tuple(found)

    # -- webhooks ---------------------------------------------------------------------------------------

    def webhooks(self, raw: Any, path: PathKey) -> tuple[tuple[Endpoint, ...], RetryPolicy | None]:
        if not isinstance(raw, dict):
            self.problem(path, f"expected {{endpoints: [url, ...], retry: {{...}}}}, found {_kind(raw)}")
            return (), None
        self.unknown_keys(raw, path, WEBHOOK_KEYS)
        endpoints = []
        raw_endpoints = raw.get("endpoints", [])
        if not isinstance(raw_endpoints, list):
            self.problem((*path, "endpoints"), f"expected a list of URLs, found {_kind(raw_endpoints)}")
            raw_endpoints = []
        for index, item in enumerate(raw_endpoints):
            parsed = self.endpoint(item, (*path, "endpoints", index))
            if parsed is not None:
                endpoints.append(parsed)
        retry = self.retry(raw["retry"], (*path, "retry")) if "retry" in raw else None
        return tuple(endpoints), retry

    def endpoint(self, item: Any, where: PathKey) -> Endpoint | None:
        spec = item
        if isinstance(item, dict):
            events = item.get("events") or []
            spec = f"{item.get('url', '')}|{','.join(map(str, events))}"
        if not isinstance(spec, str):
            self.problem(where, f"expected a URL or {{url, events}}, found {_kind(item)}")
            return None
        try:
            return Endpoint.parse(spec)
        except ConfigError as exc:
            self.problem(where, str(exc))
            return None

    def retry(self, raw: Any, path: PathKey) -> RetryPolicy | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected {{max_attempts: 8, base: 10s, cap: 15m, jitter: 0.2}}, found {_kind(raw)}")
            return None
        self.unknown_keys(raw, path, RETRY_KEYS)
        values: dict[str, Any] = {}
        attempts = raw.get("max_attempts")
        if attempts is not None:
            if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
                self.problem((*path, "max_attempts"), f"expected an integer of at least 1, found {attempts!r}")
            else:
                values["max_attempts"] = attempts
        for key, field in (("base", "base_us"), ("cap", "cap_us")):
            if key in raw:
                value = self.duration(raw[key], (*path, key))
                if value is not None:
                    values[field] = value
        if "timeout" in raw:
            timeout = self.duration(raw["timeout"], (*path, "timeout"), positive=True)
            if timeout is not None:
                values["timeout_s"] = timeout / 1_000_000
        jitter = raw.get("jitter")
        if jitter is not None:
            if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter <= 1:
                self.problem((*path, "jitter"), f"expected a fraction from 0 to 1, found {jitter!r}")
            else:
                values["jitter"] = float(jitter)
        return dataclasses.replace(RetryPolicy(), **values)


OutageProblems = list[tuple[PathKey, str]]


def outage_spec(raw: Any, providers: set[str]) -> OutageSpec | OutageProblems:
    """An outage from its scenario/control-plane shape, or the problems with it (paths relative to it).

    ``{component: api, status: major_outage, start: 5m, duration: 22m, name: ..., effect: drop}``; ``effect``
    is a kind name or a mapping overriding fields of the status's default effect.
    """
    if not isinstance(raw, dict):
        return [((), f"expected {{component: api, status: major_outage, start: 5m, duration: 22m}}, "
                     f"found {_kind(raw)}")]
    problems: OutageProblems = [((key,), f"unknown key {key!r}{suggest(str(key), OUTAGE_KEYS)} "
                                         f"(allowed here: {', '.join(OUTAGE_KEYS)})")
                                for key in raw if key not in OUTAGE_KEYS]
    components = [c.value for c in Component]
    component = raw.get("component")
    if not isinstance(component, str) or (component not in components and component not in providers):
        choices = sorted({*components, *providers})
        hint = suggest(component, choices) if isinstance(component, str) else ""
        problems.append((("component",), f"expected one of {', '.join(choices)}, found {component!r}{hint}"))
    statuses = [s.value for s in OutageStatus]
    status = raw.get("status")
    if status not in statuses:
        hint = suggest(status, statuses) if isinstance(status, str) else ""
        problems.append((("status",), f"expected one of {', '.join(statuses)}, found {status!r}{hint}"))
    times: dict[str, int] = {}
    for key in ("start", "duration"):
        value = raw.get(key, 0 if key == "start" else None)
        if value is None:
            problems.append(((key,), "required: how long it lasts, e.g. 22m"))
            continue
        try:
            times[key] = parse_duration(value)
        except DurationError as exc:
            problems.append(((key,), str(exc)))
    if times.get("duration") == 0:
        problems.append((("duration",), "an outage must last longer than 0s"))
    name = raw.get("name", "")
    if not isinstance(name, str):
        problems.append((("name",), f"expected a string, found {_kind(name)}"))
    if problems:
        return problems
    status_value = OutageStatus(str(status))
    effect = _effect(raw.get("effect"), default_effect(str(component), status_value), problems)
    if problems or effect is None:
        return problems
    return OutageSpec(str(component), status_value, times["start"], times["duration"], effect, str(name))


def _effect(raw: Any, base: Effect, problems: OutageProblems) -> Effect | None:
    if raw is None:
        return base
    kinds = [k.value for k in EffectKind]
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, dict):
        problems.append((("effect",), f"expected an effect name ({', '.join(kinds)}) or a mapping, found {_kind(raw)}"))
        return None
    overrides: dict[str, Any] = {}
    for key, value in raw.items():
        where: PathKey = ("effect", key)
        if key == "kind":
            if value not in kinds:
                hint = suggest(value, kinds) if isinstance(value, str) else ""
                problems.append((where, f"expected one of {', '.join(kinds)}, found {value!r}{hint}"))
            else:
                overrides["kind"] = EffectKind(value)
        elif key in ("fraction", "accepted_fraction"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                problems.append((where, f"expected a fraction from 0 to 1, found {value!r}"))
            else:
                overrides[key] = float(value)
        elif key == "statuses":
            if not isinstance(value, list) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and 400 <= v <= 599 for v in value
            ):
                problems.append((where, f"expected a list of HTTP statuses such as [502, 503], found {value!r}"))
            else:
                overrides["statuses"] = tuple(value)
        elif key == "latency":
            text = str(value)
            mean, _, jitter = text.partition("~")
            try:
                overrides["latency_us"] = parse_duration(mean)
                overrides["jitter_us"] = parse_duration(jitter) if jitter else 0
            except DurationError as exc:
                problems.append((where, f"{exc}; write it like 2s or 2s~1s"))
        elif key == "retry_after":
            try:
                overrides["retry_after_s"] = max(1, round(parse_duration(value) / 1_000_000))
            except DurationError as exc:
                problems.append((where, str(exc)))
        else:
            problems.append((where, f"unknown key {key!r}{suggest(str(key), EFFECT_KEYS)} "
                                    f"(allowed here: {', '.join(EFFECT_KEYS)})"))
    return None if problems else with_overrides(base, overrides)


def _with_suggestion(message: str, text: str) -> str:
    if message.startswith("unknown lifecycle step"):
        word = text.strip().split()[-1].split("(")[0] if text.strip() else ""
        return message + suggest(word, [a.value for a in Action])
    return message
