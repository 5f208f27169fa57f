"""What ``mockknock serve`` costs next to bare aiohttp, measured in one run on this machine.

Run: ``python bench/serve.py`` (about 20 minutes) or ``python bench/serve.py --quick`` (about 2 minutes).
Everything talks to 127.0.0.1 only, and every loop is bounded in count and in time.

(a) Trigger API: ``POST /v1/workflows/{key}/trigger`` at 64 connections (an Idempotency-Key per request,
    as the SDKs send) against ``python -m mockknock serve`` in its own process, its webhooks flowing to a
    receiver in a third process, next to a bare aiohttp JSON POST handler measured the same way; and again
    with ``--delivery-process`` (POSTs from a child process instead of the serving one).
(b) Webhook delivery: events emitted, validated, signed, POSTed and logged by an in-process Simulation
    (and again with POSTs through a delivery process, whose CPU is counted too), next to a bare aiohttp
    client POSTing the same bodies to the same receiver at the same concurrency.
(c) Start-up: from starting ``python -m mockknock serve`` to the port accepting connections.
(d) Memory per stored message at 100k messages (10k with --quick), with tracemalloc and RSS, in a
    fresh interpreter, right after creation (later lifecycle steps still pending) and after all fired.
(e) Where the time goes: each step of the trigger path, per message and per event, timed in-process and
    set against (a) and (b) as a CPU budget per trigger.

Targets: (a) >= 0.6x bare, (b) >= 0.5x bare, (c) < 0.5 s, (d) < 2 KB per message. Ratios are taken
per interleaved repetition and the median is reported; the machine is shared, so absolute figures move.
The role flags (``--role receiver|bare|memory|serve-nogc|serve-noengine``) are how this script runs its
helper processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import itertools
import json
import linecache
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(ROOT))
from mockknock import signing  # noqa: E402
from mockknock.clock import VirtualClock  # noqa: E402
from mockknock.config import Endpoint, Settings  # noqa: E402
from mockknock.gc_tuning import serving_thresholds  # noqa: E402
from mockknock.idempotency import IdempotencyCache, fingerprint  # noqa: E402
from mockknock.ids import uuid4  # noqa: E402
from mockknock.lifecycle import parse_step  # noqa: E402
from mockknock.model import ChannelType, Event  # noqa: E402
from mockknock.scenario import (  # noqa: E402
    ChannelStep,
    Lifecycle,
    LifecycleMatch,
    Outcome,
    Scenario,
    make_channel,
)
from mockknock.scenario_file import load_default  # noqa: E402
from mockknock.schemas import SchemaRegistry  # noqa: E402
from mockknock.server import MockKnockServer  # noqa: E402
from mockknock.simulation import Simulation  # noqa: E402
from mockknock.trigger import TriggerRequest  # noqa: E402

PYTHON = sys.executable
HOST = "127.0.0.1"
CONCURRENCY = 64
API_KEY = "sk_test_bench"
SECRET = "whsec_bench_0123456789abcdef"
SEED = 1
USERS = 200  # distinct recipients in (a); each user's fake name/email is made once, during warm-up
CLK_TCK = os.sysconf("SC_CLK_TCK")

TARGET_TRIGGER_RATIO = 0.6
TARGET_DELIVERY_RATIO = 0.5
TARGET_STARTUP_S = 0.5
TARGET_BYTES_PER_MESSAGE = 2048


@dataclass(frozen=True)
class Plan:
    reps: int
    requests: int  # per trigger load run, or fewer if the duration runs out first
    duration_s: float
    warmup: int
    webhooks: int  # per delivery run
    startups: int
    messages: int  # for the memory figure


FULL = Plan(reps=5, requests=20_000, duration_s=5.0, warmup=500, webhooks=20_000, startups=9,
            messages=100_000)
QUICK = Plan(reps=3, requests=4_000, duration_s=2.0, warmup=300, webhooks=4_000, startups=5,
             messages=10_000)


# -- helper processes ---------------------------------------------------------------------------------


def run_receiver(port: int) -> None:
    """The developer's webhook endpoint: reads the body, counts, answers 204. GET /count, POST /reset."""
    state = {"count": 0}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        state["count"] += 1
        return web.Response(status=204)

    async def count(_request: web.Request) -> web.Response:
        return web.json_response({"count": state["count"]})

    async def reset(_request: web.Request) -> web.Response:
        state["count"] = 0
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/count", count)
    app.router.add_post("/reset", reset)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


def run_bare(port: int) -> None:
    """The baseline: parse the JSON body, answer a small JSON object; nothing else."""
    ids = itertools.count()

    async def trigger(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if not isinstance(body, dict):
            return web.Response(status=422)
        payload = {"workflow_run_id": f"00000000-0000-4000-8000-{next(ids):012d}"}
        return web.Response(body=json.dumps(payload, separators=(",", ":")).encode(),
                            content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/workflows/{key}/trigger", trigger)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def accepting(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Child:
    """A helper process this script started, with its stderr kept in a file for when it dies."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    stderr: IO[bytes]

    def wait_accepting(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            if accepting(self.port):
                return
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not accept connections on port {self.port} in {timeout_s:g}s")

    def cpu_seconds(self) -> float:
        """user + system CPU time so far of the process and of the processes it started (mockknock's
        delivery process), from /proc."""
        return sum(process_cpu_seconds(pid) for pid in (self.process.pid, *child_pids(self.process.pid)))

    def tail(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.stderr.close()


def process_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except FileNotFoundError:  # it exited meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def child_pids(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError):
            pids.extend(int(p) for p in (task / "children").read_text().split())
    return pids


def is_courier(pid: int) -> bool:
    try:
        return b"mockknock.courier" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def spawn(name: str, args: Sequence[str], port: int, env: dict[str, str] | None = None) -> Child:
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Child.stop(), which every caller reaches
    process = subprocess.Popen([PYTHON, *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    child = Child(name, process, port, stderr)
    try:
        child.wait_accepting()
    except BaseException:
        child.stop()
        raise
    return child


@contextlib.contextmanager
def running(name: str, args: Sequence[str], port: int) -> Iterator[Child]:
    child = spawn(name, args, port)
    try:
        yield child
    finally:
        child.stop()


def self_role(role: str, port: int) -> list[str]:
    return [str(Path(__file__).resolve()), "--role", role, "--port", str(port)]


def mock_serve_args(port: int, webhook_url: str) -> list[str]:
    return ["-m", "mockknock", "serve", "--port", str(port), "--webhook-url", webhook_url, "--quiet",
            "--seed", str(SEED), "--signing-secret", SECRET]


# -- figures ------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- (a) trigger API ----------------------------------------------------------------------------------


def trigger_body(i: int, user: str | None = None) -> bytes:
    body = {
        "recipients": [user or f"user-{i % USERS}"],
        "actor": "user-actor",
        "data": {"comment_id": i, "text": "Life finds a way", "url": f"https://example.com/comments/{i}"},
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    webhooks: int = 0
    first_error: str = ""
    # mockknock only, from its control plane: what the engine did during the run
    messages: int = 0
    events: int = 0
    in_flight_after: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan

    @property
    def server_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else math.nan

    @property
    def server_util(self) -> float:
        return self.server_cpu_s / self.seconds if self.seconds else math.nan

    @property
    def client_util(self) -> float:
        return self.client_cpu_s / self.seconds if self.seconds else math.nan


async def load(session: aiohttp.ClientSession, url: str, bodies: Sequence[bytes], *, key_prefix: str,
               duration_s: float, expect: int = 200) -> LoadResult:
    """CONCURRENCY closed-loop workers; stops after len(bodies) requests or duration_s, whichever first."""
    result = LoadResult()
    counter = itertools.count()
    total = len(bodies)
    started = time.perf_counter()
    deadline = started + duration_s

    async def worker() -> None:
        while True:
            i = next(counter)
            if i >= total or time.perf_counter() >= deadline:
                return
            headers = {
                "Authorization": f"Bearer {API_KEY}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"{key_prefix}-{i}",
            }
            t0 = time.perf_counter()
            try:
                async with session.post(url, data=bodies[i], headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                result.errors += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.requests += 1
            if status != expect:
                result.errors += 1
                result.first_error = result.first_error or f"HTTP {status}"

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(CONCURRENCY))), timeout=duration_s + 60)
    result.seconds = time.perf_counter() - started
    return result


async def receiver_count(session: aiohttp.ClientSession, receiver: str) -> int:
    async with session.get(f"{receiver}/count") as response:
        payload = await response.json()
    return int(payload["count"])


async def mock_counts(session: aiohttp.ClientSession, child: Child) -> dict[str, int]:
    """The mock's counters from its control plane (empty for the bare server)."""
    try:
        async with session.get(f"http://{HOST}:{child.port}/__mockknock") as response:
            if response.status != 200:
                return {}
            payload = await response.json()
    except aiohttp.ClientError:
        return {}
    counts = payload.get("counts", {}) if isinstance(payload, dict) else {}
    return {k: int(v) for k, v in counts.items() if isinstance(v, int)}


async def measure_trigger(child: Child, plan: Plan, receiver: str, tag: str) -> LoadResult:
    url = f"http://{HOST}:{child.port}/v1/workflows/new-comment/trigger"
    warm = [trigger_body(i) for i in range(plan.warmup)]
    bodies = [trigger_body(plan.warmup + i) for i in range(plan.requests)]
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await load(session, url, warm, key_prefix=f"{tag}-warm", duration_s=plan.duration_s)
        async with aiohttp.ClientSession(timeout=timeout) as side:
            hooks_before = await receiver_count(side, receiver)
            counts_before = await mock_counts(side, child)
            cpu_before, client_before = child.cpu_seconds(), time.process_time()
            result = await load(session, url, bodies, key_prefix=f"{tag}-run", duration_s=plan.duration_s)
            result.server_cpu_s = child.cpu_seconds() - cpu_before
            result.client_cpu_s = time.process_time() - client_before
            result.webhooks = await receiver_count(side, receiver) - hooks_before
            counts_after = await mock_counts(side, child)
            if counts_before and counts_after:
                result.messages = counts_after.get("messages", 0) - counts_before.get("messages", 0)
                result.events = counts_after.get("events_emitted", 0) - counts_before.get("events_emitted", 0)
                result.in_flight_after = counts_after.get("deliveries_in_flight", 0)
    return result


TRIGGER_VARIANTS = ("bare", "mock", "mock-child", "mock-nohooks")
NOGC_VARIANT = "mock-nohooks-nogc"
NOENGINE_VARIANT = "mock-nohooks-noengine"
VARIANT_LABELS = {
    "bare": "bare aiohttp JSON handler",
    "mock": "mockknock serve, webhooks on",
    "mock-child": "  the same, POSTs from a delivery process",
    "mock-nohooks": "mockknock serve, webhooks filtered out",
    NOGC_VARIANT: "  the same with Python's GC disabled",
    NOENGINE_VARIANT: "  the same with the engine stubbed out",
}


def trigger_child(variant: str, receiver: str) -> tuple[str, list[str], int]:
    port = free_port()
    if variant == "bare":
        return "bare server", self_role("bare", port), port
    # No event matches the filter: each is still created and logged, but its body is never built and nothing
    # is POSTed (outside strict mode bodies are built on first use).
    url = f"{receiver}/hook" if variant in ("mock", "mock-child") else f"{receiver}/hook|workflow.committed"
    if variant == NOGC_VARIANT:
        return "mockknock serve (no GC)", [*self_role("serve-nogc", port), "--hook-url", url], port
    if variant == NOENGINE_VARIANT:
        return "mockknock serve (no engine)", [*self_role("serve-noengine", port), "--hook-url", url], port
    child = ["--delivery-process"] if variant == "mock-child" else ["--no-delivery-process"]
    return "mockknock serve", [*mock_serve_args(port, url), *child], port


def profile_a(plan: Plan, receiver: str, directory: Path) -> None:
    """One extra, uncounted run of each mock variant under pyinstrument (wall-clock samples every 0.5 ms)."""
    directory.mkdir(parents=True, exist_ok=True)
    for variant in ("mock", "mock-nohooks"):
        name, args, port = trigger_child(variant, receiver)
        out = directory / f"serve-{variant}.txt"
        wrapped = ["-m", "pyinstrument", "-i", "0.0005", "-r", "text", "-o", str(out), "-m", *args[1:]]
        with running(name, wrapped, port) as child:
            result = asyncio.run(measure_trigger(child, plan, receiver, f"profile-{variant}"))
        print(f"  profiled {VARIANT_LABELS[variant]}: {result.rps:.0f} req/s under the profiler -> {out}", flush=True)


def section_a(plan: Plan, receiver: str, variants: tuple[str, ...]) -> dict[str, list[LoadResult]]:
    results: dict[str, list[LoadResult]] = {v: [] for v in variants}
    for rep in range(plan.reps):
        shift = rep % len(variants)
        for variant in (*variants[shift:], *variants[:shift]):
            name, args, port = trigger_child(variant, receiver)
            with running(name, args, port) as child:
                result = asyncio.run(measure_trigger(child, plan, receiver, f"r{rep}-{variant}"))
            results[variant].append(result)
            print(f"  rep {rep + 1}/{plan.reps}  {VARIANT_LABELS[variant]:<40} {result.rps:8.0f} req/s  "
                  f"p99 {percentile(result.latencies, 0.99) * 1e3:6.1f} ms  errors {result.errors}"
                  + (f" ({result.first_error})" if result.errors else ""), flush=True)
    return results


# -- (b) webhook delivery -----------------------------------------------------------------------------


def delivery_scenario() -> Any:
    """One email step whose message is sent and delivered at once: two webhooks per message, no delays."""

    email = make_channel("email", ChannelType.EMAIL, "sendgrid", "SendGrid")
    happy = Outcome("delivered", 1.0, (parse_step("sent"), parse_step("delivered")))
    return Scenario(
        name="bench-delivery",
        channels={"email": email},
        default_steps=(ChannelStep("email_1", email),),
        lifecycles=(Lifecycle(LifecycleMatch(), (happy,)),),
    )


@dataclass
class DeliveryResult:
    webhooks: int
    seconds: float
    cpu_s: float
    received: int
    attempts: int
    child_cpu_s: float = 0.0  # of mockknock's delivery process, within cpu_s

    @property
    def per_second(self) -> float:
        return self.webhooks / self.seconds if self.seconds else math.nan

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.webhooks * 1e6 if self.webhooks else math.nan

    @property
    def child_cpu_us(self) -> float:
        return self.child_cpu_s / self.webhooks * 1e6 if self.webhooks else math.nan


async def reset_receiver(session: aiohttp.ClientSession, receiver: str) -> None:
    async with session.post(f"{receiver}/reset") as response:
        await response.read()


async def mock_delivery(receiver: str, webhooks: int, schemas: SchemaRegistry,
                        bodies: list[bytes] | None, delivery_process: bool = False) -> DeliveryResult:
    """Trigger webhooks // 2 messages through the engine; time from the first emission until every
    delivery is answered (CPU from the same moment, of this process and of the delivery process)."""
    settings = Settings(webhook_urls=(Endpoint(f"{receiver}/hook"),), signing_secret=SECRET, seed=SEED,
                        delivery_concurrency=CONCURRENCY, delivery_process=delivery_process, quiet=True)
    sim = Simulation(settings, delivery_scenario(), schemas)
    if bodies is not None:
        sim.delivery.listeners.append(lambda event, _attempt: bodies.append(event.body))
    first: list[float] = []  # [wall, cpu, delivery process cpu] at the first emission
    outbox = sim.emitter.outbox

    def children_cpu() -> float:  # of the delivery process only: the receiver is this script's child too
        return sum(process_cpu_seconds(pid) for pid in child_pids(os.getpid()) if is_courier(pid))

    def first_emission(event: Event) -> None:
        if not first:
            first.extend((time.perf_counter(), time.process_time(), children_cpu()))
        outbox(event)

    sim.emitter.outbox = first_emission
    # Recipients come inline with name and email, as an app usually sends them, so no fake data is made.
    per_trigger = 10
    requests = [
        TriggerRequest.from_body({
            "recipients": [
                {"id": f"user-{t}-{r}", "name": f"User {t} {r}", "email": f"user-{t}-{r}@example.com"}
                for r in range(per_trigger)
            ],
            "data": {"comment_id": t, "text": "Life finds a way"},
        })
        for t in range(math.ceil(webhooks / 2 / per_trigger))
    ]
    async with aiohttp.ClientSession() as side:
        await reset_receiver(side, receiver)
        await sim.start(settings.webhook_urls)
        try:
            workflow = sim.engine.resolve_workflow("new-comment")
            for request in requests:
                sim.engine.trigger(workflow, request, sim.next_request_id())
            await asyncio.wait_for(sim.settle(), timeout=120)
            seconds = time.perf_counter() - first[0]
            child_cpu = children_cpu() - first[2]
            cpu = time.process_time() - first[1] + child_cpu
        finally:
            await sim.stop()
        received = await receiver_count(side, receiver)
    emitted = sim.store.events_emitted
    return DeliveryResult(emitted, seconds, cpu, received, sim.store.attempts_made, child_cpu)


async def bare_delivery(receiver: str, bodies: Sequence[bytes], task_each: bool) -> DeliveryResult:
    """POST the same bodies through one ClientSession with a limit-64 connector: from CONCURRENCY
    workers, or (task_each) from one task per body, as mockknock's delivery does."""
    counter = itertools.count()
    statuses: list[int] = []

    async with aiohttp.ClientSession() as side:
        await reset_receiver(side, receiver)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def post(body: bytes) -> None:
                async with session.post(f"{receiver}/hook", data=body,
                                        headers={"content-type": "application/json"}) as response:
                    await response.read()
                    statuses.append(response.status)

            async def worker() -> None:
                while (i := next(counter)) < len(bodies):
                    await post(bodies[i])

            cpu_before = time.process_time()
            started = time.perf_counter()
            if task_each:
                tasks = [asyncio.get_running_loop().create_task(post(body)) for body in bodies]
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
            else:
                await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(CONCURRENCY))), timeout=120)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_before
        received = await receiver_count(side, receiver)
    return DeliveryResult(len(bodies), seconds, cpu, received, len(statuses))


DELIVERY_SIDES = ("bare", "bare-tasks", "mock", "mock-child")
DELIVERY_LABELS = {
    "bare": "bare aiohttp client, 64 workers",
    "bare-tasks": "bare aiohttp client, a task per webhook",
    "mock": "mockknock: emit, validate, sign, POST, log",
    "mock-child": "  the same, POSTs from a delivery process",
}


def section_b(plan: Plan, receiver: str) -> dict[str, list[DeliveryResult]]:
    schemas = SchemaRegistry.load()
    bodies: list[bytes] = []
    # Warm-up: compiles the event schemas, and collects the exact bodies the bare client will send.
    asyncio.run(mock_delivery(receiver, plan.webhooks, schemas, bodies))
    results: dict[str, list[DeliveryResult]] = {side: [] for side in DELIVERY_SIDES}
    for rep in range(plan.reps):
        shift = rep % len(DELIVERY_SIDES)
        for side in (*DELIVERY_SIDES[shift:], *DELIVERY_SIDES[:shift]):
            gc.collect()
            if side in ("mock", "mock-child"):
                with serving_thresholds():  # the collector as `serve` sets it
                    result = asyncio.run(mock_delivery(receiver, plan.webhooks, schemas, None, side == "mock-child"))
            else:
                result = asyncio.run(bare_delivery(receiver, bodies, task_each=side == "bare-tasks"))
            results[side].append(result)
            problem = "" if result.received == result.webhooks == result.attempts else (
                f"  (!) received {result.received}, attempts {result.attempts}")
            print(f"  rep {rep + 1}/{plan.reps}  {DELIVERY_LABELS[side]:<42} {result.webhooks} in "
                  f"{result.seconds:5.2f} s = {result.per_second:6.0f}/s  "
                  f"{result.cpu_us:4.0f} us CPU each"
                  + (f" ({result.child_cpu_us:.0f} in the delivery process)" if result.child_cpu_s else "")
                  + problem, flush=True)
    return results


# -- (c) start-up -------------------------------------------------------------------------------------


def time_command(args: Sequence[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([PYTHON, *args], cwd=ROOT, check=True, timeout=60, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def time_startup(env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    child = spawn("mockknock serve", mock_serve_args(port, f"http://{HOST}:9/hook"), port, env)
    seconds = time.perf_counter() - started
    child.stop()
    return seconds


def cached_bytecode_env(cache: Path) -> dict[str, str]:
    """This script's environment with Python's bytecode cache on, kept in `cache`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


@dataclass
class StartupResult:
    serve: list[float]  # bytecode cached: every start but the first after an install or an edit
    serve_as_is: list[float]  # in this script's own environment, whatever its bytecode settings
    bare_python: list[float]
    import_cli: list[float]
    importtime: list[tuple[int, int, str]]  # (cumulative us, self us, top-level module) from -X importtime
    environment_disables_cache: bool  # PYTHONDONTWRITEBYTECODE is set in this script's environment


IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def importtime_top(env: dict[str, str]) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, name indented by depth) for every module `import mockknock.cli` loads."""
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", "import mockknock.cli"], cwd=ROOT, timeout=60,
                          capture_output=True, text=True, check=True, env=env)
    found: list[tuple[int, int, str]] = []
    for line in done.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match:
            found.append((int(match.group(2)), int(match.group(1)), match.group(3) + match.group(4)))
    return found


def section_c(plan: Plan) -> StartupResult:
    """Start-up as a developer sees it every day: Python caches compiled bytecode next to the sources on the
    first start (pip compiles the dependencies at install). Some environments turn the cache off with
    PYTHONDONTWRITEBYTECODE, and then mockknock's own modules are compiled from source on every start; so
    the cache goes to a directory of its own here, filled by one uncounted start, and starts in this
    script's own environment are measured too."""
    as_is = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="mockknock-bench-pycache-") as cache:
        cached = cached_bytecode_env(Path(cache))
        time_startup(cached)
        result = StartupResult([], [], [], [], [], bool(as_is.get("PYTHONDONTWRITEBYTECODE")))
        for _ in range(plan.startups):
            result.bare_python.append(time_command(["-c", "pass"], cached))
            result.import_cli.append(time_command(["-c", "import mockknock.cli"], cached))
            result.serve.append(time_startup(cached))
            result.serve_as_is.append(time_startup(as_is))
        result.importtime = importtime_top(cached)
    return result


# -- (d) memory ---------------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def run_memory(messages: int, trace: bool) -> dict[str, Any]:
    """In this fresh process: make `messages` messages through the engine, report bytes per message."""

    if trace:
        tracemalloc.start(1)
        # On this CPython 3.11, allocation-heavy code runs ~30x slower under tracemalloc, but only ~8x
        # while any profile hook is set; the hook keeps nothing alive, so the figures do not change.
        sys.setprofile(_no_profile)
    clock = VirtualClock(start_us=1_795_000_000_000_000)
    # No endpoints and no delivery started. Strict, so every body is built, validated and held in the
    # bounded event log as if it had been sent: serve builds them on first use, but memory must not
    # depend on whether anyone has read them yet.
    settings = Settings(seed=SEED, signing_secret=SECRET, quiet=True)
    sim = Simulation(settings, load_default(), SchemaRegistry.load(), clock=clock, strict=True)
    engine = sim.engine
    workflow = engine.resolve_workflow("new-comment")
    per_trigger = sum(1 for step in workflow.steps if hasattr(step, "channel"))

    def trigger(first: int, count: int) -> None:
        for i in range(first, first + count):
            # One distinct recipient per trigger: every message gets its own user record and fake profile.
            body = json.loads(trigger_body(i, f"user-{i}"))
            engine.trigger(workflow, TriggerRequest.from_body(body), sim.next_request_id())

    def fire_all() -> None:
        engine.timeline.fire_due()
        while (due := engine.timeline.next_due_us()) is not None:
            clock.advance(max(0, due - clock.now_us()))
            engine.timeline.fire_due()

    def measured() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0] if trace else rss_bytes()

    warm = 200
    trigger(0, warm)  # warm-up: schemas compiled, Faker imported and built, first-use caches filled
    fire_all()
    warm_messages = len(sim.store.messages)
    base = measured()
    base_snapshot = tracemalloc.take_snapshot() if trace else None
    triggers = math.ceil(messages / per_trigger)
    started = time.perf_counter()
    trigger(warm, triggers)
    # Creates every message and fires the steps due at once (in-app sent and delivered).
    engine.timeline.fire_due()
    created_s = time.perf_counter() - started
    made = len(sim.store.messages) - warm_messages
    pending = len(engine.timeline)
    after_creation = measured()
    creation_sites = _top_sites(base_snapshot) if trace else []
    started = time.perf_counter()
    fire_all()  # the email sent / delivered steps, seconds later on the virtual clock
    fired_s = time.perf_counter() - started
    after_all = measured()
    gc_pause_s = _full_gc_seconds()
    all_sites = _top_sites(base_snapshot) if trace else []
    # The store keeps the last N emitted events (bodies included): a fixed cost, whatever the message count.
    log_events = len(sim.store.events)
    before_clear = measured()
    sim.store.events.clear()
    event_log_bytes = before_clear - measured()

    before_cache = measured()
    cache = _fill_idempotency_cache(sim, triggers)
    cache_bytes = measured() - before_cache
    del cache
    return {
        "trace": trace,
        "messages": made,
        "triggers": triggers,
        "events": sim.store.events_emitted,
        "users": len(sim.store.users),
        "pending_after_creation": pending,
        "pending_after_all": len(engine.timeline),
        "bytes_after_creation": after_creation - base,
        "bytes_after_all": after_all - base,
        "event_log_events": log_events,
        "event_log_bytes": event_log_bytes,
        "idempotency_bytes": cache_bytes,
        "gc_pause_s": gc_pause_s,
        "gc_objects": len(gc.get_objects()),
        "created_s": created_s,
        "fired_s": fired_s,
        "creation_sites": creation_sites,
        "all_sites": all_sites,
    }


def _full_gc_seconds() -> float:
    """A full collection walks every object the store keeps: a pause a long session pays now and then."""
    started = time.perf_counter()
    gc.collect()
    return time.perf_counter() - started


def _fill_idempotency_cache(sim: Simulation, triggers: int) -> IdempotencyCache:
    """The HTTP path also keeps each Idempotency-Key's answer for 24 hours: per trigger, not per message."""
    cache = IdempotencyCache(sim.clock)
    rng = sim.randomness.stream("bench")
    for i in range(triggers):
        answer = json.dumps({"workflow_run_id": uuid4(rng)}, separators=(",", ":")).encode()
        body = json.loads(trigger_body(i))
        cache.remember(uuid4(rng), fingerprint("/v1/workflows/new-comment/trigger", body), 200, answer,
                       sim.next_request_id())
    return cache


def _no_profile(_frame: FrameType, _event: str, _arg: object) -> None:
    return None


def _top_sites(base: tracemalloc.Snapshot | None, limit: int = 12) -> list[tuple[str, int, int, str]]:
    """The allocation sites that grew most since ``base``: (file:line, bytes, blocks, source line)."""
    if base is None:
        return []
    gc.collect()
    current = tracemalloc.take_snapshot()
    found: list[tuple[str, int, int, str]] = []
    for stat in current.compare_to(base, "lineno")[:limit]:
        frame = stat.traceback[0]
        name = Path(frame.filename)
        where = f"{name.parent.name}/{name.name}:{frame.lineno}"
        found.append((where, stat.size_diff, stat.count_diff, linecache.getline(frame.filename, frame.lineno).strip()))
    return found


def section_d(plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    def child(trace: bool) -> dict[str, Any]:
        args = [str(Path(__file__).resolve()), "--role", "memory", "--messages", str(plan.messages)]
        done = subprocess.run([PYTHON, *args, *(["--trace"] if trace else [])], cwd=ROOT, timeout=900,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"memory run failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    return child(True), child(False)


# -- (e) where the time goes ------------------------------------------------------------------------


def section_e(count: int) -> dict[str, float]:
    """Microseconds per trigger (or per event) of each step of the mock's trigger path, in-process."""
    schemas = SchemaRegistry.load()
    clock = VirtualClock(start_us=1_795_000_000_000_000)
    # Strict: each event's body is built, checked and serialised at emission, so "emit" below costs all of it
    # (serve does the same work later, in the delivery worker).
    sim = Simulation(Settings(seed=SEED, signing_secret=SECRET, quiet=True), load_default(), schemas, clock=clock,
                     strict=True)
    engine = sim.engine
    workflow = engine.resolve_workflow("new-comment")

    def fire_later() -> None:
        while (due := engine.timeline.next_due_us()) is not None:
            clock.advance(max(0, due - clock.now_us()))
            engine.timeline.fire_due()

    def per(fn: Any, n: int = count) -> float:
        gc.collect()
        started = time.perf_counter()
        fn()
        return (time.perf_counter() - started) / n * 1e6

    # Warm-up: every user of (a) gets its fake profile, every validator is compiled.
    for i in range(USERS):
        engine.trigger(workflow, TriggerRequest.from_body(json.loads(trigger_body(i))), sim.next_request_id())
    engine.timeline.fire_due()
    fire_later()

    raws = [trigger_body(USERS + i) for i in range(count)]
    bodies = [json.loads(raw) for raw in raws]
    cache = IdempotencyCache(clock)
    path = "/v1/workflows/new-comment/trigger"
    answer = b'{"workflow_run_id":"00000000-0000-4000-8000-000000000000"}'

    def idempotency() -> None:
        for i, body in enumerate(bodies):  # parsed already: the handler parses once, for both
            key = f"bench-{i}"
            print_ = fingerprint(path, body)
            cache.lookup(key, print_)
            cache.remember(key, print_, 200, answer, "request-id")

    def plan() -> None:
        for body in bodies:
            engine.trigger(workflow, TriggerRequest.from_body(body), sim.next_request_id())

    costs = {
        "parse": per(lambda: [json.loads(raw) for raw in raws]),
        "validate": per(lambda: [schemas.is_valid("trigger_request", body) for body in bodies]),
        "idempotency": per(idempotency),
        "plan": per(plan),
    }
    emitted = sim.store.events_emitted
    costs["create"] = per(engine.timeline.fire_due)
    costs["create_events"] = (sim.store.events_emitted - emitted) / count
    emitted = sim.store.events_emitted
    costs["later"] = per(fire_later)
    costs["later_events"] = (sim.store.events_emitted - emitted) / count

    # One event's parts, on the last message: the body, its schema check, its serialisation, its signature.
    message = next(reversed(sim.store.messages.values()))
    envelope = {"__typename": "Event", "type": "message.delivered", "created_at": "2026-11-23T00:00:00.000000Z",
                "data": message.to_wire(), "event_data": None}
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    reps = range(count)
    costs["to_wire"] = per(lambda: [message.to_wire() for _ in reps])
    costs["event_validate"] = per(lambda: [schemas.is_valid("events/message.delivered", envelope) for _ in reps])
    costs["dumps"] = per(lambda: [json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
                                  for _ in reps])
    costs["sign"] = per(lambda: [signing.sign(body, SECRET) for _ in reps])
    costs["body_bytes"] = len(body)

    # Start-up work once imports are done: what `mockknock serve` does before it listens.
    costs["startup_schemas"] = per(SchemaRegistry.load, 1) / 1e3
    costs["startup_scenario"] = per(load_default, 1) / 1e3
    costs["startup_server"] = per(lambda: MockKnockServer(Settings(quiet=True, seed=SEED)), 1) / 1e3
    return costs


# -- the report ---------------------------------------------------------------------------------------


def ratio_pairs(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    return [n / d for n, d in zip(numerators, denominators, strict=True) if d]


Row = tuple[str, str, str, str]  # figure, measured, target, PASS / MISS / info


def report_a(plan: Plan, a: dict[str, list[LoadResult]]) -> list[Row]:
    print("\n(a) trigger API: POST /v1/workflows/new-comment/trigger, 64 connections, an Idempotency-Key")
    print(f"    each; {plan.requests} requests or {plan.duration_s:g} s per run, median of {plan.reps} "
          "interleaved runs")
    print(f"    {'':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'srv us/req':>10} {'srv CPU':>7} "
          f"{'load gen CPU':>12} {'hooks/s':>7} {'errors':>6}")
    for variant, runs in a.items():
        print(f"    {VARIANT_LABELS[variant]:<40} {median([r.rps for r in runs]):7.0f} "
              f"{median([percentile(r.latencies, 0.5) for r in runs]) * 1e3:7.1f} "
              f"{median([percentile(r.latencies, 0.99) for r in runs]) * 1e3:7.1f} "
              f"{median([r.server_us_per_request for r in runs]):10.0f} "
              f"{median([r.server_util for r in runs]):7.0%} {median([r.client_util for r in runs]):12.0%} "
              f"{median([r.webhooks / r.seconds for r in runs]):7.0f} {sum(r.errors for r in runs):6d}")
    for variant, runs in a.items():
        if variant == "bare":
            continue
        print(f"    {VARIANT_LABELS[variant]:<40} per trigger in the run: "
              f"{median([r.messages / r.requests for r in runs]):.2f} messages, "
              f"{median([r.events / r.requests for r in runs]):.2f} events emitted, "
              f"{median([r.webhooks / r.requests for r in runs]):.2f} webhooks delivered; "
              f"deliveries still queued at the end: {median([float(r.in_flight_after) for r in runs]):.0f}")
    bare_rps = [r.rps for r in a["bare"]]
    bare_cpu = [r.server_us_per_request for r in a["bare"]]
    for variant in (v for v in a if v != "bare"):
        rps = median(ratio_pairs([r.rps for r in a[variant]], bare_rps))
        cpu = median(ratio_pairs(bare_cpu, [r.server_us_per_request for r in a[variant]]))
        print(f"    {VARIANT_LABELS[variant]:<40} {rps:.2f}x bare by req/s, "
              f"{cpu:.2f}x bare by server CPU per request")
    rps_ratio = median(ratio_pairs([r.rps for r in a["mock"]], bare_rps))
    mock_p99 = median([percentile(r.latencies, 0.99) for r in a["mock"]])
    bare_p99 = median([percentile(r.latencies, 0.99) for r in a["bare"]])
    bare_util = median([r.server_util for r in a["bare"]])
    if bare_util < 0.8:
        print(f"    note: the bare server used only {bare_util:.0%} of a core: the load generator and whatever")
        print("    else runs on the 2 cores held it back, so the req/s ratios flatter mockknock; the ratio of")
        print("    server CPU per request does not depend on the load generator.")
    print("    srv CPU = server process CPU time / wall time of the run (1 core = 100%); hooks/s = webhooks")
    print("    the receiver counted during the run (the default scenario's email events come 1-6 s after the")
    print("    trigger, its engagement events minutes to hours later, so only part of them fall in the run).")
    return [
        ("(a) trigger req/s, mock / bare", f"{rps_ratio:.2f}x", f">= {TARGET_TRIGGER_RATIO}x",
         verdict(rps_ratio >= TARGET_TRIGGER_RATIO)),
        ("(a) trigger p99 latency, mock", f"{mock_p99 * 1e3:.0f} ms", f"bare {bare_p99 * 1e3:.0f} ms",
         "info"),
    ]


def report_b(plan: Plan, b: dict[str, list[DeliveryResult]]) -> list[Row]:
    print("\n(b) webhook delivery to a receiver in another process (answers 204), 64 connections;")
    print(f"    {plan.webhooks} webhooks per run (mockknock: from its first emission), median of {plan.reps} "
          "interleaved runs")
    for side in DELIVERY_SIDES:
        runs = b[side]
        print(f"    {DELIVERY_LABELS[side]:<44} {median([r.per_second for r in runs]):7.0f} webhooks/s  "
              f"{median([r.cpu_us for r in runs]):5.0f} us CPU per webhook"
              + (f" ({median([r.child_cpu_us for r in runs]):.0f} in the delivery process)"
                 if side == "mock-child" else ""))
    bare = [r.per_second for r in b["bare"]]
    ratio = median(ratio_pairs([r.per_second for r in b["mock"]], bare))
    tasks = median(ratio_pairs([r.per_second for r in b["bare-tasks"]], bare))
    child = median(ratio_pairs([r.per_second for r in b["mock-child"]], bare))
    lost = sum(r.webhooks - r.received for runs in b.values() for r in runs)
    print(f"    mock / bare: {ratio:.2f}x; POSTing from a delivery process: {child:.2f}x; a task per webhook "
          f"alone: {tasks:.2f}x   (webhooks the receiver did not count: {lost})")
    return [("(b) webhooks/s, mock / bare", f"{ratio:.2f}x", f">= {TARGET_DELIVERY_RATIO}x",
             verdict(ratio >= TARGET_DELIVERY_RATIO and lost == 0))]


def report_c(c: StartupResult, force_importtime: bool) -> list[Row]:
    serve = median(c.serve)
    print(f"\n(c) start-up, median of {len(c.serve)}: python -m mockknock serve until its port accepts, "
          "bytecode cached")
    print(f"    python -c pass                         {median(c.bare_python) * 1e3:6.0f} ms")
    print(f"    python -c 'import mockknock.cli'       {median(c.import_cli) * 1e3:6.0f} ms")
    print(f"    mockknock serve accepting              {serve * 1e3:6.0f} ms   "
          f"(each: {', '.join(f'{s * 1e3:.0f}' for s in c.serve)})")
    cache_note = ("PYTHONDONTWRITEBYTECODE is set: mockknock's modules compiled on every start" if
                  c.environment_disables_cache else "bytecode cached where Python puts it by default")
    print(f"    the same in this script's environment  {median(c.serve_as_is) * 1e3:6.0f} ms   "
          f"(each: {', '.join(f'{s * 1e3:.0f}' for s in c.serve_as_is)}; {cache_note})")
    if serve >= TARGET_STARTUP_S or force_importtime:
        print("    -X importtime of mockknock.cli, imports over 10 ms cumulative, 3 levels (cumulative, self ms):")
        for cumulative, own, name in c.importtime:
            if cumulative >= 10_000 and len(name) - len(name.lstrip()) <= 4:
                print(f"      {cumulative / 1e3:7.1f} {own / 1e3:6.1f}  {name}")
        print("    largest self times:")
        for cumulative, own, name in sorted(c.importtime, key=lambda row: -row[1])[:8]:
            print(f"      {cumulative / 1e3:7.1f} {own / 1e3:6.1f}  {name.strip()}")
    return [("(c) serve start to accepting", f"{serve:.3f} s", f"< {TARGET_STARTUP_S} s",
             verdict(serve < TARGET_STARTUP_S))]


def report_d(d: tuple[dict[str, Any], dict[str, Any]]) -> list[Row]:
    traced, rss = d
    n = traced["messages"]
    log = traced["event_log_bytes"]
    print(f"\n(d) memory per stored message: {n} messages ({traced['triggers']} triggers, one new user each, "
          f"x 2 channel steps of the default scenario), {traced['events']} events emitted")
    print(f"    {'':<52} {'tracemalloc':>12} {'RSS delta':>10} {'traced w/o event log':>21}")
    for label, key in (("right after creation (later steps still pending)", "bytes_after_creation"),
                       ("after every lifecycle step fired", "bytes_after_all")):
        print(f"    {label:<52} {traced[key] / n:10.0f} B {rss[key] / n:8.0f} B {(traced[key] - log) / n:19.0f} B")
    print(f"    timeline entries pending after creation: {traced['pending_after_creation']}, "
          f"after all: {traced['pending_after_all']}")
    print(f"    the bounded event log ({traced['event_log_events']} bodies) holds {log / 1e6:.1f} MB whatever the "
          f"count: {log / n:.0f} B per message here")
    print(f"    not included (HTTP path only): the idempotency cache, "
          f"{traced['idempotency_bytes'] / traced['triggers']:.0f} B per trigger, kept 24 h")
    print(f"    {traced['created_s']:.1f} s to trigger and create, {traced['fired_s']:.1f} s to fire the "
          f"rest under tracemalloc; {rss['created_s']:.1f} s and {rss['fired_s']:.1f} s without")
    print(f"    one full gc.collect() with all of it stored: {rss['gc_pause_s'] * 1e3:.0f} ms over "
          f"{rss['gc_objects']} tracked objects")
    print("    sites are where each block was first allocated; CPython reuses freed dicts and tuples from free")
    print("    lists, so a site can stand for a later object of the same kind.")
    for title, key in (("right after creation", "creation_sites"), ("after all fired", "all_sites")):
        print(f"    biggest growth by allocation site, {title} (tracemalloc):")
        for where, size, count, code in traced[key][:10]:
            print(f"      {size / n:6.0f} B/msg {count / n:5.2f} blocks/msg  {where:<28} {code[:60]}")
    worst = max(traced["bytes_after_creation"], traced["bytes_after_all"]) / n
    target = f"< {TARGET_BYTES_PER_MESSAGE} B"
    label = "(d) bytes per stored message (worst stage)"
    if n < FULL.messages:
        label = f"(d) bytes/message at {n // 1000}k (target: 100k)"
    return [(label, f"{worst:.0f} B", target, verdict(worst < TARGET_BYTES_PER_MESSAGE))]


def report_e(e: dict[str, float], a: dict[str, list[LoadResult]] | None,
             b: dict[str, list[DeliveryResult]] | None) -> None:
    events = e["create_events"] + e["later_events"]
    per_event = e["later"] / e["later_events"] if e["later_events"] else math.nan
    per_message = (e["create"] - e["create_events"] * per_event) / 2
    print("\n(e) where a trigger's CPU goes (in-process, no profiler; default scenario: 2 messages and "
          f"{events:.1f} webhooks per trigger on average)")
    front = [
        ("parse the JSON body (bare does this too)", e["parse"]),
        ("validate it against trigger_request", e["validate"]),
        ("Idempotency-Key: canonical JSON, sha256, lookup, remember", e["idempotency"]),
        ("plan: TriggerRequest, runs, context, timeline entries", e["plan"]),
    ]
    rows = [
        *front,
        (f"create 2 messages, emit the {e['create_events']:.1f} events due at once", e["create"]),
        (f"emit the {e['later_events']:.1f} later events (seconds to hours later)", e["later"]),
    ]
    for label, cost in rows:
        print(f"    {label:<64} {cost:7.1f} us")
    print(f"    {'engine-side total per trigger, webhooks not sent':<64} {sum(c for _, c in rows):7.1f} us")
    print(f"    so one message costs ~{per_message:.0f} us to create and one event ~{per_event:.0f} us to emit "
          "(fire, apply, body, check, log)")
    print(f"    one event of {e['body_bytes']:.0f} bytes: Message.to_wire {e['to_wire']:.1f} us, schema check "
          f"{e['event_validate']:.1f} us, json.dumps {e['dumps']:.1f} us; signing it {e['sign']:.1f} us")
    if b is not None:
        mock_cpu = median([r.cpu_us for r in b["mock"]])
        bare_cpu = median([r.cpu_us for r in b["bare"]])
        tasks_cpu = median([r.cpu_us for r in b["bare-tasks"]])
        print(f"    one webhook, from (b): {mock_cpu:.0f} us CPU in mockknock from emission to answer; a bare POST "
              f"{bare_cpu:.0f} us from 64 workers, {tasks_cpu:.0f} us from a task each")
        print(f"    so the {events:.1f} webhooks of one trigger cost ~{events * mock_cpu:.0f} us of CPU in all")
    if a is not None:
        bare = median([r.server_us_per_request for r in a["bare"]])
        runs = a["mock-nohooks"]
        nohooks = median([r.server_us_per_request for r in runs])
        hooks = median([r.server_us_per_request for r in a["mock"]])
        messages = median([r.messages / r.requests for r in runs])
        emitted = median([r.events / r.requests for r in runs])
        engine = sum(c for _, c in front) + messages * per_message + emitted * per_event
        print(f"    server CPU per trigger in (a): bare {bare:.0f} us; mockknock {nohooks:.0f} us with webhooks "
              f"filtered out, {hooks:.0f} us with them on")
        if NOENGINE_VARIANT in a:
            http = median([r.server_us_per_request for r in a[NOENGINE_VARIANT]])
            print(f"    of the {nohooks:.0f} us (webhooks filtered), measured (--noengine): the HTTP side (routing, "
                  f"key check, body, idempotency, validation, answer) {http:.0f} us, {http - bare:+.0f} us on bare; "
                  f"the engine inside serve ~{nohooks - http:.0f} us")
        else:
            print(f"    of the {nohooks:.0f} us (webhooks filtered): engine ~{engine:.0f} us at most for what it did "
                  f"in the run ({messages:.2f} messages, {emitted:.2f} events per trigger; the per-event cost above "
                  "builds bodies, which serve skips when no endpoint wants them); --noengine measures the split")
        print("    the garbage collector walking a growing store is part of it"
              + (f" (GC off: {median([r.server_us_per_request for r in a[NOGC_VARIANT]]):.0f} us per trigger)"
                 if NOGC_VARIANT in a else "; --nogc measures that part"))
        print(f"    budget for {TARGET_TRIGGER_RATIO}x bare: {bare / TARGET_TRIGGER_RATIO:.0f} us per trigger, "
              "webhooks included")
    print(f"    start-up work after imports: SchemaRegistry.load {e['startup_schemas']:.0f} ms, default scenario "
          f"{e['startup_scenario']:.0f} ms, MockKnockServer() in all {e['startup_server']:.0f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs, about 2 minutes")
    parser.add_argument("--only", default="abcde",
                        help="which sections to run, e.g. --only ac (default abcde; e = cost breakdown)")
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 5, --quick 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the summary to FILE")
    parser.add_argument("--importtime", action="store_true",
                        help="list the biggest imports even when (c) passes")
    parser.add_argument("--nogc", action="store_true",
                        help="(a) also runs the mock, webhooks filtered out, with Python's GC disabled")
    parser.add_argument("--profile", metavar="DIR",
                        help="(a) then profiles each mock variant once more with pyinstrument (pip install "
                             "pyinstrument) and writes the text profiles to DIR")
    parser.add_argument("--noengine", action="store_true",
                        help="(a) also runs the mock, webhooks filtered out, with the engine stubbed out: each "
                             "trigger is read, checked, validated and answered, and nothing is planned")
    parser.add_argument("--role", choices=("receiver", "bare", "memory", "serve-nogc", "serve-noengine"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--hook-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is not None:
        run_role(args)
    else:
        run_benchmark(args)
    return 0


def run_serve_without_engine(port: int, hook_url: str) -> None:
    """`mockknock serve` whose triggers are read, key-checked, validated, remembered for their
    Idempotency-Key and answered, but plan and create nothing: what the HTTP side costs on its own."""
    from mockknock.cli import main as serve_main  # noqa: PLC0415 - only this helper process needs it
    from mockknock.simulation import Simulation  # noqa: PLC0415
    from mockknock.store import WorkflowRunRecord  # noqa: PLC0415

    ids = itertools.count()

    def accept_nothing(_sim: Simulation, _key: str, _body: dict[str, Any], _request_id: str,
                       _fault: object) -> WorkflowRunRecord:
        return _StubRun(f"00000000-0000-4000-8000-{next(ids):012d}")  # type: ignore[return-value]

    Simulation.accept_trigger = accept_nothing  # type: ignore[method-assign,assignment]
    sys.exit(serve_main(mock_serve_args(port, hook_url)[2:]))


@dataclass(frozen=True)
class _StubRun:
    id: str  # all the trigger handler reads of a run


def run_role(args: argparse.Namespace) -> None:
    if args.role == "receiver":
        run_receiver(args.port)
    elif args.role == "bare":
        run_bare(args.port)
    elif args.role == "serve-nogc":
        # `mockknock serve` as the CLI runs it, with the cyclic garbage collector off: what GC costs.
        from mockknock.cli import main as serve_main  # noqa: PLC0415 - only this helper process needs it

        gc.disable()
        sys.exit(serve_main(mock_serve_args(args.port, args.hook_url)[2:]))
    elif args.role == "serve-noengine":
        run_serve_without_engine(args.port, args.hook_url)
    elif args.role == "memory":
        print(json.dumps(run_memory(args.messages, args.trace)))


def run_benchmark(args: argparse.Namespace) -> None:
    plan = QUICK if args.quick else FULL
    if args.reps:
        plan = dataclasses.replace(plan, reps=args.reps)
    print(f"mockknock serve benchmark  {time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores  "
          f"Python {platform.python_version()}  aiohttp {aiohttp.__version__}  "
          f"{'quick' if args.quick else 'full'} run, {plan.reps} reps", flush=True)
    summary: list[Row] = []
    receiver_port = free_port()
    receiver = f"http://{HOST}:{receiver_port}"
    a = b = None
    with running("receiver", self_role("receiver", receiver_port), receiver_port):
        if "a" in args.only:
            print("(a) trigger API ...", flush=True)
            extra = (*((NOGC_VARIANT,) if args.nogc else ()), *((NOENGINE_VARIANT,) if args.noengine else ()))
            a = section_a(plan, receiver, (*TRIGGER_VARIANTS, *extra))
            if args.profile:
                profile_a(plan, receiver, Path(args.profile))
        if "b" in args.only:
            print("(b) webhook delivery ...", flush=True)
            b = section_b(plan, receiver)
    c = d = None
    if "c" in args.only:
        print("(c) start-up ...", flush=True)
        c = section_c(plan)
    if "d" in args.only:
        print(f"(d) memory, {plan.messages} messages ...", flush=True)
        d = section_d(plan)
    if "e" in args.only:
        print("(e) cost breakdown ...", flush=True)
    e = section_e(2000 if args.quick else 5000) if "e" in args.only else None
    if a is not None:
        summary += report_a(plan, a)
    if b is not None:
        summary += report_b(plan, b)
    if c is not None:
        summary += report_c(c, args.importtime)
    if d is not None:
        summary += report_d(d)
    if e is not None:
        report_e(e, a, b)
    print("\nsummary")
    print(f"    {'figure':<44} {'measured':>10}  {'target':<14} result")
    for figure, measured_text, target, result in summary:
        print(f"    {figure:<44} {measured_text:>10}  {target:<14} {result}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "plan": dataclasses.asdict(plan)}, indent=2))

if __name__ == "__main__":
    sys.exit(main())
