"""Reloads a scenario file when it changes; a bad edit keeps the last good scenario and reports why.

Polls the file's modification time and size (twice a second by default) rather than adding a file-watching
dependency: one stat call per poll is negligible, and it works the same on every platform and editor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from mockknock.errors import ScenarioError
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario

_log = logging.getLogger("mockknock.reloader")

Signature = tuple[int, int] | None


def _signature(path: Path) -> Signature:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


class ScenarioReloader:
    def __init__(
        self,
        path: Path,
        apply: Callable[[Scenario], None],
        report: Callable[[str], None],
        interval_s: float = 0.5,
    ) -> None:
        self.path = path
        self._apply = apply
        self._report = report
        self.interval_s = interval_s
        self._last: Signature = _signature(path)
        self.reloads = 0
        self.failures = 0

    def check(self) -> bool:
        """Reload if the file changed since the last check; True when a new scenario was applied."""
        current = _signature(self.path)
        if current == self._last:
            return False
        self._last = current
        if current is None:
            self.failures += 1
            self._report(f"scenario {self.path} disappeared; keeping the last good scenario")
            return False
        try:
            scenario = load_scenario(self.path)
        except ScenarioError as exc:
            self.failures += 1
            self._report(f"scenario {self.path} has errors; keeping the last good scenario:\n{exc}")
            return False
        except Exception as exc:  # a mockknock bug: the watch goes on, and the server with it
            _log.exception("reading scenario %s failed", self.path)
            self.failures += 1
            self._report(f"scenario {self.path} could not be read ({type(exc).__name__}: {exc}); keeping the "
                         "last good scenario")
            return False
        self._apply(scenario)
        self.reloads += 1
        self._report(f"scenario {self.path} reloaded: {scenario.name}")
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.check()
