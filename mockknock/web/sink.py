"""The built-in webhook sink: where webhooks go when no --webhook-url is given.

It checks each delivery's signature as a careful receiver would and prints one readable line, so a
new user sees the whole flow in the terminal that runs ``mockknock serve``.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from mockknock import signing, strict_json
from mockknock.web.keys import CONSOLE, SIMULATION

SINK_PATH = "/__mockknock/sink"


def describe(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    event_type = str(event.get("type", "unknown"))
    if data.get("__typename") != "Message":
        return f"{event_type:<27} {data.get('id', '')}"
    recipient = data.get("recipient")
    if isinstance(recipient, dict):
        recipient = f"{recipient.get('collection')}/{recipient.get('id')}"
    channel = data.get("channel") or {}
    source = data.get("source") or {}
    extra = ""
    if event.get("event_data"):
        extra = "  " + ", ".join(f"{k}={v}" for k, v in event["event_data"].items() if k != "__typename")
    return (
        f"{event_type:<27} {data.get('id')}  {source.get('key')}/{source.get('step_ref')}  to {recipient}"
        f"  via {channel.get('type')}/{channel.get('provider')}  status={data.get('status')}{extra}"
    )


async def receive(request: web.Request) -> web.Response:
    sim = request.app[SIMULATION]
    body = await request.read()
    try:
        signing.verify(body, request.headers.get(signing.HEADER, ""), sim.secret)
        verdict = "signature ok"
    except signing.SignatureError as exc:
        verdict = f"SIGNATURE REJECTED: {exc}"
    try:
        event = strict_json.loads(body.decode("utf-8"))
        line = f"{describe(event)}  at {event.get('created_at')}"
    except (ValueError, AttributeError):  # NotJson and UnicodeDecodeError are ValueErrors
        line = f"unreadable body of {len(body)} bytes"
    request.app[CONSOLE].delivery(f"{time.strftime('%H:%M:%S')}  {line}  ({verdict})")
    return web.Response(status=204 if verdict == "signature ok" else 400)


def register(router: web.UrlDispatcher) -> None:
    router.add_post(SINK_PATH, receive)
