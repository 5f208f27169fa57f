"""One seed, several independent random streams.

Each purpose draws from its own stream so that, say, network-dependent retry jitter never shifts the
ids or outcomes of later messages: the same scenario and seed give the same ids whatever the network does.
"""

from __future__ import annotations

import hashlib
import random


class Randomness:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, purpose: str) -> random.Random:
        rng = self._streams.get(purpose)
        if rng is None:
            # hashlib, not hash(): str hashes are salted per process, which would break replay across runs.
            digest = hashlib.sha256(f"{self.seed}:{purpose}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            self._streams[purpose] = rng
        return rng
