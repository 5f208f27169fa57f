"""How a signed webhook reaches an endpoint: one POST, its answer or why there was none.

Delivery decides what to send, when, and how often; a transport only carries one request. Two exist:
``SessionTransport`` POSTs from this process through one shared aiohttp ClientSession (keep-alive), and
``courier.CourierTransport`` hands the same request to a child process that does exactly that, so the
API and the simulation keep this process's core while webhooks flow.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

EXCERPT_BYTES = 200
# aiohttp warns that a bytes body this large "might lock the event loop" and asks for a file-like one,
# which it then writes in chunks. Webhook bodies reach this size when a trigger's data is near Knock's
# 10 MB limit.
LARGE_BODY_BYTES = 1 << 20


class ErrorKind:
    """Why an attempt has no answer, as the delivery log records it."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    SIMULATED = "simulated"  # set by delivery itself, never by a transport
    INTERNAL = "internal"  # mockknock could not make the attempt (its delivery process died)


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


class SessionTransport:
    """POSTs from this process through one ClientSession whose pool holds ``concurrency`` connections."""

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self.backlog = 0
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout()

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency, keepalive_timeout=30),
            # Knock's receivers expect exactly the bytes that were signed; no cookies carried between them.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> PostResult:
        assert self._session is not None, "SessionTransport.open() was not called"
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
                answer = await response.read()
                excerpt = answer[:EXCERPT_BYTES].decode("utf-8", errors="replace") if answer else None
                return PostResult(response.status, (time.perf_counter() - started) * 1000, excerpt=excerpt)
        except TimeoutError:
            error, kind = f"timed out after {timeout_s:g}s", ErrorKind.TIMEOUT
        except aiohttp.ClientError as exc:
            error, kind = f"{type(exc).__name__}: {exc}", ErrorKind.CONNECT
        return PostResult(None, (time.perf_counter() - started) * 1000, error, kind)

    def describe(self) -> str:
        return "POSTed from this process"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
