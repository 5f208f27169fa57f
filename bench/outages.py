"""Do outage windows cost anything while inactive? Trigger throughput with and without an outage list.

Run: ``python bench/outages.py`` (about a minute) or ``--quick``. Traffic goes to 127.0.0.1 only.

Two ``mockknock serve`` processes run the same scenario, once with no outages and once with a list of
outages whose windows lie far in the future (so none is active). Their webhooks are filtered to an
event type triggers never produce, so the figure is the API and the engine, not delivery. Each is
loaded with POST /v1/workflows/{key}/trigger from 64 connections, interleaved repetitions, and the
median ratio is reported. Target: within 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
from loopback import HOST, free_port, wait_listening  # noqa: E402

SCENARIO = """
version: 1
name: bench-outages
unknown_workflows: accept
lifecycles:
  - match: {channel_type: email}
    events: [+1s sent, +2s delivered]
"""
OUTAGES = """outages:
  - {component: api, status: major_outage, start: 30d, duration: 1h}
  - {component: webhook_delivery, status: major_outage, start: 31d, duration: 1h}
  - {component: sendgrid, status: partial_outage, start: 32d, duration: 2h}
  - {component: link_and_open_tracking, status: major_outage, start: 33d, duration: 1h}
"""


async def load(port: int, requests: int, seconds: float) -> float:
    """Requests/s from 64 connections, stopping at `requests` or `seconds`, whichever comes first."""
    url = f"http://{HOST}:{port}/v1/workflows/bench/trigger"
    body = {"recipients": [{"id": "u1", "email": "u1@example.com", "name": "U One"}], "data": {"k": 1}}
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        async def worker() -> None:
            nonlocal done
            while done < requests and time.perf_counter() < deadline:
                done += 1
                headers = {"Authorization": "Bearer sk_test_bench", "Idempotency-Key": str(uuid.uuid4())}
                async with session.post(url, json=body, headers=headers) as response:
                    if response.status != 200:
                        raise RuntimeError(f"trigger answered {response.status}: {await response.text()}")
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        return done / (time.perf_counter() - started)


async def measure(path: Path, requests: int, seconds: float) -> float:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mockknock", "serve", "--port", str(port), "--scenario", str(path), "--seed", "1",
         "--quiet", "--webhook-url", f"http://{HOST}:9/hook|workflow.committed"],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    try:
        await wait_listening(port)
        await load(port, 300, 5)  # warm-up
        return await load(port, requests, seconds)
    finally:
        server.terminate()
        server.wait(10)


async def run(reps: int, requests: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as directory:
        plain = Path(directory) / "plain.yaml"
        plain.write_text(SCENARIO)
        planned = Path(directory) / "planned.yaml"
        planned.write_text(SCENARIO + OUTAGES)
        ratios: list[float] = []
        bare: list[float] = []
        with_outages: list[float] = []
        for rep in range(reps):
            order = [(plain, bare), (planned, with_outages)]
            if rep % 2:
                order.reverse()
            for path, into in order:
                into.append(await measure(path, requests, seconds))
            ratios.append(with_outages[-1] / bare[-1])
            print(f"  rep {rep + 1}/{reps}: no outages {bare[-1]:.0f} req/s, four inactive outages "
                  f"{with_outages[-1]:.0f} req/s, ratio {ratios[-1]:.3f}")
    ratio = statistics.median(ratios)
    print(f"median: no outages {statistics.median(bare):.0f} req/s, inactive outages "
          f"{statistics.median(with_outages):.0f} req/s, ratio {ratio:.3f} "
          f"(target within 5 %: {'PASS' if abs(1 - ratio) <= 0.05 else 'MISS'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 repetitions of 2,000 requests")
    args = parser.parse_args()
    asyncio.run(run(3 if args.quick else 7, 2_000 if args.quick else 6_000, 3.0 if args.quick else 6.0))


if __name__ == "__main__":
    main()
