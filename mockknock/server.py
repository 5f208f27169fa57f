"""MockKnockServer: one simulation behind one aiohttp site, started and stopped as a unit.

Used by ``mockknock serve``, by the pytest plugin and by tests; port 0 asks the OS for a free port
and ``.url`` reports the one it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiohttp import web

from mockknock.config import Settings
from mockknock.console import Console
from mockknock.errors import ConfigError
from mockknock.reloader import ScenarioReloader
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_default, load_scenario
from mockknock.schemas import SchemaRegistry
from mockknock.simulation import Simulation
from mockknock.web.app import create_app
from mockknock.web.sink import SINK_PATH


def load_configured_scenario(path: Path | None) -> Scenario:
    return load_default() if path is None else load_scenario(path)


class MockKnockServer:
    def __init__(
        self,
        settings: Settings,
        scenario: Scenario | None = None,
        console: Console | None = None,
        schemas: SchemaRegistry | None = None,
        strict: bool = False,
        watch_scenario: bool = False,
    ) -> None:
        self.settings = settings
        self._watch = watch_scenario and settings.scenario is not None
        self.reloader: ScenarioReloader | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self.console = console or Console(quiet=settings.quiet)
        self.simulation = Simulation(
            settings,
            scenario or load_configured_scenario(settings.scenario),
            # The bundled schemas are checked against the metaschema by the test suite, not at every start.
            schemas or SchemaRegistry.load(check=False),
            strict=strict,
        )
        self.app = create_app(self.simulation, self.console)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started")
        host = self.settings.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    @property
    def sink_url(self) -> str:
        return self.url + SINK_PATH

    async def start(self) -> None:
        access_log = logging.getLogger("aiohttp.access") if self.settings.access_log else None
        self._runner = web.AppRunner(self.app, access_log=access_log, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ConfigError(
                f"cannot listen on {self.settings.host}:{self.settings.port}: {exc.strerror}. "
                "Pick another --port (0 picks a free one)."
            ) from None
        self.port = int(self._runner.addresses[0][1])
        # Accepting first, then compiling the trigger schema (and importing what inlining needs): start-up is
        # shorter, and the first trigger does not pay for it.
        asyncio.get_running_loop().call_soon(self._warm_up)
        self.simulation.sink_url = self.sink_url
        self.simulation.delivery.endpoints = self.simulation.endpoints()
        if self._watch and self.settings.scenario is not None:
            self.reloader = ScenarioReloader(self.settings.scenario, self.simulation.use_scenario, self.console.line)
            self._reload_task = asyncio.get_running_loop().create_task(self.reloader.run())

    def _warm_up(self) -> None:
        try:
            self.simulation.schemas.is_valid("trigger_request", {})
        except Exception:  # the first real trigger reports whatever this was, as a Knock-shaped error
            logging.getLogger("mockknock.server").debug("warming up the trigger schema failed", exc_info=True)

    async def stop(self) -> None:
        # Deliveries in flight (to the built-in sink on this very server, say) would otherwise hold the
        # shutdown for a whole delivery timeout while the server drops their requests.
        await self.simulation.delivery.cancel_all(restart=False)
        if self._reload_task is not None:
            self._reload_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload_task
            self._reload_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockKnockServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
