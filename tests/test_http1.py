"""The HTTP/1.1 client webhooks go out through (http1.py): what it sends, and every shape of answer it reads.

The servers here are raw asyncio sockets that write exactly the bytes each test scripts, so that answers
no framework would produce (split anywhere, chunked with trailers, garbled, cut off) can be played.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from mockknock import http1
from mockknock.http1 import Answer, ConnectError, Disconnected, Http1Pool, ProtocolError, Target, plain_target
from mockknock.transport import ErrorKind, InProcessTransport, PostResult

Handler = Callable[["Scripted", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HEADERS = {"content-type": "application/json", "x-knock-event": "message.sent", "user-agent": "mockknock/test"}
BODY = b'{"__typename":"Event","type":"message.sent"}'


class Scripted:
    """A server on 127.0.0.1 port 0 that runs ``handler`` for each connection it accepts."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.connections = 0
        self.requests: list[bytes] = []  # each request's head and body, as received
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Scripted:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            task = asyncio.current_task()
            assert task is not None
            self._handlers.add(task)
            try:
                await self._handler(self, reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:  # those still waiting for the client to close
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        await asyncio.sleep(0)  # the closed transports let go of their sockets

    def target(self, path: str = "/hooks/knock") -> Target:
        found = plain_target(f"http://127.0.0.1:{self.port}{path}")
        assert found is not None
        return found

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        """One request, whole: its head, then as many body bytes as its content-length says."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


def answering(*answers: bytes, then_close: bool = False, pieces: int = 1) -> Handler:
    """Reads a request and writes the next answer, for each answer in turn (cut into ``pieces`` writes)."""

    async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            await server.read_request(reader)
            step = max(1, len(answer) // pieces)
            for at in range(0, len(answer), step):
                writer.write(answer[at:at + step])
                await writer.drain()
                if pieces > 1:
                    await asyncio.sleep(0)
        if not then_close:
            await reader.read()  # the client closes first

    return handler


@pytest.fixture
async def pool() -> AsyncIterator[Http1Pool]:
    created = Http1Pool(excerpt_bytes=16)
    yield created
    created.close()


def serve(handler: Handler) -> Scripted:
    return Scripted(handler)


OK_204 = b"HTTP/1.1 204 No Content\r\nserver: test\r\n\r\n"


def sized(status: int, body: bytes, *extra: str) -> bytes:
    lines = "".join(f"{line}\r\n" for line in extra)
    return f"HTTP/1.1 {status} Whatever\r\ncontent-length: {len(body)}\r\n{lines}\r\n".encode() + body


async def hook_url(aiohttp_server: Any, hook: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> str:
    """The URL of a receiver on 127.0.0.1, port 0, whose ``POST /hook`` runs ``hook``."""
    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}/hook"


def recording(header: str, seen: list[str | None]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A hook that notes each request's ``header`` (None when absent) and answers 204."""
    async def hook(request: web.Request) -> web.StreamResponse:
        await request.read()
        seen.append(request.headers.get(header))
        return web.Response(status=204)
    return hook


class TestTargets:
    @pytest.mark.parametrize(("url", "expected"), [
        ("http://127.0.0.1:8000/hooks/knock", Target("127.0.0.1", 8000, "127.0.0.1:8000", "/hooks/knock")),
        ("http://localhost/hooks?a=1&b=%20x", Target("localhost", 80, "localhost", "/hooks?a=1&b=%20x")),
        ("http://LocalHost:80", Target("localhost", 80, "localhost", "/")),
        ("http://[::1]:9000/h#fragment", Target("::1", 9000, "[::1]:9000", "/h")),
        ("http://example.test:8080/a/b;c=d/~e", Target("example.test", 8080, "example.test:8080", "/a/b;c=d/~e")),
    ])
    def test_plain_http_urls_are_sent_as_given(self, url: str, expected: Target) -> None:
        assert plain_target(url) == expected

    @pytest.mark.parametrize("url", [
        "https://127.0.0.1:8000/hooks",  # TLS is aiohttp's
        "http://user:secret@127.0.0.1:8000/hooks",  # credentials become an Authorization header there
        "http://127.0.0.1:8000/a path",  # needs quoting
        "http://127.0.0.1:8000/caf\u00e9",
        "http://127.0.0.1:8000/bad%zz",
        "http://b\u00fccher.example/hooks",  # an IDNA host
        "http://127.0.0.1:99999/hooks",  # no such port
        "http:///hooks",
    ])
    def test_anything_else_is_left_to_aiohttp(self, url: str) -> None:
        assert plain_target(url) is None


class TestRequests:
    async def test_the_request_is_exactly_the_body_and_headers_given(self, pool: Http1Pool) -> None:
        async with serve(answering(OK_204)) as server:
            answer = await pool.post(server.target("/hooks/knock?x=1"), BODY, HEADERS, 5)
        assert answer == Answer(204, b"")
        head, _, body = server.requests[0].partition(b"\r\n\r\n")
        assert body == BODY
        assert head.decode().split("\r\n") == [
            "POST /hooks/knock?x=1 HTTP/1.1",
            f"host: 127.0.0.1:{server.port}",
            "content-type: application/json",
            "x-knock-event: message.sent",
            "user-agent: mockknock/test",
            f"content-length: {len(BODY)}",
        ]

    async def test_a_large_body_arrives_whole(self, pool: Http1Pool) -> None:
        body = bytes(range(256)) * (12 * 4096)  # 12 MB, written apart from its head
        async with serve(answering(OK_204)) as server:
            assert (await pool.post(server.target(), body, HEADERS, 30)).status == 204
        assert server.requests[0].endswith(b"\r\n\r\n" + body)

    @pytest.mark.parametrize(("headers", "message"), [
        ({"x-knock-environment-id": "env\x00id"}, "holds a line break, a control character"),
        ({"x-knock-environment-id": "env\x7fid"}, "holds a line break, a control character"),
        ({"x-knock-environment-id": "caf\u00e9"}, "non-ASCII"),
        ({"x knock": "1"}, "header name 'x knock' cannot be sent"),
        ({"x-knock:evil": "1"}, "header name 'x-knock:evil' cannot be sent"),
    ])
    async def test_headers_no_server_would_take_are_refused_before_sending(
            self, pool: Http1Pool, headers: dict[str, str], message: str) -> None:
        async with serve(answering(OK_204)) as server:
            with pytest.raises(ProtocolError, match=message):
                await pool.post(server.target(), BODY, headers, 5)
        assert server.requests == []

    async def test_a_header_with_a_line_break_is_refused_before_sending(self, pool: Http1Pool) -> None:
        async with serve(answering(OK_204)) as server:
            with pytest.raises(ProtocolError, match="header 'x-knock-environment-id' cannot be sent"):
                await pool.post(server.target(), BODY, {"x-knock-environment-id": "a\r\nx-evil: 1"}, 5)
            assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 204
        assert len(server.requests) == 1


class TestAnswers:
    async def test_a_sized_answer_is_read_and_its_excerpt_kept(self, pool: Http1Pool) -> None:
        async with serve(answering(sized(500, b"the database is down, try later"))) as server:
            assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(500, b"the database is ")

    @pytest.mark.parametrize("pieces", [1, 7, 1000])
    async def test_a_chunked_answer_with_extensions_and_trailers(self, pool: Http1Pool, pieces: int) -> None:
        answer = (b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n"
                  b"5;name=value\r\nhello\r\nB\r\n, chunked!!\r\n0\r\nx-trailer: yes\r\n\r\n")
        async with serve(answering(answer, answer, pieces=pieces)) as server:
            for _ in range(2):
                assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(202, b"hello, chunked!!")
        assert server.connections == 1

    async def test_a_sized_answer_cut_anywhere(self, pool: Http1Pool) -> None:
        answer = sized(200, b'{"ok":true}', "x-padding: " + "p" * 300)
        async with serve(answering(answer, answer, pieces=len(answer))) as server:
            for _ in range(2):
                assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, b'{"ok":true}')
        assert server.connections == 1

    async def test_an_answer_that_ends_with_the_connection(self, pool: Http1Pool) -> None:
        async with serve(answering(b"HTTP/1.1 200 OK\r\n\r\nall of it", then_close=True)) as server:
            assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, b"all of it")
            assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, b"all of it")
        assert server.connections == 2

    async def test_interim_answers_come_before_the_real_one(self, pool: Http1Pool) -> None:
        answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + OK_204
        async with serve(answering(answer)) as server:
            assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 204

    @pytest.mark.parametrize(("answer", "excerpt"), [
        # Transfer-Encoding wins over Content-Length; a coding other than chunked last: read to the close.
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 2\r\n\r\nabcdef", b"abcdef"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: xchunked\r\n\r\nabcdef", b"abcdef"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", b"ab"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nab", b"ab"),
    ])
    async def test_how_the_body_is_framed(self, pool: Http1Pool, answer: bytes, excerpt: bytes) -> None:
        async with serve(answering(answer, then_close=True)) as server:
            assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, excerpt)

    async def test_a_folded_header_line_continues_the_one_before(self, pool: Http1Pool) -> None:
        """RFC 9112, section 5.2: obsolete line folding is read as a space; a folded line that looks like a
        Content-Length is part of the field before it, not a length."""
        answer = b"HTTP/1.1 200 OK\r\nx-long: a\r\n content-length: 1\r\ncontent-length: 2\r\n\r\nok"
        async with serve(answering(answer)) as server:
            assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, b"ok")

    @pytest.mark.parametrize(("answer", "reused"), [
        (sized(200, b"x"), True),
        (sized(200, b"x", "connection: close"), False),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx", False),
        (b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\nx", True),
        (sized(200, b"x") + b"HTTP/1.1 200 OK\r\n", False),  # more than was asked for
        # RFC 9112, section 6.1 and 6.3: framing that may have been tampered with is not trusted again.
        (b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
         False),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", False),
    ])
    async def test_a_connection_is_kept_only_when_the_server_means_to(self, pool: Http1Pool, answer: bytes,
                                                                      reused: bool) -> None:
        async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await server.read_request(reader)
                writer.write(answer)
                await writer.drain()

        async with serve(handler) as server:
            for _ in range(3):
                assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 200
                await asyncio.sleep(0.01)  # a close the server makes reaches the client first
        assert server.connections == (1 if reused else 3)

    async def test_a_connection_the_server_closed_while_idle_is_not_reused(self, pool: Http1Pool) -> None:
        async with serve(answering(OK_204, then_close=True)) as server:
            assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 204
            await asyncio.sleep(0.05)
            assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 204
        assert server.connections == 2

    @pytest.mark.parametrize("from_done", [False, True])
    async def test_a_close_right_behind_the_answer_is_seen_before_reuse(self, pool: Http1Pool,
                                                                       from_done: bool) -> None:
        """A server that answers and hangs up at once, without saying so: the next POST, even one sent from
        the answer's own callback before the event loop has read the close, opens a new connection."""
        count = 6

        async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(OK_204)
            await writer.drain()

        async with serve(handler) as server:
            if from_done:
                outcomes: list[Answer | BaseException] = []
                finished = asyncio.get_running_loop().create_future()

                def done(outcome: Answer | BaseException) -> None:
                    outcomes.append(outcome)
                    if len(outcomes) < count:
                        pool.send(server.target(), BODY, HEADERS, 5, done)
                    else:
                        finished.set_result(None)

                pool.send(server.target(), BODY, HEADERS, 5, done)
                await asyncio.wait_for(finished, 10)
            else:
                outcomes = [await pool.post(server.target(), BODY, HEADERS, 5) for _ in range(count)]
        assert [getattr(o, "status", o) for o in outcomes] == [204] * count
        assert server.connections == count

    async def test_idle_connections_are_kept_per_endpoint_in_use_only(self, pool: Http1Pool,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(http1, "IDLE_S", 0.05)
        async with serve(answering(OK_204)) as first, serve(answering(OK_204)) as second:
            for server in (first, second):
                assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 204
            assert len(pool._idle) == 2
            await asyncio.sleep(0.2)  # the sweep closes both
            assert pool._idle == {}

    async def test_a_long_answer_is_not_read_to_its_end(self, pool: Http1Pool) -> None:
        """Past MAX_DRAIN_BYTES the answer is reported and its connection closed; up to it, the body is
        read to its end and the connection kept."""
        long = sized(200, b"y" * (http1.MAX_DRAIN_BYTES * 4))
        short = sized(200, b"z" * http1.MAX_DRAIN_BYTES)
        async with serve(answering(short, short, long, then_close=True)) as server:
            for _ in range(2):
                assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, b"z" * 16)
            assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, b"y" * 16)
            assert pool._idle == {}
        assert server.connections == 1

    async def test_a_connection_idle_too_long_is_closed_before_the_server_does(
            self, pool: Http1Pool, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(http1, "IDLE_S", 0.05)
        async with serve(answering(OK_204, OK_204)) as server:
            assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 204
            await asyncio.sleep(0.2)  # the sweep closes it meanwhile
            assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 204
        assert server.connections == 2


class TestFailures:
    @pytest.mark.parametrize(("answer", "message"), [
        (b"SMTP ready\r\n\r\n", "not valid HTTP/1.1"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "not valid HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "not valid HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc", "conflicting Content-Length"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "not valid HTTP/1.1"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "asked for no upgrade"),
        # Numbers and tokens exactly as RFC 9112 writes them, not as Python's int() would read them.
        (b"HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n", "status line"),
        (b"HTTP/1.1 200OK\r\ncontent-length: 0\r\n\r\n", "status line"),
        (b"HTTP/1.1 099 Low\r\ncontent-length: 0\r\n\r\n", "status line"),
        (b"HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nab", "is not a number"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 0_2\r\n\r\nab", "is not a number"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nabc", "conflicting Content-Length"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n+2\r\nab\r\n0\r\n\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0_2\r\nab\r\n0\r\n\r\n", "chunk size"),
        # RFC 9112, section 2.2 and 5.1: whitespace before the first field, or inside a field name.
        (b"HTTP/1.1 200 OK\r\n content-length: 1\r\n\r\no", "whitespace before the first header"),
        (b"HTTP/1.1 200 OK\r\ncontent-length : 1\r\n\r\no", "header line"),
    ])
    async def test_a_garbled_answer(self, pool: Http1Pool, answer: bytes, message: str) -> None:
        async with serve(answering(answer)) as server:
            with pytest.raises(ProtocolError, match=message):
                await pool.post(server.target(), BODY, HEADERS, 5)

    async def test_no_end_of_headers(self, pool: Http1Pool) -> None:
        async with serve(answering(b"HTTP/1.1 200 OK\r\nx: " + b"y" * (http1.MAX_HEAD_BYTES + 10))) as server:
            with pytest.raises(ProtocolError, match="no end of headers"):
                await pool.post(server.target(), BODY, HEADERS, 5)

    async def test_closed_without_answering(self, pool: Http1Pool) -> None:
        async with serve(answering(b"", then_close=True)) as server:
            with pytest.raises(Disconnected, match="closed the connection without answering"):
                await pool.post(server.target(), BODY, HEADERS, 5)

    async def test_closed_in_the_middle_of_the_answer(self, pool: Http1Pool) -> None:
        async with serve(answering(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
                                         then_close=True)) as server:
            with pytest.raises(Disconnected, match="in the middle of its answer"):
                await pool.post(server.target(), BODY, HEADERS, 5)

    async def test_no_answer_in_time(self, pool: Http1Pool) -> None:
        async with serve(answering()) as server:  # reads nothing, answers nothing
            started = asyncio.get_running_loop().time()
            with pytest.raises(TimeoutError):
                await pool.post(server.target(), BODY, HEADERS, 0.1)
            assert asyncio.get_running_loop().time() - started < 2

    async def test_nobody_listening(self, pool: Http1Pool) -> None:
        async with serve(answering()) as server:
            target = server.target()
        with pytest.raises(ConnectError, match=f"cannot connect to 127.0.0.1:{target.port}"):
            await pool.post(target, BODY, HEADERS, 5)

    async def test_a_host_name_that_cannot_be_looked_up_ends_the_post(self, pool: Http1Pool) -> None:
        """getaddrinfo raises UnicodeError, not OSError, for an empty label; the POST still ends."""
        target = plain_target("http://a..b:8000/hook")
        assert target is not None
        with pytest.raises(ConnectError, match=r"cannot connect to a\.\.b:8000"):
            await asyncio.wait_for(pool.post(target, BODY, HEADERS, 5), 5)

    async def test_abandoning_a_finished_post_leaves_its_connection_to_the_next(self, pool: Http1Pool) -> None:
        """A POST given up after its answer came (a task cancelled a moment too late) must not close the
        connection, which may already carry the next POST."""
        answers = (sized(200, b"opening"), sized(200, b"first"), sized(200, b"second"))
        async with serve(answering(*answers)) as server:
            # The first POST opens the connection: the second goes out on it, as a reused one.
            assert await pool.post(server.target(), BODY, HEADERS, 5) == Answer(200, b"opening")
            first: asyncio.Future[Answer | BaseException] = asyncio.get_running_loop().create_future()
            abandon_first = pool.send(server.target(), BODY, HEADERS, 5, first.set_result)
            assert await first == Answer(200, b"first")
            second: asyncio.Future[Answer | BaseException] = asyncio.get_running_loop().create_future()
            pool.send(server.target(), BODY, HEADERS, 5, second.set_result)
            abandon_first()
            assert await asyncio.wait_for(second, 5) == Answer(200, b"second")
        assert server.connections == 1

    async def test_an_early_answer_to_a_body_still_being_written(self, pool: Http1Pool) -> None:
        """A server that refuses a large body before reading it: the answer counts, the connection does not."""
        async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(sized(413, b"too large"))
            await writer.drain()
            await asyncio.sleep(1)

        async with serve(handler) as server:
            answer = await pool.post(server.target(), b"x" * (32 << 20), HEADERS, 5)
            assert answer == Answer(413, b"too large")
            assert (await pool.post(server.target(), BODY, HEADERS, 5)).status == 413
        assert server.connections == 2

    async def test_a_cancelled_post_closes_its_connection(self, pool: Http1Pool) -> None:
        closed = asyncio.Event()

        async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            assert await reader.read() == b""  # no answer given: the client gives up and closes
            closed.set()

        async with serve(handler) as server:
            task = asyncio.create_task(pool.post(server.target(), BODY, HEADERS, 5))
            while not server.requests:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(closed.wait(), 2)


    async def test_closing_the_pool_ends_posts_still_connecting(self) -> None:
        async with serve(answering(OK_204)) as server:
            pool = Http1Pool(excerpt_bytes=16)
            outcomes: list[Answer | BaseException] = []
            pool.send(server.target(), BODY, HEADERS, 5, outcomes.append)
            posting = asyncio.ensure_future(pool.post(server.target(), BODY, HEADERS, 5))
            await asyncio.sleep(0)  # both are connecting now
            pool.close()
            with pytest.raises(Disconnected, match="closed before the connection opened"):
                await asyncio.wait_for(posting, 2)
            await asyncio.sleep(0)
        assert len(outcomes) == 1 and isinstance(outcomes[0], Disconnected)

    async def test_closing_the_pool_closes_busy_connections_too(self) -> None:
        closed = asyncio.Event()

        async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            assert await reader.read() == b""
            closed.set()

        pool = Http1Pool(excerpt_bytes=16)
        outcomes: list[Answer | BaseException] = []
        async with serve(handler) as server:
            pool.send(server.target(), BODY, HEADERS, 5, outcomes.append)
            while not server.requests:
                await asyncio.sleep(0.01)
            pool.close()
            await asyncio.wait_for(closed.wait(), 2)
        assert len(outcomes) == 1 and isinstance(outcomes[0], Disconnected)
        assert "the webhook client closed while the POST was under way" in str(outcomes[0])


CHAOS = ("plain", "chunked", "no answer", "cut off", "silent", "garbage", "close after")
# What each of the chaotic server's behaviours must come to, for request number n.
CHAOS_OUTCOMES: dict[str, Callable[[int, Answer | BaseException | None], bool]] = {
    "plain": lambda n, o: o == Answer(200, f"ok {n}".encode()),
    "chunked": lambda n, o: o == Answer(201, f"ok {n}".encode()),
    "close after": lambda n, o: o == Answer(202, f"ok {n}".encode()),
    "no answer": lambda _, o: isinstance(o, Disconnected) and "without answering" in str(o),
    "cut off": lambda _, o: isinstance(o, Disconnected) and "middle of its answer" in str(o),
    "silent": lambda _, o: isinstance(o, TimeoutError),
    "garbage": lambda _, o: isinstance(o, ProtocolError),
}


class Chaotic:
    """A handler that treats request number n (its body ends ``#n``) as ``plan[n]`` says."""

    def __init__(self, plan: dict[int, str]) -> None:
        self.plan = plan
        self.open_sockets = 0

    async def __call__(self, server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_sockets += 1
        try:
            while await self._answer(server, reader, writer):
                pass
        finally:
            self.open_sockets -= 1

    async def _answer(self, server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request as planned; False when the connection is done with."""
        n = int((await server.read_request(reader)).rsplit(b"#", 1)[1])
        behaviour = self.plan[n]
        if behaviour == "no answer":
            return False
        if behaviour == "silent":
            await reader.read()  # until the client gives up
            return False
        if behaviour == "plain":
            writer.write(sized(200, f"ok {n}".encode()))
        elif behaviour == "chunked":
            answer = (f"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nok \r\n"
                      f"{len(str(n)):x}\r\n{n}\r\n0\r\n\r\n").encode()
            for at in range(0, len(answer), 5):
                writer.write(answer[at:at + 5])
                await writer.drain()
        elif behaviour == "close after":
            writer.write(sized(202, f"ok {n}".encode(), "connection: close"))
        elif behaviour == "cut off":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\npartial")
        else:
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        if behaviour == "garbage":
            await reader.read()
        return behaviour in ("plain", "chunked")


class TestChaos:
    async def test_every_post_ends_with_what_its_server_did(self) -> None:
        """A seeded server that, request by request, answers plainly, answers chunked in small pieces,
        hangs up without answering or halfway through, stays silent past the timeout, or talks nonsense.
        Every POST, 16 at a time over reused connections, ends in time with exactly the outcome its
        server chose; nothing hangs and no connection is left open."""
        rng = random.Random(20261203)
        plan = {n: rng.choice(CHAOS) for n in range(300)}
        chaotic = Chaotic(plan)
        pool = Http1Pool(excerpt_bytes=32)
        outcomes: dict[int, Answer | BaseException] = {}
        async with serve(chaotic) as server:
            target = server.target()
            numbers = iter(plan)

            async def worker() -> None:
                for n in numbers:
                    try:
                        outcomes[n] = await pool.post(target, BODY + f"#{n}".encode(), HEADERS, 0.3)
                    except (TimeoutError, http1.Http1Error) as exc:
                        outcomes[n] = exc

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(16))), 60)
            pool.close()
            for _ in range(100):
                if not chaotic.open_sockets:
                    break
                await asyncio.sleep(0.01)
        assert chaotic.open_sockets == 0
        wrong = {n: (plan[n], outcomes.get(n)) for n in plan if not CHAOS_OUTCOMES[plan[n]](n, outcomes.get(n))}
        assert not wrong, wrong
        assert set(plan.values()) == set(CHAOS)


class TestTransport:
    """InProcessTransport sends plain http through http1 and everything else through aiohttp."""

    async def test_both_paths_report_alike(self, aiohttp_server: Any) -> None:
        seen: list[str | None] = []

        async def hook(request: web.Request) -> web.Response:
            await request.read()
            seen.append(request.headers.get("authorization"))
            return web.Response(status=503, text="down for maintenance")

        url = await hook_url(aiohttp_server, hook)
        transport = InProcessTransport(4)
        await transport.open()
        try:
            plain = await transport.post(url, BODY, HEADERS, 5)
            with_credentials = await transport.post(url.replace("http://", "http://user:pw@"), BODY, HEADERS, 5)
            refused = await transport.post("http://127.0.0.1:1/hook", BODY, HEADERS, 5)
        finally:
            await transport.close()
        assert (plain.status, plain.excerpt) == (with_credentials.status, with_credentials.excerpt) == (
            503, "down for maintenance")
        assert seen == [None, "Basic " + base64.b64encode(b"user:pw").decode()]
        assert (refused.status, refused.error_kind) == (None, ErrorKind.CONNECT)
        assert refused.error is not None and "cannot connect to 127.0.0.1:1" in refused.error

    async def test_send_reports_through_its_callback_on_both_paths(self, aiohttp_server: Any) -> None:
        """``send`` (the delivery process's way in) gives what ``post`` gives, for http1 and for aiohttp."""
        async def hook(request: web.Request) -> web.Response:
            return web.Response(status=202, text=(await request.read()).decode())

        url = await hook_url(aiohttp_server, hook)
        transport = InProcessTransport(4)
        await transport.open()
        loop = asyncio.get_running_loop()
        answers: list[asyncio.Future[PostResult]] = []
        try:
            for target in (url, url.replace("http://", "http://u:p@"), "http://127.0.0.1:1/hook"):
                answer: asyncio.Future[PostResult] = loop.create_future()
                transport.send(target, BODY, HEADERS, 5, answer.set_result)
                answers.append(answer)
            plain, with_credentials, refused = await asyncio.wait_for(asyncio.gather(*answers), 10)
        finally:
            await transport.close()
        assert (plain.status, plain.excerpt) == (with_credentials.status, with_credentials.excerpt) == (
            202, BODY.decode())
        assert refused.error_kind == ErrorKind.CONNECT

    @pytest.mark.parametrize(("client", "via_aiohttp"), [("http1", False), ("aiohttp", True)])
    async def test_the_client_can_be_aiohttps_for_every_url(self, aiohttp_server: Any, client: str,
                                                            via_aiohttp: bool) -> None:
        """Settings.webhook_client: aiohttp's client announces gzip (``accept-encoding``), http1 never does."""
        seen: list[str | None] = []
        url = await hook_url(aiohttp_server, recording("accept-encoding", seen))
        transport = InProcessTransport(4, client)
        await transport.open()
        try:
            result = await transport.post(url, BODY, HEADERS, 5)
        finally:
            await transport.close()
        assert result.status == 204
        assert (seen[0] is not None) is via_aiohttp

    @pytest.mark.parametrize("client", ["http1", "aiohttp"])
    async def test_only_the_start_of_an_endless_answer_is_read(self, client: str) -> None:
        """An answer is read as far as the delivery log keeps it: an endpoint streaming an answer that never
        ends (or one of 200 MB) costs neither the attempt's timeout nor the memory to hold it."""
        async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            while True:
                writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)

        transport = InProcessTransport(4, client)
        await transport.open()
        try:
            async with serve(handler) as server:
                url = f"http://127.0.0.1:{server.port}/hook"
                result = await asyncio.wait_for(transport.post(url, BODY, HEADERS, 5), 3)
        finally:
            await transport.close()
        assert result.status == 200 and result.error is None
        assert result.excerpt is not None and set(result.excerpt) == {"x"}

    async def test_send_reports_a_failure_aiohttp_does_not_class(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Whatever ends a POST through aiohttp, ``send``'s caller (the delivery process) hears of it."""
        transport = InProcessTransport(4, "aiohttp")
        await transport.open()

        async def broken(*_args: object) -> PostResult:
            raise RuntimeError("something aiohttp did not expect")

        monkeypatch.setattr(transport, "_post_session", broken)
        answer: asyncio.Future[PostResult] = asyncio.get_running_loop().create_future()
        try:
            transport.send("http://127.0.0.1:9/hook", BODY, HEADERS, 5, answer.set_result)
            result = await asyncio.wait_for(answer, 5)
        finally:
            await transport.close()
        assert (result.status, result.error_kind) == (None, ErrorKind.CONNECT)
        assert result.error == "RuntimeError: something aiohttp did not expect"
