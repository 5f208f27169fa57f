"""JSON in and out of handlers, with Knock's error shapes for every way a body can be wrong."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from mockknock import errors, strict_json
from mockknock.errors import FieldError
from mockknock.schemas import SchemaRegistry


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(payload, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(error: errors.KnockApiError) -> web.Response:
    return json_response(error.to_wire(), status=error.status, headers=error.headers or None)


async def read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise errors.body_too_large(request.content_length, limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise errors.body_too_large(limit + 1, limit) from None


def parse_json_object(raw: bytes, what: str = "request body") -> dict[str, Any]:
    if not raw.strip():
        raise errors.invalid_json(f"the {what} is empty; send a JSON object")
    try:
        # Decode first: json.loads(bytes) would guess UTF-16/32 from the first bytes; Knock takes UTF-8.
        value = strict_json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise errors.invalid_json(f"the {what} is not UTF-8 (byte {exc.start} is invalid)") from None
    except strict_json.NotJson as exc:
        raise errors.invalid_json(str(exc)) from None
    if not isinstance(value, dict):
        raise errors.invalid_json(f"the {what} must be a JSON object, got {strict_json.kind(value)}")
    return value


def validated(schemas: SchemaRegistry, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` if it matches schema ``name``; otherwise a 422 naming every field that is wrong."""
    if schemas.is_valid(name, body):
        return body
    issues = schemas.issues(name, body)
    raise errors.invalid_params(
        [FieldError(issue.field or "body", issue.message, issue.keyword) for issue in issues]
    )
