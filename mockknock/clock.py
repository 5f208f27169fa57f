"""The one clock everything that waits or stamps simulated time goes through.

Three modes. Real time is the scaled clock at speed 1. The scaled clock runs simulated time ``speed``
times faster than the wall (``--speed 60``: a simulated minute per second). The virtual clock stands
still while work is in flight and jumps straight to the next due wake-up once nothing is, so hours of
simulated time take as long as the work in them. Signature timestamps never use any of these: they
are always the real wall clock, so a receiver's five-minute tolerance check passes.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

US_PER_SECOND = 1_000_000
_EAGER_SLICE_S = 0.002


def wall_us() -> int:
    return time.time_ns() // 1_000


class Clock(abc.ABC):
    """Simulated time in integer epoch microseconds."""

    mode: str

    @abc.abstractmethod
    def now_us(self) -> int: ...

    @abc.abstractmethod
    async def wait(self, wake: asyncio.Event, until_us: int) -> None:
        """Return when simulated time reaches ``until_us`` or ``wake`` is set, whichever is first."""

    async def sleep(self, duration_us: int) -> None:
        await self.wait(asyncio.Event(), self.now_us() + duration_us)

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """Mark work in flight; the virtual clock does not jump past it. Other clocks need no marking."""
        return contextlib.nullcontext()

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "now_us": self.now_us()}


class ScaledClock(Clock):
    def __init__(self, speed: float = 1.0, start_us: int | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be above 0, got {speed}")
        self.speed = speed
        self.mode = "real" if speed == 1 else "scaled"
        self._start_us = wall_us() if start_us is None else start_us
        self._anchor_ns = time.monotonic_ns()

    def now_us(self) -> int:
        elapsed_ns = time.monotonic_ns() - self._anchor_ns
        return self._start_us + int(elapsed_ns * self.speed) // 1_000

    def real_seconds_until(self, until_us: int) -> float:
        return max(0.0, (until_us - self.now_us()) / US_PER_SECOND / self.speed)

    async def wait(self, wake: asyncio.Event, until_us: int) -> None:
        delay = self.real_seconds_until(until_us)
        if delay <= 0 or wake.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=delay)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "speed": self.speed}


class VirtualClock(Clock):
    """Time that moves only when nothing is in flight, or when told to (``advance``)."""

    mode = "virtual"

    def __init__(self, start_us: int | None = None, auto_advance: bool = True) -> None:
        self._now_us = wall_us() if start_us is None else start_us
        self.auto_advance = auto_advance
        # Event-loop turns to let pass before each jump, so a task about to schedule something earlier
        # (an API handler part-way through a request) gets there first. Replay has no outside callers and
        # lowers it: each jump costs this many turns, which otherwise paces emission.
        self.settle_rounds = 8
        # Eager: a wait for the earliest wake-up jumps there at once instead of going through the runner
        # task. Only for runs nothing outside calls into (replay), where it makes emission as fast as the
        # work it does rather than paced by event-loop turns.
        self.eager = False
        self._last_yield = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._busy = 0
        self._changed: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None

    def now_us(self) -> int:
        return self._now_us

    @contextmanager
    def busy(self) -> Iterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._poke()

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def hold(self) -> None:
        """Keep time still until ``release()``, like work in flight (backpressure from a consumer)."""
        self._busy += 1

    def release(self) -> None:
        self._busy -= 1
        self._poke()

    async def wait(self, wake: asyncio.Event, until_us: int) -> None:
        if until_us <= self._now_us or wake.is_set():
            return
        if self.eager and self.auto_advance and self._busy == 0:
            if time.perf_counter() - self._last_yield < _EAGER_SLICE_S:
                self._drop_cancelled()
                if not self._waiters or self._waiters[0][0] > until_us:
                    self._now_us = until_us
                    return
            # Now and then (and whenever another task is due first) the wait goes through the runner, which
            # gives everything else its turns: yielding on every jump would cost an event-loop turn (a
            # select() call and every ready callback) per event emitted.
            self._last_yield = time.perf_counter()
        loop = asyncio.get_running_loop()
        self._ensure_runner(loop)
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (until_us, next(self._seq), future))
        self._poke()
        waker: asyncio.Future[bool] = asyncio.ensure_future(wake.wait())
        try:
            either: list[asyncio.Future[Any]] = [future, waker]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if not future.done():
                future.cancel()

    def advance(self, duration_us: int) -> int:
        """Move time forward by ``duration_us`` now, waking everything due on the way. Returns the new time."""
        if duration_us < 0:
            raise ValueError("the clock only moves forward")
        target = self._now_us + duration_us
        self._release_until(target)
        self._now_us = max(self._now_us, target)
        return self._now_us

    def rewind(self, start_us: int) -> None:
        """Start over at ``start_us`` (a reset simulation); wake-ups still pending keep their times."""
        self._now_us = start_us
        self._poke()

    @property
    def in_flight(self) -> int:
        """Work marked busy right now (webhook POSTs under way)."""
        return self._busy

    def set_auto_advance(self, on: bool) -> None:
        self.auto_advance = on
        self._poke()

    def pending(self) -> int:
        return sum(1 for _, _, f in self._waiters if not f.done())

    def next_due_us(self) -> int | None:
        self._drop_cancelled()
        return self._waiters[0][0] if self._waiters else None

    def _drop_cancelled(self) -> None:
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)

    def _release_until(self, until_us: int) -> None:
        while self._waiters and self._waiters[0][0] <= until_us:
            due, _, future = heapq.heappop(self._waiters)
            if not future.done():
                self._now_us = max(self._now_us, due)
                future.set_result(None)

    def _ensure_runner(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._runner is None or self._runner.done() or self._runner.get_loop() is not loop:
            self._changed = asyncio.Event()
            self._runner = loop.create_task(self._run(), name="mockknock-virtual-clock")

    async def _run(self) -> None:
        assert self._changed is not None
        while True:
            # Let every ready task run first: a handler that is about to schedule something earlier
            # must get the chance before time jumps.
            for _ in range(self.settle_rounds):
                await asyncio.sleep(0)
            due = self.next_due_us()
            if self.auto_advance and self._busy == 0 and due is not None:
                self._now_us = max(self._now_us, due)
                self._release_until(self._now_us)
                continue
            self._changed.clear()
            await self._changed.wait()

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "auto_advance": self.auto_advance, "busy": self.in_flight,
                "pending_wakeups": self.pending()}
