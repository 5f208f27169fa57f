"""Knock webhook fixtures without a server: realistic, schema-valid bodies for tests that need no mock.

Three calls cover most tests. :func:`knock_event` builds one event body of any of Knock's 26 webhook
types; :func:`event_stream` plays a whole scenario and returns every event it emits, in order;
:func:`signed_headers` gives the headers mockknock would POST with a body, signature included.

>>> from mockknock.fixtures import body_bytes, event_stream, knock_event, signed_headers
>>> bounced = knock_event("message.bounced", seed=1)
>>> bounced["type"], bounced["data"]["status"], bounced["event_data"]["failure_reason"]
('message.bounced', 'bounced', 'hard_bounce')
>>> knock_event("message.bounced", seed=1) == bounced   # the same seed gives the same body
True
>>> knock_event("message.bounced", seed=2)["data"]["id"] != bounced["data"]["id"]
True

``at`` is the event's ``created_at`` (the message's earlier steps and ids are placed before it):

>>> knock_event("message.read", at="2026-03-01T12:00:00Z")["created_at"]
'2026-03-01T12:00:00.000000Z'

``overrides`` merge into the body: mappings merge key by key, anything else replaces.

>>> soft = knock_event("message.bounced", {"event_data": {"failure_reason": "soft_bounce"}})
>>> soft["event_data"]["failure_reason"], soft["event_data"]["failure_details"] is not None
('soft_bounce', True)

An override that breaks Knock's shape is refused, naming where (``validate=False`` lets it through,
for negative tests):

>>> knock_event("message.sent", {"data": {"status": "lost"}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mockknock.fixtures.FixtureError: message.sent fixture does not match its schema after overrides: /data/status: ...
>>> knock_event("message.sent", {"data": {"status": "lost"}}, validate=False)["data"]["status"]
'lost'

A whole scenario, bundled (by name) or from a file, with your own triggers or its ``script:``:

>>> magic = {"id": "u1", "email": "bounce@example.com"}   # email-bounces hard-bounces such addresses
>>> events = event_stream("email-bounces", triggers=[("password-reset", {"recipients": [magic]})])
>>> [event.type.value for event in events]
['message.sent', 'message.bounced']
>>> events[1].json["event_data"]["failure_reason"]
'hard_bounce'

Headers exactly as mockknock sends them; the signature verifies with :mod:`mockknock.signing`:

>>> headers = signed_headers(events[1].body, "whsec_test", timestamp_ms=1767225600000)
>>> sorted(headers)
['content-type', 'user-agent', 'x-knock-environment-id', 'x-knock-event', 'x-knock-signature']
>>> from mockknock.signing import verify
>>> verify(events[1].body, headers["x-knock-signature"], "whsec_test", tolerance_ms=None)
1767225600000
>>> verify(body_bytes(bounced), signed_headers(body_bytes(bounced), "s", 1)["x-knock-signature"], "s", None)
1

Bodies are serialised as mockknock's emitter does (:func:`body_bytes`), so a fixture built without
overrides is byte for byte what ``mockknock serve`` would POST for the same story and seed.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mockknock import __version__, errors, signing
from mockknock.config import DEFAULT_ENVIRONMENT_ID, DEFAULT_VIRTUAL_START_US
from mockknock.fake import FakeData
from mockknock.ids import KSUID_EPOCH, uuid4
from mockknock.lifecycle import EVENT_OF, Step, parse_step

# body_bytes is part of this module's API (see __all__): the emitter's serialisation, for fixture users.
from mockknock.model import (
    ChannelType,
    EngagementStatus,
    EventType,
    RunStatus,
    body_bytes,
    envelope,
    format_timestamp,
)
from mockknock.offline import OfflineRun
from mockknock.resources import bundled_scenario
from mockknock.scenario import (
    ChannelStep,
    Lifecycle,
    LifecycleMatch,
    Outcome,
    Scenario,
    Workflow,
    make_channel,
)
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaIssue, SchemaRegistry

__all__ = [
    "EVENT_TYPES",
    "FIXTURE_SECRET",
    "FixtureError",
    "FixtureEvent",
    "FixtureFactory",
    "body_bytes",
    "default_factory",
    "default_triggers",
    "event_stream",
    "event_type_of",
    "knock_event",
    "load_fixture_scenario",
    "merge",
    "signed_headers",
    "story_offset_us",
    "subject_of",
]

EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
# The signing secret fixture files use unless told otherwise. Public on purpose: it is a test value.
FIXTURE_SECRET = "whsec_mockknock_fixtures"
# Where a fixture's story starts when no ``at`` is given: the virtual clock's default start.
FIXTURE_START_US = DEFAULT_VIRTUAL_START_US
# The workflow key a scenario without a script and without named workflows is triggered with.
DEFAULT_WORKFLOW_KEY = "example"
DEFAULT_RECIPIENTS = 3
# The app a fixture's links point into: example.com is reserved for examples, so no real site is named.
APP_URL = "https://app.example.com"

_SECOND = 1_000_000
_DAY = 86_400 * _SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KSUID_FLOOR_US = KSUID_EPOCH * _SECOND
_KSUID_CEILING_US = (KSUID_EPOCH + 2**32) * _SECOND


class FixtureError(ValueError):
    """A fixture cannot be built as asked; ``issues`` holds each schema problem (pointer and message)."""

    def __init__(self, message: str, issues: Iterable[SchemaIssue] = ()) -> None:
        super().__init__(message)
        self.issues = tuple(issues)


@dataclass(frozen=True)
class FixtureEvent:
    """One emitted webhook: its exact body bytes, the parsed body, and where it sits in the stream."""

    seq: int
    type: EventType
    body: bytes
    json: dict[str, Any]
    created_at: str
    created_at_us: int
    subject_id: str

    def headers(
        self,
        secret: str = FIXTURE_SECRET,
        timestamp_ms: int | None = None,
        environment_id: str = DEFAULT_ENVIRONMENT_ID,
    ) -> dict[str, str]:
        """:func:`signed_headers` for this body, stamped at the event's ``created_at`` unless told otherwise."""
        stamp = self.created_at_us // 1000 if timestamp_ms is None else timestamp_ms
        return signed_headers(self.body, secret, stamp, environment_id, event_type=self.type)


def signed_headers(
    body: bytes,
    secret: str,
    timestamp_ms: int | None = None,
    environment_id: str = DEFAULT_ENVIRONMENT_ID,
    *,
    event_type: str | None = None,
) -> dict[str, str]:
    """The headers ``mockknock serve`` POSTs with ``body``: the same names, values and signature scheme.

    ``timestamp_ms`` defaults to now (as a live delivery signs); the event type is read from the body
    unless given. aiohttp adds its transport headers (host, content-length, accept...) on top.
    """
    if event_type is None:
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise FixtureError(f"the body is not JSON ({exc}); pass event_type= to sign it anyway") from None
        found = parsed.get("type") if isinstance(parsed, dict) else None
        if not isinstance(found, str):
            raise FixtureError("the body has no string 'type' to send as x-knock-event; pass event_type=")
        event_type = found
    return {
        **signing.webhook_headers(str(event_type), environment_id, signing.sign(body, secret, timestamp_ms)),
        # Delivery adds it to each POST's signed headers; a fixture's headers are what a POST carries.
        "user-agent": f"mockknock/{__version__}",
    }


def event_type_of(name: str | EventType) -> EventType:
    """The EventType for a wire name; a FixtureError suggesting the nearest name otherwise."""
    if isinstance(name, EventType):
        return name
    try:
        return EventType(name)
    except ValueError:
        close = difflib.get_close_matches(str(name), EVENT_TYPES, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise FixtureError(f"unknown Knock event type {name!r}{hint} (known: {', '.join(EVENT_TYPES)})") from None


def load_fixture_scenario(scenario: str | Path | Scenario) -> Scenario:
    """A Scenario as given, from a file path, or a bundled scenario by name (``email-bounces``)."""
    if isinstance(scenario, Scenario):
        return scenario
    path = Path(scenario)
    if path.is_file():
        return load_scenario(path)
    if isinstance(scenario, Path) or len(path.parts) > 1:
        raise FileNotFoundError(f"no scenario file {scenario}")
    return load_scenario(bundled_scenario(str(scenario)))


# -- message stories ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Story:
    """A one-message lifecycle that reaches an event type; ``{url}`` is replaced by a seeded link."""

    channel_type: ChannelType
    steps: tuple[str, ...]
    # Ends with the API call an SDK makes (PUT /v1/messages/{id}/interacted with metadata), this long after.
    interaction_after_us: int | None = None

    def parsed(self, url: str) -> tuple[Step, ...]:
        return tuple(parse_step(text.replace("{url}", url)) for text in self.steps)


_IN_APP_READ = ("sent", "delivered", "+2m seen", "+5s read")
_STORIES: dict[EventType, _Story] = {
    EventType.MESSAGE_SENT: _Story(ChannelType.EMAIL, ("+1s sent", "+3s delivered")),
    EventType.MESSAGE_DELIVERED: _Story(ChannelType.EMAIL, ("+1s sent", "+3s delivered")),
    EventType.MESSAGE_DELIVERY_ATTEMPTED: _Story(
        ChannelType.EMAIL, ("+1s delivery_attempted", "+30s sent", "+3s delivered")
    ),
    EventType.MESSAGE_UNDELIVERED: _Story(
        ChannelType.EMAIL, ("+20s delivery_attempted(3) x3", "+1m undelivered(retries_exhausted)")
    ),
    EventType.MESSAGE_BOUNCED: _Story(ChannelType.EMAIL, ("+1s sent", "+2s bounced(hard_bounce)")),
    EventType.MESSAGE_SEEN: _Story(ChannelType.IN_APP_FEED, ("sent", "delivered", "+2m seen")),
    EventType.MESSAGE_UNSEEN: _Story(ChannelType.IN_APP_FEED, ("sent", "delivered", "+2m seen", "+30s unseen")),
    EventType.MESSAGE_READ: _Story(ChannelType.IN_APP_FEED, _IN_APP_READ),
    EventType.MESSAGE_UNREAD: _Story(ChannelType.IN_APP_FEED, (*_IN_APP_READ, "+1m unread")),
    EventType.MESSAGE_ARCHIVED: _Story(ChannelType.IN_APP_FEED, (*_IN_APP_READ, "+1h archived")),
    EventType.MESSAGE_UNARCHIVED: _Story(ChannelType.IN_APP_FEED, (*_IN_APP_READ, "+1h archived", "+10m unarchived")),
    EventType.MESSAGE_INTERACTED: _Story(ChannelType.IN_APP_FEED, _IN_APP_READ, interaction_after_us=10 * _SECOND),
    EventType.MESSAGE_LINK_CLICKED: _Story(
        ChannelType.EMAIL, ("+1s sent", "+3s delivered", "+20m seen", "+1s read", "+2m link_clicked({url})")
    ),
}
# Recipient-run events follow one delivered email.
_RUN_STORY = _Story(ChannelType.EMAIL, ("+1s sent", "+3s delivered"))
_RUN_EVENTS = (
    EventType.WORKFLOW_RECIPIENT_RUN_STARTED,
    EventType.WORKFLOW_RECIPIENT_RUN_COMPLETED,
    EventType.WORKFLOW_RECIPIENT_RUN_ERROR,
)
_INTERACTION_METADATA = ({"action": "accept"}, {"action": "dismiss"}, {"button": "primary", "action": "open"})

_CHANNELS = {
    ChannelType.EMAIL: make_channel("email", ChannelType.EMAIL, "sendgrid", "SendGrid"),
    ChannelType.IN_APP_FEED: make_channel("in-app", ChannelType.IN_APP_FEED, "knock", "In-app feed"),
}
_STEP_REFS = {ChannelType.EMAIL: "email_1", ChannelType.IN_APP_FEED: "in_app_feed_1"}
# (workflow key, name, categories) a fixture message comes from, drawn by seed.
_WORKFLOWS = {
    ChannelType.EMAIL: (
        ("password-reset", "Password reset", ("transactional",)),
        ("welcome", "Welcome", ("onboarding",)),
        ("weekly-digest", "Weekly digest", ("digest",)),
    ),
    ChannelType.IN_APP_FEED: (
        ("new-comment", "New comment", ("comments",)),
        ("mention", "Mention", ("comments",)),
        ("task-assigned", "Task assigned", ("tasks",)),
    ),
}


def _offset_us(steps: tuple[Step, ...], event_type: EventType | None) -> int:
    """Simulated time from the trigger to the first step emitting ``event_type`` (None: to the last step).

    Fixture stories have no jitter, so this is exact: the engine schedules step n at the sum of the delays
    of steps 1..n (a step repeated xN counts N times).
    """
    at = 0
    for step in steps:
        for _ in range(step.repeat):
            at += step.delay_us
            if event_type is not None and EVENT_OF[step.action] is event_type:
                return at
    if event_type is None:
        return at
    raise AssertionError(f"fixture story {steps} never emits {event_type.value}")


def _story_of(event_type: EventType) -> _Story:
    return _RUN_STORY if event_type in _RUN_EVENTS else _STORIES[event_type]


def story_offset_us(event_type: EventType) -> int:
    """How long after its story starts (the trigger, for messages and runs) a fixture event happens."""
    if event_type not in _STORIES and event_type not in _RUN_EVENTS:
        return 0
    story = _story_of(event_type)
    steps = story.parsed("https://example.com")
    if event_type is EventType.WORKFLOW_RECIPIENT_RUN_STARTED:
        return 0
    if event_type in _RUN_EVENTS:
        return _offset_us(steps, None)
    if story.interaction_after_us is not None:
        return _offset_us(steps, None) + story.interaction_after_us
    return _offset_us(steps, event_type)


# -- the factory ------------------------------------------------------------------------------------------


class FixtureFactory:
    """Builds fixtures. One factory holds the schema registry and one fake-data generator; reuse it for bulk.

    The module-level functions use a shared default factory, built on first use.
    """

    def __init__(self, schemas: SchemaRegistry | None = None) -> None:
        self.schemas = schemas if schemas is not None else SchemaRegistry.load()
        # One generator for every seed: FakeData re-seeds from its key before each value, and the key
        # carries the fixture's seed, so values depend on (seed, key) only. Building a Faker costs ~26 ms,
        # which one per fixture would pay 10,000 times over for a bulk run.
        self._fake = FakeData(0)

    # -- one event ------------------------------------------------------------------------------------

    def knock_event(
        self,
        event_type: str | EventType,
        overrides: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        at: datetime | str | None = None,
        validate: bool = True,
    ) -> dict[str, Any]:
        """See :func:`knock_event`."""
        kind = event_type_of(event_type)
        start_us = FIXTURE_START_US if at is None else _instant_us(at) - story_offset_us(kind)
        body = self.build(kind, seed, start_us)
        if overrides:
            body = merge(body, overrides)
        if validate:
            self.check(kind, body, "after overrides" if overrides else "(a mockknock bug, please report it)")
        return body

    def check(self, event_type: EventType, body: Mapping[str, Any], when: str) -> None:
        name = f"events/{event_type.value}"
        if self.schemas.is_valid(name, body):
            return
        found = self.schemas.issues(name, body)
        details = "; ".join(f"{issue.pointer or '/'}: {issue.message}" for issue in found)
        raise FixtureError(f"{event_type.value} fixture does not match its schema {when}: {details}", found)

    def build(self, event_type: EventType, seed: int, start_us: int) -> dict[str, Any]:
        """The body of ``event_type`` whose story starts at ``start_us`` (trigger or change time), unvalidated."""
        if not _KSUID_FLOOR_US <= start_us < _KSUID_CEILING_US:
            raise FixtureError(
                f"{format_timestamp(start_us)} is outside what Knock's ids can hold (2014-05-13 to 2150)"
            )
        if event_type in _STORIES or event_type in _RUN_EVENTS:
            return self._simulated(event_type, seed, start_us)
        builder, committed = _OBJECT_EVENTS[event_type]
        rng = _rng(seed, event_type.value)
        data = builder(_Fake(self._fake, seed, event_type.value), rng, start_us, committed)
        event_data = {"commit_id": uuid4(rng)} if committed else None
        return envelope(event_type, start_us, data, event_data)

    def _simulated(self, event_type: EventType, seed: int, start_us: int) -> dict[str, Any]:
        """Run the one-message story through the real engine and take the event of ``event_type``."""
        story = _story_of(event_type)
        channel_type = story.channel_type
        rng = _rng(seed, "message")
        fake = _Fake(self._fake, seed, "message")
        key, name, categories = rng.choice(_WORKFLOWS[channel_type])
        channel = _CHANNELS[channel_type]
        workflow = Workflow(key, name, (ChannelStep(_STEP_REFS[channel_type], channel),), categories)
        trigger, link = _trigger_body(key, channel_type, rng, fake)
        steps = story.parsed(link)
        scenario = Scenario(
            name=f"fixture {event_type.value}",
            channels={channel.key: channel},
            workflows={key: workflow},
            accept_unknown_workflows=False,
            lifecycles=(Lifecycle(LifecycleMatch(), (Outcome("fixture", 1.0, steps),)),),
            recipient_run_events=event_type in _RUN_EVENTS,
        )
        # The emitter's own validation is off: the one body returned is validated by the caller, once.
        run = OfflineRun(scenario, self.schemas, seed=seed, start_us=start_us, validate=False)
        run.trigger(key, trigger, request_id="fixture")
        events = run.run()
        if story.interaction_after_us is not None:
            run.advance(story.interaction_after_us)
            message_id = next(iter(run.store.messages))
            metadata = dict(rng.choice(_INTERACTION_METADATA))
            run.engine.set_engagement(message_id, EngagementStatus.INTERACTED, True, metadata)
        if run.engine.timeline.failures:
            raise RuntimeError(f"the engine failed building {event_type.value}: {run.engine.timeline.failures}")
        wanted = EventType.WORKFLOW_RECIPIENT_RUN_COMPLETED if event_type is EventType.WORKFLOW_RECIPIENT_RUN_ERROR \
            else event_type
        found = next((e for e in events if e.type is wanted), None)
        if found is None:
            raise RuntimeError(f"the engine emitted no {wanted.value} for its story: {[e.type.value for e in events]}")
        body: dict[str, Any] = json.loads(found.body)
        if event_type is EventType.WORKFLOW_RECIPIENT_RUN_ERROR:
            body = _as_run_error(body)
        return body

    # -- a stream -------------------------------------------------------------------------------------

    def event_stream(
        self,
        scenario: str | Path | Scenario,
        *,
        seed: int | None = None,
        triggers: Iterable[tuple[str, Mapping[str, Any]]] | None = None,
    ) -> list[FixtureEvent]:
        """See :func:`event_stream`."""
        loaded = load_fixture_scenario(scenario)
        chosen = seed if seed is not None else loaded.seed if loaded.seed is not None else 0
        run = OfflineRun(loaded, self.schemas, seed=chosen, validate=True, strict=True)
        run.play_script()
        calls = list(triggers) if triggers is not None else [] if loaded.script else default_triggers(loaded, chosen)
        if not calls and not loaded.script:
            raise FixtureError(
                f"scenario {loaded.name!r} has no script: and defines no workflow to trigger; pass triggers="
            )
        for index, (workflow, body) in enumerate(calls):
            self._trigger(run, index, workflow, body)
        events = run.run()
        problems = [*run.engine.timeline.failures, *run.emitter.violations]
        problems += [
            f"script call to {p.workflow!r} at {format_timestamp(p.at_us)}: {p.error}"
            for p in run.script.played
            if p.error and p.outage_id is None
        ]
        if problems:
            raise FixtureError(f"scenario {loaded.name!r} did not run cleanly: " + "; ".join(problems))
        return [
            FixtureEvent(
                seq=event.seq,
                type=event.type,
                body=event.body,
                json=json.loads(event.body),
                created_at=format_timestamp(event.created_at_us),
                created_at_us=event.created_at_us,
                subject_id=event.subject_id,
            )
            for event in events
        ]

    def _trigger(self, run: OfflineRun, index: int, workflow: str, body: Mapping[str, Any]) -> None:
        plain = dict(body)
        if not self.schemas.is_valid("trigger_request", plain):
            problems = "; ".join(str(issue) for issue in self.schemas.issues("trigger_request", plain))
            raise FixtureError(f"trigger {index + 1} ({workflow}): not a valid trigger body: {problems}")
        try:
            run.trigger(workflow, plain, request_id=f"fixture-{index}")
        except errors.KnockApiError as exc:
            raise FixtureError(f"trigger {index + 1} ({workflow}): {exc.status} {exc.code}: {exc.message}") from None


def default_triggers(scenario: Scenario, seed: int, recipients: int = DEFAULT_RECIPIENTS) -> list[
    tuple[str, dict[str, Any]]
]:
    """What a scenario without a ``script:`` is played with: each of its workflows (or ``example`` when it
    defines none and accepts any key) triggered once, at the start, for ``recipients`` seeded fake users."""
    keys = list(scenario.workflows) or ([DEFAULT_WORKFLOW_KEY] if scenario.accept_unknown_workflows else [])
    fake = FakeData(seed)
    return [(key, {"recipients": fake.users(recipients, "fixtures", key)}) for key in keys]


@functools.cache
def default_factory() -> FixtureFactory:
    """The factory the module-level functions share: built on first use (loading the schemas takes ~0.3 s),
    never at import. It keeps no state between fixtures, so sharing it cannot change what a seed gives."""
    return FixtureFactory()


def knock_event(
    event_type: str | EventType,
    overrides: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    at: datetime | str | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """One realistic webhook body of ``event_type`` (any of the 26), valid against its schema.

    * ``message.*``: a one-message workflow run through mockknock's engine with a lifecycle that reaches
      the event (``message.bounced``: an email sent then bounced(hard_bounce); ``message.read``: an in-app
      message seen then read; ``message.interacted``: read, then the SDK's interacted call with metadata...),
      so ids, ``status``, ``engagement_statuses`` and every ``*_at`` agree with each other.
    * ``workflow_recipient_run.started`` / ``.completed``: the run of a one-email workflow.
      ``.error``: that completed run as it would be reported when a step fails: ``status`` "processing"
      (Knock's run statuses have no failed state, and the error is reported while the run is under way)
      and ``error_count`` 1. Knock documents no payload for it; this is mockknock's assumption.
    * ``workflow.*``, ``email_layout.*``, ``translation.*``, ``source_event_action.*``, ``partial.*``: the
      object built from seeded fake data; ``*.committed`` carries ``event_data.commit_id`` (a UUID).

    ``seed`` fixes every id and value. ``at`` (a timezone-aware datetime or an ISO-8601 string) is the
    event's ``created_at``; by default the story starts at 2026-01-01T00:00:00Z (the virtual clock's start)
    and the event comes as late in it as its lifecycle puts it. ``overrides`` deep-merge into the body
    (mappings merge key by key; lists and scalars replace); the result is then validated and a FixtureError
    (a ValueError) names each JSON pointer that broke. ``validate=False`` returns broken bodies as asked.
    """
    return default_factory().knock_event(event_type, overrides, seed=seed, at=at, validate=validate)


def event_stream(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    triggers: Iterable[tuple[str, Mapping[str, Any]]] | None = None,
) -> list[FixtureEvent]:
    """Every event a scenario emits, in emission order, with no server and no waiting.

    ``scenario`` is a Scenario, a file path, or a bundled scenario's name. The scenario's ``script:`` is
    played from the start; ``triggers`` (``(workflow key, trigger body)`` pairs, as POSTed to
    ``/v1/workflows/{key}/trigger``) are made at the start too. A scenario with no script and no
    ``triggers`` is played with :func:`default_triggers`; pass ``triggers=[]`` to play only the script.
    ``seed`` defaults to the scenario's own ``seed:``, else 0. Simulated time runs to the end at once.
    """
    return default_factory().event_stream(scenario, seed=seed, triggers=triggers)


# -- helpers ----------------------------------------------------------------------------------------------


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``overrides`` merged in: mappings recursively, anything else replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _instant_us(at: datetime | str) -> int:
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip())
        except ValueError:
            raise FixtureError(f"at={at!r} is not an ISO-8601 time such as 2026-01-01T09:00:00Z") from None
    if at.tzinfo is None:
        raise FixtureError(f"at={at.isoformat()!r} has no time zone; give one, e.g. 2026-01-01T09:00:00Z")
    return (at - _EPOCH) // timedelta(microseconds=1)


def _rng(seed: int, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"fixtures:{seed}:{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _as_run_error(completed: dict[str, Any]) -> dict[str, Any]:
    data = dict(completed["data"])
    data["status"] = RunStatus.PROCESSING.value
    data["error_count"] = 1
    return {**completed, "type": EventType.WORKFLOW_RECIPIENT_RUN_ERROR.value, "data": data}


class _Fake:
    """Fake values for one fixture: the shared generator, keyed by the fixture's seed and purpose."""

    def __init__(self, fake: FakeData, seed: int, purpose: str) -> None:
        self._fake, self._key = fake, ("fixtures", str(seed), purpose)

    def value(self, provider: str, field: str) -> str:
        return str(self._fake.value(provider, *self._key, field))

    def person(self, user_id: str) -> dict[str, Any]:
        return self._fake.person(user_id)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _trigger_body(
    key: str, channel_type: ChannelType, rng: random.Random, fake: _Fake
) -> tuple[dict[str, Any], str]:
    """A trigger as an app sends it (the recipient identified inline, an actor for in-app, the workflow's
    data), and the link its message carries: the URL a link_clicked reports."""
    user_id = f"user_{_hex(rng, 8)}"
    person = fake.person(user_id)
    recipient = {"id": user_id, "name": person["name"], "email": person["email"]}
    data: dict[str, Any]
    if key == "password-reset":
        link = f"{APP_URL}/reset-password?token={_hex(rng, 32)}"
        data = {"reset_url": link, "expires_in_minutes": 30}
    elif key == "welcome":
        link = f"{APP_URL}/onboarding?step=profile"
        data = {"account_url": link, "plan": rng.choice(("free", "pro", "team"))}
    elif key == "weekly-digest":
        link = f"{APP_URL}/digest/{_hex(rng, 10)}"
        data = {"digest_url": link, "unread_count": rng.randint(2, 40)}
    elif key == "new-comment":
        comment = f"cmt_{_hex(rng, 12)}"
        link = f"{APP_URL}/threads/thr_{_hex(rng, 12)}#{comment}"
        data = {
            "comment_id": comment,
            "thread_title": fake.value("catch_phrase", "thread"),
            "comment_preview": fake.value("sentence", "comment"),
            "url": link,
        }
    elif key == "mention":
        link = f"{APP_URL}/docs/doc_{_hex(rng, 12)}"
        data = {"document_title": fake.value("catch_phrase", "document"), "url": link}
    else:  # task-assigned
        task = f"task_{_hex(rng, 12)}"
        link = f"{APP_URL}/tasks/{task}"
        data = {"task_id": task, "task_title": fake.value("sentence", "task"), "url": link}
    body: dict[str, Any] = {"recipients": [recipient], "data": data}
    if channel_type is ChannelType.IN_APP_FEED:
        body["actor"] = f"user_{_hex(rng, 8)}"
    return body, link


# -- Management API objects ----------------------------------------------------------------------------------

ObjectBuilder = Callable[[_Fake, random.Random, int, bool], dict[str, Any]]
_ENVIRONMENT = "development"  # the only environment where resources are edited and committed


def _history(rng: random.Random, at_us: int, committed: bool) -> tuple[str, str]:
    """(created, updated) before an event at ``at_us``: made weeks or months ago; updated at the event
    (``*.updated``), or a few minutes before the commit (``*.committed``)."""
    created = at_us - rng.randint(7, 400) * _DAY - rng.randint(0, _DAY - 1)
    updated = at_us - rng.randint(60, 3600) * _SECOND - rng.randint(0, _SECOND - 1) if committed else at_us
    return format_timestamp(created), format_timestamp(max(updated, created))


def _sha(content: object) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _title(key: str) -> str:
    return key.replace("-", " ").replace("_", " ").capitalize()


def _workflow(fake: _Fake, rng: random.Random, at_us: int, committed: bool) -> dict[str, Any]:
    key, categories = rng.choice(
        (("new-comment", ["comments"]), ("password-reset", ["transactional"]), ("weekly-digest", ["digest"]),
         ("invoice-paid", ["billing"]), ("trial-ending", ["billing", "lifecycle"]), ("task-assigned", ["tasks"]))
    )
    steps = [
        {
            "type": "channel",
            "ref": "in_app_feed_1",
            "name": "In-app feed",
            "channel_key": "in-app",
            "template": {"markdown_body": fake.value("sentence", "in-app body"), "action_url": "{{ data.url }}"},
        },
        {
            "type": "delay",
            "ref": "delay_1",
            "name": "Wait",
            "settings": {"delay_for": {"unit": "minutes", "value": rng.choice((5, 10, 30, 60))}},
        },
        {
            "type": "channel",
            "ref": "email_1",
            "name": "Email",
            "channel_key": "sendgrid",
            "conditions": {"all": [{"variable": "refs.in_app_feed_1.read", "operator": "equal_to",
                                    "argument": "false"}]},
            "template": {
                "settings": {"layout_key": "default"},
                "subject": fake.value("catch_phrase", "subject"),
                "markdown_body": "Hi {{ recipient.name }},\n\n" + fake.value("paragraph", "email body"),
            },
        },
    ]
    created, updated = _history(rng, at_us, committed)
    return {
        "key": key,
        "name": _title(key),
        "description": fake.value("sentence", "description")[:280],
        "categories": categories,
        "steps": steps,
        "active": committed or rng.random() < 0.7,
        "valid": True,
        "environment": _ENVIRONMENT,
        "settings": {"override_preferences": False},
        "trigger_frequency": "every_trigger",
        "sha": _sha({"key": key, "steps": steps, "updated_at": updated}),
        "created_at": created,
        "updated_at": updated,
    }


def _email_layout(fake: _Fake, rng: random.Random, at_us: int, committed: bool) -> dict[str, Any]:
    key = rng.choice(("default", "transactional", "marketing"))
    company = fake.value("company", "company")
    html = (
        "<html><body style=\"font-family: sans-serif\"><table width=\"100%\"><tr><td>"
        "{{ content }}</td></tr><tr><td style=\"color:#6b7280;font-size:12px\">"
        f"{company} &middot; {{{{ footer_links }}}}</td></tr></table></body></html>"
    )
    created, updated = _history(rng, at_us, committed)
    layout = {
        "key": key,
        "name": _title(key),
        "html_layout": html,
        "text_layout": f"{{{{ content }}}}\n\n--\n{company}",
        "is_mjml": False,
        "footer_links": [
            {"text": "Manage preferences", "url": f"{APP_URL}/settings/notifications"},
            {"text": "Privacy", "url": "https://example.com/privacy"},
        ],
        "branding_overrides": None,
        "environment": _ENVIRONMENT,
        "created_at": created,
        "updated_at": updated,
    }
    layout["sha"] = _sha(layout)
    return layout


_GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo", "es": "Hola", "ja": "こんにちは", "pt-BR": "Olá"}


def _translation(fake: _Fake, rng: random.Random, at_us: int, committed: bool) -> dict[str, Any]:
    locale = rng.choice(sorted(_GREETINGS))
    namespace = rng.choice(("", "notifications", "emails"))
    content = {
        "greeting": f"{_GREETINGS[locale]}, {{{{ recipient.name }}}}",
        "cta": fake.value("catch_phrase", "cta"),
        "footer": fake.value("sentence", "footer"),
    }
    created, updated = _history(rng, at_us, committed)
    return {
        "locale_code": locale,
        "namespace": namespace,
        "content": json.dumps(content, separators=(",", ":"), ensure_ascii=False),
        "format": "json",
        "inserted_at": created,
        "updated_at": updated,
    }


def _source_event_action(fake: _Fake, rng: random.Random, at_us: int, committed: bool) -> dict[str, Any]:
    event_type, action_type, parameters = rng.choice((
        ("user.created", "workflows_trigger", {"workflow_key": "welcome", "recipients": "{{ data.user_id }}"}),
        ("order.placed", "workflows_trigger",
         {"workflow_key": "order-confirmation", "recipients": "{{ data.customer_id }}", "actor": None}),
        ("user.updated", "users_identify", {"user_id": "{{ data.id }}", "email": "{{ data.email }}"}),
        ("team.deleted", "tenants_delete", {"tenant_id": "{{ data.team_id }}"}),
    ))
    created, updated = _history(rng, at_us, committed)
    return {
        "event_type": event_type,
        "action_type": action_type,
        "action_parameters": parameters,
        "active": True,
        "is_deleted": False,
        "created_at": created,
        "updated_at": updated,
    }


# key -> (type, content, the fields its input_schema declares)
_PARTIALS: dict[str, tuple[str, str, tuple[tuple[str, str, str], ...]]] = {
    "cta-button": (
        "html",
        '<a href="{{ url }}" style="background:{{ color }};padding:8px 16px">{{ label }}</a>',
        (("text", "label", "Label"), ("url", "url", "Link"), ("color", "color", "Background")),
    ),
    "email-footer": (
        "html",
        '<p>{{ company }} &middot; <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
        (("text", "company", "Company name"), ("url", "unsubscribe_url", "Unsubscribe link")),
    ),
    "legal-disclaimer": ("markdown", "_{{ disclaimer }}_", (("markdown", "disclaimer", "Disclaimer"),)),
}


def _partial(fake: _Fake, rng: random.Random, at_us: int, committed: bool) -> dict[str, Any]:
    key = rng.choice(sorted(_PARTIALS))
    kind, content, fields = _PARTIALS[key]
    created, updated = _history(rng, at_us, committed)
    return {
        "key": key,
        "type": kind,
        "name": _title(key),
        "description": fake.value("sentence", "description")[:280],
        "content": content,
        "valid": True,
        "environment": _ENVIRONMENT,
        "icon_name": rng.choice(("button", "footer", "scale")),
        "visual_block_enabled": kind == "html",
        "input_schema": [
            {"type": field_type, "key": field_key, "label": label, "settings": {"required": index == 0}}
            for index, (field_type, field_key, label) in enumerate(fields)
        ],
        "inserted_at": created,
        "updated_at": updated,
    }


_OBJECT_EVENTS: dict[EventType, tuple[ObjectBuilder, bool]] = {
    EventType.WORKFLOW_UPDATED: (_workflow, False),
    EventType.WORKFLOW_COMMITTED: (_workflow, True),
    EventType.EMAIL_LAYOUT_UPDATED: (_email_layout, False),
    EventType.EMAIL_LAYOUT_COMMITTED: (_email_layout, True),
    EventType.TRANSLATION_UPDATED: (_translation, False),
    EventType.TRANSLATION_COMMITTED: (_translation, True),
    EventType.SOURCE_EVENT_ACTION_UPDATED: (_source_event_action, False),
    EventType.SOURCE_EVENT_ACTION_COMMITTED: (_source_event_action, True),
    EventType.PARTIAL_UPDATED: (_partial, False),
    EventType.PARTIAL_COMMITTED: (_partial, True),
}


def subject_of(body: Mapping[str, Any]) -> str:
    """What an event is about, for file names and logs: a message or run id, or the object's key."""
    data = body.get("data")
    if not isinstance(data, Mapping):
        return "event"
    for field in ("id", "key", "event_type"):
        value = data.get(field)
        if isinstance(value, str) and value:
            return value
    locale, namespace = data.get("locale_code"), data.get("namespace")
    if isinstance(locale, str) and locale:
        return f"{locale}-{namespace}" if isinstance(namespace, str) and namespace else locale
    return "event"
