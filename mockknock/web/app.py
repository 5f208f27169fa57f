"""The aiohttp application: Knock's API, the control plane and the sink over one Simulation."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from mockknock.console import Console
from mockknock.simulation import Simulation
from mockknock.web import api, control, sink, status
from mockknock.web.keys import CONSOLE, SIMULATION
from mockknock.web.middleware import knock_context


def create_app(simulation: Simulation, console: Console) -> web.Application:
    app = web.Application(middlewares=[knock_context], client_max_size=simulation.settings.max_body_bytes)
    app[SIMULATION] = simulation
    app[CONSOLE] = console
    api.register(app.router)
    control.register(app.router)
    sink.register(app.router)
    status.register(app.router)
    app.cleanup_ctx.append(_simulation_lifetime)
    return app


async def _simulation_lifetime(app: web.Application) -> AsyncIterator[None]:
    # The delivery session and the timeline live exactly as long as the app. Endpoints are set by the
    # server once it knows its port, because the built-in sink's URL depends on it.
    simulation = app[SIMULATION]
    await simulation.start(())
    yield
    await simulation.stop()
