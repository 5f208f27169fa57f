"""The bundled outage scenarios (scenarios/outage-*.yaml) do what their headers and docs/outages.md promise.

What an app sees over HTTP is checked on a server whose virtual clock moves only through POST
/__mockknock/clock/advance, with the scenario's script sent as real trigger calls (the bodies the script would
make, filled from the same seed) and the official SDK where its retries matter. What the script itself does
(it meets API outages as an SDK would) is checked with OfflineRun, and each scenario is replayed against a
receiver as `mockknock replay` would. The last class is a parser gap found while writing these; it fails
until fixed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import knockapi
import pytest
from knockapi import Knock

from mockknock import replay
from mockknock.errors import ScenarioError
from mockknock.fake import FakeData
from mockknock.offline import OfflineRun
from mockknock.outages import EffectKind, Status
from mockknock.report import ReplayReport
from mockknock.resources import scenarios_dir
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaRegistry
from mockknock.script import fill
from mockknock.server import MockKnockServer
from mockknock.statuspage import format_time
from tests.conftest import AUTH, SECRET, Receiver, ReceiverFactory, ServerFactory

SEED = 1
MINUTE = 60_000_000
NONE = {"indicator": "none", "description": "All Systems Operational"}
PARTIAL = {"indicator": "major", "description": "Partial System Outage"}
MAJOR = {"indicator": "critical", "description": "Major Service Outage"}
DEGRADED = {"indicator": "minor", "description": "Partially Degraded Service"}
MAINTENANCE = {"indicator": "maintenance", "description": "Service Under Maintenance"}


def load(name: str) -> Scenario:
    return load_scenario(scenarios_dir() / f"{name}.yaml")


def window(scenario: Scenario, index: int = 0) -> tuple[int, int]:
    """[start, end) of one of the scenario's outages, as offsets from the start of the simulation."""
    outage = scenario.outages[index]
    return outage.start_us, outage.start_us + outage.duration_us


@dataclass(frozen=True)
class Call:
    """One call of the scenario's script, with the body the script would send for this seed."""

    at_us: int
    workflow: str
    body: dict[str, Any]

    @property
    def recipients(self) -> set[str]:
        return {r["id"] if isinstance(r, dict) else r for r in self.body["recipients"]}


def script_calls(scenario: Scenario, seed: int = SEED) -> list[Call]:
    """Every scripted call in the order the script plays them (time, then file order, then repetition)."""
    fake = FakeData(seed)
    keyed = [
        (
            (offset, index, repetition),
            Call(offset, call.workflow, fill(call.body, fake, "script", str(index), str(repetition))),
        )
        for index, call in enumerate(scenario.script)
        for repetition, offset in enumerate(call.times())
    ]
    return [call for _, call in sorted(keyed, key=lambda pair: pair[0])]


def recipients_of(calls: list[Call]) -> set[str]:
    return {r for call in calls for r in call.recipients}


@dataclass
class Answer:
    call: Call
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def run_id(self) -> str | None:
        found = self.body.get("workflow_run_id")
        return found if isinstance(found, str) else None


class Rehearsal:
    """A server running one bundled outage scenario; its clock moves only when told to."""

    def __init__(
        self, server: MockKnockServer, session: aiohttp.ClientSession, scenario: Scenario, receiver: Receiver
    ) -> None:
        self.server = server
        self.session = session
        self.scenario = scenario
        self.receiver = receiver

    @property
    def elapsed_us(self) -> int:
        return self.server.simulation.clock.now_us() - self.server.settings.start_at_us

    async def advance_to(self, offset_us: int) -> None:
        delta = offset_us - self.elapsed_us
        if delta > 0:
            async with self.session.post(
                f"{self.server.url}/__mockknock/clock/advance", json={"by": f"{delta}us"}
            ) as response:
                assert response.status == 200, await response.text()

    async def trigger(self, call: Call, headers: dict[str, str] | None = None) -> Answer:
        url = f"{self.server.url}/v1/workflows/{call.workflow}/trigger"
        async with self.session.post(url, json=call.body, headers={**AUTH, **(headers or {})}) as response:
            body = await response.json()
            assert isinstance(body, dict)
            return Answer(call, response.status, body, {k.lower(): v for k, v in response.headers.items()})

    async def play(self) -> list[Answer]:
        """Send every scripted call over HTTP at its time, once (no SDK retry)."""
        answers = []
        for call in script_calls(self.scenario):
            await self.advance_to(call.at_us)
            answers.append(await self.trigger(call))
        return answers

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        async with self.session.get(f"{self.server.url}{path}", headers=headers) as response:
            return response.status, await response.json()

    async def status(self) -> dict[str, str]:
        _, body = await self.get("/api/v2/status.json")
        found: dict[str, str] = body["status"]
        return found

    async def failures(self) -> list[dict[str, Any]]:
        _, body = await self.get("/__mockknock/failures")
        items: list[dict[str, Any]] = body["items"]
        return items

    async def settle(self) -> None:
        await self.server.simulation.settle()

    def webhook_recipients(self) -> set[str]:
        return {r.json["data"]["recipient"] for r in self.receiver.received if r.type.startswith("message.")}

    def sequences(self) -> dict[str, list[str]]:
        """Message id -> its event types (without "message."), from what the receiver got, in emission order."""
        found: dict[str, list[str]] = {}
        for received in self.receiver.in_emission_order(self.server.simulation):
            body = received.json
            found.setdefault(body["data"]["id"], []).append(body["type"].removeprefix("message."))
        return found


Rehearse = Callable[[str], Awaitable[Rehearsal]]


@pytest.fixture
async def rehearse(make_server: ServerFactory, receiver: Receiver) -> AsyncIterator[Rehearse]:
    """Start a bundled outage scenario on a manual virtual clock (seed 1), webhooks to ``receiver``."""
    sessions: list[aiohttp.ClientSession] = []

    async def start(name: str) -> Rehearsal:
        scenario = load(name)
        server = await make_server(
            receiver.url, virtual_clock=True, auto_advance=False, seed=SEED, scenario_obj=scenario
        )
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Rehearsal(server, session, scenario, receiver)

    yield start
    for session in sessions:
        await session.close()


SdkFactory = Callable[[MockKnockServer], Knock]


@pytest.fixture
def sdk() -> Iterator[SdkFactory]:
    """Knock clients with the SDK's default retries (3 attempts), closed when the test ends."""
    made: list[Knock] = []

    def factory(server: MockKnockServer) -> Knock:
        client = Knock(api_key="sk_test_outage_scenarios", base_url=server.url)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


async def replay_report(
    name: str, make_receiver: ReceiverFactory, schemas: SchemaRegistry
) -> tuple[ReplayReport, Receiver]:
    """`mockknock replay scenarios/NAME.yaml` against a fresh receiver, seed 1, the test secret."""
    receiver = await make_receiver()
    options = replay.ReplayOptions(seed=SEED, signing_secret=SECRET)
    report = await replay.replay(load(name), receiver.url, options, schemas, None)
    return report, receiver


def assert_replay_passed(report: ReplayReport, receiver: Receiver) -> None:
    delivered = report.check(replay.DELIVERED)
    assert report.exit_code == 0, report.to_json()
    assert delivered.status == "passed" and delivered.failed == 0
    assert report.events == report.events_ok == len(receiver.received) > 0


def replay_note(report: ReplayReport) -> str:
    found = [str(n) for n in report.notes if n.startswith("simulated outages:")]
    assert len(found) == 1, report.notes
    return found[0]


def window_recipients(scenario: Scenario, index: int = 0) -> set[str]:
    start, end = window(scenario, index)
    return recipients_of([c for c in script_calls(scenario) if start <= c.at_us < end])


def offline(name: str, schemas: SchemaRegistry) -> tuple[OfflineRun, list[dict[str, Any]]]:
    run = OfflineRun(load(name), schemas, seed=SEED)
    run.play_script()
    return run, [json.loads(e.body) for e in run.run()]


def by_message(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        found.setdefault(event["data"]["id"], []).append(event)
    return found


class TestSilentDrop22m:
    """outage-silent-drop-22m: triggers answered 200 and silently dropped from +10m to +32m."""

    NAME = "outage-silent-drop-22m"

    def test_window(self) -> None:
        """One API outage, partial_outage, effect drop, +10m for 22 minutes."""
        (outage,) = load(self.NAME).outages
        assert (outage.component, outage.status, outage.effect.kind) == ("api", Status.PARTIAL_OUTAGE, EffectKind.DROP)
        assert (outage.start_us, outage.duration_us) == (10 * MINUTE, 22 * MINUTE)

    async def test_every_trigger_answered_200_and_window_ones_listed_as_dropped(self, rehearse: Rehearse) -> None:
        """All 36 triggers get 200 and a run id; the 14 made in [+10m, +32m) are listed, with their bodies."""
        r = await rehearse(self.NAME)
        answers = await r.play()
        assert len(answers) == 36 and all(a.status == 200 and a.run_id for a in answers)
        start, end = window(r.scenario)
        inside = [a for a in answers if start <= a.call.at_us < end]
        assert len(inside) == 14
        _, dropped = await r.get("/__mockknock/dropped")
        assert [d["workflow_run_id"] for d in dropped["items"]] == [a.run_id for a in inside]
        assert [d["body"] for d in dropped["items"]] == [a.call.body for a in inside]
        failures = await r.failures()
        assert len(failures) == 14 and all("accepted and dropped" in f["what"] for f in failures)

    async def test_dropped_triggers_produce_no_message_and_no_webhook(self, rehearse: Rehearse) -> None:
        """Webhooks name exactly the recipients of triggers outside the window; each message is sent then delivered."""
        r = await rehearse(self.NAME)
        answers = await r.play()
        await r.settle()
        start, end = window(r.scenario)
        outside = [a.call for a in answers if not start <= a.call.at_us < end]
        assert r.webhook_recipients() == recipients_of(outside)
        channels = {"new-comment": 2, "password-reset": 1}
        assert len(r.server.simulation.store.messages) == sum(channels[c.workflow] for c in outside)
        assert all(seq == ["sent", "delivered"] for seq in r.sequences().values())

    async def test_sdk_makes_one_attempt_and_raises_nothing(self, rehearse: Rehearse, sdk: SdkFactory) -> None:
        """Inside the window the SDK gets a run id on its first attempt: one request, one drop."""
        r = await rehearse(self.NAME)
        await r.advance_to(15 * MINUTE)
        result = await asyncio.to_thread(sdk(r.server).workflows.trigger, "new-comment", recipients=["u_sdk"])
        assert result.workflow_run_id
        failures = await r.failures()
        assert [f["subject"] for f in failures] == [result.workflow_run_id]
        await r.settle()
        assert r.receiver.received == []

    async def test_resend_needs_a_new_idempotency_key(self, rehearse: Rehearse) -> None:
        """Resent with the dropped call's Idempotency-Key: the dropped 200 is replayed; with a new key: it runs."""
        r = await rehearse(self.NAME)
        call = Call(0, "password-reset", {"recipients": ["u_resend"], "data": {"reset_url": "https://x.test/r"}})
        await r.advance_to(15 * MINUTE)
        dropped = await r.trigger(call, {"Idempotency-Key": "reset-1"})
        await r.advance_to(32 * MINUTE)
        same_key = await r.trigger(call, {"Idempotency-Key": "reset-1"})
        assert same_key.run_id == dropped.run_id and same_key.headers["idempotent-replayed"] == "true"
        await r.settle()
        assert r.receiver.received == []
        new_key = await r.trigger(call, {"Idempotency-Key": "reset-1-resend"})
        assert new_key.status == 200 and new_key.run_id != dropped.run_id
        await r.settle()
        assert list(r.sequences().values()) == [["sent", "delivered"]]

    async def test_status_page_during_and_after(self, rehearse: Rehearse) -> None:
        """status.json: none before +10m, major (Partial System Outage) until +32m, none after; incident resolved."""
        r = await rehearse(self.NAME)
        seen = []
        for minute in (0, 9, 10, 31, 32, 60):
            await r.advance_to(minute * MINUTE)
            seen.append(await r.status())
        assert seen == [NONE, NONE, PARTIAL, PARTIAL, NONE, NONE]
        _, incidents = await r.get("/api/v2/incidents.json")
        (incident,) = incidents["incidents"]
        assert incident["name"] == "Workflow triggers accepted but not processed"
        assert incident["status"] == "resolved" and [c["name"] for c in incident["components"]] == ["API"]

    def test_script_drops_the_window_triggers(self, schemas: SchemaRegistry) -> None:
        """OfflineRun: the script's 14 triggers in the window are accepted and dropped; the other 22 run."""
        run, events = offline(self.NAME, schemas)
        dropped = [p for p in run.script.played if p.dropped]
        assert len(run.script.played) == 36 and len(dropped) == 14 and not run.problems()
        assert all(run.store.runs[str(p.workflow_run_id)].dropped_reason for p in dropped)
        ran = {m.source.workflow_run_id for m in run.store.messages.values()}
        assert not ran & {p.workflow_run_id for p in dropped}
        assert len(run.store.messages) == 19 * 2 + 3 == len({e["data"]["id"] for e in events})

    async def test_replay_passes_and_dropped_triggers_send_nothing(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry
    ) -> None:
        """`mockknock replay` exits 0, notes 14 dropped triggers, and no webhook names their recipients."""
        report, receiver = await replay_report(self.NAME, make_receiver, schemas)
        assert_replay_passed(report, receiver)
        assert "0 scripted triggers failed after the SDK's retries, 14 were accepted and dropped" in replay_note(report)
        received = {r.json["data"]["recipient"] for r in receiver.received}
        assert received and not received & window_recipients(load(self.NAME))


class TestApi5xxStorm:
    """outage-api-5xx-storm: 30% of calls 502/503 from +10m to +40m, every call from +20m to +30m."""

    NAME = "outage-api-5xx-storm"

    def test_windows(self) -> None:
        """Partial outage +10m..+40m (30%, half accepted first) around a major one +20m..+30m (all, none accepted)."""
        scenario = load(self.NAME)
        partial, major = scenario.outages
        assert window(scenario, 0) == (10 * MINUTE, 40 * MINUTE) and window(scenario, 1) == (20 * MINUTE, 30 * MINUTE)
        assert (partial.effect.kind, partial.effect.fraction, partial.effect.accepted_fraction) == (
            EffectKind.ERRORS,
            0.3,
            0.5,
        )
        assert (major.effect.kind, major.effect.fraction, major.effect.accepted_fraction) == (
            EffectKind.ERRORS,
            1.0,
            0.0,
        )
        assert partial.effect.statuses == major.effect.statuses == (502, 503)

    async def test_http_answers_by_phase(self, rehearse: Rehearse) -> None:
        """200 outside +10m..+40m; 502/503 from out_2 for every call +20m..+30m; 200 or 502/503 from out_1 otherwise."""
        r = await rehearse(self.NAME)
        answers = await r.play()
        (start, end), (worst_start, worst_end) = window(r.scenario, 0), window(r.scenario, 1)
        for answer in answers:
            at = answer.call.at_us
            if not start <= at < end:
                assert answer.status == 200
            elif worst_start <= at < worst_end:
                assert answer.status in (502, 503) and answer.headers["x-mockknock-simulated-outage"] == "out_2"
                assert answer.body["code"] in ("bad_gateway", "service_unavailable")
            elif answer.status != 200:
                assert answer.status in (502, 503) and answer.headers["x-mockknock-simulated-outage"] == "out_1"
        assert len([a for a in answers if worst_start <= a.call.at_us < worst_end]) == 5

    async def test_webhooks_only_for_accepted_triggers(self, rehearse: Rehearse) -> None:
        """Webhooks name exactly the recipients of accepted triggers: 200s and the 5xx answered after acceptance."""
        r = await rehearse(self.NAME)
        answers = await r.play()
        await r.settle()
        accepted_then_failed = {f["subject"] for f in await r.failures() if "accepted, then answered" in f["what"]}
        ran = [a.call for a in answers if a.status == 200 or a.headers["x-request-id"] in accepted_then_failed]
        assert r.webhook_recipients() == recipients_of(ran)
        assert len(r.server.simulation.store.runs) == len(ran)
        assert all(seq == ["sent", "delivered"] for seq in r.sequences().values())

    async def test_partial_phase_fails_about_30_percent(self, rehearse: Rehearse) -> None:
        """60 calls at +12m: roughly 30% 502/503, and some of those failed triggers had already run."""
        r = await rehearse(self.NAME)
        await r.advance_to(12 * MINUTE)
        call = Call(0, "order-confirmation", {"recipients": ["u_burst"]})
        answers = [await r.trigger(call) for _ in range(60)]
        failed = [a for a in answers if a.status != 200]
        assert 8 <= len(failed) <= 30 and {a.status for a in failed} <= {502, 503}
        accepted = [f for f in await r.failures() if "accepted, then answered" in f["what"]]
        assert 0 < len(accepted) < len(failed)
        assert len(r.server.simulation.store.runs) == 60 - len(failed) + len(accepted)

    async def test_sdk_three_attempts_then_internal_server_error(self, rehearse: Rehearse, sdk: SdkFactory) -> None:
        """At +20m the SDK tries 3 times, gets 502/503 each time, raises InternalServerError; nothing runs."""
        r = await rehearse(self.NAME)
        await r.advance_to(20 * MINUTE)
        with pytest.raises(knockapi.InternalServerError) as info:
            await asyncio.to_thread(sdk(r.server).workflows.trigger, "order-confirmation", recipients=["u_sdk"])
        assert info.value.status_code in (502, 503)
        failures = await r.failures()
        assert len(failures) == 3 and {f["outage_id"] for f in failures} == {"out_2"}
        assert not r.server.simulation.store.runs

    async def test_status_page_phases(self, rehearse: Rehearse) -> None:
        """status.json: none, major (+10m), critical (+20m), major (+30m), none (+40m); two incidents, both resolved."""
        r = await rehearse(self.NAME)
        seen = []
        for minute in (0, 10, 20, 29, 30, 39, 40):
            await r.advance_to(minute * MINUTE)
            seen.append(await r.status())
        assert seen == [NONE, PARTIAL, MAJOR, MAJOR, PARTIAL, PARTIAL, NONE]
        _, incidents = await r.get("/api/v2/incidents.json")
        assert [(i["name"], i["status"]) for i in incidents["incidents"]] == [
            ("API unavailable", "resolved"),
            ("Elevated API error rates", "resolved"),
        ]

    def test_script_meets_the_storm_like_the_sdk(self, schemas: SchemaRegistry) -> None:
        """OfflineRun: scripted calls in +20m..+30m fail 3 times (502/503), run nothing; none fail outside the storm."""
        run, _ = offline(self.NAME, schemas)
        t0 = min(p.at_us for p in run.script.played)
        (start, end), (worst_start, worst_end) = window(run.engine.scenario, 0), window(run.engine.scenario, 1)
        for played in run.script.played:
            at = played.at_us - t0
            if not start <= at < end:
                assert played.outage_id is None and played.workflow_run_id
            elif worst_start <= at < worst_end:
                assert played.outage_id == "out_2" and len(played.attempts) == 3 and not played.workflow_run_id
                assert set(played.attempts) <= {"502", "503"} and "on all 3 attempts" in str(played.error)
            else:
                assert len(played.attempts) <= 3 and set(played.attempts) <= {"502", "503"}
        assert not run.problems()

    async def test_replay_passes_and_refused_triggers_send_nothing(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry
    ) -> None:
        """`mockknock replay` exits 0, notes the scripted triggers that failed, none from +20m..+30m get a webhook."""
        report, receiver = await replay_report(self.NAME, make_receiver, schemas)
        assert_replay_passed(report, receiver)
        failed = int(replay_note(report).removeprefix("simulated outages: ").split()[0])
        assert 5 <= failed < 30
        received = {r.json["data"]["recipient"] for r in receiver.received}
        assert received and not received & window_recipients(load(self.NAME), 1)


class TestRateLimiting:
    """outage-rate-limiting: half of all API calls answered 429 (retry-after: 1) from +10m to +30m."""

    NAME = "outage-rate-limiting"

    def test_window(self) -> None:
        """API degraded_performance +10m..+30m with rate_limit on 50% of calls, retry-after 1s."""
        scenario = load(self.NAME)
        (outage,) = scenario.outages
        assert (outage.component, outage.status) == ("api", Status.DEGRADED_PERFORMANCE)
        assert (outage.effect.kind, outage.effect.fraction, outage.effect.retry_after_s) == (
            EffectKind.RATE_LIMIT,
            0.5,
            1,
        )
        assert window(scenario) == (10 * MINUTE, 30 * MINUTE)

    async def test_http_answers_and_runs(self, rehearse: Rehearse) -> None:
        """200 outside the window; 200 or 429 (rate_limit_exceeded, retry-after: 1) inside; a 429 never runs."""
        r = await rehearse(self.NAME)
        answers = await r.play()
        await r.settle()
        start, end = window(r.scenario)
        inside = [a for a in answers if start <= a.call.at_us < end]
        assert len(answers) == 42 and len(inside) == 22
        assert all(a.status == 200 for a in answers if a not in inside)
        limited = [a for a in inside if a.status != 200]
        assert 0 < len(limited) < len(inside)
        for answer in limited:
            assert answer.status == 429 and answer.body["code"] == "rate_limit_exceeded"
            assert answer.headers["retry-after"] == "1" and answer.headers["x-mockknock-simulated-outage"] == "out_1"
        ran = [a.call for a in answers if a.status == 200]
        assert len(r.server.simulation.store.runs) == len(ran)
        assert r.webhook_recipients() == recipients_of(ran)
        assert all(seq == ["sent", "delivered"] for seq in r.sequences().values())

    async def test_sdk_retries_after_the_retry_after(self, rehearse: Rehearse, sdk: SdkFactory) -> None:
        """The SDK makes at most 3 attempts, waiting retry-after (1s) after each 429; then a run or RateLimitError."""
        r = await rehearse(self.NAME)
        await r.advance_to(15 * MINUTE)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            result = await asyncio.to_thread(sdk(r.server).workflows.trigger, "mention", recipients=["u_sdk"])
        except knockapi.RateLimitError:
            limited, runs = 3, 0
        else:
            limited, runs = len(await r.failures()), 1
            assert result.workflow_run_id in r.server.simulation.store.runs
        assert len(await r.failures()) == limited <= 3 and len(r.server.simulation.store.runs) == runs
        assert loop.time() - started >= 0.95 * min(limited, 2), "one retry-after second before each retry"

    async def test_status_page_phases(self, rehearse: Rehearse) -> None:
        """status.json: none before +10m, minor (Partially Degraded Service) during, none from +30m."""
        r = await rehearse(self.NAME)
        seen = []
        for minute in (0, 10, 29, 30):
            await r.advance_to(minute * MINUTE)
            seen.append(await r.status())
        assert seen == [NONE, DEGRADED, DEGRADED, NONE]

    def test_script_meets_429s_like_the_sdk(self, schemas: SchemaRegistry) -> None:
        """OfflineRun: scripted calls in the window get 429s, retried 1s apart (retry-after), at most 3 attempts."""
        run, _ = offline(self.NAME, schemas)
        t0 = min(p.at_us for p in run.script.played)
        start, end = window(run.engine.scenario)
        limited = [p for p in run.script.played if p.outage_id is not None]
        assert limited and all(start <= p.at_us - t0 < end for p in limited)
        assert all(set(p.attempts) == {"429"} and len(p.attempts) <= 3 for p in limited)
        given_up = [p for p in limited if p.error]
        assert all(len(p.attempts) == 3 and not p.workflow_run_id for p in given_up)
        assert len(run.store.runs) == len(run.script.played) - len(given_up)
        times: dict[str, list[int]] = {}
        for failure in run.outages.failures:
            times.setdefault(failure.subject, []).append(failure.at_us)
        assert all(b - a == 1_000_000 for at in times.values() for a, b in itertools.pairwise(at))

    async def test_replay_passes_and_notes_the_refused(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry
    ) -> None:
        """`mockknock replay` exits 0 and notes how many scripted triggers failed after the SDK's retries."""
        report, receiver = await replay_report(self.NAME, make_receiver, schemas)
        assert_replay_passed(report, receiver)
        assert "scripted triggers failed after the SDK's retries, 0 were accepted and dropped" in replay_note(report)


@dataclass(frozen=True)
class Arrival:
    seq: int
    created_us: int  # offset from start
    arrived_us: int  # simulated offset when the attempt ended
    attempt: int
    ok: bool


class TestWebhookCatchUp:
    """outage-webhook-catch-up: webhook delivery paused from +10m to +40m, then caught up in order."""

    NAME = "outage-webhook-catch-up"

    def test_window(self) -> None:
        """Webhook delivery major_outage +10m..+40m: the default effect, pause."""
        scenario = load(self.NAME)
        (outage,) = scenario.outages
        assert (outage.component, outage.status, outage.effect.kind) == (
            "webhook_delivery",
            Status.MAJOR_OUTAGE,
            EffectKind.PAUSE,
        )
        assert window(scenario) == (10 * MINUTE, 40 * MINUTE)

    async def test_held_events_arrive_at_40m_on_first_attempt(self, rehearse: Rehearse) -> None:
        """The script played on the server: nothing arrives in [+10m, +40m); every held event arrives at +40m, once."""
        r = await rehearse(self.NAME)
        sim = r.server.simulation
        start_us = r.server.settings.start_at_us
        arrivals: list[Arrival] = []
        sim.delivery.listeners.append(
            lambda event, attempt: arrivals.append(
                Arrival(
                    event.seq,
                    event.created_at_us - start_us,
                    sim.clock.now_us() - start_us,
                    attempt.attempt,
                    attempt.ok,
                )
            )
        )
        assert sim.play_script() == 30
        await r.settle()
        start, end = window(r.scenario)
        assert len(arrivals) == sim.store.events_emitted == len(r.receiver.received)
        assert all(a.attempt == 1 and a.ok for a in arrivals)
        assert not [a for a in arrivals if start <= a.arrived_us < end], "nothing arrives during the pause"
        held = [a for a in arrivals if start <= a.created_us < end]
        assert held and all(end <= a.arrived_us < end + MINUTE for a in held)
        assert all(a.arrived_us - a.created_us < MINUTE for a in arrivals if a not in held)
        assert sorted(e.body for e in sim.store.events) == sorted(x.body for x in r.receiver.received)

    async def test_api_unaffected_and_status_page(self, rehearse: Rehearse) -> None:
        """During the pause triggers get 200 and messages are delivered, no webhook arrives; status.json critical."""
        r = await rehearse(self.NAME)
        assert await r.status() == NONE
        await r.advance_to(12 * MINUTE)
        call = Call(0, "new-message", {"recipients": ["u_held"], "data": {"preview": "hi"}})
        answer = await r.trigger(call)
        assert answer.status == 200
        await r.advance_to(13 * MINUTE)
        _, messages = await r.get("/v1/messages?recipient=u_held", headers=AUTH)
        assert sorted(m["status"] for m in messages["items"]) == ["delivered", "delivered"]
        assert await r.status() == MAJOR and r.receiver.received == []
        await r.advance_to(40 * MINUTE)
        assert await r.status() == NONE
        received = await r.receiver.wait_for(5)
        assert sorted(x.type for x in received) == [
            "message.delivered",
            "message.delivered",
            "message.seen",
            "message.sent",
            "message.sent",
        ]

    async def test_held_webhooks_caught_up_in_emission_order(self, rehearse: Rehearse) -> None:
        """On the server, the receiver gets the held events one after another in the order they were emitted."""
        r = await rehearse(self.NAME)
        sim = r.server.simulation
        sim.play_script()
        await r.settle()
        start, end = (r.server.settings.start_at_us + edge for edge in window(r.scenario))
        emitted = [e.body for e in sim.store.events if start <= e.created_at_us < end]
        held = set(emitted)
        assert [x.body for x in r.receiver.received if x.body in held] == emitted

    async def test_replay_delivers_everything_on_first_attempt(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry
    ) -> None:
        """`mockknock replay` exits 0 with no retry: every event arrives once, in emission (created_at) order."""
        report, receiver = await replay_report(self.NAME, make_receiver, schemas)
        assert_replay_passed(report, receiver)
        assert report.retries == 0 and report.attempts == report.events
        stamps = [x.json["created_at"] for x in receiver.received]
        assert stamps == sorted(stamps)
        assert report.simulated_us >= 40 * MINUTE


class TestSendgridPartial:
    """outage-sendgrid-partial: SendGrid fails half of the sends from +10m to +50m."""

    NAME = "outage-sendgrid-partial"

    def test_window(self) -> None:
        """SendGrid partial_outage +10m..+50m: provider_failure on 50% of sends."""
        scenario = load(self.NAME)
        (outage,) = scenario.outages
        assert (outage.component, outage.status) == ("sendgrid", Status.PARTIAL_OUTAGE)
        assert (outage.effect.kind, outage.effect.fraction) == (EffectKind.PROVIDER_FAILURE, 0.5)
        assert window(scenario) == (10 * MINUTE, 50 * MINUTE)

    def test_in_app_and_sms_untouched(self, schemas: SchemaRegistry) -> None:
        """In-app and Twilio SMS messages are always sent then delivered."""
        run, events = offline(self.NAME, schemas)
        grouped = by_message(events)
        others = [m for m in run.store.messages.values() if m.channel.provider != "sendgrid"]
        assert len(others) == 36
        for message in others:
            assert [e["type"] for e in grouped[message.id]] == ["message.sent", "message.delivered"]

    def test_emails_recover_or_exhaust_inside_the_window(self, schemas: SchemaRegistry) -> None:
        """Emails outside the window are clean; hit ones retry (attempt 1..n of 8) inside it, then recover or end."""
        run, events = offline(self.NAME, schemas)
        t0 = min(m.inserted_at_us for m in run.store.messages.values())  # the script's first call, at +0m
        start, end = (t0 + edge for edge in window(run.engine.scenario))
        grouped = by_message(events)
        hit = 0
        for message in run.store.messages.values():
            if message.channel.provider != "sendgrid":
                continue
            history = grouped[message.id]
            types = [e["type"].removeprefix("message.") for e in history]
            tried = [e for e in history if e["type"] == "message.delivery_attempted"]
            if not start <= message.inserted_at_us < end:
                assert types == ["sent", "delivered"]
                continue
            if not tried:
                assert types == ["sent", "delivered"]
                continue
            hit += 1
            assert [e["event_data"]["attempt"] for e in tried] == list(range(1, len(tried) + 1))
            assert {e["event_data"]["max_attempts"] for e in tried} == {8}
            assert all(start <= created_us(e) < end for e in tried)
            if types[-1] == "undelivered":
                assert types == ["delivery_attempted"] * 8 + ["undelivered"]
                assert history[-1]["event_data"]["failure_reason"] == "retries_exhausted"
            else:
                assert types == ["delivery_attempted"] * len(tried) + ["sent", "delivered"]
                assert created_us(history[-2]) >= end
        inside = [
            m
            for m in run.store.messages.values()
            if m.channel.provider == "sendgrid" and start <= m.inserted_at_us < end
        ]
        assert len(inside) == 20 and 0 < hit < 20

    def test_early_hits_exhaust_late_hits_recover(self, schemas: SchemaRegistry) -> None:
        """Emails hit at +10m..+18m end undelivered; emails hit at +30m..+48m are delivered after +50m."""
        run, events = offline(self.NAME, schemas)
        t0 = min(m.inserted_at_us for m in run.store.messages.values())
        grouped = by_message(events)
        early, late = [], []
        for message in run.store.messages.values():
            types = [e["type"] for e in grouped[message.id]]
            if "message.delivery_attempted" not in types:
                continue
            offset = message.inserted_at_us - t0
            if offset < 20 * MINUTE:
                early.append(types[-1])
            elif offset > 30 * MINUTE:
                late.append(types[-1])
        assert early and set(early) == {"message.undelivered"}
        assert late and set(late) == {"message.delivered"}

    def test_retry_waits_follow_the_provider_schedule(self, schemas: SchemaRegistry) -> None:
        """Waits between attempts are 15s doubling, capped at 10m, +/-20%."""
        _, events = offline(self.NAME, schemas)
        for history in by_message(events).values():
            times = [created_us(e) for e in history if e["type"] == "message.delivery_attempted"]
            for n, (before, after) in enumerate(itertools.pairwise(times), start=1):
                nominal = min(15_000_000 << (n - 1), 10 * MINUTE)
                assert 0.8 * nominal - 1 <= after - before <= 1.2 * nominal + 1, (n, after - before)

    async def test_status_page_phases(self, rehearse: Rehearse) -> None:
        """status.json major (Partial System Outage) +10m..+50m; SendGrid partial_outage under Third-party providers."""
        r = await rehearse(self.NAME)
        seen = []
        for minute in (0, 10, 49, 50):
            await r.advance_to(minute * MINUTE)
            seen.append(await r.status())
            if minute == 10:
                _, components = await r.get("/api/v2/components.json")
                named = {c["name"]: c for c in components["components"]}
                assert named["SendGrid"]["status"] == "partial_outage"
                assert named["Third-party providers"]["status"] == "partial_outage"
                assert named["API"]["status"] == named["Notification delivery"]["status"] == "operational"
        assert seen == [NONE, PARTIAL, PARTIAL, NONE]

    async def test_replay_passes_delivered(self, make_receiver: ReceiverFactory, schemas: SchemaRegistry) -> None:
        """`mockknock replay` exits 0, the delivery_attempted and undelivered webhooks delivered too."""
        report, receiver = await replay_report(self.NAME, make_receiver, schemas)
        assert_replay_passed(report, receiver)
        types = set(receiver.types())
        assert {"message.delivery_attempted", "message.undelivered", "message.delivered"} <= types


def created_us(event: dict[str, Any]) -> int:
    stamp = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
    return round(stamp.timestamp() * 1_000_000)


class TestMaintenanceWindow:
    """outage-maintenance-window: scheduled API maintenance from +20m to +35m, every call 503 meanwhile."""

    NAME = "outage-maintenance-window"

    def test_window(self) -> None:
        """API under_maintenance +20m..+35m: errors, 503 only, on every call."""
        scenario = load(self.NAME)
        (outage,) = scenario.outages
        assert (outage.component, outage.status) == ("api", Status.UNDER_MAINTENANCE)
        assert (outage.effect.kind, outage.effect.statuses, outage.effect.fraction) == (EffectKind.ERRORS, (503,), 1.0)
        assert window(scenario) == (20 * MINUTE, 35 * MINUTE)

    async def test_http_answers_and_webhooks(self, rehearse: Rehearse) -> None:
        """200 outside +20m..+35m, 503 service_unavailable inside (nothing runs); webhooks only for the 200s."""
        r = await rehearse(self.NAME)
        answers = await r.play()
        await r.settle()
        start, end = window(r.scenario)
        inside = [a for a in answers if start <= a.call.at_us < end]
        assert len(inside) == 8
        for answer in answers:
            if answer in inside:
                assert answer.status == 503 and answer.body["code"] == "service_unavailable"
                assert answer.headers["x-mockknock-simulated-outage"] == "out_1"
            else:
                assert answer.status == 200
        ran = [a.call for a in answers if a not in inside]
        assert len(r.server.simulation.store.runs) == len(ran)
        assert r.webhook_recipients() == recipients_of(ran)
        assert all(seq == ["sent", "delivered"] for seq in r.sequences().values())

    async def test_reads_refused_too_and_sdk_gives_up(self, rehearse: Rehearse, sdk: SdkFactory) -> None:
        """In the window GET /v1/messages is 503 too, and the SDK raises InternalServerError (503) after 3 attempts."""
        r = await rehearse(self.NAME)
        await r.advance_to(20 * MINUTE)
        status, body = await r.get("/v1/messages", headers=AUTH)
        assert status == 503 and body["code"] == "service_unavailable"
        with pytest.raises(knockapi.InternalServerError) as info:
            await asyncio.to_thread(sdk(r.server).workflows.trigger, "daily-reminder", recipients=["u_sdk"])
        assert info.value.status_code == 503
        assert len(await r.failures()) == 1 + 3 and not r.server.simulation.store.runs

    async def test_status_page_scheduled_in_progress_completed(self, rehearse: Rehearse) -> None:
        """Upcoming from the start, in progress +20m..+35m (status.json maintenance), then completed (none)."""
        r = await rehearse(self.NAME)
        t0 = r.server.settings.start_at_us
        _, upcoming = await r.get("/api/v2/scheduled-maintenances/upcoming.json")
        (planned,) = upcoming["scheduled_maintenances"]
        assert planned["name"] == "Scheduled database maintenance" and planned["status"] == "scheduled"
        assert planned["scheduled_for"] == format_time(t0 + 20 * MINUTE)
        assert planned["scheduled_until"] == format_time(t0 + 35 * MINUTE)
        assert await r.status() == NONE
        await r.advance_to(20 * MINUTE)
        _, active = await r.get("/api/v2/scheduled-maintenances/active.json")
        assert [m["status"] for m in active["scheduled_maintenances"]] == ["in_progress"]
        assert await r.status() == MAINTENANCE
        await r.advance_to(35 * MINUTE)
        _, everything = await r.get("/api/v2/scheduled-maintenances.json")
        assert [m["status"] for m in everything["scheduled_maintenances"]] == ["completed"]
        assert await r.status() == NONE
        _, incidents = await r.get("/api/v2/incidents.json")
        assert incidents["incidents"] == [], "a maintenance is not an incident"

    def test_script_meets_the_maintenance_like_the_sdk(self, schemas: SchemaRegistry) -> None:
        """OfflineRun: the 8 scripted calls in the window get 503 three times and run nothing; the other 22 run."""
        run, _ = offline(self.NAME, schemas)
        refused = [p for p in run.script.played if p.outage_id is not None]
        assert len(refused) == 8 and all(p.attempts == ["503"] * 3 and not p.workflow_run_id for p in refused)
        assert len(run.store.runs) == 22 and not run.problems()

    async def test_replay_passes_and_refused_triggers_send_nothing(
        self, make_receiver: ReceiverFactory, schemas: SchemaRegistry
    ) -> None:
        """`mockknock replay` exits 0, notes 8 failed scripted triggers; none from +20m..+35m gets a webhook."""
        report, receiver = await replay_report(self.NAME, make_receiver, schemas)
        assert_replay_passed(report, receiver)
        assert "8 scripted triggers failed after the SDK's retries, 0 were accepted and dropped" in replay_note(report)
        received = {r.json["data"]["recipient"] for r in receiver.received}
        assert received and not received & window_recipients(load(self.NAME))


# ----------------------------------------------------------------------------- parser gap
# Found while writing these (the bundled outage scripts carry `data:`): fails until the parser checks it.

SCRIPT_WITH_BAD_DATA = """\
version: 1
name: bad-script-data
unknown_workflows: accept
script:
  - {at: 0s, workflow: wf, recipients: [u1], data: api}
"""


class TestScriptTriggerFields:
    """Parser gap: `mockknock validate` accepts scripted calls whose trigger fields the script player refuses."""

    def test_validate_refuses_data_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        """`data: api` in a scripted call is a problem at script[0].data (today: valid, then refused with a 422)."""
        path = tmp_path / "bad-script-data.yaml"
        path.write_text(SCRIPT_WITH_BAD_DATA, encoding="utf-8")
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert "script[0].data" in str(info.value)
