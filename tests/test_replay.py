"""``mockknock replay``: a scenario's script played against a webhook receiver, with checks and reports."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import io
import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mockknock import replay, signing
from mockknock.clock import VirtualClock
from mockknock.errors import ScenarioError
from mockknock.report import CheckResult, Failure
from mockknock.resources import scenarios_dir
from mockknock.scenario_file import load_default, load_scenario
from mockknock.schemas import SchemaRegistry
from tests.conftest import SECRET, ReceiverFactory

AiohttpServer = Callable[..., Awaitable[TestServer]]

# Three calls over three simulated hours; retries are quick (and free on the virtual clock).
SCENARIO = """
version: 1
name: orders
webhooks:
  retry: {max_attempts: 3, base: 1s, jitter: 0}
workflows:
  new-order:
    steps: [{channel: in-app}, {delay: 30m}, {channel: email}]
script:
  - at: 0s
    workflow: new-order
    recipients: [{id: u1, email: u1@example.com}]
    data: {item: {fake: sentence}}
  - at: 1h
    every: 2h
    count: 2
    workflow: new-order
    recipients: {fake: 1}
"""
# Per recipient: in-app sent + delivered, then 30m later email sent + delivered.
EVENTS = 3 * 4


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    report: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str) -> dict[str, Any]:
        found = [c for c in self.report["checks"] if c["name"] == name]
        assert found, f"no check {name} in {[c['name'] for c in self.report['checks']]}"
        result: dict[str, Any] = found[0]
        return result


def arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mockknock replay")
    replay.add_arguments(parser)
    return parser.parse_args(list(argv))


def bulk_scenario(name: str, every: str, count: int, outages: str = "") -> str:
    """Any workflow key: in-app sent+delivered at once, email a second and two later; ``count`` calls for u1
    (four events each), one every ``every``."""
    return (
        f"version: 1\nname: {name}\nunknown_workflows: accept\n"
        "lifecycles:\n  - match: {channel_type: in_app_feed}\n    events: [sent, delivered]\n"
        "  - match: {channel_type: email}\n    events: [+1s sent, +2s delivered]\n"
        f"{outages}"
        f"script:\n  - {{at: 0s, every: {every}, count: {count}, workflow: bulk, recipients: [u1]}}\n"
    )


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "orders.yaml"
    path.write_text(SCENARIO)
    return path


async def run_replay(
    schemas: SchemaRegistry, tmp_path: Path, scenario: Path, target: str, *extra: str
) -> Outcome:
    """Run the command as the CLI would (seed 11, the test secret) and load its JSON report."""
    report = tmp_path / "report.json"
    args = arguments(str(scenario), "--target", target, "--seed", "11", "--signing-secret", SECRET,
                     "--json", str(report), *extra)
    out, err = io.StringIO(), io.StringIO()
    code = await replay.run_async(args, out, err, env={}, schemas=schemas)
    loaded = json.loads(report.read_text()) if report.exists() else {}
    return Outcome(code, out.getvalue(), err.getvalue(), loaded)


@dataclass
class StrictReceiver:
    """A receiver done right: verifies the signature (401 otherwise) and acknowledges repeats.

    ``reject_duplicates`` makes it answer 409 to a body it has already accepted (the mistake the
    duplicate check catches).
    """

    server: TestServer
    reject_duplicates: bool = False
    accepted: list[bytes] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook"))


async def strict_receiver(aiohttp_server: AiohttpServer, reject_duplicates: bool = False) -> StrictReceiver:
    holder: list[StrictReceiver] = []
    seen: set[str] = set()

    async def hook(request: web.Request) -> web.Response:
        receiver = holder[0]
        body = await request.read()
        try:
            signing.verify(body, request.headers.get(signing.HEADER, ""), SECRET)
        except signing.SignatureError as exc:
            receiver.refused.append(str(exc))
            return web.json_response({"error": str(exc)}, status=401)
        digest = hashlib.sha256(body).hexdigest()
        if digest in seen and receiver.reject_duplicates:
            return web.json_response({"error": "already processed"}, status=409)
        seen.add(digest)
        receiver.accepted.append(body)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    holder.append(StrictReceiver(server, reject_duplicates))
    return holder[0]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class TestPassingReceiver:
    """Receivers that answer as they should."""

    async def test_all_delivered_exit_0(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """Every scripted webhook reaches the receiver once; the report counts them; exit 0."""
        receiver = await make_receiver()
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url)
        assert outcome.code == 0, outcome.out
        assert len(receiver.received) == EVENTS
        report = outcome.report
        assert (report["events"], report["events_ok"], report["attempts"], report["retries"]) == (EVENTS,) * 3 + (0,)
        assert report["script_calls"] == 3
        assert report["simulated_s"] >= 3.5 * 3600  # the last call at 3h, its email 30m later
        assert report["answers"] == {"204": EVENTS}
        assert outcome.check("delivered")["status"] == "passed"
        assert len(report["slowest"]) == 5
        assert "result: PASSED (exit 0)" in outcome.out
        assert "events sent 12" in outcome.out

    async def test_signed_like_knock(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """Each webhook carries Knock's headers and a signature that verifies with the given secret."""
        receiver = await make_receiver()
        await run_replay(schemas, tmp_path, scenario_file, receiver.url)
        for received in receiver.received:
            headers = {k.lower(): v for k, v in received.headers.items()}
            signing.verify(received.body, headers[signing.HEADER], SECRET)
            assert headers["x-knock-event"] == received.type
            assert headers["content-type"] == "application/json"
            assert headers["x-knock-environment-id"]
            assert headers["user-agent"].startswith("mockknock/")

    async def test_verifying_receiver_passes_every_check(
        self, aiohttp_server: AiohttpServer, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """A receiver that verifies and acknowledges repeats passes --check all; 3 tampered sends per type."""
        receiver = await strict_receiver(aiohttp_server)
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url, "--check", "all")
        assert outcome.code == 0, outcome.out
        assert [c["status"] for c in outcome.report["checks"]] == ["passed"] * 4
        assert outcome.check("tampered-signature")["cases"] == 3 * 2  # message.sent, message.delivered
        assert len(receiver.refused) == 6
        assert any("tolerance" in r for r in receiver.refused)
        assert len(receiver.accepted) == EVENTS + 2  # the duplicate and the out-of-order resend

    async def test_retry_that_succeeds_is_a_warning(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """A 503 then a 2xx on the retry passes the check and is reported as a warning."""
        receiver = await make_receiver()
        receiver.script = [503]
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url)
        assert outcome.code == 0, outcome.out
        delivered = outcome.check("delivered")
        assert (delivered["status"], delivered["warned"]) == ("passed", 1)
        assert "2xx only on attempt 2 (answers: 503, 204)" in delivered["warnings"][0]
        assert outcome.report["attempts"] == EVENTS + 1
        assert outcome.report["retries"] == 1

    async def test_target_event_filter(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """--target URL|message.sent sends only message.sent and notes how many events it left out."""
        receiver = await make_receiver()
        outcome = await run_replay(schemas, tmp_path, scenario_file, f"{receiver.url}|message.sent")
        assert outcome.code == 0, outcome.out
        assert set(receiver.types()) == {"message.sent"} and len(receiver.received) == EVENTS // 2
        assert outcome.report["events"] == EVENTS // 2
        assert f"{EVENTS // 2} events not sent" in outcome.report["notes"][0]

    async def test_bundled_scenarios_replay(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, scenario_file: Path
    ) -> None:
        """Bundled scenarios with a script replay cleanly via the Python API (default, given ours, always does)."""
        ours = load_scenario(scenario_file).script
        scenarios = [dataclasses.replace(load_default(), script=ours)]
        scenarios += [s for s in map(load_scenario, sorted(scenarios_dir().glob("*.yaml"))) if s.script]
        for scenario in scenarios:
            receiver = await make_receiver()
            options = replay.ReplayOptions(seed=5, signing_secret=SECRET, checks=frozenset({"duplicate"}))
            lines: list[str] = []
            report = await replay.replay(scenario, receiver.url, options, schemas, lines.append)
            assert report.exit_code == 0, (scenario.name, report.to_json())
            assert report.events == report.events_ok == len(receiver.received) - 1  # and the duplicate
            assert report.events > 0
            assert lines and lines[-1].startswith("replay  +")


class TestFailingReceiver:
    """Receivers that fail a check: exit 1, and the failing events are listed."""

    async def test_500_fails_delivered(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """A receiver answering 500 fails every event after three attempts; each is listed with 500."""
        receiver = await make_receiver()
        receiver.default_status = 500
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url)
        assert outcome.code == 1
        delivered = outcome.check("delivered")
        assert (delivered["status"], delivered["failed"]) == ("failed", EVENTS)
        assert len(receiver.received) == EVENTS * 3
        # Listed in emission order, whatever order the retries happened to finish in.
        assert [f["event_seq"] for f in delivered["failures"]] == list(range(1, EVENTS + 1))
        first = delivered["failures"][0]
        assert first["event_type"] == "message.sent" and first["message_id"]
        assert first["answered"] == "500 on all 3 attempts"
        assert first["expected"].startswith("2xx within 10s")
        assert "FAILED delivered: 12 of 12" in outcome.out
        assert "answered  500 on all 3 attempts" in outcome.out
        assert f"- message.sent {first['message_id']} (#1)" in outcome.out

    async def test_timeout_fails_delivered(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """A receiver slower than --timeout fails with 'timed out', not as unreachable (exit 1)."""
        receiver = await make_receiver()
        receiver.delay_s = 0.3
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url,
                                   "--timeout", "50ms", "--max-attempts", "1")
        assert outcome.code == 1, outcome.out
        failures = outcome.check("delivered")["failures"]
        assert len(failures) == EVENTS
        assert failures[0]["answered"].startswith("no answer: timed out after 0.05s")
        assert outcome.report["answers"] == {"timeout": EVENTS}

    async def test_accepting_tampered_signatures_fails(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """A receiver that never verifies accepts all three tampered sends per event type: exit 1."""
        receiver = await make_receiver()
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url,
                                   "--check", "tampered-signature")
        assert outcome.code == 1
        assert outcome.check("delivered")["status"] == "passed"
        tampered = outcome.check("tampered-signature")
        assert (tampered["status"], tampered["failed"], tampered["cases"]) == ("failed", 6, 6)
        cases = {f["case"] for f in tampered["failures"]}
        assert cases == {"wrong secret", "timestamp 10 minutes old", "body changed after signing"}
        assert tampered["failures"][0]["answered"] == "204 No Content (accepted the tampered delivery)"
        assert "FAILED tampered-signature: 6 of 6" in outcome.out

    async def test_rejecting_duplicates_fails(
        self, aiohttp_server: AiohttpServer, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """A receiver answering 409 to a repeated event fails the duplicate check, with its answer body."""
        receiver = await strict_receiver(aiohttp_server, reject_duplicates=True)
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url, "--check", "duplicate")
        assert outcome.code == 1
        duplicate = outcome.check("duplicate")
        assert duplicate["status"] == "failed"
        failure = duplicate["failures"][0]
        assert failure["answered"] == "409 Conflict"
        assert failure["body"] == '{"error": "already processed"}'
        assert outcome.check("delivered")["status"] == "passed"

    async def test_wrong_secret_hints_at_it(
        self, aiohttp_server: AiohttpServer, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """Every delivery refused with 401 (secrets differ): exit 1 and a note about --signing-secret."""
        receiver = await strict_receiver(aiohttp_server)
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url,
                                   "--signing-secret", "whsec_other", "--max-attempts", "1")
        assert outcome.code == 1
        assert any("--signing-secret" in note for note in outcome.report["notes"])


class TestUsage:
    """Usage and scenario errors exit 2; an unreachable target exits 3."""

    async def test_unreachable_exit_3(self, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path) -> None:
        """Nothing listening on the port: every attempt a connection error, exit 3."""
        outcome = await run_replay(schemas, tmp_path, scenario_file, f"http://127.0.0.1:{free_port()}/hook",
                                   "--check", "all")
        assert outcome.code == 3
        assert outcome.report["unreachable"] is True
        assert outcome.report["answers"] == {"connection error": EVENTS * 3}
        assert {c["status"] for c in outcome.report["checks"][1:]} == {"skipped"}
        assert "could not reach" in outcome.out

    async def test_a_receiver_that_hangs_up_is_reached_and_fails(self, schemas: SchemaRegistry, tmp_path: Path,
                                                                  scenario_file: Path) -> None:
        """A receiver that takes each POST and closes without answering is running: exit 1 (its deliveries
        failed, 'closed without an answer'), not exit 3 and a hint to start it."""
        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            outcome = await run_replay(schemas, tmp_path, scenario_file, f"http://127.0.0.1:{port}/hook")
        finally:
            server.close()
            await server.wait_closed()
        assert outcome.code == 1
        assert outcome.report["unreachable"] is False
        assert outcome.report["answers"] == {"closed without an answer": EVENTS * 3}

    async def test_a_simulated_outage_is_not_the_receivers_failure(
            self, aiohttp_server: AiohttpServer, schemas: SchemaRegistry, tmp_path: Path) -> None:
        """Events the scenario's own webhook-delivery outage failed on every attempt are noted, not failed:
        exit 0 against a receiver that never saw them."""
        path = tmp_path / "failing.yaml"
        path.write_text(
            "version: 1\nname: failing\nunknown_workflows: accept\n"
            "channels:\n  in-app: {type: in_app_feed, provider: knock}\n"
            "default_workflow:\n  steps: [{channel: in-app}]\n"
            "script:\n  - {at: 0s, workflow: w, recipients: [u1]}\n"
            "outages:\n  - {component: webhook_delivery, status: major_outage, start: 0s, duration: 2h,"
            " effect: {kind: fail, fraction: 1}}\n")
        receiver = await strict_receiver(aiohttp_server)
        outcome = await run_replay(schemas, tmp_path, path, receiver.url)
        assert outcome.code == 0, outcome.out
        assert outcome.check("delivered")["status"] == "skipped"
        assert any("given up because a simulated webhook-delivery outage" in n for n in outcome.report["notes"])

    async def test_bad_scenario_exit_2(self, schemas: SchemaRegistry, tmp_path: Path) -> None:
        """An invalid scenario file prints the ScenarioError text and exits 2."""
        path = tmp_path / "bad.yaml"
        path.write_text(SCENARIO.replace("count: 2", "count: two"))
        outcome = await run_replay(schemas, tmp_path, path, "http://127.0.0.1:9/hook")
        assert outcome.code == 2
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert str(info.value) in outcome.err
        assert "script[1].count" in outcome.err

    async def test_no_script_exit_2(self, schemas: SchemaRegistry, tmp_path: Path) -> None:
        """A scenario without script: exits 2 and says to add one."""
        path = tmp_path / "plain.yaml"
        path.write_text(SCENARIO.split("script:", maxsplit=1)[0])
        outcome = await run_replay(schemas, tmp_path, path, "http://127.0.0.1:9/hook")
        assert outcome.code == 2
        assert "has no script:" in outcome.err and "Add a top-level" in outcome.err
        assert outcome.out == ""

    async def test_bundled_scenario_without_script_exit_2(self, schemas: SchemaRegistry, tmp_path: Path) -> None:
        """A bundled scenario named instead of a file is found; default has no script, so exit 2."""
        outcome = await run_replay(schemas, tmp_path, Path("default"), "http://127.0.0.1:9/hook")
        assert outcome.code == 2
        assert "scenario 'default' has no script" in outcome.err

    async def test_missing_file_exit_2(self, schemas: SchemaRegistry, tmp_path: Path) -> None:
        """A scenario path that does not exist exits 2 naming it."""
        outcome = await run_replay(schemas, tmp_path, tmp_path / "nope.yaml", "http://127.0.0.1:9/hook")
        assert outcome.code == 2
        assert "nope.yaml does not exist" in outcome.err

    async def test_replay_api_refuses_a_scenario_without_script(self, schemas: SchemaRegistry) -> None:
        """The Python API raises ScenarioError for a scenario without a script."""
        with pytest.raises(ScenarioError, match="has no script"):
            await replay.replay(load_default(), "http://127.0.0.1:9/hook", replay.ReplayOptions(), schemas, None)

    @pytest.mark.parametrize(
        ("argv", "fragment"),
        [
            (["s.yaml"], "--target"),
            (["s.yaml", "--target", "ftp://x"], "absolute http(s) URL"),
            (["s.yaml", "--target", "http://127.0.0.1:9/", "--timeout", "soon"], "is not a duration"),
            (["s.yaml", "--target", "http://127.0.0.1:9/", "--speed", "0"], "must be above 0"),
            (["s.yaml", "--target", "http://127.0.0.1:9/", "--speed", "2", "--virtual"], "not allowed with"),
            (["s.yaml", "--target", "http://127.0.0.1:9/", "--check", "nope"], "invalid choice"),
        ],
    )
    def test_bad_arguments_exit_2(self, argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
        """Bad flags are argparse errors: exit 2 with the reason."""
        with pytest.raises(SystemExit) as info:
            arguments(*argv)
        assert info.value.code == 2
        assert fragment in capsys.readouterr().err


class TestReports:
    """The JUnit and JSON files, and the terminal output."""

    async def test_junit_counts(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """JUnit XML parses; one testcase per check and per failing event, counts that add up."""
        receiver = await make_receiver()
        receiver.default_status = 500
        junit = tmp_path / "junit.xml"
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url, "--junit", str(junit),
                                   "--check", "tampered-signature", "--check", "duplicate")
        assert outcome.code == 1
        root = ET.parse(junit).getroot()
        assert root.tag == "testsuites"
        suites = root.findall("testsuite")
        assert len(suites) == 1
        suite = suites[0]
        cases = suite.findall("testcase")
        # 3 checks + 12 failing events + 6 failing tampered sends
        assert int(suite.get("tests", "")) == len(cases) == 3 + EVENTS + 6
        failed = [c for c in cases if c.find("failure") is not None]
        assert int(suite.get("failures", "")) == len(failed) == 2 + EVENTS + 6
        assert int(suite.get("skipped", "")) == 1  # duplicate: nothing was delivered to repeat
        assert suite.get("errors") == "0" and float(suite.get("time", "")) > 0
        for case in cases:
            assert case.get("classname") == "mockknock.replay.orders"
            assert case.get("name") and float(case.get("time", "")) >= 0
        event_case = next(c for c in failed if c.get("name", "").startswith("delivered: message.sent"))
        failure = event_case.find("failure")
        assert failure is not None
        assert failure.get("type") == "delivered"
        assert "answered 500 on all 3 attempts" in failure.get("message", "")
        assert "expected  2xx" in (failure.text or "")

    async def test_json_report(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """The JSON report loads and carries the result, the seed, the counts and every check."""
        receiver = await make_receiver()
        outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url, "--check", "out-of-order")
        report = outcome.report
        assert (report["result"], report["exit_code"], report["seed"], report["clock"]) == ("passed", 0, 11, "virtual")
        assert [c["name"] for c in report["checks"]] == ["delivered", "out-of-order"]
        assert report["target"] == receiver.url

    async def test_progress_lines_and_quiet(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """Without a tty progress ends in one plain line; --quiet prints only the result line."""
        receiver = await make_receiver()
        loud = await run_replay(schemas, tmp_path, scenario_file, receiver.url)
        assert loud.out.startswith("replay  +3h30m")
        assert "\r" not in loud.out
        quiet = await run_replay(schemas, tmp_path, scenario_file, receiver.url, "--quiet")
        assert quiet.out.splitlines() == ["mockknock replay orders: PASSED (exit 0): 12 events, 12 attempts"]

    def test_tty_progress_rewrites_one_line(self) -> None:
        """On a terminal, progress rewrites one line with \\r and ends it with a newline."""
        stream = io.StringIO()
        line = replay.ProgressLine(stream, tty=True)
        line("events 10")
        line("events 9")
        line.finish()
        assert stream.getvalue() == "\revents 10\revents 9 \n"


class TestDeterminism:
    """The same seed replays the same webhooks in the same order."""

    async def test_same_seed_same_bodies_same_order(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, scenario_file: Path
    ) -> None:
        """Two replays with seed 11 deliver byte-identical bodies in identical order; seed 12 differs."""
        runs = []
        for seed in ("11", "11", "12"):
            receiver = await make_receiver()
            outcome = await run_replay(schemas, tmp_path, scenario_file, receiver.url, "--seed", seed)
            assert outcome.code == 0
            runs.append([r.body for r in receiver.received])
        assert len(runs[0]) == EVENTS
        assert runs[0] == runs[1]
        assert runs[0] != runs[2]

    async def test_long_replay_past_the_backpressure_mark(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """More events than replay lets wait at once (the clock is held, then let go): all delivered, in
        emission order, the same bytes twice; at concurrency 32 (through the delivery process) the same set
        of bodies."""
        count = replay._HIGH_WATER * 3 // 4 + 50  # four events per call: past the mark
        path = tmp_path / "long.yaml"
        path.write_text(bulk_scenario("long", every="10s", count=count))
        holds: list[int] = []
        original_hold = VirtualClock.hold

        def counting_hold(clock: VirtualClock) -> None:
            holds.append(clock.now_us())
            original_hold(clock)

        monkeypatch.setattr(VirtualClock, "hold", counting_hold)
        runs = []
        for concurrency in ("1", "1", "32"):
            receiver = await make_receiver()
            outcome = await run_replay(schemas, tmp_path, path, receiver.url, "--concurrency", concurrency,
                                       "--quiet")
            assert outcome.code == 0, outcome.out
            bodies = [r.body for r in receiver.received]
            assert len(bodies) == outcome.report["events"] == count * 4 > replay._HIGH_WATER
            runs.append(bodies)
        assert holds, "emission never ran far enough ahead to be held back"
        emitted_at = [json.loads(body)["created_at"] for body in runs[0]]
        assert emitted_at == sorted(emitted_at)
        assert runs[0] == runs[1]
        assert sorted(runs[2]) == sorted(runs[0])


def test_listed_failures_are_the_earliest_events() -> None:
    """Past the limit, a check keeps the failures of the earliest events, in emission order."""
    check = CheckResult("delivered", "")
    for seq in (7, 3, 9, 1, 5, 2):
        check.fail(Failure("delivered", "message.sent", f"m{seq}", seq, "2xx", "500"), limit=3)
    assert [f.event_seq for f in check.failures] == [1, 2, 3]
    assert check.failed == 6


@pytest.mark.parametrize(
    "effect", ["status: major_outage", "status: degraded_performance, effect: {kind: latency, latency: 10m}"]
)
async def test_backpressure_never_holds_the_clock_a_delivery_outage_needs(
    make_receiver: ReceiverFactory, schemas: SchemaRegistry, tmp_path: Path, effect: str
) -> None:
    """Past the backpressure mark during a webhook-delivery pause or slowdown (which wait on the clock),
    replay still finishes and delivers every event."""
    count = replay._HIGH_WATER * 3 // 8 + 50  # four events per call: past the mark
    path = tmp_path / "outage.yaml"
    path.write_text(bulk_scenario(
        "outage", every="1s", count=count * 2,
        outages=f"outages:\n  - {{component: webhook_delivery, {effect}, start: 0s, duration: 2h}}\n",
    ))
    receiver = await make_receiver()
    outcome = await asyncio.wait_for(
        run_replay(schemas, tmp_path, path, receiver.url, "--quiet"), timeout=50
    )
    assert outcome.code == 0, outcome.out
    assert len(receiver.received) == outcome.report["events"] == count * 2 * 4 > replay._HIGH_WATER
