"""A Knock CLI project directory (``knock.json`` -> ``workflows/<key>/workflow.json``) to scenario workflows.

Teams keep their real workflows in the layout ``knock workflow pull`` writes; reading it lets a scenario replay
them without copying each one into YAML. Steps mockknock simulates (channel, delay, batch, branch, throttle)
become scenario step records; every other Knock step type passes at once, with a note that says so.
Problems are collected across every workflow and raised together, each as ``<file>: <JSON path>: <text>``.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockknock.conditions import ConditionError, Conditions, parse_knock
from mockknock.duration import format_duration
from mockknock.errors import ScenarioError
from mockknock.model import Channel, ChannelType
from mockknock.scenario import (
    DEFAULT_PROVIDERS,
    BatchStep,
    Branch,
    BranchStep,
    ChannelStep,
    DelayStep,
    PassStep,
    ThrottleStep,
    Workflow,
    WorkflowStep,
    make_channel,
)
from mockknock.yaml_source import PathKey, format_path

PROJECT_CONFIG = "knock.json"
WORKFLOWS_DIR = "workflows"
WORKFLOW_JSON = "workflow.json"
# The CLI JSON-decodes only this extracted file; every other one is inlined as text (marshal/shared/helpers.ts).
VISUAL_BLOCKS_JSON = "visual_blocks.json"
FILE_REF_MARKER = "@"
# workflow.json -> visual_blocks.json -> block content: the CLI follows references two levels deep, no further.
MAX_EXTRACTION_LEVEL = 2
READONLY_KEY = "__readonly"
SCHEMA_KEY = "$schema"

_SECOND_US = 1_000_000
_DAY_US = 86_400 * _SECOND_US
# Knock's Duration units. MOAS lists minutes..months, the docs and MOAS examples also use seconds.
DURATION_UNITS_US = {
    "seconds": _SECOND_US,
    "minutes": 60 * _SECOND_US,
    "hours": 3_600 * _SECOND_US,
    "days": _DAY_US,
    "weeks": 7 * _DAY_US,
    "months": 30 * _DAY_US,  # not a fixed length; a note tells the user it is read as 30 days
}
DURATION_EXAMPLE = '{"unit": "minutes", "value": 5}'

# Knock step types mockknock does not simulate; each passes at once (MOAS WorkflowStep).
PASSING_STEP_TYPES = frozenset({
    "http_fetch", "trigger_workflow", "wait_for_event", "update_user", "update_object", "update_tenant",
    "update_data", "random_cohort", "ai_agent",
})
SIMULATED_STEP_TYPES = ("channel", "delay", "batch", "branch", "throttle")
# Namespaces of a workflow run's scope; a batch or throttle key outside them names a trigger data property.
SCOPE_NAMESPACES = frozenset({"data", "recipient", "actor", "tenant"})
_VARIABLE = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+)*")
_LIQUID_OUTPUT = re.compile(r"\{\{\s*([^{}|]*?)\s*\}\}")

_MISSING: Any = object()


@dataclass(frozen=True)
class KnockProject:
    workflows: dict[str, Workflow]
    # What the user should know that is not an error: steps not simulated, settings approximated.
    notes: tuple[str, ...]


def load_knock_project(path: Path, channels: Mapping[str, Channel]) -> KnockProject:
    """Every workflow under ``path``: a project root with knock.json, a knock dir, or a workflows dir.

    ``channels`` are the scenario's declared channels: a step whose channel_key names one sends through it
    (and its provider); any other channel key gets the default provider of its channel type.
    """
    reader = _Reader(channels)
    workflows: dict[str, Workflow] = {}
    for key, directory in _locate(path):
        workflow = reader.workflow(key, directory)
        if workflow is not None:
            workflows[key] = workflow
    if reader.problems:
        raise ScenarioError("\n".join(reader.problems))
    return KnockProject(workflows, tuple(reader.notes))


def _locate(path: Path) -> list[tuple[str, Path]]:
    if not path.exists():
        raise ScenarioError(f"workflows directory {path} does not exist")
    if not path.is_dir():
        raise ScenarioError(f"{path} is not a directory: give a Knock project directory (holding {PROJECT_CONFIG}), "
                            f"its knock directory or its {WORKFLOWS_DIR} directory")
    config = path / PROJECT_CONFIG
    if config.is_file():
        knock_dir = _knock_dir(config)
        workflows_dir = knock_dir / WORKFLOWS_DIR
        if not workflows_dir.is_dir():
            raise ScenarioError(f"no Knock workflows found: {config} sets knockDir to {knock_dir}, which has no "
                                f"{WORKFLOWS_DIR} directory (expected {workflows_dir}/<key>/{WORKFLOW_JSON})")
        return _workflow_dirs(workflows_dir)
    if (path / WORKFLOW_JSON).is_file():
        # A single workflow directory, as the CLI accepts when run inside one; its name is the key.
        return [(path.resolve().name, path)]
    if (path / WORKFLOWS_DIR).is_dir():
        return _workflow_dirs(path / WORKFLOWS_DIR)
    found = _workflow_dirs(path, required=False)
    if not found:
        raise ScenarioError(f"no Knock workflows found in {path}: looked for {PROJECT_CONFIG}, "
                            f"{WORKFLOWS_DIR}/<key>/{WORKFLOW_JSON} and <key>/{WORKFLOW_JSON}")
    return found


def _knock_dir(config: Path) -> Path:
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{config}:{exc.lineno}:{exc.colno}: broken JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{config}: cannot read the file: {exc}") from None
    raw = data.get("knockDir", _MISSING) if isinstance(data, dict) else _MISSING
    if not isinstance(raw, str) or not raw.strip():
        raise ScenarioError(f'{config}: knockDir: expected the knock directory\'s path, such as "./knock", '
                            f"found {_found(raw)}")
    # Relative to knock.json's own directory: the CLI resolves it from the working directory, which is
    # where knock.json sits whenever `knock init` wrote it.
    knock_dir = config.parent / raw
    if not knock_dir.is_dir():
        raise ScenarioError(f"{config}: knockDir: {knock_dir} does not exist or is not a directory")
    return knock_dir


def _workflow_dirs(directory: Path, required: bool = True) -> list[tuple[str, Path]]:
    # Sorted, so notes and problems come in the same order on every machine.
    found = [(child.name, child) for child in sorted(directory.iterdir())
             if child.is_dir() and (child / WORKFLOW_JSON).is_file()]
    if required and not found:
        raise ScenarioError(f"no Knock workflows found in {directory}: expected <key>/{WORKFLOW_JSON} in it")
    return found


class _Reader:
    def __init__(self, channels: Mapping[str, Channel]) -> None:
        self.channels = channels
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.file = ""
        self.refs: dict[str, PathKey] = {}

    def problem(self, path: PathKey, text: str) -> None:
        self.problems.append(f"{self.file}: {format_path(path)}: {text}")

    def note(self, ref: str, step_type: str, text: str) -> None:
        self.notes.append(f"{self.file}: step {ref} ({step_type}) {text}")

    def workflow(self, key: str, directory: Path) -> Workflow | None:
        file = directory / WORKFLOW_JSON
        self.file = str(file)
        self.refs = {}
        data = self.read_json(file)
        if data is _MISSING:
            return None
        if not isinstance(data, dict):
            self.problem((), f"expected a workflow object with name and steps, found {_found(data)}")
            return None
        data = _without_readonly(data)
        data.pop(SCHEMA_KEY, None)
        self.resolve_file_refs(data, directory, "", 1, ())
        name = data.get("name", key)
        if not isinstance(name, str):
            self.problem(("name",), f"expected the workflow's name as a string, found {_found(name)}")
            name = key
        categories = data.get("categories") or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            self.problem(("categories",), f"expected a list of category names, found {_found(categories)}")
            categories = []
        if data.get("conditions"):
            self.notes.append(f"{self.file}: the workflow's trigger conditions are not simulated: every trigger runs")
        raw_steps = data.get("steps", _MISSING)
        if not isinstance(raw_steps, list):
            self.problem(("steps",), f"expected a list of steps, found {_found(raw_steps)}")
            return None
        return Workflow(key=key, name=name, steps=self.steps(raw_steps, ("steps",)), categories=tuple(categories))

    def read_text(self, file: Path, referrer: str = "") -> str | None:
        try:
            return file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            self.problems.append(f"{file}: the file is not UTF-8 text{referrer}")
        except OSError as exc:
            self.problems.append(f"{file}: cannot read the file: {exc.strerror}{referrer}")
        return None

    def read_json(self, file: Path, referrer: str = "") -> Any:
        """The parsed file, or _MISSING after recording why it could not be read."""
        text = self.read_text(file, referrer)
        if text is None:
            return _MISSING
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.problems.append(f"{file}:{exc.lineno}:{exc.colno}: broken JSON: {exc.msg}{referrer}")
        return _MISSING

    def resolve_file_refs(self, node: Any, directory: Path, base: str, level: int, path: PathKey) -> None:
        """Inline every ``x@`` file reference as ``x``, as the CLI's reader does before it pushes a workflow.

        Templates are not rendered, so the content itself goes unused; reading it catches the references
        `knock workflow push` would refuse (missing files, paths leaving the workflow directory, broken JSON).
        """
        if isinstance(node, list):
            for index, item in enumerate(node):
                self.resolve_file_refs(item, directory, base, level, (*path, index))
            return
        if not isinstance(node, dict):
            return
        for key, value in list(node.items()):
            if not (key.endswith(FILE_REF_MARKER) and len(key) > 1):
                self.resolve_file_refs(value, directory, base, level, (*path, key))
                continue
            field = key.removesuffix(FILE_REF_MARKER)
            if field in node:
                continue  # the CLI keeps inline content over a file reference
            node[field] = self.read_file_ref(value, directory, base, level, (*path, key))

    def read_file_ref(self, value: Any, directory: Path, base: str, level: int, path: PathKey) -> Any:
        # Paths inside an extracted file are relative to that file's directory, not the workflow's.
        relative = posixpath.normpath(posixpath.join(base, value)) if isinstance(value, str) else ""
        if (not isinstance(value, str) or not value or posixpath.isabs(value)
                or relative == ".." or relative.startswith("../")):
            self.problem(path, f"expected a relative path to a file inside the workflow directory, "
                               f"found {_found(value)}")
            return None
        file = directory / relative
        if not file.is_file():
            self.problem(path, f"expected a path to a file that exists, found {_found(value)} ({file} is missing)")
            return None
        referrer = f" (referenced by {self.file}: {format_path(path)})"
        if file.name.lower() != VISUAL_BLOCKS_JSON:
            return self.read_text(file, referrer)
        content = self.read_json(file, referrer)
        if content is _MISSING:
            return None
        if level < MAX_EXTRACTION_LEVEL:
            # Problems inside the file are reported at the inlined field's path, as the CLI reports them.
            inlined = (*path[:-1], str(path[-1]).removesuffix(FILE_REF_MARKER))
            self.resolve_file_refs(content, directory, posixpath.dirname(relative), level + 1, inlined)
        return content

    def steps(self, raw_steps: list[Any], path: PathKey) -> tuple[WorkflowStep, ...]:
        found = []
        for index, raw in enumerate(raw_steps):
            step = self.step(raw, (*path, index))
            if step is not None:
                found.append(step)
        return tuple(found)

    def step(self, raw: Any, path: PathKey) -> WorkflowStep | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a step object with ref and type, found {_found(raw)}")
            return None
        ref = self.ref(raw.get("ref", _MISSING), (*path, "ref"))
        step_type = raw.get("type", _MISSING)
        if not isinstance(step_type, str) or not step_type:
            known = ", ".join(SIMULATED_STEP_TYPES)
            self.problem((*path, "type"), f"expected the step's type ({known}, http_fetch, ...), "
                                          f"found {_found(step_type)}")
            return None
        label = ref or format_path(path)
        if step_type in PASSING_STEP_TYPES:
            skipped = " and none of its cohort branches' steps run" if step_type == "random_cohort" else ""
            self.note(label, step_type, f"is not simulated: it passes at once{skipped}")
            return PassStep(ref, step_type)
        if step_type != "channel" and raw.get("conditions"):
            self.note(label, step_type, "has conditions, which mockknock evaluates only on channel steps: "
                                        "the step always runs")
        if step_type == "channel":
            return self.channel_step(raw, path, ref, label)
        if step_type == "delay":
            return self.delay_step(raw, path, ref, label)
        if step_type == "batch":
            return self.batch_step(raw, path, ref, label)
        if step_type == "throttle":
            return self.throttle_step(raw, path, ref, label)
        if step_type == "branch":
            return self.branch_step(raw, path, ref)
        self.note(label, step_type, "has a type mockknock does not know: it passes at once")
        return PassStep(ref, step_type)

    def ref(self, raw: Any, path: PathKey) -> str:
        if not isinstance(raw, str) or not raw:
            self.problem(path, f"expected the step's ref (a key unique in the workflow, such as email_1), "
                               f"found {_found(raw)}")
            return ""
        first = self.refs.get(raw)
        if first is not None:
            self.problem(path, f"expected a ref unique in the workflow (branches included), found {_found(raw)}, "
                               f"which {format_path(first)} already uses")
        else:
            self.refs[raw] = path
        return raw

    def settings(self, raw: dict[str, Any], path: PathKey) -> dict[str, Any]:
        settings = raw.get("settings", _MISSING)
        if settings is _MISSING or settings is None:
            return {}
        if not isinstance(settings, dict):
            self.problem((*path, "settings"), f"expected a settings object, found {_found(settings)}")
            return {}
        return settings

    def channel_step(self, raw: dict[str, Any], path: PathKey, ref: str, label: str) -> ChannelStep | None:
        key = raw.get("channel_key")
        group = raw.get("channel_group_key")
        for field, value in (("channel_key", key), ("channel_group_key", group)):
            if value is not None and (not isinstance(value, str) or not value):
                self.problem((*path, field), f"expected a channel key string, found {_found(value)}")
                return None
        if key is not None and group is not None:
            self.problem((*path, "channel_group_key"), "expected channel_key or channel_group_key, not both; "
                                                       "found both")
            return None
        target = key if key is not None else group
        if target is None:
            self.problem((*path, "channel_key"), "expected channel_key (the channel to send through) or "
                                                 "channel_group_key, found neither")
            return None
        declared = self.channels.get(target)
        channel_type = self.channel_type(raw.get("channel_type", _MISSING), (*path, "channel_type"), declared)
        conditions = self.conditions(raw.get("conditions"), (*path, "conditions"))
        if channel_type is None or conditions is None:
            return None
        if declared is not None and declared.type is not channel_type:
            self.problem((*path, "channel_type"), f"expected {declared.type.value}, the type the scenario declares "
                                                  f"for channel {target!r}, found {_found(channel_type.value)}")
            return None
        if group is not None:
            self.note(label, "channel", f"sends to channel group {group!r}: mockknock sends it as one "
                                        f"{channel_type.value} channel keyed {group!r}")
        if raw.get("send_windows"):
            self.note(label, "channel", "has send windows, which are not simulated: it sends at once")
        channel = declared or make_channel(target, channel_type, DEFAULT_PROVIDERS[channel_type])
        return ChannelStep(ref, channel, conditions)

    def channel_type(self, raw: Any, path: PathKey, declared: Channel | None) -> ChannelType | None:
        if raw is _MISSING and declared is not None:
            return declared.type
        names = [t.value for t in ChannelType]
        if isinstance(raw, str) and raw in names:
            return ChannelType(raw)
        hint = _suggest(raw, names) if isinstance(raw, str) else ""
        self.problem(path, f"expected a channel type ({', '.join(names)}), found {_found(raw)}{hint}")
        return None

    def conditions(self, raw: Any, path: PathKey) -> Conditions | None:
        try:
            return parse_knock(raw)
        except ConditionError as exc:
            self.problem(path, str(exc))
            return None

    def duration(self, raw: Any, path: PathKey, label: str, step_type: str) -> int | None:
        if not isinstance(raw, dict):
            self.problem(path, f"expected a duration such as {DURATION_EXAMPLE}, found {_found(raw)}")
            return None
        unit = raw.get("unit", _MISSING)
        value = raw.get("value", _MISSING)
        valid = True
        if not isinstance(unit, str) or unit not in DURATION_UNITS_US:
            hint = _suggest(unit, DURATION_UNITS_US) if isinstance(unit, str) else ""
            self.problem((*path, "unit"), f"expected one of {', '.join(DURATION_UNITS_US)}, "
                                          f"found {_found(unit)}{hint}")
            valid = False
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.problem((*path, "value"), f"expected a whole number, 0 or more, found {_found(value)}")
            valid = False
        if not valid:
            return None
        if unit == "months":
            self.note(label, step_type, f"has a duration of {value} months, which mockknock reads as "
                                        f"{30 * value} days")
        return int(value) * DURATION_UNITS_US[unit]

    def window(self, settings: dict[str, Any], path: PathKey, names: tuple[str, str], label: str,
               step_type: str) -> int | None:
        """A step's fixed duration, or 0 with a note when only a field path (resolved per trigger) gives it."""
        duration_name, field_name = names
        raw = settings.get(duration_name)
        field_path = settings.get(field_name)
        if raw is None and not field_path:
            self.problem((*path, "settings", duration_name), f"expected a duration such as {DURATION_EXAMPLE} "
                                                             f"(or settings.{field_name}), found nothing")
            return None
        duration_us = 0 if raw is None else self.duration(raw, (*path, "settings", duration_name), label, step_type)
        if field_path:
            if not isinstance(field_path, str):
                self.problem((*path, "settings", field_name), f"expected a variable path such as "
                                                              f"data.send_at, found {_found(field_path)}")
                return None
            if duration_us is not None:
                rest = "0s" if raw is None else f"only {duration_name} ({format_duration(duration_us)})"
                self.note(label, step_type, f"takes its timing from {field_name} {field_path!r}, which is not "
                                            f"simulated: it uses {rest}")
        return duration_us

    def delay_step(self, raw: dict[str, Any], path: PathKey, ref: str, label: str) -> DelayStep | None:
        settings = self.settings(raw, path)
        duration_us = self.window(settings, path, ("delay_for", "delay_until_field_path"), label, "delay")
        return None if duration_us is None else DelayStep(ref, duration_us)

    def batch_step(self, raw: dict[str, Any], path: PathKey, ref: str, label: str) -> BatchStep | None:
        settings = self.settings(raw, path)
        window_us = self.window(settings, path, ("batch_window", "batch_until_field_path"), label, "batch")
        window_type = settings.get("batch_window_type")
        if window_type not in (None, "fixed", "sliding"):
            self.problem((*path, "settings", "batch_window_type"), f'expected "fixed" or "sliding", '
                                                                   f"found {_found(window_type)}")
            return None
        if settings.get("batch_execution_mode") == "flush_leading":
            self.note(label, "batch", "flushes its first item at once (flush_leading), which is not simulated: "
                                      "every item waits for the window")
        key = self.variable_key(settings.get("batch_key"), (*path, "settings", "batch_key"), label, "batch")
        if window_us is None:
            return None
        return BatchStep(ref, window_us, key, sliding=window_type == "sliding")

    def throttle_step(self, raw: dict[str, Any], path: PathKey, ref: str, label: str) -> ThrottleStep | None:
        settings = self.settings(raw, path)
        window_us = self.window(settings, path, ("throttle_window", "throttle_window_field_path"), label,
                                "throttle")
        limit = settings.get("throttle_limit")
        if limit is None:
            limit = 1  # MOAS: "Defaults to 1"
        elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            self.problem((*path, "settings", "throttle_limit"), f"expected a whole number, 1 or more, "
                                                                f"found {_found(limit)}")
            return None
        key = self.variable_key(settings.get("throttle_key"), (*path, "settings", "throttle_key"), label,
                                "throttle")
        if window_us is None:
            return None
        return ThrottleStep(ref, limit, window_us, key)

    def variable_key(self, raw: Any, path: PathKey, label: str, step_type: str) -> str | None:
        """A batch or throttle key as a variable path such as ``data.page_id``; None groups by recipient only.

        Knock resolves a bare key in the trigger's data (docs: "a configured batch key of event_type points
        to data.event_type"); MOAS examples write the full path (data.project_id); the docs also allow Liquid.
        """
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            self.problem(path, f"expected a data property such as page_id or data.page_id, found {_found(raw)}")
            return None
        text = raw.strip()
        liquid = _LIQUID_OUTPUT.fullmatch(text)
        if liquid is not None:
            text = liquid.group(1)
        if not _VARIABLE.fullmatch(text):
            self.note(label, step_type, f"has the key {raw!r}, a Liquid template mockknock does not render: "
                                        f"it groups by recipient only")
            return None
        head, dot, _ = text.partition(".")
        return text if dot and head in SCOPE_NAMESPACES else f"data.{text}"

    def branch_step(self, raw: dict[str, Any], path: PathKey, ref: str) -> BranchStep | None:
        raw_branches = raw.get("branches", _MISSING)
        if not isinstance(raw_branches, list):
            self.problem((*path, "branches"), f"expected a list of branches {{name, conditions, terminates, "
                                              f"steps}}, found {_found(raw_branches)}")
            return None
        branches = []
        for index, body in enumerate(raw_branches):
            branch = self.branch(body, (*path, "branches", index), index)
            if branch is not None:
                branches.append(branch)
        return BranchStep(ref, tuple(branches))

    def branch(self, body: Any, path: PathKey, index: int) -> Branch | None:
        if not isinstance(body, dict):
            self.problem(path, f"expected a branch {{name, conditions, terminates, steps}}, found {_found(body)}")
            return None
        name = body.get("name")
        if name is None:
            name = f"Branch {index + 1}"
        elif not isinstance(name, str):
            self.problem((*path, "name"), f"expected the branch's name as a string, found {_found(name)}")
        terminates = body.get("terminates")
        if terminates is None:
            terminates = False  # MOAS: "Defaults to false if not provided"
        elif not isinstance(terminates, bool):
            self.problem((*path, "terminates"), f"expected true or false, found {_found(terminates)}")
        raw_steps = body.get("steps")
        if raw_steps is None:
            raw_steps = []
        elif not isinstance(raw_steps, list):
            self.problem((*path, "steps"), f"expected a list of steps, found {_found(raw_steps)}")
            raw_steps = []
        conditions = self.conditions(body.get("conditions"), (*path, "conditions"))
        steps = self.steps(raw_steps, (*path, "steps"))
        if conditions is None or not isinstance(name, str) or not isinstance(terminates, bool):
            return None
        return Branch(name, conditions, steps, terminates)


def _without_readonly(value: Any) -> Any:
    # The CLI drops __readonly at every depth (omitDeep), not only at the top.
    if isinstance(value, dict):
        return {k: _without_readonly(v) for k, v in value.items() if k != READONLY_KEY}
    if isinstance(value, list):
        return [_without_readonly(v) for v in value]
    return value


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _found(value: Any) -> str:
    """A value as JSON names it, for "found ..." in a problem."""
    if value is _MISSING:
        return "nothing"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return json.dumps(value)
