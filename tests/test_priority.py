"""API first: webhook deliveries give way to Knock API traffic, within a bound."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import aiohttp
import pytest

from mockknock.config import Settings
from mockknock.errors import ConfigError
from mockknock.priority import ApiFirst
from mockknock.transport import PostResult
from tests.conftest import AUTH, ReceiverFactory, ServerFactory


async def _elapsed(awaitable: asyncio.Future[None] | asyncio.Task[None]) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await awaitable
    return loop.time() - started


class TestTurns:
    async def test_quiet_means_at_once(self) -> None:
        """With no API traffic a delivery goes at once, and nothing is counted as deferred."""
        gate = ApiFirst(max_wait_s=1.0)
        assert await _elapsed(asyncio.ensure_future(gate.turn())) < 0.05
        assert gate.deferred == 0

    async def test_waits_for_the_quiet_spell_after_a_request(self) -> None:
        """While a request is in flight a turn waits; it goes once the request is over and 2 ms have passed."""
        gate = ApiFirst(max_wait_s=5.0, quiet_s=0.01)
        gate.request_started()
        turn = asyncio.ensure_future(gate.turn())
        await asyncio.sleep(0.05)
        assert not turn.done()
        gate.request_finished()
        assert await _elapsed(turn) < 1.0
        assert gate.deferred == 1

    async def test_never_longer_than_the_bound(self) -> None:
        """Under traffic that never pauses, a turn still comes after max_wait."""
        gate = ApiFirst(max_wait_s=0.05, quiet_s=0.01)
        stop = asyncio.Event()

        async def traffic() -> None:
            while not stop.is_set():
                gate.request_started()
                gate.request_finished()
                await asyncio.sleep(0.001)

        load = asyncio.ensure_future(traffic())
        await asyncio.sleep(0.005)
        waited = await _elapsed(asyncio.ensure_future(gate.turn()))
        stop.set()
        await load
        assert 0.04 <= waited < 1.0

    async def test_released_in_arrival_order(self) -> None:
        """Turns released together go in the order they were asked for (webhooks keep emission order)."""
        gate = ApiFirst(max_wait_s=5.0, quiet_s=0.005)
        gate.request_started()
        order: list[int] = []

        async def take(n: int) -> None:
            await gate.turn()
            order.append(n)

        turns = [asyncio.ensure_future(take(n)) for n in range(20)]
        await asyncio.sleep(0.02)
        gate.request_finished()
        await asyncio.wait_for(asyncio.gather(*turns), 5)
        assert order == list(range(20))

    async def test_zero_turns_it_off(self) -> None:
        """max_wait 0: a turn never waits, even mid-request."""
        gate = ApiFirst(max_wait_s=0)
        gate.request_started()
        assert await _elapsed(asyncio.ensure_future(gate.turn())) < 0.05

    def test_negative_waits_are_refused(self) -> None:
        with pytest.raises(ValueError):
            ApiFirst(max_wait_s=-1)


class TestSetting:
    def test_flag_and_variable(self) -> None:
        """--api-first-wait and MOCKKNOCK_API_FIRST_WAIT take a duration; the flag wins."""
        assert Settings.resolve({}, {}).api_first_wait_s == 0.05
        assert Settings.resolve({"MOCKKNOCK_API_FIRST_WAIT": "200ms"}, {}).api_first_wait_s == 0.2
        assert Settings.resolve({"MOCKKNOCK_API_FIRST_WAIT": "1s"}, {"api_first_wait_s": "0"}).api_first_wait_s == 0

    @pytest.mark.parametrize("raw", ["11s", "soon"])
    def test_bad_values_name_the_flag(self, raw: str) -> None:
        with pytest.raises(ConfigError, match=r"api-first-wait|API-first"):
            Settings.resolve({}, {"api_first_wait_s": raw})


class TestUnderLoad:
    async def test_burst_answered_first_then_every_webhook_in_order(
        self, make_server: ServerFactory, make_receiver: ReceiverFactory
    ) -> None:
        """A burst of triggers defers deliveries; each message is readable at once; then every webhook
        arrives, and each message's events are handed to the transport in emission order. (Not asserted on
        arrival: two POSTs under way at once, on two connections, can reach the receiver in either order.)"""
        receiver = await make_receiver()
        server = await make_server(receiver.url, virtual_clock=True)
        sent: list[bytes] = []
        transport = server.simulation.delivery.transport
        post = transport.post

        async def recording_post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> PostResult:
            sent.append(body)
            return await post(url, body, headers, timeout_s)

        transport.post = recording_post  # type: ignore[method-assign]  # watch the order attempts go out in
        async with aiohttp.ClientSession(headers=AUTH) as session:

            async def trigger_in_turn(first: int) -> None:
                # One after another, so the burst overlaps the deliveries of its first triggers.
                for n in range(first, first + 40):
                    body = {"recipients": [f"u{n}"], "data": {"n": n}}
                    async with session.post(f"{server.url}/v1/workflows/burst/trigger", json=body) as response:
                        assert response.status == 200

            await asyncio.gather(trigger_in_turn(0), trigger_in_turn(40))
            async with session.get(f"{server.url}/v1/messages", params={"recipients": "u7"}) as response:
                listed = (await response.json())["items"]
            assert listed, "a trigger's messages are readable as soon as it is answered"
        await asyncio.wait_for(server.simulation.settle(), 30)
        assert server.simulation.api_first.deferred > 0
        emitted = [e.body for e in server.simulation.store.events]
        assert sorted(r.body for r in receiver.received) == sorted(emitted)
        by_message: dict[str, list[bytes]] = {}
        for body in sent:
            by_message.setdefault(json.loads(body)["data"]["id"], []).append(body)
        assert sum(len(v) for v in by_message.values()) == len(emitted)
        for bodies in by_message.values():
            assert bodies == [b for b in emitted if b in bodies]


async def test_a_late_comer_does_not_overtake_those_waiting() -> None:
    """A turn asked for in a quiet spell, while earlier ones still wait to be let go, goes after them."""
    gate = ApiFirst(max_wait_s=5.0, quiet_s=0.01)
    order: list[str] = []

    async def take(name: str) -> None:
        await gate.turn()
        order.append(name)

    gate.request_started()
    early = asyncio.ensure_future(take("early"))
    await asyncio.sleep(0)
    gate.request_finished()
    await asyncio.sleep(0.012)  # quiet now, but the check that lets "early" go may not have run yet
    late = asyncio.ensure_future(take("late"))
    await asyncio.wait_for(asyncio.gather(early, late), 5)
    assert order == ["early", "late"]
