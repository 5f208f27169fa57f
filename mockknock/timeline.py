"""The queue of simulated future: actions due at a simulated time, fired in (time, order) order.

One runner task sleeps on the clock until the earliest action is due. Scheduling an earlier action
wakes it. Ties fire in scheduling order, which keeps a seeded run deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable

from mockknock.clock import Clock

Action = Callable[[int], None]
# Longest stretch of firing before requests get a turn: a backlog of due events (after a burst of
# triggers, or a paused clock) must not hold the API up for as long as it takes to emit them all.
SLICE_S = 0.005
_log = logging.getLogger("mockknock.timeline")


class Timeline:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[int, int, Action]] = []
        self._seq = itertools.count()
        # Created here, not in run(), so until_idle() works before the runner task has had its first turn.
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.failures: list[str] = []

    def schedule(self, due_us: int, action: Action) -> None:
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (due_us, next(self._seq), action))
        self._idle.clear()
        if earliest is None or due_us < earliest:
            self._wake.set()

    def __len__(self) -> int:
        return len(self._heap)

    def next_due_us(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def clear(self) -> None:
        self._heap.clear()
        self._wake.set()

    def due(self) -> bool:
        return bool(self._heap) and self._heap[0][0] <= self.clock.now_us()

    def fire_due(self, budget_s: float | None = None) -> int:
        """Fire every action due by now (or as many as ``budget_s`` seconds allow); returns how many fired."""
        now = self.clock.now_us()
        fired = 0
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        while self._heap and self._heap[0][0] <= now:
            due, _, action = heapq.heappop(self._heap)
            fired += 1
            try:
                action(due)
            except Exception as exc:  # one broken action must not stop the world; it is reported
                _log.exception("timeline action failed")
                self.failures.append(f"{type(exc).__name__}: {exc}")
            if deadline is not None and time.perf_counter() >= deadline:
                break
        return fired

    async def run(self) -> None:
        """Fire actions as they fall due, in slices with a turn for everything else between them."""
        while True:
            if self.due():
                # Held busy, so a virtual clock does not move past work still waiting for its slice.
                with self.clock.busy():
                    self.fire_due(SLICE_S)
                    if self.due():
                        await asyncio.sleep(0)
                        continue
            self._wake.clear()
            if not self._heap:
                self._idle.set()
                await self._wake.wait()
                self._idle.clear()
                continue
            await self.clock.wait(self._wake, self._heap[0][0])

    async def until_idle(self) -> None:
        """Wait until nothing is scheduled (used by tests and replay)."""
        while self._heap:
            await self._idle.wait()
