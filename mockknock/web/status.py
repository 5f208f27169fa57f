"""Knock's public status page, Statuspage-style, reflecting the simulation at this moment.

GET /api/v2/status.json                          overall indicator and description
GET /api/v2/summary.json                         page, components, unresolved incidents, scheduled maintenances
GET /api/v2/components.json                      every component (providers in a group)
GET /api/v2/incidents.json                       the 50 most recent incidents, resolved ones too
GET /api/v2/incidents/unresolved.json            incidents not yet resolved
GET /api/v2/scheduled-maintenances.json          every scheduled maintenance
GET /api/v2/scheduled-maintenances/upcoming.json maintenances not yet begun
GET /api/v2/scheduled-maintenances/active.json   maintenances in progress
GET /status                                      the same for people (refreshes every 5 seconds)

Public, as Statuspage is: no API key (the middleware checks keys only under /v1).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mockknock.statuspage import StatusPage
from mockknock.web.keys import SIMULATION
from mockknock.web.responses import json_response

API = "/api/v2"
HTML_PATH = "/status"
# Statuspage's public API is read from browsers (widgets, banners) on other origins.
_HEADERS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}


def _page(request: web.Request) -> StatusPage:
    sim = request.app[SIMULATION]
    return StatusPage(sim.outages, sim.clock.now_us())


def _json(payload: dict[str, Any]) -> web.Response:
    return json_response(payload, headers=dict(_HEADERS))


async def status(request: web.Request) -> web.Response:
    return _json(_page(request).status_document())


async def summary(request: web.Request) -> web.Response:
    return _json(_page(request).summary_document())


async def components(request: web.Request) -> web.Response:
    return _json(_page(request).components_document())


async def incidents(request: web.Request) -> web.Response:
    return _json(_page(request).incidents_document())


async def unresolved(request: web.Request) -> web.Response:
    return _json(_page(request).incidents_document(unresolved_only=True))


async def maintenances(request: web.Request) -> web.Response:
    return _json(_page(request).maintenances_document("all"))


async def upcoming_maintenances(request: web.Request) -> web.Response:
    return _json(_page(request).maintenances_document("upcoming"))


async def active_maintenances(request: web.Request) -> web.Response:
    return _json(_page(request).maintenances_document("active"))


async def page(request: web.Request) -> web.Response:
    return web.Response(text=_page(request).render_html(), content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


def register(router: web.UrlDispatcher) -> None:
    router.add_get(f"{API}/status.json", status)
    router.add_get(f"{API}/summary.json", summary)
    router.add_get(f"{API}/components.json", components)
    router.add_get(f"{API}/incidents.json", incidents)
    router.add_get(f"{API}/incidents/unresolved.json", unresolved)
    router.add_get(f"{API}/scheduled-maintenances.json", maintenances)
    router.add_get(f"{API}/scheduled-maintenances/upcoming.json", upcoming_maintenances)
    router.add_get(f"{API}/scheduled-maintenances/active.json", active_maintenances)
    router.add_get(HTML_PATH, page)
