"""The only outbound network code: signs each event, POSTs it to every endpoint that wants it, retries.

A fixed pool of workers takes (event, endpoint, attempt) jobs from one queue in emission order: a task
per webhook would cost twice the CPU of the POST itself once thousands wait on the connection pool. Each
(event, endpoint) pair gets up to ``max_attempts`` attempts; any non-2xx answer or a timeout or connection
error is queued again after the policy's backoff, measured on the simulation clock (so ``--speed`` and the
virtual clock scale it). Every attempt is signed afresh with the real wall-clock time and recorded in the
delivery log. The POST itself goes through a transport (transport.py): kept-alive connections, in this
process or in a child process (courier.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mockknock import signing
from mockknock.clock import Clock
from mockknock.config import Endpoint, RetryPolicy
from mockknock.errors import SchemaViolation
from mockknock.model import DeliveryAttempt, Event
from mockknock.outages import Component, EffectKind, Outage, Outages
from mockknock.randomness import Randomness
from mockknock.store import Store
from mockknock.transport import ErrorKind, Transport

_log = logging.getLogger("mockknock.delivery")
AttemptListener = Callable[[Event, DeliveryAttempt], None]
Gate = Callable[[], Awaitable[None]]


@dataclass(order=True)
class _Held:
    """An attempt waiting out a pause: released in (event seq, arrival) order."""

    seq: int
    order: int
    go: asyncio.Future[None] = field(compare=False)
    sent: asyncio.Event = field(compare=False)
_PAUSE_SLICE_US = 60_000_000
_NOT_HOLDING = contextlib.nullcontext()
_DELIVERY_COMPONENT = (Component.WEBHOOK_DELIVERY.value,)


class Delivery:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        randomness: Randomness,
        policy: RetryPolicy,
        secret: str,
        environment_id: str,
        concurrency: int,
        user_agent: str,
        outages: Outages,
        transport: Transport,
    ) -> None:
        self._outages = outages
        self._store = store
        self._clock = clock
        self._jitter = randomness.stream("delivery-jitter")
        self.policy = policy
        self._key = secret.encode()
        self._environment_id = environment_id
        self._concurrency = concurrency
        self._user_agent = user_agent
        self.endpoints: tuple[Endpoint, ...] = ()
        self.transport = transport
        self._started = False
        self._jobs: asyncio.Queue[tuple[Event, Endpoint, int]] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        # Retries waiting out their backoff, each a small task that queues the next attempt.
        self._retries: set[asyncio.Task[None]] = set()
        # (event, endpoint) pairs not finished yet: queued, being sent, or waiting to be retried.
        self._open = 0
        self._era = 0  # counts resets: an attempt cancelled by one is not logged into the emptied store
        self._idle = asyncio.Event()
        self._idle.set()
        self.listeners: list[AttemptListener] = []
        # While a POST is under way a virtual clock stands still, so an app that calls the API back from
        # its webhook handler does so at the event's simulated time. Replay has no such app and turns
        # this off to emit ahead while deliveries are in flight.
        self.hold_clock = True
        self._held: list[_Held] = []
        self._held_order = itertools.count()
        self._releaser: asyncio.Task[None] | None = None
        self._slowed = 0  # attempts sleeping out a simulated slowdown (on the clock)
        # Awaited before each attempt: the API-first turn (see priority.py). None: go at once.
        self.gate: Gate | None = None

    async def start(self, endpoints: tuple[Endpoint, ...]) -> None:
        self.endpoints = endpoints
        await self.transport.open()
        self._started = True
        self._start_workers()

    def _start_workers(self) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work(), name=f"mockknock-delivery-{n}")
                         for n in range(self._concurrency + self.transport.backlog)]

    def _forget_work(self) -> list[asyncio.Task[None]]:
        """Drop every queued, held and retrying job; returns the tasks to await."""
        self._held.clear()
        while not self._jobs.empty():
            self._jobs.get_nowait()
        cancelled = [*self._workers, *self._retries, *([self._releaser] if self._releaser else [])]
        for task in cancelled:
            task.cancel()
        self._retries.clear()
        self._open = 0
        self._idle.set()
        return cancelled

    async def cancel_all(self, restart: bool = True) -> None:
        """Drop every delivery under way or waiting; with ``restart``, fresh workers take new ones."""
        running = restart and bool(self._workers)
        cancelled = self._forget_work()
        self._workers = []
        if cancelled:
            await asyncio.gather(*cancelled, return_exceptions=True)
        if running and self._started:
            self._start_workers()

    async def close(self) -> None:
        cancelled = self._forget_work()
        self._workers = []
        if cancelled:
            await asyncio.gather(*cancelled, return_exceptions=True)
        if self._started:
            self._started = False
            await self.transport.close()

    def reset(self, randomness: Randomness) -> None:
        self._era += 1  # attempts cut short by this reset are forgotten with the rest
        running = bool(self._workers)
        self._forget_work()
        if running:
            self._start_workers()
        self._jitter = randomness.stream("delivery-jitter")

    def enqueue(self, event: Event) -> None:
        for endpoint in self.endpoints:
            if endpoint.wants(event.type):
                self._open += 1
                self._idle.clear()
                self._jobs.put_nowait((event, endpoint, 1))

    @property
    def in_flight(self) -> int:
        """Deliveries not finished: queued, being sent, or waiting to be retried."""
        return self._open

    async def until_idle(self) -> None:
        await self._idle.wait()

    def _finished(self) -> None:
        self._open -= 1
        if self._open <= 0:
            self._open = 0
            self._idle.set()

    async def _work(self) -> None:
        while True:
            event, endpoint, attempt = await self._jobs.get()
            if self.gate is not None:
                with self._clock.busy() if self.hold_clock else _NOT_HOLDING:
                    await self.gate()
            try:
                event.body  # noqa: B018  # built here, after the gate, if nothing has needed it yet
            except SchemaViolation:  # a mockknock bug, already reported by the emitter: never sent
                self._finished()
                continue
            except Exception:  # any other failure to build it must not take the worker down either
                _log.exception("could not build the body of %s #%d; not sent", event.type.value, event.seq)
                self._finished()
                continue
            try:
                record = await self._deliver(event, endpoint, attempt)
            except Exception:  # one broken delivery must not take a worker down; it is logged
                _log.exception("delivery of %s to %s failed", event.type.value, endpoint.url)
                self._finished()
                continue
            if record.ok:
                self._finished()
            elif attempt < self.policy.max_attempts:
                wait = self.policy.delay_before(attempt + 1, self._jitter.random())
                retry = asyncio.get_running_loop().create_task(self._retry(event, endpoint, attempt + 1, wait))
                self._retries.add(retry)
                retry.add_done_callback(self._retries.discard)
            else:
                _log.warning("gave up on %s to %s after %d attempts", event.type.value, endpoint.url, attempt)
                self._finished()

    async def _retry(self, event: Event, endpoint: Endpoint, attempt: int, wait_us: int) -> None:
        await self._clock.sleep(wait_us)
        self._jobs.put_nowait((event, endpoint, attempt))

    async def _deliver(self, event: Event, endpoint: Endpoint, attempt: int) -> DeliveryAttempt:
        final = attempt == self.policy.max_attempts
        if self.outage_free():  # the common case
            return await self._attempt(event, endpoint, attempt, final=final)
        held = await self._wait_out_pause(event)
        try:
            failing = await self._outage_effect(held)
            if failing is not None:
                return self._simulated_failure(event, endpoint, attempt, final, failing)
            return await self._attempt(event, endpoint, attempt, final=final)
        finally:
            if held is not None:
                held.sent.set()

    def outage_free(self) -> bool:
        """No webhook-delivery outage is under way, and no attempt still waits out one that has ended."""
        return (not self._held and not self._slowed
                and self._outages.active(self._clock.now_us(), _DELIVERY_COMPONENT) is None)

    def _pause(self) -> Outage | None:
        outage = self._outages.active(self._clock.now_us(), _DELIVERY_COMPONENT)
        return outage if outage is not None and outage.effect.kind is EffectKind.PAUSE else None

    async def _wait_out_pause(self, event: Event) -> _Held | None:
        """Hold this attempt while webhook delivery is paused; held attempts then go one at a time, oldest
        event first, so a receiver sees the backlog caught up in order."""
        if self._pause() is None and not self._held:
            return None
        held = _Held(event.seq, next(self._held_order), asyncio.get_running_loop().create_future(), asyncio.Event())
        heapq.heappush(self._held, held)
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.get_running_loop().create_task(self._release_held())
        try:
            await held.go
        except asyncio.CancelledError:
            held.sent.set()  # never leave the releaser waiting on an attempt that will not happen
            raise
        return held

    async def _release_held(self) -> None:
        while self._held:
            outage = self._pause()
            if outage is not None:
                # In slices, so an outage ended early through the control plane releases deliveries promptly.
                await self._clock.sleep(min(outage.end_us - self._clock.now_us(), _PAUSE_SLICE_US))
                continue
            held = heapq.heappop(self._held)
            if held.go.done():  # its delivery was cancelled while held
                continue
            # Busy until the attempt is made: a virtual clock must not move on while the backlog drains.
            with self._clock.busy():
                held.go.set_result(None)
                await held.sent.wait()

    async def _outage_effect(self, held: _Held | None) -> Outage | None:
        """Apply a webhook-delivery slowdown; return the outage if this attempt must fail."""
        outage = self._outages.active(self._clock.now_us(), _DELIVERY_COMPONENT)
        if outage is None:
            return None
        effect = outage.effect
        if effect.kind is EffectKind.LATENCY:
            if held is not None:
                # The releaser holds the clock still until this attempt is made; a slowdown needs it to move.
                held.sent.set()
            spread = self._jitter.uniform(-effect.jitter_us, effect.jitter_us) if effect.jitter_us else 0
            self._slowed += 1
            try:
                await self._clock.sleep(max(0, round(effect.latency_us + spread)))
            finally:
                self._slowed -= 1
            return None
        return outage if effect.kind is EffectKind.FAIL and self._outages.hits(outage) else None

    def _simulated_failure(
        self, event: Event, endpoint: Endpoint, attempt: int, final: bool, outage: Outage
    ) -> DeliveryAttempt:
        record = DeliveryAttempt(event.seq, event.type, endpoint.url, attempt, time.time_ns() // 1_000_000, None,
                                 f"simulated outage {outage.id}: webhook delivery failing", 0.0, final, outage.id,
                                 error_kind=ErrorKind.SIMULATED)
        self._outages.record(self._clock.now_us(), outage, f"{event.type.value} attempt {attempt} failed",
                             endpoint.url)
        self._log(event, record)
        return record

    def _log(self, event: Event, record: DeliveryAttempt) -> None:
        self._store.record_attempt(record)
        for listener in self.listeners:
            listener(event, record)

    async def _attempt(self, event: Event, endpoint: Endpoint, attempt: int, final: bool) -> DeliveryAttempt:
        wall_ms = time.time_ns() // 1_000_000
        headers = signing.webhook_headers(
            event.type.value, self._environment_id, signing.sign(event.body, self._key, wall_ms)
        )
        # Per request rather than as session defaults, which aiohttp would merge into a new dict each time.
        headers["user-agent"] = self._user_agent
        era, started = self._era, time.perf_counter()
        with self._clock.busy() if self.hold_clock else _NOT_HOLDING:
            try:
                result = await self.transport.post(endpoint.url, event.body, headers, self.policy.timeout_s)
            except asyncio.CancelledError:
                # The POST may well have reached the endpoint: the log says so, unless a reset forgot it all.
                if era == self._era:
                    self._log(event, DeliveryAttempt(
                        event.seq, event.type, endpoint.url, attempt, wall_ms, None,
                        "cancelled before an answer came: mockknock stopped, or its deliveries were cancelled",
                        (time.perf_counter() - started) * 1000, final=True, error_kind=ErrorKind.CANCELLED))
                raise
        ok = result.status is not None and 200 <= result.status < 300
        record = DeliveryAttempt(event.seq, event.type, endpoint.url, attempt, wall_ms, result.status, result.error,
                                 result.latency_ms, final=ok or final, error_kind=result.error_kind,
                                 response_excerpt=result.excerpt)
        self._log(event, record)
        return record
