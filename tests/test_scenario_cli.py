"""`mockknock validate`, and `serve --scenario` reloading its file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import aiohttp
import pytest

from mockknock import reloader as reloader_module
from mockknock.cli import main
from mockknock.errors import ScenarioError
from mockknock.reloader import ScenarioReloader
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from tests.conftest import AUTH, ServerFactory

GOOD = "version: 1\nname: first\nunknown_workflows: reject\nworkflows:\n  wf:\n    steps: [{channel: email}]\n"
BROKEN = """version: 1
name: broken
unknown_workflow: reject
workflows:
  wf:
    steps:
      - channel: email
      - delay: -5s
lifecycles:
  - match: {channel_type: push}
    events: [sent, +1s delivred]
  - match: {channel_type: email}
    outcomes:
      a: {weight: 0, events: [sent]}
"""


class TestValidateCommand:
    """`mockknock validate FILE...`."""

    def test_valid_files_exit_0(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Every bundled scenario and a small file are valid."""
        path = tmp_path / "good.yaml"
        path.write_text(GOOD)
        bundled = sorted(str(p) for p in (Path(__file__).parent.parent / "scenarios").glob("*.yaml"))
        assert main(["validate", str(path), *bundled], env={}) == 0
        assert f"{path}: ok (first: 1 workflows" in capsys.readouterr().out

    def test_every_problem_reported_with_place(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Each problem names file:line:col, the YAML path and the fix; exit 1."""
        path = tmp_path / "broken.yaml"
        path.write_text(BROKEN)
        assert main(["validate", str(path)], env={}) == 1
        err = capsys.readouterr().err
        expected = [
            f"{path}:3:19: unknown_workflow: unknown key 'unknown_workflow'; did you mean 'unknown_workflows'?",
            f"{path}:8:16: workflows.wf.steps[1].delay: a duration cannot be negative, got '-5s'",
            f"{path}:11:20: lifecycles[0].events[1]: unknown lifecycle step 'delivred'; did you mean 'delivered'?",
            "lifecycles[1].outcomes: the weights sum to zero",
        ]
        for fragment in expected:
            assert fragment in err, err
        assert "4 problems" in err

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("version: 1\nworkflows: [\n", "broken YAML"),
            ("- just\n- a list\n", "expected a mapping of scenario keys"),
            ("version: 1\nworkflows:\n  wf:\n    steps: [{ref: a, channel: email}, {ref: a, channel: sms}]\n",
             "step ref 'a' is used 2 times"),
            ("version: 1\nworkflows:\n  wf:\n    steps: [{channel: email, delay: 1s}]\n", "exactly one of"),
            ("version: 1\nlifecycles:\n  - match: {channel_type: push}\n    events: [sent, delivered]\n",
             "push messages never pass sent"),
            ("version: 1\nlifecycles:\n  - match: {channel_type: email}\n    events: [seen]\n", "sent first"),
            ("version: 1\nworkflows_dir: ./nowhere\n", "does not exist"),
            ("version: 2\n", "scenario version 1"),
            ("version: 1\nseed: true\n", "expected an integer"),
            ("version: 1\nrules:\n  - when: {recipient.id: x}\n    outcome: nope\n", "no lifecycle has an outcome"),
            ("version: 1\na: 1\na: 2\n", "appears twice"),
            # 600 bytes that alias their way to 10^12 values ("billion laughs"): refused at once, not expanded
            ("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
                f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 12)),
             "more than 100,000 values once its anchors"),
            ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than mockknock reads"),
            ("version: 1\nunknown_workflows: accept\nscript:\n  - {every: 1s, count: 1000000000, workflow: w, "
             "recipients: [u1]}\n", "expected an integer from 1 to 1,000,000"),
            ("version: 1\nunknown_workflows: accept\nscript:\n  - {at: 100000000d, workflow: w, recipients: [u1]}\n",
             "longer than mockknock simulates"),
        ],
    )
    def test_each_mistake_has_its_message(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
    ) -> None:
        """One broken file per kind of mistake."""
        path = tmp_path / "s.yaml"
        path.write_text(text)
        assert main(["validate", str(path)], env={}) == 1
        assert fragment in capsys.readouterr().err

    def test_missing_file(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A path that does not exist is reported, exit 1."""
        assert main(["validate", "/no/such/file.yaml"], env={}) == 1
        assert "no such file" in capsys.readouterr().err


class TestReloader:
    """The scenario file watcher."""

    def _touch(self, path: Path, text: str) -> None:
        path.write_text(text)
        # Some filesystems keep mtime to the second; move it on explicitly so the change is seen.
        stamp = time.time() + 2
        os.utime(path, (stamp, stamp))

    def test_reload_and_keep_last_good(self, tmp_path: Path) -> None:
        """A good edit is applied; a bad edit is reported and the last good scenario stays."""
        path = tmp_path / "s.yaml"
        path.write_text(GOOD)
        applied: list[Scenario] = []
        reports: list[str] = []
        reloader = ScenarioReloader(path, applied.append, reports.append)
        assert not reloader.check()
        self._touch(path, GOOD.replace("name: first", "name: second"))
        assert reloader.check() and applied[-1].name == "second"
        self._touch(path, BROKEN)
        assert not reloader.check()
        assert len(applied) == 1 and "keeping the last good scenario" in reports[-1] and "delivred" in reports[-1]
        path.unlink()
        assert not reloader.check() and "disappeared" in reports[-1]

    def test_a_file_that_breaks_the_reader_keeps_the_watch_going(self, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        """Whatever fails while reading an edit (a mockknock bug), the last good scenario stays and the next
        edit is still applied."""
        path = tmp_path / "s.yaml"
        path.write_text(GOOD)
        applied: list[Scenario] = []
        reports: list[str] = []
        reloader = ScenarioReloader(path, applied.append, reports.append)

        def explode(_path: Path) -> Scenario:
            raise MemoryError("the reader ran out of memory")

        monkeypatch.setattr(reloader_module, "load_scenario", explode)
        self._touch(path, GOOD.replace("name: first", "name: broken"))
        assert not reloader.check() and "could not be read (MemoryError" in reports[-1]
        monkeypatch.setattr(reloader_module, "load_scenario", load_scenario)
        self._touch(path, GOOD.replace("name: first", "name: second"))
        assert reloader.check() and applied[-1].name == "second"

    async def test_serve_switches_scenario_on_edit(self, tmp_path: Path, make_server: ServerFactory) -> None:
        """A running server answers by the new scenario once the file changes."""
        path = tmp_path / "s.yaml"
        path.write_text(GOOD)
        server = await make_server(scenario=path, scenario_obj=load_scenario(path))
        assert server.simulation.scenario.name == "first"
        reloader = ScenarioReloader(path, server.simulation.use_scenario, lambda _: None)
        async with aiohttp.ClientSession() as session:
            url = f"{server.url}/v1/workflows/other/trigger"
            async with session.post(url, json={"recipients": ["u1"]}, headers=AUTH) as response:
                assert response.status == 404
            self._touch(path, GOOD.replace("wf:", "other:"))
            assert reloader.check()
            async with session.post(url, json={"recipients": ["u1"]}, headers=AUTH) as response:
                assert response.status == 200


class TestKnockProjectInScenario:
    """workflows_dir: a scenario reusing a Knock CLI project's workflow definitions."""

    async def test_project_workflows_are_served(self, tmp_path: Path, make_server: ServerFactory) -> None:
        """The project's workflow keys trigger; scenario channels set providers; unknown keys are 404."""
        project = Path(__file__).parent / "fixtures" / "knock_project"
        path = tmp_path / "s.yaml"
        path.write_text(
            f"version: 1\nunknown_workflows: reject\nworkflows_dir: {project}\n"
            "channels:\n  postmark: {type: email, provider: postmark}\n"
        )
        scenario = load_scenario(path)
        assert set(scenario.workflows) == {"new-comment", "batched-comments", "escalation"}
        assert any("http_fetch" in note for note in scenario.notes)
        server = await make_server(virtual_clock=True, scenario_obj=scenario)
        async with aiohttp.ClientSession() as session:
            for key, status in (("new-comment", 200), ("escalation", 200), ("nope", 404)):
                async with session.post(f"{server.url}/v1/workflows/{key}/trigger",
                                        json={"recipients": [{"id": "u1", "email": "u1@x.io"}],
                                              "data": {"priority": "low"}}, headers=AUTH) as response:
                    assert response.status == status, await response.text()
        await server.simulation.settle()
        assert server.simulation.store.messages

    def test_relative_workflows_dir(self, tmp_path: Path) -> None:
        """workflows_dir is relative to the scenario file; a missing one is an error naming the path."""
        path = tmp_path / "s.yaml"
        path.write_text("version: 1\nworkflows_dir: ./knock\n")
        with pytest.raises(ScenarioError, match="does not exist"):
            load_scenario(path)
