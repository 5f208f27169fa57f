"""The pytest plugin, driven through pytester: small test modules run in a pytest subprocess.

A subprocess loads the plugin as a user's session does, through the ``pytest11`` entry point. Each
subprocess pays pytest's and mockknock's start-up, so many small tests share one run and the checks
read their outcomes by name.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "pytest.md"
INI = """
[pytest]
addopts = --strict-markers -p no:cacheprovider
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
timeout = 60
"""

PASSING = '''
import json

import pytest
from aiohttp import web
from knockapi import AsyncKnock, Knock

from mockknock.pytest_plugin import MockKnock, MockKnockReceiver
from mockknock.signing import verify


@pytest.fixture
def knock(mockknock: MockKnock):
    with Knock(base_url=mockknock.url, api_key=mockknock.api_key) as client:
        yield client


def test_sync_sdk_and_wait(mockknock, knock):
    knock.workflows.trigger("welcome", recipients=["u_1"], data={"force_outcome": "hard_bounce"})
    [bounce] = mockknock.wait_for_sync("message.bounced")
    assert bounce.type == "message.bounced"
    assert bounce.json["event_data"]["failure_reason"] == "hard_bounce"
    assert bounce.delivered and bounce.attempts[0].status == 204
    verify(bounce.body, bounce.headers["x-knock-signature"], mockknock.secret)
    assert mockknock.api_key == "sk_test_mockknock"


def test_reset_leaves_nothing_behind_1(mockknock, knock):
    knock.workflows.trigger("welcome", recipients=["u_1", "u_2"])
    mockknock.wait_for_sync("message.sent")  # much is still scheduled when this test ends


def test_reset_leaves_nothing_behind_2(mockknock):
    assert mockknock.webhooks == []
    mockknock.advance_sync("2h")
    assert mockknock.webhooks == []
    assert len(mockknock.simulation.store.runs) == 0


STORY = {}


def tell_the_story(mockknock, knock):
    response = knock.workflows.trigger("welcome", recipients=["u_1", "u_2"], data={"force_outcome": "delivered"})
    mockknock.settle_sync()
    return response.workflow_run_id, [w.body for w in mockknock.webhooks]


@pytest.mark.mockknock(seed=3)
def test_same_seed_same_bodies_1(mockknock, knock):
    STORY["first"] = tell_the_story(mockknock, knock)
    assert len(STORY["first"][1]) == 8  # sent and delivered, in-app and email, for each recipient


def test_same_seed_same_bodies_in_between(mockknock, knock):
    knock.workflows.trigger("welcome", recipients=["u_9"])
    mockknock.advance_sync("3h")  # the next test starts from the same instant all the same


@pytest.mark.mockknock(seed=3)
def test_same_seed_same_bodies_2(mockknock, knock):
    start = mockknock.simulation.clock.now_us()
    second = tell_the_story(mockknock, knock)
    assert second == STORY["first"]  # run id, message ids, timestamps: byte for byte
    sent = json.loads(second[1][0])
    assert sent["created_at"].startswith("2026-01-01T00:00:")
    assert start == mockknock.simulation.settings.start_at_us


@pytest.mark.mockknock(scenario="email-bounces", seed=7)
async def test_async_sdk_marker_and_wait(mockknock):
    assert (mockknock.scenario, mockknock.seed) == ("email-bounces", 7)
    async with AsyncKnock(base_url=mockknock.url, api_key=mockknock.api_key) as client:
        await client.workflows.trigger("password-reset", recipients=[{"id": "u_1", "email": "bounce@x.io"}])
    [bounce] = await mockknock.wait_for("message.bounced")
    assert bounce.data["recipient"] == "u_1"
    await mockknock.settle()
    assert mockknock.types() == ["message.sent", "message.bounced"]


@pytest.mark.mockknock(scenario="email-bounces")
async def test_sync_sdk_in_an_async_test_too(mockknock):
    # The blocking client may be called from a coroutine: the server is on another thread.
    with Knock(base_url=mockknock.url, api_key=mockknock.api_key) as client:
        client.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "delivered"})
    await mockknock.settle()
    assert mockknock.types() == ["message.sent", "message.delivered"]


@pytest.mark.mockknock(scenario="email-bounces")
def test_clock_moves_only_when_told(mockknock, knock):
    clock = mockknock.simulation.clock
    start = clock.now_us()
    knock.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "soft_bounce"})
    assert mockknock.webhooks == []
    mockknock.advance_sync("2s")
    assert mockknock.types() == ["message.sent"]
    assert clock.now_us() - start == 2_000_000
    mockknock.advance_sync("2m")
    assert mockknock.types() == ["message.sent", "message.bounced"]


@pytest.mark.mockknock(scenario="email-bounces", auto_advance=True)
def test_auto_advance_runs_by_itself(mockknock, knock):
    knock.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "delivered"})
    mockknock.settle_sync()
    assert mockknock.types() == ["message.sent", "message.delivered"]


@pytest.mark.mockknock(scenario="email-bounces")
def test_receiver_records_signs_and_scripts(mockknock, mockknock_receiver: MockKnockReceiver, knock):
    mockknock_receiver.respond_with(500, times=2)
    knock.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "delivered"})
    got = mockknock_receiver.wait_for_sync(count=4)  # sent and delivered, each refused once
    assert [r.status for r in got] == [500, 500, 204, 204]
    assert sorted(r.type for r in got) == ["message.delivered"] * 2 + ["message.sent"] * 2
    assert all(r.signature_ok and r.signature_error is None for r in got)
    assert got[0].headers["x-knock-event"] == "message.sent"
    assert got[0].headers["user-agent"].startswith("mockknock/")
    [sent] = mockknock.wait_for_sync("message.sent")
    assert [a.status for a in sent.attempts] == [500, 204]
    got = [r for r in got if r.type == "message.sent"]
    # The headers of the last attempt, rebuilt, are the ones the receiver got.
    for name, value in sent.headers.items():
        assert got[-1].headers[name] == value
    assert json.loads(got[-1].body) == sent.json


@pytest.mark.mockknock(scenario="email-bounces")
def test_advance_includes_retries_in_the_window(mockknock, mockknock_receiver, knock):
    mockknock_receiver.respond_with(503, times=1)
    knock.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "delivered"})
    mockknock.advance_sync("1m")  # sent (refused), delivered, then sent again about 10s later
    assert [(r.type, r.status) for r in mockknock_receiver.received] == [
        ("message.sent", 503), ("message.delivered", 204), ("message.sent", 204)
    ]


def test_knock_event_delegates(knock_event):
    event = knock_event("message.bounced", {"data": {"recipient": "u_42"}})
    assert event["type"] == "message.bounced"
    assert event["data"]["recipient"] == "u_42"
    assert knock_event("message.sent", seed=3) == knock_event("message.sent", seed=3)


@pytest.mark.mockknock(seed=11)
def test_knock_event_takes_the_marker_seed(knock_event):
    from mockknock import fixtures

    assert knock_event("message.read") == fixtures.knock_event("message.read", seed=11)


async def test_app_on_the_test_loop(mockknock, aiohttp_server):
    seen = []

    async def hook(request):
        seen.append(request.headers["x-knock-event"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    mockknock.send_webhooks_to(str(server.make_url("/hook")))
    async with AsyncKnock(base_url=mockknock.url, api_key=mockknock.api_key) as client:
        await client.workflows.trigger("welcome", recipients=["u_1"], data={"force_outcome": "delivered"})
    await mockknock.advance("10s")
    assert seen.count("message.delivered") == 2


class TestSettings:
    @pytest.fixture
    def mockknock_settings(self):
        return {"scenario": "scenarios/mine.yaml", "seed": 5}

    def test_module_defaults(self, mockknock):
        assert (mockknock.scenario, mockknock.seed) == ("mine", 5)

    @pytest.mark.mockknock(scenario="email-bounces")
    def test_marker_wins(self, mockknock):
        assert (mockknock.scenario, mockknock.seed) == ("email-bounces", 5)
'''

OUTAGES = '''
from datetime import timedelta

import httpx
import knockapi
import pytest
from knockapi import AsyncKnock, Knock

LEFT_OVER = []


@pytest.fixture
def knock(mockknock):
    with Knock(base_url=mockknock.url, api_key=mockknock.api_key) as client:
        yield client


def test_an_api_outage_makes_the_sdk_give_up(mockknock, knock):
    outage = mockknock.outage("api", "major_outage", duration="5m")
    assert (outage.component, outage.status) == ("api", "major_outage") and outage.active
    with pytest.raises(knockapi.APIStatusError) as caught:
        knock.workflows.trigger("welcome", recipients=["u_1"])
    assert caught.value.status_code in (502, 503)
    assert "this failure is deliberate" in str(caught.value)
    failures = mockknock.failures
    assert len(failures) == 3  # the SDK's call and its two retries
    assert {f["outage_id"] for f in failures} == {outage.id}
    assert all(f["what"].startswith("POST /v1/workflows/welcome/trigger answered 50") for f in failures)
    assert len(mockknock.simulation.store.runs) == 0
    # One more through the control plane, as an app's own test harness might: the reset clears it too.
    answer = httpx.post(f"{mockknock.url}/__mockknock/outages",
                        json={"component": "sendgrid", "status": "partial_outage", "duration": "1h"})
    assert answer.status_code == 201, answer.text
    listed, planned = mockknock.outages
    assert listed == outage.info
    assert (listed["id"], listed["source"], listed["active"], listed["duration"]) == (outage.id, "pytest", True, "5m")
    assert (planned["component"], planned["source"]) == ("sendgrid", "control")
    LEFT_OVER.append(outage)  # both still active when the test ends


def test_the_next_test_is_clean(mockknock, knock):
    assert mockknock.outages == [] and mockknock.failures == [] and mockknock.dropped == []
    knock.workflows.trigger("welcome", recipients=["u_1"], data={"force_outcome": "delivered"})
    assert len(mockknock.wait_for_sync("message.delivered", count=2)) == 2
    with pytest.raises(LookupError, match="reset"):
        LEFT_OVER[0].end()


def test_a_drop_outage_lists_what_it_dropped(mockknock, knock):
    mockknock.outage("api", "major_outage", effect="drop", name="Triggers lost")
    response = knock.workflows.trigger("welcome", recipients=["u_1"], data={"plan": "pro"})
    mockknock.settle_sync()
    assert mockknock.webhooks == []
    [dropped] = mockknock.dropped
    assert dropped["workflow_run_id"] == response.workflow_run_id
    assert dropped["body"] == {"recipients": ["u_1"], "data": {"plan": "pro"}}
    assert "Triggers lost" in dropped["reason"]
    [failure] = mockknock.failures
    assert failure["subject"] == response.workflow_run_id


@pytest.mark.mockknock(scenario="email-bounces")
def test_a_webhook_pause_catches_up_in_order(mockknock, mockknock_receiver, knock):
    mockknock.outage("webhook_delivery", "major_outage", duration="10m")
    for i in range(3):
        knock.workflows.trigger("password-reset", recipients=[f"u_{i}"], data={"force_outcome": "delivered"})
    mockknock.advance_sync("9m")
    assert mockknock.webhooks == [] and mockknock_receiver.received == []
    mockknock.advance_sync("2m")
    sent = mockknock.webhooks
    assert len(sent) == 6 and all(w.delivered and len(w.attempts) == 1 for w in sent)
    assert [r.body for r in mockknock_receiver.received] == [w.body for w in sent]  # in the order emitted
    assert mockknock.failures == []  # held, never failed


@pytest.mark.mockknock(scenario="email-bounces")
async def test_ending_a_pause_early_releases_it(mockknock):
    outage = mockknock.outage("webhook_delivery", "major_outage", duration=timedelta(hours=1))
    async with AsyncKnock(base_url=mockknock.url, api_key=mockknock.api_key) as client:
        await client.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "delivered"})
    await mockknock.advance("5m")
    assert mockknock.webhooks == []
    info = outage.end()
    assert info["ended_early"] and not info["active"]
    await mockknock.advance("1m")
    assert mockknock.types() == ["message.sent", "message.delivered"]


@pytest.mark.mockknock(
    scenario="email-bounces",
    outages=[
        {"component": "api", "status": "major_outage", "effect": "drop"},
        {"component": "sendgrid", "status": "major_outage", "start": "1h", "duration": timedelta(minutes=30)},
    ],
)
def test_marker_outages_start_with_the_test(mockknock, knock):
    drop, later = mockknock.outages
    assert drop["active"] and drop["effect"]["kind"] == "drop" and drop["source"] == "pytest"
    assert drop["start_us"] == mockknock.simulation.settings.start_at_us
    assert not later["active"] and later["name"] == "SendGrid: major outage"
    assert (later["start_us"] - drop["start_us"], later["duration"]) == (3_600_000_000, "30m")
    knock.workflows.trigger("password-reset", recipients=["u_1"])
    assert len(mockknock.dropped) == 1
'''

SCENARIO = """
version: 1
name: mine
unknown_workflows: accept
channels:
  email: {type: email, provider: sendgrid}
default_workflow:
  steps:
    - {ref: email_1, channel: email}
lifecycles:
  - match: {channel_type: email}
    outcomes:
      delivered: {weight: 1, events: ["+1s sent", "+2s delivered"]}
"""

FAILING = '''
import pytest
from knockapi import Knock

from mockknock.model import EventType


@pytest.fixture
def knock(mockknock):
    with Knock(base_url=mockknock.url, api_key=mockknock.api_key) as client:
        yield client


@pytest.mark.mockknock(scenario="email-bounces")
def test_wait_for_lists_what_arrived(mockknock, knock):
    knock.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "delivered"})
    mockknock.wait_for_sync("message.bounced", timeout=0.5)


@pytest.mark.mockknock(scenario="email-bounces")
async def test_async_wait_for_lists_what_is_scheduled(mockknock, mockknock_receiver, knock):
    mockknock_receiver.respond_with(204, delay=1)  # a slow endpoint holds the clock while it answers
    knock.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "soft_bounce"})
    await mockknock.wait_for("message.bounced", timeout=0.4)


@pytest.mark.mockknock(scenario="email-bounces")
def test_receiver_wait_for_lists_what_arrived(mockknock, mockknock_receiver, knock):
    mockknock_receiver.respond_with(503, "try later")
    knock.workflows.trigger("password-reset", recipients=["u_1"], data={"force_outcome": "delivered"})
    mockknock_receiver.wait_for_sync("message.delivered", count=20, timeout=1)


def test_wait_for_names_the_outages(mockknock, knock):
    mockknock.outage("api", "major_outage", effect="drop")
    knock.workflows.trigger("welcome", recipients=["u_1"])
    mockknock.wait_for_sync("message.sent", timeout=0.3)


def test_a_mistaken_outage(mockknock):
    mockknock.outage("apii", "major", duration="soon")


@pytest.mark.mockknock(outages=[{"component": "api", "status": "major_outage", "efect": "drop"}])
def test_a_mistaken_marker_outage(mockknock):
    pass


def test_a_failing_step_fails_this_test_at_teardown(mockknock):
    sim = mockknock.simulation

    def explode(_due):
        raise RuntimeError("kaboom in a scheduled step")

    mockknock.call(lambda: sim.engine.timeline.schedule(sim.clock.now_us(), explode))


def test_a_failing_step_fails_wait_for_at_once(mockknock, knock):
    sim = mockknock.simulation

    def explode(_due):
        raise RuntimeError("kaboom while waiting")

    knock.workflows.trigger("welcome", recipients=["u_1"])
    mockknock.call(lambda: sim.engine.timeline.schedule(sim.clock.now_us() + 1_000_000, explode))
    mockknock.wait_for_sync("message.bounced", count=50, timeout=30)


def test_a_schema_violation_fails_this_test(mockknock):
    sim = mockknock.simulation
    mockknock.call(lambda: sim.emitter.emit(EventType.MESSAGE_SENT, sim.clock.now_us(), {"id": 1}, None, "m", "m"))


def test_the_next_test_is_clean(mockknock):
    assert mockknock.webhooks == []


def test_sync_test_calling_the_async_spelling(mockknock):
    mockknock.wait_for("message.sent")


async def test_async_test_calling_the_sync_spelling(mockknock):
    mockknock.settle_sync()


@pytest.mark.mockknock(sede=1)
def test_misspelt_option(mockknock):
    pass


@pytest.mark.mockknock(scenario="email-bounce")
def test_unknown_scenario(mockknock):
    pass


@pytest.mark.mockknock(webhook_urls="ftp://example.com/hook")
def test_bad_webhook_url(mockknock):
    pass
'''


REVIEWED = '''
from datetime import timedelta

import pytest
from knockapi import Knock


def test_a_receiver_asked_for_late_still_receives(mockknock, request):
    receiver = request.getfixturevalue("mockknock_receiver")
    with Knock(base_url=mockknock.url, api_key=mockknock.api_key) as knock:
        knock.workflows.trigger("welcome", recipients=["u_1"])
    receiver.wait_for_sync("message.delivered")
    assert "message.sent" in receiver.types()


def test_calls_that_cannot_mean_what_they_say_are_refused(mockknock, mockknock_receiver):
    with pytest.raises(ValueError, match="cannot be negative"):
        mockknock.advance_sync(timedelta(seconds=-30))
    with pytest.raises(ValueError, match="needs at least one URL"):
        mockknock.send_webhooks_to()
    for status in (100, 99, 1000, True):
        with pytest.raises(ValueError, match="from 200 to 599"):
            mockknock_receiver.respond_with(status)


@pytest.mark.mockknock(webhook_urls=123)
def test_webhook_urls_not_a_list(mockknock):
    pass


@pytest.mark.mockknock(seed="7")
def test_knock_event_with_a_text_seed(knock_event):
    pass
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    return pytester


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Test name -> PASSED / FAILED / ERROR, from ``-rA``'s short summary (an error at teardown wins)."""
    found: dict[str, str] = {}
    for line in result.outlines:
        match = re.match(r"(PASSED|FAILED|ERROR) \S+::(?:\w+::)?(\w+)", line)
        if match and found.get(match.group(2)) != "ERROR":
            found[match.group(2)] = match.group(1)
    return found


class TestPlugin:
    def test_fixtures_in_sync_and_async_tests(self, project: pytest.Pytester) -> None:
        """Sync and async tests, the SDK, the marker, settings, reset isolation and determinism, the receiver,
        knock_event, and simulated outages (started by a call or the marker, ended, cleared by the reset)."""
        project.makepyfile(test_passing=PASSING, test_outages=OUTAGES)
        (project.path / "scenarios").mkdir()
        (project.path / "scenarios" / "mine.yaml").write_text(SCENARIO)
        result = project.runpytest_subprocess("-rA", timeout=120)
        found = outcomes(result)
        assert set(found.values()) == {"PASSED"}, result.stdout.str()
        result.assert_outcomes(passed=17 + 6)

    def test_failures_say_what_happened(self, project: pytest.Pytester) -> None:
        """wait_for failures list arrivals and schedule; problems in the mock fail the test that caused them."""
        project.makepyfile(test_failing=FAILING)
        result = project.runpytest_subprocess("-rA", timeout=120)
        assert outcomes(result) == {
            "test_wait_for_lists_what_arrived": "FAILED",
            "test_async_wait_for_lists_what_is_scheduled": "FAILED",
            "test_receiver_wait_for_lists_what_arrived": "FAILED",
            "test_wait_for_names_the_outages": "FAILED",
            "test_a_mistaken_outage": "FAILED",
            "test_a_mistaken_marker_outage": "ERROR",
            "test_a_failing_step_fails_this_test_at_teardown": "ERROR",
            "test_a_failing_step_fails_wait_for_at_once": "ERROR",
            "test_a_schema_violation_fails_this_test": "ERROR",
            "test_the_next_test_is_clean": "PASSED",
            "test_sync_test_calling_the_async_spelling": "FAILED",
            "test_async_test_calling_the_sync_spelling": "FAILED",
            "test_misspelt_option": "ERROR",
            "test_unknown_scenario": "ERROR",
            "test_bad_webhook_url": "ERROR",
        }, result.stdout.str()
        result.stdout.fnmatch_lines_random([
            "E*mockknock.wait_for('message.bounced', count=1): 0 of 1 arrived (timed out after 0.5s).",
            "E*Arrived (2 webhooks sent by the mock): message.sent x1, message.delivered x1.",
            "E*Still scheduled: nothing (no steps on the timeline, no deliveries in flight).",
            "E*mockknock.wait_for('message.bounced', count=1): 0 of 1 arrived (timed out after 0.4s).",
            "E*Arrived (0 webhooks sent by the mock): none.",
            "E*Emitted but not yet sent: message.sent x1.",
            "E*Still scheduled: 1 step on the timeline, the next in *s of simulated time; "
            "1 delivery in flight or waiting to retry.",
            "E*mockknock_receiver.wait_for('message.delivered', count=20): 8 of 20 received (timed out after 1s).",
            "E*The receiver got 16 requests: message.sent x8, message.delivered x8.",
            "E*Not delivered: message.sent #* (8 attempts, gave up, last: 503 'try later'), "
            "message.delivered #* (8 attempts, gave up, last: 503 'try later').",
            "E*mockknock.wait_for('message.sent', count=1): 0 of 1 arrived (timed out after 0.3s).",
            "E*Simulated outages: out_* API: major outage (drop; active, ends in 10m).",
            "E*ValueError: mockknock.outage('apii', 'major') is not a valid outage:",
            "E*- component: expected one of api, *, found 'apii'; did you mean 'api'?",
            "E*- status: expected one of operational, *, found 'major'",
            "E*- duration: 'soon' is not a duration; write it like *",
            "mockknock outages[[]0[]] is not a valid outage:",
            "  - efect: unknown key 'efect'*",
            "mockknock: something failed inside the mock during test_failing.py::"
            "test_a_failing_step_fails_this_test_at_teardown:",
            "  - scheduled step failed: RuntimeError: kaboom in a scheduled step",
            "E*0 of 50 arrived (something failed inside the mock).",
            "E*Problems inside the mock:",
            "E*- scheduled step failed: RuntimeError: kaboom while waiting",
            "  - webhook failed its schema: message.sent for m does not match its schema: *",
            "E*TypeError: mockknock.wait_for() is for async tests (await it); "
            "in a sync test call mockknock.wait_for_sync(...) instead",
            "E*TypeError: mockknock.settle_sync() would block this async test's event loop*",
            "@pytest.mark.mockknock(...): unknown option(s) sede; known: scenario, seed, auto_advance, webhook_urls, "
            "outages",
            "mockknock scenario 'email-bounce': no bundled scenario named 'email-bounce'; bundled: *email-bounces*",
            "mockknock webhook_urls: webhook URL 'ftp://example.com/hook' must be an absolute http(s) URL*",
        ])

    def test_what_a_review_found(self, project: pytest.Pytester) -> None:
        """A receiver fixture asked for mid-test receives; mistaken options and calls say so at once."""
        project.makepyfile(test_reviewed=REVIEWED)
        result = project.runpytest_subprocess("-rA", timeout=120)
        assert outcomes(result) == {
            "test_a_receiver_asked_for_late_still_receives": "PASSED",
            "test_calls_that_cannot_mean_what_they_say_are_refused": "PASSED",
            "test_webhook_urls_not_a_list": "ERROR",
            "test_knock_event_with_a_text_seed": "ERROR",
        }, result.stdout.str()
        result.stdout.fnmatch_lines_random([
            "mockknock webhook_urls must be a URL or a list of URLs (strings); got 123",
            "mockknock seed must be an integer; got '7'",
        ])

    def test_importing_the_plugin_is_cheap(self) -> None:
        """Every pytest session of a project with mockknock installed imports the plugin: no aiohttp then."""
        code = "import sys, mockknock.pytest_plugin; print(sorted(m for m in ('aiohttp', 'faker') if m in sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "[]"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE)


class TestDocs:
    def test_every_example_in_docs_pytest_md_passes(self, project: pytest.Pytester) -> None:
        """Each ```python block of docs/pytest.md is a test module; all of them pass."""
        blocks = python_blocks(DOCS.read_text(encoding="utf-8"))
        assert len(blocks) >= 6
        expected = 0
        for index, block in enumerate(blocks):
            project.makepyfile(**{f"test_doc_{index}": block})
            expected += len(re.findall(r"^(?:async )?def test_", block, flags=re.MULTILINE))
        result = project.runpytest_subprocess("-rA", timeout=120)
        result.assert_outcomes(passed=expected)
