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
from typing import Any

from mockknock.errors import SchemaViolation
from mockknock.model import Event, EventData, EventType, body_bytes, envelope
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
        self._bodies = _Bodies(schemas, validate)
        self.outbox = outbox
        self._seq = 0

    @property
    def violations(self) -> list[str]:
        """Bodies that failed their schema: mockknock bugs, kept so the control plane and tests show them."""
        return self._bodies.violations

    def reset(self) -> None:
        self._seq = 0
        self._bodies.violations.clear()

    def emit(
        self,
        event_type: EventType,
        created_at_us: int,
        data: EventData,
        event_data: dict[str, Any] | None,
        subject_id: str,
        summary: str,
    ) -> Event:
        """``data`` is the object the event carries, or a function that builds it as it was at emission."""
        if self._strict:  # a body that fails raises here, before it takes a number
            body = self._bodies.build(event_type, created_at_us, data, event_data, subject_id)
            self._seq += 1
            event = Event(self._seq, event_type, created_at_us, body, subject_id, summary)
        else:
            self._seq += 1
            event = Event(self._seq, event_type, created_at_us, None, subject_id, summary, self._bodies, data,
                          event_data)
        self._store.record_event(event)
        self.outbox(event)
        return event


class _Bodies:
    """Builds, checks and serialises bodies. Holds no store: unbuilt events that point here form no cycle."""

    def __init__(self, schemas: SchemaRegistry, validate: bool) -> None:
        self._schemas = schemas
        self._validate = validate
        self.violations: list[str] = []

    def build(
        self, event_type: EventType, created_at_us: int, data: EventData, event_data: dict[str, Any] | None,
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
