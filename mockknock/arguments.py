"""Value types for command-line arguments that more than one command takes."""

from __future__ import annotations

import argparse


def positive_int(raw: str) -> int:
    """A whole number of at least 1 (counts, attempts, concurrency)."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value
