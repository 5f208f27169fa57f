"""What planning and running a scenario costs: per message, and for 10,000 messages over 24 simulated hours.

Run: ``python bench/scenario.py`` (about a minute) or ``python bench/scenario.py --quick``.
Everything talks to 127.0.0.1 only; every loop is bounded.

(a) Planning cost per message: triggers through the engine with no server and no network
    (OfflineRun), split into planning (the trigger call: runs, steps, messages scheduled) and emission
    (each lifecycle step: state change, envelope, JSON, schema validation).
(b) 10,000 messages over 24 simulated hours on the virtual clock, delivered signed to a receiver in
    another process: wall time (target under 60 s, dominated by HTTP) and peak memory (RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
from loopback import HOST, receiving  # noqa: E402

sys.path.insert(0, str(ROOT))
from mockknock.config import Endpoint, RetryPolicy, Settings  # noqa: E402
from mockknock.offline import OfflineRun  # noqa: E402
from mockknock.scenario_file import load_scenario  # noqa: E402
from mockknock.schemas import SchemaRegistry  # noqa: E402
from mockknock.simulation import Simulation  # noqa: E402

DAY_US = 24 * 3600 * 1_000_000

SCENARIO = """
version: 1
name: bench-day
unknown_workflows: accept
channels:
  in-app: {{type: in_app_feed, provider: knock}}
  email: {{type: email, provider: sendgrid}}
lifecycles:
  - match: {{channel_type: in_app_feed}}
    outcomes:
      read: {{weight: 3, events: [sent, delivered, +5m~4m seen, +1m read]}}
      unread: {{weight: 7, events: [sent, delivered]}}
  - match: {{channel_type: email}}
    outcomes:
      delivered: {{weight: 8, events: [+1s sent, +3s~2s delivered]}}
      bounced: {{weight: 1, events: [+1s sent, +2s bounced(hard_bounce)]}}
      retried: {{weight: 1, events: [+1s delivery_attempted x2, +30s sent, +2s delivered]}}
script:
  - at: 0s
    every: {every}
    count: {count}
    workflow: daily-digest
    recipients: {{fake: 1}}
    data: {{summary: {{fake: sentence}}}}
"""


def write_scenario(directory: Path, messages: int) -> Path:
    triggers = messages // 2  # two channel steps per trigger
    every_ms = DAY_US // 1000 // triggers
    path = directory / "bench-day.yaml"
    path.write_text(SCENARIO.format(every=f"{every_ms}ms", count=triggers))
    return path


def planning_cost(schemas: SchemaRegistry, path: Path, messages: int) -> tuple[float, float, int]:
    """(us per message planned, us per event emitted, events) with validation on.

    Every lifecycle here starts a second after its message is created, so advancing 1 us after each
    trigger creates (plans) the messages and emits nothing; run() then emits everything.
    """
    text = path.read_text().replace("events: [sent, delivered", "events: [+1s sent, delivered")
    planning_path = path.with_name("planning.yaml")
    planning_path.write_text(text)
    run = OfflineRun(load_scenario(planning_path), schemas, seed=1, keep_events=False)
    body: dict[str, object] = {"recipients": ["u1", "u2", "u3", "u4", "u5"], "data": {"k": 1}}
    triggers = messages // 10  # five recipients x two channels
    started = time.perf_counter()
    for _ in range(triggers):
        run.trigger("daily-digest", body)
        run.advance(1)  # creates the messages (their channel steps are due now)
    planned = time.perf_counter() - started
    if run.store.events_emitted:
        raise RuntimeError("planning emitted events: the planning scenario must delay every first step")
    emitted_before = run.store.events_emitted
    started = time.perf_counter()
    run.run()
    emitting = time.perf_counter() - started
    events = run.store.events_emitted - emitted_before
    return planned / (triggers * 10) * 1e6, emitting / max(1, events) * 1e6, events




async def day_run(schemas: SchemaRegistry, path: Path) -> tuple[float, int, int, int]:
    """(wall seconds, events, attempts, simulated us) for the scenario's script on the virtual clock."""
    async with receiving() as port:
        settings = Settings(port=0, virtual_clock=True, seed=1, quiet=True, signing_secret="whsec_bench",
                            webhook_urls=(Endpoint(f"http://{HOST}:{port}/hook"),), retry=RetryPolicy())
        sim = Simulation(settings, load_scenario(path), schemas)
        started = time.perf_counter()
        await sim.start(sim.endpoints())
        start_us = sim.clock.now_us()
        sim.play_script()
        await sim.settle()
        wall = time.perf_counter() - started
        simulated = sim.clock.now_us() - start_us
        events, attempts = sim.store.events_emitted, sim.store.attempts_made
        await sim.stop()
        async with aiohttp.ClientSession() as session, session.get(f"http://{HOST}:{port}/count") as response:
            received = (await response.json())["count"]
        if received != attempts:
            raise RuntimeError(f"the receiver counted {received} requests, mockknock made {attempts} attempts")
        return wall, events, attempts, simulated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 messages instead of 10,000")
    args = parser.parse_args()
    messages = 1_000 if args.quick else 10_000
    schemas = SchemaRegistry.load()
    with tempfile.TemporaryDirectory() as directory:
        path = write_scenario(Path(directory), messages)
        per_message, per_event, events = planning_cost(schemas, path, messages)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall, emitted, attempts, simulated = asyncio.run(day_run(schemas, path))
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"(a) planning: {per_message:.1f} us per message; emission: {per_event:.1f} us per event "
          f"({events} events, validation on)")
    print(f"(b) {messages} messages over {simulated / 3.6e9:.1f} simulated hours: {wall:.1f} s wall "
          f"({emitted} events, {attempts} deliveries, {attempts / wall:.0f} deliveries/s), "
          f"target < 60 s: {'PASS' if wall < 60 else 'MISS'}")
    print(f"    peak RSS {rss_peak / 1024:.0f} MB (was {rss_before / 1024:.0f} MB before the run)")


if __name__ == "__main__":
    main()
