"""schemas/scenario.schema.json and the scenario parser agree (no sockets).

Bundled scenarios pass both; broken documents fail both, and the parser says where (file:line:col and
YAML path) and what; generated corpora of lifecycle steps, durations and conditions, and random edits of
the bundled files, get the same verdict from the schema as from the parser (bar the documented
differences). The last two classes are bug reports: inputs the parser crashes on or wrongly refuses.
"""

from __future__ import annotations

import copy
import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mockknock import scenario_file, yaml_source
from mockknock.conditions import ConditionError, parse_compact
from mockknock.duration import DurationError, parse_duration
from mockknock.errors import ScenarioError
from mockknock.lifecycle import LifecycleError, parse_step
from mockknock.resources import scenarios_dir, schemas_dir
from mockknock.scenario_file import TOP_KEYS, load_scenario
from mockknock.schemas import SchemaRegistry

HEADER = "# yaml-language-server: $schema=../schemas/scenario.schema.json"
README = Path(__file__).resolve().parents[1] / "README.md"
SCENARIO_FILES = sorted(scenarios_dir().glob("*.yaml"))


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


@pytest.fixture(scope="module")
def fallback() -> SchemaRegistry:
    """The jsonschema-only fast path, which must agree with fastjsonschema."""
    return SchemaRegistry.load(backend="jsonschema")


def schema_verdict(registry: SchemaRegistry, fallback: SchemaRegistry, document: Any) -> bool:
    """Valid or not, after checking that all three validation paths agree."""
    full = registry.issues("scenario", document) == []
    assert registry.is_valid("scenario", document) is full, document
    assert fallback.is_valid("scenario", document) is full, document
    return full


def parse_text(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestSchemaFile:
    """The schema itself: where it lives, what it says about itself."""

    def test_registered_under_its_id(self, registry: SchemaRegistry) -> None:
        """schemas/scenario.schema.json loads with the others, with the advertised $id."""
        assert (schemas_dir() / "scenario.schema.json").is_file()
        schema = registry.schema("scenario")
        assert schema["$id"] == "https://mockknock.dev/schemas/scenario.schema.json"
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    def test_says_the_parser_is_the_authority(self, registry: SchemaRegistry) -> None:
        """The description sends readers to `mockknock validate` for the rules that span fields."""
        description = registry.schema("scenario")["description"]
        assert "mockknock validate" in description and "duplicate step refs" in description

    def test_every_property_has_a_title_and_description(self, registry: SchemaRegistry) -> None:
        """Editors show help for every key: each entry under `properties` has a title and a description."""
        missing: list[str] = []

        def walk(node: Any, pointer: str) -> None:
            if isinstance(node, dict):
                for name, sub in node.get("properties", {}).items():
                    if name and not (isinstance(sub, dict) and sub.get("title") and sub.get("description")):
                        missing.append(f"{pointer}/properties/{name}")
                for key, value in node.items():
                    walk(value, f"{pointer}/{key}")
            elif isinstance(node, list):
                for index, item in enumerate(node):
                    walk(item, f"{pointer}/{index}")

        walk(registry.schema("scenario"), "")
        # Shapes that exclude something (`not`) or switch between forms (`allOf`) name no key people type.
        missing = [m for m in missing if "/not/" not in m and "/allOf/" not in m]
        assert missing == []

    def test_top_level_keys_match_the_parser(self, registry: SchemaRegistry) -> None:
        """The schema's top-level properties are exactly the parser's TOP_KEYS."""
        assert sorted(registry.schema("scenario")["properties"]) == sorted(TOP_KEYS)


class TestBundledScenarios:
    """Every file in scenarios/ passes the schema and the parser, and points editors at the schema."""

    @pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
    def test_valid_against_the_schema(
        self, path: Path, registry: SchemaRegistry, fallback: SchemaRegistry
    ) -> None:
        """The YAML, as the parser reads it, has no schema issue."""
        document = yaml_source.load_file(path).data
        assert registry.issues("scenario", document) == []
        assert schema_verdict(registry, fallback, document)

    @pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
    def test_loads(self, path: Path) -> None:
        """load_scenario accepts it; its name is the file name."""
        assert load_scenario(path).name == path.stem

    @pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
    def test_header(self, path: Path) -> None:
        """First line: the README's yaml-language-server line; then a comment saying what it shows."""
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == HEADER
        comment = list(itertools.takewhile(lambda line: line.startswith("#"), lines[1:]))
        assert len([line for line in comment if line.strip("# ")]) >= 4, "explain what it shows and what an app sees"

    def test_readme_advertises_the_header(self) -> None:
        """The header line the bundled files use is the one the README shows."""
        assert HEADER in README.read_text(encoding="utf-8")

    def test_library_is_complete(self) -> None:
        """The ready scenarios the README's users are promised are all there."""
        expected = {
            "default", "happy-path-engagement", "email-bounces", "retries-then-undelivered", "sms-push-chat",
            "batch-digest", "branch-and-throttle", "sandbox-and-forced-outcomes", "recipient-run-events",
        }  # fmt: skip
        assert expected <= {p.stem for p in SCENARIO_FILES}


# ----------------------------------------------------------------------------- broken documents

BASE = """\
version: 1
name: broken
seed: 3
unknown_workflows: accept
channels:
  email: {type: email, provider: sendgrid}
workflows:
  w:
    steps:
      - {ref: first, channel: email}
      - {ref: wait, delay: 5m}
      - ref: gather
        batch: {window: 10m, key: data.thread_id, max_actors: 5}
      - ref: limit
        throttle: {limit: 2, window: 1h}
      - ref: route
        branch:
          - name: vip
            when: {data.tier: {in: [gold, platinum]}}
            steps:
              - {ref: vip_sms, channel: sms}
lifecycles:
  - match: {channel_type: email}
    outcomes:
      ok: {weight: 1, events: [sent, +2s delivered, +1m link_clicked(https://x.io)]}
      gone: {weight: 1, events: [delivery_attempted x2, undelivered(retries_exhausted)]}
rules:
  - when: {recipient.email: {contains: bounce}}
    outcome: ok
webhooks:
  endpoints: [http://127.0.0.1:9/hook]
  retry: {max_attempts: 3, base: 1s, jitter: 0.1}
script:
  - {at: 1m, workflow: w, recipients: [u1], every: 1m, count: 2}
outages:
  - {component: api, status: major_outage, start: 5m, duration: 22m}
"""


@dataclass(frozen=True)
class Broken:
    label: str
    old: str  # a unique piece of BASE ...
    new: str  # ... replaced by this
    where: str  # line:col the parser reports
    yaml_path: str
    says: str  # a fragment of what the parser says is wrong

    def text(self) -> str:
        assert BASE.count(self.old) == 1, f"{self.label}: {self.old!r} must occur once in BASE"
        return BASE.replace(self.old, self.new)


BROKEN = [
    Broken("unknown top-level key", "seed: 3\n", "seed: 3\nworkflow: {}\n", "4:11", "workflow",
           "unknown key 'workflow'; did you mean 'workflows'?"),
    Broken("bad channel type", "{type: email, provider", "{type: e-mail, provider", "6:17", "channels.email.type",
           "found 'e-mail'; did you mean 'email'?"),
    Broken("negative duration", "delay: 5m", "delay: -5s", "11:28", "workflows.w.steps[1].delay",
           "a duration cannot be negative, got '-5s'"),
    Broken("unknown lifecycle step", "+2s delivered", "+2s delivred", "25:38", "lifecycles[0].outcomes.ok.events[1]",
           "unknown lifecycle step 'delivred'; did you mean 'delivered'?"),
    Broken("weight not a number", "ok: {weight: 1", "ok: {weight: x", "25:20", "lifecycles[0].outcomes.ok.weight",
           "expected a number 0 or above, found 'x'"),
    Broken("step with both channel and delay", "{ref: first, channel: email}",
           "{ref: first, channel: email, delay: 5s}", "10:9", "workflows.w.steps[0]",
           "a step needs exactly one of channel, delay, batch, throttle, branch; found channel, delay"),
    Broken("misspelt step key", "{ref: first, channel: email}", "{ref: first, chanel: email}", "10:30",
           "workflows.w.steps[0].chanel", "unknown key 'chanel'; did you mean 'channel'?"),
    Broken("when on a delay step", "{ref: wait, delay: 5m}", "{ref: wait, delay: 5m, when: {data.x: 1}}", "11:38",
           "workflows.w.steps[1].when", "only channel steps take 'when'"),
    Broken("unknown condition operator", "{in: [gold, platinum]}", "{equls: gold}", "19:19",
           "workflows.w.steps[4].branch[0].when", "unknown operator 'equls'"),
    Broken("in without a list", "{in: [gold, platinum]}", "{in: gold}", "19:19",
           "workflows.w.steps[4].branch[0].when", "in takes a list, got 'gold'"),
    Broken("undelivered reason", "undelivered(retries_exhausted)", "undelivered(bounced)", "26:57",
           "lifecycles[0].outcomes.gone.events[1]", "failure_reason is one of fatal_error, retries_exhausted"),
    Broken("repeat of a non-attempt", "[sent, +2s", "[sent x2, +2s", "25:32", "lifecycles[0].outcomes.ok.events[0]",
           "only delivery_attempted can repeat (x2)"),
    Broken("link_clicked without a URL", "link_clicked(https://x.io)", "link_clicked(x.io)", "25:53",
           "lifecycles[0].outcomes.ok.events[2]", "the argument is the clicked URL"),
    Broken("zero batch window", "window: 10m", "window: 0s", "13:25", "workflows.w.steps[2].batch.window",
           "expected a duration above zero, found '0s'"),
    Broken("too many batch actors", "max_actors: 5", "max_actors: 11", "13:63", "workflows.w.steps[2].batch.max_actors",
           "expected 1 to 10"),
    Broken("throttle limit 0", "limit: 2", "limit: 0", "15:27", "workflows.w.steps[3].throttle.limit",
           "expected an integer of at least 1, found 0"),
    Broken("unknown_workflows value", "unknown_workflows: accept", "unknown_workflows: maybe", "4:20",
           "unknown_workflows", "expected 'accept' or 'reject', found 'maybe'"),
    Broken("lifecycle with events and outcomes", "    outcomes:\n      ok:",
           "    events: [sent]\n    outcomes:\n      ok:", "23:5", "lifecycles[0]",
           "give either 'events' (one outcome) or 'outcomes' (several), not both"),
    Broken("rule with outcome and events", "    outcome: ok\n", "    outcome: ok\n    events: [sent]\n", "28:5",
           "rules[0]", "a rule needs exactly one of 'outcome' (a name) or 'events' (a lifecycle)"),
    Broken("version 2", "version: 1", "version: 2", "1:10", "version", "reads scenario version 1, found 2"),
    Broken("seed not an integer", "seed: 3", "seed: abc", "3:7", "seed", "expected an integer, found a string 'abc'"),
    Broken("empty steps", "  w:\n", "  v:\n    steps: []\n  w:\n", "9:12", "workflows.v.steps",
           "expected a non-empty list of steps"),
    Broken("ftp endpoint", "http://127.0.0.1:9/hook", "ftp://127.0.0.1/hook", "31:15", "webhooks.endpoints[0]",
           "must be an absolute http(s) URL"),
    Broken("retry jitter above 1", "jitter: 0.1", "jitter: 2", "32:46", "webhooks.retry.jitter",
           "expected a fraction from 0 to 1, found 2"),
    Broken("outage status", "status: major_outage", "status: down", "36:30", "outages[0].status",
           "expected one of operational, degraded_performance"),
    Broken("repeated script call without every", "every: 1m, count: 2", "count: 2", "34:52", "script[0].count",
           "a repeated call needs 'every: <duration>'"),
]  # fmt: skip


class TestBrokenDocuments:
    """Each broken document is refused by the schema and by the parser, which names file:line:col and path."""

    def test_base_document_is_valid(self, tmp_path: Path, registry: SchemaRegistry, fallback: SchemaRegistry) -> None:
        """The document the cases break is itself accepted by both."""
        assert schema_verdict(registry, fallback, yaml_source.load(BASE, "base.yaml").data)
        load_scenario(parse_text(tmp_path, BASE))

    @pytest.mark.parametrize("case", BROKEN, ids=[c.label for c in BROKEN])
    def test_rejected_by_the_schema(self, case: Broken, registry: SchemaRegistry, fallback: SchemaRegistry) -> None:
        """Fast and full schema paths both refuse it."""
        assert not schema_verdict(registry, fallback, yaml_source.load(case.text(), "broken.yaml").data)

    @pytest.mark.parametrize("case", BROKEN, ids=[c.label for c in BROKEN])
    def test_rejected_by_the_parser_with_its_place(self, case: Broken, tmp_path: Path) -> None:
        """The ScenarioError names file:line:col, the YAML path, and what was wrong."""
        path = parse_text(tmp_path, case.text(), "broken.yaml")
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        text = str(caught.value)
        assert text.startswith(f"{path}: ")
        assert f"{path}:{case.where}: {case.yaml_path}: " in text, text
        assert case.says in text, text


# ----------------------------------------------------------------------------- corpora


def _parses(parse: Any, error: type[Exception], value: Any) -> bool:
    try:
        parse(value)
    except error:
        return False
    return True


def _attempt_argument_is_unusable(text: str) -> bool:
    """delivery_attempted(ARG) with ARG not a whole number above 0: the schema refuses what the engine cannot run."""
    if "delivery_attempted(" not in text:
        return False
    argument = text.split("delivery_attempted(", 1)[1].split(")", 1)[0].strip()
    return argument != "" and not (argument.lstrip("+").isdigit() and int(argument) > 0)


STEP_PREFIXES = ["", "+2s ", "+2s~1s ", "+1m30s  ", "+0 ", "+1.5 ", "+.5s ", "+2s~ ", "+2s~1x ", " +2s\t", "+2 s ",
                 "+1m30 ", "+-1s "]
STEP_NAMES = ["sent", "delivered", "delivery_attempted", "undelivered", "bounced", "not_sent", "seen", "unseen",
              "read", "unread", "archived", "unarchived", "interacted", "link_clicked", "delivred", "Sent"]
STEP_ARGUMENTS = [None, "", " ", "fatal_error", " retries_exhausted ", "hard_bounce", "https://x.io", "x.io", "5",
                  " 5 ", "0", "abc", "+5"]
STEP_REPEATS = ["", " x1", " x01", " x3", " x0", "x3", "  x2 "]
DURATIONS = ["0", "5", "1.5", "500ms", "2s", "1m30s", "1.5d", "1 m 30 s", " 2s ", "1m 5", "-5s", "5 ms", "5m s",
             "1h1h", "2sec", "1,5s", ".5s", "5.s", "", " ", "1\ts", "10us", "s", "1e3", "0s", "0.0s"]
CONDITIONS: list[Any] = [
    {"data.priority": "high"}, {"data.n": 3}, {"data.flag": None}, {"data.tags": ["a"]},
    {"recipient.email": {"contains": "bounce"}}, {"data.n": {"gt": 2}}, {"data.n": {"gte": 2}},
    {"data.x": {"exists": True}}, {"data.x": {"exists": False}}, {"data.x": {"empty": True}},
    {"data.p": {"in": ["a", "b"]}}, {"data.p": {"not_in": []}}, {"data.p": {"in": "a"}},
    {"data.p": {"not_in": {"a": 1}}}, {"data.p": {"equls": "a"}}, {"data.p": {}},
    {"data.p": {"gt": 1, "lt": 3}}, {"": 1}, {}, {"any": []}, {"any": "x"}, {"any": [{"data.a": 1}]},
    {"any": [{"data.a": 1}, {"data.b": {"lt": 2}}]}, {"any": [{}]}, {"any": [{"data.a": {"bogus": 1}}]},
    {"any": [{"any": [{"data.a": 1}]}]}, {"any": [1]}, {"any": [{"data.a": 1}], "data.b": 2},
    {"data.a": {"equals": [1, 2]}}, {"data.a": {"not_equals": {"x": 1}}}, {"workflow": "w"},
]  # fmt: skip


def _lifecycle(step: str) -> dict[str, Any]:
    return {"lifecycles": [{"outcomes": {"o": {"events": [step]}}}]}


class TestSchemaMatchesParser:
    """Generated inputs get the same verdict from the schema's patterns as from the parser."""

    def test_lifecycle_steps(self, registry: SchemaRegistry) -> None:
        """parse_step and the lifecycle_step pattern agree, bar the documented delivery_attempted(ARG) case."""
        disagreements = []
        accepted = 0
        corpus = itertools.product(STEP_PREFIXES, STEP_NAMES, STEP_ARGUMENTS, STEP_REPEATS)
        for prefix, name, argument, repeat in corpus:
            text = prefix + name + ("" if argument is None else f"({argument})") + repeat
            expected = _parses(parse_step, LifecycleError, text) and not _attempt_argument_is_unusable(text)
            accepted += expected
            if registry.is_valid("scenario", _lifecycle(text)) is not expected:
                disagreements.append((text, expected))
        assert disagreements == []
        assert accepted > 500

    def test_durations(self, registry: SchemaRegistry, fallback: SchemaRegistry) -> None:
        """parse_duration and the duration schema agree on strings and numbers."""
        values: list[Any] = [*DURATIONS, *(a + b for a, b in itertools.product(DURATIONS[:14], DURATIONS[:14])),
                             0, 5, 2.5, -1, -0.5, True]
        for value in values:
            expected = _parses(parse_duration, DurationError, value)
            document = {"workflows": {"w": {"steps": [{"delay": value}]}}}
            assert schema_verdict(registry, fallback, document) is expected, value

    def test_positive_durations(self, registry: SchemaRegistry, fallback: SchemaRegistry) -> None:
        """A batch window must parse and be above zero, in both."""
        windows: list[str | float] = ["10m", "0s", "0", 0, 0.5, "0.5s", "00", "0m0s", "1us", -1, "-1s"]
        for value in windows:
            expected = _parses(parse_duration, DurationError, value) and parse_duration(value) > 0
            document = {"workflows": {"w": {"steps": [{"batch": {"window": value}}, {"channel": "email"}]}}}
            assert schema_verdict(registry, fallback, document) is expected, value

    @pytest.mark.parametrize("when", CONDITIONS, ids=[repr(c) for c in CONDITIONS])
    def test_conditions(self, when: Any, registry: SchemaRegistry, fallback: SchemaRegistry) -> None:
        """parse_compact and the conditions schema agree, on rules and on channel steps."""
        expected = _parses(parse_compact, ConditionError, when)
        rule = {"rules": [{"when": when, "events": ["sent"]}]}
        step = {"workflows": {"w": {"steps": [{"channel": "email", "when": when}]}}}
        assert schema_verdict(registry, fallback, rule) is expected
        assert schema_verdict(registry, fallback, step) is expected

    def test_tricky_valid_document(self, tmp_path: Path, registry: SchemaRegistry, fallback: SchemaRegistry) -> None:
        """Defaults, nulls the parser allows, nested branches, aliases and every optional key pass both."""
        text = """\
name: ~
description: ~
seed: ~
recipient_run_events: ~
workflows_dir: ~
channels:
  mail: {type: email}
  fcm: {type: push, provider: fcm, name: ~}
workflows:
  deep:
    name: 2024
    description: free text
    categories: []
    steps:
      - {ref: ~, channel: mail, when: {any: [{data.a: {gte: 1}}, {recipient.email: {not_contains: x}}]}}
      - {delay: 90}
      - {delay: "1 m 30 s"}
      - {throttle: {limit: 1, window: 1.5, key: ~}}
      - batch: {window: 0.5s, key: ~, sliding: true, max_actors: 1}
      - branch:
          - name: outer
            when: {data.level: {exists: true}}
            terminates: false
            steps:
              - ref: middle
                branch:
                  - steps:
                      - ref: inner
                        branch:
                          - steps: [{channel: sms}]
          - steps: [{channel: in-app}]
default_workflow:
  steps: [{channel: in_app_feed}]
lifecycles:
  - events: [sent, delivered]
  - match: {workflow: deep, channel: fcm, provider: fcm, channel_type: push}
    outcomes:
      quiet: {events: ["+500ms sent"]}
      stale: {weight: 0.5, events: [sent, "+1s bounced()"]}
  - match: {channel_type: email}
    events: ["delivery_attempted() x2", "+1m delivery_attempted(+8)", sent, delivered, seen, unseen, read, unread,
             archived, unarchived, interacted, "link_clicked", "+2s~1s link_clicked( https://x.io/a )"]
rules:
  - {when: {data.force: gone}, channel_type: push, events: [sent, "bounced(invalid_token)"]}
  - {when: {any: [{any: [{data.x: 1}]}]}, outcome: quiet}
webhooks:
  endpoints:
    - " HTTP://localhost:1/a|message.*"
    - {url: "https://example.com/h", events: [message.sent], note: ignored}
    - {url: "http://x/h", events: ~}
  retry: {max_attempts: ~, base: 0, cap: 15m, jitter: ~, timeout: 2s}
script:
  - {workflow: deep, recipients: {fake: 3}, data: {who: {fake: name}}}
  - {at: 0s, workflow: deep, cancel: true, cancellation_key: k}
  - {workflow: deep, recipients: [u1], cancel: false, count: 1}
outages:
  - {component: sendgrid, status: degraded_performance, duration: 1h, name: Slow mail,
     effect: {latency: "2s~", retry_after: 5, statuses: [503], fraction: 0.5, accepted_fraction: 0, kind: latency}}
  - {component: fcm, status: partial_outage, start: 0, duration: 5m, effect: fail}
  - {component: api, status: operational, duration: 1s, effect: ~}
"""
        path = parse_text(tmp_path, text)
        load_scenario(path)
        assert registry.issues("scenario", yaml_source.load_file(path).data) == []
        assert schema_verdict(registry, fallback, yaml_source.load_file(path).data)


# Parser problems that span fields (or need the engine's vocabulary), which the schema leaves to the parser.
CROSS_FIELD = re.compile(
    r"unknown channel|no lifecycle has an outcome|cannot go back|is already|bounces only after|nothing can follow|"
    r"never pass|engagement needs|refs must be unique|weights sum to zero|component: expected one of|"
    r"matches no Knock event type|not_sent \(sandbox mode\)|delivered message cannot|no workflow .* in this scenario|"
    r"unknown fake value"
)
# Where the schema is stricter on purpose (see its $comment): names that are not text, version true, outcome null.
STRICTER = re.compile(r"\.name$|^name$|^version$|^rules\[\d+\]\.outcome$")
MUTATIONS: list[Any] = [
    None, 0, 1, -1, 1.5, True, False, "", "x", "5m", "-5s", "0s", "email", "sent", "+2s delivered", "accept", [],
    ["x"], ["sent"], {}, {"x": 1}, {"type": "email"}, {"data.x": 1}, {"window": "10m"}, 11, 0.5,
    "https://x.io/h", "major_outage", "api", "delivery_attempted(5) x2", {"fake": 3}, [{"channel": "email"}],
]  # fmt: skip
MUTATION_KEYS = ["name", "when", "ref", "events", "outcome", "weight", "channel", "delay", "window", "key", "limit",
                 "every", "count", "x", "type", "provider", "any", "sliding", "max_actors", "terminates", "effect"]


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, index))


def _mutate(document: Any, rng: random.Random) -> Any:
    """Replace a value, drop a key, add a key, or drop a list item, somewhere in a copy of ``document``."""
    document = copy.deepcopy(document)
    path, node = rng.choice(list(_nodes(document)))
    roll = rng.random()
    if roll < 0.6 and path:
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = copy.deepcopy(rng.choice(MUTATIONS))
    elif roll < 0.8 and isinstance(node, dict) and node:
        del node[rng.choice(list(node))]
    elif isinstance(node, dict):
        node[rng.choice(MUTATION_KEYS)] = copy.deepcopy(rng.choice(MUTATIONS))
    elif isinstance(node, list) and node:
        node.pop(rng.randrange(len(node)))
    return document


class TestMutatedDocuments:
    """Random edits of the bundled scenarios: the schema refuses exactly what the parser refuses on shape."""

    def test_schema_and_parser_agree(self, tmp_path: Path, registry: SchemaRegistry) -> None:
        """Schema-valid edits fail the parser only on cross-field rules; parser-valid ones fail the schema only
        where it is stricter on purpose. (Edits that crash the parser are left to the bug tests below.)"""
        rng = random.Random(20260101)
        originals = [yaml_source.load_file(p).data for p in SCENARIO_FILES]
        originals.append(yaml_source.load(BASE, "base.yaml").data)
        verdicts: dict[tuple[bool, bool], int] = {}
        for _ in range(1000):
            document = _mutate(rng.choice(originals), rng)
            if rng.random() < 0.3:
                document = _mutate(document, rng)
            valid = registry.is_valid("scenario", document)
            try:
                # load_scenario minus the YAML step (writing and composing 1000 files costs ~15 s).
                scenario_file._Parser(yaml_source.Located("mutated.yaml", document, {}), tmp_path).scenario()
            except ScenarioError as exc:
                problems = str(exc).splitlines()[1:]
                if valid:
                    assert all(CROSS_FIELD.search(p) for p in problems), (document, problems)
                accepted = False
            except Exception:  # a parser crash: reported by TestParserRejectsWhatTheEngineCannotRun
                continue
            else:
                accepted = True
                if not valid:
                    fields = [issue.field for issue in registry.issues("scenario", document)]
                    assert all(STRICTER.search(f) for f in fields), (document, fields)
            verdicts[valid, accepted] = verdicts.get((valid, accepted), 0) + 1
        assert min(verdicts.get((True, True), 0), verdicts.get((False, False), 0)) > 150, verdicts


# ----------------------------------------------------------------------------- parser bugs
# These tests fail against the parser as it stands: each one is a bug report (see the docstrings).

STEP_DOC = "workflows:\n  w:\n    steps:\n      - {channel: email}\n      - %s\n"


class TestParserRejectsWhatTheEngineCannotRun:
    """Values the schema refuses because the engine breaks on them; the parser must refuse them too, with a place."""

    @pytest.mark.parametrize(
        "step",
        ["{delay: ~}", "{delay: [5]}", "{batch: {key: data.x}}", "{throttle: {limit: 1, window: {a: 1}}}"],
    )
    def test_non_text_durations_are_located_errors(self, step: str, tmp_path: Path) -> None:
        """A missing or non-text duration is a ScenarioError naming its place, not an AttributeError."""
        path = parse_text(tmp_path, STEP_DOC % step)
        with pytest.raises(ScenarioError, match=rf"{path}:5:\d+: workflows\.w\.steps\[1\]"):
            load_scenario(path)

    @pytest.mark.parametrize("top", ["webhooks: {retry: {base: ~}}", "script: [{at: ~, workflow: w, recipients: [u]}]",
                                     "outages: [{component: api, status: major_outage, duration: [1]}]"])
    def test_other_non_text_durations_are_located_errors(self, top: str, tmp_path: Path) -> None:
        """The same for retry waits, script times and outage windows."""
        path = parse_text(tmp_path, top + "\n")
        with pytest.raises(ScenarioError, match=rf"{path}:1:\d+: "):
            load_scenario(path)

    @pytest.mark.parametrize("step", ["delivery_attempted(abc)", "delivery_attempted(0)"])
    def test_attempt_argument_must_be_a_whole_number_above_zero(self, step: str, tmp_path: Path) -> None:
        """delivery_attempted(abc) crashes the engine (int('abc')); (0) emits max_attempts 0, which fails its schema."""
        text = f'lifecycles:\n  - match: {{channel_type: email}}\n    events: ["{step}", sent]\n'
        path = parse_text(tmp_path, text)
        with pytest.raises(ScenarioError, match=r"lifecycles\[0\]\.events\[0\]"):
            load_scenario(path)

    def test_non_text_match_channel_is_a_located_error(self, tmp_path: Path) -> None:
        """lifecycles[].match.channel: {a: 1} is reported, then used as a dict key: TypeError (unhashable)."""
        path = parse_text(tmp_path, "lifecycles:\n  - match: {channel: {a: 1}}\n    events: [sent]\n")
        with pytest.raises(ScenarioError, match=r":2:\d+: lifecycles\[0\]\.match\.channel"):
            load_scenario(path)

    def test_channel_name_must_be_text(self, tmp_path: Path) -> None:
        """channels.x.name: 5 puts a number in channel.name, and every webhook of that channel fails its schema."""
        path = parse_text(tmp_path, "channels:\n  mail: {type: email, name: 5}\n")
        with pytest.raises(ScenarioError, match=r":2:\d+: channels\.mail\.name"):
            load_scenario(path)


class TestParserAcceptsWhatTheSchemaAccepts:
    """Documents the schema accepts that the parser must accept too."""

    def test_default_refs_do_not_collide(self, tmp_path: Path) -> None:
        """Steps without refs get defaults; two branches that each start with an sms step must not clash."""
        text = (
            "workflows:\n  w:\n    steps:\n      - branch:\n"
            "          - {when: {data.vip: true}, steps: [{channel: sms}]}\n"
            "          - {steps: [{channel: sms}]}\n"
        )
        load_scenario(parse_text(tmp_path, text))
