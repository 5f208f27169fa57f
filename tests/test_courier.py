"""Webhook POSTs from mockknock's delivery process (courier.py): the frames, and delivery end to end."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mockknock import courier as courier_module
from mockknock import replay as replay_module
from mockknock.cli import build_parser, settings_from
from mockknock.config import Endpoint, RetryPolicy, Settings
from mockknock.courier import (
    CourierTransport,
    FrameReader,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
)
from mockknock.errors import ConfigError
from mockknock.model import DeliveryAttempt, EventType
from mockknock.scenario_file import load_default
from mockknock.server import MockKnockServer
from mockknock.transport import ErrorKind, PostResult
from tests.conftest import AUTH, SECRET, Receiver, ServerFactory
from tests.test_http1 import hook_url, recording
from tests.test_webhooks_e2e import independent_verify, trigger


def _transport(server: MockKnockServer) -> CourierTransport:
    transport = server.simulation.delivery.transport
    assert isinstance(transport, CourierTransport)
    return transport


class TestFrames:
    """What crosses the pipe comes out as it went in, however the stream is cut."""

    def test_request_round_trip(self) -> None:
        """URL, body bytes (NULs included), headers and timeout survive encoding."""
        body = b'{"a":"\x00\xff","b":"\xc3\xa9"}'
        headers = {"content-type": "application/json", "x-knock-signature": "t=1,s=abc=", "user-agent": "mk/1"}
        frame = encode_request(4_000_000_000, "http://127.0.0.1:9/h\u00e9?x=1", body, headers, 2.5)
        reader_frames: list[bytes] = []
        FrameReader(reader_frames.append).feed(frame)
        assert decode_request(reader_frames[0]) == (4_000_000_000, "http://127.0.0.1:9/h\u00e9?x=1", body,
                                                    headers, 2.5)

    @pytest.mark.parametrize("result", [
        PostResult(204, 1.25),
        PostResult(500, 3.0, excerpt="oops \u2603"),
        PostResult(None, 100.0, "timed out after 0.1s", ErrorKind.TIMEOUT),
        PostResult(None, 0.5, "ClientConnectorError: refused", ErrorKind.CONNECT),
        PostResult(None, 0.0, "mockknock's delivery process exited (code 1)", ErrorKind.INTERNAL),
    ])
    def test_result_round_trip(self, result: PostResult) -> None:
        """Every kind of answer, and no answer, decodes to the same PostResult."""
        frames: list[bytes] = []
        FrameReader(frames.append).feed(encode_result(7, result))
        assert decode_result(frames[0]) == (7, result)

    def test_frames_split_anywhere(self) -> None:
        """Fed a byte at a time, or several frames in one chunk, the reader yields each frame once."""
        stream = b"".join(encode_result(n, PostResult(200 + n, float(n))) for n in range(5))
        for chunk in (1, 3, len(stream)):
            frames: list[bytes] = []
            reader = FrameReader(frames.append)
            for at in range(0, len(stream), chunk):
                reader.feed(stream[at:at + chunk])
            assert [decode_result(f)[0] for f in frames] == [0, 1, 2, 3, 4]


class TestDeliveryProcess:
    """`--delivery-process`: the same webhooks, signed the same way, POSTed by a child process."""

    async def test_signed_sequence_arrives(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """A trigger's four webhooks arrive signed; the log has them from the child's answers."""
        server = await make_server(receiver.url, virtual_clock=True, delivery_process=True)
        assert _transport(server).in_child
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
        await asyncio.wait_for(server.simulation.settle(), 30)
        assert sorted(receiver.types()) == ["message.delivered"] * 2 + ["message.sent"] * 2
        for received in receiver.received:
            independent_verify(received.body, received.headers["x-knock-signature"], SECRET)
            assert received.headers["User-Agent"].startswith("mockknock/")
        attempts = list(server.simulation.store.deliveries)
        assert [a.status for a in attempts] == [204] * 4
        assert all(a.latency_ms > 0 for a in attempts)

    async def test_same_bytes_as_in_process(
        self, make_server: ServerFactory, make_receiver: Any
    ) -> None:
        """Same seed, either transport: the receiver gets the same bodies and event headers."""
        seen: list[list[tuple[str, bytes]]] = []
        for in_child in (False, True):
            receiver = await make_receiver()
            server = await make_server(receiver.url, virtual_clock=True, delivery_process=in_child)
            async with aiohttp.ClientSession() as session:
                await trigger(session, server.url, recipients=["u1", "u2"])
            await asyncio.wait_for(server.simulation.settle(), 30)
            seen.append(sorted((r.headers["x-knock-event"], r.body) for r in receiver.received))
            await server.stop()
        assert len(seen[0]) == 8
        assert seen[0] == seen[1]

    @pytest.mark.parametrize(("in_child", "client"), [(True, "http1"), (False, "http1"), (False, "aiohttp")])
    async def test_errors_and_timeouts_come_back(
        self, make_server: ServerFactory, receiver: Receiver, aiohttp_server: Any, in_child: bool, client: str
    ) -> None:
        """A 500, a timeout and a closed port are logged alike, whichever process and client POST."""
        receiver.script = [500]

        async def slow(request: web.Request) -> web.Response:
            await asyncio.sleep(3)
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", slow)
        slow_server = await aiohttp_server(app, host="127.0.0.1", port=0)
        # 0.5 s: long enough for a loaded machine to answer the 500 in time, short next to the slow 3 s
        retry = RetryPolicy(max_attempts=2, timeout_s=0.5, base_us=1_000_000)
        server = await make_server(
            f"{receiver.url}|message.sent", f"{slow_server.make_url('/hook')}|message.sent",
            "http://127.0.0.1:9/hook|message.sent", virtual_clock=True, retry=retry, delivery_process=in_child,
            webhook_client=client,
        )
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, recipients=["u1"])
        await asyncio.wait_for(server.simulation.settle(), 30)
        first = sorted(server.simulation.store.deliveries, key=lambda a: (a.endpoint, a.event_seq, a.attempt))
        kinds = {(a.status, a.error_kind) for a in first}
        assert (500, None) in kinds and (204, None) in kinds
        assert (None, ErrorKind.TIMEOUT) in kinds and (None, ErrorKind.CONNECT) in kinds
        timeouts = [a for a in first if a.error_kind == ErrorKind.TIMEOUT]
        assert all(a.error == "timed out after 0.5s" and a.latency_ms < 2500 for a in timeouts)
        assert len(timeouts) == 4  # two message.sent events, two attempts each

    async def test_a_reset_drops_what_the_child_holds(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """After a reset nothing from before it reaches the receiver: the child drops the requests it holds
        and abandons the POST under way (before, the held one still went out, unlogged)."""
        receiver.delay_s = 1.0
        server = await make_server(receiver.url, virtual_clock=True, delivery_process=True, delivery_concurrency=1)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, recipients=["u1"])
            await receiver.wait_for(1)
            async with session.post(f"{server.url}/__mockknock/reset") as response:
                assert response.status in (200, 204)
        await asyncio.sleep(2.5)  # the abandoned POST's answer, and any held request, would have come by now
        assert len(receiver.received) == 1
        assert list(server.simulation.store.deliveries) == []

    async def test_a_killed_child_is_replaced(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """Attempts the child held fail as `internal` and are retried through a new child; nothing is lost."""
        receiver.delay_s = 0.3
        retry = RetryPolicy(max_attempts=3, base_us=1_000_000)
        server = await make_server(receiver.url, virtual_clock=True, retry=retry, delivery_process=True)
        transport = _transport(server)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
            await receiver.wait_for(1)
        first_child = transport.pid
        assert first_child is not None
        os.kill(first_child, signal.SIGKILL)
        await asyncio.wait_for(server.simulation.settle(), 30)
        attempts = list(server.simulation.store.deliveries)
        internal = [a for a in attempts if a.error_kind == ErrorKind.INTERNAL]
        assert internal and all("delivery process exited" in (a.error or "") for a in internal)
        delivered = {a.event_seq for a in attempts if a.ok}
        assert len(delivered) == 4
        assert transport.in_child and transport.pid not in (None, first_child)

    async def test_falls_back_when_no_child_can_run(self, make_server: ServerFactory, receiver: Receiver,
                                                    caplog: pytest.LogCaptureFixture) -> None:
        """When no child can be started at all (here: no such interpreter), this process makes the POSTs
        from the start and the log says why."""
        server = await make_server(receiver.url, virtual_clock=True, delivery_process=True)
        await server.simulation.delivery.close()
        broken = CourierTransport(4, python=sys.executable + "-does-not-exist")
        server.simulation.delivery.transport = broken  # before start(): any Transport will do
        await server.simulation.delivery.start(server.simulation.delivery.endpoints)
        assert not broken.in_child
        assert "cannot start mockknock's delivery process" in caplog.text
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
        await asyncio.wait_for(server.simulation.settle(), 30)
        assert len(receiver.received) == 4

    async def test_gives_up_on_a_child_that_keeps_dying(self, make_server: ServerFactory, receiver: Receiver,
                                                       caplog: pytest.LogCaptureFixture, tmp_path: Any) -> None:
        """After three deaths in a row with no answer between them, this process makes the POSTs."""
        dies = tmp_path / "python"
        dies.write_text("#!/bin/sh\nexit 3\n")
        dies.chmod(0o755)
        retry = RetryPolicy(max_attempts=8, base_us=1_000_000)
        server = await make_server(receiver.url, virtual_clock=True, retry=retry, delivery_process=True)
        await server.simulation.delivery.close()
        broken = CourierTransport(4, python=str(dies))
        server.simulation.delivery.transport = broken  # before start(): any Transport will do
        await server.simulation.delivery.start(server.simulation.delivery.endpoints)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
        await asyncio.wait_for(server.simulation.settle(), 30)
        assert not broken.in_child
        assert "died 3 times in a row" in caplog.text
        assert len({(r.headers["x-knock-event"], r.body) for r in receiver.received}) == 4
        failed = [a for a in server.simulation.store.deliveries if a.error_kind == ErrorKind.INTERNAL]
        assert failed and all("code 3" in (a.error or "") for a in failed)


class TestChildConcurrency:
    async def test_no_more_under_way_than_its_concurrency(self, aiohttp_server: Any) -> None:
        """The child holds requests beyond its concurrency and sends each as a connection frees, so the
        receiver never sees more at once and every request gets its own answer."""
        under_way = most = 0

        async def hook(request: web.Request) -> web.Response:
            nonlocal under_way, most
            under_way += 1
            most = max(most, under_way)
            await asyncio.sleep(0.02)
            under_way -= 1
            return web.Response(status=200, text=(await request.read()).decode())

        url = await hook_url(aiohttp_server, hook)
        transport = CourierTransport(2)
        await transport.open()
        try:
            results = await asyncio.gather(*(
                transport.post(url, f"request {n}".encode(),
                               {"content-type": "text/plain"}, 10)
                for n in range(12)))
        finally:
            await transport.close()
        assert [(r.status, r.excerpt) for r in results] == [(200, f"request {n}") for n in range(12)]
        assert most == 2

    async def test_the_child_uses_the_client_asked_for(self, aiohttp_server: Any) -> None:
        """``--webhook-client aiohttp`` reaches the child: its POSTs announce gzip, as only aiohttp's do."""
        seen: list[str | None] = []
        url = await hook_url(aiohttp_server, recording("accept-encoding", seen))
        for client in ("http1", "aiohttp"):
            transport = CourierTransport(2, client)
            await transport.open()
            try:
                result = await transport.post(url, b"{}", {}, 10)
            finally:
                await transport.close()
            assert result.status == 204
        assert seen[0] is None and seen[1] is not None

class TestStuckChild:
    async def test_a_child_that_never_answers_does_not_hold_the_attempt(
            self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """A child alive but stuck (here: one that reads its requests and never answers) costs the attempt
        twice its timeout and a grace period, then the attempt fails as `internal` and delivery retries it."""
        monkeypatch.setattr(courier_module, "_ANSWER_GRACE_S", 0.2)
        stuck = tmp_path / "stuck-python"
        stuck.write_text("#!/bin/sh\nexec cat > /dev/null\n")
        stuck.chmod(0o755)
        transport = CourierTransport(2, python=str(stuck))
        await transport.open()
        try:
            result = await asyncio.wait_for(transport.post("http://127.0.0.1:9/hook", b"{}", {}, 0.1), 5)
        finally:
            await transport.close()
        assert (result.status, result.error_kind) == (None, ErrorKind.INTERNAL)
        # Twice the timeout (the child may first wait for a free connection), then the grace period.
        assert result.error == "mockknock's delivery process did not answer within 0.4s"


class TestChoosingIt:
    """Where the delivery process is on, and how to turn it on."""

    def test_serve_default_and_overrides(self) -> None:
        """Off by default; the variable and the flag turn it on, the flag winning; a bad value says where."""
        assert Settings.resolve({}, {}).delivery_process is False
        assert Settings.resolve({"MOCKKNOCK_DELIVERY_PROCESS": "true"}, {}).delivery_process is True
        assert Settings.resolve({"MOCKKNOCK_DELIVERY_PROCESS": "false"}, {}).delivery_process is False
        assert Settings.resolve({"MOCKKNOCK_DELIVERY_PROCESS": "0"}, {"delivery_process": True}).delivery_process
        with pytest.raises(ConfigError, match="MOCKKNOCK_DELIVERY_PROCESS='maybe' is not valid"):
            Settings.resolve({"MOCKKNOCK_DELIVERY_PROCESS": "maybe"}, {})

    def test_webhook_client_choice(self) -> None:
        """http1 by default; aiohttp by variable or flag, in serve and replay; anything else says what is valid."""
        assert Settings.resolve({}, {}).webhook_client == "http1"
        assert Settings.resolve({"MOCKKNOCK_WEBHOOK_CLIENT": "AIOHTTP"}, {}).webhook_client == "aiohttp"
        with pytest.raises(ConfigError, match="WEBHOOK_CLIENT='curl' is not valid: expected http1 or aiohttp"):
            Settings.resolve({"MOCKKNOCK_WEBHOOK_CLIENT": "curl"}, {})
        args = build_parser().parse_args(["serve", "--webhook-client", "aiohttp"])
        assert settings_from(args, {}).webhook_client == "aiohttp"
        for argv, env in ((["--webhook-client", "aiohttp"], {}), ([], {"MOCKKNOCK_WEBHOOK_CLIENT": "aiohttp"})):
            args = build_parser().parse_args(["replay", "default", "--target", "http://127.0.0.1:9/hook", *argv])
            options = replay_module.options_from(args, env)
            settings = replay_module.replay_settings(load_default(), Endpoint.parse("http://127.0.0.1:9/hook"),
                                                     options)
            assert settings.webhook_client == "aiohttp"

    def test_environment_id_must_fit_a_header(self) -> None:
        with pytest.raises(ConfigError, match="x-knock-environment-id header, so it must be printable ASCII"):
            Settings.resolve({"MOCKKNOCK_ENVIRONMENT_ID": "env\r\nx-evil: 1"}, {})

    def test_cli_flags(self) -> None:
        """`serve --delivery-process` and `--no-delivery-process` reach the settings."""
        args = build_parser().parse_args(["serve", "--delivery-process"])
        assert settings_from(args, {}).delivery_process is True
        args = build_parser().parse_args(["serve", "--no-delivery-process"])
        assert settings_from(args, {"MOCKKNOCK_DELIVERY_PROCESS": "on"}).delivery_process is False
        args = build_parser().parse_args(["serve"])
        assert settings_from(args, {}).delivery_process is False
        assert settings_from(args, {"MOCKKNOCK_DELIVERY_PROCESS": "on"}).delivery_process is True

    @pytest.mark.parametrize(("argv", "env", "expected"), [
        ([], {}, False),
        (["--concurrency", "64"], {}, False),
        (["--delivery-process"], {}, True),
        (["--concurrency", "64", "--delivery-process"], {}, True),
        (["--concurrency", "64"], {"MOCKKNOCK_DELIVERY_PROCESS": "true"}, True),
        (["--delivery-process"], {"MOCKKNOCK_DELIVERY_PROCESS": "false"}, True),
        (["--no-delivery-process"], {"MOCKKNOCK_DELIVERY_PROCESS": "true"}, False),
    ])
    def test_replay_uses_it_when_asked(self, argv: list[str], env: dict[str, str], expected: bool) -> None:
        """At every concurrency, handing a POST to the child costs more than making it (bench/replay.py)."""
        args = build_parser().parse_args(["replay", "default", "--target", "http://127.0.0.1:9/hook", *argv])
        options = replay_module.options_from(args, env)
        settings = replay_module.replay_settings(load_default(), Endpoint.parse("http://127.0.0.1:9/hook"), options)
        assert settings.delivery_process is expected


class TestReplayCountsIt:
    """In replay's report a dead child is mockknock's failure, never the target's."""

    def test_internal_is_not_a_connection_error(self) -> None:
        """Only connection failures count towards 'the target could not be reached' (exit 3)."""
        def attempt(kind: str) -> DeliveryAttempt:
            return DeliveryAttempt(1, EventType.MESSAGE_SENT, "http://127.0.0.1:9/h", 1, 0, None, "x", 0.0, False,
                                   error_kind=kind)

        assert replay_module._answer_kind(attempt(ErrorKind.INTERNAL)) == "mockknock's delivery process died"
        assert replay_module._answer_kind(attempt(ErrorKind.CONNECT)) == "connection error"


class TestLargeBodies:
    """A body near Knock's data limit crosses the pipe whole, and goes out without aiohttp's warning."""

    @pytest.mark.parametrize("in_child", [True, False])
    async def test_ten_megabyte_body(self, make_server: ServerFactory, aiohttp_server: Any, in_child: bool) -> None:
        """A trigger with ~10 MB of data: its webhooks arrive byte for byte as signed."""
        received: list[tuple[bytes, str]] = []

        async def hook(request: web.Request) -> web.Response:
            received.append((await request.read(), request.headers["x-knock-signature"]))
            return web.Response(status=204)

        app = web.Application(client_max_size=64 * 1024 * 1024)  # aiohttp's default would answer 413
        app.router.add_post("/hook", hook)
        endpoint = await aiohttp_server(app, host="127.0.0.1", port=0)
        server = await make_server(f"{endpoint.make_url('/hook')}|message.sent", virtual_clock=True,
                                   delivery_process=in_child)
        payload = json.dumps({"recipients": ["u1"], "data": {"blob": "x" * 10_000_000}}).encode()
        async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/v1/workflows/big/trigger", data=io.BytesIO(payload),
            headers={**AUTH, "content-type": "application/json"},
        ) as response:
            assert response.status == 200, await response.text()
        await asyncio.wait_for(server.simulation.settle(), 60)
        assert [a.status for a in server.simulation.store.deliveries] == [204, 204]
        assert len(received) == 2
        for body, signature in received:
            assert len(body) > 10_000_000
            independent_verify(body, signature, SECRET)
