"""How often Python's cyclic garbage collector runs while mockknock serves or replays.

CPython collects its youngest generation after every 700 net allocations of container objects. One trigger
allocates a few hundred (aiohttp's request and response, the parsed body, the runs, messages and plan), so
with that default the collector ran every two or three triggers, and each collection walked whatever had
survived since the last one. bench/serve.py measured the collector at 15-25 % of the server's CPU per
trigger (its ``--nogc`` variant). Collecting the young generation every 10,000 allocations instead took
10-20 % off the CPU per trigger; 7,000 and 20,000 measured within noise of it, 100,000 slower again.

The older generations keep their default ratios, so full collections still come at the same pace relative
to young ones, and garbage in reference cycles is still freed, only in larger batches. Only the commands'
own processes are tuned (``serve``, ``replay``); the pytest plugin runs inside the user's test process and
leaves its collector alone.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_GENERATION_THRESHOLD = 10_000


@contextlib.contextmanager
def serving_thresholds() -> Iterator[None]:
    """Collect the young generation less often while the block runs; the thresholds before are restored."""
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
