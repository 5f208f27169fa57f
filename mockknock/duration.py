"""Human durations (``500ms``, ``2s``, ``1m30s``, ``1h``, ``1d``) to integer microseconds and back."""

from __future__ import annotations

import math
import re

_UNITS_US = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:us|ms|s|m|h|d))+")

EXAMPLES = "500ms, 2s, 1m30s, 1h, 1.5d"


# Ten years: longer is a typo, and the simulated clock must stay where Knock's ids can stamp it (KSUIDs end
# in 2150), whatever a scenario or a retry schedule adds to it.
MAX_US = 3650 * _UNITS_US["d"]


class DurationError(ValueError):
    pass


def _bounded(us: int, text: object) -> int:
    if us > MAX_US:
        raise DurationError(f"{text!r} is longer than mockknock simulates (at most 3650d, ten years)")
    return us


def parse_duration(text: object) -> int:
    """Microseconds in ``text``; a bare number means seconds. Raises DurationError naming the problem."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        kind = "nothing" if text is None else type(text).__name__
        raise DurationError(f"expected a duration such as {EXAMPLES}, got {kind}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise DurationError(f"a duration must be a finite number, got {text}")
        if text < 0:
            raise DurationError(f"a duration cannot be negative, got {text}")
        return _bounded(round(text * 1_000_000), text)
    cleaned = text.strip().replace(" ", "")
    if cleaned.startswith("-"):
        raise DurationError(f"a duration cannot be negative, got {text!r}")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return _bounded(round(float(cleaned) * 1_000_000), text)
    if not _WHOLE.fullmatch(cleaned):
        raise DurationError(f"{text!r} is not a duration; write it like {EXAMPLES}")
    return _bounded(sum(round(float(n) * _UNITS_US[u]) for n, u in _PART.findall(cleaned)), text)


def format_duration(us: int) -> str:
    if us == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s", "ms", "us"):
        size = _UNITS_US[unit]
        if us >= size:
            count, us = divmod(us, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)
