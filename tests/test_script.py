"""A scenario's script: calls the scenario makes itself, with seeded fake recipients and data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockknock.errors import ScenarioError
from mockknock.offline import OfflineRun
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaRegistry

SCRIPTED = """
version: 1
name: scripted
unknown_workflows: reject
workflows:
  comment:
    steps: [{channel: in-app}, {delay: 10m}, {channel: email}]
script:
  - at: 0s
    workflow: comment
    recipients: [u1, {id: u2, email: u2@example.com}]
    data: {text: {fake: sentence}, author: {fake: name}}
    cancellation_key: c-1
  - at: 1m
    every: 30s
    count: 4
    workflow: comment
    recipients: {fake: 2}
    actor: {fake: user_name}
  - at: 5m
    workflow: comment
    cancel: true
    cancellation_key: c-1
"""


def run(tmp_path: Path, schemas: SchemaRegistry, seed: int) -> OfflineRun:
    path = tmp_path / "s.yaml"
    path.write_text(SCRIPTED)
    offline = OfflineRun(load_scenario(path), schemas, seed=seed)
    assert offline.play_script() == 6
    offline.run()
    return offline


class TestScript:
    """Scripted triggers and cancels."""

    def test_calls_happen_at_their_times(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """One call at 0s, four every 30s from 1m, a cancel at 5m that stops the first run's email."""
        offline = run(tmp_path, schemas, 1)
        played = offline.script.played
        assert [(p.at_us - played[0].at_us) // 1_000_000 for p in played] == [0, 60, 90, 120, 150, 300]
        assert all(p.error is None for p in played)
        assert len(offline.store.runs) == 5
        first = offline.store.runs[played[0].workflow_run_id or ""]
        assert {r.status.value for r in first.recipient_runs} == {"cancelled"}
        emails = [m for m in offline.store.messages.values() if m.channel.type.value == "email"]
        assert len(emails) == 4 * 2  # the fake-recipient runs only

    def test_fake_values_follow_the_seed(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """Fake recipients and data are filled in, identical for one seed and different for another."""
        def bodies(seed: int) -> list[bytes]:
            return [e.body for e in run(tmp_path, schemas, seed).events]

        first = bodies(5)
        assert first == bodies(5)
        assert first != bodies(6)
        data = json.loads(first[0])["data"]["data"]
        assert isinstance(data["text"], str) and data["text"].endswith(".") and " " in data["author"]
        fake_users = {json.loads(b)["data"]["recipient"] for b in first} - {"u1", "u2"}
        assert len(fake_users) == 8 and all(u.startswith("user_") for u in fake_users)

    @pytest.mark.parametrize(
        ("entry", "fragment"),
        [
            ("  - {at: 1m, workflow: nope, recipients: [u1]}", "no workflow 'nope'"),
            ("  - {at: 1m, workflow: comment}", "non-empty list of recipients"),
            ("  - {at: 1m, workflow: comment, recipients: [u1], count: 3}", "needs 'every"),
            ("  - {at: soon, workflow: comment, recipients: [u1]}", "is not a duration"),
            ("  - {workflow: comment, recipients: {fake: 0}}", "1 to 1000"),
            ("  - {workflow: comment, recipients: [u1], data: {x: {fake: sentense}}}", "did you mean 'sentence'"),
            ("  - {workflow: comment, cancel: true}", "needs cancellation_key"),
            ("  - {workflow: comment, recipients: [u1], when: 3}", "unknown key 'when'"),
        ],
    )
    def test_bad_script_entries(self, tmp_path: Path, entry: str, fragment: str) -> None:
        """Each mistake in a script entry is reported with its place."""
        path = tmp_path / "s.yaml"
        path.write_text(SCRIPTED.split("script:", maxsplit=1)[0] + "script:\n" + entry + "\n")
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert fragment in str(info.value)
        assert "script[0]" in str(info.value)


class TestScriptUnderOutages:
    """Scripted calls meet API outages as an app using the official SDK would."""

    BASE = """
version: 1
unknown_workflows: accept
script:
  - {at: 0s, every: 1m, count: 10, workflow: wf, recipients: [u1]}
outages:
"""

    def offline(self, tmp_path: Path, schemas: SchemaRegistry, outage: str) -> OfflineRun:
        path = tmp_path / "s.yaml"
        path.write_text(self.BASE + outage)
        run = OfflineRun(load_scenario(path), schemas, seed=1)
        run.play_script()
        run.run()
        return run

    def test_drop_window_swallows_triggers(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """Calls inside a 3m drop window get run ids and produce nothing; the others flow."""
        run = self.offline(tmp_path, schemas, "  - {component: api, status: partial_outage, start: 2m, "
                                              "duration: 3m, effect: drop}\n")
        dropped = [p for p in run.script.played if p.dropped]
        assert len(dropped) == 3 and all(p.workflow_run_id for p in dropped)
        assert sum(1 for r in run.store.runs.values() if r.dropped_reason) == 3
        assert {m.source.workflow_run_id for m in run.store.messages.values()}.isdisjoint(
            {p.workflow_run_id for p in dropped})
        assert run.problems() == []

    def test_errors_are_retried_like_the_sdk(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """In a major outage each call is tried 3 times, 0.5 s then 1 s apart, then fails; not a script problem."""
        run = self.offline(tmp_path, schemas, "  - {component: api, status: major_outage, start: 0s, "
                                              "duration: 150s}\n")
        failed = [p for p in run.script.played if p.error]
        assert len(failed) == 3 and all(len(p.attempts) == 3 for p in failed)
        assert all("simulated outage out_1" in (p.error or "") for p in failed)
        assert len(run.store.runs) == 7
        assert run.problems() == []

    def test_accepted_then_5xx_makes_extra_runs(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A 502 after acceptance on every attempt makes three runs for one scripted call."""
        run = self.offline(tmp_path, schemas, "  - {component: api, status: partial_outage, start: 0s, "
                                              "duration: 30s, effect: {fraction: 1.0, accepted_fraction: 1.0}}\n")
        first = run.script.played[0]
        assert first.error is not None and len(first.attempts) == 3
        assert len(run.store.runs) == 3 + 9
