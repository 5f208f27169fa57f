"""Knock CLI project directories to scenario workflows: layouts, step records, notes and precise problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockknock.conditions import Condition, Conditions, Operator
from mockknock.errors import ScenarioError
from mockknock.knock_project import KnockProject, load_knock_project
from mockknock.model import Channel, ChannelType
from mockknock.scenario import (
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

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = FIXTURES / "knock_project"
KNOCK_DIR = PROJECT / "knock"
WORKFLOWS = KNOCK_DIR / "workflows"
BROKEN = FIXTURES / "knock_project_broken"
BAD_STEPS = f"{BROKEN}/workflows/bad-steps/workflow.json"

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# What a scenario would declare: these keys get the scenario's providers, every other key the type default.
CHANNELS: dict[str, Channel] = {
    "postmark": make_channel("postmark", ChannelType.EMAIL, "postmark"),
    "twilio": make_channel("twilio", ChannelType.SMS, "twilio", "Twilio SMS"),
}


@pytest.fixture(scope="module")
def project() -> KnockProject:
    return load_knock_project(PROJECT, CHANNELS)


@pytest.fixture(scope="module")
def broken() -> list[str]:
    return _problems(BROKEN)


def _problems(path: Path, channels: dict[str, Channel] | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_knock_project(path, channels or {})
    return str(info.value).splitlines()


def _write_workflow(root: Path, steps: list[Any], files: dict[str, str] | None = None) -> Path:
    """A one-workflow project ``root/workflows/wf``; returns the workflow.json path."""
    directory = root / "workflows" / "wf"
    directory.mkdir(parents=True)
    file = directory / "workflow.json"
    file.write_text(json.dumps({"name": "WF", "steps": steps}), encoding="utf-8")
    for relative, text in (files or {}).items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(text, encoding="utf-8")
    return file


def _steps(root: Path, channels: dict[str, Channel] | None = None) -> tuple[WorkflowStep, ...]:
    return load_knock_project(root, channels or {}).workflows["wf"].steps


def _delay(settings: dict[str, Any], ref: str = "delay_1") -> dict[str, Any]:
    return {"ref": ref, "type": "delay", "settings": settings}


def _batch(settings: dict[str, Any]) -> dict[str, Any]:
    return {"ref": "batch_1", "type": "batch", "settings": {"batch_window": {"unit": "minutes", "value": 1},
                                                            **settings}}


def _channel(**fields: Any) -> dict[str, Any]:
    return {"ref": "step_1", "type": "channel", "template": {"text_body": "hi"}, **fields}


class TestLayouts:
    """Which directories load_knock_project accepts, and what it says when it finds nothing."""

    def test_project_root_follows_knock_json(self, project: KnockProject) -> None:
        """A project root's knock.json names the knock dir; every workflow dir under it loads, by name."""
        assert list(project.workflows) == ["batched-comments", "escalation", "new-comment"]

    def test_knock_dir(self, project: KnockProject) -> None:
        """The knock dir itself (holding workflows/) gives the same workflows."""
        assert load_knock_project(KNOCK_DIR, CHANNELS) == project

    def test_workflows_dir(self, project: KnockProject) -> None:
        """The workflows dir itself (children are workflow dirs) gives the same workflows."""
        assert load_knock_project(WORKFLOWS, CHANNELS) == project

    def test_single_workflow_dir(self, project: KnockProject) -> None:
        """One workflow dir loads as that one workflow, keyed by the directory's name."""
        single = load_knock_project(WORKFLOWS / "escalation", CHANNELS)
        assert single.workflows == {"escalation": project.workflows["escalation"]}

    def test_knock_dir_is_relative_to_knock_json(self, tmp_path: Path) -> None:
        """knockDir resolves against knock.json's directory, whatever the working directory is."""
        (tmp_path / "knock.json").write_text('{"knockDir": "./notifications"}', encoding="utf-8")
        _write_workflow(tmp_path / "notifications", [_delay({"delay_for": {"unit": "seconds", "value": 1}})])
        assert list(load_knock_project(tmp_path, {}).workflows) == ["wf"]

    def test_directories_without_workflow_json_are_skipped(self, tmp_path: Path) -> None:
        """Only directories holding workflow.json are workflows, as in the CLI."""
        _write_workflow(tmp_path, [])
        (tmp_path / "workflows" / "drafts").mkdir()
        (tmp_path / "workflows" / "README.md").write_text("notes", encoding="utf-8")
        assert list(load_knock_project(tmp_path, {}).workflows) == ["wf"]

    def test_missing_directory(self, tmp_path: Path) -> None:
        """A path that does not exist is named in the error."""
        missing = tmp_path / "nope"
        assert _problems(missing) == [f"workflows directory {missing} does not exist"]

    def test_no_workflows(self, tmp_path: Path) -> None:
        """A directory with nothing Knock-shaped in it says what was looked for."""
        assert _problems(tmp_path) == [
            f"no Knock workflows found in {tmp_path}: looked for knock.json, workflows/<key>/workflow.json "
            "and <key>/workflow.json"
        ]

    def test_empty_workflows_dir(self, tmp_path: Path) -> None:
        """A workflows dir with no workflow in it says what it expected there."""
        (tmp_path / "workflows").mkdir()
        assert _problems(tmp_path) == [
            f"no Knock workflows found in {tmp_path / 'workflows'}: expected <key>/workflow.json in it"
        ]

    def test_knock_json_without_knock_dir(self, tmp_path: Path) -> None:
        """knock.json must name the knock dir."""
        (tmp_path / "knock.json").write_text("{}", encoding="utf-8")
        assert _problems(tmp_path) == [
            f'{tmp_path / "knock.json"}: knockDir: expected the knock directory\'s path, such as "./knock", '
            "found nothing"
        ]

    def test_knock_dir_missing(self, tmp_path: Path) -> None:
        """A knockDir pointing nowhere is an error, as in the CLI."""
        (tmp_path / "knock.json").write_text('{"knockDir": "./knock"}', encoding="utf-8")
        assert _problems(tmp_path) == [
            f"{tmp_path / 'knock.json'}: knockDir: {tmp_path / 'knock'} does not exist or is not a directory"
        ]

    def test_knock_dir_without_workflows(self, tmp_path: Path) -> None:
        """A knock dir with no workflows/ in it says where it looked."""
        (tmp_path / "knock.json").write_text('{"knockDir": "./knock"}', encoding="utf-8")
        (tmp_path / "knock").mkdir()
        assert _problems(tmp_path) == [
            f"no Knock workflows found: {tmp_path / 'knock.json'} sets knockDir to {tmp_path / 'knock'}, which "
            f"has no workflows directory (expected {tmp_path / 'knock' / 'workflows'}/<key>/workflow.json)"
        ]

    def test_broken_knock_json(self, tmp_path: Path) -> None:
        """Broken JSON in knock.json is reported with its line and column."""
        (tmp_path / "knock.json").write_text('{\n  "knockDir": \n}', encoding="utf-8")
        assert _problems(tmp_path) == [f"{tmp_path / 'knock.json'}:3:1: broken JSON: Expecting value"]


class TestFixtureWorkflows:
    """The sample project's workflows, step by step."""

    def test_new_comment(self, project: KnockProject) -> None:
        """Feed, a 5-minute delay, then an email with a condition, through the scenario's postmark channel."""
        assert project.workflows["new-comment"] == Workflow(
            key="new-comment",
            name="New comment",
            steps=(
                ChannelStep("in_app_feed_1", make_channel("in-app-feed", ChannelType.IN_APP_FEED, "knock")),
                DelayStep("delay_1", 5 * MINUTE),
                ChannelStep(
                    "email_1",
                    CHANNELS["postmark"],
                    Conditions((Condition("recipient.comment_emails", Operator.NOT_EQUAL_TO, "never"),), "all"),
                ),
            ),
            categories=("comments",),
        )

    def test_batched_comments(self, project: KnockProject) -> None:
        """A fixed 5-minute batch keyed by data.content_id, then feed, a 90 s delay and a default-provider email."""
        assert project.workflows["batched-comments"] == Workflow(
            key="batched-comments",
            name="Batched comments",
            steps=(
                BatchStep("batch_comments", 5 * MINUTE, key="data.content_id", sliding=False),
                ChannelStep("in_app_1", make_channel("in-app", ChannelType.IN_APP_FEED, "knock")),
                DelayStep("delay_digest", 90 * SECOND),
                ChannelStep("email_1", make_channel("knock-email", ChannelType.EMAIL, "sendgrid")),
            ),
            categories=("engagement", "comments"),
        )

    def test_escalation(self, project: KnockProject) -> None:
        """Fetch, a three-way branch (throttle, SMS, push / delay, chat group / nothing), email, trigger_workflow."""
        critical = Branch(
            "Critical",
            Conditions((Condition("data.priority", Operator.EQUAL_TO, "critical"),), "all"),
            (
                ThrottleStep("throttle_critical", limit=3, window_us=HOUR, key="data.incident_id"),
                ChannelStep(
                    "sms_oncall",
                    CHANNELS["twilio"],
                    Conditions((Condition("recipient.phone_number", Operator.EXISTS),), "all"),
                ),
                ChannelStep("push_critical", make_channel("apns-prod", ChannelType.PUSH, "apns")),
            ),
            terminates=True,
        )
        high = Branch(
            "High",
            Conditions(
                (
                    Condition("data.priority", Operator.EQUAL_TO, "high"),
                    Condition("data.customer_tier", Operator.EQUAL_TO, "enterprise"),
                ),
                "any",
            ),
            (
                DelayStep("delay_high", 30 * SECOND),
                ChannelStep("chat_team", make_channel("team-chat", ChannelType.CHAT, "slack")),
            ),
        )
        assert project.workflows["escalation"] == Workflow(
            key="escalation",
            name="Incident escalation",
            steps=(
                PassStep("fetch_oncall", "http_fetch"),
                BranchStep("route_by_priority", (critical, high, Branch("Default", Conditions(), ()))),
                ChannelStep("email_summary", CHANNELS["postmark"]),
                PassStep("trigger_followup", "trigger_workflow"),
            ),
            categories=("incidents",),
        )

    def test_declared_channel_is_used_as_is(self, project: KnockProject) -> None:
        """A channel_key the scenario declares sends through that very channel, name and provider included."""
        step = project.workflows["new-comment"].steps[2]
        assert isinstance(step, ChannelStep)
        assert step.channel is CHANNELS["postmark"]

    def test_notes(self, project: KnockProject) -> None:
        """Steps not simulated and channel groups are noted, naming the file, the ref and the type."""
        escalation = f"{WORKFLOWS}/escalation/workflow.json"
        assert project.notes == (
            f"{escalation}: step fetch_oncall (http_fetch) is not simulated: it passes at once",
            f"{escalation}: step chat_team (channel) sends to channel group 'team-chat': mockknock sends it as "
            "one chat channel keyed 'team-chat'",
            f"{escalation}: step trigger_followup (trigger_workflow) is not simulated: it passes at once",
        )


class TestStepSettings:
    """How each Knock step setting maps onto the scenario's step records."""

    @pytest.mark.parametrize(
        ("unit", "expected_us"),
        [("seconds", SECOND), ("minutes", MINUTE), ("hours", HOUR), ("days", DAY), ("weeks", 7 * DAY)],
    )
    def test_duration_units(self, tmp_path: Path, unit: str, expected_us: int) -> None:
        """Every Knock duration unit converts to microseconds."""
        _write_workflow(tmp_path, [_delay({"delay_for": {"unit": unit, "value": 3}})])
        assert _steps(tmp_path) == (DelayStep("delay_1", 3 * expected_us),)

    def test_months_read_as_30_days(self, tmp_path: Path) -> None:
        """MOAS allows months; mockknock reads one as 30 days and says so."""
        file = _write_workflow(tmp_path, [_delay({"delay_for": {"unit": "months", "value": 2}})])
        loaded = load_knock_project(tmp_path, {})
        assert loaded.workflows["wf"].steps == (DelayStep("delay_1", 60 * DAY),)
        assert loaded.notes == (
            f"{file}: step delay_1 (delay) has a duration of 2 months, which mockknock reads as 60 days",
        )

    def test_delay_until_field_path_delays_zero(self, tmp_path: Path) -> None:
        """A delay read from the trigger is not simulated: the step delays 0, with a note."""
        file = _write_workflow(tmp_path, [_delay({"delay_until_field_path": "data.send_at"})])
        loaded = load_knock_project(tmp_path, {})
        assert loaded.workflows["wf"].steps == (DelayStep("delay_1", 0),)
        assert loaded.notes == (
            f"{file}: step delay_1 (delay) takes its timing from delay_until_field_path 'data.send_at', "
            "which is not simulated: it uses 0s",
        )

    def test_delay_for_offsets_a_field_path(self, tmp_path: Path) -> None:
        """With both, delay_for (an offset from the field) is what the step waits."""
        settings = {"delay_for": {"unit": "minutes", "value": 10}, "delay_until_field_path": "data.due_at"}
        file = _write_workflow(tmp_path, [_delay(settings)])
        loaded = load_knock_project(tmp_path, {})
        assert loaded.workflows["wf"].steps == (DelayStep("delay_1", 10 * MINUTE),)
        assert loaded.notes == (
            f"{file}: step delay_1 (delay) takes its timing from delay_until_field_path 'data.due_at', "
            "which is not simulated: it uses only delay_for (10m)",
        )

    @pytest.mark.parametrize(
        ("batch_key", "expected"),
        [
            ("page_id", "data.page_id"),
            ("data.page_id", "data.page_id"),
            ("comment.thread.id", "data.comment.thread.id"),
            ("recipient.team_id", "recipient.team_id"),
            ("{{ data.page_id }}", "data.page_id"),
            ("{{actor.id}}", "actor.id"),
            ("", None),
            (None, None),
        ],
    )
    def test_batch_key_is_a_trigger_data_property(self, tmp_path: Path, batch_key: str | None,
                                                  expected: str | None) -> None:
        """A bare batch key names a property of the trigger's data; a scoped path or one Liquid variable stays."""
        _write_workflow(tmp_path, [_batch({"batch_key": batch_key})])
        assert _steps(tmp_path) == (BatchStep("batch_1", MINUTE, key=expected),)

    def test_liquid_batch_key_groups_by_recipient(self, tmp_path: Path) -> None:
        """A Liquid template key is not rendered: the batch groups by recipient only, with a note."""
        file = _write_workflow(tmp_path, [_batch({"batch_key": "{{ data.type }}-{{ actor.id }}"})])
        loaded = load_knock_project(tmp_path, {})
        assert loaded.workflows["wf"].steps == (BatchStep("batch_1", MINUTE, key=None),)
        assert loaded.notes == (
            f"{file}: step batch_1 (batch) has the key '{{{{ data.type }}}}-{{{{ actor.id }}}}', a Liquid "
            "template mockknock does not render: it groups by recipient only",
        )

    def test_sliding_batch_window(self, tmp_path: Path) -> None:
        """batch_window_type sliding extends the window on each trigger; extension and item limits are ignored."""
        settings = {"batch_window_type": "sliding", "batch_items_max_limit": 50,
                    "batch_window_extension_limit": {"unit": "hours", "value": 1}}
        _write_workflow(tmp_path, [_batch(settings)])
        loaded = load_knock_project(tmp_path, {})
        assert loaded.workflows["wf"].steps == (BatchStep("batch_1", MINUTE, sliding=True),)
        assert loaded.notes == ()

    def test_throttle_limit_defaults_to_one(self, tmp_path: Path) -> None:
        """Without throttle_limit a throttle lets one run through per window, as MOAS documents."""
        _write_workflow(tmp_path, [{"ref": "throttle_1", "type": "throttle",
                                    "settings": {"throttle_window": {"unit": "days", "value": 1}}}])
        assert _steps(tmp_path) == (ThrottleStep("throttle_1", limit=1, window_us=DAY),)

    def test_channel_type_from_declared_channel(self, tmp_path: Path) -> None:
        """A step without channel_type takes the type of the scenario channel it names."""
        _write_workflow(tmp_path, [_channel(channel_key="twilio")])
        assert _steps(tmp_path, CHANNELS) == (ChannelStep("step_1", CHANNELS["twilio"]),)

    def test_other_step_types_pass(self, tmp_path: Path) -> None:
        """Every step type mockknock does not simulate passes at once, each with a note."""
        file = _write_workflow(tmp_path, [
            {"ref": "cohort", "type": "random_cohort", "cohort_branches": []},
            {"ref": "update", "type": "update_user", "settings": {}},
            {"ref": "future", "type": "teleport"},
        ])
        loaded = load_knock_project(tmp_path, {})
        assert loaded.workflows["wf"].steps == (
            PassStep("cohort", "random_cohort"), PassStep("update", "update_user"), PassStep("future", "teleport"),
        )
        assert loaded.notes == (
            f"{file}: step cohort (random_cohort) is not simulated: it passes at once and none of its cohort "
            "branches' steps run",
            f"{file}: step update (update_user) is not simulated: it passes at once",
            f"{file}: step future (teleport) has a type mockknock does not know: it passes at once",
        )

    def test_conditions_on_function_steps_are_noted(self, tmp_path: Path) -> None:
        """Conditions are evaluated on channel steps only; elsewhere the step always runs, with a note."""
        conditions = {"all": [{"variable": "data.x", "operator": "exists"}]}
        file = _write_workflow(tmp_path, [{**_delay({"delay_for": {"unit": "seconds", "value": 1}}),
                                           "conditions": conditions}])
        assert load_knock_project(tmp_path, {}).notes == (
            f"{file}: step delay_1 (delay) has conditions, which mockknock evaluates only on channel steps: "
            "the step always runs",
        )

    def test_workflow_conditions_are_noted(self, tmp_path: Path) -> None:
        """A workflow's own trigger conditions are not simulated: every trigger runs, with a note."""
        file = _write_workflow(tmp_path, [])
        conditions = {"all": [{"variable": "data.enabled", "operator": "equal_to", "argument": True}]}
        file.write_text(json.dumps({"name": "WF", "steps": [], "conditions": conditions}), encoding="utf-8")
        assert load_knock_project(tmp_path, {}).notes == (
            f"{file}: the workflow's trigger conditions are not simulated: every trigger runs",
        )

    def test_inline_field_wins_over_file_reference(self, tmp_path: Path) -> None:
        """With both x and x@, the CLI keeps the inline x and never reads the file, so a missing one is fine."""
        step = _channel(channel_key="email", channel_type="email",
                        template={"text_body": "inline", "text_body@": "step_1/absent.txt"})
        _write_workflow(tmp_path, [step])
        assert _steps(tmp_path) == (ChannelStep("step_1", make_channel("email", ChannelType.EMAIL, "sendgrid")),)

    def test_nested_references_are_relative_to_their_file(self, tmp_path: Path) -> None:
        """A reference inside visual_blocks.json resolves from that file's directory."""
        blocks = json.dumps([{"type": "markdown", "content@": "visual_blocks/1.content.md"}])
        step = _channel(channel_key="email", channel_type="email",
                        template={"visual_blocks@": "email_1/visual_blocks.json"})
        _write_workflow(tmp_path, [step], {"email_1/visual_blocks.json": blocks,
                                           "email_1/visual_blocks/1.content.md": "Hello"})
        assert len(_steps(tmp_path)) == 1

    def test_missing_nested_reference(self, tmp_path: Path) -> None:
        """A missing file referenced from visual_blocks.json is reported at the inlined field's path."""
        blocks = json.dumps([{"type": "markdown", "content@": "visual_blocks/1.content.md"}])
        step = _channel(channel_key="email", channel_type="email",
                        template={"visual_blocks@": "email_1/visual_blocks.json"})
        file = _write_workflow(tmp_path, [step], {"email_1/visual_blocks.json": blocks})
        missing = file.parent / "email_1" / "visual_blocks" / "1.content.md"
        assert _problems(tmp_path) == [
            f'{file}: steps[0].template.visual_blocks[0].content@: expected a path to a file that exists, '
            f'found "visual_blocks/1.content.md" ({missing} is missing)'
        ]


class TestProblems:
    """Every problem in a broken project is listed at once, each with its file and JSON path."""

    def test_all_problems_in_one_error(self, broken: list[str]) -> None:
        """Problems from every workflow come together, workflow by workflow, in one ScenarioError."""
        assert broken == [
            f"{BROKEN}/workflows/bad-json/workflow.json:6:7: broken JSON: Expecting ',' delimiter",
            f'{BAD_STEPS}: steps[5].template.html_body@: expected a path to a file that exists, found '
            f'"email_1/missing.html" ({BROKEN}/workflows/bad-steps/email_1/missing.html is missing)',
            f'{BAD_STEPS}: steps[5].template.text_body@: expected a relative path to a file inside the workflow '
            'directory, found "../outside.txt"',
            f"{BROKEN}/workflows/bad-steps/email_1/visual_blocks.json:5:3: broken JSON: Expecting property name "
            f"enclosed in double quotes (referenced by {BAD_STEPS}: steps[5].template.visual_blocks@)",
            f"{BAD_STEPS}: steps[0].ref: expected the step's ref (a key unique in the workflow, such as email_1), "
            "found nothing",
            f"{BAD_STEPS}: steps[0].channel_type: expected a channel type (email, in_app_feed, in_app_guide, sms, "
            "push, chat, http), found \"in_app\"; did you mean 'in_app_feed'?",
            f"{BAD_STEPS}: steps[1].type: expected the step's type (channel, delay, batch, branch, throttle, "
            "http_fetch, ...), found nothing",
            f"{BAD_STEPS}: steps[2].settings.delay_for.unit: expected one of seconds, minutes, hours, days, weeks, "
            'months, found "fortnights"',
            f"{BAD_STEPS}: steps[3].settings.delay_for.unit: expected one of seconds, minutes, hours, days, weeks, "
            "months, found \"minute\"; did you mean 'minutes'?",
            f"{BAD_STEPS}: steps[3].settings.delay_for.value: expected a whole number, 0 or more, found -5",
            f'{BAD_STEPS}: steps[4].branches[0].terminates: expected true or false, found "yes"',
            f'{BAD_STEPS}: steps[4].branches[0].steps[0].ref: expected a ref unique in the workflow (branches '
            'included), found "delay_1", which steps[2].ref already uses',
            f'{BAD_STEPS}: steps[6].settings.batch_window: expected a duration such as {{"unit": "minutes", '
            '"value": 5} (or settings.batch_until_field_path), found nothing',
            f"{BAD_STEPS}: steps[7].settings.throttle_limit: expected a whole number, 1 or more, found 0",
            f"{BAD_STEPS}: steps[8].conditions: operator 'is_audience_member' is not one mockknock evaluates",
            f"{BROKEN}/workflows/no-steps/workflow.json: steps: expected a list of steps, found nothing",
        ]

    def test_malformed_json(self, broken: list[str]) -> None:
        """Broken JSON names the file, line and column and the parser's complaint."""
        assert f"{BROKEN}/workflows/bad-json/workflow.json:6:7: broken JSON: Expecting ',' delimiter" in broken

    def test_missing_steps(self, broken: list[str]) -> None:
        """A workflow.json without steps is a problem (its __readonly and $schema are not)."""
        assert f"{BROKEN}/workflows/no-steps/workflow.json: steps: expected a list of steps, found nothing" in broken

    def test_step_without_ref(self, broken: list[str]) -> None:
        """A step needs a ref."""
        assert (f"{BAD_STEPS}: steps[0].ref: expected the step's ref (a key unique in the workflow, such as "
                "email_1), found nothing") in broken

    def test_step_without_type(self, broken: list[str]) -> None:
        """A step needs a type."""
        assert (f"{BAD_STEPS}: steps[1].type: expected the step's type (channel, delay, batch, branch, throttle, "
                "http_fetch, ...), found nothing") in broken

    def test_duplicate_ref_across_branches(self, broken: list[str]) -> None:
        """A ref inside a branch may not repeat one outside it."""
        assert (f'{BAD_STEPS}: steps[4].branches[0].steps[0].ref: expected a ref unique in the workflow '
                '(branches included), found "delay_1", which steps[2].ref already uses') in broken

    def test_unknown_channel_type(self, broken: list[str]) -> None:
        """An unknown channel_type lists the known ones and suggests the nearest."""
        assert (f"{BAD_STEPS}: steps[0].channel_type: expected a channel type (email, in_app_feed, in_app_guide, "
                "sms, push, chat, http), found \"in_app\"; did you mean 'in_app_feed'?") in broken

    def test_bad_delay_unit(self, broken: list[str]) -> None:
        """An unknown duration unit lists Knock's units."""
        assert (f"{BAD_STEPS}: steps[2].settings.delay_for.unit: expected one of seconds, minutes, hours, days, "
                'weeks, months, found "fortnights"') in broken

    def test_misspelt_delay_unit_and_negative_value(self, broken: list[str]) -> None:
        """A singular unit gets a suggestion; a negative value is its own problem."""
        assert (f"{BAD_STEPS}: steps[3].settings.delay_for.unit: expected one of seconds, minutes, hours, days, "
                "weeks, months, found \"minute\"; did you mean 'minutes'?") in broken
        assert f"{BAD_STEPS}: steps[3].settings.delay_for.value: expected a whole number, 0 or more, found -5" in broken

    def test_missing_referenced_file(self, broken: list[str]) -> None:
        """A file reference to a file that is not there is a problem, as in `knock workflow push`."""
        assert (f'{BAD_STEPS}: steps[5].template.html_body@: expected a path to a file that exists, found '
                f'"email_1/missing.html" ({BROKEN}/workflows/bad-steps/email_1/missing.html is missing)') in broken

    def test_reference_outside_workflow_dir(self, broken: list[str]) -> None:
        """A file reference may not leave the workflow directory."""
        assert (f'{BAD_STEPS}: steps[5].template.text_body@: expected a relative path to a file inside the '
                'workflow directory, found "../outside.txt"') in broken

    def test_broken_visual_blocks(self, broken: list[str]) -> None:
        """Broken JSON in visual_blocks.json names that file's line and column and who references it."""
        assert (f"{BROKEN}/workflows/bad-steps/email_1/visual_blocks.json:5:3: broken JSON: Expecting property "
                f"name enclosed in double quotes (referenced by {BAD_STEPS}: steps[5].template.visual_blocks@)"
                ) in broken

    def test_unevaluable_condition(self, broken: list[str]) -> None:
        """A Knock operator mockknock cannot evaluate is a problem rather than a silently dropped condition."""
        assert (f"{BAD_STEPS}: steps[8].conditions: operator 'is_audience_member' is not one mockknock "
                "evaluates") in broken

    def test_channel_key_and_group_key(self, tmp_path: Path) -> None:
        """A channel step names a channel or a channel group, not both."""
        file = _write_workflow(tmp_path, [_channel(channel_type="email", channel_key="a", channel_group_key="b")])
        assert _problems(tmp_path) == [
            f"{file}: steps[0].channel_group_key: expected channel_key or channel_group_key, not both; found both"
        ]

    def test_channel_without_key(self, tmp_path: Path) -> None:
        """A channel step without a channel says what it needs."""
        file = _write_workflow(tmp_path, [_channel(channel_type="email")])
        assert _problems(tmp_path) == [
            f"{file}: steps[0].channel_key: expected channel_key (the channel to send through) or "
            "channel_group_key, found neither"
        ]

    def test_declared_channel_of_another_type(self, tmp_path: Path) -> None:
        """A step's channel_type must agree with the type the scenario declares for that channel."""
        file = _write_workflow(tmp_path, [_channel(channel_type="push", channel_key="twilio")])
        assert _problems(tmp_path, CHANNELS) == [
            f"{file}: steps[0].channel_type: expected sms, the type the scenario declares for channel 'twilio', "
            'found "push"'
        ]

    def test_workflow_not_an_object(self, tmp_path: Path) -> None:
        """A workflow.json holding something other than an object says what it found."""
        file = _write_workflow(tmp_path, [])
        file.write_text("[]", encoding="utf-8")
        assert _problems(tmp_path) == [
            f"{file}: (top level): expected a workflow object with name and steps, found an array"
        ]
