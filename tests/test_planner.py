"""The engine without sockets: branches, batches, throttles, delays, rules and forced outcomes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockknock.offline import OfflineRun
from mockknock.scenario import Scenario
from mockknock.scenario_file import load_scenario
from mockknock.schemas import SchemaRegistry

START = 1_767_225_600_000_000


class Harness(OfflineRun):
    """An engine on a hand-driven virtual clock; events are collected instead of delivered."""

    def __init__(self, scenario: Scenario, schemas: SchemaRegistry, seed: int = 1) -> None:
        super().__init__(scenario, schemas, seed=seed, start_us=START)

    def send(self, workflow: str, **fields: Any) -> str:
        """Trigger for u1 unless told otherwise."""
        return self.trigger(workflow, {"recipients": ["u1"], **fields})

    def run_all(self) -> None:
        self.run()

    def bodies(self, event_type: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(e.body) for e in self.events]
        return [b for b in found if event_type is None or b["type"] == event_type]


def scenario(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_scenario(path)


BASE = """
version: 1
unknown_workflows: reject
channels:
  mail: {type: email, provider: sendgrid}
  feed: {type: in_app_feed, provider: knock}
  text: {type: sms, provider: twilio}
"""


class TestDelays:
    """Delay steps and settings.skip_delay."""

    def test_delay_holds_the_next_step(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A 5m delay: the email message exists only after five simulated minutes."""
        h = Harness(scenario(tmp_path, BASE + """
workflows:
  wf:
    steps: [{channel: feed}, {delay: 5m}, {channel: mail}]
lifecycles:
  - match: {channel: mail}
    events: [sent]
"""), schemas)
        h.send("wf")
        h.advance(1)
        assert len(h.store.messages) == 1
        h.advance(5 * 60_000_000 - 2)
        assert len(h.store.messages) == 1
        h.advance(1)
        assert len(h.store.messages) == 2
        sent = h.bodies("message.sent")[-1]
        assert sent["data"]["channel"]["key"] == "mail"
        assert sent["created_at"] == "2026-01-01T00:05:00.000000Z"

    def test_skip_delay(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """settings.skip_delay makes both messages at once."""
        h = Harness(scenario(tmp_path, BASE + "workflows:\n  wf:\n    steps: [{channel: feed}, {delay: 1h}, "
                                              "{channel: mail}]\n"), schemas)
        h.send("wf", settings={"skip_delay": True})
        h.advance(1)
        assert len(h.store.messages) == 2


class TestBranches:
    """Branch steps on trigger data."""

    TEXT = BASE + """
workflows:
  wf:
    steps:
      - branch:
          - name: urgent
            when: {data.priority: high}
            steps: [{channel: text}]
            terminates: true
          - name: normal
            steps: [{channel: feed}]
      - channel: mail
"""

    @pytest.mark.parametrize(("data", "channels"), [({"priority": "high"}, ["text"]), ({}, ["feed", "mail"])])
    def test_first_matching_branch(
        self, tmp_path: Path, schemas: SchemaRegistry, data: dict[str, str], channels: list[str]
    ) -> None:
        """High priority takes the terminating sms branch; anything else falls through to feed then mail."""
        h = Harness(scenario(tmp_path, self.TEXT), schemas)
        h.send("wf", data=data)
        h.run_all()
        assert [m.channel.key for m in h.store.messages.values()] == channels

    def test_step_conditions(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A channel step's `when` skips it for recipients it does not hold for."""
        h = Harness(scenario(tmp_path, BASE + """
workflows:
  wf:
    steps:
      - channel: mail
        when: {recipient.email: {exists: true}}
      - channel: feed
"""), schemas)
        h.send("wf", recipients=[{"id": "a", "email": "a@x.io"}, {"id": "p", "collection": "projects"}])
        h.run_all()
        assert sorted((str(m.recipient), m.channel.key) for m in h.store.messages.values()) == [
            ("('projects', 'p')", "feed"), ("a", "feed"), ("a", "mail")]


class TestBatches:
    """Batch steps: one message for several triggers, with their actors."""

    TEXT = BASE + """
workflows:
  digest:
    steps:
      - batch: {window: 10m, key: data.thread_id}
      - channel: mail
lifecycles:
  - match: {channel: mail}
    events: [sent]
"""

    def test_triggers_in_window_make_one_message(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """Three triggers on one thread within the window: one email with three distinct actors."""
        h = Harness(scenario(tmp_path, self.TEXT), schemas)
        for actor in ("a1", "a2", "a1", "a3"):
            h.send("digest", actor=actor, data={"thread_id": "t1"})
            h.advance(60_000_000)
        h.send("digest", actor="b1", data={"thread_id": "t2"})
        h.run_all()
        emails = h.bodies("message.sent")
        assert len(emails) == 2
        assert emails[0]["data"]["actors"] == ["a1", "a2", "a3"]
        assert emails[0]["created_at"] == "2026-01-01T00:10:00.000000Z"
        assert emails[1]["data"]["actors"] == ["b1"]
        notes = [r.note for r in h.store.recipient_runs.values() if r.note]
        assert len(notes) == 3 and all("batched into" in n for n in notes)

    def test_after_window_a_new_batch_opens(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A trigger after the window closed starts a second batch."""
        h = Harness(scenario(tmp_path, self.TEXT), schemas)
        h.send("digest", actor="a1", data={"thread_id": "t1"})
        h.advance(11 * 60_000_000)
        h.send("digest", actor="a2", data={"thread_id": "t1"})
        h.run_all()
        assert [e["data"]["actors"] for e in h.bodies("message.sent")] == [["a1"], ["a2"]]

    def test_sliding_window_extends(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """With sliding: true each trigger pushes the close back by the window."""
        h = Harness(scenario(tmp_path, self.TEXT.replace("key: data.thread_id", "sliding: true")), schemas)
        h.send("digest", actor="a1")
        h.advance(9 * 60_000_000)
        h.send("digest", actor="a2")
        h.run_all()
        (email,) = h.bodies("message.sent")
        assert email["data"]["actors"] == ["a1", "a2"]
        assert email["created_at"] == "2026-01-01T00:19:00.000000Z"


class TestThrottle:
    """Throttle steps."""

    def test_limit_per_window(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """limit 2 per hour: the third trigger within the hour stops at the throttle; later ones pass."""
        h = Harness(scenario(tmp_path, BASE + """
workflows:
  wf:
    steps: [{throttle: {limit: 2, window: 1h}}, {channel: feed}]
"""), schemas)
        for _ in range(3):
            h.send("wf")
            h.advance(60_000_000)
        h.advance(3600_000_000)
        h.send("wf")
        h.run_all()
        assert len(h.store.messages) == 3
        assert sum(1 for r in h.store.recipient_runs.values() if r.note and "throttled" in r.note) == 1


class TestOutcomes:
    """Weighted outcomes, magic-recipient rules and data.force_outcome."""

    TEXT = BASE + """
workflows:
  wf:
    steps: [{channel: mail}]
lifecycles:
  - match: {channel_type: email}
    outcomes:
      delivered: {weight: 1, events: [sent, +2s delivered]}
      bounced: {weight: 0, events: [sent, +1s bounced(hard_bounce)]}
rules:
  - when: {recipient.email: {contains: bounce}}
    outcome: bounced
  - when: {recipient.id: u_undeliverable}
    events: [delivery_attempted x2, undelivered(retries_exhausted)]
"""

    def test_rules_pick_outcomes(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """An email containing 'bounce' bounces; u_undeliverable fails; others follow the weights."""
        h = Harness(scenario(tmp_path, self.TEXT), schemas)
        h.send("wf", recipients=[{"id": "b", "email": "will.bounce@x.io"}, "u_undeliverable", "ok"])
        h.run_all()
        final = {str(m.recipient): m.status.value for m in h.store.messages.values()}
        assert final == {"b": "bounced", "u_undeliverable": "undelivered", "ok": "delivered"}

    def test_force_outcome(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """data.force_outcome names the outcome, even one of weight 0."""
        h = Harness(scenario(tmp_path, self.TEXT), schemas)
        h.send("wf", data={"force_outcome": "bounced"})
        h.run_all()
        assert [m.status.value for m in h.store.messages.values()] == ["bounced"]

    def test_weights_follow_the_seed(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """With 3:1 weights about a quarter bounce, and the same seed picks the same ones."""
        text = self.TEXT.replace("weight: 0", "weight: 1").replace("delivered: {weight: 1", "delivered: {weight: 3")

        def statuses(seed: int) -> list[str]:
            h = Harness(scenario(tmp_path, text), schemas, seed=seed)
            h.send("wf", recipients=[f"u{i}" for i in range(400)])
            h.run_all()
            return [m.status.value for m in h.store.messages.values()]

        first = statuses(3)
        assert 60 < first.count("bounced") < 140
        assert first == statuses(3)
        assert first != statuses(4)

    def test_sandbox_mode_sends_nothing(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """settings.sandbox_mode: messages are not_sent and no webhook is emitted."""
        h = Harness(scenario(tmp_path, self.TEXT), schemas)
        h.send("wf", settings={"sandbox_mode": True})
        h.run_all()
        assert [m.status.value for m in h.store.messages.values()] == ["not_sent"]
        assert h.events == []


class TestCancellation:
    """Cancel before the delay ends."""

    def test_cancel_during_delay(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """A run cancelled during its delay makes no second message; the run says why."""
        h = Harness(scenario(tmp_path, BASE + "workflows:\n  wf:\n    steps: [{channel: feed}, {delay: 1h}, "
                                              "{channel: mail}]\n"), schemas)
        h.send("wf", cancellation_key="c1")
        h.advance(60_000_000)
        assert h.engine.cancel("wf", "c1", None) == 1
        h.run_all()
        assert len(h.store.messages) == 1
        (run,) = h.store.recipient_runs.values()
        assert run.status.value == "cancelled" and run.note is not None
        assert h.engine.cancel("wf", "c1", None) == 0
