"""Typed keys for what the aiohttp application and each request carry."""

from __future__ import annotations

from aiohttp import web

from mockknock.console import Console
from mockknock.outages import ApiFault
from mockknock.simulation import Simulation

SIMULATION = web.AppKey("simulation", Simulation)
CONSOLE = web.AppKey("console", Console)
REQUEST_ID = web.RequestKey("request_id", str)
FAULT = web.RequestKey("fault", ApiFault)
