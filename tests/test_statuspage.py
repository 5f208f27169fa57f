"""Knock's status page, Statuspage-style (/api/v2/*.json and /status), from the simulated outages."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockknock.outages import Outages, OutageSpec, Status, default_effect
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from mockknock.server import MockKnockServer
from mockknock.statuspage import (
    PAGE_ID,
    PROVIDERS_GROUP,
    Indicator,
    StatusPage,
    blend,
    format_time,
    statuspage_id,
)
from tests.conftest import ServerFactory

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z, the virtual clock's default start
MINUTE = 60_000_000
KNOCK_NAMES = ["API", "Notification delivery", "Webhook delivery", "API and workflow logs",
               "Link and open tracking", "Dashboard"]
PROVIDER_NAMES = ["SendGrid", "AWS SES", "Mailjet", "SparkPost", "Slack", "Segment", "Datadog"]


def outages(*specs: tuple[str, Status, int, int] | tuple[str, Status, int, int, str]) -> Outages:
    """Outages from (component, status, start minutes, duration minutes[, name]), counted from T0."""
    found = Outages(random.Random(0))
    for component, status, start, duration, *name in specs:
        spec = OutageSpec(component, status, start * MINUTE, duration * MINUTE,
                          default_effect(component, status), name[0] if name else "")
        found.add(spec, T0, "control")
    return found


def by_name(components: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in components}


async def get(server: MockKnockServer, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}{path}") as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def post(server: MockKnockServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(f"{server.url}{path}", json=body) as response:
        assert response.status in (200, 201), await response.text()
        found = await response.json()
        assert isinstance(found, dict)
        return found


async def start_outage(server: MockKnockServer, component: str, status: str, duration: str = "10m",
                       **extra: str) -> dict[str, Any]:
    return await post(server, "/__mockknock/outages",
                      {"component": component, "status": status, "duration": duration, **extra})


async def virtual(make_server: ServerFactory, **overrides: Any) -> MockKnockServer:
    return await make_server(virtual_clock=True, auto_advance=False, **overrides)


# ---- unit tests, no sockets ------------------------------------------------------------------------------


class TestBlend:
    """The top-level status from component statuses, as Statuspage documents it."""

    @pytest.mark.parametrize(("statuses", "expected"), [
        ([], (Indicator.NONE, "All Systems Operational")),
        ([Status.OPERATIONAL] * 3, (Indicator.NONE, "All Systems Operational")),
        ([Status.MAJOR_OUTAGE], (Indicator.CRITICAL, "Major System Outage")),
        ([Status.PARTIAL_OUTAGE], (Indicator.MAJOR, "Partial System Outage")),
        ([Status.DEGRADED_PERFORMANCE], (Indicator.MINOR, "Partially Degraded Service")),
        ([Status.UNDER_MAINTENANCE], (Indicator.MAINTENANCE, "Service Under Maintenance")),
        ([Status.MAJOR_OUTAGE] * 2, (Indicator.CRITICAL, "Major System Outage")),
        ([Status.MAJOR_OUTAGE, Status.OPERATIONAL], (Indicator.MAJOR, "Partial System Outage")),
        ([Status.PARTIAL_OUTAGE] * 2, (Indicator.MAJOR, "Partial System Outage")),
        ([Status.PARTIAL_OUTAGE, Status.OPERATIONAL], (Indicator.MINOR, "Minor Service Outage")),
        ([Status.DEGRADED_PERFORMANCE] * 2, (Indicator.MINOR, "Degraded System Service")),
        ([Status.DEGRADED_PERFORMANCE, Status.UNDER_MAINTENANCE], (Indicator.MINOR, "Partially Degraded Service")),
        ([Status.UNDER_MAINTENANCE, Status.OPERATIONAL], (Indicator.MAINTENANCE, "Service Under Maintenance")),
    ])
    def test_blend(self, statuses: list[Status], expected: tuple[Indicator, str]) -> None:
        """Each documented combination gives its indicator and description."""
        assert blend(statuses) == expected


class TestIdsAndTimes:
    """Ids and timestamps in Statuspage's shapes, stable for the same input."""

    def test_ids_are_stable_base36(self) -> None:
        """An id is 12 lowercase base-36 characters and the same every time."""
        ident = statuspage_id("incident", "out_1")
        assert ident == statuspage_id("incident", "out_1") != statuspage_id("incident", "out_2")
        assert len(ident) == 12 and ident.isalnum() and ident == ident.lower()

    def test_format_time_milliseconds(self) -> None:
        """ISO-8601 UTC with milliseconds and Z."""
        assert format_time(T0 + 1_234_567) == "2026-01-01T00:00:01.234Z"

    def test_same_input_same_documents(self) -> None:
        """Two pages over the same outages at the same instant serialise identically."""
        specs = (("api", Status.MAJOR_OUTAGE, 0, 10), ("dashboard", Status.UNDER_MAINTENANCE, 30, 10))
        one = StatusPage(outages(*specs), T0 + 5 * MINUTE).summary_document()
        two = StatusPage(outages(*specs), T0 + 5 * MINUTE).summary_document()
        assert json.dumps(one) == json.dumps(two)


class TestComponentsUnit:
    """Knock's components, then the providers' group."""

    def test_layout(self) -> None:
        """Knock's six components at the top, then the group holding every provider in order."""
        components = StatusPage(outages(), T0).components()
        top = [c for c in components if c["group_id"] is None]
        assert [c["name"] for c in top] == [*KNOCK_NAMES, PROVIDERS_GROUP]
        assert [c["position"] for c in top] == list(range(1, 8))
        group = top[-1]
        children = [c for c in components if c["group_id"] == group["id"]]
        assert group["group"] is True and group["components"] == [c["id"] for c in children]
        assert [c["name"] for c in children] == PROVIDER_NAMES
        assert all(c["page_id"] == PAGE_ID and c["status"] == "operational" for c in components)

    def test_other_provider_appears_with_an_outage(self) -> None:
        """A provider outside Knock's list joins the group once it has a visible outage, named as written."""
        later = outages(("postmark", Status.MAJOR_OUTAGE, 10, 5))
        assert "postmark" not in by_name(StatusPage(later, T0).components())
        components = by_name(StatusPage(later, T0 + 11 * MINUTE).components())
        assert components["postmark"]["status"] == "major_outage"
        assert components["postmark"]["group_id"] == components[PROVIDERS_GROUP]["id"]
        assert components[PROVIDERS_GROUP]["status"] == "major_outage"

    def test_updated_at_is_last_change(self) -> None:
        """A component's updated_at is when its last window opened or closed, never in the future."""
        page = StatusPage(outages(("api", Status.PARTIAL_OUTAGE, 1, 2), ("api", Status.MAJOR_OUTAGE, 60, 5)),
                          T0 + 10 * MINUTE)
        assert by_name(page.components())["API"]["updated_at"] == format_time(T0 + 3 * MINUTE)
        assert page.page()["updated_at"] == format_time(T0 + 3 * MINUTE)


class TestIncidentsUnit:
    """Outage windows as incidents."""

    def test_not_begun_appears_nowhere(self) -> None:
        """An outage that has not begun is no incident and changes no status."""
        page = StatusPage(outages(("api", Status.MAJOR_OUTAGE, 10, 5)), T0)
        assert page.incidents() == [] and page.status()["indicator"] == "none"

    def test_lifecycle(self) -> None:
        """Investigating while active; resolved (with resolved_at and a second update) once ended."""
        found = outages(("webhook_delivery", Status.PARTIAL_OUTAGE, 0, 10))
        active = StatusPage(found, T0 + MINUTE).incidents()[0]
        assert active["status"] == "investigating" and active["impact"] == "major"
        assert active["resolved_at"] is None and len(active["incident_updates"]) == 1
        assert active["incident_updates"][0]["body"] == "We are investigating Webhook delivery: partial outage."
        resolved = StatusPage(found, T0 + 10 * MINUTE).incidents()[0]
        assert resolved["id"] == active["id"] and resolved["status"] == "resolved"
        assert resolved["resolved_at"] == resolved["updated_at"] == format_time(T0 + 10 * MINUTE)
        assert [u["status"] for u in resolved["incident_updates"]] == ["resolved", "investigating"]
        assert resolved["incident_updates"][0]["affected_components"][0]["new_status"] == "operational"

    def test_cancelled_before_start_never_happened(self) -> None:
        """Ending an outage that has not begun removes it from every list."""
        found = outages(("api", Status.MAJOR_OUTAGE, 10, 5))
        found.end("out_1", T0 + MINUTE)
        assert StatusPage(found, T0 + 20 * MINUTE).incidents() == []

    def test_newest_first(self) -> None:
        """incidents.json lists the most recent incident first."""
        page = StatusPage(outages(("api", Status.DEGRADED_PERFORMANCE, 0, 1, "first"),
                                  ("dashboard", Status.MAJOR_OUTAGE, 5, 1, "second")), T0 + 10 * MINUTE)
        assert [i["name"] for i in page.incidents()] == ["second", "first"]

    def test_incident_impact_raises_indicator(self) -> None:
        """One major outage among many components is critical, via its incident's impact."""
        assert StatusPage(outages(("api", Status.MAJOR_OUTAGE, 0, 10)), T0).status() == {
            "indicator": "critical", "description": "Major Service Outage"}


class TestMaintenancesUnit:
    """under_maintenance windows as scheduled maintenances."""

    def test_scheduled_in_progress_completed(self) -> None:
        """A maintenance shows before it begins and moves through Statuspage's maintenance statuses."""
        found = outages(("dashboard", Status.UNDER_MAINTENANCE, 10, 30))
        statuses = []
        for minute in (0, 15, 45):
            page = StatusPage(found, T0 + minute * MINUTE)
            (maintenance,) = page.scheduled_maintenances()
            statuses.append(maintenance["status"])
            assert maintenance["impact"] == "maintenance"
            assert maintenance["scheduled_for"] == format_time(T0 + 10 * MINUTE)
            assert maintenance["scheduled_until"] == format_time(T0 + 40 * MINUTE)
            assert page.incidents() == []
        assert statuses == ["scheduled", "in_progress", "completed"]
        assert StatusPage(found, T0).scheduled_maintenances("upcoming") != []
        assert StatusPage(found, T0 + 15 * MINUTE).scheduled_maintenances("active") != []
        assert StatusPage(found, T0 + 45 * MINUTE).summary_document()["scheduled_maintenances"] == []


class TestHtmlUnit:
    """The page for people, rendered without a server."""

    def test_escapes_names(self) -> None:
        """Outage names are escaped; the page refreshes itself."""
        text = StatusPage(outages(("api", Status.MAJOR_OUTAGE, 0, 10, "<script>alert(1)</script>")),
                          T0).render_html()
        assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert '<meta http-equiv="refresh" content="5">' in text


# ---- over HTTP -----------------------------------------------------------------------------------------


class TestOperational:
    """A fresh simulation reports everything operational, without an API key."""

    async def test_all_operational(self, make_server: ServerFactory) -> None:
        """status.json and summary.json: indicator none, every component operational, no incidents."""
        server = await make_server()
        status, body = await get(server, "/api/v2/status.json")
        assert status == 200
        assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}
        assert set(body["page"]) == {"id", "name", "url", "time_zone", "updated_at"}
        _, summary = await get(server, "/api/v2/summary.json")
        assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
        assert {c["status"] for c in summary["components"]} == {"operational"}
        assert summary["incidents"] == [] and summary["scheduled_maintenances"] == []
        for path in ("/api/v2/components.json", "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json",
                     "/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/upcoming.json",
                     "/api/v2/scheduled-maintenances/active.json"):
            status, body = await get(server, path)
            assert status == 200 and "page" in body, path


class TestMajorOutage:
    """An API major outage on a virtual clock, then past its end."""

    async def test_major_then_resolved(self, make_server: ServerFactory) -> None:
        """Critical with one investigating incident; after the window, operational and resolved."""
        server = await virtual(make_server)
        await start_outage(server, "api", "major_outage", "10m")
        _, status = await get(server, "/api/v2/status.json")
        assert status["status"]["indicator"] == "critical"
        _, summary = await get(server, "/api/v2/summary.json")
        assert by_name(summary["components"])["API"]["status"] == "major_outage"
        (incident,) = summary["incidents"]
        assert incident["status"] == "investigating" and incident["impact"] == "critical"
        assert [u["status"] for u in incident["incident_updates"]] == ["investigating"]
        assert incident["incident_updates"][0]["body"].startswith("We are investigating")
        assert [c["name"] for c in incident["components"]] == ["API"]

        await post(server, "/__mockknock/clock/advance", {"by": "11m"})
        _, status = await get(server, "/api/v2/status.json")
        assert status["status"]["indicator"] == "none"
        _, unresolved = await get(server, "/api/v2/incidents/unresolved.json")
        assert unresolved["incidents"] == []
        _, history = await get(server, "/api/v2/incidents.json")
        (resolved,) = history["incidents"]
        assert resolved["id"] == incident["id"] and resolved["status"] == "resolved"
        assert resolved["resolved_at"] is not None
        assert resolved["incident_updates"][0]["body"] == "This incident has been resolved."


class TestLesserOutages:
    """Degraded and partial outages give minor and major."""

    @pytest.mark.parametrize(("outage", "indicator", "impact"), [
        ("degraded_performance", "minor", "minor"),
        ("partial_outage", "major", "major"),
    ])
    async def test_indicator(self, make_server: ServerFactory, outage: str, indicator: str, impact: str) -> None:
        """The indicator and the incident's impact follow the outage's status."""
        server = await virtual(make_server)
        await start_outage(server, "notification_delivery", outage)
        _, summary = await get(server, "/api/v2/summary.json")
        assert summary["status"]["indicator"] == indicator
        assert by_name(summary["components"])["Notification delivery"]["status"] == outage
        assert [i["impact"] for i in summary["incidents"]] == [impact]


class TestMaintenance:
    """A scenario's under_maintenance window is a scheduled maintenance, not an incident."""

    @staticmethod
    def with_maintenance(tmp_path: Path) -> Scenario:
        path = tmp_path / "maintenance.yaml"
        path.write_text("version: 1\nname: maintenance\nunknown_workflows: accept\noutages:\n"
                        "  - {component: dashboard, status: under_maintenance, start: 1h, duration: 30m}\n")
        return load_scenario(path)

    async def test_scheduled_then_in_progress(self, make_server: ServerFactory, tmp_path: Path) -> None:
        """Scheduled before the window (indicator none); in progress inside it (indicator maintenance)."""
        server = await virtual(make_server, scenario_obj=self.with_maintenance(tmp_path))
        _, summary = await get(server, "/api/v2/summary.json")
        assert summary["status"]["indicator"] == "none"
        assert [m["status"] for m in summary["scheduled_maintenances"]] == ["scheduled"]
        await post(server, "/__mockknock/clock/advance", {"by": "1h1m"})
        _, summary = await get(server, "/api/v2/summary.json")
        assert summary["status"] == {"indicator": "maintenance", "description": "Service Under Maintenance"}
        assert by_name(summary["components"])["Dashboard"]["status"] == "under_maintenance"
        (maintenance,) = summary["scheduled_maintenances"]
        assert maintenance["status"] == "in_progress" and maintenance["impact"] == "maintenance"
        assert summary["incidents"] == []
        _, active = await get(server, "/api/v2/scheduled-maintenances/active.json")
        assert [m["id"] for m in active["scheduled_maintenances"]] == [maintenance["id"]]


class TestProviderOutage:
    """A provider's outage shows inside the providers' group."""

    async def test_sendgrid(self, make_server: ServerFactory) -> None:
        """SendGrid major outage: its component and the group are major_outage; Knock's own stay operational."""
        server = await virtual(make_server)
        await start_outage(server, "sendgrid", "major_outage")
        _, body = await get(server, "/api/v2/components.json")
        components = by_name(body["components"])
        group = components[PROVIDERS_GROUP]
        assert components["SendGrid"]["status"] == "major_outage"
        assert components["SendGrid"]["group_id"] == group["id"] and components["SendGrid"]["id"] in group["components"]
        assert group["group"] is True and group["status"] == "major_outage"
        assert {components[name]["status"] for name in KNOCK_NAMES} == {"operational"}


class TestHtmlPage:
    """GET /status: a page for people, escaped and self-refreshing."""

    async def test_renders_and_escapes(self, make_server: ServerFactory) -> None:
        """The page names every component, shows the incident, and escapes a hostile outage name."""
        server = await virtual(make_server)
        await start_outage(server, "api", "partial_outage", name="<script>alert('x')</script>")
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/status") as response:
            assert response.status == 200 and response.content_type == "text/html"
            text = await response.text()
        assert '<meta http-equiv="refresh" content="5">' in text
        assert all(name in text for name in [*KNOCK_NAMES, *PROVIDER_NAMES, PROVIDERS_GROUP])
        assert "<script>" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
        assert "Partial System Outage" in text and "Simulated by mockknock at 2026-01-01T00:00:00.000Z" in text


async def knock_banner(session: aiohttp.ClientSession, base_url: str) -> str | None:
    """What an app polling Knock's status.json would show its users, if anything."""
    async with session.get(f"{base_url}/api/v2/status.json") as response:
        status = (await response.json())["status"]
    if status["indicator"] == "none":
        return None
    if status["indicator"] == "maintenance":
        return "Knock is under maintenance"
    return f"Knock is degraded: {status['description']}"


class TestPollingApp:
    """An app that polls status.json to show a banner can be tested against the simulation."""

    async def test_banner_follows_outage(self, make_server: ServerFactory) -> None:
        """No banner, then a degraded banner during the outage, then none again once it ends."""
        server = await virtual(make_server)
        async with aiohttp.ClientSession() as session:
            assert await knock_banner(session, server.url) is None
            await start_outage(server, "notification_delivery", "degraded_performance", "5m")
            assert await knock_banner(session, server.url) == "Knock is degraded: Partially Degraded Service"
            await post(server, "/__mockknock/clock/advance", {"by": "5m"})
            assert await knock_banner(session, server.url) is None
