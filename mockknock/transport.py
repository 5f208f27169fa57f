"""How a signed webhook reaches an endpoint: one POST, its answer or why there was none.

Delivery decides what to send, when, and how often; a transport only carries one request. Two exist:
``InProcessTransport`` POSTs from this process over kept-alive connections, and
``courier.CourierTransport`` hands the same request to a child process that does exactly that, so the
API and the simulation keep this process's core while webhooks flow.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from mockknock import http1

EXCERPT_BYTES = 200
# aiohttp warns that a bytes body this large "might lock the event loop" and asks for a file-like one,
# which it then writes in chunks. Webhook bodies reach this size when a trigger's data is near Knock's
# 10 MB limit.
LARGE_BODY_BYTES = 1 << 20


class ErrorKind:
    """Why an attempt has no answer, as the delivery log records it."""

    TIMEOUT = "timeout"
    CONNECT = "connect"  # no connection could be opened: refused, unreachable, no such host
    DISCONNECTED = "disconnected"  # connected, then closed, reset or garbled before a whole answer
    SIMULATED = "simulated"  # set by delivery itself, never by a transport
    INTERNAL = "internal"  # mockknock could not make the attempt (its delivery process died)
    CANCELLED = "cancelled"  # set by delivery itself: stopped, or its deliveries cancelled, before an answer


def request_body(body: bytes) -> bytes | io.BytesIO:
    """What to hand aiohttp as ``data``: the bytes, or a file over them when aiohttp would warn."""
    return io.BytesIO(body) if len(body) > LARGE_BODY_BYTES else body


@dataclass(frozen=True, slots=True)
class PostResult:
    status: int | None
    latency_ms: float
    error: str | None = None
    error_kind: str | None = None
    excerpt: str | None = None  # the first EXCERPT_BYTES of the answer, for reports


class Transport(Protocol):
    # Requests worth handing over beyond the ``concurrency`` that are sent at once.
    backlog: int

    async def open(self) -> None: ...

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> PostResult: ...

    async def close(self) -> None: ...

    def describe(self) -> str: ...


def _result(outcome: http1.Answer | BaseException, started: float, timeout_s: float) -> PostResult:
    latency_ms = (time.perf_counter() - started) * 1000
    if isinstance(outcome, http1.Answer):
        excerpt = outcome.excerpt.decode("utf-8", errors="replace") if outcome.excerpt else None
        return PostResult(outcome.status, latency_ms, excerpt=excerpt)
    if isinstance(outcome, TimeoutError):
        return PostResult(None, latency_ms, f"timed out after {timeout_s:g}s", ErrorKind.TIMEOUT)
    kind = ErrorKind.CONNECT if isinstance(outcome, http1.ConnectError) else ErrorKind.DISCONNECTED
    return PostResult(None, latency_ms, str(outcome), kind)


class InProcessTransport:
    """POSTs from this process, at most ``concurrency`` at once (delivery's workers see to that).

    Plain-``http`` endpoints go through ``http1``'s kept-alive connections; https and any URL that client
    does not send as given (and every URL, with ``client="aiohttp"``) go through one aiohttp ClientSession
    whose pool holds as many connections.
    """

    # URLs seen, each with its http1 target or None: a delivery has a handful of endpoints, a replay one.
    _TARGETS_KEPT = 1024

    def __init__(self, concurrency: int, client: str = "http1") -> None:
        self._concurrency = concurrency
        self._http1 = client == "http1"  # else aiohttp's client for every URL (Settings.webhook_client)
        self.backlog = 0
        self._pool: http1.Http1Pool | None = None
        self._targets: dict[str, http1.Target | None] = {}
        self._session: aiohttp.ClientSession | None = None
        self._sending: set[asyncio.Task[PostResult]] = set()  # through aiohttp, for ``send``
        self._timeout = aiohttp.ClientTimeout()

    async def open(self) -> None:
        self._pool = http1.Http1Pool(EXCERPT_BYTES)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> PostResult:
        assert self._pool is not None, "InProcessTransport.open() was not called"
        target = self._target(url)
        if target is None:
            return await self._post_session(url, body, headers, timeout_s)
        started = time.perf_counter()
        try:
            outcome: http1.Answer | BaseException = await self._pool.post(target, body, headers, timeout_s)
        except (TimeoutError, http1.Http1Error) as exc:
            outcome = exc
        return _result(outcome, started, timeout_s)

    def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float,
             done: Callable[[PostResult], None]) -> Callable[[], None]:
        """``post`` without a coroutine per request: ``done`` gets the result later. The delivery process
        uses this, as it has nothing to do per request but pass the answer on. Returns what abandons the
        POST (``done`` is then never called)."""
        assert self._pool is not None, "InProcessTransport.open() was not called"
        loop = asyncio.get_running_loop()
        target = self._target(url)
        if target is None:
            task = loop.create_task(self._post_session(url, body, headers, timeout_s))
            self._sending.add(task)
            task.add_done_callback(self._sent(done))

            def abandon() -> None:
                task.cancel()  # a cancelled task reports nothing

            return abandon
        started = time.perf_counter()
        try:
            return self._pool.send(target, body, headers, timeout_s,
                                   lambda outcome: done(_result(outcome, started, timeout_s)))
        except http1.ProtocolError as exc:
            handle = loop.call_soon(done, _result(exc, started, timeout_s))
            return handle.cancel

    def _sent(self, done: Callable[[PostResult], None]) -> Callable[[asyncio.Task[PostResult]], None]:
        def report(task: asyncio.Task[PostResult]) -> None:
            self._sending.discard(task)
            if task.cancelled():
                return
            failure = task.exception()
            if failure is not None:  # not a ClientError, yet the POST is over: its sender must hear of it
                done(PostResult(None, 0.0, f"{type(failure).__name__}: {failure}", ErrorKind.CONNECT))
            else:
                done(task.result())
        return report

    def _target(self, url: str) -> http1.Target | None:
        try:
            return self._targets[url]
        except KeyError:
            if len(self._targets) >= self._TARGETS_KEPT:
                self._targets.clear()
            target = self._targets[url] = http1.plain_target(url) if self._http1 else None
            return target

    async def _post_session(self, url: str, body: bytes, headers: Mapping[str, str],
                            timeout_s: float) -> PostResult:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency, keepalive_timeout=http1.IDLE_S),
                # Knock's receivers expect exactly the bytes that were signed; no cookies carried between them.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        if self._timeout.total != timeout_s:  # the policy changed (a scenario reload): one object per change
            # In total, per attempt: delivery never has more requests under way than pooled connections,
            # so no attempt's clock runs while it waits for a connection. (A per-read timeout would also
            # re-arm a timer on every chunk received, and let a receiver that trickles its answer hold an
            # attempt open for ever.)
            self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        data = request_body(body)
        started = time.perf_counter()
        try:
            async with self._session.post(url, data=data, headers=headers, allow_redirects=False,
                                          timeout=self._timeout) as response:
                answer = await _excerpt(response)
                excerpt = answer.decode("utf-8", errors="replace") if answer else None
                return PostResult(response.status, (time.perf_counter() - started) * 1000, excerpt=excerpt)
        except TimeoutError:
            error, kind = f"timed out after {timeout_s:g}s", ErrorKind.TIMEOUT
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
            connected = not isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL)
            kind = ErrorKind.DISCONNECTED if connected else ErrorKind.CONNECT
        return PostResult(None, (time.perf_counter() - started) * 1000, error, kind)

    def describe(self) -> str:
        return "POSTed from this process"

    async def close(self) -> None:
        for task in self._sending:
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _excerpt(response: aiohttp.ClientResponse) -> bytes:
    """The first EXCERPT_BYTES of the answer. The rest is read to its end, for the connection to be reused,
    up to http1.MAX_DRAIN_BYTES; an answer longer than that (or endless) is left, and its connection is
    closed on release instead of reused."""
    taken = bytearray()
    seen = 0
    while seen <= http1.MAX_DRAIN_BYTES:
        chunk = await response.content.readany()
        if not chunk:
            break
        seen += len(chunk)
        if len(taken) < EXCERPT_BYTES:
            taken += chunk[:EXCERPT_BYTES - len(taken)]
    return bytes(taken)
