"""mockknock.fixtures and ``mockknock fixtures``: schema-valid webhook bodies and files, with no server."""

from __future__ import annotations

import doctest
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mockknock import fixture_files, fixtures, signing
from mockknock.config import DEFAULT_ENVIRONMENT_ID
from mockknock.fixtures import (
    EVENT_TYPES,
    FIXTURE_SECRET,
    FixtureError,
    FixtureEvent,
    FixtureFactory,
    body_bytes,
    load_fixture_scenario,
    signed_headers,
)
from mockknock.lifecycle import check_sequence
from mockknock.model import EventType
from mockknock.scenario import Scenario
from mockknock.schemas import SchemaRegistry
from mockknock.signing import SignatureError, verify

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MESSAGE_TYPES = [t for t in EVENT_TYPES if t.startswith("message.")]


@pytest.fixture(scope="module")
def factory(schemas: SchemaRegistry) -> FixtureFactory:
    return FixtureFactory(schemas)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = fixture_files.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def read_dir(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def triggers_for(scenario: Scenario) -> list[tuple[str, dict[str, Any]]]:
    """One trigger per workflow the scenario defines (or one unknown key it accepts), for two recipients."""
    keys = list(scenario.workflows) or ["test-workflow"]
    recipients = [{"id": "u_fixture_1", "email": "one@example.com", "name": "One"}, "u_fixture_2"]
    return [(key, {"recipients": recipients, "data": {"priority": "high"}}) for key in keys]


class TestKnockEvent:
    """knock_event: one realistic body of any of the 26 types."""

    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_every_type_builds_and_validates(
        self, factory: FixtureFactory, schemas: SchemaRegistry, event_type: str
    ) -> None:
        """The body passes both validation paths of its event schema and carries its own type."""
        body = factory.knock_event(event_type, seed=3)
        assert body["type"] == event_type
        assert list(body) == ["__typename", "type", "created_at", "data", "event_data"]
        schemas.validate_event(body)
        assert schemas.issues(f"events/{event_type}", body) == []

    @pytest.mark.parametrize(
        ("event_type", "status", "engagement"),
        [
            ("message.sent", "sent", []),
            ("message.delivered", "delivered", []),
            ("message.delivery_attempted", "delivery_attempted", []),
            ("message.undelivered", "undelivered", []),
            ("message.bounced", "bounced", []),
            ("message.seen", "delivered", ["seen"]),
            ("message.unseen", "delivered", []),
            ("message.read", "delivered", ["seen", "read"]),
            ("message.unread", "delivered", ["seen"]),
            ("message.archived", "delivered", ["seen", "read", "archived"]),
            ("message.unarchived", "delivered", ["seen", "read"]),
            ("message.interacted", "delivered", ["seen", "read", "interacted"]),
            ("message.link_clicked", "delivered", ["seen", "read", "link_clicked"]),
        ],
    )
    def test_message_state_matches_the_event(
        self, factory: FixtureFactory, event_type: str, status: str, engagement: list[str]
    ) -> None:
        """The Message inside is in the state its lifecycle reached at that event."""
        data = factory.knock_event(event_type, seed=1)["data"]
        assert data["status"] == status
        assert data["engagement_statuses"] == engagement
        for name in engagement:
            assert data[f"{name}_at"] is not None
        assert data["updated_at"] == factory.knock_event(event_type, seed=1)["created_at"]

    def test_event_data_follows_knock_reference(self, factory: FixtureFactory) -> None:
        """Type-specific event_data: bounce reason, attempts, url, interaction metadata."""
        bounced = factory.knock_event("message.bounced")["event_data"]
        assert bounced["failure_reason"] == "hard_bounce" and bounced["failure_details"]
        attempted = factory.knock_event("message.delivery_attempted")["event_data"]
        assert attempted == {"__typename": "EventData", "attempt": 1, "max_attempts": 8, "retryable": True}
        undelivered = factory.knock_event("message.undelivered")["event_data"]
        assert undelivered["failure_reason"] == "retries_exhausted"
        clicked = factory.knock_event("message.link_clicked")["event_data"]
        assert clicked["url"].startswith("https://")
        interacted = factory.knock_event("message.interacted")
        assert interacted["event_data"] == {"__typename": "EventData", **interacted["data"]["metadata"]}
        assert factory.knock_event("message.sent")["event_data"] is None

    def test_stories_are_lifecycles_knock_could_produce(self) -> None:
        """Each built-in one-message story passes the scenario loader's own sequence check."""
        for event_type in (EventType(t) for t in MESSAGE_TYPES):
            story = fixtures._story_of(event_type)
            check_sequence(story.parsed("https://example.com/x"), story.channel_type)

    @pytest.mark.parametrize(
        "event_type", ["message.link_clicked", "message.interacted", "workflow_recipient_run.completed",
                       "workflow_recipient_run.error", "partial.committed"]
    )
    def test_at_is_the_created_at(self, factory: FixtureFactory, event_type: str) -> None:
        """``at`` (datetime or ISO string) becomes created_at exactly; earlier steps sit before it."""
        when = datetime(2026, 3, 1, 12, 30, 5, 250000, tzinfo=UTC)
        body = factory.knock_event(event_type, at=when)
        assert body["created_at"] == "2026-03-01T12:30:05.250000Z"
        assert factory.knock_event(event_type, at="2026-03-01T12:30:05.25Z") == body
        inserted = body["data"].get("inserted_at") or body["data"].get("created_at")
        assert inserted <= body["created_at"]

    def test_default_time_starts_the_story_on_the_virtual_clock(self, factory: FixtureFactory) -> None:
        """Without ``at`` the trigger is at 2026-01-01T00:00:00Z and the event as late as its lifecycle says."""
        read = factory.knock_event("message.read")
        assert read["data"]["inserted_at"] == "2026-01-01T00:00:00.000000Z"
        assert read["created_at"] == "2026-01-01T00:02:05.000000Z"

    def test_naive_or_malformed_time_is_refused(self, factory: FixtureFactory) -> None:
        """A time without a zone is ambiguous, and one before KSUIDs existed cannot be an id."""
        with pytest.raises(FixtureError, match="no time zone"):
            factory.knock_event("message.sent", at=datetime(2026, 1, 1))
        with pytest.raises(FixtureError, match="ISO-8601"):
            factory.knock_event("message.sent", at="yesterday")
        with pytest.raises(FixtureError, match="outside"):
            factory.knock_event("message.sent", at="2001-01-01T00:00:00Z")

    @pytest.mark.parametrize("event_type", [t for t in EVENT_TYPES if t.endswith(".committed")])
    def test_committed_carries_a_commit_id(self, factory: FixtureFactory, event_type: str) -> None:
        """Every *.committed has event_data.commit_id, a UUID; *.updated has null event_data."""
        body = factory.knock_event(event_type, seed=9)
        assert UUID.match(body["event_data"]["commit_id"])
        assert factory.knock_event(event_type.replace("committed", "updated"), seed=9)["event_data"] is None

    def test_run_error_is_the_run_reported_while_processing(self, factory: FixtureFactory) -> None:
        """workflow_recipient_run.error: the completed run's ids and times, status processing, one error."""
        completed = factory.knock_event("workflow_recipient_run.completed", seed=4)
        error = factory.knock_event("workflow_recipient_run.error", seed=4)
        assert error["data"]["id"] == completed["data"]["id"]
        assert error["data"]["status"] == "processing" and error["data"]["error_count"] == 1
        assert completed["data"]["status"] == "completed" and completed["data"]["error_count"] == 0
        started = factory.knock_event("workflow_recipient_run.started", seed=4)
        assert started["data"]["status"] == "processing" and started["created_at"] < completed["created_at"]

    def test_unknown_type_suggests_the_nearest(self, factory: FixtureFactory) -> None:
        """A misspelt type is a ValueError that names the type it probably meant."""
        with pytest.raises(ValueError, match=r"did you mean 'message\.bounced'"):
            factory.knock_event("message.bounce")

    def test_enum_and_string_agree(self, factory: FixtureFactory) -> None:
        """EventType members and their wire names build the same body."""
        assert factory.knock_event(EventType.MESSAGE_SEEN) == factory.knock_event("message.seen")

    def test_module_function_matches_a_factory(self, factory: FixtureFactory) -> None:
        """fixtures.knock_event (shared default factory) and a factory of one's own give the same bytes."""
        for event_type in ("message.sent", "translation.updated"):
            assert body_bytes(fixtures.knock_event(event_type, seed=2)) == body_bytes(
                factory.knock_event(event_type, seed=2)
            )


class TestOverrides:
    """Overrides deep-merge into the body, and the result is validated."""

    def test_mappings_merge_key_by_key(self, factory: FixtureFactory) -> None:
        """A nested override changes only the keys it names."""
        base = factory.knock_event("message.bounced", seed=5)
        merged = factory.knock_event(
            "message.bounced", {"data": {"tenant": "acme", "data": {"extra": 1}}}, seed=5
        )
        assert merged["data"]["tenant"] == "acme"
        assert merged["data"]["data"] == {**base["data"]["data"], "extra": 1}
        assert merged["data"]["id"] == base["data"]["id"]
        assert merged["event_data"] == base["event_data"]

    def test_lists_and_scalars_replace(self, factory: FixtureFactory) -> None:
        """A list in an override replaces the list, not merges into it."""
        merged = factory.knock_event("message.sent", {"data": {"actors": ["u_a", "u_b"]}, "created_at":
                                                     "2027-01-01T00:00:00.000000Z"})
        assert merged["data"]["actors"] == ["u_a", "u_b"]
        assert merged["created_at"] == "2027-01-01T00:00:00.000000Z"

    def test_overrides_are_copied(self, factory: FixtureFactory) -> None:
        """Changing the override afterwards (or the result) changes nothing else."""
        extra = {"data": {"metadata": {"k": ["v"]}}}
        body = factory.knock_event("message.read", extra)
        extra["data"]["metadata"]["k"].append("w")
        assert body["data"]["metadata"] == {"k": ["v"]}
        body["data"]["status"] = "changed"
        assert factory.knock_event("message.read", extra)["data"]["status"] == "delivered"

    def test_breaking_override_names_the_pointer(self, factory: FixtureFactory) -> None:
        """A FixtureError (a ValueError) lists each JSON pointer that broke and why."""
        with pytest.raises(ValueError, match="after overrides") as caught:
            factory.knock_event("message.sent", {"data": {"status": "lost", "channel_id": 7}})
        error = caught.value
        assert isinstance(error, FixtureError)
        assert {issue.pointer for issue in error.issues} == {"/data/status", "/data/channel_id"}
        assert "/data/status: 'lost' is not one of" in str(error)

    def test_breaking_a_required_key_is_located(self, factory: FixtureFactory) -> None:
        """Replacing event_data with null on a type that needs it is reported at /event_data."""
        with pytest.raises(FixtureError, match="/event_data"):
            factory.knock_event("workflow.committed", {"event_data": None})

    def test_validate_false_allows_broken_bodies(self, factory: FixtureFactory, schemas: SchemaRegistry) -> None:
        """For negative tests, validate=False returns exactly what was asked for."""
        body = factory.knock_event("message.sent", {"data": {"status": "lost"}, "__typename": "Nope"},
                                   validate=False)
        assert body["data"]["status"] == "lost" and body["__typename"] == "Nope"
        assert not schemas.is_valid("events/message.sent", body)


class TestDeterminism:
    """The same seed gives the same bytes; another seed gives other ids and values."""

    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_same_seed_same_bytes_other_seed_other_body(self, schemas: SchemaRegistry, event_type: str) -> None:
        """Two fresh factories agree byte for byte for a seed, whatever was built before."""
        first, second = FixtureFactory(schemas), FixtureFactory(schemas)
        second.knock_event("message.link_clicked", seed=99)  # state from an earlier build must not leak
        assert body_bytes(first.knock_event(event_type, seed=11)) == body_bytes(second.knock_event(event_type, seed=11))
        assert first.knock_event(event_type, seed=11) != first.knock_event(event_type, seed=12)

    def test_message_ids_differ_per_seed(self, factory: FixtureFactory) -> None:
        """Twenty seeds, twenty message ids."""
        ids = {factory.knock_event("message.delivered", seed=s)["data"]["id"] for s in range(20)}
        assert len(ids) == 20

    def test_a_fixture_is_what_the_engine_emitted(self, factory: FixtureFactory) -> None:
        """Without overrides, body_bytes(fixture) round-trips to the emitted bytes exactly."""
        body = factory.knock_event("message.link_clicked", seed=8)
        assert json.loads(body_bytes(body)) == body
        assert b'"__typename":"Event","type":"message.link_clicked"' in body_bytes(body)


class TestEventStream:
    """event_stream: a whole scenario run, in emission order."""

    @pytest.mark.parametrize("name", sorted(fixture_files.bundled_scenarios()))
    def test_every_bundled_scenario_gives_valid_events(
        self, factory: FixtureFactory, schemas: SchemaRegistry, name: str
    ) -> None:
        """Played by its script, or by explicit triggers when it has none: every body validates, in order."""
        scenario = load_fixture_scenario(name)
        triggers = None if scenario.script else triggers_for(scenario)
        events = factory.event_stream(name, seed=5, triggers=triggers)
        assert events, f"{name} emitted nothing"
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.created_at_us for e in events] == sorted(e.created_at_us for e in events)
        for event in events:
            assert isinstance(event, FixtureEvent)
            assert event.json == json.loads(event.body) and event.json["type"] == event.type.value
            assert event.json["created_at"] == event.created_at
            schemas.validate_event(event.json)

    def test_script_is_played(self, factory: FixtureFactory, tmp_path: Path) -> None:
        """A scenario's script: calls are made on the virtual clock, {fake: N} recipients filled from the seed."""
        path = tmp_path / "scripted.yaml"
        path.write_text(
            "version: 1\nname: scripted\nunknown_workflows: accept\n"
            "script:\n"
            "  - {at: 0s, workflow: welcome, recipients: {fake: 2}}\n"
            "  - {at: 10m, every: 1m, count: 2, workflow: welcome, recipients: [u_late]}\n"
        )
        events = factory.event_stream(path, seed=1)
        recipients = {e.json["data"]["recipient"] for e in events}
        assert "u_late" in recipients and len(recipients) == 3
        assert events[-1].created_at_us - events[0].created_at_us >= 11 * 60_000_000
        assert body_bytes_list(factory.event_stream(str(path), seed=1)) == body_bytes_list(events)
        assert body_bytes_list(factory.event_stream(path, seed=2)) != body_bytes_list(events)
        # The script and explicit triggers together; triggers=[] plays the script alone.
        both = factory.event_stream(path, seed=1, triggers=[("welcome", {"recipients": ["u_extra"]})])
        assert len(both) > len(events)
        assert body_bytes_list(factory.event_stream(path, seed=1, triggers=[])) == body_bytes_list(events)

    def test_without_script_or_triggers_plays_default_triggers(self, factory: FixtureFactory) -> None:
        """A scriptless scenario is triggered once per workflow for three fake recipients."""
        events = factory.event_stream("email-bounces")
        assert len({e.json["data"]["recipient"] for e in events}) == 3 * len(load_fixture_scenario("email-bounces")
                                                                              .workflows)

    def test_seed_defaults_to_the_scenario_seed(self, factory: FixtureFactory, tmp_path: Path) -> None:
        """seed=None uses the scenario's own seed."""
        path = tmp_path / "seeded.yaml"
        path.write_text("version: 1\nseed: 42\nunknown_workflows: accept\n")
        triggers = [("w", {"recipients": ["u1"]})]
        assert body_bytes_list(factory.event_stream(path, triggers=triggers)) == body_bytes_list(
            factory.event_stream(path, seed=42, triggers=triggers)
        )

    def test_bad_triggers_are_reported(self, factory: FixtureFactory) -> None:
        """An invalid body or a workflow the scenario rejects is a FixtureError naming the trigger."""
        with pytest.raises(FixtureError, match=r"trigger 1 \(w\): not a valid trigger body: recipients"):
            factory.event_stream("default", triggers=[("w", {"recipients": "u1"})])
        with pytest.raises(FixtureError, match=r"trigger 1 .*404 workflow_missing"):
            factory.event_stream("retries-then-undelivered", triggers=[("nope", {"recipients": ["u1"]})])

    def test_unknown_scenario(self, factory: FixtureFactory, tmp_path: Path) -> None:
        """A name that is no bundled scenario, or a path that is no file, raises FileNotFoundError."""
        with pytest.raises(FileNotFoundError, match="bundled"):
            factory.event_stream("no-such-scenario")
        with pytest.raises(FileNotFoundError, match="no scenario file"):
            factory.event_stream(tmp_path / "missing.yaml")

    def test_headers_of_a_stream_event_verify(self, factory: FixtureFactory) -> None:
        """FixtureEvent.headers signs at created_at by default."""
        event = factory.event_stream("default", triggers=[("w", {"recipients": ["u1"]})])[0]
        headers = event.headers()
        assert verify(event.body, headers["x-knock-signature"], FIXTURE_SECRET, tolerance_ms=None) == (
            event.created_at_us // 1000
        )
        assert headers["x-knock-event"] == event.type.value


def body_bytes_list(events: list[FixtureEvent]) -> list[bytes]:
    return [e.body for e in events]


class TestSignedHeaders:
    """signed_headers: what delivery.py sends."""

    def test_knock_reference_vector(self) -> None:
        """The test vector of knock-reference §1.3."""
        body = (b'{"__typename":"Event","type":"message.read","created_at":"2026-01-01T00:00:00.000000Z",'
                b'"data":{"__typename":"Message","id":"2w3YUpTTOxuDvZFji8OMsKrG176"},"event_data":null}')
        headers = signed_headers(body, "test_webhook_secret", 1767225600000)
        assert headers["x-knock-signature"] == "t=1767225600000,s=Vef4a2qGe+GONi8SgJuDy3BNM7op+aUAX26VCrPCvhs="
        assert headers["x-knock-event"] == "message.read"
        assert headers["content-type"] == "application/json"
        assert headers["x-knock-environment-id"] == DEFAULT_ENVIRONMENT_ID

    def test_same_names_as_delivery(self) -> None:
        """The headers delivery sends (signing.webhook_headers, which delivery.py builds with), plus user-agent."""
        headers = signed_headers(b'{"type":"message.sent"}', "s", 1, "env")
        expected = signing.webhook_headers("message.sent", "env", signing.sign(b'{"type":"message.sent"}', "s", 1))
        assert headers == {**expected, "user-agent": headers["user-agent"]}
        assert headers["user-agent"].startswith("mockknock/")

    def test_fresh_timestamp_passes_the_tolerance(self) -> None:
        """With no timestamp the signature is stamped now, so a 5-minute check accepts it."""
        body = body_bytes(fixtures.knock_event("message.sent"))
        verify(body, signed_headers(body, "s")["x-knock-signature"], "s")

    def test_body_without_type_needs_event_type(self) -> None:
        """A body with no readable type is refused unless event_type is given."""
        with pytest.raises(FixtureError, match="event_type"):
            signed_headers(b"not json", "s", 1)
        assert signed_headers(b"not json", "s", 1, event_type="message.sent")["x-knock-event"] == "message.sent"


class TestFixturesCommand:
    """``mockknock fixtures``: files, manifest, signatures, refusals."""

    def test_scenario_files_and_manifest(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """One file per event in emission order, the exact bytes, headers that verify."""
        out = tmp_path / "out"
        code, stdout, stderr = cli("happy-path-engagement", "--seed", "3", "--out", str(out))
        assert (code, stderr) == (0, "")
        assert "manifest.json" in stdout
        manifest = json.loads((out / "manifest.json").read_text())
        entries = manifest["files"]
        names = [entry["file"] for entry in entries]
        assert names == sorted(names) and set(names) | {"manifest.json"} == {p.name for p in out.iterdir()}
        expected = fixtures.event_stream("happy-path-engagement", seed=3)
        assert [(out / name).read_bytes() for name in names] == [e.body for e in expected]
        assert manifest["source"] == {"scenario": "happy-path-engagement", "seed": 3, "count": len(expected)}
        for entry, event in zip(entries, expected, strict=True):
            body = (out / entry["file"]).read_bytes()
            assert entry["type"] == event.type.value == entry["headers"]["x-knock-event"]
            assert entry["created_at"] == event.created_at
            assert entry["file"].startswith(f"{names.index(entry['file']) + 1:04d}-{event.type.value}-")
            stamp = verify(body, entry["headers"]["x-knock-signature"], FIXTURE_SECRET, tolerance_ms=None)
            assert stamp == event.created_at_us // 1000
            with pytest.raises(SignatureError, match="tolerance"):
                verify(body, entry["headers"]["x-knock-signature"], FIXTURE_SECRET)  # stale, as documented
            schemas.validate_event(json.loads(body))

    def test_same_seed_byte_identical(self, tmp_path: Path) -> None:
        """Re-running with the same seed gives the same files, manifest included."""
        for directory in ("a", "b"):
            assert cli("default", "--seed", "7", "--out", str(tmp_path / directory))[0] == 0
        assert read_dir(tmp_path / "a") == read_dir(tmp_path / "b")
        assert cli("default", "--seed", "8", "--out", str(tmp_path / "c"))[0] == 0
        assert read_dir(tmp_path / "a") != read_dir(tmp_path / "c")

    def test_event_type_count(self, tmp_path: Path, schemas: SchemaRegistry) -> None:
        """EVENT_TYPE --count K: K files of that type, distinct ids, a minute apart, same bytes on re-run."""
        code, _, _ = cli("message.bounced", "--count", "5", "--seed", "2", "--out", str(tmp_path / "a"),
                         "--secret", "whsec_other")
        assert code == 0
        manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
        assert [entry["type"] for entry in manifest["files"]] == ["message.bounced"] * 5
        bodies = [json.loads((tmp_path / "a" / entry["file"]).read_bytes()) for entry in manifest["files"]]
        assert len({body["data"]["id"] for body in bodies}) == 5
        assert bodies[0] == fixtures.knock_event("message.bounced", seed=2)
        assert [b["created_at"] for b in bodies] == sorted(b["created_at"] for b in bodies)
        for entry, body in zip(manifest["files"], bodies, strict=True):
            schemas.validate_event(body)
            raw = (tmp_path / "a" / entry["file"]).read_bytes()
            verify(raw, entry["headers"]["x-knock-signature"], "whsec_other", tolerance_ms=None)
        assert cli("message.bounced", "--count", "5", "--seed", "2", "--out", str(tmp_path / "b"),
                   "--secret", "whsec_other")[0] == 0
        assert read_dir(tmp_path / "a") == read_dir(tmp_path / "b")

    def test_every_type_writes(self, tmp_path: Path) -> None:
        """Each of the 26 types can be written by name."""
        for index, event_type in enumerate(EVENT_TYPES):
            assert cli(event_type, "--out", str(tmp_path / str(index)))[0] == 0
            assert len(list((tmp_path / str(index)).iterdir())) == 2

    def test_timestamp_option(self, tmp_path: Path) -> None:
        """--timestamp MS stamps every signature with MS; --timestamp now passes a 5-minute check."""
        assert cli("message.sent", "--timestamp", "1767225600000", "--out", str(tmp_path / "ms"))[0] == 0
        entry = json.loads((tmp_path / "ms" / "manifest.json").read_text())["files"][0]
        assert entry["headers"]["x-knock-signature"].startswith("t=1767225600000,s=")
        assert cli("message.sent", "--timestamp", "now", "--out", str(tmp_path / "now"))[0] == 0
        entry = json.loads((tmp_path / "now" / "manifest.json").read_text())["files"][0]
        verify((tmp_path / "now" / entry["file"]).read_bytes(), entry["headers"]["x-knock-signature"], FIXTURE_SECRET)
        with pytest.raises(SystemExit) as caught:
            cli("message.sent", "--timestamp", "soon", "--out", str(tmp_path / "bad"))
        assert caught.value.code == 2

    def test_non_empty_directory_is_refused_unless_forced(self, tmp_path: Path) -> None:
        """Existing files are never overwritten silently; --force replaces a previous run's files."""
        out = tmp_path / "out"
        out.mkdir()
        (out / "keep.txt").write_text("mine")
        code, _, stderr = cli("message.sent", "--out", str(out))
        assert code == 2 and "not empty" in stderr and "--force" in stderr
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
        assert cli("message.sent", "--count", "3", "--out", str(out), "--force")[0] == 0
        assert cli("message.read", "--out", str(out), "--force")[0] == 0
        names = sorted(p.name for p in out.iterdir())
        assert names[-2:] == ["keep.txt", "manifest.json"] and len(names) == 3
        assert "message.read" in names[0]

    def test_bad_targets_and_directories(self, tmp_path: Path) -> None:
        """Unknown names get a did-you-mean; a file as --out, a missing --out or --count on a scenario: exit 2."""
        code, _, stderr = cli("message.bounce", "--out", str(tmp_path / "x"))
        assert code == 2 and "did you mean 'message.bounced'" in stderr
        code, _, stderr = cli("email-bounce", "--out", str(tmp_path / "x"))
        assert code == 2 and "did you mean 'email-bounces'" in stderr
        assert not (tmp_path / "x").exists()
        (tmp_path / "file").write_text("")
        code, _, stderr = cli("message.sent", "--out", str(tmp_path / "file"))
        assert code == 2 and "not a directory" in stderr
        assert cli("message.sent")[0] == 2
        assert cli("--out", str(tmp_path / "y"))[0] == 2
        code, _, stderr = cli("default", "--count", "2", "--out", str(tmp_path / "z"))
        assert code == 2 and "--count" in stderr
        broken = tmp_path / "broken.yaml"
        broken.write_text("version: 1\nlifecycles: nope\n")
        code, _, stderr = cli(str(broken), "--out", str(tmp_path / "w"))
        assert code == 2 and "lifecycles" in stderr

    def test_list(self) -> None:
        """--list prints the 26 event types and each bundled scenario with its header line."""
        code, stdout, _ = cli("--list")
        assert code == 0
        for event_type in EVENT_TYPES:
            assert f"  {event_type}\n" in stdout
        assert "Event types (26)" in stdout
        lines = stdout.splitlines()
        default = next(line for line in lines if line.strip().startswith("default "))
        assert "realistic mixed outcomes" in default
        assert any(line.strip().startswith("email-bounces ") for line in lines)

    def test_wiring_hooks(self) -> None:
        """add_arguments/run work on a subparser as cli.py will wire them."""
        import argparse  # noqa: PLC0415 - only this test builds a parser

        parser = argparse.ArgumentParser(prog="mockknock")
        sub = parser.add_subparsers(dest="command")
        fixture_files.add_arguments(sub.add_parser("fixtures", help=fixture_files.HELP,
                                                   description=fixture_files.DESCRIPTION))
        args = parser.parse_args(["fixtures", "--list"])
        out = io.StringIO()
        assert fixture_files.run(args, out, io.StringIO()) == 0 and "message.sent" in out.getvalue()


class TestDocs:
    """The usage examples in the module docstrings run."""

    def test_fixtures_docstring_examples(self) -> None:
        """Every example in mockknock.fixtures' docstring gives the output it shows."""
        result = doctest.testmod(fixtures, optionflags=doctest.ELLIPSIS, report=True)
        assert result.attempted >= 15
        assert result.failed == 0
