"""POSTs over kept-alive HTTP/1.1 connections to plain-``http`` endpoints, and reads back the status.

Webhook delivery is nothing but such requests, and aiohttp's client spends about two and a half times
the CPU of this one on each (bench/http_client.py): it builds a request and a response object, a stream
reader and a timer context for every POST. Here one ``asyncio.Protocol`` per connection parses
the answer as it arrives, keeps its first bytes for the delivery log and drops the rest.

Only what a webhook endpoint needs is spoken: ``Content-Length`` or chunked answers, answers that end
when the connection closes, informational (1xx) answers before the real one, HTTP/1.0 servers.
``plain_target`` says which URLs qualify; anything else (https, credentials in the URL, a path that
would need quoting) is the transport's to send through aiohttp.
"""

from __future__ import annotations

import asyncio
import re
import select
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

# Servers close idle connections on their own schedules (Node and uvicorn after 5 s, gunicorn after 2 s).
# A close that has arrived marks the connection unusable at once; one still in flight when a POST goes out
# fails that POST, which is not safe to send again. Not keeping connections longer than this narrows that
# window for the 5 s servers, and bounds the sockets an idle mock holds open.
IDLE_S = 4.0
MAX_HEAD_BYTES = 64 * 1024
# An answer's body is read to its end, so that its connection can carry the next POST, up to this much;
# past it the attempt is reported and the connection closed: an endpoint that streams (or answers 200 MB)
# must not hold the attempt until its timeout, nor the delivery worker reading what nobody keeps.
MAX_DRAIN_BYTES = 64 * 1024
# Writing a large body after its head, instead of joined to it, saves copying it.
JOIN_BODY_BYTES = 64 * 1024
_TARGET = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_STATUS_LINE = re.compile(r"HTTP/1\.([0-9]) ([1-5][0-9]{2})(?: .*)?")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# What a request head may hold besides its CRLFs: visible ASCII, space and tab (RFC 9110, section 5.5).
_UNSENDABLE = re.compile(r"[^\t\r\n\x20-\x7e]")
_HEAD_END = b"\r\n\r\n"
_CRLF = b"\r\n"
_NO_BODY = (204, 304)


class Http1Error(Exception):
    """The endpoint could not be reached, or broke off or garbled its answer."""


class ConnectError(Http1Error):
    """No connection could be opened."""


class ProtocolError(Http1Error):
    """The answer was not HTTP/1.x as this client reads it."""


class Disconnected(Http1Error):
    """The server closed the connection before its answer was complete."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's POSTs go: the address to connect to, and the request's Host and path."""

    host: str
    port: int
    host_header: str
    path: str


def plain_target(url: str) -> Target | None:
    """The target of an ``http://`` URL this client can send to exactly as given, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme != "http" or not host or not host.isascii() or "@" in parts.netloc:
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not _TARGET.fullmatch(path):
        return None
    name = f"[{host}]" if ":" in host else host
    header = name if port in (None, 80) else f"{name}:{port}"
    return Target(host, 80 if port is None else port, header, path)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    excerpt: bytes  # the first ``excerpt_bytes`` of the body


Done = Callable[[Answer | BaseException], None]
"""Called once per request with its answer, or with why there is none (TimeoutError or an Http1Error)."""


class _Connection(asyncio.Protocol):
    """One connection: sends a request, parses its answer as bytes arrive, reports it to ``done``."""

    def __init__(self, excerpt_bytes: int, release: Callable[[_Connection], None],
                 lost: Callable[[_Connection], None]) -> None:
        self._excerpt_bytes = excerpt_bytes
        self._release = release
        self._lost = lost
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._done: Done | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._status = 0
        self._excerpt = bytearray()
        self._parse = self._head
        self._remaining = 0  # of the body (Content-Length) or of the current chunk
        self._keep_alive = True
        self._body_seen = 0
        self.closed = False
        self.idle_since = 0.0
        self._fileno = -1

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        self._fileno = sock.fileno() if sock is not None else -1

    def data_received(self, data: bytes) -> None:
        if self._done is None:  # nothing was asked: a server talking out of turn is not reused
            self.close()
            return
        self._buffer += data
        try:
            while self._done is not None and self._parse():
                pass
        except (ValueError, IndexError) as exc:  # malformed numbers or lines, whatever the field
            self._fail(ProtocolError(f"the answer is not valid HTTP/1.1 ({exc})"))
            return
        if self._done is not None and self._body_seen > MAX_DRAIN_BYTES:
            self._keep_alive = False
            self._finish()

    def eof_received(self) -> bool:
        self.closed = True  # not to be handed out in the moment before connection_lost
        return False  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._lost(self)
        if self._done is None:
            return
        if self._parse == self._until_close:
            self._finish()
        elif self._status:
            self._fail(Disconnected("the server closed the connection in the middle of its answer"))
        else:
            detail = f": {exc}" if exc is not None else ""
            self._fail(Disconnected(f"the server closed the connection without answering{detail}"))

    # -- one exchange ---------------------------------------------------------------------------

    def send(self, head: bytes, body: bytes, deadline: float, done: Done) -> None:
        assert self._transport is not None and self._done is None
        self._done = done
        self._timer = asyncio.get_running_loop().call_at(deadline, self._expire)
        self._status, self._parse, self._keep_alive, self._body_seen = 0, self._head, True, 0
        self._excerpt.clear()
        if len(body) > JOIN_BODY_BYTES:
            self._transport.write(head)
            self._transport.write(body)
        else:
            self._transport.write(head + body)

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and self._done is None

    def hung_up(self) -> bool:
        """Whether the idle connection has something to read: the server's close (or stray bytes) that
        arrived after its last answer and that the event loop has not read yet. An answer's ``done`` can
        reuse its connection at once, before the loop reads a close sent right behind the answer."""
        if self._fileno < 0:
            return False
        try:
            return _readable(self._fileno)
        except (OSError, ValueError):
            return True

    def abandon(self, done: Done) -> None:
        """Give up the exchange reporting to ``done``, if it is still under way: by now the connection may
        be carrying somebody else's."""
        if self._done is done:
            self._done = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.close()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def shut(self, reason: str) -> None:
        """Close from this side, telling the exchange under way (if any) why."""
        if self._done is not None:
            self._fail(Disconnected(reason))
        else:
            self.close()

    def _expire(self) -> None:
        self._timer = None
        self._fail(TimeoutError())

    def _report(self) -> Done | None:
        done, self._done = self._done, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return done

    def _fail(self, exc: BaseException) -> None:
        done = self._report()
        self.close()
        if done is not None:
            done(exc)

    def _finish(self) -> None:
        done = self._report()
        transport = self._transport
        # Bytes after the answer, or a request body the server stopped reading: the connection's state
        # is no longer known.
        if self._buffer or (transport is not None and transport.get_write_buffer_size()):
            self._keep_alive = False
        if self.reusable:
            self._release(self)  # first, so that a request sent from ``done`` can have it
        else:
            self.close()
        if done is not None:
            done(Answer(self._status, bytes(self._excerpt)))

    def _keep(self, buffer: bytearray, length: int) -> None:
        """Count ``length`` more body bytes, and add the first of them to the excerpt as far as it has room."""
        self._body_seen += length
        room = min(self._excerpt_bytes - len(self._excerpt), length)
        if room > 0:
            self._excerpt += buffer[:room]

    # -- the parser: each step consumes what it can and says whether to go on ----------------------

    def _take_until(self, marker: bytes, what: str) -> bytes | None:
        """The buffer up to ``marker``, consumed with it; None while it may still arrive, ValueError when
        it comes too late."""
        buffer = self._buffer
        end = buffer.find(marker)
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise ValueError(f"no end of {what} within {MAX_HEAD_BYTES} bytes")
            return None
        taken = bytes(buffer[:end])
        del buffer[:end + len(marker)]
        return taken

    def _head(self) -> bool:
        head = self._take_until(_HEAD_END, "headers")
        if head is None:
            return False
        lines = head.decode("latin-1").split("\r\n")
        status_line = _STATUS_LINE.fullmatch(lines[0])
        if status_line is None:
            raise ValueError(f"status line {lines[0][:80]!r}")
        status = int(status_line.group(2))
        fields = _fields(lines[1:])
        if 100 <= status < 200:
            if status == 101:
                raise ValueError("101 Switching Protocols to a POST that asked for no upgrade")
            return True  # an interim answer: the real one follows
        self._status = status
        connection = ",".join(fields.get("connection", [])).lower()
        http10 = status_line.group(1) == "0"
        self._keep_alive = "keep-alive" in connection if http10 else "close" not in connection
        codings = [c.strip().lower() for v in fields.get("transfer-encoding", []) for c in v.split(",") if c.strip()]
        length = _content_length(fields.get("content-length", []))
        if codings and (http10 or length is not None):
            # RFC 9112, section 6.1 and 6.3: Transfer-Encoding wins, and the framing is suspect: not reused.
            self._keep_alive = False
        if status in _NO_BODY:
            self._finish()
        elif codings and codings[-1] == "chunked":
            self._parse = self._chunk_size
        elif codings:  # chunked is not the final coding: the body ends with the connection
            self._keep_alive = False
            self._parse = self._until_close
        elif length is not None:
            self._remaining = length
            self._parse = self._sized
        else:
            self._keep_alive = False
            self._parse = self._until_close
        return True

    def _sized(self) -> bool:
        if self._take_body():
            self._finish()
        return False

    def _until_close(self) -> bool:
        self._keep(self._buffer, len(self._buffer))
        self._buffer.clear()
        return False

    def _chunk_size(self) -> bool:
        line = self._take_until(_CRLF, "a chunk size line")
        if line is None:
            return False
        size_text = line.split(b";", 1)[0].rstrip(b" \t")  # whitespace may precede an extension
        if not _HEX.fullmatch(size_text):
            raise ValueError(f"chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            self._parse = self._trailers
        else:
            self._remaining = size
            self._parse = self._chunk_data
        return True

    def _chunk_data(self) -> bool:
        if not self._take_body():
            return False
        self._parse = self._chunk_end
        return True

    def _take_body(self) -> bool:
        """Consume what has arrived of the ``_remaining`` body bytes; True once all of them have."""
        buffer = self._buffer
        take = min(self._remaining, len(buffer))
        self._keep(buffer, take)
        del buffer[:take]
        self._remaining -= take
        return not self._remaining

    def _chunk_end(self) -> bool:
        if len(self._buffer) < 2:
            return False
        if self._buffer[:2] != _CRLF:
            raise ValueError("chunk not followed by CRLF")
        del self._buffer[:2]
        self._parse = self._chunk_size
        return True

    def _trailers(self) -> bool:
        buffer = self._buffer
        if buffer[:2] == _CRLF:
            del buffer[:2]
            self._finish()
            return False
        if self._take_until(_HEAD_END, "trailers") is None:
            return False
        self._finish()
        return False


def _poll_readable(fileno: int) -> bool:
    probe = select.poll()
    probe.register(fileno, select.POLLIN)
    return bool(probe.poll(0))


def _select_readable(fileno: int) -> bool:
    readable, _, _ = select.select([fileno], [], [], 0)
    return bool(readable)


# poll() where there is one: select() refuses descriptors past FD_SETSIZE (1024) in a busy process.
_readable = _poll_readable if hasattr(select, "poll") else _select_readable


def _fields(lines: list[str]) -> dict[str, list[str]]:
    """Header values by lower-cased name, in order. A line that starts with whitespace continues the one
    before it (obsolete line folding: RFC 9112, section 5.2, replaced by a space)."""
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in lines:
        if line[:1] in (" ", "\t"):
            if last is None:
                raise ValueError(f"whitespace before the first header line {line[:80]!r}")
            last[-1] = f"{last[-1]} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise ValueError(f"header line {line[:80]!r}")
        last = fields.setdefault(name.lower(), [])
        last.append(value.strip(" \t"))
    return fields


def _content_length(values: list[str]) -> int | None:
    """One length, however often it is repeated (``42, 42`` included); anything else is refused."""
    lengths = {part.strip() for value in values for part in value.split(",")}
    if not lengths:
        return None
    if len(lengths) > 1:
        raise ValueError(f"conflicting Content-Length {', '.join(values)[:80]!r}")
    text = lengths.pop()
    if not _DIGITS.fullmatch(text):
        raise ValueError(f"Content-Length {text[:80]!r} is not a number")
    return int(text)


class Http1Pool:
    """Kept-alive connections per host and port, each carrying one request at a time.

    The caller bounds how many requests are under way at once; the pool opens a connection whenever none
    is idle, and keeps each one after its answer unless the server asked to close it.
    """

    def __init__(self, excerpt_bytes: int) -> None:
        self._excerpt_bytes = excerpt_bytes
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()  # idle or busy: what close() must close
        # Each connection being opened, with whom to tell if the pool closes before it is open.
        self._connecting: dict[asyncio.Task[_Connection | None], Done] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def send(self, target: Target, body: bytes, headers: Mapping[str, str], timeout_s: float,
             done: Done) -> Callable[[], None]:
        """Start a POST; ``done`` gets its outcome later, never from within this call. Returns what
        abandons it (its connection is then closed: its state is unknown). Raises ProtocolError at once
        for headers that cannot be sent."""
        loop = asyncio.get_running_loop()
        head = _request_head(target, headers, len(body))
        deadline = loop.time() + timeout_s
        connection = self._checkout((target.host, target.port))
        if connection is not None:
            connection.send(head, body, deadline, done)
            return lambda: connection.abandon(done)
        task = loop.create_task(self._connect_and_send(target, head, body, deadline, done))
        self._connecting[task] = done
        task.add_done_callback(lambda finished: self._connecting.pop(finished, None))

        def abandon() -> None:
            self._connecting.pop(task, None)
            if not task.done():
                task.cancel()
            elif not task.cancelled() and (opened := task.result()) is not None:
                opened.abandon(done)

        return abandon

    async def post(self, target: Target, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Answer:
        """POST ``body`` with ``headers``; raise TimeoutError after ``timeout_s`` in all, or an Http1Error."""
        outcome: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        def done(result: Answer | BaseException) -> None:
            if outcome.done():  # abandoned
                return
            if isinstance(result, BaseException):
                outcome.set_exception(result)
            else:
                outcome.set_result(result)

        abandon = self.send(target, body, headers, timeout_s, done)
        try:
            return await outcome
        except asyncio.CancelledError:
            abandon()
            raise

    async def _connect_and_send(self, target: Target, head: bytes, body: bytes, deadline: float,
                                done: Done) -> _Connection | None:
        loop = asyncio.get_running_loop()
        key = (target.host, target.port)
        try:
            async with asyncio.timeout_at(deadline):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self._excerpt_bytes, lambda c: self._checkin(key, c), self._open.discard),
                    target.host, target.port)
        except TimeoutError as exc:
            done(exc)
            return None
        except OSError as exc:  # refused, unreachable, no such host
            reason = exc.strerror or str(exc) or type(exc).__name__
            done(ConnectError(f"cannot connect to {target.host}:{target.port}: {reason}"))
            return None
        except Exception as exc:  # e.g. a host name IDNA cannot encode (UnicodeError): still this POST's end
            done(ConnectError(f"cannot connect to {target.host}:{target.port}: {exc}"))
            return None
        except asyncio.CancelledError:
            return None  # abandoned, or the pool closed: nobody waits for an answer
        if connection.closed:  # the server hung up before this task could resume
            done(Disconnected("the server closed the connection as soon as it was opened"))
            return None
        self._open.add(connection)
        connection.send(head, body, deadline, done)
        return connection

    def _checkout(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        found = None
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closed by the server
            if connection.reusable and time.monotonic() - connection.idle_since < IDLE_S and not connection.hung_up():
                found = connection
                break
            connection.close()
        if idle is not None and not idle:
            del self._idle[key]  # one entry per endpoint in use, not per endpoint ever used
        return found

    def _checkin(self, key: tuple[str, int], connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        self._idle.setdefault(key, []).append(connection)
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(IDLE_S, self._close_stale)

    def _close_stale(self) -> None:
        self._sweep = None
        now = time.monotonic()
        for key, idle in list(self._idle.items()):
            keep = [c for c in idle if c.reusable and now - c.idle_since < IDLE_S]
            for connection in idle:
                if connection not in keep:
                    connection.close()
            if keep:
                idle[:] = keep
            else:
                del self._idle[key]
        if self._idle:
            self._sweep = asyncio.get_running_loop().call_later(IDLE_S, self._close_stale)

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        connecting, self._connecting = self._connecting, {}
        loop = asyncio.get_running_loop()
        for task, done in connecting.items():
            task.cancel()
            loop.call_soon(done, Disconnected("the webhook client closed before the connection opened"))
        for connection in list(self._open):  # busy ones too: their answers have nobody left to read them
            connection.shut("the webhook client closed while the POST was under way")
        self._idle.clear()


def _request_head(target: Target, headers: Mapping[str, str], length: int) -> bytes:
    lines = [f"POST {target.path} HTTP/1.1\r\nhost: {target.host_header}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
    lines.append(f"content-length: {length}\r\n\r\n")
    head = "".join(lines)
    breaks = len(lines) + 2  # the request line and host share the first entry; the blank line ends the last
    if head.count("\n") != breaks or head.count("\r") != breaks or _UNSENDABLE.search(head):
        raise ProtocolError(_unsendable(headers))
    if not all(_TOKEN.fullmatch(name) for name in headers):
        raise ProtocolError(_unsendable(headers))
    return head.encode("ascii")


def _unsendable(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            return f"header name {name!r} cannot be sent: a name is letters, digits and !#$%&'*+-.^_`|~ only"
        if _UNSENDABLE.search(value) or any(c in value for c in "\r\n"):
            return (f"header {name!r} cannot be sent: {value!r} holds a line break, a control character or a "
                    "non-ASCII character")
    return "the request holds a line break, a control character or a non-ASCII character"
