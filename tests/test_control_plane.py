"""The /__mockknock control plane: overview, clock, reset, scenario switch, logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from tests.conftest import AUTH, Receiver, ServerFactory


def two_channels(tmp_path: Path) -> Scenario:
    """Any workflow: an in-app message and an email, each sent then delivered (four events)."""
    path = tmp_path / "two.yaml"
    path.write_text("version: 1\nlifecycles:\n  - match: {channel_type: email}\n    events: [sent, +1s delivered]\n")
    return load_scenario(path)


async def request(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, json=body) as response:
        return response.status, await response.json() if response.content_type == "application/json" else None


class TestControlPlane:
    """Reading and steering a running simulation."""

    async def test_overview_counts_and_logs(
        self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path
    ) -> None:
        """After one trigger the overview, events, deliveries and runs agree."""
        server = await make_server(receiver.url, virtual_clock=True, scenario_obj=two_channels(tmp_path))
        async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/v1/workflows/wf/trigger", json={"recipients": ["u1"]}, headers=AUTH
        ):
            pass
        await server.simulation.settle()
        status, overview = await request("GET", f"{server.url}/__mockknock")
        assert status == 200
        counts = overview["counts"]
        # How many attempts waited for a gap in API traffic depends on timing; that it is counted does not.
        assert isinstance(counts.pop("deliveries_deferred"), int)
        assert counts == {"runs": 1, "messages": 2, "events_emitted": 4, "delivery_attempts": 4,
                          "scheduled_steps": 0, "deliveries_in_flight": 0}
        assert overview["seed"] == 7 and overview["clock"]["mode"] == "virtual" and overview["problems"] == []
        _, events = await request("GET", f"{server.url}/__mockknock/events?type=message.delivered")
        assert [e["type"] for e in events["items"]] == ["message.delivered"] * 2
        _, deliveries = await request("GET", f"{server.url}/__mockknock/deliveries?limit=2")
        assert len(deliveries["items"]) == 2 and deliveries["total_attempts"] == 4
        assert all(d["ok"] and d["endpoint"] == receiver.url for d in deliveries["items"])
        _, runs = await request("GET", f"{server.url}/__mockknock/runs")
        assert runs["items"][0]["recipient_runs"][0]["status"] == "completed"

    async def test_clock_advance_only_on_virtual(self, make_server: ServerFactory) -> None:
        """A virtual clock moves by the duration given; a real clock refuses with 409."""
        virtual = await make_server(virtual_clock=True)
        _, before = await request("GET", f"{virtual.url}/__mockknock/clock")
        status, after = await request("POST", f"{virtual.url}/__mockknock/clock/advance", {"by": "1h30m"})
        assert status == 200 and after["now_us"] - before["now_us"] == 5_400_000_000
        status, body = await request("POST", f"{virtual.url}/__mockknock/clock/advance", {"by": "soon"})
        assert status == 422 and body["errors"][0]["field"] == "by"
        real = await make_server()
        status, body = await request("POST", f"{real.url}/__mockknock/clock/advance", {"by": "1m"})
        assert status == 409 and "virtual" in body["message"]

    async def test_reset_forgets_and_reseeds(self, make_server: ServerFactory) -> None:
        """Reset with a seed empties the store; the same trigger then gives the same run id as a fresh seed."""
        server = await make_server(virtual_clock=True)
        url = f"{server.url}/v1/workflows/wf/trigger"

        async def trigger() -> str:
            async with aiohttp.ClientSession() as session, session.post(
                url, json={"recipients": ["u1"]}, headers=AUTH
            ) as response:
                return str((await response.json())["workflow_run_id"])

        await request("POST", f"{server.url}/__mockknock/reset", {"seed": 99})
        first = await trigger()
        status, body = await request("POST", f"{server.url}/__mockknock/reset", {"seed": 99})
        assert status == 200 and body == {"seed": 99, "scenario": "plain"}
        assert not server.simulation.store.runs
        assert await trigger() == first
        status, body = await request("POST", f"{server.url}/__mockknock/reset", {"seed": "x"})
        assert status == 422

    async def test_switch_scenario_keeps_state(self, make_server: ServerFactory, tmp_path: Any) -> None:
        """PUT /__mockknock/scenario swaps the rules for what comes next; what happened stays."""
        server = await make_server(virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            await session.post(f"{server.url}/v1/workflows/wf/trigger", json={"recipients": ["u1"]}, headers=AUTH)
        path = tmp_path / "strict.yaml"
        path.write_text("version: 1\nname: strict\nunknown_workflows: reject\n"
                        "workflows:\n  known:\n    steps: [{channel: email}]\n")
        status, body = await request("PUT", f"{server.url}/__mockknock/scenario", {"scenario": str(path)})
        assert status == 200 and body["scenario"] == "strict"
        assert len(server.simulation.store.runs) == 1
        async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/v1/workflows/wf/trigger", json={"recipients": ["u1"]}, headers=AUTH
        ) as response:
            assert response.status == 404
        status, body = await request("PUT", f"{server.url}/__mockknock/scenario", {"scenario": "no-such"})
        assert status == 422 and "no bundled scenario" in body["errors"][0]["message"]
