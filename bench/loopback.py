"""What the benchmark scripts share: a free loopback port, waiting for a listener, a counting receiver.

Every benchmark talks to 127.0.0.1 only; this module is where that address lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

HOST = "127.0.0.1"

# A webhook receiver for another process: answers 204 and counts what it got (GET /count).
RECEIVER = """
import sys
from aiohttp import web
count = 0
async def hook(request):
    global count
    await request.read()
    count += 1
    return web.Response(status=204)
async def total(request):
    return web.json_response({"count": count})
app = web.Application()
app.router.add_post("/hook", hook)
app.router.add_get("/count", total)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def wait_listening(port: int, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.025)
    raise RuntimeError(f"nothing listened on {HOST}:{port} within {timeout_s}s")


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[int]:
    """RECEIVER in another process, listening; its port. It is stopped on the way out."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        await wait_listening(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)
