"""The queue of simulated future: actions due at a simulated time, fired in (time, order) order.

One runner task sleeps on the clock until the earliest action is due. Scheduling an earlier action
wakes it. Ties fire in scheduling order, which keeps a seeded run deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

from mockknock.clock import Clock

Action = Callable[[int], None]
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

    def fire_due(self) -> int:
        """Fire every action due by now; returns how many fired."""
        now = self.clock.now_us()
        fired = 0
        while self._heap and self._heap[0][0] <= now:
            due, _, action = heapq.heappop(self._heap)
            fired += 1
            try:
                action(due)
            except Exception as exc:  # one broken action must not stop the world; it is reported
                _log.exception("timeline action failed")
                self.failures.append(f"{type(exc).__name__}: {exc}")
        return fired

    async def run(self) -> None:
        while True:
            self.fire_due()
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
