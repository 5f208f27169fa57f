"""Knock's identifier formats, drawn from a seeded generator so a seed reproduces every id.

Messages carry KSUIDs (27 base62 characters whose first four bytes are the creation second, counted
from 1,400,000,000); runs, channels and versions carry UUID v4.
"""

from __future__ import annotations

import random
import uuid

KSUID_EPOCH = 1_400_000_000
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KSUID_LENGTH = 27


def ksuid(epoch_us: int, rng: random.Random) -> str:
    seconds = epoch_us // 1_000_000 - KSUID_EPOCH
    if not 0 <= seconds < 2**32:
        raise ValueError(f"a KSUID cannot hold the time {epoch_us} us (before 2014-05-13 or after 2150)")
    value = (seconds << 128) | rng.getrandbits(128)
    chars = []
    while value:
        value, digit = divmod(value, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars)).rjust(KSUID_LENGTH, "0")


def ksuid_seconds(ident: str) -> int:
    """The Unix second a KSUID was minted in."""
    value = 0
    for char in ident:
        value = value * 62 + _BASE62.index(char)
    return (value >> 128) + KSUID_EPOCH


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
