"""What mockknock prints to the terminal: start-up banner lines and one line per sink delivery."""

from __future__ import annotations

import sys
from typing import TextIO


class Console:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream
        self.quiet = quiet

    def line(self, text: str) -> None:
        if self.quiet:
            return
        stream = self._stream or sys.stdout
        stream.write(text + "\n")
        stream.flush()
