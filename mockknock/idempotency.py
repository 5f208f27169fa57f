"""Knock's Idempotency-Key on trigger: a repeat within 24 hours replays the first 2xx answer.

Only successful answers are remembered (Knock re-executes after a 4xx or 5xx). The same key with a
different request is refused, as Knock documents; the status it uses is unpublished, so mockknock
answers 422, which the official SDKs do not retry.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mockknock import errors
from mockknock.clock import Clock

TTL_US = 24 * 3600 * 1_000_000
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class CachedResponse:
    fingerprint: str
    status: int
    body: bytes
    request_id: str
    expires_at_us: int


def fingerprint(path: str, body: Mapping[str, Any]) -> str:
    """What makes two requests the same: the path and the parameters, not the bytes that carried them (key
    order and spacing differ between serialisers; a client that rebuilds its body on retry is not reusing
    the key for a different request)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{path}\0{canonical}".encode()).hexdigest()


class IdempotencyCache:
    def __init__(self, clock: Clock, ttl_us: int = TTL_US) -> None:
        self._clock = clock
        self._ttl_us = ttl_us
        # Insertion order is expiry order (one TTL for all), so expired entries sit at the front.
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def lookup(self, key: str, print_: str) -> CachedResponse | None:
        self._expire()
        cached = self._entries.get(key)
        if cached is None:
            return None
        if cached.fingerprint != print_:
            raise errors.idempotency_key_reused(key)
        return cached

    def remember(self, key: str, print_: str, status: int, body: bytes, request_id: str) -> None:
        self._entries[key] = CachedResponse(print_, status, body, request_id, self._clock.now_us() + self._ttl_us)

    def _expire(self) -> None:
        now = self._clock.now_us()
        while self._entries:
            first = next(iter(self._entries.values()))
            if first.expires_at_us > now:
                break
            self._entries.popitem(last=False)
