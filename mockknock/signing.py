"""Knock's webhook signature, for mockknock and for your own tests.

Knock signs each webhook with ``x-knock-signature: t=<unix ms>,s=<base64 HMAC-SHA256>`` over
``"<t>.<raw body>"``, keyed by the webhook's signing secret as UTF-8. Neither official SDK ships a
verifier, so use :func:`verify` in your tests, or copy it into your app::

    from mockknock.signing import verify
    verify(request_body_bytes, request.headers["x-knock-signature"], secret)  # raises on mismatch
"""

from __future__ import annotations

import base64
import hmac
import time

HEADER = "x-knock-signature"
EVENT_HEADER = "x-knock-event"
ENVIRONMENT_HEADER = "x-knock-environment-id"
DEFAULT_TOLERANCE_MS = 5 * 60 * 1000


class SignatureError(ValueError):
    """The signature header is malformed, stale, or does not match the body."""


def compute(body: bytes, timestamp_ms: int, secret: str | bytes) -> str:
    """The ``s=`` part: base64 of HMAC-SHA256(secret, "<t>.<body>"); ``secret`` as text or its UTF-8 bytes."""
    key = secret.encode() if isinstance(secret, str) else secret
    # hmac.digest is OpenSSL's one-shot HMAC: no HMAC object per webhook.
    mac = hmac.digest(key, b"%d.%b" % (timestamp_ms, body), "sha256")
    return base64.b64encode(mac).decode()


def sign(body: bytes, secret: str | bytes, timestamp_ms: int | None = None) -> str:
    """The full ``x-knock-signature`` header value for ``body``, stamped now unless told otherwise."""
    t = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
    return f"t={t},s={compute(body, t, secret)}"


def webhook_headers(event_type: str, environment_id: str, signature: str) -> dict[str, str]:
    """The headers Knock sends with a webhook, given the ``x-knock-signature`` value from :func:`sign`."""
    return {
        "content-type": "application/json",
        EVENT_HEADER: event_type,
        ENVIRONMENT_HEADER: environment_id,
        HEADER: signature,
    }


def parse(header: str) -> tuple[int, str]:
    """Split a header value into (timestamp ms, signature); raises SignatureError on any other shape."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if set(parts) != {"t", "s"} or header.count(",") != 1:
        raise SignatureError(f"expected 't=<unix ms>,s=<base64>', got {header!r}")
    try:
        return int(parts["t"]), parts["s"]
    except ValueError:
        raise SignatureError(f"the t= part must be Unix milliseconds, got {parts['t']!r}") from None


def verify(
    body: bytes,
    header: str,
    secret: str,
    tolerance_ms: int | None = DEFAULT_TOLERANCE_MS,
    now_ms: int | None = None,
) -> int:
    """Check ``header`` against ``body`` (the raw bytes, before any JSON parsing).

    Returns the signed timestamp. Raises SignatureError if the header is malformed, the timestamp is
    further than ``tolerance_ms`` from now (pass None to skip that check), or the MAC differs.
    """
    timestamp_ms, signature = parse(header)
    if tolerance_ms is not None:
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if abs(now - timestamp_ms) > tolerance_ms:
            raise SignatureError(
                f"timestamp {timestamp_ms} is {abs(now - timestamp_ms)} ms from now; tolerance is {tolerance_ms} ms"
            )
    if not hmac.compare_digest(compute(body, timestamp_ms, secret), signature):
        raise SignatureError("signature does not match the body and secret")
    return timestamp_ms
