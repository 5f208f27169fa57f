"""Pure records of the simulation: what Knock calls things, and the state of each message and run.

Nothing here does I/O. Wire names live in the enums, verbatim, so no module spells them twice.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol


class EventType(enum.StrEnum):
    """Knock's documented outbound webhook event types."""

    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_DELIVERY_ATTEMPTED = "message.delivery_attempted"
    MESSAGE_UNDELIVERED = "message.undelivered"
    MESSAGE_BOUNCED = "message.bounced"
    MESSAGE_SEEN = "message.seen"
    MESSAGE_UNSEEN = "message.unseen"
    MESSAGE_READ = "message.read"
    MESSAGE_UNREAD = "message.unread"
    MESSAGE_ARCHIVED = "message.archived"
    MESSAGE_UNARCHIVED = "message.unarchived"
    MESSAGE_INTERACTED = "message.interacted"
    MESSAGE_LINK_CLICKED = "message.link_clicked"
    WORKFLOW_RECIPIENT_RUN_STARTED = "workflow_recipient_run.started"
    WORKFLOW_RECIPIENT_RUN_COMPLETED = "workflow_recipient_run.completed"
    WORKFLOW_RECIPIENT_RUN_ERROR = "workflow_recipient_run.error"
    WORKFLOW_UPDATED = "workflow.updated"
    WORKFLOW_COMMITTED = "workflow.committed"
    EMAIL_LAYOUT_UPDATED = "email_layout.updated"
    EMAIL_LAYOUT_COMMITTED = "email_layout.committed"
    TRANSLATION_UPDATED = "translation.updated"
    TRANSLATION_COMMITTED = "translation.committed"
    SOURCE_EVENT_ACTION_UPDATED = "source_event_action.updated"
    SOURCE_EVENT_ACTION_COMMITTED = "source_event_action.committed"
    PARTIAL_UPDATED = "partial.updated"
    PARTIAL_COMMITTED = "partial.committed"


class ChannelType(enum.StrEnum):
    EMAIL = "email"
    IN_APP_FEED = "in_app_feed"
    IN_APP_GUIDE = "in_app_guide"
    SMS = "sms"
    PUSH = "push"
    CHAT = "chat"
    HTTP = "http"


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    UNDELIVERED = "undelivered"
    NOT_SENT = "not_sent"
    BOUNCED = "bounced"


class EngagementStatus(enum.StrEnum):
    SEEN = "seen"
    READ = "read"
    INTERACTED = "interacted"
    LINK_CLICKED = "link_clicked"
    ARCHIVED = "archived"


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


def format_timestamp(epoch_us: int) -> str:
    """Knock's timestamp shape: ISO-8601 UTC, always six fractional digits, ``Z``."""
    # gmtime and an f-string: about a third of the cost of datetime.strftime, on every webhook's hot path.
    seconds, micros = divmod(epoch_us, 1_000_000)
    t = time.gmtime(seconds)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}."
            f"{micros:06d}Z")


def optional_timestamp(epoch_us: int | None) -> str | None:
    return None if epoch_us is None else format_timestamp(epoch_us)


# A recipient or actor as Knock references it: a user id, or (collection, id) for an object.
RecipientRef = str | tuple[str, str]


def recipient_to_wire(ref: RecipientRef) -> str | dict[str, str]:
    if isinstance(ref, str):
        return ref
    collection, ident = ref
    return {"id": ident, "collection": collection}


@dataclass(frozen=True, slots=True)
class Channel:
    """A configured channel: where a channel step sends, through which provider."""

    id: str
    key: str
    name: str
    type: ChannelType
    provider: str
    created_at_us: int
    # Built once: every message on this channel carries the same object, and every webhook about one
    # of them embeds it. Treat it as read-only; to_wire() hands out copies.
    _wire: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        stamp = format_timestamp(self.created_at_us)
        object.__setattr__(self, "_wire", {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "provider": self.provider,
            "type": self.type.value,
            "created_at": stamp,
            "updated_at": stamp,
        })

    def to_wire(self) -> dict[str, Any]:
        return dict(self._wire)

    def shared_wire(self) -> dict[str, Any]:
        """The channel's wire form without a copy, for bodies that are serialised and dropped at once."""
        return self._wire


@dataclass(slots=True)
class RecipientRun:
    """One recipient's execution of a workflow run (Knock's WorkflowRecipientRun)."""

    id: str
    workflow_run_id: str
    workflow: str
    recipient: RecipientRef
    actor: RecipientRef | None
    tenant: str | None
    cancellation_key: str | None
    inserted_at_us: int
    updated_at_us: int
    status: RunStatus = RunStatus.QUEUED
    error_count: int = 0
    # Why a run ended without its events, for the run records ("cancelled", "dropped by outage ...").
    note: str | None = None
    # Scheduled steps not yet fired; the run is completed when this reaches zero.
    pending: int = 0

    @property
    def cancelled(self) -> bool:
        return self.status is RunStatus.CANCELLED

    def to_wire(self) -> dict[str, Any]:
        return {
            "__typename": "WorkflowRecipientRun",
            "id": self.id,
            "workflow_run_id": self.workflow_run_id,
            "workflow": self.workflow,
            "status": self.status.value,
            "recipient": recipient_to_wire(self.recipient),
            "actor": None if self.actor is None else recipient_to_wire(self.actor),
            "tenant": self.tenant,
            "error_count": self.error_count,
            "trigger_source": {"type": "api", "cancellation_key": self.cancellation_key},
            "inserted_at": format_timestamp(self.inserted_at_us),
            "updated_at": format_timestamp(self.updated_at_us),
        }


@dataclass(frozen=True, slots=True)
class MessageSource:
    """The parts of a message's ``source`` shared by every message of one step of one run."""

    workflow: str
    version_id: str
    categories: tuple[str, ...]
    step_ref: str
    workflow_run_id: str


_ENGAGEMENT_ORDER = tuple(EngagementStatus)
_NO_ENGAGEMENT: Mapping[EngagementStatus, int] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MessageState:
    """A message with the parts that change over its life as they were at one moment (an event's).
    Calling it gives the Message object as it was then: the data of an event whose body is built later."""

    message: Message
    status: MessageStatus
    engagement: Mapping[EngagementStatus, int]
    updated_at_us: int
    metadata: dict[str, Any] | None

    def __call__(self) -> dict[str, Any]:
        return self.message.to_wire(True, self)


@dataclass(slots=True)
class Message:
    """A Knock Message and its current state. Slotted and sharing run-level data to stay small in bulk."""

    id: str
    channel: Channel
    recipient: RecipientRef
    actors: tuple[RecipientRef, ...]
    source: MessageSource
    recipient_run_id: str
    tenant: str | None
    data: dict[str, Any] | None
    recipient_snapshot: dict[str, Any] | None
    inserted_at_us: int
    updated_at_us: int
    status: MessageStatus = MessageStatus.QUEUED
    # Engagement statuses accumulate; each maps to the time it was set (its ``*_at`` field).
    engagement: dict[EngagementStatus, int] = field(default_factory=dict)
    scheduled_at_us: int | None = None
    metadata: dict[str, Any] | None = None

    def engagement_statuses(self) -> list[str]:
        return [s.value for s in _ENGAGEMENT_ORDER if s in self.engagement]

    def snapshot(self) -> MessageState:
        """The changing parts now, for an event whose body is built later."""
        engaged = dict(self.engagement) if self.engagement else _NO_ENGAGEMENT
        return MessageState(self, self.status, engaged, self.updated_at_us, self.metadata)

    def to_wire(self, shared: bool = False, state: MessageState | None = None) -> dict[str, Any]:
        """Knock's Message object, as it is now or as ``state`` saw it. ``shared`` embeds the channel's own
        dict instead of a copy: for a webhook body, serialised at once and never changed."""
        if state is None:
            state = MessageState(self, self.status, self.engagement, self.updated_at_us, self.metadata)
        engaged = state.engagement
        source = self.source
        channel = self.channel.shared_wire() if shared else self.channel.to_wire()
        if engaged:
            statuses = [s.value for s in _ENGAGEMENT_ORDER if s in engaged]
            seen = optional_timestamp(engaged.get(EngagementStatus.SEEN))
            read = optional_timestamp(engaged.get(EngagementStatus.READ))
            interacted = optional_timestamp(engaged.get(EngagementStatus.INTERACTED))
            clicked = optional_timestamp(engaged.get(EngagementStatus.LINK_CLICKED))
            archived = optional_timestamp(engaged.get(EngagementStatus.ARCHIVED))
        else:  # most events: sent, delivered, bounced... before any engagement
            statuses, seen, read, interacted, clicked, archived = [], None, None, None, None, None
        inserted = format_timestamp(self.inserted_at_us)
        updated = inserted if state.updated_at_us == self.inserted_at_us else format_timestamp(state.updated_at_us)
        return {
            "__typename": "Message",
            "id": self.id,
            "channel_id": self.channel.id,
            "channel": channel,
            "recipient": recipient_to_wire(self.recipient),
            "actors": [recipient_to_wire(a) for a in self.actors],
            "status": state.status.value,
            "engagement_statuses": statuses,
            "seen_at": seen,
            "read_at": read,
            "interacted_at": interacted,
            "link_clicked_at": clicked,
            "clicked_at": clicked,
            "archived_at": archived,
            "scheduled_at": optional_timestamp(self.scheduled_at_us),
            "inserted_at": inserted,
            "updated_at": updated,
            "source": {
                "__typename": "NotificationSource",
                "key": source.workflow,
                "version_id": source.version_id,
                "categories": list(source.categories),
                "step_ref": source.step_ref,
                "type": "workflow",
                "workflow_run_id": source.workflow_run_id,
                "workflow_recipient_run_id": self.recipient_run_id,
            },
            "workflow": source.workflow,
            "tenant": self.tenant,
            "data": self.data,
            "metadata": state.metadata,
            "recipient_snapshot": self.recipient_snapshot,
        }


def envelope(
    event_type: EventType, created_at_us: int, data: dict[str, Any], event_data: dict[str, Any] | None
) -> dict[str, Any]:
    """Knock's webhook body, keys in Knock's order; ``event_data`` gains its ``__typename`` when present."""
    return {
        "__typename": "Event",
        "type": event_type.value,
        "created_at": format_timestamp(created_at_us),
        "data": data,
        "event_data": None if event_data is None else {"__typename": "EventData", **event_data},
    }


# json.dumps with these options would build a new encoder on every call; this one is stateless.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def body_bytes(body: Mapping[str, Any]) -> bytes:
    """The bytes a webhook body is sent as: compact JSON, UTF-8, keys in the body's order."""
    return _COMPACT.encode(body).encode()


EventData = dict[str, Any] | Callable[[], dict[str, Any]]


class BodyBuilder(Protocol):
    """Builds, checks and serialises an event's body (the emitter's); raises SchemaViolation."""

    def build(
        self, event_type: EventType, created_at_us: int, data: EventData, event_data: dict[str, Any] | None,
        subject_id: str,
    ) -> bytes: ...


class Event:
    """One webhook event. Its body is built, checked and serialised once, on first use (``body``), from
    what was captured at emission; so every attempt, and every replay with the same seed, sends the same
    bytes, and an event nobody reads (no endpoint wants it) costs no body at all. Until then it holds
    only what the body is built from: no closures, and nothing that leads back to the store holding it,
    so a backlog of unbuilt events is cheap for the garbage collector."""

    __slots__ = ("_body", "_builder", "_data", "_event_data", "created_at_us", "seq", "subject_id", "summary",
                 "type")

    def __init__(
        self,
        seq: int,
        type: EventType,
        created_at_us: int,
        body: bytes | None,
        subject_id: str,  # the message id (or run id) the event is about, for filters and logs
        summary: str,  # one human line for terminals and logs
        builder: BodyBuilder | None = None,
        data: EventData | None = None,
        event_data: dict[str, Any] | None = None,
    ) -> None:
        self.seq, self.type, self.created_at_us = seq, type, created_at_us
        self.subject_id, self.summary = subject_id, summary
        if body is None and (builder is None or data is None):
            raise ValueError("an event needs its body, or a builder and the data to build it from")
        self._body = body
        self._builder, self._data, self._event_data = builder, data, event_data

    @property
    def body(self) -> bytes:
        """The bytes sent; raises SchemaViolation (every time) if the body fails its schema."""
        if self._body is None:
            assert self._builder is not None and self._data is not None
            self._body = self._builder.build(self.type, self.created_at_us, self._data, self._event_data,
                                             self.subject_id)
            self._builder = self._data = self._event_data = None
        return self._body

    @property
    def built(self) -> bool:
        return self._body is not None

    def __repr__(self) -> str:
        return f"Event(seq={self.seq}, type={self.type.value}, subject_id={self.subject_id!r})"


@dataclass(slots=True)
class DeliveryAttempt:
    """One POST of one event to one endpoint, as the delivery log keeps it."""

    event_seq: int
    event_type: EventType
    endpoint: str
    attempt: int
    started_at_wall_ms: int
    status: int | None
    error: str | None
    latency_ms: float
    final: bool  # no further attempt follows this one
    outage_id: str | None = None  # set when a simulated outage caused this failure on purpose
    error_kind: str | None = None  # transport.ErrorKind: timeout, connect, simulated or internal, when no answer
    response_excerpt: str | None = None  # the first bytes of the receiver's answer, for reports

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_wire(self) -> dict[str, Any]:
        return {
            "event_seq": self.event_seq,
            "event_type": self.event_type.value,
            "endpoint": self.endpoint,
            "attempt": self.attempt,
            "started_at_ms": self.started_at_wall_ms,
            "status": self.status,
            "error": self.error,
            "latency_ms": round(self.latency_ms, 3),
            "ok": self.ok,
            "final": self.final,
            "simulated_outage": self.outage_id,
            "error_kind": self.error_kind,
            "response_excerpt": self.response_excerpt,
        }
