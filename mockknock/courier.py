"""Webhook POSTs made by a child process, so they do not take the serving process's core.

The parent (``CourierTransport``) writes each request down the child's stdin as one length-prefixed
frame and reads each answer back from its stdout; the child (``python -m mockknock.courier``) makes the
POSTs through an ``InProcessTransport`` of its own. Frames written in one event-loop turn go in one write,
so a busy parent pays a few microseconds per webhook instead of the POST itself.

The child exits when its stdin closes: when the parent closes the transport, or dies. If the child dies
first, every attempt it held fails with an ``internal`` error (delivery retries them) and the next POST
starts a new one; after ``_MAX_RESTARTS`` deaths in a row with no answer between them, the parent makes
its POSTs itself and says so in the log.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import logging
import os
import signal
import site
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mockknock.config import WEBHOOK_CLIENTS
from mockknock.transport import ErrorKind, InProcessTransport, PostResult, Transport

_log = logging.getLogger("mockknock.courier")

_LENGTH = struct.Struct("<I")
_REQUEST = struct.Struct("<IdHIH")  # id, timeout s, then the lengths of url, body and header block
_RESULT = struct.Struct("<IHdBHH")  # id, status (0: none), latency ms, error kind, error and excerpt lengths
# A frame of just a request id, parent to child: the attempt was cancelled (the delivery was cancelled, or
# the mock reset), so the child drops the request if it still holds it, or abandons its POST.
_CANCEL = struct.Struct("<I")
_KINDS = (None, ErrorKind.TIMEOUT, ErrorKind.CONNECT, ErrorKind.INTERNAL, ErrorKind.DISCONNECTED)
_KIND_CODES = {kind: code for code, kind in enumerate(_KINDS)}
_IDS = 0xFFFF_FFFF
_MAX_RESTARTS = 3
_EXIT_WAIT_S = 5.0
# The child enforces each POST's timeout itself, and holds a request at most until one of its connections
# frees (one more timeout: its queue is no deeper than its pool). This much past both, the parent stops
# waiting for the answer, so that a child alive but stuck cannot hold a delivery worker for ever.
_ANSWER_GRACE_S = 5.0


def encode_request(request_id: int, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> bytes:
    raw_url = url.encode()
    block = "\0".join(f"{name}\0{value}" for name, value in headers.items()).encode()
    head = _REQUEST.pack(request_id, timeout_s, len(raw_url), len(body), len(block))
    return b"".join((_LENGTH.pack(len(head) + len(raw_url) + len(body) + len(block)), head, raw_url, body, block))


def decode_request(frame: bytes) -> tuple[int, str, bytes, dict[str, str], float]:
    request_id, timeout_s, url_len, body_len, block_len = _REQUEST.unpack_from(frame)
    at = _REQUEST.size
    url = frame[at:at + url_len].decode()
    at += url_len
    body = frame[at:at + body_len]
    at += body_len
    fields = frame[at:at + block_len].decode().split("\0") if block_len else []
    return request_id, url, body, dict(zip(fields[::2], fields[1::2], strict=True)), timeout_s


def encode_result(request_id: int, result: PostResult) -> bytes:
    error = (result.error or "").encode()[:0xFFFF]
    excerpt = (result.excerpt or "").encode()[:0xFFFF]
    head = _RESULT.pack(request_id, result.status or 0, result.latency_ms, _KIND_CODES[result.error_kind],
                        len(error), len(excerpt))
    return b"".join((_LENGTH.pack(len(head) + len(error) + len(excerpt)), head, error, excerpt))


def decode_result(frame: bytes) -> tuple[int, PostResult]:
    request_id, status, latency_ms, kind, error_len, excerpt_len = _RESULT.unpack_from(frame)
    at = _RESULT.size
    error = frame[at:at + error_len].decode(errors="replace") if error_len else None
    at += error_len
    excerpt = frame[at:at + excerpt_len].decode(errors="replace") if excerpt_len else None
    return request_id, PostResult(status or None, latency_ms, error, _KINDS[kind], excerpt)


class FrameReader:
    """Splits a byte stream into the length-prefixed frames it carries, whatever the chunking."""

    def __init__(self, on_frame: Callable[[bytes], None]) -> None:
        # A bytearray, grown in place: a 10 MB body arrives in many chunks, and joining bytes chunk by chunk
        # would copy it over and over.
        self._buffer = bytearray()
        self._on_frame = on_frame

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        at, size = 0, len(buffer)
        while size - at >= 4:
            (length,) = _LENGTH.unpack_from(buffer, at)
            if size - at - 4 < length:
                break
            self._on_frame(bytes(buffer[at + 4:at + 4 + length]))
            at += 4 + length
        del buffer[:at]


class _Batch:
    """Frames queued in one event-loop turn, written together at its end."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._frames: list[bytes] = []

    def add(self, frame: bytes) -> None:
        if not self._frames:
            asyncio.get_running_loop().call_soon(self._flush)
        self._frames.append(frame)

    def _flush(self) -> None:
        frames, self._frames = self._frames, []
        self._write(b"".join(frames))


# -- the parent's side ----------------------------------------------------------------------------


class _Child(asyncio.SubprocessProtocol):
    def __init__(self, on_result: Callable[[bytes], None], on_exit: Callable[[_Child], None]) -> None:
        self._reader = FrameReader(on_result)
        self._on_exit = on_exit
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._reader.feed(data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)
        self._on_exit(self)


class CourierTransport:
    """Hands each POST to a child process running ``python -m mockknock.courier``."""

    def __init__(self, concurrency: int, client: str = "http1", python: str = sys.executable) -> None:
        self._concurrency = concurrency
        self._client = client
        self._python = python
        # As many again waiting in the child: a connection that frees takes the next request at once.
        self.backlog = concurrency
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[PostResult]] = {}
        self._process: asyncio.SubprocessTransport | None = None
        self._child: _Child | None = None
        self._batch: _Batch | None = None
        self._starting: asyncio.Task[None] | None = None
        self._deaths = 0  # in a row, with no answer between them
        self._closing = False
        self._fallback: InProcessTransport | None = None

    @property
    def in_child(self) -> bool:
        """False once the child kept dying and this process makes the POSTs itself."""
        return self._fallback is None

    async def open(self) -> None:
        self._closing = False
        await self._start()

    @property
    def pid(self) -> int | None:
        """The child's process id; None while there is none."""
        return self._process.get_pid() if self._process is not None else None

    def describe(self) -> str:
        if self._fallback is not None:
            return "POSTed from this process (the delivery process could not run; see the log)"
        return f"POSTed from a child process (pid {self.pid}; --no-delivery-process keeps them in this one)"

    async def _start(self) -> None:
        try:
            await self._spawn()
        except OSError as exc:  # no child process at all here (a sandbox, a frozen build): make POSTs here
            await self._fall_back(f"cannot start mockknock's delivery process ({exc})")

    async def _fall_back(self, reason: str) -> None:
        _log.error("%s; POSTing webhooks from this process from now on", reason)
        self._fallback = InProcessTransport(self._concurrency, self._client)
        await self._fallback.open()

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        transport, child = await loop.subprocess_exec(
            lambda: _Child(self._on_result, self._on_exit),
            self._python, "-m", "mockknock.courier",
            "--concurrency", str(self._concurrency), "--client", self._client,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None, env=_child_environment(),
        )
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        self._process, self._child, self._batch = transport, child, _Batch(stdin.write)
        if child.exited.done():  # it died while the pipes were being connected, before it was ours to mourn
            self._on_exit(child)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> PostResult:
        # A new child can die before this attempt is handed to it; each death counts towards giving up.
        while self._batch is None and self._fallback is None:
            await self._restart()
        if self._fallback is not None:
            return await self._fallback.post(url, body, headers, timeout_s)
        assert self._batch is not None
        request_id = next(self._ids) & _IDS
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PostResult] = loop.create_future()
        self._pending[request_id] = future
        self._batch.add(encode_request(request_id, url, body, headers, timeout_s))
        overdue = loop.call_later(_answer_deadline_s(timeout_s), self._overdue, future, timeout_s)
        try:
            return await future
        except asyncio.CancelledError:
            # Cancelling this task cancelled the future too; one with a result came back before the cancel.
            if future.cancelled() and self._batch is not None:
                self._batch.add(_LENGTH.pack(_CANCEL.size) + _CANCEL.pack(request_id))
            raise
        finally:
            overdue.cancel()
            self._pending.pop(request_id, None)

    @staticmethod
    def _overdue(future: asyncio.Future[PostResult], timeout_s: float) -> None:
        if not future.done():
            waited = _answer_deadline_s(timeout_s)
            future.set_result(PostResult(None, waited * 1000, f"mockknock's delivery process did not answer within "
                                                              f"{waited:g}s", ErrorKind.INTERNAL))

    async def _restart(self) -> None:
        # Concurrent attempts that find the child gone wait for one start, not one each.
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_task(self._start_again())
        await asyncio.shield(self._starting)

    async def _start_again(self) -> None:
        if self._deaths >= _MAX_RESTARTS:
            await self._fall_back(f"mockknock's delivery process died {self._deaths} times in a row")
            return
        await self._start()

    def _on_result(self, frame: bytes) -> None:
        request_id, result = decode_result(frame)
        self._deaths = 0
        future = self._pending.get(request_id)
        if future is not None and not future.done():  # done: its attempt was cancelled meanwhile
            future.set_result(result)

    def _on_exit(self, child: _Child) -> None:
        if child is not self._child:
            return
        process = self._process
        code = process.get_returncode() if process is not None else None
        if process is not None and not self._closing:  # close() closes it after waiting
            asyncio.get_running_loop().call_soon(process.close)
        self._process = self._child = self._batch = None
        if not self._closing:
            self._deaths += 1
            _log.warning("mockknock's delivery process exited (code %s); %d attempts under way fail and are "
                         "retried", code, len(self._pending))
        failure = PostResult(None, 0.0, f"mockknock's delivery process exited (code {code})", ErrorKind.INTERNAL)
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_result(failure)

    async def close(self) -> None:
        self._closing = True
        if self._starting is not None and not self._starting.done():  # a replacement must not outlive this
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        process, child = self._process, self._child
        if process is not None and child is not None:
            stdin = process.get_pipe_transport(0)
            if stdin is not None:
                stdin.close()
            try:
                await asyncio.wait_for(asyncio.shield(child.exited), _EXIT_WAIT_S)
            except TimeoutError:
                _log.warning("mockknock's delivery process did not exit within %gs; killing it", _EXIT_WAIT_S)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await child.exited
            process.close()
        if self._fallback is not None:
            await self._fallback.close()
            self._fallback = None


def _answer_deadline_s(timeout_s: float) -> float:
    return 2 * timeout_s + _ANSWER_GRACE_S


def _child_environment() -> dict[str, str]:
    """This environment, with this very copy of mockknock importable: from a checkout or a copy put on
    sys.path by hand, not only from site-packages. An installed copy adds nothing, so site-packages never
    comes before the standard library."""
    root = Path(__file__).resolve().parent.parent
    installed = {Path(p).resolve() for p in (*site.getsitepackages(), site.getusersitepackages())}
    if root in installed:
        return dict(os.environ)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(root) + (os.pathsep + path if path else "")}


def transport_for(in_child: bool, concurrency: int, client: str) -> Transport:
    # The child reads its stdin through the event loop, which Windows' proactor loop cannot do for an
    # inherited pipe; there, POSTs stay in this process.
    if in_child and sys.platform != "win32":
        return CourierTransport(concurrency, client)
    return InProcessTransport(concurrency, client)


# -- the child's side -----------------------------------------------------------------------------


class _Requests(asyncio.Protocol):
    def __init__(self, on_frame: Callable[[bytes], None]) -> None:
        self._reader = FrameReader(on_frame)
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _Dispatcher:
    """Sends each request as it arrives while fewer than ``concurrency`` are under way, else queues it.

    A request waits here, not in the pool, so that its timeout starts when it is sent; and the parent
    keeps a backlog queued, so that a connection that frees finds its next request ready without a round
    trip to the parent. No coroutine per request: this process only passes answers on.
    """

    def __init__(self, transport: InProcessTransport, concurrency: int, batch: _Batch) -> None:
        self._transport = transport
        self._concurrency = concurrency
        self._batch = batch
        self._waiting: collections.deque[bytes] = collections.deque()
        self._under_way: dict[int, Callable[[], None]] = {}  # request id -> what abandons its POST
        self.closing = False

    def on_frame(self, frame: bytes) -> None:
        if len(frame) == _CANCEL.size:
            self._cancel(_CANCEL.unpack(frame)[0])
        elif len(self._under_way) < self._concurrency:
            self._start(frame)
        else:
            self._waiting.append(frame)

    def _start(self, frame: bytes) -> None:
        request_id, url, body, headers, timeout_s = decode_request(frame)
        # send() never calls ``done`` from within itself, so the entry is in place before any answer.
        self._under_way[request_id] = self._transport.send(
            url, body, headers, timeout_s, lambda result: self._answered(request_id, result))

    def _answered(self, request_id: int, result: PostResult) -> None:
        if self.closing or self._under_way.pop(request_id, None) is None:
            return
        self._batch.add(encode_result(request_id, result))
        self._next()

    def _next(self) -> None:
        if self._waiting and len(self._under_way) < self._concurrency:
            self._start(self._waiting.popleft())

    def _cancel(self, request_id: int) -> None:
        for index, frame in enumerate(self._waiting):  # no deeper than the pool
            if _CANCEL.unpack_from(frame)[0] == request_id:  # a request frame starts with its id
                del self._waiting[index]
                return
        abandon = self._under_way.pop(request_id, None)
        if abandon is not None:
            abandon()
            self._next()


async def run_child(concurrency: int, client: str, requests_fd: int, results_fd: int) -> None:
    loop = asyncio.get_running_loop()
    transport = InProcessTransport(concurrency, client)
    await transport.open()
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(results_fd, "wb", buffering=0))
    dispatcher = _Dispatcher(transport, concurrency, _Batch(out.write))
    requests = _Requests(dispatcher.on_frame)
    await loop.connect_read_pipe(lambda: requests, os.fdopen(requests_fd, "rb", buffering=0))
    await requests.closed
    dispatcher.closing = True
    await transport.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mockknock.courier",
                                     description="mockknock's webhook POSTs; started by mockknock, not by hand")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--client", choices=WEBHOOK_CLIENTS, default="http1")
    args = parser.parse_args(argv)
    # Ctrl-C in the terminal reaches the whole process group; the parent decides when this one stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Results get a descriptor of their own, and anything printed by accident goes to stderr instead of
    # into the frames.
    results_fd = os.dup(1)
    os.dup2(2, 1)
    asyncio.run(run_child(args.concurrency, args.client, 0, results_fd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
