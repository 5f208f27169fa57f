"""Around every request: a request id, Knock's API-key check, and Knock-shaped errors for everything.

No traceback ever reaches a client: an unexpected exception is logged with the request id and
answered as a 500 in Knock's shape, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from mockknock import errors
from mockknock.outages import EffectKind, api_fault
from mockknock.web.api import KNOCK_API_PREFIX, PUBLIC_KEY_ROUTES, TRIGGER_ROUTE
from mockknock.web.keys import FAULT, REQUEST_ID, SIMULATION
from mockknock.web.responses import error_response

_log = logging.getLogger("mockknock.web")


def check_api_key(request: web.Request) -> None:
    header = request.headers.get("Authorization")
    if header is None or not header.strip():
        raise errors.missing_api_key()
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise errors.malformed_api_key("expected 'Bearer <key>'")
    if key.startswith("sk_"):
        return
    if key.startswith("pk_"):
        route = request.match_info.route.resource
        canonical = route.canonical if route is not None else request.path
        if (request.method, canonical) not in PUBLIC_KEY_ROUTES:
            raise errors.public_key_refused(request.method, request.path)
        return
    raise errors.malformed_api_key("Knock keys start with sk_ (secret) or pk_ (public)")


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> errors.KnockApiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return errors.method_not_allowed(request.method, request.path, list(exc.allowed_methods))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return errors.body_too_large(request.content_length or 0, request.app[SIMULATION].settings.max_body_bytes)
    if exc.status == 404:
        return errors.not_found(request.method, request.path)
    return errors.KnockApiError(exc.status, "http_error", "invalid_request_error", exc.reason)


async def _apply_fault(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run the handler under whatever a simulated API outage does to this request."""
    sim = request.app[SIMULATION]
    resource = request.match_info.route.resource
    is_trigger = resource is not None and resource.canonical == TRIGGER_ROUTE
    fault = api_fault(sim.outages, sim.clock.now_us(), is_trigger)
    if fault is None:
        return await handler(request)
    request[FAULT] = fault
    outage = fault.outage
    if fault.kind is EffectKind.LATENCY:
        await asyncio.sleep(fault.delay_s)
        return await handler(request)
    if fault.kind is EffectKind.DROP:
        return await handler(request)  # the trigger handler drops it after answering as usual
    error = errors.simulated_outage(fault.status, outage.id, outage.title)
    error.headers.update(fault.headers)
    if fault.after_accept:
        response = await handler(request)
        if response.status >= 300:
            return response
        what = f"{request.method} {request.path} accepted, then answered {fault.status}"
    else:
        what = f"{request.method} {request.path} answered {fault.status}"
    sim.outages.record(sim.clock.now_us(), outage, what, request[REQUEST_ID])
    return error_response(error)


@web.middleware
async def knock_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.app[SIMULATION].next_request_id()
    request[REQUEST_ID] = request_id
    response: web.StreamResponse
    api_first = request.app[SIMULATION].api_first
    knock_api = request.path.startswith(KNOCK_API_PREFIX)
    if knock_api:  # not the control plane or the built-in sink: webhooks to the sink must not wait on themselves
        api_first.request_started()
    try:
        if knock_api:
            check_api_key(request)
            response = await _apply_fault(request, handler)
        else:
            response = await handler(request)
    except errors.KnockApiError as exc:
        response = error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http_exception(request, exc))
    except Exception:
        _log.exception("unexpected error in %s %s (request %s)", request.method, request.path, request_id)
        response = error_response(errors.internal_error(request_id))
    finally:
        if knock_api:
            api_first.request_finished()
    response.headers["x-request-id"] = request_id
    return response
