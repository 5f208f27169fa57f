"""Turns a state change into a webhook event: Knock's envelope, serialised once, validated, logged.

The body is fixed here, at emission, so every delivery attempt (and every replay with the same seed)
sends the same bytes; only the signature header changes per attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
        data: dict[str, Any],
        event_data: dict[str, Any] | None,
        subject_id: str,
        summary: str,
    ) -> Event | None:
        body = envelope(event_type, created_at_us, data, event_data)
        if self._validate and not self._schemas.is_valid(f"events/{event_type.value}", body):
            problems = self._schemas.issues(f"events/{event_type.value}", body)
            text = f"{event_type.value} for {subject_id} does not match its schema: " + "; ".join(
                f"{p.pointer or '/'}: {p.message}" for p in problems
            )
            self.violations.append(text)
            _log.error("not sent (mockknock bug, please report): %s", text)
            if self._strict:
                raise SchemaViolation(text)
            return None
        self._seq += 1
        event = Event(self._seq, event_type, created_at_us, body_bytes(body), subject_id, summary)
        self._store.record_event(event)
        self.outbox(event)
        return event
