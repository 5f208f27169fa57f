"""``mockknock replay``: play a scenario's script against your webhook endpoint and check how it answers.

A real :class:`Simulation` plays the scenario's ``script:`` on the virtual clock (hours of simulated
time in seconds; ``--speed`` for a scaled clock instead) and its delivery sends every webhook, signed,
to ``--target``, with the scenario's retry policy. No inbound server is started.

Checks, each a named entry in the report:

``delivered`` (always)
    Every webhook is answered 2xx within ``--timeout``, on some attempt. Knock retries, so an event that
    failed and then succeeded on a retry passes, but is listed as a warning; an event whose last attempt
    failed fails the check.
``tampered-signature`` (``--check``)
    After the run, for the first event of each type: a wrong secret, a timestamp 10 minutes old, and a
    changed body (each sent once, no retry) must each be answered 4xx.
``duplicate`` (``--check``)
    An event already answered 2xx, sent again with a fresh valid signature, must be answered 2xx.
``out-of-order`` (``--check``)
    An earlier event of a message (say message.sent), sent again after a later one (message.delivered)
    was answered 2xx, must be answered 2xx.

First attempts go out one at a time in emission order (``--concurrency`` raises that), so with the
virtual clock the same seed gives the receiver the same bodies in the same order; retries run beside
them, as Knock's do.

Exit codes: 0 every check passed; 1 the receiver failed a check; 2 usage or scenario error;
3 the target could not be reached at all (every attempt a connection error).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import heapq
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from mockknock import __version__, signing
from mockknock.arguments import positive_int
from mockknock.clock import VirtualClock
from mockknock.config import (
    DEFAULT_ENVIRONMENT_ID,
    MAX_DELIVERY_CONCURRENCY,
    WEBHOOK_CLIENTS,
    Endpoint,
    RetryPolicy,
    Settings,
    env_variable,
)
from mockknock.delivery import Delivery
from mockknock.duration import DurationError, format_duration, parse_duration
from mockknock.errors import ConfigError, ScenarioError, SchemaViolation
from mockknock.gc_tuning import serving_thresholds
from mockknock.model import DeliveryAttempt, Event, format_timestamp
from mockknock.report import (
    BODY_PREVIEW_BYTES,
    EXIT_USAGE,
    CheckResult,
    Failure,
    ReplayReport,
    SlowResponse,
    detail_lines,
    junit_xml,
    summary_lines,
    verdict_line,
)
from mockknock.resources import bundled_scenario
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaRegistry
from mockknock.simulation import Simulation
from mockknock.transport import ErrorKind, request_body

DELIVERED = "delivered"
TAMPERED = "tampered-signature"
DUPLICATE = "duplicate"
OUT_OF_ORDER = "out-of-order"
OPTIONAL_CHECKS = (TAMPERED, DUPLICATE, OUT_OF_ORDER)
ALL_CHECKS = "all"

DESCRIPTIONS = {
    DELIVERED: "every webhook answered 2xx within the timeout (a retry that succeeds passes, with a warning)",
    TAMPERED: "deliveries with a wrong secret, a stale timestamp or a changed body answered 4xx",
    DUPLICATE: "an event delivered again with a fresh valid signature answered 2xx",
    OUT_OF_ORDER: "an earlier event of a message, sent after a later one, answered 2xx",
}
STALE_BY_MS = 10 * 60 * 1000  # twice the usual five-minute tolerance
REPLAY_HELP = "play a scenario's script against your webhook endpoint and check its answers"
REPLAY_DESCRIPTION = """\
Play the scenario's script: (its scripted triggers and cancels) and send every resulting webhook,
signed, to --target, on a virtual clock (hours of simulated time in seconds) unless --speed is given.
Then report how the receiver answered.

checks:
  delivered            always: every webhook answered 2xx within --timeout (retried as Knock retries;
                       a success on a retry passes with a warning)
  tampered-signature   wrong secret, 10-minute-old timestamp, changed body: each must get a 4xx
  duplicate            an already-delivered event sent again (fresh signature) must get a 2xx
  out-of-order         an earlier event of a message sent after a later one must get a 2xx

exit status: 0 all checks passed, 1 a check failed, 2 usage or scenario error, 3 target unreachable.
The signing secret may also come from MOCKKNOCK_SIGNING_SECRET.
"""


@dataclass(frozen=True)
class ReplayOptions:
    seed: int | None = None
    speed: float | None = None  # None: the virtual clock
    signing_secret: str | None = None  # None: generated (the receiver then cannot verify)
    timeout_s: float | None = None  # None: the scenario's retry timeout, else 10s
    max_attempts: int | None = None  # None: the scenario's retry policy, else Knock's 8
    checks: frozenset[str] = frozenset()  # optional checks to run besides `delivered`
    concurrency: int = 1  # first attempts in flight at once; 1 keeps the receiver's order deterministic
    environment_id: str = DEFAULT_ENVIRONMENT_ID
    progress_every_s: float = 2.0
    max_listed: int = 200  # failures (and warnings) kept per check; the rest are only counted
    # POSTs from a child process. Off: a POST costs this process less than handing it to the child does
    # (bench/replay.py measures both at every concurrency), so the child pays only with cores to spare.
    delivery_process: bool = False
    webhook_client: str = "http1"  # Settings.webhook_client


# -- arguments --------------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0 (60 = a simulated minute per second), got {text}")
    return value


def _timeout(text: str) -> float:
    try:
        us = parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if us <= 0:
        raise argparse.ArgumentTypeError("must be above 0, e.g. 500ms or 10s")
    return us / 1_000_000


def _target(text: str) -> str:
    try:
        Endpoint.parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO",
                        help="scenario YAML with a script: (or the name of a bundled scenario)")
    parser.add_argument("--target", required=True, type=_target, metavar="URL[|EVENTS]",
                        help="your webhook endpoint, e.g. http://127.0.0.1:8000/webhooks/knock; add "
                             "|message.* to send only those event types")
    parser.add_argument("--seed", type=int, help="seed for ids, fake data and choices (default: the scenario's, "
                                                 "else random and printed)")
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument("--speed", type=_positive_float, metavar="FACTOR",
                       help="run on a scaled clock instead: simulated seconds per real second (60 = a minute "
                            "per second)")
    clock.add_argument("--virtual", action="store_true",
                       help="run on the virtual clock: jump to the next due event when idle (the default)")
    parser.add_argument("--signing-secret", metavar="SECRET",
                        help="secret for x-knock-signature; your receiver verifies with it "
                             "(default: MOCKKNOCK_SIGNING_SECRET, else generated)")
    parser.add_argument("--timeout", type=_timeout, metavar="DURATION",
                        help="real time to wait for each answer (default: the scenario's retry timeout, else 10s)")
    parser.add_argument("--max-attempts", type=positive_int, metavar="N",
                        help="attempts per webhook (default: the scenario's retry policy, else 8)")
    parser.add_argument("--check", dest="checks", action="append", metavar="NAME",
                        choices=(*OPTIONAL_CHECKS, ALL_CHECKS),
                        help=f"also run this check; repeatable: {', '.join(OPTIONAL_CHECKS)}, or {ALL_CHECKS}")
    parser.add_argument("--concurrency", type=positive_int, metavar="N",
                        help="first attempts in flight at once (default 1: events arrive in emission order, "
                             "the same for the same seed)")
    parser.add_argument("--delivery-process", action=argparse.BooleanOptionalAction, default=None,
                        help="POST from a child process, so emission keeps this one's core; pays only with "
                             "cores to spare (default: off)")
    parser.add_argument("--webhook-client", choices=WEBHOOK_CLIENTS,
                        help="what POSTs to an http:// target: mockknock's own HTTP/1.1 client (default) or "
                             "aiohttp's; https always uses aiohttp")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here")
    parser.add_argument("--json", metavar="FILE", help="write a JSON report here")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress and no table: one result line, and the failures")


def options_from(args: argparse.Namespace, env: Mapping[str, str], tty: bool = False) -> ReplayOptions:
    checks: set[str] = set()
    for name in args.checks or ():
        checks.update(OPTIONAL_CHECKS if name == ALL_CHECKS else (name,))
    secret = args.signing_secret or env.get(env_variable("signing-secret")) or None
    return ReplayOptions(
        seed=args.seed,
        speed=args.speed,
        signing_secret=secret,
        timeout_s=args.timeout,
        max_attempts=args.max_attempts,
        checks=frozenset(checks),
        concurrency=args.concurrency or 1,
        progress_every_s=0.2 if tty else 2.0,
        delivery_process=_serve_setting("delivery-process", args.delivery_process, env),
        webhook_client=_serve_setting("webhook-client", args.webhook_client, env),
    )


def _serve_setting(option: str, flag: Any, env: Mapping[str, str]) -> Any:
    """A setting replay shares with serve: the flag, else its MOCKKNOCK_ variable (read and checked as serve
    reads it), else serve's default."""
    if flag is not None:
        return flag
    variable = env_variable(option)
    raw = env.get(variable)
    return getattr(Settings.resolve({variable: raw} if raw else {}, {}), option.replace("-", "_"))


def resolve_scenario_path(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    if "/" not in name and os.sep not in name:
        with contextlib.suppress(FileNotFoundError):
            return bundled_scenario(name)
    raise ConfigError(f"scenario file {name} does not exist (nor is it the name of a bundled scenario)")


def no_script_message(scenario: Scenario) -> str:
    return (
        f"scenario {scenario.name!r} has no script:, so replay has nothing to play. Add a top-level "
        "script: listing the calls to make, for example\n"
        "  script:\n"
        "    - at: 0s\n"
        "      workflow: new-comment\n"
        "      recipients: {fake: 3}\n"
        "    - at: 2h\n"
        "      every: 30m\n"
        "      count: 4\n"
        "      workflow: new-comment\n"
        "      recipients: [user_1]\n"
        "      data: {text: {fake: sentence}}"
    )


# -- the run ----------------------------------------------------------------------------------------


@dataclass
class _InFlight:
    event: Event
    answers: list[str]
    time_s: float = 0.0
    reached_receiver: bool = False  # an attempt went to the receiver, not only to a simulated outage


def _answer(attempt: DeliveryAttempt) -> str:
    if attempt.status is not None:
        return str(attempt.status)
    return f"no answer: {attempt.error}"


# How an attempt without an answer is counted; anything else is the target's connection failing.
_NO_ANSWER = {ErrorKind.TIMEOUT: "timeout", ErrorKind.SIMULATED: "simulated outage",
              ErrorKind.INTERNAL: "mockknock's delivery process died",
              ErrorKind.DISCONNECTED: "closed without an answer", ErrorKind.CANCELLED: "cancelled"}


def _answer_kind(attempt: DeliveryAttempt) -> str:
    if attempt.status is not None:
        return str(attempt.status)
    return _NO_ANSWER.get(attempt.error_kind or "", "connection error")


_HIGH_WATER = 2_000
_log = logging.getLogger("mockknock.replay")


class _Tracker:
    """Feeds events to Delivery in emission order and watches every attempt.

    It stands between the emitter and the delivery: at most ``window`` first attempts are in flight,
    the next event is released the moment one ends (inside the attempt listener, so delivery never
    goes idle while events wait and ``settle()`` still sees all the work).
    """

    def __init__(
        self, delivery: Delivery, report: ReplayReport, delivered: CheckResult, options: ReplayOptions,
        clock: VirtualClock | None, may_hold: Callable[[], bool],
    ) -> None:
        self._delivery = delivery
        # A virtual clock runs emission ahead of the network; past the high-water mark of events waiting
        # it is held still until half have gone, so a long scenario does not queue all its events at once.
        self._clock = clock
        self._holding = False
        # Only while no webhook-delivery outage is under way: a paused or slowed delivery waits on the clock,
        # so holding it then would wait forever. Held, time stands still, so none can begin meanwhile.
        self._may_hold = may_hold
        self._report = report
        self._check = delivered
        self._window = options.concurrency
        self._limit = options.max_listed
        self._timeout_s = delivery.policy.timeout_s
        self._max_attempts = delivery.policy.max_attempts
        self._waiting: deque[Event] = deque()
        self._first_in_flight = 0
        self._open: dict[int, _InFlight] = {}
        self._slowest: list[tuple[float, int, int, SlowResponse]] = []
        self.connection_errors = 0
        self.given_up_to_outages = 0
        self.filtered = 0
        # Samples for the checks after the run, kept small whatever the run's size.
        self.first_of_type: dict[str, Event] = {}
        self.first_ok: Event | None = None
        self._first_ok_of_subject: dict[str, Event] = {}
        self.ordered_pair: tuple[Event, Event] | None = None  # (earlier, later), both answered 2xx

    def put(self, event: Event) -> None:
        """The emitter's outbox."""
        if not any(endpoint.wants(event.type) for endpoint in self._delivery.endpoints):
            self.filtered += 1
            return
        try:
            event.body  # noqa: B018  # built now: an event that cannot be sent must not take a delivery slot
        except SchemaViolation:  # a mockknock bug, reported by the emitter and in the run's problems
            return
        except Exception:  # any other failure to build it must not stop the engine step that emitted it
            _log.exception("could not build the body of %s #%d; not sent", event.type.value, event.seq)
            return
        self._report.events += 1
        self.first_of_type.setdefault(event.type.value, event)
        self._waiting.append(event)
        self._release()
        if (self._clock is not None and not self._holding and len(self._waiting) >= _HIGH_WATER
                and self._may_hold()):
            self._holding = True
            self._clock.hold()

    def _release(self) -> None:
        while self._waiting and self._first_in_flight < self._window:
            event = self._waiting.popleft()
            self._first_in_flight += 1
            self._open[event.seq] = _InFlight(event, [])
            self._delivery.enqueue(event)
        if self._holding and len(self._waiting) <= _HIGH_WATER // 2:
            assert self._clock is not None
            self._holding = False
            self._clock.release()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def on_attempt(self, event: Event, attempt: DeliveryAttempt) -> None:
        report = self._report
        report.attempts += 1
        kind = _answer_kind(attempt)
        report.statuses[kind] = report.statuses.get(kind, 0) + 1
        if kind == "connection error":
            self.connection_errors += 1
        if attempt.attempt > 1:
            report.retries += 1
        key = (attempt.latency_ms, -event.seq, -attempt.attempt)  # unique, so SlowResponses are never compared
        if len(self._slowest) < 5 or key > self._slowest[0][:3]:
            # Built only for the few that make the list: most attempts are not among the slowest.
            slow = SlowResponse(attempt.latency_ms, event.type.value, event.subject_id, event.seq,
                                attempt.attempt, _answer(attempt))
            if len(self._slowest) < 5:
                heapq.heappush(self._slowest, (*key, slow))
            else:
                heapq.heapreplace(self._slowest, (*key, slow))
        state = self._open.get(event.seq)
        if state is None:  # not ours (cannot happen in replay); keep counting, nothing to judge
            return
        state.answers.append(_answer(attempt))
        state.reached_receiver = state.reached_receiver or attempt.error_kind != ErrorKind.SIMULATED
        state.time_s += attempt.latency_ms / 1000
        if attempt.attempt == 1:
            self._first_in_flight -= 1
            self._release()
        if attempt.final:
            del self._open[event.seq]
            self._judge(state, attempt)

    def _judge(self, state: _InFlight, last: DeliveryAttempt) -> None:
        event = state.event
        if not last.ok and not state.reached_receiver:
            self.given_up_to_outages += 1  # the scenario failed every attempt on purpose: not the receiver
            return
        self._check.cases += 1
        if last.ok:
            self._report.events_ok += 1
            if last.attempt > 1:
                self._check.warn(
                    f"{event.type.value} {event.subject_id} (#{event.seq}): 2xx only on attempt {last.attempt} "
                    f"(answers: {', '.join(state.answers)})", self._limit)
            self._remember_ok(event)
            return
        answers = state.answers
        if len(set(answers)) == 1 and len(answers) > 1:
            answered = f"{answers[0]} on all {len(answers)} attempts"
        else:
            answered = f"{answers[-1]} on the last of {len(answers)} attempts ({', '.join(answers)})"
        self._check.fail(Failure(
            check=DELIVERED,
            event_type=event.type.value,
            subject_id=event.subject_id,
            event_seq=event.seq,
            expected=f"2xx within {self._timeout_s:g}s (up to {self._max_attempts} attempts)",
            answered=answered,
            body=last.response_excerpt,
            attempts=len(answers),
            time_s=state.time_s,
        ), self._limit)

    def _remember_ok(self, event: Event) -> None:
        if self.first_ok is None:
            self.first_ok = event
        if self.ordered_pair is not None:
            return
        earlier = self._first_ok_of_subject.get(event.subject_id)
        if earlier is None:
            self._first_ok_of_subject[event.subject_id] = event
        elif earlier.seq < event.seq:
            self.ordered_pair = (earlier, event)
            self._first_ok_of_subject.clear()

    def slowest(self) -> list[SlowResponse]:
        return [s for *_, s in sorted(self._slowest, key=lambda e: e[:3], reverse=True)]

    def progress_line(self, simulated_us: int, in_flight: int) -> str:
        report = self._report
        failed = self._check.failed
        return (
            f"replay  +{format_duration(simulated_us - simulated_us % 1_000_000)} simulated  "
            f"events {report.events}  2xx {report.events_ok}  failed {failed}  attempts {report.attempts}  "
            f"retries {report.retries}  in flight {in_flight}"
        )


def _retry_policy(scenario: Scenario, options: ReplayOptions) -> RetryPolicy:
    policy = scenario.retry or RetryPolicy()
    changes: dict[str, Any] = {}
    if options.timeout_s is not None:
        changes["timeout_s"] = options.timeout_s
    if options.max_attempts is not None:
        changes["max_attempts"] = options.max_attempts
    return dataclasses.replace(policy, **changes) if changes else policy


def replay_settings(scenario: Scenario, target: Endpoint, options: ReplayOptions) -> Settings:
    if options.concurrency > MAX_DELIVERY_CONCURRENCY // 2:  # retries need as many again
        raise ConfigError(f"--concurrency must be from 1 to {MAX_DELIVERY_CONCURRENCY // 2}, got {options.concurrency}")
    settings = Settings(
        webhook_urls=(target,),
        signing_secret=options.signing_secret,
        speed=options.speed or 1.0,
        virtual_clock=options.speed is None,
        auto_advance=True,
        seed=options.seed,
        environment_id=options.environment_id,
        retry=_retry_policy(scenario, options),
        # Retries run beside first attempts; the pool only has to be wide enough not to queue them.
        delivery_concurrency=max(64, options.concurrency * 2),
        delivery_process=options.delivery_process,
        webhook_client=options.webhook_client,
        quiet=True,
    )
    settings.check()
    return settings


async def replay(
    scenario: Scenario,
    target: str,
    options: ReplayOptions,
    schemas: SchemaRegistry,
    progress: Callable[[str], None] | None,
) -> ReplayReport:
    """Play ``scenario.script`` against ``target`` and return what the receiver did.

    Raises ScenarioError if the scenario has no script, ConfigError if the target or an option is unusable.
    """
    if not scenario.script:
        raise ScenarioError(no_script_message(scenario))
    endpoint = Endpoint.parse(target)
    settings = replay_settings(scenario, endpoint, options)
    sim = Simulation(settings, scenario, schemas)
    # Nothing calls the API back during a replay, so the clock may run ahead of deliveries in flight:
    # emission overlaps the network, and the tracker still releases first attempts in emission order.
    sim.delivery.hold_clock = False
    clock = sim.clock if isinstance(sim.clock, VirtualClock) else None
    if clock is not None:
        clock.settle_rounds = 1
        clock.eager = True
    clock_name = "virtual" if options.speed is None else f"x{options.speed:g} scaled"
    report = ReplayReport(scenario=scenario.name, target=endpoint.url, seed=sim.seed, clock=clock_name)
    delivered = CheckResult(DELIVERED, DESCRIPTIONS[DELIVERED])
    report.checks.append(delivered)
    tracker = _Tracker(sim.delivery, report, delivered, options, clock, sim.delivery.outage_free)
    sim.emitter.outbox = tracker.put
    sim.delivery.listeners.append(tracker.on_attempt)
    if sim.secret_generated:
        report.notes.append(f"signing secret {sim.secret} was generated; pass --signing-secret (or set "
                            "MOCKKNOCK_SIGNING_SECRET) to the one your receiver verifies with")
    started = time.perf_counter()
    start_us = sim.clock.now_us()

    def tick() -> None:
        if progress is not None:
            progress(tracker.progress_line(sim.clock.now_us() - start_us, sim.delivery.in_flight))

    ticker = asyncio.get_running_loop().create_task(_tick(tick, options.progress_every_s))
    try:
        await sim.start((endpoint,))
        report.script_calls = sim.play_script()
        await sim.settle()
        delivered.time_s = time.perf_counter() - started
        report.simulated_us = sim.clock.now_us() - start_us
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        tick()
        report.unreachable = report.attempts > 0 and tracker.connection_errors == report.attempts
        report.slowest = tracker.slowest()
        if delivered.cases == 0:
            delivered.skip("every webhook was given up to a simulated webhook-delivery outage"
                           if tracker.given_up_to_outages else "the script produced no webhooks for this target")
        _collect_errors(sim, report, tracker)
        await _extra_checks(sim, endpoint, options, report, tracker)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await sim.stop()
    report.duration_s = time.perf_counter() - started
    _add_hints(report)
    return report


async def _tick(tick: Callable[[], None], every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        tick()


def _collect_errors(sim: Simulation, report: ReplayReport, tracker: _Tracker) -> None:
    simulated = [p for p in sim.script.played if p.outage_id is not None]
    if simulated:
        failed = sum(1 for p in simulated if p.error)
        dropped = sum(1 for p in simulated if p.dropped)
        report.notes.append(f"simulated outages: {failed} scripted triggers failed after the SDK's retries, "
                            f"{dropped} were accepted and dropped (see the scenario's outages:)")
    for played in sim.script.played:
        if played.error is not None and played.outage_id is None:
            at = format_duration(played.at_us - sim.settings.start_at_us) if sim.clock.mode == "virtual" else ""
            where = f" at +{at}" if at else ""
            kind = "cancel of" if played.cancel else "trigger of"
            report.errors.append(f"scripted {kind} {played.workflow!r}{where} was refused: {played.error}")
    report.errors.extend(f"timeline action failed: {text}" for text in sim.engine.timeline.failures)
    report.errors.extend(f"webhook not sent: {text}" for text in sim.emitter.violations)
    if tracker.filtered:
        report.notes.append(f"{tracker.filtered} events not sent: the target's event filter does not want them")
    if tracker.given_up_to_outages:
        report.notes.append(f"{tracker.given_up_to_outages} events given up because a simulated webhook-delivery "
                            "outage failed every attempt (the scenario's outages:); not counted against the "
                            "receiver")
    if tracker.waiting:  # settle() returned with events held back: a bug in the tracker, never silent
        report.errors.append(f"{tracker.waiting} events were never released to delivery (mockknock bug)")


def _add_hints(report: ReplayReport) -> None:
    check = report.checks[0]
    answers = [f.answered for f in check.failures]
    if answers and all(a.startswith(("401", "403")) for a in answers):
        report.notes.append("every failed delivery was answered 401/403: does the receiver verify with the same "
                            "signing secret (--signing-secret)?")


# -- the checks after the run -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    status: int | None
    reason: str
    body: bytes
    error: str | None
    latency_s: float

    @property
    def text(self) -> str:
        if self.status is None:
            return f"no answer: {self.error}"
        return f"{self.status} {self.reason}".rstrip()

    @property
    def preview(self) -> str | None:
        if self.status is None:
            return None
        return self.body[:BODY_PREVIEW_BYTES].decode("utf-8", errors="replace")


class _Sender:
    """One-off sends for the checks: the delivery's headers exactly, no retries, the answer body kept."""

    def __init__(self, session: aiohttp.ClientSession, url: str, secret: str, environment_id: str,
                 timeout_s: float) -> None:
        self._session = session
        self._url = url
        self._secret = secret
        self._environment_id = environment_id
        self._timeout_s = timeout_s

    def headers(self, event: Event, signature: str) -> dict[str, str]:
        return signing.webhook_headers(event.type.value, self._environment_id, signature)

    async def send(self, event: Event, body: bytes | None = None, signature: str | None = None) -> _Answer:
        data = event.body if body is None else body
        header = signature or signing.sign(data, self._secret)
        started = time.perf_counter()
        try:
            async with self._session.post(self._url, data=request_body(data), headers=self.headers(event, header),
                                          allow_redirects=False) as response:
                content = await response.content.read(BODY_PREVIEW_BYTES)
                return _Answer(response.status, response.reason or "", content, None,
                               time.perf_counter() - started)
        except TimeoutError:
            error = f"timed out after {self._timeout_s:g}s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        return _Answer(None, "", b"", error, time.perf_counter() - started)


def _altered(body: bytes) -> bytes:
    """The same envelope with created_at a day later: still schema-valid, no longer what was signed."""
    try:
        envelope = json.loads(body)
        when = envelope["created_at"]
        moved = datetime.fromisoformat(when.replace("Z", "+00:00")) + timedelta(days=1)
        envelope["created_at"] = format_timestamp(round(moved.timestamp() * 1_000_000))
        changed = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, KeyError, TypeError, AttributeError):
        changed = body
    return changed if changed != body else body + b" "


def _tampered(event: Event, secret: str) -> Iterator[tuple[str, bytes, str]]:
    now_ms = time.time_ns() // 1_000_000
    yield "wrong secret", event.body, signing.sign(event.body, secret + "-not-the-secret", now_ms)
    stale = now_ms - STALE_BY_MS
    yield "timestamp 10 minutes old", event.body, signing.sign(event.body, secret, stale)
    yield "body changed after signing", _altered(event.body), signing.sign(event.body, secret, now_ms)


async def _extra_checks(sim: Simulation, endpoint: Endpoint, options: ReplayOptions, report: ReplayReport,
                        tracker: _Tracker) -> None:
    wanted = [name for name in OPTIONAL_CHECKS if name in options.checks]
    if not wanted:
        return
    checks = {name: CheckResult(name, DESCRIPTIONS[name]) for name in wanted}
    report.checks.extend(checks.values())
    if report.unreachable:
        for check in checks.values():
            check.skip("the target could not be reached")
        return
    timeout_s = sim.delivery.policy.timeout_s
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        headers={"user-agent": f"mockknock/{__version__}"},
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:
        sender = _Sender(session, endpoint.url, sim.secret, sim.settings.environment_id, timeout_s)
        limit = options.max_listed
        if TAMPERED in checks:
            await _check_tampered(checks[TAMPERED], sender, tracker, sim.secret, limit)
        if DUPLICATE in checks:
            check = checks[DUPLICATE]
            if tracker.first_ok is None:
                check.skip("no event was answered 2xx to send again")
            else:
                await _expect_2xx(check, sender, tracker.first_ok, "sent again with a fresh signature", limit)
        if OUT_OF_ORDER in checks:
            check = checks[OUT_OF_ORDER]
            if tracker.ordered_pair is None:
                check.skip("no message had two events answered 2xx")
            else:
                earlier, later = tracker.ordered_pair
                await _expect_2xx(check, sender, earlier, f"sent after {later.type.value} (#{later.seq})", limit)


async def _check_tampered(check: CheckResult, sender: _Sender, tracker: _Tracker, secret: str, limit: int) -> None:
    if not tracker.first_of_type:
        check.skip("no event to tamper with")
        return
    for event in tracker.first_of_type.values():
        for case, body, signature in _tampered(event, secret):
            answer = await sender.send(event, body, signature)
            check.cases += 1
            check.time_s += answer.latency_s
            if answer.status is not None and 400 <= answer.status < 500:
                continue
            accepted = answer.status is not None and 200 <= answer.status < 300
            check.fail(Failure(
                check=TAMPERED,
                case=case,
                event_type=event.type.value,
                subject_id=event.subject_id,
                event_seq=event.seq,
                expected="4xx: a receiver must reject a delivery whose x-knock-signature does not verify",
                answered=answer.text + (" (accepted the tampered delivery)" if accepted else ""),
                body=answer.preview,
                time_s=answer.latency_s,
            ), limit)


async def _expect_2xx(check: CheckResult, sender: _Sender, event: Event, case: str, limit: int) -> None:
    answer = await sender.send(event)
    check.cases += 1
    check.time_s += answer.latency_s
    if answer.status is not None and 200 <= answer.status < 300:
        return
    check.fail(Failure(
        check=check.name,
        case=case,
        event_type=event.type.value,
        subject_id=event.subject_id,
        event_seq=event.seq,
        expected="2xx: Knock may deliver an event more than once and out of order; acknowledge it and ignore it",
        answered=answer.text,
        body=answer.preview,
        time_s=answer.latency_s,
    ), limit)


# -- the command ------------------------------------------------------------------------------------


class ProgressLine:
    """Progress on a terminal: one line rewritten with \\r; elsewhere: plain lines (replay paces them)."""

    def __init__(self, stream: TextIO, tty: bool) -> None:
        self._stream = stream
        self._tty = tty
        self._width = 0

    def __call__(self, text: str) -> None:
        if self._tty:
            self._stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._tty and self._width:
            self._stream.write("\n")
            self._stream.flush()
            self._width = 0


def _write(path: str, text: str) -> None:
    Path(path).write_text(text, encoding="utf-8")


async def run_async(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    env: Mapping[str, str] | None = None,
    schemas: SchemaRegistry | None = None,
) -> int:
    environment = os.environ if env is None else env
    tty = out.isatty()
    try:
        options = options_from(args, environment, tty)
        scenario = load_scenario(resolve_scenario_path(args.scenario))
        if not scenario.script:
            raise ScenarioError(f"{args.scenario}: {no_script_message(scenario)}")
    except (ConfigError, ScenarioError) as exc:
        print(f"mockknock replay: {exc}", file=err)
        return EXIT_USAGE
    progress = None if args.quiet else ProgressLine(out, tty)
    # Give-ups are in the report; one log line per failed event would bury it.
    delivery_log = logging.getLogger("mockknock.delivery")
    level = delivery_log.level
    delivery_log.setLevel(logging.ERROR)
    try:
        report = await replay(scenario, args.target, options, schemas or SchemaRegistry.load(), progress)
    except (ConfigError, ScenarioError) as exc:
        print(f"mockknock replay: {exc}", file=err)
        return EXIT_USAGE
    finally:
        delivery_log.setLevel(level)
        if progress is not None:
            progress.finish()
    if args.quiet:
        print(verdict_line(report), file=out)
        if report.exit_code:
            print("\n".join(detail_lines(report)), file=out)
    else:
        print("\n".join(summary_lines(report)), file=out)
    try:
        if args.junit:
            _write(args.junit, junit_xml(report))
        if args.json:
            _write(args.json, json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        print(f"mockknock replay: cannot write the report: {exc}", file=err)
        return EXIT_USAGE
    return report.exit_code


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Entry point for ``mockknock replay``: returns the exit status (see the module docstring)."""
    with serving_thresholds():
        return asyncio.run(run_async(args, out, err))
