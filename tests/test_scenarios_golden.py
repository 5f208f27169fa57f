"""The golden test: every bundled scenario, triggered over HTTP, emits what its header promises.

Each file in scenarios/ gets the generic checks (schema-valid bodies, good signatures, the receiver got
exactly what the store emitted, no engine failures, lifecycles that Knock could produce); the scenarios
named in EXPECTATIONS also get their own triggers and checks. A new bundled scenario is covered by the
generic part without touching this file.

Servers run on a virtual clock that moves only during settle() (auto_advance=False): every trigger of
a test lands at the same simulated instant, so batch and throttle windows cannot close between two
HTTP calls, and the whole simulated future then plays out in a few milliseconds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockknock.errors import ScenarioError
from mockknock.lifecycle import LifecycleError, check_sequence, parse_step
from mockknock.model import Message
from mockknock.resources import scenarios_dir
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaRegistry
from mockknock.server import MockKnockServer
from mockknock.signing import verify
from tests.conftest import AUTH, SECRET, Receiver, ServerFactory

SCENARIO_FILES = sorted(scenarios_dir().glob("*.yaml"))
ARBITRARY_KEY = "golden-arbitrary-key"
BOUNCE_EMAIL = "golden.bounce@example.com"
# The magic recipients every scenario is triggered with: a plain user id, an inline user whose email
# contains "bounce", and the user id the bounce scenario never delivers to.
RECIPIENTS: list[Any] = ["u_plain", {"id": "u_bounce", "email": BOUNCE_EMAIL, "name": "Bo Unce"}, "u_undeliverable"]
PUSH_OR_CHAT = {"push", "chat"}
DELIVERED_WHEN_SENT = ("in_app_feed", "in_app_guide", "http")


@dataclass
class Trigger:
    key: str
    body: dict[str, Any]
    label: str = ""
    status: int = 200


@dataclass
class Run:
    """Everything one scenario run produced, indexed for the checks."""

    scenario: Scenario
    server: MockKnockServer
    receiver: Receiver
    run_ids: dict[str, str] = field(default_factory=dict)  # trigger label -> workflow_run_id
    events: list[dict[str, Any]] = field(default_factory=list)  # every emitted body, in emission order
    _by_message: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def collect(self) -> None:
        """Read what the store emitted (call after settle)."""
        self.events = [json.loads(e.body) for e in self.server.simulation.store.events]
        self._by_message = {}
        for event in self.events:
            if event["type"].startswith("message."):
                self._by_message.setdefault(event["data"]["id"], []).append(event)

    def messages(self) -> list[Message]:
        return list(self.server.simulation.store.messages.values())

    def message_events(self, message_id: str) -> list[dict[str, Any]]:
        return self._by_message.get(message_id, [])

    def sequence(self, message_id: str) -> list[str]:
        """The event types of one message, in emission order, without the "message." prefix."""
        return [e["type"].removeprefix("message.") for e in self.message_events(message_id)]

    def messages_of(self, label: str, *, recipient: str | None = None, channel: str | None = None) -> list[Message]:
        run_id = self.run_ids[label]
        return [
            m
            for m in self.messages()
            if m.source.workflow_run_id == run_id
            and (recipient is None or m.recipient == recipient)
            and (channel is None or m.channel.type.value == channel)
        ]

    def messages_to(self, recipient: str, channel: str | None = None) -> list[Message]:
        return [
            m
            for m in self.messages()
            if m.recipient == recipient and (channel is None or m.channel.type.value == channel)
        ]


# ----------------------------------------------------------------------------- triggers


def generic_triggers(scenario: Scenario) -> list[Trigger]:
    """Each defined workflow once; an arbitrary key too (accepted, or refused with Knock's 404)."""
    body = {"recipients": RECIPIENTS, "actor": "golden_actor", "data": {"thread_id": "t_golden", "priority": "normal"}}
    triggers = [Trigger(key, body, f"generic {key}") for key in sorted(scenario.workflows)]
    status = 200 if scenario.accept_unknown_workflows else 404
    triggers.append(Trigger(ARBITRARY_KEY, body, f"generic {ARBITRARY_KEY}", status))
    return triggers


def one(key: str, label: str, recipients: list[Any], **body: Any) -> Trigger:
    return Trigger(key, {"recipients": recipients, **body}, label)


def default_triggers() -> list[Trigger]:
    crowd = [f"crowd_{i:02d}" for i in range(40)]
    return [one("comment-added", "crowd", crowd, actor="poster")]


def retries_triggers() -> list[Trigger]:
    return [
        one("invoice-reminder", "exhausted", ["r_exhausted"], data={"force_outcome": "exhausted"}),
        one("invoice-reminder", "recovers", ["r_recovers"], data={"force_outcome": "recovers"}),
        one("invoice-reminder", "drawn", [f"r_drawn_{i}" for i in range(12)]),
    ]


def sms_push_chat_triggers() -> list[Trigger]:
    return [
        one("order-shipped", "stale", ["u_stale_device"]),
        one("order-shipped", "crowd", [f"buyer_{i:02d}" for i in range(20)]),
    ]


def batch_triggers() -> list[Trigger]:
    comments = [("ann", "t1"), ("bob", "t1"), ("ann", "t1"), ("cy", "t1"), ("dee", "t2")]
    triggers = [
        one("new-comment", f"comment {i}", ["reader", "other_reader"], actor=actor,
            data={"thread_id": thread, "comment": i})
        for i, (actor, thread) in enumerate(comments)
    ]
    return triggers


def branch_triggers() -> list[Trigger]:
    return [
        *(one("alert", f"routine {i}", ["u_alerts"], data={"priority": "normal"}) for i in range(3)),
        *(one("alert", f"urgent {i}", ["u_alerts"], data={"priority": "high"}) for i in range(2)),
        *(one("alert", f"low {i}", ["u_alerts"], data={"priority": "low"}) for i in range(2)),
        one("alert", "other recipient", ["u_other"], data={"priority": "normal"}),
        one("alert", "in-app only", ["u_quiet"], data={"priority": "normal", "in_app_only": True}),
        one("alert", "no priority", ["u_nopriority"]),
    ]


def sandbox_triggers() -> list[Trigger]:
    return [
        one("anything", "sandbox", ["u_sandboxed", "u_sandboxed_2"], settings={"sandbox_mode": True}),
        one("anything", "bounced", ["u_forced_bounce"], data={"force_outcome": "bounced"}),
        one("anything", "engaged", ["u_forced_engaged"], data={"force_outcome": "engaged"}),
        one("anything", "undelivered", ["u_forced_undelivered"], data={"force_outcome": "undelivered"}),
        one("anything", "delivered", ["u_forced_delivered"], data={"force_outcome": "delivered"}),
    ]


def run_events_triggers() -> list[Trigger]:
    return [one("onboarding", "onboarding", ["u_new_1", "u_new_2"])]


# ----------------------------------------------------------------------------- scenario-specific checks


async def check_default(run: Run) -> None:
    """Mixed outcomes: in-app delivered with some engagement; email mostly delivered, with variety."""
    crowd = run.messages_of("crowd")
    assert len(crowd) == 80
    email_shapes: Counter[tuple[str, ...]] = Counter()
    for message in crowd:
        sequence = run.sequence(message.id)
        if message.channel.type.value == "in_app_feed":
            assert sequence[:2] == ["sent", "delivered"], sequence
            assert set(sequence[2:]) <= {"seen", "read", "archived"}, sequence
        else:
            email_shapes[tuple(sequence)] += 1
            assert message.status.value in ("delivered", "bounced"), (sequence, message.status)
            if "delivery_attempted" in sequence:
                assert sequence[-2:] == ["sent", "delivered"], sequence
    delivered = sum(n for shape, n in email_shapes.items() if "delivered" in shape)
    assert delivered > 40 * 0.6, email_shapes
    assert len(email_shapes) >= 3, f"expected a mix of email outcomes among 40 recipients, got {email_shapes}"


async def check_happy_path(run: Run) -> None:
    """Every message: sent, delivered, seen, read, link_clicked; the last body shows all of it."""
    assert run.messages()
    for message in run.messages():
        assert run.sequence(message.id) == ["sent", "delivered", "seen", "read", "link_clicked"]
        last = run.message_events(message.id)[-1]
        assert last["data"]["status"] == "delivered"
        assert last["data"]["engagement_statuses"] == ["seen", "read", "link_clicked"]
        assert all(last["data"][f] is not None for f in ("seen_at", "read_at", "link_clicked_at", "clicked_at"))
        expected_url = {"email": "https://app.example.com/welcome", "in_app_feed": "https://app.example.com/inbox"}
        assert last["event_data"]["url"] == expected_url[message.channel.type.value]
    welcome = run.messages_of("generic welcome")
    assert welcome and all(m.source.categories == ("onboarding",) for m in welcome)


async def check_email_bounces(run: Run) -> None:
    """The "bounce" email always hard-bounces; u_undeliverable is attempted once, then undelivered."""
    bounced = run.messages_to("u_bounce", "email")
    assert len(bounced) == 2  # password-reset and the arbitrary key
    for message in bounced:
        assert run.sequence(message.id) == ["sent", "bounced"]
        assert run.message_events(message.id)[-1]["event_data"]["failure_reason"] == "hard_bounce"
    undeliverable = run.messages_to("u_undeliverable", "email")
    assert len(undeliverable) == 2
    for message in undeliverable:
        assert run.sequence(message.id) == ["delivery_attempted", "undelivered"]
        assert run.message_events(message.id)[-1]["event_data"]["failure_reason"] == "fatal_error"
    for message in run.messages_to("u_plain", "email"):
        assert run.sequence(message.id) in (["sent", "delivered"], ["sent", "bounced"])


def _attempts(run: Run, message_id: str) -> list[tuple[int, int, bool]]:
    return [
        (e["event_data"]["attempt"], e["event_data"]["max_attempts"], e["event_data"]["retryable"])
        for e in run.message_events(message_id)
        if e["type"] == "message.delivery_attempted"
    ]


async def check_retries(run: Run) -> None:
    """Forced outcomes give the exact retry sequences; drawn ones are one of the two shapes."""
    exhausted = {m.channel.type.value: m for m in run.messages_of("exhausted")}
    assert run.sequence(exhausted["email"].id) == ["delivery_attempted"] * 5 + ["undelivered"]
    assert _attempts(run, exhausted["email"].id) == [(n, 5, n < 5) for n in range(1, 6)]
    assert run.message_events(exhausted["email"].id)[-1]["event_data"]["failure_reason"] == "retries_exhausted"
    assert run.sequence(exhausted["sms"].id) == ["delivery_attempted"] * 3 + ["undelivered"]
    assert _attempts(run, exhausted["sms"].id) == [(n, 3, n < 3) for n in range(1, 4)]
    recovers = {m.channel.type.value: m for m in run.messages_of("recovers")}
    assert run.sequence(recovers["email"].id) == ["delivery_attempted", "delivery_attempted", "sent", "delivered"]
    assert _attempts(run, recovers["email"].id) == [(1, 5, True), (2, 5, True)]
    assert run.sequence(recovers["sms"].id) == ["delivery_attempted", "sent", "delivered"]
    shapes = Counter(m.status.value for m in run.messages_of("drawn"))
    assert set(shapes) == {"undelivered", "delivered"}, shapes


async def check_sms_push_chat(run: Run) -> None:
    """Push and chat stop at sent (or a push bounces with its token); sms ends delivered or undelivered."""
    for message in run.messages():
        sequence = run.sequence(message.id)
        kind = message.channel.type.value
        snapshot = run.message_events(message.id)[0]["data"]["recipient_snapshot"]
        # api.yml: a chat message's snapshot is its destination; sms and push carry none
        if kind == "chat":
            assert snapshot is not None and re.fullmatch(r"C[0-9A-Z]{10}", snapshot["channel_id"]), snapshot
        else:
            assert snapshot is None, (kind, snapshot)
        if kind == "chat":
            assert sequence == ["sent"]
        elif kind == "push":
            assert sequence in (["sent"], ["sent", "bounced"]), sequence
            if sequence[-1] == "bounced":
                data = run.message_events(message.id)[-1]["event_data"]
                assert data["failure_reason"] == "invalid_token" and data["token"]
        else:
            assert kind == "sms"
            assert sequence in (["sent", "delivered"], ["sent", "undelivered"]), sequence
    stale = run.messages_of("stale", channel="push")
    assert len(stale) == 2 and all(run.sequence(m.id) == ["sent", "bounced"] for m in stale)
    assert {m.channel.provider for m in stale} == {"apns", "fcm"}
    crowd = run.messages_of("crowd")
    assert {m.status.value for m in crowd if m.channel.type.value == "sms"} == {"delivered", "undelivered"}


async def check_batch(run: Run) -> None:
    """Five comments to each reader become one in-app message and ONE email per thread, listing the actors."""
    for reader in ("reader", "other_reader"):
        for channel in ("in_app_feed", "email"):
            messages = run.messages_to(reader, channel)
            by_thread = {(m.data or {}).get("thread_id"): m for m in messages}
            assert len(messages) == 2 and set(by_thread) == {"t1", "t2"}, [m.data for m in messages]
            assert by_thread["t1"].actors == ("ann", "bob", "cy")
            assert by_thread["t2"].actors == ("dee",)
            # api.yml: after a batch step, data is the most recent trigger's (the final activity's)
            assert by_thread["t1"].data == {"thread_id": "t1", "comment": 3}
            assert by_thread["t2"].data == {"thread_id": "t2", "comment": 4}
            for message in messages:
                wire = run.message_events(message.id)[0]["data"]
                assert wire["actors"] == list(message.actors)
                assert message.inserted_at_us - run.server.simulation.settings.start_at_us >= 10 * 60 * 1_000_000
    for recipient in ("u_plain", "u_bounce", "u_undeliverable"):
        email = run.messages_to(recipient, "email")
        assert len(email) == 1 and email[0].actors == ("golden_actor",)


async def check_branch_and_throttle(run: Run) -> None:
    """Routine alerts: 2 per hour per recipient; urgent ones always; low ones 1 per day; step conditions."""

    def kinds(label: str) -> list[str]:
        return sorted(m.channel.type.value for m in run.messages_of(label))

    assert kinds("routine 0") == kinds("routine 1") == ["email", "in_app_feed"]
    assert kinds("routine 2") == [], "the third routine alert within the hour must be throttled"
    assert not [
        e
        for e in run.events
        if e["type"].startswith("message.") and e["data"]["source"]["workflow_run_id"] == run.run_ids["routine 2"]
    ]
    assert kinds("urgent 0") == kinds("urgent 1") == ["push", "sms"]
    assert kinds("low 0") == ["in_app_feed"] and kinds("low 1") == []
    assert kinds("other recipient") == ["email", "in_app_feed"]
    assert kinds("in-app only") == ["in_app_feed"]
    assert kinds("no priority") == ["email", "in_app_feed"]
    throttled = [r for r in run.server.simulation.store.runs[run.run_ids["routine 2"]].recipient_runs]
    assert throttled and all("throttled" in (r.note or "") for r in throttled)


async def check_sandbox(run: Run) -> None:
    """Sandboxed messages are not_sent with no webhook; forced outcomes are exact."""
    sandboxed = run.messages_of("sandbox")
    assert len(sandboxed) == 4
    assert all(m.status.value == "not_sent" and run.sequence(m.id) == [] for m in sandboxed)
    async with aiohttp.ClientSession() as session:
        for message in sandboxed:
            url = f"{run.server.url}/v1/messages/{message.id}"
            async with session.get(url, headers=AUTH) as response:
                assert response.status == 200
                assert (await response.json())["status"] == "not_sent"
    email = {label: run.messages_of(label, channel="email")[0] for label in ("bounced", "engaged", "undelivered")}
    assert run.sequence(email["bounced"].id) == ["sent", "bounced"]
    assert run.sequence(email["engaged"].id) == ["sent", "delivered", "seen", "read", "link_clicked"]
    assert run.sequence(email["undelivered"].id) == ["delivery_attempted", "undelivered"]
    engaged_feed = run.messages_of("engaged", channel="in_app_feed")[0]
    assert run.sequence(engaged_feed.id) == ["sent", "delivered", "seen", "read"]
    assert all(run.sequence(m.id) == ["sent", "delivered"] for m in run.messages_of("delivered"))


async def check_run_events(run: Run) -> None:
    """Each recipient run: started first, its messages, completed last (a simulated day later for onboarding)."""
    runs = {r.id: r for record in run.server.simulation.store.runs.values() for r in record.recipient_runs}
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in run.events:
        if event["type"].startswith("workflow_recipient_run."):
            run_id = event["data"]["id"]
        else:
            run_id = event["data"]["source"]["workflow_recipient_run_id"]
        by_run.setdefault(run_id, []).append(event)
    assert set(by_run) == set(runs)
    for run_id, events in by_run.items():
        types = [e["type"] for e in events]
        assert types[0] == "workflow_recipient_run.started" and types[-1] == "workflow_recipient_run.completed"
        assert types.count("workflow_recipient_run.started") == types.count("workflow_recipient_run.completed") == 1
        assert events[0]["data"]["status"] == "processing" and events[-1]["data"]["status"] == "completed"
        assert len(types) > 2, f"run {run_id} sent no message events"
    for recipient_run in run.server.simulation.store.runs[run.run_ids["onboarding"]].recipient_runs:
        started, *_, completed = by_run[recipient_run.id]
        assert _us(completed["created_at"]) - _us(started["created_at"]) >= 86_400_000_000


def _us(stamp: str) -> int:
    return round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1_000_000)


@dataclass(frozen=True)
class Expectation:
    triggers: Callable[[], list[Trigger]]
    check: Callable[[Run], Awaitable[None]]


EXPECTATIONS: dict[str, Expectation] = {
    "default": Expectation(default_triggers, check_default),
    "happy-path-engagement": Expectation(list, check_happy_path),
    "email-bounces": Expectation(list, check_email_bounces),
    "retries-then-undelivered": Expectation(retries_triggers, check_retries),
    "sms-push-chat": Expectation(sms_push_chat_triggers, check_sms_push_chat),
    "batch-digest": Expectation(batch_triggers, check_batch),
    "branch-and-throttle": Expectation(branch_triggers, check_branch_and_throttle),
    "sandbox-and-forced-outcomes": Expectation(sandbox_triggers, check_sandbox),
    "recipient-run-events": Expectation(run_events_triggers, check_run_events),
}


# ----------------------------------------------------------------------------- generic checks


def check_generic(run: Run, schemas: SchemaRegistry) -> None:
    simulation = run.server.simulation
    assert simulation.engine.timeline.failures == [], "engine actions crashed"
    assert simulation.emitter.violations == [], "the engine built bodies that fail their schemas"
    store_events = list(simulation.store.events)
    assert len(store_events) == simulation.store.events_emitted, "the event log overflowed; trigger less"
    assert store_events, "the scenario produced no webhook at all"
    for received in run.receiver.received:
        body = received.json
        schemas.validate_event(body)
        verify(received.body, received.headers["x-knock-signature"], SECRET)
        assert received.headers["x-knock-event"] == body["type"]
    assert Counter(r.body for r in run.receiver.received) == Counter(e.body for e in store_events)
    for message in run.messages():
        check_message_events(run, message)


ENGAGEMENT = {"seen": ("seen", True), "unseen": ("seen", False), "read": ("read", True), "unread": ("read", False),
              "archived": ("archived", True), "unarchived": ("archived", False),
              "interacted": ("interacted", True), "link_clicked": ("link_clicked", True)}  # fmt: skip


def check_message_events(run: Run, message: Message) -> None:
    """One message's webhooks form a lifecycle Knock could produce, each body showing the state at that moment."""
    events = run.message_events(message.id)
    sequence = [e["type"].removeprefix("message.") for e in events]
    if message.status.value == "not_sent":
        assert sequence == [], "sandboxed (not_sent) messages send no webhook"
        return
    assert sequence, f"message {message.id} ({message.channel.key}) emitted no webhook"
    try:
        check_sequence(tuple(parse_step(name) for name in sequence), message.channel.type)
    except LifecycleError as exc:
        raise AssertionError(f"{message.channel.key} message {message.id} emitted {sequence}: {exc}") from None
    assert events[-1]["data"]["status"] == message.status.value
    if message.channel.type.value in PUSH_OR_CHAT:
        assert "delivered" not in [e["data"]["status"] for e in events], sequence
    status, engaged, previous = "queued", set[str](), ""
    for name, event in zip(sequence, events, strict=True):
        data = event["data"]
        assert data["id"] == message.id and data["recipient"] == message.recipient
        assert data["inserted_at"] == events[0]["data"]["inserted_at"] <= event["created_at"]
        assert data["updated_at"] == event["created_at"] >= previous, "events of a message go forward in time"
        previous = event["created_at"]
        if name in ENGAGEMENT:
            flag, on = ENGAGEMENT[name]
            engaged = engaged | {flag} if on else engaged - {flag}
        elif name == "sent" and message.channel.type.value in DELIVERED_WHEN_SENT:
            status = "delivered"  # Knock's own message.sent sample for an in-app message shows "delivered"
        else:
            status = name
        assert data["status"] == status, (sequence, name)
        assert set(data["engagement_statuses"]) == engaged, (sequence, name)
        for flag in engaged:
            assert data[f"{flag}_at"] is not None, (sequence, name, flag)


# ----------------------------------------------------------------------------- the test


async def start(make_server: ServerFactory, receiver: Receiver, path: Path) -> tuple[MockKnockServer, Scenario]:
    scenario = load_scenario(path)
    server = await make_server(receiver.url, virtual_clock=True, auto_advance=False, seed=1, scenario_obj=scenario)
    return server, scenario


async def send(session: aiohttp.ClientSession, server: MockKnockServer, trigger: Trigger) -> str | None:
    url = f"{server.url}/v1/workflows/{trigger.key}/trigger"
    async with session.post(url, json=trigger.body, headers=AUTH) as response:
        text = await response.text()
        assert response.status == trigger.status, (trigger.label, response.status, text)
        if response.status != 200:
            assert "workflow_missing" in text
            return None
        run_id = (await response.json())["workflow_run_id"]
        assert isinstance(run_id, str)
        return run_id


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
async def test_bundled_scenario(
    path: Path, make_server: ServerFactory, receiver: Receiver, schemas: SchemaRegistry
) -> None:
    """The scenario's triggers give valid, signed webhooks, exactly as emitted, and what its header promises."""
    server, scenario = await start(make_server, receiver, path)
    expectation = EXPECTATIONS.get(path.stem)
    triggers = generic_triggers(scenario) + (expectation.triggers() if expectation else [])
    run = Run(scenario, server, receiver)
    async with aiohttp.ClientSession() as session:
        for trigger in triggers:
            run_id = await send(session, server, trigger)
            if run_id is not None:
                run.run_ids[trigger.label] = run_id
    await server.simulation.settle()
    run.collect()
    check_generic(run, schemas)
    if expectation is not None:
        await expectation.check(run)


def test_specific_expectations_name_bundled_scenarios() -> None:
    """Every name in EXPECTATIONS is a bundled file, so renaming a scenario cannot silently drop its checks."""
    assert set(EXPECTATIONS) <= {p.stem for p in SCENARIO_FILES}


# ----------------------------------------------------------------------------- engine bugs found by the library
# Small scenarios outside the library that show engine bugs met while writing it; they fail until fixed.

JITTER_WIDER_THAN_DELAY = """\
name: jitter
unknown_workflows: accept
default_workflow:
  steps: [{ref: email_1, channel: email}]
lifecycles:
  - match: {channel_type: email}
    events: ["+10s sent", "+1s~5s delivered"]
"""
ATTEMPTS_IN_SEPARATE_STEPS = """\
name: attempts
unknown_workflows: accept
default_workflow:
  steps: [{ref: email_1, channel: email}]
lifecycles:
  - match: {channel_type: email}
    events: ["+1s delivery_attempted", "+30s delivery_attempted x2", "+1s sent", "+1s delivered"]
"""


async def run_text(
    text: str, tmp_path: Path, make_server: ServerFactory, receiver: Receiver, recipients: int
) -> Run | None:
    """Trigger an arbitrary key for N recipients under the scenario in ``text``; None if the parser refuses it."""
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        server, scenario = await start(make_server, receiver, path)
    except ScenarioError:
        return None
    run = Run(scenario, server, receiver)
    async with aiohttp.ClientSession() as session:
        body = {"recipients": [f"u{i}" for i in range(recipients)]}
        run_id = await send(session, server, Trigger(ARBITRARY_KEY, body, "all"))
        assert run_id is not None
        run.run_ids["all"] = run_id
    await server.simulation.settle()
    run.collect()
    return run


async def test_jitter_never_reorders_a_lifecycle(
    tmp_path: Path, make_server: ServerFactory, receiver: Receiver
) -> None:
    """`+10s sent, +1s~5s delivered`: delivered may land up to 4s before sent; the parser must refuse a jitter wider
    than its delay, or the engine must keep the steps in order (now some messages go delivered, then sent)."""
    run = await run_text(JITTER_WIDER_THAN_DELAY, tmp_path, make_server, receiver, recipients=20)
    if run is None:
        return  # refused by the parser: fixed that way
    orders = Counter(tuple(run.sequence(m.id)) for m in run.messages())
    assert orders == Counter({("sent", "delivered"): 20}), orders


async def test_attempts_count_across_separate_steps(
    tmp_path: Path, make_server: ServerFactory, receiver: Receiver
) -> None:
    """`delivery_attempted` then `delivery_attempted x2` are attempts 1, 2 and 3 of one message (now 1, 1, 2)."""
    run = await run_text(ATTEMPTS_IN_SEPARATE_STEPS, tmp_path, make_server, receiver, recipients=1)
    assert run is not None
    (message,) = run.messages()
    assert [a for a, _, _ in _attempts(run, message.id)] == [1, 2, 3]
