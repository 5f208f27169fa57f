"""Everything one server remembers, in one object that ``reset()`` empties.

Messages are kept in insertion order (which is ``inserted_at`` order) for listing; events and delivery
attempts are kept in bounded logs so a long ``serve`` session does not grow without end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mockknock.model import DeliveryAttempt, Event, Message, RecipientRun


@dataclass
class WorkflowRunRecord:
    """A trigger as accepted: its recipient runs, and why it produced nothing if it did not."""

    id: str
    workflow: str
    accepted_at_us: int
    request_id: str
    recipient_runs: list[RecipientRun] = field(default_factory=list)
    dropped_reason: str | None = None
    # The body a dropped trigger carried, so it can be listed and sent again.
    dropped_body: dict[str, Any] | None = None


class Store:
    def __init__(self, event_log_size: int = 10_000, delivery_log_size: int = 10_000) -> None:
        self._event_log_size = event_log_size
        self._delivery_log_size = delivery_log_size
        self.reset()

    def reset(self) -> None:
        self.messages: dict[str, Message] = {}
        self.runs: dict[str, WorkflowRunRecord] = {}
        self.recipient_runs: dict[str, RecipientRun] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.tenants: dict[str, dict[str, Any]] = {}
        self._by_cancellation: dict[tuple[str, str], list[RecipientRun]] = {}
        self.events: deque[Event] = deque(maxlen=self._event_log_size)
        self.deliveries: deque[DeliveryAttempt] = deque(maxlen=self._delivery_log_size)
        self.events_emitted = 0
        self.attempts_made = 0

    def add_message(self, message: Message) -> None:
        self.messages[message.id] = message

    def add_run(self, run: WorkflowRunRecord) -> None:
        self.runs[run.id] = run
        for recipient_run in run.recipient_runs:
            self.recipient_runs[recipient_run.id] = recipient_run
            if recipient_run.cancellation_key is not None:
                key = (recipient_run.workflow, recipient_run.cancellation_key)
                self._by_cancellation.setdefault(key, []).append(recipient_run)

    def record_event(self, event: Event) -> None:
        self.events.append(event)
        self.events_emitted += 1

    def record_attempt(self, attempt: DeliveryAttempt) -> None:
        self.deliveries.append(attempt)
        self.attempts_made += 1

    def runs_to_cancel(self, workflow: str, cancellation_key: str) -> list[RecipientRun]:
        return list(self._by_cancellation.get((workflow, cancellation_key), ()))
