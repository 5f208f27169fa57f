"""Scenario features as an app sees them through the official SDK: magic recipients, batches, delays."""

from __future__ import annotations

import asyncio
from pathlib import Path

from knockapi import Knock

from mockknock.scenario_file import load_scenario
from tests.conftest import Receiver, ServerFactory

SCENARIO = """
version: 1
name: sdk-functional
unknown_workflows: reject
channels:
  mail: {type: email, provider: postmark}
  feed: {type: in_app_feed, provider: knock}
workflows:
  comment:
    steps: [{channel: mail}]
  digest:
    steps:
      - batch: {window: 5m, key: data.thread_id}
      - channel: mail
  reminder:
    steps: [{channel: feed}, {delay: 2h}, {channel: mail}]
lifecycles:
  - match: {channel: mail}
    outcomes:
      delivered: {weight: 1, events: [+1s sent, +2s delivered]}
      bounced: {weight: 0, events: [+1s sent, +1s bounced(hard_bounce)]}
rules:
  - when: {recipient.email: {contains: bounce}}
    outcome: bounced
  - when: {recipient.id: u_undeliverable}
    events: [delivery_attempted x3, undelivered(retries_exhausted)]
"""


def client(url: str) -> Knock:
    return Knock(api_key="sk_test_functional", base_url=url, max_retries=0)


async def start(make_server: ServerFactory, receiver: Receiver, tmp_path: Path) -> tuple[Knock, object]:
    # Time stands still between SDK calls (they come from another thread, so an auto-advancing clock would
    # jump past the batch window while the next call is on its way); settle() then runs it to the end.
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    server = await make_server(receiver.url, virtual_clock=True, auto_advance=False, scenario_obj=load_scenario(path))
    return client(server.url), server


class TestThroughTheSdk:
    """knockapi calls against scenario behaviour."""

    async def test_magic_recipients(self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path) -> None:
        """Inline users decide outcomes: a 'bounce' email bounces, u_undeliverable exhausts retries."""
        knock, server = await start(make_server, receiver, tmp_path)
        await asyncio.to_thread(
            knock.workflows.trigger,
            "comment",
            recipients=[{"id": "b1", "email": "please.bounce@example.com"}, "u_undeliverable",
                        {"id": "ok", "email": "ok@example.com"}],
        )
        await server.simulation.settle()  # type: ignore[attr-defined]
        final = {r.json["data"]["recipient"]: r.type for r in receiver.received}
        assert final == {"b1": "message.bounced", "u_undeliverable": "message.undelivered", "ok": "message.delivered"}
        attempts = [r.json["event_data"]["attempt"] for r in receiver.received
                    if r.type == "message.delivery_attempted"]
        assert attempts == [1, 2, 3]
        page = await asyncio.to_thread(knock.messages.list, status=["bounced"])
        assert [m.recipient for m in page.items] == ["b1"]

    async def test_force_outcome_through_data(
        self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path
    ) -> None:
        """data.force_outcome picks the bounced outcome for an ordinary recipient."""
        knock, server = await start(make_server, receiver, tmp_path)
        await asyncio.to_thread(knock.workflows.trigger, "comment", recipients=["u1"],
                                data={"force_outcome": "bounced"})
        await server.simulation.settle()  # type: ignore[attr-defined]
        assert receiver.types() == ["message.sent", "message.bounced"]

    async def test_batch_merges_triggers(self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path) -> None:
        """Three SDK triggers on one thread make one email listing their actors."""
        knock, server = await start(make_server, receiver, tmp_path)
        runs = []
        for actor in ("alice", "bob", "carol"):
            result = await asyncio.to_thread(knock.workflows.trigger, "digest", recipients=["u1"], actor=actor,
                                             data={"thread_id": "t-9"})
            runs.append(result.workflow_run_id)
        await server.simulation.settle()  # type: ignore[attr-defined]
        assert len(set(runs)) == 3
        sent = [r.json for r in receiver.received if r.type == "message.sent"]
        assert len(sent) == 1 and sent[0]["data"]["actors"] == ["alice", "bob", "carol"]
        assert sent[0]["data"]["source"]["workflow_run_id"] == runs[0]

    async def test_delay_is_visible_in_timestamps(
        self, make_server: ServerFactory, receiver: Receiver, tmp_path: Path
    ) -> None:
        """A 2h delay puts the email two simulated hours after the feed message; skip_delay removes it."""
        knock, server = await start(make_server, receiver, tmp_path)
        await asyncio.to_thread(knock.workflows.trigger, "reminder", recipients=["u1"])
        await server.simulation.settle()  # type: ignore[attr-defined]
        stamps = {r.json["data"]["channel"]["key"]: r.json["data"]["inserted_at"] for r in receiver.received}
        assert stamps["feed"].startswith("2026-01-01T00:00:00")
        assert stamps["mail"].startswith("2026-01-01T02:00:00")
        await asyncio.to_thread(knock.workflows.trigger, "reminder", recipients=["u2"], settings={"skip_delay": True})
        await server.simulation.settle()  # type: ignore[attr-defined]
        u2 = {r.json["data"]["channel"]["key"]: r.json["data"]["inserted_at"] for r in receiver.received
              if r.json["data"]["recipient"] == "u2"}
        assert u2["feed"] == u2["mail"]
