"""``GET /v1/messages``: Knock's filters and its cursor pagination over the stored messages.

Newest first, ``page_size`` 1-50 (default 50), opaque ``after``/``before`` cursors; the list envelope
is ``{"items": [...], "page_info": {"__typename": "PageInfo", "after", "before", "page_size"}}``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mockknock import strict_json
from mockknock.errors import FieldError, invalid_params
from mockknock.model import EngagementStatus, Message, MessageStatus

MAX_PAGE_SIZE = 50
MAX_MESSAGE_IDS = 50  # api.yml: message_ids "(max 50)"
_ENGAGEMENT_NAMES = frozenset(s.value for s in EngagementStatus)
_STATUS_NAMES = frozenset(s.value for s in MessageStatus)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NEGATABLE = frozenset({"seen", "read", "archived"})
Params = Mapping[str, Sequence[str]]
Predicate = Callable[[Message], bool]


@dataclass(frozen=True)
class Page:
    items: list[Message]
    after: str | None
    before: str | None
    page_size: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "items": [m.to_wire() for m in self.items],
            "page_info": {
                "__typename": "PageInfo",
                "after": self.after,
                "before": self.before,
                "page_size": self.page_size,
            },
        }


def _values(params: Params, name: str) -> list[str]:
    """Both ``status=a`` and the SDKs' bracket form ``status[]=a&status[]=b``."""
    return [*params.get(name, ()), *params.get(f"{name}[]", ())]


def _one(params: Params, name: str) -> str | None:
    values = _values(params, name)
    return values[-1] if values else None


def encode_cursor(message_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": message_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, name: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)["id"]
        if not isinstance(value, str):
            raise ValueError
        return value
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid_params([FieldError(name, "is not a cursor this API returned; pass page_info.after or "
                                               "page_info.before from a previous page")]) from None


def _engagement_filter(values: list[str], problems: list[FieldError]) -> Predicate:
    """Any of the values: ``read`` wants read messages, ``unread`` wants messages not read."""
    wanted: list[tuple[str, bool]] = []
    for value in values:
        base = value.removeprefix("un")
        if value in _ENGAGEMENT_NAMES:
            wanted.append((value, True))
        elif value.startswith("un") and base in _NEGATABLE:
            wanted.append((base, False))
        else:
            choices = ", ".join(sorted({*_ENGAGEMENT_NAMES, *(f"un{n}" for n in _NEGATABLE)}))
            problems.append(FieldError("engagement_status", f"must be one of {choices}, got {value!r}"))
    return lambda m: any((name in m.engagement_statuses()) is present for name, present in wanted)


def _time_filter(compare: Callable[[int, int], bool], bound: int) -> Predicate:
    return lambda m: bool(compare(m.inserted_at_us, bound))


def _timestamp(params: Params, name: str, problems: list[FieldError]) -> int | None:
    # The spec names the filter inserted_at.gt; both SDKs send it as inserted_at[gt]. Accept both.
    bracketed = name.replace(".", "[", 1) + "]" if "." in name else name
    text = _one(params, name) or _one(params, bracketed)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        problems.append(FieldError(name, f"must be an ISO-8601 timestamp such as 2026-01-01T00:00:00Z, got {text!r}"))
        return None
    return round(parsed.timestamp() * 1_000_000)


def _check_member_values(params: Params, problems: list[FieldError]) -> None:
    """The OpenAPI's limits on the plain filters: an enum, a count and a format."""
    unknown = [v for v in _values(params, "status") if v not in _STATUS_NAMES]
    if unknown:
        choices = ", ".join(sorted(_STATUS_NAMES))
        problems.append(FieldError("status", f"must be one of {choices}, got {unknown[0]!r}"))
    ids = _values(params, "message_ids")
    if len(ids) > MAX_MESSAGE_IDS:
        problems.append(FieldError("message_ids", f"takes at most {MAX_MESSAGE_IDS} ids, got {len(ids)}"))
    malformed = [v for v in _values(params, "workflow_run_id") if not _UUID.fullmatch(v)]
    if malformed:
        problems.append(FieldError("workflow_run_id",
                                   f"must be a UUID (a trigger's workflow_run_id), got {malformed[0]!r}"))


def build_filters(params: Params) -> tuple[list[Predicate], int]:
    problems: list[FieldError] = []
    predicates: list[Predicate] = []
    size_text = _one(params, "page_size")
    page_size = MAX_PAGE_SIZE
    if size_text is not None:
        if not (size_text.isascii() and size_text.isdigit()) or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            problems.append(FieldError("page_size", f"must be an integer from 1 to {MAX_PAGE_SIZE}, got {size_text!r}"))
        else:
            page_size = int(size_text)

    def member(name: str, get: Callable[[Message], str | None]) -> None:
        wanted = set(_values(params, name))
        if wanted:
            predicates.append(lambda m: get(m) in wanted)

    _check_member_values(params, problems)
    member("status", lambda m: m.status.value)
    member("channel_id", lambda m: m.channel.id)
    member("tenant", lambda m: m.tenant)
    member("source", lambda m: m.source.workflow)
    member("workflow_run_id", lambda m: m.source.workflow_run_id)
    member("workflow_recipient_run_id", lambda m: m.recipient_run_id)
    member("message_ids", lambda m: m.id)
    engagement = _values(params, "engagement_status")
    if engagement:
        predicates.append(_engagement_filter(engagement, problems))
    categories = set(_values(params, "workflow_categories"))
    if categories:
        predicates.append(lambda m: bool(categories & set(m.source.categories)))
    trigger_data = _one(params, "trigger_data")
    if trigger_data is not None:
        expected = 'must be a JSON object such as {"project_id": "p1"}'
        try:
            wanted_data = strict_json.loads(trigger_data)
        except strict_json.NotJson as exc:
            problems.append(FieldError("trigger_data", f"{expected}; it is not valid JSON: {exc}"))
        else:
            if isinstance(wanted_data, dict):
                predicates.append(lambda m: all((m.data or {}).get(k) == v for k, v in wanted_data.items()))
            else:
                problems.append(FieldError("trigger_data", expected))
    for suffix, compare in (("gt", operator.gt), ("gte", operator.ge), ("lt", operator.lt), ("lte", operator.le)):
        bound = _timestamp(params, f"inserted_at.{suffix}", problems)
        if bound is not None:
            predicates.append(_time_filter(compare, bound))
    if problems:
        raise invalid_params(problems)
    return predicates, page_size


def list_messages(messages: Iterable[Message], params: Params) -> Page:
    """A page of the messages that match, newest first. A cursor names a message and the page starts next
    to it in the order of all messages, so it stays good when its message stops matching the filters (an
    app that walks ``engagement_status=unread`` and marks each page read, say)."""
    predicates, page_size = build_filters(params)
    ordered = list(messages)
    ordered.reverse()  # newest first
    matching = [i for i, m in enumerate(ordered) if all(p(m) for p in predicates)]
    after, before = _one(params, "after"), _one(params, "before")
    if after is not None:
        start = bisect.bisect_right(matching, _position(ordered, decode_cursor(after, "after"), "after"))
        end = start + page_size
    elif before is not None:
        end = bisect.bisect_left(matching, _position(ordered, decode_cursor(before, "before"), "before"))
        start = max(0, end - page_size)
    else:
        start, end = 0, page_size
    items = [ordered[i] for i in matching[start:end]]
    next_cursor = encode_cursor(items[-1].id) if items and end < len(matching) else None
    prev_cursor = encode_cursor(items[0].id) if items and start > 0 else None
    return Page(items, next_cursor, prev_cursor, page_size)


def _position(messages: list[Message], message_id: str, name: str) -> int:
    for index, message in enumerate(messages):
        if message.id == message_id:
            return index
    raise invalid_params([FieldError(name, f"the cursor's message {message_id!r} is gone (the mock was reset); "
                                           "start again without a cursor")])
