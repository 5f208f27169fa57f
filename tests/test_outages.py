"""Simulated outages, per component and effect; through the official SDK where the SDK is what sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import knockapi
import pytest
from knockapi import Knock

from mockknock.errors import ScenarioError
from mockknock.offline import OfflineRun
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaRegistry
from mockknock.server import MockKnockServer
from tests.conftest import AUTH, Receiver, ServerFactory

BASE = """
version: 1
name: outage-test
unknown_workflows: accept
channels:
  in-app: {type: in_app_feed, provider: knock}
  email: {type: email, provider: sendgrid}
lifecycles:
  - match: {channel_type: email}
    events: [+1s sent, +2s delivered, +1m seen, +10s link_clicked(https://example.com/x)]
"""


def scenario(tmp_path: Path, outages: str = "") -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(BASE + (f"outages:\n{outages}" if outages else ""))
    return load_scenario(path)


SdkFactory = Callable[..., Knock]


@pytest.fixture
def sdk() -> Iterator[SdkFactory]:
    """Knock clients pointed at a server, closed when the test ends."""
    made: list[Knock] = []

    def factory(server: MockKnockServer, retries: int = 2) -> Knock:
        client = Knock(api_key="sk_test_outage", base_url=server.url, max_retries=retries)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


async def control(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, json=body) as response:
        return response.status, await response.json()


def api_hits(server: MockKnockServer) -> int:
    """Trigger calls the server saw: accepted runs plus the simulated failures it answered."""
    return len(server.simulation.store.runs) + sum(
        1 for f in server.simulation.outages.failures if "answered" in f.what and "accepted" not in f.what
    )


class TestApiOutages:
    """The API component: errors, rate limits, latency and drops, as the SDK experiences them."""

    async def test_major_outage_exhausts_sdk_retries(
        self, sdk: SdkFactory, make_server: ServerFactory, tmp_path: Path
    ) -> None:
        """Every call fails 502/503: the SDK tries 3 times (counted on the server) and raises InternalServerError."""
        outage = "  - {component: api, status: major_outage, start: 0s, duration: 1h}\n"
        server = await make_server(virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path, outage))
        with pytest.raises(knockapi.InternalServerError) as info:
            await asyncio.to_thread(sdk(server).workflows.trigger, "wf", recipients=["u1"])
        assert info.value.status_code in (502, 503)
        failures = server.simulation.outages.failures
        assert len(failures) == 3 and all(f.outage_id == "out_1" for f in failures)
        assert not server.simulation.store.runs

    async def test_rate_limit_answers_429_with_retry_after(
        self, sdk: SdkFactory, make_server: ServerFactory, tmp_path: Path
    ) -> None:
        """429 with retry-after: 1; the SDK waits and retries; RateLimitError after 3 attempts."""
        outage = (
            "  - {component: api, status: partial_outage, duration: 1h, effect: {kind: rate_limit, fraction: 1.0}}\n"
        )
        server = await make_server(virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path, outage))
        started = asyncio.get_running_loop().time()
        with pytest.raises(knockapi.RateLimitError) as info:
            await asyncio.to_thread(sdk(server).workflows.trigger, "wf", recipients=["u1"])
        assert info.value.response.headers["retry-after"] == "1"
        assert len(server.simulation.outages.failures) == 3
        assert asyncio.get_running_loop().time() - started >= 1.9, "the SDK honours retry-after: 1"

    async def test_partial_outage_accepted_then_5xx_makes_second_run(
        self, sdk: SdkFactory, make_server: ServerFactory, tmp_path: Path
    ) -> None:
        """A 5xx after the trigger was accepted is retried by the SDK, creating a second run, as on Knock."""
        outage = (
            "  - {component: api, status: partial_outage, duration: 1h,"
            " effect: {fraction: 1.0, accepted_fraction: 1.0, statuses: [502]}}\n"
        )
        server = await make_server(virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path, outage))
        with pytest.raises(knockapi.InternalServerError):
            await asyncio.to_thread(sdk(server).workflows.trigger, "wf", recipients=["u1"])
        assert len(server.simulation.store.runs) == 3, "each of the SDK's 3 attempts was accepted before its 502"
        assert all("accepted, then answered 502" in f.what for f in server.simulation.outages.failures)

    async def test_partial_outage_fails_a_seeded_fraction(self, make_server: ServerFactory, tmp_path: Path) -> None:
        """30% of calls fail; with the SDK's retries nearly all triggers get through."""
        outage = "  - {component: api, status: partial_outage, duration: 1h, effect: {accepted_fraction: 0}}\n"
        server = await make_server(virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path, outage))
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(200):
                async with session.post(
                    f"{server.url}/v1/workflows/wf/trigger", json={"recipients": ["u1"]}, headers=AUTH
                ) as response:
                    statuses.append(response.status)
                    if response.status != 200:
                        assert response.headers["x-mockknock-simulated-outage"] == "out_1"
        failed = sum(1 for s in statuses if s != 200)
        assert 35 < failed < 85
        assert set(statuses) <= {200, 502, 503}

    async def test_degraded_api_is_slow(self, sdk: SdkFactory, make_server: ServerFactory, tmp_path: Path) -> None:
        """Degraded performance adds latency to answers, which still succeed."""
        outage = "  - {component: api, status: degraded_performance, duration: 1h, effect: {latency: 300ms}}\n"
        server = await make_server(virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path, outage))
        started = asyncio.get_running_loop().time()
        result = await asyncio.to_thread(sdk(server).workflows.trigger, "wf", recipients=["u1"])
        assert result.workflow_run_id
        assert asyncio.get_running_loop().time() - started >= 0.3

    async def test_outage_window_starts_and_ends_on_the_clock(
        self, sdk: SdkFactory, make_server: ServerFactory, tmp_path: Path
    ) -> None:
        """Before the window calls succeed, inside they fail, after it they succeed again."""
        outage = "  - {component: api, status: major_outage, start: 10m, duration: 5m}\n"
        server = await make_server(virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path, outage))
        client = sdk(server, retries=0)
        assert await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])
        await control("POST", f"{server.url}/__mockknock/clock/advance", {"by": "10m"})
        with pytest.raises(knockapi.InternalServerError):
            await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])
        await control("POST", f"{server.url}/__mockknock/clock/advance", {"by": "5m"})
        assert await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])


class TestSilentDrop:
    """Knock's 24 May 2023 incident: triggers answered 200 and silently dropped for 22 minutes."""

    async def test_22_minute_silent_drop_on_the_virtual_clock(
        self, sdk: SdkFactory, make_server: ServerFactory, receiver: Receiver, tmp_path: Path
    ) -> None:
        """In the window: 200, a run id, nothing else; after it triggers flow; the dropped ones can be listed."""
        outage = "  - {component: api, status: partial_outage, start: 5m, duration: 22m, effect: drop}\n"
        server = await make_server(
            receiver.url, virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path, outage)
        )
        client = sdk(server, retries=0)
        url = server.url
        before = await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])
        await control("POST", f"{url}/__mockknock/clock/advance", {"by": "6m"})
        dropped = [
            await asyncio.to_thread(client.workflows.trigger, "wf", recipients=[f"d{i}"], data={"i": i})
            for i in range(3)
        ]
        await control("POST", f"{url}/__mockknock/clock/advance", {"by": "22m"})
        after = await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u2"])
        await server.simulation.settle()
        recipients = {r.json["data"]["recipient"] for r in receiver.received}
        assert recipients == {"u1", "u2"}, "dropped triggers produce no messages and no webhooks"
        assert all(d.workflow_run_id for d in dropped)
        _, body = await control("GET", f"{url}/__mockknock/dropped")
        assert [item["workflow_run_id"] for item in body["items"]] == [d.workflow_run_id for d in dropped]
        assert [item["body"]["data"] for item in body["items"]] == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert all("simulated outage out_1" in item["reason"] for item in body["items"])
        assert before.workflow_run_id and after.workflow_run_id
        runs = {r.id: r for r in server.simulation.store.runs.values()}
        assert runs[after.workflow_run_id].dropped_reason is None


class TestWebhookDeliveryOutages:
    """The Webhook delivery component."""

    async def test_paused_then_caught_up_in_order(
        self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path
    ) -> None:
        """Events emitted during a pause arrive after it, in emission order, on their first attempt."""
        outage = "  - {component: webhook_delivery, status: major_outage, start: 0s, duration: 30m}\n"
        server = await make_server(receiver.url, virtual_clock=True, scenario_obj=scenario(tmp_path, outage))
        async with aiohttp.ClientSession() as session:
            for user in ("u1", "u2"):
                await session.post(f"{server.url}/v1/workflows/wf/trigger", json={"recipients": [user]}, headers=AUTH)
        await server.simulation.settle()
        emitted = [e.body for e in server.simulation.store.events]
        assert [r.body for r in receiver.received] == emitted
        attempts = list(server.simulation.store.deliveries)
        assert all(a.attempt == 1 and a.ok for a in attempts)
        first_arrival = min(a.started_at_wall_ms for a in attempts)
        assert first_arrival > 0
        clock_minutes = (server.simulation.clock.now_us() - server.settings.start_at_us) / 60e6
        assert clock_minutes >= 30

    async def test_failing_spends_retries(self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path) -> None:
        """Attempts during a failing window are logged as simulated failures; delivery succeeds after it."""
        outage = "  - {component: webhook_delivery, status: partial_outage, duration: 2m, effect: {fraction: 1.0}}\n"
        server = await make_server(
            f"{receiver.url}|message.sent", virtual_clock=True, scenario_obj=scenario(tmp_path, outage)
        )
        async with aiohttp.ClientSession() as session:
            await session.post(f"{server.url}/v1/workflows/wf/trigger", json={"recipients": ["u1"]}, headers=AUTH)
        await server.simulation.settle()
        attempts = [a for a in server.simulation.store.deliveries if a.event_seq == 1]
        assert attempts[-1].ok and len(attempts) > 2
        assert all(a.outage_id == "out_1" and a.status is None for a in attempts[:-1])
        assert len(receiver.received) == 2  # only the successful attempts reach the receiver


class TestProviderOutages:
    """Notification delivery and single providers."""

    def offline(self, tmp_path: Path, schemas: SchemaRegistry, outage: str) -> list[dict[str, Any]]:
        run = OfflineRun(scenario(tmp_path, outage), schemas, seed=3)
        run.trigger("wf", {"recipients": ["u1"]})
        return [json.loads(e.body) for e in run.run()]

    def test_sendgrid_outage_recovers_inside_the_retry_window(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A 3-minute SendGrid outage: a few delivery_attempted, then sent and delivered; in-app untouched."""
        events = self.offline(tmp_path, schemas, "  - {component: sendgrid, status: major_outage, duration: 3m}\n")
        email = [e for e in events if e["data"]["channel"]["type"] == "email"]
        types = [e["type"] for e in email]
        attempts = [e["event_data"]["attempt"] for e in email if e["type"] == "message.delivery_attempted"]
        assert attempts == list(range(1, len(attempts) + 1)) and 2 <= len(attempts) <= 5
        assert types[len(attempts) : len(attempts) + 2] == ["message.sent", "message.delivered"]
        assert all(e["event_data"]["max_attempts"] == 8 for e in email if e["type"] == "message.delivery_attempted")
        in_app = [e["type"] for e in events if e["data"]["channel"]["type"] == "in_app_feed"]
        assert in_app == ["message.sent", "message.delivered"]

    def test_long_outage_exhausts_retries(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A 2-hour notification-delivery outage: 8 attempts over ~26 minutes, then undelivered."""
        events = self.offline(
            tmp_path, schemas, "  - {component: notification_delivery, status: major_outage, duration: 2h}\n"
        )
        email = [e for e in events if e["data"]["channel"]["type"] == "email"]
        assert [e["type"] for e in email] == ["message.delivery_attempted"] * 8 + ["message.undelivered"]
        assert email[-1]["event_data"]["failure_reason"] == "retries_exhausted"
        assert email[-1]["data"]["status"] == "undelivered"
        first, last = email[0]["created_at"], email[-1]["created_at"]
        assert (first[:11] == last[:11] and "00:2" in last[11:15]) or "00:3" in last[11:15]

    def test_other_provider_untouched(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A Mailjet outage does not touch SendGrid email."""
        events = self.offline(tmp_path, schemas, "  - {component: mailjet, status: major_outage, duration: 2h}\n")
        assert "message.delivery_attempted" not in {e["type"] for e in events}


class TestTrackingOutage:
    """Link and open tracking."""

    def test_no_clicks_or_opens_during_window(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """Email seen and link_clicked vanish during the window; sent and delivered still happen."""
        run = OfflineRun(
            scenario(tmp_path, "  - {component: link_and_open_tracking, status: major_outage, duration: 1h}\n"),
            schemas,
            seed=1,
        )
        run.trigger("wf", {"recipients": ["u1"]})
        types = [json.loads(e.body)["type"] for e in run.run()]
        assert "message.link_clicked" not in types and "message.delivered" in types
        assert types.count("message.seen") == 0
        assert {f.what for f in run.outages.failures} == {"seen not tracked", "link_clicked not tracked"}


class TestControlPlaneOutages:
    """Creating, listing and ending outages at run time."""

    async def test_create_list_end(self, sdk: SdkFactory, make_server: ServerFactory, tmp_path: Path) -> None:
        """POST starts an outage now; GET lists it active; DELETE ends it and calls succeed again."""
        server = await make_server(virtual_clock=True, auto_advance=False, scenario_obj=scenario(tmp_path))
        status, created = await control(
            "POST",
            f"{server.url}/__mockknock/outages",
            {"component": "api", "status": "major_outage", "duration": "1h"},
        )
        assert status == 201 and created["active"] and created["source"] == "control"
        client = sdk(server, retries=0)
        with pytest.raises(knockapi.InternalServerError):
            await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])
        _, listing = await control("GET", f"{server.url}/__mockknock/outages")
        assert [o["id"] for o in listing["items"]] == [created["id"]]
        status, ended = await control("DELETE", f"{server.url}/__mockknock/outages/{created['id']}")
        assert status == 200 and ended["ended_early"] and not ended["active"]
        assert await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])
        _, failures = await control("GET", f"{server.url}/__mockknock/failures")
        assert failures["total"] == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"component": "apy", "status": "major_outage", "duration": "1m"}, "component"),
            ({"component": "api", "status": "down", "duration": "1m"}, "status"),
            ({"component": "api", "status": "major_outage"}, "duration"),
            ({"component": "api", "status": "major_outage", "duration": "1m", "effect": "explode"}, "effect.kind"),
            (
                {"component": "api", "status": "major_outage", "duration": "1m", "effect": {"fraction": 2}},
                "effect.fraction",
            ),
        ],
    )
    async def test_bad_outages_are_422(
        self, make_server: ServerFactory, tmp_path: Path, body: dict[str, Any], field: str
    ) -> None:
        """Each mistake names its field."""
        server = await make_server(scenario_obj=scenario(tmp_path))
        status, answer = await control("POST", f"{server.url}/__mockknock/outages", body)
        assert status == 422 and answer["errors"][0]["field"] == field

    def test_scenario_outage_errors(self, tmp_path: Path) -> None:
        """A scenario's outage list is validated with places and suggestions."""
        with pytest.raises(ScenarioError) as info:
            scenario(tmp_path, "  - {component: sendgird, status: major_outage, duration: 1m}\n")
        assert "outages[0].component" in str(info.value) and "did you mean 'sendgrid'" in str(info.value)


class TestPauseThenSlowdown:
    """A pause followed at once by a slowdown: held webhooks still go out (no stalled clock)."""

    async def test_latency_after_pause_settles(
        self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path
    ) -> None:
        """Webhooks held by a 10m pause meet a 1m slowdown when released, and all arrive."""
        outages = ("  - {component: webhook_delivery, status: major_outage, start: 0s, duration: 10m}\n"
                   "  - {component: webhook_delivery, status: degraded_performance, start: 10m, duration: 10m,"
                   " effect: {latency: 1m}}\n")
        server = await make_server(receiver.url, virtual_clock=True, scenario_obj=scenario(tmp_path, outages))
        async with aiohttp.ClientSession() as session:
            await session.post(f"{server.url}/v1/workflows/wf/trigger", json={"recipients": ["u1"]}, headers=AUTH)
        await asyncio.wait_for(server.simulation.settle(), 10)
        assert len(receiver.received) == len(server.simulation.store.events) > 0
        minutes = (server.simulation.clock.now_us() - server.settings.start_at_us) / 60e6
        assert minutes >= 11, "the slowdown after the pause is spent on the simulated clock"
