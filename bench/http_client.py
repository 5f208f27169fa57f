"""What one webhook POST costs through each client mockknock can use, with nothing else around it.

Run: ``python bench/http_client.py`` (about a minute) or ``--quick``. Traffic goes to 127.0.0.1 only.

The same 1.5 KB body, POSTed 20,000 times (5,000 with --quick) from 64 workers to a receiver in another
process that answers 204, through: a bare aiohttp ClientSession (as serve.py's (b) baseline), mockknock's
``InProcessTransport`` with ``--webhook-client aiohttp``, the same with its default ``http1`` client, and
``CourierTransport`` (the delivery process) with http1, whose CPU is counted too. Repetitions are
interleaved; the medians are reported with their ratio to the bare client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
from loopback import HOST, receiving  # noqa: E402

sys.path.insert(0, str(ROOT))
from mockknock.courier import CourierTransport  # noqa: E402
from mockknock.transport import InProcessTransport, Transport  # noqa: E402

WORKERS = 64
HEADERS = {"content-type": "application/json", "user-agent": "mockknock/bench", "x-knock-event": "message.sent",
           "x-knock-signature": "t=1767225600000,s=Vef4a2qGe+GONi8SgJuDy3BNM7op+aUAX26VCrPCvhs="}
BODY = b'{"__typename":"Event","type":"message.sent","data":{"text":"' + b"x" * 1450 + b'"}}'
CLK_TCK = os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU of this process's children that are mockknock delivery processes (not the receiver)."""
    total = 0.0
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        for pid in Path(f"/proc/{os.getpid()}/task/{task}/children").read_text().split():
            try:
                if b"mockknock.courier" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


async def timed(post: Callable[[], Awaitable[None]], count: int) -> tuple[float, float]:
    """POSTs per second and CPU microseconds per POST (this process and any delivery process)."""
    left = iter(range(count))

    async def worker() -> None:
        for _ in left:
            await post()

    cpu, child, wall = time.process_time(), children_cpu_s(), time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(WORKERS))), 300)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu + children_cpu_s() - child
    return count / wall, cpu / count * 1e6


async def bare(url: str, count: int) -> tuple[float, float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=WORKERS)) as session:
        async def post() -> None:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                await response.read()
                if response.status != 204:
                    raise RuntimeError(f"the receiver answered {response.status}")
        return await timed(post, count)


async def through(transport: Transport, url: str, count: int) -> tuple[float, float]:
    await transport.open()
    try:
        async def post() -> None:
            result = await transport.post(url, BODY, HEADERS, 30)
            if result.status != 204:
                raise RuntimeError(f"the receiver answered {result.status or result.error}")
        return await timed(post, count)
    finally:
        await transport.close()


CLIENTS: dict[str, Callable[[str, int], Awaitable[tuple[float, float]]]] = {
    "bare aiohttp ClientSession": bare,
    "InProcessTransport, aiohttp": lambda url, n: through(InProcessTransport(WORKERS, "aiohttp"), url, n),
    "InProcessTransport, http1 (default)": lambda url, n: through(InProcessTransport(WORKERS, "http1"), url, n),
    "CourierTransport, http1": lambda url, n: through(CourierTransport(WORKERS, "http1"), url, n),
}


async def run(count: int, repeats: int) -> None:
    async with receiving() as port:
        url = f"http://{HOST}:{port}/hook"
        for client in CLIENTS.values():  # warm-up: connections, imports, the delivery process's start
            await client(url, 500)
        rates: dict[str, list[float]] = {name: [] for name in CLIENTS}
        costs: dict[str, list[float]] = {name: [] for name in CLIENTS}
        ratios: dict[str, list[float]] = {name: [] for name in CLIENTS}
        names = list(CLIENTS)
        for rep in range(repeats):
            order = names[rep % len(names):] + names[:rep % len(names)]
            results = {name: await CLIENTS[name](url, count) for name in order}
            for name, (rate, cost) in results.items():
                rates[name].append(rate)
                costs[name].append(cost)
                ratios[name].append(rate / results[names[0]][0])
        print(f"{count} POSTs of {len(BODY)} bytes from {WORKERS} workers, median of {repeats} interleaved runs")
        print(f"{'client':<38} {'POSTs/s':>8} {'us CPU each':>12} {'vs bare':>8}")
        for name in names:
            print(f"{name:<38} {statistics.median(rates[name]):8.0f} {statistics.median(costs[name]):12.0f} "
                  f"{statistics.median(ratios[name]):7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 POSTs and 3 repetitions")
    args = parser.parse_args()
    asyncio.run(run(5_000 if args.quick else 20_000, 3 if args.quick else 5))


if __name__ == "__main__":
    main()
