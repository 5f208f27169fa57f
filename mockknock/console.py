"""What mockknock prints to the terminal: start-up banner lines and one line per sink delivery."""

from __future__ import annotations

import sys
from typing import TextIO


class Console:
    """``quiet`` (serve --quiet) silences the sink's delivery lines only: the banner (the port, the
    generated secret, the seed) and scenario reload reports are what a quiet run still needs to see."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream
        self.quiet = quiet

    def line(self, text: str) -> None:
        stream = self._stream or sys.stdout
        stream.write(text + "\n")
        stream.flush()

    def delivery(self, text: str) -> None:
        if not self.quiet:
            self.line(text)
