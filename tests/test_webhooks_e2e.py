"""End to end: a trigger over HTTP becomes signed, schema-valid webhooks at a real receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mockknock.config import RetryPolicy
from mockknock.ids import ksuid_seconds
from mockknock.schemas import SchemaRegistry
from mockknock.server import MockKnockServer
from mockknock.transport import ErrorKind
from tests.conftest import AUTH, SECRET, Receiver, ReceiverFactory, ServerFactory

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def independent_verify(body: bytes, header: str, secret: str) -> int:
    """A second implementation of Knock's scheme, written from the docs, not from mockknock.signing."""
    t_part, s_part = header.split(",")
    assert t_part.startswith("t=") and s_part.startswith("s=")
    timestamp = t_part[2:]
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).digest()
    assert base64.b64encode(mac).decode() == s_part[2:], "signature mismatch"
    return int(timestamp)


async def trigger(session: aiohttp.ClientSession, url: str, key: str = "new-comment", **body: object) -> str:
    payload = {"recipients": ["u1"], **body}
    async with session.post(f"{url}/v1/workflows/{key}/trigger", json=payload, headers=AUTH) as response:
        assert response.status == 200, await response.text()
        run_id = (await response.json())["workflow_run_id"]
        assert isinstance(run_id, str)
        return run_id


class TestSignedSequence:
    """The default scenario's sequence, as a receiver sees it."""

    async def test_default_workflow_sends_in_app_and_email_sequences(
        self, make_server: ServerFactory, receiver: Receiver, schemas: SchemaRegistry
    ) -> None:
        """One recipient gets in-app sent+delivered and email sent then delivered, all valid and signed."""
        server = await make_server(receiver.url, virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            run_id = await trigger(session, server.url, data={"comment": "hi"})
        assert uuid.UUID(run_id).version == 4
        await server.simulation.settle()
        assert sorted(receiver.types()) == sorted(
            ["message.sent", "message.delivered", "message.sent", "message.delivered"]
        )
        by_channel: dict[str, list[str]] = {}
        for received in receiver.in_emission_order(server.simulation):
            body = received.json
            schemas.validate_event(body)
            assert list(body) == ["__typename", "type", "created_at", "data", "event_data"]
            assert received.headers["Content-Type"] == "application/json"
            assert received.headers["x-knock-event"] == body["type"]
            assert received.headers["x-knock-environment-id"] == server.settings.environment_id
            signed_at = independent_verify(received.body, received.headers["x-knock-signature"], SECRET)
            assert abs(signed_at - time.time() * 1000) < 60_000, "t= must be the real wall clock, in ms"
            message = body["data"]
            assert message["source"]["workflow_run_id"] == run_id
            assert message["data"] == {"comment": "hi"}
            assert ksuid_seconds(message["id"]) == int(
                time.mktime(time.strptime(message["inserted_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            )
            assert TIMESTAMP.match(body["created_at"])
            by_channel.setdefault(message["channel"]["type"], []).append(body["type"])
        assert by_channel["in_app_feed"] == ["message.sent", "message.delivered"]
        assert by_channel["email"] == ["message.sent", "message.delivered"]

    async def test_message_in_event_reflects_state_at_that_moment(
        self, make_server: ServerFactory, receiver: Receiver
    ) -> None:
        """The email's sent event carries status sent; its delivered event carries delivered, later."""
        server = await make_server(receiver.url, virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
        await server.simulation.settle()
        email = [r.json for r in receiver.received if r.json["data"]["channel"]["type"] == "email"]
        assert [e["data"]["status"] for e in email] == ["sent", "delivered"]
        assert email[0]["created_at"] < email[1]["created_at"]
        assert email[1]["data"]["updated_at"] == email[1]["created_at"]

    async def test_one_message_per_recipient_per_channel_step(
        self, make_server: ServerFactory, receiver: Receiver
    ) -> None:
        """Three recipients (a user id, an inline user, an object) make six messages."""
        server = await make_server(receiver.url, virtual_clock=True)
        recipients = ["u1", {"id": "u2", "email": "u2@example.com"}, {"id": "p1", "collection": "projects"}]
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, recipients=recipients, actor="u9", tenant="acme")
        await server.simulation.settle()
        messages = list(server.simulation.store.messages.values())
        assert len(messages) == 6
        assert server.simulation.store.users["u2"]["email"] == "u2@example.com"
        assert ("projects", "p1") in server.simulation.store.objects
        assert "acme" in server.simulation.store.tenants
        wire = [m.to_wire() for m in messages]
        assert {"id": "p1", "collection": "projects"} in [w["recipient"] for w in wire]
        assert all(w["actors"] == ["u9"] and w["tenant"] == "acme" for w in wire)
        u2_email = next(w for w in wire if w["recipient"] == "u2" and w["channel"]["type"] == "email")
        # api.yml's recipient_snapshot: an email carries the address and name; in-app and objects carry none
        assert u2_email["recipient_snapshot"] == {"email": "u2@example.com",
                                                  "name": server.simulation.store.users["u2"]["name"]}
        assert [w["recipient_snapshot"] for w in wire if w["channel"]["type"] == "in_app_feed"] == [None] * 3
        assert next(w for w in wire if w["recipient"] != "u2" and w["channel"]["type"] == "email"
                    and isinstance(w["recipient"], dict))["recipient_snapshot"] is None

    async def test_event_filters_per_endpoint(self, make_server: ServerFactory, make_receiver: ReceiverFactory) -> None:
        """An endpoint with a filter receives only the event types it asked for."""
        everything, delivered_only = await make_receiver(), await make_receiver()
        server = await make_server(everything.url, f"{delivered_only.url}|message.delivered", virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
        await server.simulation.settle()
        assert len(everything.received) == 4
        assert delivered_only.types() == ["message.delivered", "message.delivered"]


class TestRetries:
    """Non-2xx answers and timeouts are retried, re-signed, and given up after max attempts."""

    async def test_500s_are_retried_until_success(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """Three 500s then 204s: the in-app event (first) needs 4 attempts, each signed afresh, all logged."""
        receiver.script = [500, 500, 500]
        server = await make_server(f"{receiver.url}|message.sent", virtual_clock=True,
                                   retry=RetryPolicy(base_us=60_000_000))
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, key="wf", recipients=["u1"])
        await server.simulation.settle()
        per_event: dict[int, list[tuple[int, int | None, bool]]] = {}
        for a in server.simulation.store.deliveries:
            per_event.setdefault(a.event_seq, []).append((a.attempt, a.status, a.final))
        in_app, email = (per_event[seq] for seq in sorted(per_event))
        # The in-app event fails at t=0, +1m, and the email event (sent at ~1s) takes one 500 in between.
        assert [status for _, status, _ in in_app] == [500, 500, 204]
        assert [status for _, status, _ in email] == [500, 204]
        assert [attempt for attempt, _, _ in in_app] == [1, 2, 3]
        assert [final for _, _, final in in_app] == [False, False, True]
        in_app_bodies = {r.body for r in receiver.received if b"in_app_feed" in r.body}
        assert len(in_app_bodies) == 1, "every attempt sends the same bytes"
        signed = [independent_verify(r.body, r.headers["x-knock-signature"], SECRET) for r in receiver.received]
        assert len(signed) == 5

    async def test_gives_up_after_eight_attempts(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """A receiver that always fails gets exactly 8 attempts per event, spread over simulated minutes."""
        receiver.default_status = 503
        server = await make_server(f"{receiver.url}|message.sent", virtual_clock=True)
        start = server.simulation.clock.now_us()
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, recipients=["u1"])
        await server.simulation.settle()
        assert len(receiver.received) == 2 * 8  # two message.sent events (in-app, email)
        per_event: dict[int, list[int]] = {}
        for attempt in server.simulation.store.deliveries:
            per_event.setdefault(attempt.event_seq, []).append(attempt.attempt)
        assert all(attempts == list(range(1, 9)) for attempts in per_event.values())
        elapsed_min = (server.simulation.clock.now_us() - start) / 60e6
        assert 10 < elapsed_min < 40, f"8 attempts should span about 21 simulated minutes, took {elapsed_min:.1f}"

    async def test_3xx_and_4xx_are_retried_too(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """Knock retries 3xx and 4xx answers as well as 5xx; redirects are not followed."""
        receiver.script = [301, 404]
        server = await make_server(f"{receiver.url}|message.delivered", virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, recipients=["u1"])
        await server.simulation.settle()
        statuses = [a.status for a in server.simulation.store.deliveries if a.event_type.value == "message.delivered"]
        assert statuses[:3] == [301, 404, 204]

    async def test_timeouts_are_retried(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """An endpoint slower than the delivery timeout is retried and its attempt logged as a timeout."""
        receiver.delay_s = 0.5
        retry = RetryPolicy(max_attempts=2, timeout_s=0.1, base_us=1_000_000)
        server = await make_server(f"{receiver.url}|message.sent", virtual_clock=True, retry=retry)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, recipients=["u1"])
        await server.simulation.settle()
        attempts = list(server.simulation.store.deliveries)
        assert len(attempts) == 4
        assert all(a.status is None and a.error is not None and "timed out" in a.error for a in attempts)

    async def test_a_trickled_answer_times_out_in_total(
        self, make_server: ServerFactory, aiohttp_server: Any
    ) -> None:
        """The timeout covers the whole attempt: an endpoint that answers a byte at a time, each well within
        the timeout, still times out once the attempt as a whole has taken longer."""

        async def trickle(request: web.Request) -> web.StreamResponse:
            await request.read()
            response = web.StreamResponse(status=200)
            await response.prepare(request)
            for _ in range(20):
                await response.write(b".")
                await asyncio.sleep(0.05)
            await response.write_eof()
            return response

        app = web.Application()
        app.router.add_post("/hook", trickle)
        endpoint = await aiohttp_server(app, host="127.0.0.1", port=0)
        retry = RetryPolicy(max_attempts=1, timeout_s=0.3)
        server = await make_server(f"{endpoint.make_url('/hook')}|message.sent", virtual_clock=True, retry=retry)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, recipients=["u1"])
        await asyncio.wait_for(server.simulation.settle(), 10)
        attempts = list(server.simulation.store.deliveries)
        assert attempts and all(a.error_kind == "timeout" and a.latency_ms < 900 for a in attempts)

    async def test_unreachable_endpoint_is_logged_not_fatal(self, make_server: ServerFactory) -> None:
        """A closed port gives connection errors in the log; the server keeps serving."""
        retry = RetryPolicy(max_attempts=2)
        server = await make_server("http://127.0.0.1:9/hook", virtual_clock=True, retry=retry)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
            await server.simulation.settle()
            assert all(a.error for a in server.simulation.store.deliveries)
            await trigger(session, server.url)


class TestCutShort:
    """A POST still under way when deliveries are cancelled is in the log; after a reset, nothing is."""

    @staticmethod
    async def _under_way(make_server: ServerFactory, receiver: Receiver) -> MockKnockServer:
        """A server whose first POST has reached an endpoint that takes 5 s to answer."""
        receiver.delay_s = 5
        server = await make_server(receiver.url, virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url)
        await receiver.wait_for(1)
        return server

    @pytest.mark.parametrize("how", ["cancel_all", "stop"])
    async def test_an_attempt_cut_short_is_logged(self, make_server: ServerFactory, receiver: Receiver,
                                                  how: str) -> None:
        server = await self._under_way(make_server, receiver)
        if how == "cancel_all":
            await server.simulation.delivery.cancel_all()
        else:
            await server.stop()
        logged = list(server.simulation.store.deliveries)
        cut = [a for a in logged if a.error_kind == ErrorKind.CANCELLED]
        # Every POST the endpoint got is in the log (none was answered: the endpoint takes 5 s); one still on
        # the wire when cancelled may be logged without the endpoint having recorded it.
        assert cut == logged and len(cut) >= len(receiver.received) >= 1
        assert all(a.final and a.status is None and "cancelled before an answer came" in (a.error or "")
                   for a in cut)

    async def test_a_reset_forgets_the_attempts_it_cuts_short(self, make_server: ServerFactory,
                                                              receiver: Receiver) -> None:
        server = await self._under_way(make_server, receiver)
        async with aiohttp.ClientSession() as session, session.post(f"{server.url}/__mockknock/reset") as response:
            assert response.status in (200, 204)
        await asyncio.sleep(0.1)  # the cancelled POSTs have ended by now
        assert list(server.simulation.store.deliveries) == []


class TestCancel:
    """POST /v1/workflows/{key}/cancel stops what has not been emitted yet."""

    async def test_cancel_stops_pending_events(self, make_server: ServerFactory, receiver: Receiver) -> None:
        """Cancelling right after the trigger leaves in-app events (emitted at once) and no email events."""
        server = await make_server(receiver.url, virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, key="wf", recipients=["u1", "u2"], cancellation_key="ck1")
            async with session.post(
                f"{server.url}/v1/workflows/wf/cancel", json={"cancellation_key": "ck1", "recipients": ["u2"]},
                headers=AUTH,
            ) as response:
                assert response.status == 204
                assert await response.read() == b""
        await server.simulation.settle()
        email_recipients = [r.json["data"]["recipient"] for r in receiver.received
                            if r.json["data"]["channel"]["type"] == "email"]
        assert set(email_recipients) == {"u1"}
        statuses = {r.recipient: r.status.value for r in server.simulation.store.recipient_runs.values()}
        assert statuses == {"u1": "completed", "u2": "cancelled"}

    async def test_cancel_with_other_key_or_workflow_changes_nothing(
        self, make_server: ServerFactory, receiver: Receiver
    ) -> None:
        """Only the same workflow and cancellation key match."""
        server = await make_server(receiver.url, virtual_clock=True)
        async with aiohttp.ClientSession() as session:
            await trigger(session, server.url, key="wf", cancellation_key="ck1")
            for path, key in (("other", "ck1"), ("wf", "ck2")):
                async with session.post(f"{server.url}/v1/workflows/{path}/cancel", json={"cancellation_key": key},
                                        headers=AUTH) as response:
                    assert response.status == 204
        await server.simulation.settle()
        assert len(receiver.received) == 4

    async def test_cancel_without_key_is_422(self, make_server: ServerFactory) -> None:
        """cancellation_key is required."""
        server = await make_server()
        async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/v1/workflows/wf/cancel", json={}, headers=AUTH
        ) as response:
            assert response.status == 422
            body = await response.json()
            assert body["errors"][0]["field"] == "cancellation_key"
