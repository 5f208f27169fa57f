"""Knock's status page (status.knock.app, an Atlassian Statuspage) as the simulation would show it *now*.

Pure: every document is built from the outage list and one instant of the simulation clock, so the
same outages and the same instant always give the same bytes. The shapes are Statuspage's public v2
API (``/api/v2/status.json``, ``summary.json``, ``components.json``, ``incidents.json``,
``incidents/unresolved.json``, ``scheduled-maintenances*.json``); ``render_html`` is a small page in
the same spirit for people.

How the simulation maps onto Statuspage:

* components: Knock's own (``COMPONENT_NAMES`` order), then a "Third-party providers" group holding the
  providers, plus any other provider that has a visible outage; each status is ``Outages.status_of``.
* an outage that has begun is an incident (``investigating``, then ``resolved`` once its window ends);
  an ``under_maintenance`` outage is a scheduled maintenance instead (``scheduled``, ``in_progress``,
  ``completed``), shown before it begins too. Outages not yet begun, and ones cancelled before they began,
  appear nowhere else.
* the top-level status is Statuspage's: blended from the component statuses, raised to the impact of
  the worst unresolved incident when that is worse.
"""

from __future__ import annotations

import enum
import hashlib
import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mockknock.outages import COMPONENT_NAMES, PROVIDER_COMPONENTS, Component, Outage, Outages, Status, component_title

PAGE_NAME = "Knock"
PAGE_URL = "https://status.knock.app"
TIME_ZONE = "Etc/UTC"
PROVIDERS_GROUP = "Third-party providers"
# When the page and its components were made: a fixed instant, so every document is stable.
CREATED_US = 1_609_459_200_000_000  # 2021-01-01T00:00:00Z
# incidents.json lists the 50 most recent incidents, as Statuspage's does.
INCIDENT_LIMIT = 50
HISTORY_LIMIT = 20

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_IN_PROGRESS = "Scheduled maintenance is currently in progress. We will provide updates as necessary."
# Which scheduled maintenances a document lists.
Which = Literal["all", "upcoming", "active", "summary"]


def statuspage_id(kind: str, key: str) -> str:
    """A Statuspage-style id (12 lowercase base-36 characters), the same for the same kind and key."""
    value = int.from_bytes(hashlib.sha256(f"mockknock:{kind}:{key}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(12):
        value, digit = divmod(value, 36)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


PAGE_ID = statuspage_id("page", PAGE_URL)


def format_time(epoch_us: int) -> str:
    """Statuspage's timestamp shape: ISO-8601 UTC with milliseconds, ``Z``."""
    seconds, micros = divmod(epoch_us, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{micros // 1000:03d}Z"


class Indicator(enum.StrEnum):
    NONE = "none"
    MAINTENANCE = "maintenance"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


_INDICATOR_RANK = {Indicator.NONE: 0, Indicator.MAINTENANCE: 1, Indicator.MINOR: 2, Indicator.MAJOR: 3,
                   Indicator.CRITICAL: 4}
# Worst first, as Statuspage ranks component statuses (a group shows its worst child).
_STATUS_RANK = {Status.OPERATIONAL: 0, Status.UNDER_MAINTENANCE: 1, Status.DEGRADED_PERFORMANCE: 2,
                Status.PARTIAL_OUTAGE: 3, Status.MAJOR_OUTAGE: 4}
# An incident's impact is that of the worst status it puts its components in.
IMPACT = {Status.DEGRADED_PERFORMANCE: Indicator.MINOR, Status.PARTIAL_OUTAGE: Indicator.MAJOR,
          Status.MAJOR_OUTAGE: Indicator.CRITICAL, Status.UNDER_MAINTENANCE: Indicator.MAINTENANCE,
          Status.OPERATIONAL: Indicator.NONE}
# The top-level description when an unresolved incident's impact sets the indicator.
_IMPACT_DESCRIPTION = {Indicator.MINOR: "Minor Service Outage", Indicator.MAJOR: "Partial System Outage",
                       Indicator.CRITICAL: "Major Service Outage"}
STATUS_LABELS = {Status.OPERATIONAL: "Operational", Status.DEGRADED_PERFORMANCE: "Degraded Performance",
                 Status.PARTIAL_OUTAGE: "Partial Outage", Status.MAJOR_OUTAGE: "Major Outage",
                 Status.UNDER_MAINTENANCE: "Under Maintenance"}


def blend(statuses: list[Status]) -> tuple[Indicator, str]:
    """Statuspage's top-level status from its (non-group) component statuses."""
    if not statuses or all(s is Status.OPERATIONAL for s in statuses):
        return Indicator.NONE, "All Systems Operational"
    if len(statuses) == 1:
        return {
            Status.UNDER_MAINTENANCE: (Indicator.MAINTENANCE, "Service Under Maintenance"),
            Status.DEGRADED_PERFORMANCE: (Indicator.MINOR, "Partially Degraded Service"),
            Status.PARTIAL_OUTAGE: (Indicator.MAJOR, "Partial System Outage"),
            Status.MAJOR_OUTAGE: (Indicator.CRITICAL, "Major System Outage"),
        }[statuses[0]]
    present = set(statuses)
    if present == {Status.MAJOR_OUTAGE}:
        return Indicator.CRITICAL, "Major System Outage"
    if Status.MAJOR_OUTAGE in present or present == {Status.PARTIAL_OUTAGE}:
        return Indicator.MAJOR, "Partial System Outage"
    if Status.PARTIAL_OUTAGE in present:
        return Indicator.MINOR, "Minor Service Outage"
    if present == {Status.DEGRADED_PERFORMANCE}:
        return Indicator.MINOR, "Degraded System Service"
    if Status.DEGRADED_PERFORMANCE in present:
        return Indicator.MINOR, "Partially Degraded Service"
    return Indicator.MAINTENANCE, "Service Under Maintenance"


@dataclass(frozen=True)
class Update:
    status: str
    at_us: int
    body: str
    old_status: Status
    new_status: Status


class StatusPage:
    """Every status-page document for one set of outages at one instant ``now_us``."""

    def __init__(self, outages: Outages, now_us: int, url: str = PAGE_URL) -> None:
        self.outages = outages
        self.now = now_us
        self.url = url
        # Cancelled before they began (start == end): they never happened.
        happened = [o for o in outages.items if o.start_us < o.end_us]
        self._incidents = sorted(
            (o for o in happened if o.status is not Status.UNDER_MAINTENANCE and o.start_us <= now_us),
            key=_newest_first,
        )
        self._maintenances = sorted((o for o in happened if o.status is Status.UNDER_MAINTENANCE),
                                    key=_newest_first)
        self._leaf_keys: list[str] = []  # every non-group component, in page order
        self._components = self._build_components()

    # ---- components -------------------------------------------------------------------------------

    def _extra_providers(self) -> list[str]:
        known = {c.value for c in Component}
        visible = [*self._incidents, *self._maintenances]
        return sorted({o.component for o in visible if o.component not in known}, key=str.lower)

    def _changed_at(self, component: str) -> int:
        """When the component's status last changed (a window opening or closing), or its creation."""
        edges = [edge for o in self.outages.items if o.component == component and o.start_us < o.end_us
                 for edge in (o.start_us, o.end_us) if edge <= self.now]
        return max([CREATED_US, *edges])

    def _leaf(self, component: str, position: int, group_id: str | None) -> dict[str, Any]:
        return {
            "id": statuspage_id("component", component),
            "name": component_title(component),
            "status": self.outages.status_of(component, self.now).value,
            "created_at": format_time(CREATED_US),
            "updated_at": format_time(self._changed_at(component)),
            "position": position,
            "description": None,
            "showcase": group_id is None,
            "start_date": None,
            "group_id": group_id,
            "page_id": PAGE_ID,
            "group": False,
            "only_show_if_degraded": False,
        }

    def _build_components(self) -> list[dict[str, Any]]:
        knock = [c for c in COMPONENT_NAMES if c not in PROVIDER_COMPONENTS]
        providers = [c.value for c in COMPONENT_NAMES if c in PROVIDER_COMPONENTS] + self._extra_providers()
        self._leaf_keys = [*(c.value for c in knock), *providers]
        top = [self._leaf(c.value, i, None) for i, c in enumerate(knock, start=1)]
        group_id = statuspage_id("group", PROVIDERS_GROUP)
        children = [self._leaf(p, i, group_id) for i, p in enumerate(providers, start=1)]
        worst = max((Status(c["status"]) for c in children), key=lambda s: _STATUS_RANK[s])
        group = {
            "id": group_id,
            "name": PROVIDERS_GROUP,
            "status": worst.value,
            "created_at": format_time(CREATED_US),
            "updated_at": max(c["updated_at"] for c in children),
            "position": len(top) + 1,
            "description": None,
            "showcase": False,
            "start_date": None,
            "group_id": None,
            "page_id": PAGE_ID,
            "group": True,
            "only_show_if_degraded": False,
            "components": [c["id"] for c in children],
        }
        return [*top, group, *children]

    def components(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self._components]

    def _component(self, component: str) -> dict[str, Any]:
        wanted = statuspage_id("component", component)
        return next(dict(c) for c in self._components if c["id"] == wanted)

    # ---- top level ----------------------------------------------------------------------------------

    def page(self) -> dict[str, Any]:
        times = [self._changed_at(c) for c in self._leaf_keys]
        return {"id": PAGE_ID, "name": PAGE_NAME, "url": self.url, "time_zone": TIME_ZONE,
                "updated_at": format_time(max(times))}

    def indicator(self) -> tuple[Indicator, str]:
        leaves = [Status(c["status"]) for c in self._components if not c["group"]]
        indicator, description = blend(leaves)
        worst = max((IMPACT[o.status] for o in self._incidents if o.end_us > self.now),
                    key=lambda i: _INDICATOR_RANK[i], default=Indicator.NONE)
        if _INDICATOR_RANK[worst] > _INDICATOR_RANK[indicator]:
            return worst, _IMPACT_DESCRIPTION[worst]
        return indicator, description

    def status(self) -> dict[str, str]:
        indicator, description = self.indicator()
        return {"indicator": indicator.value, "description": description}

    # ---- incidents ----------------------------------------------------------------------------------

    def _incident_updates(self, outage: Outage) -> list[Update]:
        updates = [Update("investigating", outage.start_us, f"We are investigating {outage.title}.",
                          Status.OPERATIONAL, outage.status)]
        if outage.end_us <= self.now:
            updates.append(Update("resolved", outage.end_us, "This incident has been resolved.",
                                  outage.status, Status.OPERATIONAL))
        return updates

    def _maintenance_updates(self, outage: Outage) -> list[Update]:
        updates = [Update("scheduled", outage.start_us,
                          "We will be undergoing scheduled maintenance during this time.",
                          Status.OPERATIONAL, Status.OPERATIONAL)]
        if outage.start_us <= self.now:
            updates.append(Update("in_progress", outage.start_us, _IN_PROGRESS,
                                  Status.OPERATIONAL, Status.UNDER_MAINTENANCE))
        if outage.end_us <= self.now:
            updates.append(Update("completed", outage.end_us, "The scheduled maintenance has been completed.",
                                  Status.UNDER_MAINTENANCE, Status.OPERATIONAL))
        return updates

    def _document(self, outage: Outage, kind: str, updates: list[Update], impact: Indicator) -> dict[str, Any]:
        incident_id = statuspage_id(kind, outage.id)
        component = self._component(outage.component)
        ended = outage.end_us <= self.now
        return {
            "id": incident_id,
            "name": outage.title,
            "status": updates[-1].status,
            "created_at": format_time(outage.start_us),
            "updated_at": format_time(updates[-1].at_us),
            "monitoring_at": None,
            "resolved_at": format_time(outage.end_us) if ended else None,
            "impact": impact.value,
            "shortlink": f"https://stspg.io/{statuspage_id('shortlink', incident_id)[:8]}",
            "started_at": format_time(outage.start_us),
            "page_id": PAGE_ID,
            # Newest first, as Statuspage lists them.
            "incident_updates": [
                {
                    "id": statuspage_id("update", f"{incident_id}:{u.status}"),
                    "status": u.status,
                    "body": u.body,
                    "incident_id": incident_id,
                    "created_at": format_time(u.at_us),
                    "updated_at": format_time(u.at_us),
                    "display_at": format_time(u.at_us),
                    "affected_components": [{"code": component["id"], "name": component["name"],
                                             "old_status": u.old_status.value, "new_status": u.new_status.value}],
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
                for u in reversed(updates)
            ],
            "components": [component],
        }

    def _incident(self, outage: Outage) -> dict[str, Any]:
        return self._document(outage, "incident", self._incident_updates(outage), IMPACT[outage.status])

    def incidents(self, unresolved_only: bool = False) -> list[dict[str, Any]]:
        """Incidents newest first; all of them (up to 50), or only those not yet resolved."""
        chosen = [o for o in self._incidents if not unresolved_only or o.end_us > self.now]
        return [self._incident(o) for o in chosen[:INCIDENT_LIMIT]]

    def _maintenance(self, outage: Outage) -> dict[str, Any]:
        found = self._document(outage, "maintenance", self._maintenance_updates(outage), Indicator.MAINTENANCE)
        found["scheduled_for"] = format_time(outage.start_us)
        found["scheduled_until"] = format_time(outage.end_us)
        return found

    def _shown(self, outage: Outage, which: Which) -> bool:
        if which == "upcoming":
            return outage.start_us > self.now
        if which == "active":
            return outage.active(self.now)
        if which == "summary":
            return outage.end_us > self.now
        return True

    def scheduled_maintenances(self, which: Which = "all") -> list[dict[str, Any]]:
        """``all`` (newest first), ``upcoming`` (not begun), ``active`` (in progress) or ``summary`` (both)."""
        return [self._maintenance(o) for o in self._maintenances if self._shown(o, which)]

    # ---- documents, as the endpoints serve them -------------------------------------------------------

    def status_document(self) -> dict[str, Any]:
        return {"page": self.page(), "status": self.status()}

    def summary_document(self) -> dict[str, Any]:
        return {
            "page": self.page(),
            "components": self.components(),
            "incidents": self.incidents(unresolved_only=True),
            "scheduled_maintenances": self.scheduled_maintenances("summary"),
            "status": self.status(),
        }

    def components_document(self) -> dict[str, Any]:
        return {"page": self.page(), "components": self.components()}

    def incidents_document(self, unresolved_only: bool = False) -> dict[str, Any]:
        return {"page": self.page(), "incidents": self.incidents(unresolved_only)}

    def maintenances_document(self, which: Which = "all") -> dict[str, Any]:
        return {"page": self.page(), "scheduled_maintenances": self.scheduled_maintenances(which)}

    # ---- the page for people ---------------------------------------------------------------------------

    def render_html(self) -> str:
        return _render(self)


def _newest_first(outage: Outage) -> tuple[int, int]:
    number = outage.id.rpartition("_")[2]
    return -outage.start_us, -(int(number) if number.isdigit() else 0)


STATUS_COLOURS = {Status.OPERATIONAL: "#2fcc66", Status.DEGRADED_PERFORMANCE: "#f1c40f",
                  Status.PARTIAL_OUTAGE: "#e67e22", Status.MAJOR_OUTAGE: "#e74c3c",
                  Status.UNDER_MAINTENANCE: "#3498db"}
INDICATOR_COLOURS = {Indicator.NONE: "#2fcc66", Indicator.MINOR: "#f1c40f", Indicator.MAJOR: "#e67e22",
                     Indicator.CRITICAL: "#e74c3c", Indicator.MAINTENANCE: "#3498db"}
_IMPACT_COLOURS = {"none": "#333333", "minor": "#f1c40f", "major": "#e67e22", "critical": "#e74c3c",
                   "maintenance": "#3498db"}

_STYLE = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;color:#333;
margin:0 auto;max-width:860px;padding:24px;background:#f8f8f8}
h1{font-size:26px;margin:0 0 20px}h2{font-size:19px;margin:32px 0 10px}
.banner{color:#fff;font-size:20px;font-weight:600;padding:16px 20px;border-radius:4px}
.box{background:#fff;border:1px solid #e0e0e0;border-radius:4px}
.row{display:flex;justify-content:space-between;padding:12px 16px;border-top:1px solid #eee}
.row:first-child{border-top:0}.child{padding-left:36px}.group{font-weight:600}
.status{font-weight:600}.incident{padding:14px 16px;border-top:1px solid #eee}
.incident:first-child{border-top:0}.incident h3{margin:0 0 8px;font-size:16px}
.update{margin:6px 0;font-size:14px}.when{color:#888;font-size:12px}.none{color:#888;padding:12px 16px}
footer{margin-top:32px;color:#888;font-size:13px}
""".strip()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _component_rows(page: StatusPage) -> str:
    rows = []
    for c in page.components():
        status = Status(c["status"])
        css = " group" if c["group"] else " child" if c["group_id"] else ""
        rows.append(
            f'<div class="row{css}"><span>{_e(c["name"])}</span>'
            f'<span class="status" style="color:{STATUS_COLOURS[status]}">{_e(STATUS_LABELS[status])}</span></div>'
        )
    return "\n".join(rows)


def _incident_block(incident: dict[str, Any]) -> str:
    colour = _IMPACT_COLOURS.get(incident["impact"], "#333333")
    updates = "\n".join(
        f'<div class="update"><strong>{_e(u["status"].replace("_", " ").title())}</strong> - {_e(u["body"])} '
        f'<span class="when">{_e(u["display_at"])}</span></div>'
        for u in incident["incident_updates"]
    )
    affected = ", ".join(c["name"] for c in incident["components"])
    return (f'<div class="incident"><h3 style="color:{colour}">{_e(incident["name"])}</h3>'
            f'<div class="when">This affects: {_e(affected)}</div>\n{updates}</div>')


def _section(title: str, items: list[dict[str, Any]], empty: str) -> str:
    body = "\n".join(_incident_block(i) for i in items) if items else f'<div class="none">{_e(empty)}</div>'
    return f'<h2>{_e(title)}</h2>\n<div class="box">\n{body}\n</div>'


def _render(page: StatusPage) -> str:
    indicator, description = page.indicator()
    active = page.incidents(unresolved_only=True)
    maintenances = page.scheduled_maintenances("summary")
    history = [i for i in page.incidents() if i["status"] == "resolved"]
    history += [m for m in page.scheduled_maintenances("all") if m["status"] == "completed"]
    history.sort(key=lambda i: i["resolved_at"] or "", reverse=True)
    now = format_time(page.now)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="refresh" content="5">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(PAGE_NAME)} Status</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_e(PAGE_NAME)} Status</h1>",
        f'<div class="banner" data-indicator="{_e(indicator.value)}" '
        f'style="background:{INDICATOR_COLOURS[indicator]}">{_e(description)}</div>',
        _section("Active incidents", active, "No incidents reported."),
        _section("Scheduled maintenance", maintenances, "No scheduled maintenance."),
        "<h2>Components</h2>",
        f'<div class="box">\n{_component_rows(page)}\n</div>',
        _section("Recent history", history[:HISTORY_LIMIT], "No incidents or maintenance yet."),
        f"<footer>Simulated by mockknock at {_e(now)} (simulated time). "
        f'JSON: <a href="/api/v2/summary.json">/api/v2/summary.json</a></footer>',
        "</body></html>",
        "",
    ])

