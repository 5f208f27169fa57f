"""API first: webhook deliveries wait for a gap in API traffic.

The trigger API and the webhooks it causes share one event loop, and a webhook POST costs more CPU than
the trigger that caused it. Knock answers a trigger at once and sends its webhooks afterwards; under
load mockknock does the same. Each delivery attempt waits until no Knock API request has been seen for
``quiet_s`` (2 ms), but never longer than ``max_wait_s`` at a time, so webhooks keep flowing (more
slowly) through a sustained burst and catch up when it ends. A request's handler usually runs start to
finish in one go, so "in flight" alone would almost never be seen; the recent-arrival test is what
detects a burst. Only the POSTs wait: messages and events are created on time, so the API reads back a
trigger's messages at once, and bodies, signatures' bodies and ``created_at`` do not change.

``max_wait_s = 0`` turns this off: deliveries then take their turns with requests as they come.
"""

from __future__ import annotations

import asyncio

QUIET_S = 0.002


class ApiFirst:
    def __init__(self, max_wait_s: float, quiet_s: float = QUIET_S) -> None:
        if max_wait_s < 0 or quiet_s < 0:
            raise ValueError(f"waits must not be negative, got {max_wait_s} and {quiet_s}")
        self.max_wait_s = max_wait_s
        self.quiet_s = quiet_s
        self._requests = 0
        self._last_seen = float("-inf")  # loop time of the latest request start or finish
        # In arrival order (a dict, for removal in O(1)): released together, they go in the order they came,
        # which keeps webhooks in emission order.
        self._waiting: dict[asyncio.Future[None], None] = {}
        self._check: asyncio.TimerHandle | None = None
        self._check_loop: asyncio.AbstractEventLoop | None = None
        self.deferred = 0  # delivery attempts that waited, for the control plane's counters

    def request_started(self) -> None:
        self._requests += 1
        self._last_seen = asyncio.get_running_loop().time()

    def request_finished(self) -> None:
        self._requests = max(0, self._requests - 1)
        self._last_seen = asyncio.get_running_loop().time()

    def _quiet(self, now: float) -> bool:
        return self._requests == 0 and now - self._last_seen >= self.quiet_s

    async def turn(self) -> None:
        """Return at once in a quiet spell; else when one begins, or after ``max_wait_s``."""
        if self.max_wait_s == 0:
            return
        loop = asyncio.get_running_loop()
        if not self._waiting and self._quiet(loop.time()):
            return  # behind anyone already waiting otherwise: turns are taken in the order asked for
        self.deferred += 1
        future: asyncio.Future[None] = loop.create_future()
        self._waiting[future] = None
        deadline = loop.call_later(self.max_wait_s, _settle, future)
        self._watch(loop)
        try:
            await future
        finally:
            deadline.cancel()
            self._waiting.pop(future, None)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """One timer for all waiters, set for the moment the current spell of traffic could turn quiet."""
        if self._check is not None and self._check_loop is not loop:  # left behind by a loop now closed
            self._check.cancel()
            self._check = None
        if self._check is None and self._waiting:
            self._check = loop.call_at(max(loop.time(), self._last_seen) + self.quiet_s, self._on_check, loop)
            self._check_loop = loop

    def _on_check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._check = None
        if self._quiet(loop.time()):
            waiting, self._waiting = self._waiting, {}
            for future in waiting:
                _settle(future)
        self._watch(loop)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
