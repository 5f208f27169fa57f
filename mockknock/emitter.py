"""Turns a state change into a webhook event: Knock's envelope, validated, serialised once, logged.

What the body will say is fixed here, at emission (the message's changing parts are captured), so every
delivery attempt (and every replay with the same seed) sends the same bytes; only the signature header
changes per attempt. Strict (tests, fixtures): the body is built and checked at once and a violation
raises where the engine emitted it. Otherwise it is built on first use: in serve by the delivery worker
about to send it (building, checking and serialising is most of an event's cost, and it then happens
behind the API, see priority.py), in replay as the event is queued for delivery. An event no endpoint
wants is never built, so in serve a schema bug in such an event is not noticed either; every event is
still numbered and logged, and a body that fails its schema is never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from mockknock.errors import SchemaViolation
from mockknock.model import Event, EventType, body_bytes, envelope
from mockknock.schemas import SchemaRegistry
from mockknock.store import Store

Outbox = Callable[[Event], None]
_log = logging.getLogger("mockknock.emitter")


class Emitter:
    def __init__(
        self, store: Store, schemas: SchemaRegistry, validate: bool, outbox: Outbox, strict: bool = False
    ) -> None:
        self._store = store
        # strict: raise on a schema violation (tests), instead of logging it and not sending (serve).
        self._strict = strict
        self._schemas = schemas
        self._validate = validate
        self.outbox = outbox
        self._seq = 0
        # Bodies that failed their schema: mockknock bugs, kept so the control plane and tests show them.
        self.violations: list[str] = []

    def reset(self) -> None:
        self._seq = 0
        self.violations.clear()

    def emit(
        self,
        event_type: EventType,
        created_at_us: int,
        data: dict[str, Any] | Callable[[], dict[str, Any]],
        event_data: dict[str, Any] | None,
        subject_id: str,
        summary: str,
    ) -> Event:
        """``data`` is the object the event carries, or a function that builds it as it was at emission."""
        self._seq += 1
        build = partial(self._body, event_type, created_at_us, data, event_data, subject_id)
        event = Event(self._seq, event_type, created_at_us, build() if self._strict else build, subject_id, summary)
        self._store.record_event(event)
        self.outbox(event)
        return event

    def _body(
        self,
        event_type: EventType,
        created_at_us: int,
        data: dict[str, Any] | Callable[[], dict[str, Any]],
        event_data: dict[str, Any] | None,
        subject_id: str,
    ) -> bytes:
        body = envelope(event_type, created_at_us, data if isinstance(data, dict) else data(), event_data)
        if self._validate and not self._schemas.is_valid(f"events/{event_type.value}", body):
            problems = self._schemas.issues(f"events/{event_type.value}", body)
            text = f"{event_type.value} for {subject_id} does not match its schema: " + "; ".join(
                f"{p.pointer or '/'}: {p.message}" for p in problems
            )
            if text not in self.violations:
                self.violations.append(text)
                _log.error("not sent (mockknock bug, please report): %s", text)
            raise SchemaViolation(text)
        return body_bytes(body)
