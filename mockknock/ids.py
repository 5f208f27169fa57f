"""Knock's identifier formats, drawn from a seeded generator so a seed reproduces every id.

Messages carry KSUIDs (27 base62 characters whose first four bytes are the creation second, counted
from 1,400,000,000); runs, channels and versions carry UUID v4.
"""

from __future__ import annotations

import random

KSUID_EPOCH = 1_400_000_000
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KSUID_LENGTH = 27
_CHUNK = 9
_CHUNK_BASE = 62**_CHUNK
_PAIRS: tuple[str, ...] = tuple(a + b for a in _BASE62 for b in _BASE62)  # "00" ... "zz", by value
# RFC 4122 version 4: the variant bits 10 and the version nibble 4, as uuid.UUID(version=4) sets them.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def ksuid(epoch_us: int, rng: random.Random) -> str:
    seconds = epoch_us // 1_000_000 - KSUID_EPOCH
    if not 0 <= seconds < 2**32:
        raise ValueError(f"a KSUID cannot hold the time {epoch_us} us (before 2014-05-13 or after 2150)")
    value = (seconds << 128) | rng.getrandbits(128)
    # Three big-int divisions into 9-digit chunks, each then written two digits at a time from a table:
    # half the cost of 27 big-int divisions, on every message created.
    parts: list[str] = []
    for _ in range(KSUID_LENGTH // _CHUNK):
        value, chunk = divmod(value, _CHUNK_BASE)
        chunk, d78 = divmod(chunk, 3844)
        chunk, d56 = divmod(chunk, 3844)
        chunk, d34 = divmod(chunk, 3844)
        d0, d12 = divmod(chunk, 3844)
        parts.append(_BASE62[d0] + _PAIRS[d12] + _PAIRS[d34] + _PAIRS[d56] + _PAIRS[d78])
    return parts[2] + parts[1] + parts[0]


def ksuid_seconds(ident: str) -> int:
    """The Unix second a KSUID was minted in."""
    value = 0
    for char in ident:
        value = value * 62 + _BASE62.index(char)
    return (value >> 128) + KSUID_EPOCH


def uuid4(rng: random.Random) -> str:
    """What ``str(uuid.UUID(int=rng.getrandbits(128), version=4))`` gives, without building the object."""
    value = rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
