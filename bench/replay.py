"""Replay throughput: webhooks/s that `mockknock replay` delivers on the virtual clock, next to a bare client.

Run: ``python bench/replay.py`` (about five minutes) or ``--quick``. Traffic goes to 127.0.0.1 only.

The receiver runs in another process and answers 204. The bare client POSTs the same bodies, signed
the same way, from one aiohttp ClientSession. Both are measured at concurrency 1 (replay's default:
first attempts one at a time, so the receiver sees a deterministic order), 8, 32 and 64
(``--concurrency N``); replay as it runs by default (POSTs from its own process) and with
``--delivery-process``.
Target: replay at least 0.5x the bare client (the issue compares with serve's bare client, 64 workers).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
from loopback import HOST, receiving  # noqa: E402

sys.path.insert(0, str(ROOT))
from mockknock import signing  # noqa: E402
from mockknock.config import DEFAULT_ENVIRONMENT_ID  # noqa: E402
from mockknock.fixtures import event_stream  # noqa: E402
from mockknock.gc_tuning import serving_thresholds  # noqa: E402
from mockknock.replay import ReplayOptions, replay  # noqa: E402
from mockknock.scenario_file import load_scenario  # noqa: E402
from mockknock.schemas import SchemaRegistry  # noqa: E402

SECRET = "whsec_bench"
SCENARIO = """
version: 1
name: bench-replay
unknown_workflows: accept
lifecycles:
  - match: {{channel_type: in_app_feed}}
    events: [sent, delivered]
  - match: {{channel_type: email}}
    events: [+1s sent, +2s delivered]
script:
  - {{at: 0s, every: 10s, count: {count}, workflow: bench, recipients: [u1]}}
"""


async def bare(url: str, bodies: list[tuple[str, bytes]], concurrency: int) -> float:
    """Events/s for a plain client posting signed bodies, `concurrency` at a time."""
    queue = list(reversed(bodies))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            while queue:
                event_type, body = queue.pop()
                headers = signing.webhook_headers(event_type, DEFAULT_ENVIRONMENT_ID, signing.sign(body, SECRET))
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


async def measure(path: Path, url: str, concurrency: int, schemas: SchemaRegistry,
                  delivery_process: bool) -> tuple[float, float, int]:
    options = ReplayOptions(seed=1, signing_secret=SECRET, concurrency=concurrency, progress_every_s=3600,
                            delivery_process=delivery_process)
    started = time.perf_counter()
    with serving_thresholds():  # the collector as `mockknock replay` sets it
        report = await replay(load_scenario(path), url, options, schemas, None)
    replay_rate = report.events / (time.perf_counter() - started)
    if report.events_ok != report.events:
        raise RuntimeError(f"replay delivered {report.events_ok} of {report.events} events")
    return replay_rate, report.simulated_us / 3.6e9, report.events


async def run(events: int, repeats: int) -> None:
    schemas = SchemaRegistry.load()
    async with receiving() as port:
        url = f"http://{HOST}:{port}/hook"
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "bench-replay.yaml"
            path.write_text(SCENARIO.format(count=events // 4))
            bodies = [(e.type.value, e.body) for e in event_stream(load_scenario(path), seed=1, triggers=[])]
            print(f"{len(bodies)} events per run, receiver in another process, median of {repeats} runs")
            print("columns: replay with --delivery-process, and without (POSTs in the emitting process); * marks "
                  "replay's default, which the verdict uses")
            print(f"{'concurrency':>11}  {'bare ev/s':>10}  {'process ev/s':>12}  {'ratio':>7}  "
                  f"{'in-process ev/s':>15}  {'ratio':>7}  target 0.5x")
            for concurrency in (1, 8, 32, 64):
                rates: dict[str, list[float]] = {"bare": [], "process": [], "inproc": []}
                ratios: dict[str, list[float]] = {"process": [], "inproc": []}
                hours = 0.0
                for _ in range(repeats):
                    b = await bare(url, bodies, concurrency)
                    r, hours, _ = await measure(path, url, concurrency, schemas, delivery_process=True)
                    i, _, _ = await measure(path, url, concurrency, schemas, delivery_process=False)
                    for name, rate in (("bare", b), ("process", r), ("inproc", i)):
                        rates[name].append(rate)
                    ratios["process"].append(r / b)
                    ratios["inproc"].append(i / b)
                default = "process" if ReplayOptions().delivery_process else "inproc"
                ratio = {name: statistics.median(values) for name, values in ratios.items()}
                mark = {name: "*" if name == default else " " for name in ratios}
                print(f"{concurrency:>11}  {statistics.median(rates['bare']):>10.0f}  "
                      f"{statistics.median(rates['process']):>12.0f}  {ratio['process']:>5.2f}x{mark['process']}  "
                      f"{statistics.median(rates['inproc']):>15.0f}  {ratio['inproc']:>5.2f}x{mark['inproc']}  "
                      f"{'PASS' if ratio[default] >= 0.5 else 'MISS'}   ({hours:.1f} simulated hours per run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 events and 1 repetition")
    args = parser.parse_args()
    asyncio.run(run(2_000 if args.quick else 10_000, 1 if args.quick else 3))


if __name__ == "__main__":
    main()
