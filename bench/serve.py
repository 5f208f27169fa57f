"""What ``mockknock serve`` costs next to bare aiohttp, measured in one run on this machine.

Run: ``python bench/serve.py`` (about 5 minutes) or ``python bench/serve.py --quick`` (about 1 minute).
Everything talks to 127.0.0.1 only, and every loop is bounded in count and in time.

(a) Trigger API: ``POST /v1/workflows/{key}/trigger`` at 64 connections (an Idempotency-Key per request,
    as the SDKs send) against ``python -m mockknock serve`` in its own process, its webhooks flowing to a
    receiver in a third process, next to a bare aiohttp JSON POST handler measured the same way.
(b) Webhook delivery: events emitted, validated, signed, POSTed and logged by an in-process Simulation,
    next to a bare aiohttp client POSTing the same bodies to the same receiver at the same concurrency.
(c) Start-up: from starting ``python -m mockknock serve`` to the port accepting connections.
(d) Memory per stored message at 100k messages (10k with --quick), with tracemalloc and RSS, in a
    fresh interpreter, right after creation (later lifecycle steps still pending) and after all fired.

Targets: (a) >= 0.6x bare, (b) >= 0.5x bare, (c) < 0.5 s, (d) < 2 KB per message. Ratios are taken
per interleaved repetition and the median is reported; the machine is shared, so absolute figures move.
The role flags (``--role receiver|bare|memory``) are how this script runs its own helper processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import itertools
import json
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
from typing import IO, Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(ROOT))
from mockknock.clock import VirtualClock  # noqa: E402
from mockknock.config import Endpoint, Settings  # noqa: E402
from mockknock.idempotency import IdempotencyCache, fingerprint  # noqa: E402
from mockknock.ids import uuid4  # noqa: E402
from mockknock.lifecycle import parse_step  # noqa: E402
from mockknock.model import ChannelType  # noqa: E402
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
from mockknock.simulation import Simulation  # noqa: E402
from mockknock.trigger import TriggerRequest  # noqa: E402

PYTHON = sys.executable
HOST = "127.0.0.1"
CONCURRENCY = 64
API_KEY = "sk_test_bench"
SECRET = "whsec_bench_0123456789abcdef"
SEED = 1
USERS = 500  # distinct recipients in (a); each user's fake name/email is made once, during warm-up
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


FULL = Plan(reps=5, requests=20_000, duration_s=5.0, warmup=500, webhooks=20_000, startups=5,
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
        """user + system CPU time of the process so far, from /proc."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

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


def spawn(name: str, args: Sequence[str], port: int) -> Child:
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Child.stop(), which every caller reaches
    process = subprocess.Popen([PYTHON, *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=stderr)
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
            cpu_before, client_before = child.cpu_seconds(), time.process_time()
            result = await load(session, url, bodies, key_prefix=f"{tag}-run", duration_s=plan.duration_s)
            result.server_cpu_s = child.cpu_seconds() - cpu_before
            result.client_cpu_s = time.process_time() - client_before
            result.webhooks = await receiver_count(side, receiver) - hooks_before
    return result


TRIGGER_VARIANTS = ("bare", "mock", "mock-nohooks")
VARIANT_LABELS = {
    "bare": "bare aiohttp JSON handler",
    "mock": "mockknock serve, webhooks on",
    "mock-nohooks": "mockknock serve, webhooks filtered out",
}


def trigger_child(variant: str, receiver: str) -> tuple[str, list[str], int]:
    port = free_port()
    if variant == "bare":
        return "bare server", self_role("bare", port), port
    # The filter keeps every event built, validated and logged, but none matches it, so none is POSTed.
    url = f"{receiver}/hook" if variant == "mock" else f"{receiver}/hook|workflow.committed"
    return "mockknock serve", mock_serve_args(port, url), port


def section_a(plan: Plan, receiver: str) -> dict[str, list[LoadResult]]:
    results: dict[str, list[LoadResult]] = {v: [] for v in TRIGGER_VARIANTS}
    for rep in range(plan.reps):
        shift = rep % len(TRIGGER_VARIANTS)
        for variant in (*TRIGGER_VARIANTS[shift:], *TRIGGER_VARIANTS[:shift]):
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

    @property
    def per_second(self) -> float:
        return self.webhooks / self.seconds if self.seconds else math.nan

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / self.webhooks * 1e6 if self.webhooks else math.nan


async def reset_receiver(session: aiohttp.ClientSession, receiver: str) -> None:
    async with session.post(f"{receiver}/reset") as response:
        await response.read()


async def mock_delivery(receiver: str, webhooks: int, schemas: SchemaRegistry,
                        bodies: list[bytes] | None) -> DeliveryResult:
    """Trigger webhooks // 2 messages through the engine; time until every delivery is answered."""

    settings = Settings(webhook_urls=(Endpoint(f"{receiver}/hook"),), signing_secret=SECRET, seed=SEED,
                        delivery_concurrency=CONCURRENCY, quiet=True)
    sim = Simulation(settings, delivery_scenario(), schemas)
    if bodies is not None:
        sim.delivery.listeners.append(lambda event, _attempt: bodies.append(event.body))
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
            cpu_before = time.process_time()
            started = time.perf_counter()
            for request in requests:
                sim.engine.trigger(workflow, request, sim.next_request_id())
            await asyncio.wait_for(sim.settle(), timeout=120)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_before
        finally:
            await sim.stop()
        received = await receiver_count(side, receiver)
    emitted = sim.store.events_emitted
    return DeliveryResult(emitted, seconds, cpu, received, sim.store.attempts_made)


async def bare_delivery(receiver: str, bodies: Sequence[bytes]) -> DeliveryResult:
    """CONCURRENCY workers POST the same bodies through one ClientSession with a limit-64 connector."""
    counter = itertools.count()
    statuses: list[int] = []

    async with aiohttp.ClientSession() as side:
        await reset_receiver(side, receiver)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def worker() -> None:
                while (i := next(counter)) < len(bodies):
                    async with session.post(f"{receiver}/hook", data=bodies[i],
                                            headers={"content-type": "application/json"}) as response:
                        await response.read()
                        statuses.append(response.status)

            cpu_before = time.process_time()
            started = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(CONCURRENCY))), timeout=120)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_before
        received = await receiver_count(side, receiver)
    return DeliveryResult(len(bodies), seconds, cpu, received, len(statuses))


def section_b(plan: Plan, receiver: str) -> dict[str, list[DeliveryResult]]:

    schemas = SchemaRegistry.load()
    bodies: list[bytes] = []
    # Warm-up: compiles the event schemas, and collects the exact bodies the bare client will send.
    asyncio.run(mock_delivery(receiver, plan.webhooks, schemas, bodies))
    results: dict[str, list[DeliveryResult]] = {"bare": [], "mock": []}
    for rep in range(plan.reps):
        order = ("bare", "mock") if rep % 2 == 0 else ("mock", "bare")
        for side in order:
            gc.collect()
            if side == "bare":
                result = asyncio.run(bare_delivery(receiver, bodies))
            else:
                result = asyncio.run(mock_delivery(receiver, plan.webhooks, schemas, None))
            results[side].append(result)
            problem = "" if result.received == result.webhooks == result.attempts else (
                f"  (!) received {result.received}, attempts {result.attempts}")
            print(f"  rep {rep + 1}/{plan.reps}  {side:<5} {result.webhooks} webhooks in "
                  f"{result.seconds:6.2f} s = {result.per_second:7.0f}/s  "
                  f"{result.cpu_us:5.0f} us CPU each{problem}", flush=True)
    return results


# -- (c) start-up -------------------------------------------------------------------------------------


def time_command(args: Sequence[str]) -> float:
    started = time.perf_counter()
    subprocess.run([PYTHON, *args], cwd=ROOT, check=True, timeout=60, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_startup() -> float:
    port = free_port()
    started = time.perf_counter()
    child = spawn("mockknock serve", mock_serve_args(port, f"http://{HOST}:9/hook"), port)
    seconds = time.perf_counter() - started
    child.stop()
    return seconds


@dataclass
class StartupResult:
    serve: list[float]
    bare_python: list[float]
    import_cli: list[float]
    importtime: list[tuple[int, int, str]]  # (cumulative us, self us, top-level module) from -X importtime


IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def importtime_top() -> list[tuple[int, int, str]]:
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", "import mockknock.cli"], cwd=ROOT, timeout=60,
                          capture_output=True, text=True, check=True)
    found: list[tuple[int, int, str]] = []
    for line in done.stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        # Modules imported by `import mockknock.cli` directly, or one level below.
        if match and len(match.group(3)) <= 2:
            found.append((int(match.group(2)), int(match.group(1)), match.group(4)))
    return sorted(found, reverse=True)


def section_c(plan: Plan) -> StartupResult:
    result = StartupResult([], [], [], [])
    for _ in range(plan.startups):
        result.bare_python.append(time_command(["-c", "pass"]))
        result.import_cli.append(time_command(["-c", "import mockknock.cli"]))
        result.serve.append(time_startup())
    result.importtime = importtime_top()
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
    clock = VirtualClock(start_us=1_795_000_000_000_000)
    # No endpoints and no delivery started: every event is still built, validated and logged, never POSTed.
    settings = Settings(seed=SEED, signing_secret=SECRET, quiet=True)
    sim = Simulation(settings, load_default(), SchemaRegistry.load(), clock=clock)
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
    all_sites = _top_sites(base_snapshot) if trace else []
    event_log_bytes = sum(sys.getsizeof(event.body) + 120 for event in sim.store.events)

    # The HTTP path also remembers each Idempotency-Key's answer for 24 hours: per trigger, not per message.
    cache = IdempotencyCache(clock)
    rng = sim.randomness.stream("bench")
    before_cache = measured()
    for i in range(triggers):
        key = uuid4(rng)
        answer = json.dumps({"workflow_run_id": uuid4(rng)}, separators=(",", ":")).encode()
        cache.remember(key, fingerprint("/v1/workflows/new-comment/trigger", trigger_body(i)), 200, answer,
                       sim.next_request_id())
    cache_bytes = measured() - before_cache
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
        "event_log_events": len(sim.store.events),
        "event_log_bytes": event_log_bytes,
        "idempotency_bytes": cache_bytes,
        "created_s": created_s,
        "fired_s": fired_s,
        "creation_sites": creation_sites,
        "all_sites": all_sites,
    }


def _top_sites(base: tracemalloc.Snapshot | None, limit: int = 10) -> list[tuple[str, int, int]]:
    if base is None:
        return []
    gc.collect()
    current = tracemalloc.take_snapshot()
    found: list[tuple[str, int, int]] = []
    for stat in current.compare_to(base, "lineno")[:limit]:
        frame = stat.traceback[0]
        name = Path(frame.filename)
        where = f"{name.parent.name}/{name.name}:{frame.lineno}"
        found.append((where, stat.size_diff, stat.count_diff))
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
    for variant in TRIGGER_VARIANTS:
        runs = a[variant]
        print(f"    {VARIANT_LABELS[variant]:<40} {median([r.rps for r in runs]):7.0f} "
              f"{median([percentile(r.latencies, 0.5) for r in runs]) * 1e3:7.1f} "
              f"{median([percentile(r.latencies, 0.99) for r in runs]) * 1e3:7.1f} "
              f"{median([r.server_us_per_request for r in runs]):10.0f} "
              f"{median([r.server_util for r in runs]):7.0%} {median([r.client_util for r in runs]):12.0%} "
              f"{median([r.webhooks / r.seconds for r in runs]):7.0f} {sum(r.errors for r in runs):6d}")
    bare_rps = [r.rps for r in a["bare"]]
    bare_cpu = [r.server_us_per_request for r in a["bare"]]
    for variant in ("mock", "mock-nohooks"):
        rps = median(ratio_pairs([r.rps for r in a[variant]], bare_rps))
        cpu = median(ratio_pairs(bare_cpu, [r.server_us_per_request for r in a[variant]]))
        print(f"    {VARIANT_LABELS[variant]:<40} {rps:.2f}x bare by req/s, "
              f"{cpu:.2f}x bare by server CPU per request")
    rps_ratio = median(ratio_pairs([r.rps for r in a["mock"]], bare_rps))
    mock_p99 = median([percentile(r.latencies, 0.99) for r in a["mock"]])
    bare_p99 = median([percentile(r.latencies, 0.99) for r in a["bare"]])
    print("    srv CPU = server process CPU time / wall time of the run (1 core = 100%); hooks/s = webhooks")
    print("    the receiver counted during the run (webhooks on: 4 per trigger, the email pair 1-6 s later).")
    return [
        ("(a) trigger req/s, mock / bare", f"{rps_ratio:.2f}x", f">= {TARGET_TRIGGER_RATIO}x",
         verdict(rps_ratio >= TARGET_TRIGGER_RATIO)),
        ("(a) trigger p99 latency, mock", f"{mock_p99 * 1e3:.0f} ms", f"bare {bare_p99 * 1e3:.0f} ms",
         "info"),
    ]


def report_b(plan: Plan, b: dict[str, list[DeliveryResult]]) -> list[Row]:
    print("\n(b) webhook delivery to a receiver in another process (answers 204), 64 connections;")
    print(f"    {plan.webhooks} webhooks per run, median of {plan.reps} interleaved runs")
    for side, label in (("bare", "bare aiohttp client, same bodies"),
                        ("mock", "mockknock: emit, validate, sign, POST, log")):
        runs = b[side]
        print(f"    {label:<44} {median([r.per_second for r in runs]):7.0f} webhooks/s  "
              f"{median([r.cpu_us for r in runs]):5.0f} us CPU per webhook in this process")
    ratio = median(ratio_pairs([r.per_second for r in b["mock"]], [r.per_second for r in b["bare"]]))
    lost = sum(r.webhooks - r.received for r in (*b["bare"], *b["mock"]))
    print(f"    mock / bare: {ratio:.2f}x   (webhooks the receiver did not count: {lost})")
    return [("(b) webhooks/s, mock / bare", f"{ratio:.2f}x", f">= {TARGET_DELIVERY_RATIO}x",
             verdict(ratio >= TARGET_DELIVERY_RATIO and lost == 0))]


def report_c(c: StartupResult, force_importtime: bool) -> list[Row]:
    serve = median(c.serve)
    print(f"\n(c) start-up, median of {len(c.serve)}: python -m mockknock serve until its port accepts")
    print(f"    python -c pass                         {median(c.bare_python) * 1e3:6.0f} ms")
    print(f"    python -c 'import mockknock.cli'       {median(c.import_cli) * 1e3:6.0f} ms")
    print(f"    mockknock serve accepting              {serve * 1e3:6.0f} ms   "
          f"(each: {', '.join(f'{s * 1e3:.0f}' for s in c.serve)})")
    if serve >= TARGET_STARTUP_S or force_importtime:
        print("    -X importtime, biggest imports under mockknock.cli (cumulative ms, self ms):")
        for cumulative, own, name in c.importtime[:12]:
            print(f"      {cumulative / 1e3:7.1f} {own / 1e3:7.1f}  {name}")
    return [("(c) serve start to accepting", f"{serve:.3f} s", f"< {TARGET_STARTUP_S} s",
             verdict(serve < TARGET_STARTUP_S))]


def report_d(d: tuple[dict[str, Any], dict[str, Any]]) -> list[Row]:
    traced, rss = d
    n = traced["messages"]
    print(f"\n(d) memory per stored message: {n} messages ({traced['triggers']} triggers, one new user each, "
          f"x 2 channel steps of the default scenario), {traced['events']} events emitted")
    print(f"    {'':<52} {'tracemalloc':>12} {'RSS delta':>10}")
    for label, key in (("right after creation (email steps still pending)", "bytes_after_creation"),
                       ("after every lifecycle step fired", "bytes_after_all")):
        print(f"    {label:<52} {traced[key] / n:10.0f} B {rss[key] / n:8.0f} B   per message")
    print(f"    timeline entries pending after creation: {traced['pending_after_creation']}, "
          f"after all: {traced['pending_after_all']}")
    print(f"    included: the bounded event log ({traced['event_log_events']} bodies, a fixed cost), "
          f"~{traced['event_log_bytes'] / n:.0f} B per message at this count")
    print(f"    not included (HTTP path only): the idempotency cache, "
          f"{traced['idempotency_bytes'] / traced['triggers']:.0f} B per trigger, kept 24 h")
    print(f"    {traced['created_s']:.1f} s to trigger and create, {traced['fired_s']:.1f} s to fire the "
          "rest (under tracemalloc)")
    print("    biggest growth by allocation site, right after creation (tracemalloc):")
    for where, size, count in traced["creation_sites"][:8]:
        print(f"      {size / n:7.0f} B/msg  {count / n:5.2f} blocks/msg  {where}")
    worst = max(traced["bytes_after_creation"], traced["bytes_after_all"]) / n
    target = f"< {TARGET_BYTES_PER_MESSAGE} B"
    return [("(d) bytes per stored message (worst stage)", f"{worst:.0f} B", target,
             verdict(worst < TARGET_BYTES_PER_MESSAGE))]


def main(argv: Sequence[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs, about a minute")
    parser.add_argument("--only", default="abcd", help="which sections to run, e.g. --only ac (default abcd)")
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 5, --quick 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the summary to FILE")
    parser.add_argument("--importtime", action="store_true",
                        help="list the biggest imports even when (c) passes")
    parser.add_argument("--role", choices=("receiver", "bare", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is not None:
        run_role(args)
    else:
        run_benchmark(args)
    return 0


def run_role(args: argparse.Namespace) -> None:
    if args.role == "receiver":
        run_receiver(args.port)
    elif args.role == "bare":
        run_bare(args.port)
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
            a = section_a(plan, receiver)
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
    if a is not None:
        summary += report_a(plan, a)
    if b is not None:
        summary += report_b(plan, b)
    if c is not None:
        summary += report_c(c, args.importtime)
    if d is not None:
        summary += report_d(d)
    print("\nsummary")
    print(f"    {'figure':<44} {'measured':>10}  {'target':<14} result")
    for figure, measured_text, target, result in summary:
        print(f"    {figure:<44} {measured_text:>10}  {target:<14} {result}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "plan": dataclasses.asdict(plan)}, indent=2))

if __name__ == "__main__":
    sys.exit(main())
