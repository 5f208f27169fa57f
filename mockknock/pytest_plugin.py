"""The pytest plugin: an in-process mock Knock for your tests (loaded through the ``pytest11`` entry point).

Fixtures:

``mockknock``
    The mock server: ``.url``, ``.api_key``, ``.secret``, ``.webhooks`` (what it sent), ``wait_for``,
    ``advance``, ``settle``, and simulated outages (``outage``, ``.outages``, ``.failures``, ``.dropped``).
    One server per session, reset before every test.
``mockknock_receiver``
    A local webhook endpoint that records what the mock delivers and answers as scripted.
``knock_event``
    Builds schema-valid webhook bodies with no server (``mockknock.fixtures.knock_event``).
``mockknock_settings``
    Override it (in a module or a conftest) to set defaults for the marker's options.

Marker: ``@pytest.mark.mockknock(scenario=..., seed=..., auto_advance=..., webhook_urls=..., outages=...)``.

Design. The server runs on its own thread with its own event loop, started once per session. So it
answers a sync test (the official SDK's blocking client) as well as an async test on any event loop,
and no fixture here is async, whatever loop scope pytest-asyncio gives the test. Everything that
touches the simulation runs on that thread: the handles below hand work over with
``asyncio.run_coroutine_threadsafe``. Whatever waits comes in two spellings: ``await wait_for(...)``
in async tests and ``wait_for_sync(...)`` in sync tests; each refuses the wrong context with a
message that names the other, rather than blocking the test's event loop or returning an
un-awaited coroutine. The clock is virtual and, unless the marker says ``auto_advance=True``, moves
only when the test says so (``advance``, ``settle``, ``wait_for``), so nothing moves between two
calls of a test. Each test starts from the same simulated instant (the reset rewinds the clock), so
the same seed and calls give the same webhook bodies, timestamps and ids included, whatever ran before.

Importing this module is cheap (it runs in every pytest session of a project that has mockknock
installed); aiohttp and the server are imported when a test first asks for the ``mockknock`` fixture.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import fnmatch
import json
import logging
import os
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pytest

from mockknock import signing
from mockknock.clock import VirtualClock
from mockknock.config import Endpoint, Settings
from mockknock.duration import DurationError, format_duration, parse_duration
from mockknock.errors import ConfigError, ScenarioError
from mockknock.resources import bundled_scenario
from mockknock.scenario import Scenario

# aiohttp, the server and the scenario parser are imported when a test first asks for the server.
if TYPE_CHECKING:
    from aiohttp import web

    from mockknock.model import DeliveryAttempt, Event
    from mockknock.outages import Outage, OutageSpec
    from mockknock.server import MockKnockServer
    from mockknock.simulation import Simulation

__all__ = [
    "API_KEY",
    "SIGNING_SECRET",
    "KnockEventFactory",
    "MockKnock",
    "MockKnockReceiver",
    "OutageHandle",
    "ReceivedWebhook",
    "Webhook",
]

API_KEY = "sk_test_mockknock"
# Fixed, so an app that reads its webhook secret once (from settings or the environment) can be given
# it before the first test runs.
SIGNING_SECRET = "whsec_mockknock_pytest_signing_secret"
DEFAULT_SEED = 0
DEFAULT_TIMEOUT_S = 5.0
SETTLE_TIMEOUT_S = 30.0
RECEIVER_PATH = "/webhooks/knock"
MARKER = "mockknock"
OPTIONS = ("scenario", "seed", "auto_advance", "webhook_urls", "outages")
MARKER_HELP = (
    "mockknock(scenario=None, seed=None, auto_advance=False, webhook_urls=None, outages=None): configure the "
    "mockknock fixture for this test: a bundled scenario name or a scenario file path, the seed, whether the "
    "virtual clock runs by itself, where webhooks go (default: mockknock_receiver if the test uses it, else "
    "the built-in sink), and simulated outages to start with the test (dicts of mockknock.outage()'s arguments)."
)
# The ``source`` of the outages a test starts, as the control plane lists them.
OUTAGE_SOURCE = "pytest"
# How long a hand-over to the server thread may take beyond the operation's own timeout before the
# plugin calls the server stuck (it never should be: this only turns a bug into a failure, not a hang).
_HANDOVER_MARGIN_S = 15.0
_STARTUP_TIMEOUT_S = 60.0
# Loggers whose ERROR records are already reported through the simulation's own problem lists.
_REPORTED_ELSEWHERE = ("mockknock.emitter", "mockknock.timeline")
# Only mockknock's own loggers: aiohttp's also report a client that hung up, which a test's teardown
# does to deliveries in flight.
_WATCHED_LOGGER = "mockknock"

T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


# -- records handed to tests ------------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    """One webhook the mock sent, with every delivery attempt made so far."""

    seq: int
    type: str
    body: bytes
    # The Knock headers of the latest attempt (lower-case names): content-type, x-knock-event,
    # x-knock-environment-id and x-knock-signature, signed with the mock's secret.
    headers: dict[str, str]
    attempts: tuple[DeliveryAttempt, ...]

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value

    @property
    def data(self) -> dict[str, Any]:
        """The envelope's ``data`` (the Message, for message.* events)."""
        data = self.json.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def delivered(self) -> bool:
        """Whether some attempt was answered with a 2xx."""
        return any(a.ok for a in self.attempts)


@dataclass(frozen=True)
class ReceivedWebhook:
    """One request that reached ``mockknock_receiver`` (a retry of the same event is another one)."""

    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_ok: bool
    signature_error: str | None
    status: int  # what the receiver answered

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value

    @property
    def type(self) -> str:
        """The envelope's ``type``; empty if the body is not a JSON object."""
        try:
            return str(self.json.get("type", ""))
        except (ValueError, AssertionError):
            return ""


class KnockEventFactory(Protocol):
    """The ``knock_event`` fixture: ``mockknock.fixtures.knock_event`` with the test's seed by default."""

    def __call__(
        self, event_type: str, overrides: Mapping[str, Any] | None = None, *, seed: int | None = None, **options: Any
    ) -> dict[str, Any]: ...


# -- options: defaults < mockknock_settings < markers (farthest first) ------------------------------


@dataclass(frozen=True)
class _Options:
    scenario: Scenario
    seed: int
    auto_advance: bool
    webhook_urls: tuple[str, ...]
    outages: tuple[OutageSpec, ...] = ()


def _usage(message: str) -> BaseException:
    """What to raise for a mistake in the test's configuration: the test fails at set-up, without a traceback."""
    return pytest.fail.Exception(message, pytrace=False)


def _merged_options(request: pytest.FixtureRequest, defaults: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    _check_keys(defaults, "the mockknock_settings fixture")
    merged.update(defaults)
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        where = f"@pytest.mark.{MARKER}(...)"
        if marker.args:
            raise _usage(f"{where} takes keyword arguments only ({', '.join(OPTIONS)}); got {marker.args!r}")
        _check_keys(marker.kwargs, where)
        merged.update(marker.kwargs)
    return merged


def _check_keys(values: Mapping[str, Any], where: str) -> None:
    if not isinstance(values, Mapping):
        raise _usage(f"{where} must be a dict of {', '.join(OPTIONS)}; got {type(values).__name__}")
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise _usage(f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")


def _scenario_path(value: str | os.PathLike[str], test_dir: Path) -> Path:
    path = Path(value)
    if not path.is_absolute() and (test_dir / path).is_file():
        return test_dir / path
    return path


def _looks_like_path(value: str | os.PathLike[str]) -> bool:
    text = os.fspath(value)
    return not isinstance(value, str) or "/" in text or os.sep in text or text.endswith((".yaml", ".yml"))


class _ScenarioCache:
    """Parsed scenario files, re-read when the file changes."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[int, Scenario]] = {}

    def load(self, value: object, test_dir: Path) -> Scenario:
        from mockknock.scenario_file import load_scenario  # noqa: PLC0415 - deferred: see the module docstring

        if isinstance(value, Scenario):
            return value
        if value is None:
            value = "default"
        if not isinstance(value, str | os.PathLike):
            raise _usage(f"mockknock scenario must be a bundled name, a path or a Scenario; got {value!r}")
        try:
            path = _scenario_path(value, test_dir) if _looks_like_path(value) else bundled_scenario(str(value))
            stamp = path.stat().st_mtime_ns
            cached = self._cache.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, load_scenario(path))
                self._cache[path] = cached
        except FileNotFoundError as exc:
            raise _usage(f"mockknock scenario {os.fspath(value)!r}: {exc.strerror or exc}") from None
        except ScenarioError as exc:
            raise _usage(f"mockknock scenario {os.fspath(value)!r} is not valid:\n{exc}") from None
        return cached[1]


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _usage(f"mockknock seed must be an integer; got {seed!r}")


def _resolve_options(raw: Mapping[str, Any], cache: _ScenarioCache, test_dir: Path) -> _Options:
    scenario = cache.load(raw.get("scenario"), test_dir)
    seed = raw.get("seed")
    if seed is None:
        seed = scenario.seed if scenario.seed is not None else DEFAULT_SEED
    _check_seed(seed)
    auto_advance = raw.get("auto_advance", False)
    if not isinstance(auto_advance, bool):
        raise _usage(f"mockknock auto_advance must be True or False; got {auto_advance!r}")
    urls = raw.get("webhook_urls") or ()
    if isinstance(urls, str):
        urls = (urls,)
    if isinstance(urls, Mapping) or not isinstance(urls, Sequence) or not all(isinstance(u, str) for u in urls):
        raise _usage(f"mockknock webhook_urls must be a URL or a list of URLs (strings); got {urls!r}")
    entries = raw.get("outages") or ()
    if isinstance(entries, Mapping) or not isinstance(entries, Sequence) or isinstance(entries, str):
        raise _usage(f"mockknock outages must be a list of dicts of mockknock.outage()'s arguments; got {entries!r}")
    providers = scenario.providers()
    specs = []
    mistakes = []
    for index, entry in enumerate(entries):
        where = f"mockknock outages[{index}]"
        if not isinstance(entry, Mapping):
            mistakes.append(f"{where} must be a dict of mockknock.outage()'s arguments; got {entry!r}")
            continue
        try:
            specs.append(_outage_spec(entry, providers, where))
        except ValueError as exc:
            mistakes.append(str(exc))
    if mistakes:
        raise _usage("\n".join(mistakes))
    return _Options(scenario, seed, auto_advance, tuple(str(u) for u in urls), tuple(specs))


# -- outages ----------------------------------------------------------------------------------------


def _outage_spec(args: Mapping[str, Any], providers: set[str], where: str) -> OutageSpec:
    """``mockknock.outage()``'s arguments (or a marker's dict of them) as an OutageSpec; ValueError listing
    every problem otherwise. Durations may also be numbers of seconds or timedeltas."""
    __tracebackhide__ = True
    # Deferred: the scenario parser is not needed until a test starts an outage.
    from mockknock.outages import OutageSpec  # noqa: PLC0415
    from mockknock.scenario_file import outage_spec  # noqa: PLC0415

    raw: dict[str, Any] = {"start": "0s", "duration": "10m"}
    for key, given in args.items():
        if (key == "effect" and given is None) or (key == "name" and given == ""):
            continue  # the defaults: the status's own effect, the status page's title
        value = given
        if isinstance(given, timedelta):
            value = given.total_seconds()
        elif isinstance(given, enum.Enum):
            value = given.value  # Component.API, Status.MAJOR_OUTAGE, EffectKind.DROP
        raw[str(key)] = value
    spec = outage_spec(raw, providers)
    if isinstance(spec, OutageSpec):
        return spec
    lines = [f"  - {'.'.join(map(str, path)) or 'outage'}: {text}" for path, text in spec]
    raise ValueError(f"{where} is not a valid outage:\n" + "\n".join(lines))


def _outage_title(outage: Outage, now_us: int) -> str:
    if outage.active(now_us):
        when = f"active, ends in {_rounded(outage.end_us - now_us)}"
    elif outage.start_us > now_us:
        when = f"starts in {_rounded(outage.start_us - now_us)}"
    else:
        when = "over"
    return f"{outage.id} {outage.title} ({outage.effect.describe()}; {when})"


# -- the server thread ------------------------------------------------------------------------------


class _ProblemLog(logging.Handler):
    """ERROR records logged on the server thread: a mockknock bug surfacing in the test it happened in."""

    def __init__(self, runtime: _Runtime) -> None:
        super().__init__(logging.ERROR)
        self._runtime = runtime

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._runtime.thread_id or record.name.startswith(_REPORTED_ELSEWHERE):
            return
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f" ({type(exc).__name__}: {exc})"
        self._runtime.add_problem(text)


class _Runtime:
    """The session's server: a thread running one event loop, one MockKnockServer and the receiver."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self.thread_id: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._server: MockKnockServer | None = None
        self._receiver_runner: web.AppRunner | None = None
        self.receiver_url: str | None = None
        self._problems: list[str] = []
        self._lock = threading.Lock()
        self._log_handler = _ProblemLog(self)
        self.current: _Session | None = None
        self.scenarios = _ScenarioCache()

    # lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="mockknock-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(_STARTUP_TIMEOUT_S):
            raise RuntimeError(f"the mockknock server did not start within {_STARTUP_TIMEOUT_S:g}s")
        if self._startup_error is not None:
            raise RuntimeError(f"the mockknock server did not start: {self._startup_error}") from self._startup_error
        logging.getLogger(_WATCHED_LOGGER).addHandler(self._log_handler)

    def _main(self) -> None:
        self.thread_id = threading.get_ident()
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.set_exception_handler(self._on_loop_exception)
        try:
            loop.run_until_complete(self._start_server())
        except BaseException as exc:  # reported to the starting thread, which raises it
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _start_server(self) -> None:
        from mockknock.server import MockKnockServer  # noqa: PLC0415 - deferred: see the module docstring

        settings = Settings(
            host="127.0.0.1",
            port=0,
            virtual_clock=True,
            auto_advance=False,
            seed=DEFAULT_SEED,
            signing_secret=SIGNING_SECRET,
            quiet=True,
            # One process: a test session has nothing to reap, and deliveries are few.
            delivery_process=False,
        )
        self._server = MockKnockServer(settings)
        await self._server.start()

    def stop(self) -> None:
        logging.getLogger(_WATCHED_LOGGER).removeHandler(self._log_handler)
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            return
        try:
            self.run_sync(self._stop_servers(), SETTLE_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(SETTLE_TIMEOUT_S)

    async def _stop_servers(self) -> None:
        if self._receiver_runner is not None:
            await self._receiver_runner.cleanup()
            self._receiver_runner = None
        if self._server is not None:
            await self._server.stop()

    # hand-overs -------------------------------------------------------------------------------------

    @property
    def server(self) -> MockKnockServer:
        assert self._server is not None, "the mockknock server is not started"
        return self._server

    @property
    def simulation(self) -> Simulation:
        return self.server.simulation

    def on_server_thread(self) -> bool:
        return threading.get_ident() == self.thread_id

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run ``coro`` on the server loop and block until it is done (at most timeout_s plus a margin)."""
        assert self._loop is not None
        if self.on_server_thread():
            coro.close()
            raise RuntimeError("this mockknock call would wait for its own thread; call it from the test instead")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s + _HANDOVER_MARGIN_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise RuntimeError(
                f"the mockknock server thread did not answer within {timeout_s + _HANDOVER_MARGIN_S:g}s"
            ) from None

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server loop; await it from any other loop."""
        assert self._loop is not None
        if asyncio.get_running_loop() is self._loop:
            coro.close()
            raise RuntimeError("this mockknock call would wait for its own loop; call it from the test instead")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        if self.on_server_thread():
            return fn(*args)

        async def invoke() -> T:
            return fn(*args)

        return self.run_sync(invoke(), SETTLE_TIMEOUT_S)

    # problems ---------------------------------------------------------------------------------------

    def add_problem(self, text: str) -> None:
        with self._lock:
            self._problems.append(text)

    def problems_since(self, index: int) -> list[str]:
        with self._lock:
            return self._problems[index:]

    def problem_count(self) -> int:
        with self._lock:
            return len(self._problems)

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        text = str(context.get("message", "unhandled error on the mockknock server thread"))
        if exc is not None:
            text += f": {type(exc).__name__}: {exc}"
        self.add_problem(text)
        loop.default_exception_handler(context)

    # the receiver -----------------------------------------------------------------------------------

    def ensure_receiver(self) -> str:
        if self.receiver_url is None:
            self.receiver_url = self.run_sync(self._start_receiver(), SETTLE_TIMEOUT_S)
        return self.receiver_url

    async def _start_receiver(self) -> str:
        from aiohttp import web  # noqa: PLC0415 - deferred: see the module docstring

        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._receiver_runner = runner
        return f"http://127.0.0.1:{runner.addresses[0][1]}{RECEIVER_PATH}"

    async def _receive(self, request: web.Request) -> web.Response:
        from aiohttp import web  # noqa: PLC0415 - deferred: see the module docstring

        # Taken before any await: a request that started in one test is recorded in that test.
        session = self.current
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        error: str | None = None
        try:
            signing.verify(body, headers.get(signing.HEADER, ""), self.simulation.secret)
        except signing.SignatureError as exc:
            error = str(exc)
        if session is None:  # between tests: nobody is listening
            return web.Response(status=204)
        answer = session.next_answer()
        session.add_received(ReceivedWebhook(headers, body, error is None, error, answer.status))
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)


# -- one test's state, on the server thread ---------------------------------------------------------


@dataclass
class _Capture:
    event: Event
    attempts: list[DeliveryAttempt] = field(default_factory=list)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class _Waiter:
    ready: Callable[[], bool]
    future: asyncio.Future[None]


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    message: str = ""
    webhooks: tuple[Webhook, ...] = ()
    received: tuple[ReceivedWebhook, ...] = ()


def _matches(pattern: str, event_type: str) -> bool:
    return fnmatch.fnmatchcase(event_type, pattern)


def _tally(types: Sequence[str]) -> str:
    if not types:
        return "none"
    return ", ".join(f"{name} x{count}" for name, count in Counter(types).items())


def _rounded(duration_us: int) -> str:
    """A simulated duration for people: to the millisecond."""
    return format_duration(max(0, duration_us) // 1000 * 1000)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _attempt_summary(attempt: DeliveryAttempt) -> str:
    """How one failed attempt ended: the status and the start of the answer, or why there was none."""
    if attempt.status is not None:
        excerpt = (attempt.response_excerpt or "").strip()
        if len(excerpt) > 60:
            excerpt = excerpt[:57] + "..."
        return f"{attempt.status} {excerpt!r}" if excerpt else str(attempt.status)
    return f"{attempt.error_kind or 'error'}: {attempt.error}"


class _Session:
    """What one test sees of the shared server. Methods that touch the simulation run on its thread."""

    def __init__(self, runtime: _Runtime, options: _Options, endpoints: tuple[Endpoint, ...]) -> None:
        self.runtime = runtime
        self.sim = runtime.simulation
        self.options = options
        self.endpoints = endpoints
        self.manual = not options.auto_advance
        self.lock = threading.RLock()
        # Keyed by the event itself, not its seq: a reset in the middle of a test starts seqs again at 1.
        self.captures: dict[Event, _Capture] = {}
        self.received: list[ReceivedWebhook] = []
        self.answers: deque[_Answer] = deque()
        self.standing = _Answer(204)
        self.waiters: list[_Waiter] = []
        self.failures_before = 0
        self.problems_before = 0
        self.started_us = 0

    # set-up and tear-down (server thread) -----------------------------------------------------------

    def begin(self) -> None:
        sim = self.sim
        self.route(self.endpoints)
        # Rewinds the virtual clock to the settings' start and clears every outage the last test started.
        sim.reset(seed=self.options.seed, scenario=self.options.scenario)
        clock = self.clock()
        clock.set_auto_advance(not self.manual)
        self.failures_before = len(sim.engine.timeline.failures)
        self.problems_before = self.runtime.problem_count()
        self.started_us = clock.now_us()
        sim.outages.add_all(self.options.outages, self.started_us, OUTAGE_SOURCE)
        sim.delivery.listeners.append(self.on_attempt)
        self.runtime.current = self

    def route(self, endpoints: tuple[Endpoint, ...]) -> None:
        """Send webhooks to ``endpoints`` (the built-in sink if none) from now on in this test, whatever the
        scenario names, also after a scenario switch."""
        self.endpoints = endpoints
        sim = self.sim
        if not endpoints:
            assert sim.sink_url is not None
            endpoints = (Endpoint(sim.sink_url),)
        sim.set_endpoints(endpoints)

    async def end(self) -> list[str]:
        sim = self.sim
        problems = self.problems()
        if self.on_attempt in sim.delivery.listeners:
            sim.delivery.listeners.remove(self.on_attempt)
        if self.runtime.current is self:
            self.runtime.current = None
        self.clock().set_auto_advance(False)
        for waiter in self.waiters:
            if not waiter.future.done():
                waiter.future.cancel()
        # Whatever the test left scheduled or in flight stops here, not in the next test.
        sim.engine.timeline.clear()
        await sim.delivery.cancel_all()
        return problems

    def clock(self) -> VirtualClock:
        clock = self.sim.clock
        assert isinstance(clock, VirtualClock), "the plugin's server always runs a virtual clock"
        return clock

    # recording (server thread) ------------------------------------------------------------------------

    def on_attempt(self, event: Event, attempt: DeliveryAttempt) -> None:
        try:
            with self.lock:
                capture = self.captures.setdefault(event, _Capture(event))
                capture.attempts.append(attempt)
            self.notify()
        except Exception as exc:  # a bug here must fail the test, not the delivery
            self.runtime.add_problem(f"mockknock plugin failed to record {event.type.value}: {exc!r}")

    def next_answer(self) -> _Answer:
        with self.lock:
            return self.answers.popleft() if self.answers else self.standing

    def add_received(self, record: ReceivedWebhook) -> None:
        with self.lock:
            self.received.append(record)
        self.notify()

    def notify(self) -> None:
        for waiter in self.waiters:
            if not waiter.future.done() and waiter.ready():
                if self.manual and self.runtime.current is self:
                    # Hold the clock right here, before the loop runs again, so it stops where the test asked.
                    self.clock().set_auto_advance(False)
                waiter.future.set_result(None)

    # snapshots (any thread) ---------------------------------------------------------------------------

    def webhooks(self, pattern: str = "*") -> list[Webhook]:
        secret = self.sim.secret
        environment = self.sim.settings.environment_id
        found = []
        with self.lock:
            captures = sorted(
                ((c.event.seq, c.event, tuple(c.attempts)) for c in self.captures.values()), key=lambda item: item[0]
            )
        for _, event, attempts in captures:
            if not attempts or not _matches(pattern, event.type.value):
                continue
            # The headers the delivery sent; it does not hand them to listeners, and they follow from
            # the body, the attempt's wall-clock stamp and the secret.
            signature = signing.sign(event.body, secret, attempts[-1].started_at_wall_ms)
            headers = signing.webhook_headers(event.type.value, environment, signature)
            found.append(Webhook(event.seq, event.type.value, event.body, headers, attempts))
        return found

    def received_snapshot(self, pattern: str = "*") -> list[ReceivedWebhook]:
        with self.lock:
            return [r for r in self.received if _matches(pattern, r.type)]

    def problems(self) -> list[str]:
        sim = self.sim
        return [
            *(f"webhook failed its schema: {v}" for v in sim.emitter.violations),
            *(f"scheduled step failed: {f}" for f in sim.engine.timeline.failures[self.failures_before:]),
            *self.runtime.problems_since(self.problems_before),
        ]

    # waiting (server thread) ------------------------------------------------------------------------------

    async def wait(
        self, ready: Callable[[], bool], timeout_s: float, also: asyncio.Future[Any] | None = None
    ) -> str | None:
        """Run the clock until ``ready()``; None when it is, else why not (timed out, or problems in the mock).

        ``ready`` is checked whenever a webhook is sent or received, when ``also`` completes, and every
        50 ms, which is also how often problems inside the mock are looked for.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        waiter = _Waiter(ready, loop.create_future())
        self.waiters.append(waiter)
        if self.manual:
            self.clock().set_auto_advance(True)
        try:
            while not (waiter.future.done() or ready()):
                if self.problems():
                    return "something failed inside the mock"
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return f"timed out after {timeout_s:g}s"
                wake: set[asyncio.Future[Any]] = {waiter.future} if also is None else {waiter.future, also}
                await asyncio.wait(wake, timeout=min(0.05, remaining))
            return None
        finally:
            self.waiters.remove(waiter)
            if self.manual and self.runtime.current is self:
                self.clock().set_auto_advance(False)

    async def wait_webhooks(self, pattern: str, count: int, timeout_s: float) -> _Outcome:
        def ready() -> bool:
            return len(self.webhooks(pattern)) >= count

        why = await self.wait(ready, timeout_s)
        if why is None:
            return _Outcome(True, webhooks=tuple(self.webhooks(pattern)))
        got = len(self.webhooks(pattern))
        head = f"mockknock.wait_for({pattern!r}, count={count}): {got} of {count} arrived ({why})."
        return _Outcome(False, self.report(head))

    async def wait_received(self, pattern: str, count: int, timeout_s: float) -> _Outcome:
        def ready() -> bool:
            return len(self.received_snapshot(pattern)) >= count

        why = await self.wait(ready, timeout_s)
        if why is None:
            return _Outcome(True, received=tuple(self.received_snapshot(pattern)))
        got = len(self.received_snapshot(pattern))
        head = f"mockknock_receiver.wait_for({pattern!r}, count={count}): {got} of {count} received ({why})."
        lines = [head, f"The receiver got {_plural(len(self.received), 'request')}: "
                       f"{_tally([r.type for r in self.received_snapshot()])}."]
        return _Outcome(False, self.report(*lines))

    def report(self, *head: str) -> str:
        sent = self.webhooks()
        lines = [
            *head,
            f"Arrived ({_plural(len(sent), 'webhook')} sent by the mock): {_tally([w.type for w in sent])}.",
        ]
        failing = [w for w in sent if not w.delivered]
        if failing:
            shown = ", ".join(
                f"{w.type} #{w.seq} ({_plural(len(w.attempts), 'attempt')}, "
                f"{'gave up' if w.attempts[-1].final else 'retrying'}, last: {_attempt_summary(w.attempts[-1])})"
                for w in failing[:3]
            )
            more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
            lines.append(f"Not delivered: {shown}{more}.")
        unsent = [e.type.value for e in self.sim.store.events if e not in self.captures]
        if unsent:
            lines.append(f"Emitted but not yet sent: {_tally(unsent)}.")
        lines.append(f"Still scheduled: {self.pending()}.")
        now = self.clock().now_us()
        outages = [o for o in self.sim.outages.items if o.end_us > self.started_us]
        if outages:
            lines.append("Simulated outages: " + "; ".join(_outage_title(o, now) for o in outages) + ".")
        elapsed = _rounded(self.clock().now_us() - self.started_us)
        options = self.options
        lines.append(
            f"Simulated time since the test began: {elapsed} (scenario {options.scenario.name!r}, seed {options.seed})."
        )
        problems = self.problems()
        if problems:
            lines.append("Problems inside the mock:")
            lines.extend(f"  - {p}" for p in problems)
        return "\n".join(lines)

    def pending(self) -> str:
        timeline = self.sim.engine.timeline
        parts = []
        if len(timeline):
            due = timeline.next_due_us()
            ahead = _rounded((due or 0) - self.clock().now_us())
            parts.append(f"{_plural(len(timeline), 'step')} on the timeline, the next in {ahead} of simulated time")
        in_flight = self.sim.delivery.in_flight
        if in_flight:
            parts.append(f"{_plural(in_flight, 'delivery', 'deliveries')} in flight or waiting to retry")
        return "; ".join(parts) or "nothing (no steps on the timeline, no deliveries in flight)"

    # moving the clock (server thread) ---------------------------------------------------------------------

    async def quiesce(self, deadline: float) -> None:
        """Let every runnable task run, and every webhook POST in progress finish."""
        loop = asyncio.get_running_loop()
        clock = self.clock()
        while True:
            for _ in range(10):
                await asyncio.sleep(0)
            if not clock.in_flight:
                return
            if loop.time() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.002)

    async def advance(self, duration_us: int, timeout_s: float) -> _Outcome:
        """Step the clock from due time to due time up to now + duration, so retries inside the window happen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        clock = self.clock()
        timeline = self.sim.engine.timeline
        target = clock.now_us() + duration_us
        try:
            await self.quiesce(deadline)
            while True:
                dues = [d for d in (timeline.next_due_us(), clock.next_due_us()) if d is not None]
                if not dues or min(dues) > target:
                    break
                clock.advance(max(0, min(dues) - clock.now_us()))
                timeline.fire_due()
                await self.quiesce(deadline)
            if clock.now_us() < target:
                clock.advance(target - clock.now_us())
            timeline.fire_due()
            await self.quiesce(deadline)
        except TimeoutError:
            return _Outcome(False, self.report(f"mockknock.advance: webhook deliveries did not finish within "
                                               f"{timeout_s:g}s."))
        return self._problems_outcome("mockknock.advance")

    async def settle(self, timeout_s: float) -> _Outcome:
        task = asyncio.get_running_loop().create_task(self.sim.settle())
        why = await self.wait(task.done, timeout_s, also=task)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if why is not None:
            return _Outcome(False, self.report(f"mockknock.settle: not settled ({why})."))
        return self._problems_outcome("mockknock.settle")

    def _problems_outcome(self, what: str) -> _Outcome:
        if self.problems():
            return _Outcome(False, self.report(f"{what}: something failed inside the mock."))
        return _Outcome(True)


# -- handles given to tests -------------------------------------------------------------------------


def _duration_us(value: str | float | timedelta) -> int:
    if isinstance(value, timedelta):
        value = value.total_seconds()  # checked as any number of seconds is: not negative, not too long
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


def _require_async(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise TypeError(
            f"{name}() is for async tests (await it); in a sync test call {name}_sync(...) instead"
        ) from None


def _require_sync(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise TypeError(
        f"{name}_sync() would block this async test's event loop (and any app served on it); "
        f"use `await {name}(...)` instead"
    )


def _check(outcome: _Outcome) -> None:
    __tracebackhide__ = True
    if not outcome.ok:
        pytest.fail(outcome.message)


class MockKnock:
    """The ``mockknock`` fixture: the session's mock Knock, reset for this test.

    Async tests ``await`` :meth:`wait_for`, :meth:`advance` and :meth:`settle`; sync tests call the
    ``*_sync`` twins. Everything else works from either, :meth:`outage` and the handle it returns
    included: starting or ending an outage waits for nothing.
    """

    def __init__(self, runtime: _Runtime, session: _Session) -> None:
        self._runtime = runtime
        self._session = session

    @property
    def url(self) -> str:
        """Knock's base URL for the SDK: ``Knock(base_url=mockknock.url, api_key=mockknock.api_key)``."""
        return self._runtime.server.url

    @property
    def api_key(self) -> str:
        return API_KEY

    @property
    def secret(self) -> str:
        """The webhook signing secret (``mockknock.signing.verify(body, header, secret)``)."""
        return self._runtime.simulation.secret

    @property
    def seed(self) -> int:
        return self._session.options.seed

    @property
    def scenario(self) -> str:
        return self._session.options.scenario.name

    @property
    def simulation(self) -> Simulation:
        """The simulation itself. It lives on the server thread: read it after settle() or wait_for(),
        and change it through :meth:`call`."""
        return self._runtime.simulation

    @property
    def webhooks(self) -> list[Webhook]:
        """Every webhook sent to an endpoint so far in this test (a copy), oldest first."""
        return self._session.webhooks()

    def types(self) -> list[str]:
        """The types of :attr:`webhooks`, in order."""
        return [w.type for w in self._session.webhooks()]

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the server thread and return what it returns."""
        return self._runtime.call(fn, *args)

    def send_webhooks_to(self, *urls: str) -> None:
        """From now on in this test, deliver webhooks to exactly these URLs (``URL|message.*`` filters too)."""
        if not urls:
            raise ValueError("send_webhooks_to() needs at least one URL (mockknock_receiver.url, say); to send "
                             "nothing, filter on an event type the test never makes: 'URL|workflow.committed'")
        self._runtime.call(self._session.route, tuple(Endpoint.parse(u) for u in urls))

    # outages ------------------------------------------------------------------------------------------

    def outage(
        self,
        component: str,
        status: str,
        duration: str | float | timedelta = "10m",
        start: str | float | timedelta = "0s",
        effect: str | Mapping[str, Any] | None = None,
        name: str = "",
    ) -> OutageHandle:
        """Start a simulated outage, as ``POST /__mockknock/outages`` does, and return a handle to end it.

        ``component`` is one of Knock's status-page components (``api``, ``webhook_delivery``,
        ``notification_delivery``, ...) or a provider the scenario's channels use (``sendgrid``);
        ``status`` one of ``degraded_performance``, ``partial_outage``, ``major_outage``,
        ``under_maintenance``; ``start`` counts from the current simulated time. ``effect`` overrides
        the status's default effect: a kind name (``"drop"``) or a dict (``{"kind": "errors",
        "fraction": 0.5, "statuses": [503]}``). Raises ValueError listing every problem. Takes effect
        at once; it needs no waiting, so there is one spelling for sync and async tests.
        """
        __tracebackhide__ = True
        args = {"component": component, "status": status, "duration": duration, "start": start,
                "effect": effect, "name": name}
        sim = self._session.sim
        # Checked on the test's thread, so a mistake's traceback ends in the test; only this test's own
        # calls change the scenario, so the providers cannot change in between.
        providers = self._runtime.call(sim.scenario.providers)
        spec = _outage_spec(args, providers, f"mockknock.outage({component!r}, {status!r})")
        outage = self._runtime.call(lambda: sim.outages.add(spec, sim.clock.now_us(), OUTAGE_SOURCE))
        return OutageHandle(self._runtime, outage)

    @property
    def outages(self) -> list[dict[str, Any]]:
        """Every outage of this test, the scenario's included, as ``GET /__mockknock/outages`` shows them
        (``id``, ``component``, ``status``, ``name``, ``start_us``, ``end_us``, ``effect``, ``active``, ...)."""

        def listed() -> list[dict[str, Any]]:
            sim = self._session.sim
            now = sim.clock.now_us()
            return [o.to_wire(now) for o in sim.outages.items]

        return self._runtime.call(listed)

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Every failure a simulated outage caused on purpose in this test, oldest first (``at_us``,
        ``outage_id``, ``what``, ``subject``), as ``GET /__mockknock/failures`` lists them."""
        return self._runtime.call(lambda: [f.to_wire() for f in self._session.sim.outages.failures])

    @property
    def dropped(self) -> list[dict[str, Any]]:
        """Triggers answered 200 and then dropped by an outage, with the ``body`` each carried (to send it
        again), as ``GET /__mockknock/dropped`` lists them."""

        def listed() -> list[dict[str, Any]]:
            return [
                {"workflow_run_id": run.id, "workflow": run.workflow, "accepted_at_us": run.accepted_at_us,
                 "request_id": run.request_id, "reason": run.dropped_reason, "body": run.dropped_body}
                for run in self._session.sim.store.runs.values() if run.dropped_reason is not None
            ]

        return self._runtime.call(listed)

    # waiting: async -------------------------------------------------------------------------------------

    def wait_for(
        self, event_type: str = "*", count: int = 1, timeout: float = DEFAULT_TIMEOUT_S
    ) -> Awaitable[list[Webhook]]:
        """Run the clock until ``count`` webhooks of ``event_type`` (a glob) have been sent in this test.

        Returns them. Fails after ``timeout`` wall seconds listing what did arrive and what is still
        scheduled, or at once if something fails inside the mock.
        """
        _require_async("mockknock.wait_for")
        return self._wait_for(event_type, count, timeout)

    async def _wait_for(self, event_type: str, count: int, timeout: float) -> list[Webhook]:
        __tracebackhide__ = True
        outcome = await self._runtime.run_async(self._session.wait_webhooks(event_type, count, timeout))
        _check(outcome)
        return list(outcome.webhooks)

    def advance(self, duration: str | float | timedelta) -> Awaitable[None]:
        """Move the virtual clock forward (``"30m"``, seconds, or a timedelta), firing what falls due on the
        way, and wait for the webhook deliveries that causes."""
        _require_async("mockknock.advance")
        return self._advance(_duration_us(duration))

    async def _advance(self, duration_us: int) -> None:
        __tracebackhide__ = True
        _check(await self._runtime.run_async(self._session.advance(duration_us, SETTLE_TIMEOUT_S)))

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> Awaitable[None]:
        """Run the clock until nothing is scheduled and every delivery (with its retries) has finished."""
        _require_async("mockknock.settle")
        return self._settle(timeout)

    async def _settle(self, timeout: float) -> None:
        __tracebackhide__ = True
        _check(await self._runtime.run_async(self._session.settle(timeout)))

    # waiting: sync ---------------------------------------------------------------------------------------

    def wait_for_sync(
        self, event_type: str = "*", count: int = 1, timeout: float = DEFAULT_TIMEOUT_S
    ) -> list[Webhook]:
        """:meth:`wait_for` for sync tests."""
        __tracebackhide__ = True
        _require_sync("mockknock.wait_for")
        outcome = self._runtime.run_sync(self._session.wait_webhooks(event_type, count, timeout), timeout)
        _check(outcome)
        return list(outcome.webhooks)

    def advance_sync(self, duration: str | float | timedelta) -> None:
        """:meth:`advance` for sync tests."""
        __tracebackhide__ = True
        _require_sync("mockknock.advance")
        duration_us = _duration_us(duration)
        _check(self._runtime.run_sync(self._session.advance(duration_us, SETTLE_TIMEOUT_S), SETTLE_TIMEOUT_S))

    def settle_sync(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        """:meth:`settle` for sync tests."""
        __tracebackhide__ = True
        _require_sync("mockknock.settle")
        _check(self._runtime.run_sync(self._session.settle(timeout), timeout))


class OutageHandle:
    """An outage a test started with :meth:`MockKnock.outage`. Works from sync and async tests alike."""

    def __init__(self, runtime: _Runtime, outage: Outage) -> None:
        self._runtime = runtime
        self._outage = outage  # read and changed on the server thread only
        self.id = outage.id
        self.component = outage.component
        self.status = outage.status.value

    def __repr__(self) -> str:
        return f"<OutageHandle {self.id} {self.component} {self.status}>"

    @property
    def info(self) -> dict[str, Any]:
        """The outage as ``GET /__mockknock/outages`` shows it now (``active``, ``start_us``, ``end_us``, ...)."""
        return self._runtime.call(self._wire)

    @property
    def active(self) -> bool:
        return bool(self.info["active"])

    def end(self) -> dict[str, Any]:
        """End it at the current simulated time (one not yet begun never happens), as
        ``DELETE /__mockknock/outages/{id}`` does; returns :attr:`info`. Deliveries a pause held go out
        at their next check, within a simulated minute: ``advance("1m")`` after ending one."""
        return self._runtime.call(self._end)

    def _end(self) -> dict[str, Any]:
        sim = self._runtime.simulation
        self._current(sim)
        sim.outages.end(self.id, sim.clock.now_us())
        return self._wire()

    def _wire(self) -> dict[str, Any]:
        sim = self._runtime.simulation
        return self._current(sim).to_wire(sim.clock.now_us())

    def _current(self, sim: Simulation) -> Outage:
        if not any(o is self._outage for o in sim.outages.items):
            raise LookupError(f"outage {self.id} is gone: the mock is reset (and its outages cleared) between tests")
        return self._outage


class MockKnockReceiver:
    """The ``mockknock_receiver`` fixture: a webhook endpoint on 127.0.0.1 that records and answers."""

    def __init__(self, runtime: _Runtime, session: _Session) -> None:
        self._runtime = runtime
        self._session = session

    @property
    def url(self) -> str:
        assert self._runtime.receiver_url is not None
        return self._runtime.receiver_url

    @property
    def received(self) -> list[ReceivedWebhook]:
        """Every request received in this test (retries included), oldest first (a copy)."""
        return self._session.received_snapshot()

    def types(self) -> list[str]:
        return [r.type for r in self._session.received_snapshot()]

    def respond_with(
        self,
        status: int,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        *,
        times: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests so, after any one-off answers queued before; with
        ``times=None``, answer so whenever no one-off answer is queued. ``delay`` waits that many wall
        seconds before answering (the mock gives up on an attempt after its delivery timeout, 10s)."""
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (or None for every request), got {times}")
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(f"status must be a final HTTP status from 200 to 599, got {status!r}")
        answer = _Answer(status, body.encode() if isinstance(body, str) else body, dict(headers or {}), delay)
        with self._session.lock:
            if times is None:
                self._session.standing = answer
            else:
                self._session.answers.extend([answer] * times)

    def wait_for(
        self, event_type: str = "*", count: int = 1, timeout: float = DEFAULT_TIMEOUT_S
    ) -> Awaitable[list[ReceivedWebhook]]:
        """Run the mock's clock until ``count`` requests of ``event_type`` (a glob) have arrived here."""
        _require_async("mockknock_receiver.wait_for")
        return self._wait_for(event_type, count, timeout)

    async def _wait_for(self, event_type: str, count: int, timeout: float) -> list[ReceivedWebhook]:
        __tracebackhide__ = True
        outcome = await self._runtime.run_async(self._session.wait_received(event_type, count, timeout))
        _check(outcome)
        return list(outcome.received)

    def wait_for_sync(
        self, event_type: str = "*", count: int = 1, timeout: float = DEFAULT_TIMEOUT_S
    ) -> list[ReceivedWebhook]:
        """:meth:`wait_for` for sync tests."""
        __tracebackhide__ = True
        _require_sync("mockknock_receiver.wait_for")
        outcome = self._runtime.run_sync(self._session.wait_received(event_type, count, timeout), timeout)
        _check(outcome)
        return list(outcome.received)


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _mockknock_runtime() -> Iterator[_Runtime]:
    runtime = _Runtime()
    runtime.start()
    yield runtime
    runtime.stop()


@pytest.fixture
def mockknock_settings() -> dict[str, Any]:
    """Defaults for the ``mockknock`` marker's options; override this fixture in a module or conftest."""
    return {}


@pytest.fixture
def mockknock(
    request: pytest.FixtureRequest, _mockknock_runtime: _Runtime, mockknock_settings: Mapping[str, Any]
) -> Iterator[MockKnock]:
    """The session's mock Knock, reset for this test (see the module docstring and docs/pytest.md)."""
    runtime = _mockknock_runtime
    options = _resolve_options(_merged_options(request, mockknock_settings), runtime.scenarios, request.path.parent)
    try:
        endpoints = [Endpoint.parse(url) for url in options.webhook_urls]
    except ConfigError as exc:
        raise _usage(f"mockknock webhook_urls: {exc}") from None
    if "mockknock_receiver" in request.fixturenames:
        endpoints.append(Endpoint(runtime.ensure_receiver()))
    session = _Session(runtime, options, tuple(endpoints))
    runtime.call(session.begin)
    yield MockKnock(runtime, session)
    problems = runtime.run_sync(session.end(), SETTLE_TIMEOUT_S)
    if problems:
        pytest.fail(
            f"mockknock: something failed inside the mock during {request.node.nodeid}:\n"
            + "\n".join(f"  - {p}" for p in problems),
            pytrace=False,
        )


@pytest.fixture
def mockknock_receiver(mockknock: MockKnock) -> MockKnockReceiver:
    """A local endpoint the mock delivers this test's webhooks to; it records them and answers 204."""
    runtime, session = mockknock._runtime, mockknock._session
    url = runtime.ensure_receiver()
    if not any(endpoint.url == url for endpoint in session.endpoints):
        # Asked for after the mock was set up (request.getfixturevalue): route to it from now on.
        runtime.call(session.route, (*session.endpoints, Endpoint(url)))
    return MockKnockReceiver(runtime, session)


@pytest.fixture
def knock_event(request: pytest.FixtureRequest, mockknock_settings: Mapping[str, Any]) -> KnockEventFactory:
    """``knock_event("message.bounced", {"data": {...}})``: a schema-valid webhook body, no server needed.

    Takes the keyword options of :func:`mockknock.fixtures.knock_event` too (``at=``, ``validate=``); the
    seed defaults to the marker's (or mockknock_settings') seed when one is given.
    """
    default_seed = _merged_options(request, mockknock_settings).get("seed")
    if default_seed is not None:
        _check_seed(default_seed)

    def make(
        event_type: str, overrides: Mapping[str, Any] | None = None, *, seed: int | None = None, **options: Any
    ) -> dict[str, Any]:
        # Imported here: the factories load Faker and the schemas, which a session without them need not pay for.
        from mockknock import fixtures  # noqa: PLC0415

        chosen = seed if seed is not None else default_seed
        if chosen is not None:
            options["seed"] = chosen
        return fixtures.knock_event(event_type, overrides, **options)

    return make
