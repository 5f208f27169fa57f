"""The lifecycle language: what happens to a message, in order, with delays.

A lifecycle is a list of steps such as ``sent``, ``+2s delivered``, ``+1m~30s seen`` (one minute, give or
take thirty seconds), ``delivery_attempted x3``, ``bounced(hard_bounce)`` or ``link_clicked(https://x.io)``.
This module parses the text into records and knows which transitions Knock can make; it never runs them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from mockknock.duration import DurationError, parse_duration
from mockknock.model import ChannelType, EngagementStatus, EventType, MessageStatus


class Action(enum.StrEnum):
    """Every step a lifecycle may name. Status steps set ``status``; the rest toggle engagement."""

    SENT = "sent"
    DELIVERED = "delivered"
    DELIVERY_ATTEMPTED = "delivery_attempted"
    UNDELIVERED = "undelivered"
    BOUNCED = "bounced"
    NOT_SENT = "not_sent"
    SEEN = "seen"
    UNSEEN = "unseen"
    READ = "read"
    UNREAD = "unread"
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"
    INTERACTED = "interacted"
    LINK_CLICKED = "link_clicked"


STATUS_OF: dict[Action, MessageStatus] = {
    Action.SENT: MessageStatus.SENT,
    Action.DELIVERED: MessageStatus.DELIVERED,
    Action.DELIVERY_ATTEMPTED: MessageStatus.DELIVERY_ATTEMPTED,
    Action.UNDELIVERED: MessageStatus.UNDELIVERED,
    Action.BOUNCED: MessageStatus.BOUNCED,
    Action.NOT_SENT: MessageStatus.NOT_SENT,
}

# (engagement status, True to set it / False to clear it)
ENGAGEMENT_OF: dict[Action, tuple[EngagementStatus, bool]] = {
    Action.SEEN: (EngagementStatus.SEEN, True),
    Action.UNSEEN: (EngagementStatus.SEEN, False),
    Action.READ: (EngagementStatus.READ, True),
    Action.UNREAD: (EngagementStatus.READ, False),
    Action.ARCHIVED: (EngagementStatus.ARCHIVED, True),
    Action.UNARCHIVED: (EngagementStatus.ARCHIVED, False),
    Action.INTERACTED: (EngagementStatus.INTERACTED, True),
    Action.LINK_CLICKED: (EngagementStatus.LINK_CLICKED, True),
}

# not_sent is a message status Knock records but sends no webhook for.
EVENT_OF: dict[Action, EventType | None] = {
    Action.SENT: EventType.MESSAGE_SENT,
    Action.DELIVERED: EventType.MESSAGE_DELIVERED,
    Action.DELIVERY_ATTEMPTED: EventType.MESSAGE_DELIVERY_ATTEMPTED,
    Action.UNDELIVERED: EventType.MESSAGE_UNDELIVERED,
    Action.BOUNCED: EventType.MESSAGE_BOUNCED,
    Action.NOT_SENT: None,
    Action.SEEN: EventType.MESSAGE_SEEN,
    Action.UNSEEN: EventType.MESSAGE_UNSEEN,
    Action.READ: EventType.MESSAGE_READ,
    Action.UNREAD: EventType.MESSAGE_UNREAD,
    Action.ARCHIVED: EventType.MESSAGE_ARCHIVED,
    Action.UNARCHIVED: EventType.MESSAGE_UNARCHIVED,
    Action.INTERACTED: EventType.MESSAGE_INTERACTED,
    Action.LINK_CLICKED: EventType.MESSAGE_LINK_CLICKED,
}

UNDELIVERED_REASONS = ("fatal_error", "retries_exhausted")
DEFAULT_MAX_ATTEMPTS = 8

# The furthest delivery status each channel type can reach: push and chat providers report no
# delivery receipt, so Knock leaves them at sent.
CHANNEL_CAP: dict[ChannelType, MessageStatus] = {
    ChannelType.PUSH: MessageStatus.SENT,
    ChannelType.CHAT: MessageStatus.SENT,
}
# In-app and webhook-channel messages are delivered the moment they are sent: their message.sent already
# shows status "delivered", as Knock's own sample of it does (knock-reference.md, sections 1.1 and 3.1).
DELIVERED_WHEN_SENT = frozenset({ChannelType.IN_APP_FEED, ChannelType.IN_APP_GUIDE, ChannelType.HTTP})


def status_after(action: Action, channel_type: ChannelType) -> MessageStatus | None:
    """The delivery status a message shows after ``action``; None for engagement actions."""
    status = STATUS_OF.get(action)
    if status is MessageStatus.SENT and channel_type in DELIVERED_WHEN_SENT:
        return MessageStatus.DELIVERED
    return status


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    delay_us: int = 0
    jitter_us: int = 0
    repeat: int = 1
    argument: str | None = None

    def __str__(self) -> str:
        text = self.action.value
        if self.argument is not None:
            text += f"({self.argument})"
        if self.repeat != 1:
            text += f" x{self.repeat}"
        return text


class LifecycleError(ValueError):
    """A lifecycle step or sequence Knock could not produce; the text says which and why."""


_STEP = re.compile(
    r"^\s*(?:\+(?P<delay>[0-9.a-z]+)(?:~(?P<jitter>[0-9.a-z]+))?\s+)?"
    r"(?P<name>[a-z_]+)"
    r"(?:\((?P<arg>[^()]*)\))?"
    r"(?:\s+x(?P<repeat>\d+))?\s*$"
)


def parse_step(text: str) -> Step:
    match = _STEP.match(text)
    if match is None:
        raise LifecycleError(
            f"{text!r} is not a lifecycle step; write it like 'sent', '+2s delivered', "
            "'+1m~30s seen', 'bounced(hard_bounce)' or 'delivery_attempted x3'"
        )
    name = match["name"]
    try:
        action = Action(name)
    except ValueError:
        raise LifecycleError(f"unknown lifecycle step {name!r}") from None
    try:
        delay = parse_duration(match["delay"]) if match["delay"] else 0
        jitter = parse_duration(match["jitter"]) if match["jitter"] else 0
    except DurationError as exc:
        raise LifecycleError(f"{text!r}: {exc}") from None
    repeat = int(match["repeat"]) if match["repeat"] else 1
    argument = match["arg"].strip() if match["arg"] is not None else None
    if action is Action.DELIVERY_ATTEMPTED and argument is not None:
        argument = _max_attempts(argument, text)
    step = Step(action, delay, jitter, repeat, argument)
    _check_step(step)
    return step


def _max_attempts(argument: str, text: str) -> str | None:
    """delivery_attempted's argument, max_attempts: empty means the default, else a whole number of at least 1."""
    if not argument:
        return None
    if not re.fullmatch(r"\+?\d+", argument) or int(argument) < 1:
        raise LifecycleError(
            f"{text!r}: the argument is max_attempts, a whole number of at least 1, e.g. delivery_attempted(8) x3"
        )
    return str(int(argument))


def _check_step(step: Step) -> None:
    if step.repeat < 1:
        raise LifecycleError(f"{step}: repeat count must be at least 1")
    if step.repeat > 1 and step.action is not Action.DELIVERY_ATTEMPTED:
        raise LifecycleError(f"{step}: only delivery_attempted can repeat (x{step.repeat})")
    if step.action is Action.UNDELIVERED and step.argument not in (None, *UNDELIVERED_REASONS):
        raise LifecycleError(
            f"undelivered({step.argument}): Knock's failure_reason is one of {', '.join(UNDELIVERED_REASONS)}"
        )
    if step.action is Action.LINK_CLICKED and step.argument is not None and "://" not in step.argument:
        raise LifecycleError(f"link_clicked({step.argument}): the argument is the clicked URL, e.g. https://x.io")
    takes_argument = {Action.UNDELIVERED, Action.BOUNCED, Action.LINK_CLICKED, Action.DELIVERY_ATTEMPTED}
    if step.argument is not None and step.action not in takes_argument:
        raise LifecycleError(f"{step}: {step.action.value} takes no argument")


_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.DELIVERY_ATTEMPTED: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
}
_TERMINAL_FAILURES = {MessageStatus.UNDELIVERED, MessageStatus.BOUNCED, MessageStatus.NOT_SENT}


def check_sequence(steps: tuple[Step, ...], channel_type: ChannelType | None) -> None:
    """Raise LifecycleError if Knock could not produce ``steps`` in this order on this channel type.

    Rules: delivery statuses only move forward (queued -> delivery_attempted -> sent -> delivered);
    undelivered, bounced and not_sent end delivery and allow no engagement; push and chat stop at sent;
    engagement needs the message to have gone out (sent or delivered).
    """
    status = MessageStatus.QUEUED
    for index, step in enumerate(steps, start=1):
        where = f"step {index} ({step})"
        new_status = STATUS_OF.get(step.action)
        if status in _TERMINAL_FAILURES:
            raise LifecycleError(f"{where}: nothing can follow {status.value}; the message is finished")
        if new_status is not None:
            cap = CHANNEL_CAP.get(channel_type) if channel_type is not None else None
            if cap is not None and new_status in _RANK and _RANK[new_status] > _RANK[cap]:
                raise LifecycleError(
                    f"{where}: {channel_type} messages never pass {cap.value}: providers send no delivery receipt"
                )
            if new_status in _RANK and _RANK[new_status] < _RANK[status]:
                raise LifecycleError(f"{where}: a message cannot go back from {status.value} to {new_status.value}")
            if new_status in _RANK and _RANK[new_status] == _RANK[status] and new_status is not (
                MessageStatus.DELIVERY_ATTEMPTED
            ):
                raise LifecycleError(f"{where}: the message is already {status.value}")
            if new_status is MessageStatus.BOUNCED and status is MessageStatus.QUEUED:
                raise LifecycleError(f"{where}: a message bounces only after it was sent; put 'sent' before it")
            if new_status in _TERMINAL_FAILURES and status is MessageStatus.DELIVERED:
                raise LifecycleError(f"{where}: a delivered message cannot become {new_status.value}")
            if new_status is MessageStatus.NOT_SENT and status is not MessageStatus.QUEUED:
                raise LifecycleError(f"{where}: not_sent (sandbox mode) must be the first step")
            status = new_status
        elif status not in (MessageStatus.SENT, MessageStatus.DELIVERED):
            raise LifecycleError(f"{where}: engagement needs the message sent first; put 'sent' before it")
