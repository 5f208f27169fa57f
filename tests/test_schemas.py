"""The bundled JSON Schemas and the registry that applies them (no sockets)."""

from __future__ import annotations

import copy
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mockknock.errors import SchemaViolation
from mockknock.resources import schemas_dir
from mockknock.schemas import ALLOWED_KEYWORDS, SchemaIssue, SchemaRegistry
from tests.shared_docs import component, openapi

EVENT_TYPES = [
    "message.sent", "message.delivered", "message.delivery_attempted", "message.undelivered",
    "message.bounced", "message.seen", "message.unseen", "message.read", "message.unread",
    "message.archived", "message.unarchived", "message.interacted", "message.link_clicked",
    "workflow_recipient_run.started", "workflow_recipient_run.completed", "workflow_recipient_run.error",
    "workflow.updated", "workflow.committed", "email_layout.updated", "email_layout.committed",
    "translation.updated", "translation.committed", "source_event_action.updated",
    "source_event_action.committed", "partial.updated", "partial.committed",
]  # fmt: skip
UUID_A = "0b3c6f0e-2f7e-4a43-9d3e-0a0e5e7f6a11"
UUID_B = "5f8a70d2-e42a-46dc-86fa-aada5752f6cf"
UUID_C = "9e1b3a55-6c1f-4a0b-8a57-1d2f3c4b5a69"


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


@pytest.fixture(scope="module")
def fallback() -> SchemaRegistry:
    return SchemaRegistry.load(backend="jsonschema")


def schema_files() -> list[Path]:
    return sorted(schemas_dir().rglob("*.schema.json"))


def where(issues: list[SchemaIssue]) -> list[tuple[str, str]]:
    return [(issue.pointer, issue.keyword) for issue in issues]


# ----------------------------------------------------------------------------- sample bodies


def emitted_message(**changes: Any) -> dict[str, Any]:
    """A Message as mockknock emits it: every key present, KSUID id, microsecond timestamps."""
    message: dict[str, Any] = {
        "__typename": "Message",
        "id": "2w3YUpTTOxuDvZFji8OMsKrG176",
        "channel_id": UUID_A,
        "channel": {
            "id": UUID_A,
            "key": "sendgrid",
            "name": "SendGrid",
            "provider": "sendgrid",
            "type": "email",
            "created_at": "2025-01-01T00:00:00.000000Z",
            "updated_at": "2025-01-01T00:00:00.000000Z",
        },
        "recipient": "dr_grant",
        "actors": ["mr_dna", {"id": "park", "collection": "parks"}],
        "status": "sent",
        "engagement_statuses": [],
        "seen_at": None,
        "read_at": None,
        "interacted_at": None,
        "link_clicked_at": None,
        "clicked_at": None,
        "archived_at": None,
        "scheduled_at": None,
        "inserted_at": "2026-01-01T00:00:00.100000Z",
        "updated_at": "2026-01-01T00:00:00.123456Z",
        "source": {
            "__typename": "NotificationSource",
            "key": "new-comment",
            "version_id": UUID_A,
            "categories": ["collaboration"],
            "step_ref": "email_1",
            "type": "workflow",
            "workflow_run_id": UUID_B,
            "workflow_recipient_run_id": UUID_C,
        },
        "workflow": "new-comment",
        "tenant": None,
        "data": {"comment": "Life finds a way"},
        "metadata": None,
        "recipient_snapshot": {"email": "grant@example.com", "name": "Alan Grant"},
    }
    message.update(changes)
    return message


EVENT_DATA: dict[str, Any] = {
    "message.delivery_attempted": {
        "__typename": "EventData",
        "attempt": 1,
        "max_attempts": 8,
        "retryable": True,
    },
    "message.undelivered": {
        "__typename": "EventData",
        "failure_reason": "retries_exhausted",
        "failure_details": None,
    },
    "message.bounced": {
        "__typename": "EventData",
        "failure_reason": "hard_bounce",
        "failure_details": "550 5.1.1 user unknown",
    },
    "message.interacted": {"__typename": "EventData", "action": "clicked_cta"},
    "message.link_clicked": {"__typename": "EventData", "url": "https://example.com/c/1"},
}


def event_data_for(event_type: str) -> Any:
    if event_type.endswith(".committed"):
        return {"__typename": "EventData", "commit_id": UUID_B}
    return copy.deepcopy(EVENT_DATA.get(event_type))


# The message as each event shows it: its status after a delivery event, its *_at after an engagement one.
AT_EVENT: dict[str, dict[str, Any]] = {
    "message.delivered": {"status": "delivered"},
    "message.delivery_attempted": {"status": "delivery_attempted"},
    "message.undelivered": {"status": "undelivered"},
    "message.bounced": {"status": "bounced"},
    **{f"message.{name}": {"engagement_statuses": [name], f"{name}_at": "2026-01-01T00:00:00.123456Z"}
       for name in ("seen", "read", "archived", "interacted", "link_clicked")},
}


def data_for(event_type: str) -> dict[str, Any]:
    resource = event_type.split(".", maxsplit=1)[0]
    if resource == "message":
        return emitted_message(**AT_EVENT.get(event_type, {}))
    if resource == "workflow_recipient_run":
        return copy.deepcopy(component("api", "WorkflowRecipientRun")["example"])
    moas = {
        "workflow": "Workflow",
        "email_layout": "EmailLayout",
        "translation": "Translation",
        "partial": "Partial",
        "source_event_action": "SourceEventActionMapping",
    }[resource]
    return copy.deepcopy(component("mapi", moas)["example"])


def event(event_type: str = "message.sent", **changes: Any) -> dict[str, Any]:
    body = {
        "__typename": "Event",
        "type": event_type,
        "created_at": "2026-01-01T00:00:00.123456Z",
        "data": data_for(event_type),
        "event_data": event_data_for(event_type),
    }
    body.update(changes)
    return body


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def trigger(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipients": ["u1", {"id": "u2", "email": "u2@example.com"}, {"id": "p1", "collection": "projects"}],
        "actor": "u3",
        "cancellation_key": "ck1",
        "data": {"k": 1},
        "tenant": "acme",
    }
    body.update(changes)
    return body


def sample_2022() -> dict[str, Any]:
    """The payload from the first webhook docs page (D-wh2022), comments removed."""
    return {
        "__typename": "Event",
        "created_at": "2022-05-31T17:12:59.958652Z",
        "data": {
            "__cursor": None,
            "__typename": "Message",
            "archived_at": None,
            "channel_id": "f5674f8b-81bb-49b1-9d52-e29d754b8a1b",
            "data": None,
            "id": "29wHMT3jeGfPE02PHezR8go0cK1",
            "inserted_at": "2022-05-31T17:12:59.933761Z",
            "read_at": None,
            "recipient": "fd3d0708-ebee-456b-a324-1312a30edd0c",
            "seen_at": None,
            "source": {
                "__typename": "NotificationSource",
                "key": "new-comment",
                "version_id": "f5917d67-8a2f-487d-a544-83cacbdb1cfb",
            },
            "status": "delivered",
            "tenant": None,
            "updated_at": "2022-05-31T17:12:59.942374Z",
            "workflow": "new-comment",
        },
        "type": "message.sent",
    }


TEST_VECTOR_BODY = (
    '{"__typename":"Event","type":"message.read","created_at":"2026-01-01T00:00:00.000000Z",'
    '"data":{"__typename":"Message","id":"2w3YUpTTOxuDvZFji8OMsKrG176"},"event_data":null}'
)


def derived_read_example() -> dict[str, Any]:
    """The 'derived example' webhook of knock-reference, placeholders filled and a channel added."""
    message = emitted_message(
        recipient="dr_grant",
        actors=["mr_dna"],
        status="delivered",
        engagement_statuses=["seen", "read"],
        seen_at="2026-01-01T00:00:00.100000Z",
        read_at="2026-01-01T00:00:00.120000Z",
        inserted_at="2025-12-31T23:59:00.000000Z",
        updated_at="2026-01-01T00:00:00.120000Z",
        data={"comment": "hi"},
        recipient_snapshot=None,
    )
    message["source"]["step_ref"] = "in_app_feed_1"
    message["source"]["categories"] = []
    message["channel"].update(type="in_app_feed", provider="knock", key="in-app", name="In-app")
    return event("message.read", created_at="2026-01-01T00:00:00.123456Z", data=message)


# ----------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    label: str
    name: str
    instance: Any
    valid: bool


def example_cases() -> Iterator[Case]:
    api = openapi("api")["components"]["schemas"]
    message_example = api["Message"]["example"]
    yield Case("OAS Message example", "objects/message", message_example, True)
    yield Case("OAS Message example is not emitted", "objects/emitted_message", message_example, False)
    yield Case("OAS trigger example", "trigger_request", api["TriggerWorkflowRequest"]["example"], True)
    run_example = api["WorkflowRecipientRun"]["example"]
    yield Case("OAS run example", "objects/workflow_recipient_run", run_example, True)
    yield Case("2022 sample", "envelope", sample_2022(), False)
    yield Case("test vector body", "envelope", json.loads(TEST_VECTOR_BODY), True)
    yield Case("test vector body as message.read", "events/message.read", json.loads(TEST_VECTOR_BODY), False)
    yield Case("derived example", "events/message.read", derived_read_example(), True)


def event_cases() -> Iterator[Case]:
    for event_type in EVENT_TYPES:
        yield Case(f"valid {event_type}", f"events/{event_type}", event(event_type), True)
        yield Case(f"{event_type} as envelope", "envelope", event(event_type), True)
    sent = "events/message.sent"
    for label, body, valid in [
        ("extra top-level key", event(id="evt_1"), False),
        ("wrong __typename", event(__typename="Evt"), False),
        ("missing event_data", without(event(), "event_data"), False),
        ("no microseconds", event(created_at="2026-01-01T00:00:00Z"), False),
        ("trailing newline", event(created_at="2026-01-01T00:00:00.123456Z\n"), False),
        ("type of another event", event(type="message.read"), False),
        ("event_data on message.sent", event(event_data={"__typename": "EventData"}), False),
        ("data __cursor", event(data=emitted_message(__cursor=None)), False),
        ("short id", event(data=emitted_message(id="abc")), False),
        ("upper-case uuid", event(data=emitted_message(channel_id=UUID_A.upper())), False),
        ("missing seen_at", event(data=without(emitted_message(), "seen_at")), False),
        ("tuple actors", event(data=emitted_message(actors=("a", "b"))), True),
        ("bad status", event(data=emitted_message(status="opened")), False),
    ]:
        yield Case(label, sent, body, valid)
    undelivered = event("message.undelivered")
    undelivered["event_data"]["failure_reason"] = "nope"
    yield Case("failure_reason nope", "events/message.undelivered", undelivered, False)
    for attempt, valid in (
        (0, False),
        (1, True),
        (1.0, True),
        (1.5, False),
        (True, False),
        (Decimal(2), False),
    ):
        body = event("message.delivery_attempted")
        body["event_data"]["attempt"] = attempt
        yield Case(f"attempt {attempt!r}", "events/message.delivery_attempted", body, valid)
    body = event("message.delivery_attempted")
    del body["event_data"]["retryable"]
    yield Case("no retryable", "events/message.delivery_attempted", body, True)
    interacted_null = event("message.interacted", event_data=None)
    yield Case("interacted null", "events/message.interacted", interacted_null, True)
    bounced = event("message.bounced")
    bounced["event_data"]["token"] = "push-token"
    yield Case("bounced with token", "events/message.bounced", bounced, True)
    committed = event("workflow.committed")
    committed["event_data"]["commit_id"] = "c1"
    yield Case("commit id not uuid", "events/workflow.committed", committed, False)


def request_cases() -> Iterator[Case]:
    reference = {"id": "p", "collection": "c"}
    triggers: list[tuple[str, Any, bool]] = [
        ("trigger", trigger(), True),
        ("empty recipients", trigger(recipients=[]), False),
        ("1000 recipients", trigger(recipients=[f"u{i}" for i in range(1000)]), True),
        ("1001 recipients", trigger(recipients=[f"u{i}" for i in range(1001)]), False),
        ("recipient without id", trigger(recipients=[{"name": "x"}]), False),
        ("object without id", trigger(recipients=[{"collection": "p"}]), False),
        ("collection not string", trigger(recipients=[{"id": "p", "collection": 5}]), False),
        ("recipient number", trigger(recipients=[5]), False),
        ("data as list", trigger(data=[1]), False),
        ("nulls", trigger(actor=None, data=None, tenant=None, cancellation_key=None, settings=None), True),
        ("tenant object", trigger(tenant={"id": "t", "name": "T", "plan": "pro"}), True),
        ("tenant without id", trigger(tenant={"name": "T"}), False),
        ("unknown top-level key", trigger(schedule="later"), True),
        ("settings flags", trigger(settings={"sandbox_mode": "yes"}), False),
        ("recipients missing", without(trigger(), "recipients"), False),
        ("not an object", ["u1"], False),
    ]
    for label, body, valid in triggers:
        yield Case(label, "trigger_request", body, valid)
    cancels: list[tuple[str, Any, bool]] = [
        ("cancel", {"cancellation_key": "ck", "recipients": ["u", reference]}, True),
        ("cancel null recipients", {"cancellation_key": "ck", "recipients": None}, True),
        ("cancel without key", {"recipients": ["u"]}, False),
        (
            "cancel reference without collection",
            {"cancellation_key": "ck", "recipients": [{"id": "p"}]},
            False,
        ),
    ]
    for label, body, valid in cancels:
        yield Case(label, "cancel_request", body, valid)


def corpus() -> Iterator[Case]:
    """Bodies whose verdict is known; every validation path must give exactly that verdict."""
    yield from example_cases()
    yield from event_cases()
    yield from request_cases()


CORPUS = list(corpus())


# ----------------------------------------------------------------------------- tests


class TestSchemaFiles:
    def test_every_file_is_a_valid_2020_12_schema(self) -> None:
        """Each file under schemas/ passes the 2020-12 metaschema and declares that dialect."""
        for path in schema_files():
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path

    def test_ids_follow_the_file_layout(self) -> None:
        """Each $id is https://mockknock.dev/schemas/ plus the file's relative path."""
        for path in schema_files():
            relative = path.relative_to(schemas_dir()).as_posix()
            assert json.loads(path.read_text())["$id"] == f"https://mockknock.dev/schemas/{relative}"

    def test_refs_are_relative(self) -> None:
        """No $ref names a host, so the schemas work wherever they are installed."""
        for path in schema_files():
            for ref in _refs(json.loads(path.read_text())):
                assert "://" not in ref, (path, ref)

    def test_only_portable_keywords(self) -> None:
        """Only keywords that mean the same in draft-07 and 2020-12 appear in schema positions."""
        registry = SchemaRegistry.load()
        for name in registry.names():
            assert _keywords(registry.schema(name)) <= ALLOWED_KEYWORDS, name

    def test_every_event_type_has_a_schema(self, registry: SchemaRegistry) -> None:
        """All 26 webhook event types have events/<type>.schema.json."""
        assert sorted(
            n.removeprefix("events/") for n in registry.names() if n.startswith("events/")
        ) == sorted(EVENT_TYPES)

    def test_envelope_enum_matches_the_event_schemas(self, registry: SchemaRegistry) -> None:
        """The envelope's type enum lists exactly the 26 event types."""
        assert sorted(registry.schema("envelope")["properties"]["type"]["enum"]) == sorted(EVENT_TYPES)


class TestRegistryLoad:
    def test_names_cover_every_file(self, registry: SchemaRegistry) -> None:
        """names() has one entry per file, relative and without the suffix."""
        expected = sorted(
            p.relative_to(schemas_dir()).as_posix().removesuffix(".schema.json") for p in schema_files()
        )
        assert registry.names() == expected
        assert {"envelope", "objects/message", "objects/emitted_message", "trigger_request"} <= set(expected)

    def test_schema_returns_a_copy(self, registry: SchemaRegistry) -> None:
        """Changing a returned schema does not change what the registry validates."""
        registry.schema("trigger_request")["required"].append("actor")
        assert registry.is_valid("trigger_request", {"recipients": ["u"]})
        assert registry.issues("trigger_request", {"recipients": ["u"]}) == []

    def test_unknown_name(self, registry: SchemaRegistry) -> None:
        """An unknown schema name is a KeyError that lists the known ones."""
        with pytest.raises(KeyError, match="trigger_request"):
            registry.is_valid("events/message.nope", {})

    def test_broken_json_names_the_file(self, tmp_path: Path) -> None:
        """A file that is not JSON is reported by name."""
        (tmp_path / "bad.schema.json").write_text("{")
        with pytest.raises(SchemaViolation, match=r"bad\.schema\.json"):
            SchemaRegistry.load(tmp_path)

    def test_invalid_schema_names_the_file(self, tmp_path: Path) -> None:
        """A file the 2020-12 metaschema rejects is reported by name."""
        _write(tmp_path, "x.schema.json", {"type": "objekt"})
        with pytest.raises(SchemaViolation, match=r"x\.schema\.json: not a valid 2020-12 schema at /type"):
            SchemaRegistry.load(tmp_path)

    def test_non_portable_keyword_is_refused(self, tmp_path: Path) -> None:
        """prefixItems (2020-12 only) is refused with its location."""
        _write(tmp_path, "x.schema.json", {"properties": {"a": {"prefixItems": [{"type": "string"}]}}})
        with pytest.raises(SchemaViolation, match="'prefixItems' at /properties/a"):
            SchemaRegistry.load(tmp_path)

    def test_wrong_id_is_refused(self, tmp_path: Path) -> None:
        """An $id that does not match the file path is refused."""
        _write(tmp_path, "x.schema.json", {}, schema_id="https://mockknock.dev/schemas/y.schema.json")
        with pytest.raises(SchemaViolation, match=r"\$id must be"):
            SchemaRegistry.load(tmp_path)

    def test_unresolvable_ref_names_the_file(self, tmp_path: Path) -> None:
        """A $ref to a missing file is reported at load, not at first use."""
        _write(tmp_path, "x.schema.json", {"$ref": "missing.schema.json"})
        with pytest.raises(SchemaViolation, match=r"x\.schema\.json: cannot resolve \$ref"):
            SchemaRegistry.load(tmp_path)

    def test_dollar_inside_a_pattern_is_refused(self, tmp_path: Path) -> None:
        """A '$' anywhere but at the end of a pattern is refused (fastjsonschema rewrites every '$')."""
        _write(tmp_path, "x.schema.json", {"pattern": "^[$]+$"})
        with pytest.raises(SchemaViolation, match="only at its end"):
            SchemaRegistry.load(tmp_path)


class TestKnockExamples:
    def test_message_example(self, registry: SchemaRegistry) -> None:
        """OAS Message.example is a valid Message."""
        assert registry.issues("objects/message", component("api", "Message")["example"]) == []

    def test_message_example_lacks_what_mockknock_always_sends(self, registry: SchemaRegistry) -> None:
        """OAS Message.example lacks channel and microseconds, which mockknock always sends."""
        issues = registry.issues("objects/emitted_message", component("api", "Message")["example"])
        assert [(i.pointer, i.keyword) for i in issues] == [
            ("/channel", "required"),
            ("/inserted_at", "pattern"),
            ("/read_at", "pattern"),
            ("/seen_at", "pattern"),
            ("/updated_at", "pattern"),
        ]
        assert issues[0].message == "'channel' is a required property"

    def test_message_sub_examples(self, registry: SchemaRegistry) -> None:
        """The channel and source examples nested in OAS Message fit into a Message."""
        message = copy.deepcopy(component("api", "Message")["example"])
        properties = component("api", "Message")["properties"]
        message["channel"] = properties["channel"]["example"]
        message["source"] = properties["source"]["example"]
        assert registry.issues("objects/message", message) == []

    def test_trigger_request_examples(self, registry: SchemaRegistry) -> None:
        """TriggerWorkflowRequest.example and every example on the trigger operation are valid."""
        examples = [component("api", "TriggerWorkflowRequest")["example"]]
        operation = openapi("api")["paths"]["/v1/workflows/{key}/trigger"]["post"]
        examples += list(_request_examples(operation))
        assert len(examples) >= 2
        for example in examples:
            assert registry.issues("trigger_request", example) == [], example

    def test_recipient_examples(self, registry: SchemaRegistry) -> None:
        """The RecipientRequest and inline identify examples are valid recipients and actors."""
        for schema in ("RecipientRequest", "InlineIdentifyUserRequest", "InlineIdentifyObjectRequest"):
            example = component("api", schema)["example"]
            assert registry.issues("trigger_request", {"recipients": [example], "actor": example}) == [], (
                schema
            )

    def test_tenant_examples(self, registry: SchemaRegistry) -> None:
        """The InlineTenantRequest and TenantRequest examples are valid tenants."""
        for schema in ("InlineTenantRequest", "TenantRequest"):
            body = {"recipients": ["u"], "tenant": component("api", schema)["example"]}
            assert registry.issues("trigger_request", body) == [], schema

    def test_cancel_examples(self, registry: SchemaRegistry) -> None:
        """CancelWorkflowRequest.example and the cancel operation's example are valid."""
        operation = openapi("api")["paths"]["/v1/workflows/{key}/cancel"]["post"]
        for example in [component("api", "CancelWorkflowRequest")["example"], *_request_examples(operation)]:
            assert registry.issues("cancel_request", example) == [], example

    def test_recipient_reference_examples(self, registry: SchemaRegistry) -> None:
        """The RecipientReference and ObjectReference examples are valid references."""
        for schema in ("RecipientReference", "ObjectReference"):
            assert registry.issues("objects/recipient_reference", component("api", schema)["example"]) == []

    def test_workflow_recipient_run_example(self, registry: SchemaRegistry) -> None:
        """OAS WorkflowRecipientRun.example is valid."""
        example = component("api", "WorkflowRecipientRun")["example"]
        assert registry.issues("objects/workflow_recipient_run", example) == []

    @pytest.mark.parametrize(
        ("schema", "name"),
        [
            ("Workflow", "objects/workflow"),
            ("EmailLayout", "objects/email_layout"),
            ("Translation", "objects/translation"),
            ("Partial", "objects/partial"),
            ("SourceEventActionMapping", "objects/source_event_action"),
        ],
    )
    def test_management_api_examples(self, registry: SchemaRegistry, schema: str, name: str) -> None:
        """The MOAS examples for the resources that webhooks carry are valid."""
        assert registry.issues(name, component("mapi", schema)["example"]) == []


class TestReferenceSamples:
    def test_2022_sample_predates_event_data(self, registry: SchemaRegistry) -> None:
        """The 2022 docs sample fails the current envelope only for its missing event_data key."""
        assert where(registry.issues("envelope", sample_2022())) == [("/event_data", "required")]

    def test_2022_message_predates_two_required_fields(self, registry: SchemaRegistry) -> None:
        """The 2022 Message lacks only engagement_statuses and source.categories of today's contract."""
        issues = registry.issues("objects/message", sample_2022()["data"])
        assert [(i.pointer, i.message) for i in issues] == [
            ("/engagement_statuses", "'engagement_statuses' is a required property"),
            ("/source/categories", "'categories' is a required property"),
        ]

    def test_2022_sample_brought_up_to_date(self, registry: SchemaRegistry) -> None:
        """With those three keys added the 2022 sample is a valid envelope and Message, not an emitted one."""
        body = sample_2022()
        body["event_data"] = None
        body["data"]["engagement_statuses"] = []
        body["data"]["source"]["categories"] = []
        assert registry.issues("envelope", body) == []
        assert registry.issues("objects/message", body["data"]) == []
        assert not registry.is_valid("events/message.sent", body)

    def test_signature_test_vector_body(self, registry: SchemaRegistry) -> None:
        """The signing test vector's body is a valid envelope but its data is not a full Message."""
        body = json.loads(TEST_VECTOR_BODY)
        assert registry.issues("envelope", body) == []
        issues = registry.issues("events/message.read", body)
        assert issues and all(i.pointer.startswith("/data/") and i.keyword == "required" for i in issues)

    def test_derived_example(self, registry: SchemaRegistry) -> None:
        """The reference's derived message.read webhook validates against its event schema."""
        assert registry.issues("events/message.read", derived_read_example()) == []
        registry.validate_event(derived_read_example())


class TestEventSchemas:
    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_every_type_accepts_a_typical_body(self, registry: SchemaRegistry, event_type: str) -> None:
        """A typical body of each event type is valid."""
        assert registry.issues(f"events/{event_type}", event(event_type)) == []

    def test_extra_top_level_key(self, registry: SchemaRegistry) -> None:
        """A key beside the five envelope keys is rejected at the root."""
        issues = registry.issues("events/message.sent", event(id="evt_1"))
        assert where(issues) == [("", "additionalProperties")]
        assert "'id' was unexpected" in issues[0].message

    def test_wrong_typename(self, registry: SchemaRegistry) -> None:
        """__typename must be 'Event'."""
        issues = registry.issues("events/message.sent", event(__typename="Evt"))
        assert [(i.pointer, i.field, i.keyword) for i in issues] == [("/__typename", "__typename", "const")]

    def test_missing_event_data(self, registry: SchemaRegistry) -> None:
        """event_data must be present, even when null; the issue is located at the missing key."""
        issues = registry.issues("events/message.sent", without(event(), "event_data"))
        assert [(i.pointer, i.field, i.message) for i in issues] == [
            ("/event_data", "event_data", "'event_data' is a required property")
        ]

    def test_created_at_without_microseconds(self, registry: SchemaRegistry) -> None:
        """created_at needs six fractional digits."""
        issues = registry.issues("events/message.sent", event(created_at="2026-01-01T00:00:00Z"))
        assert where(issues) == [("/created_at", "pattern")]

    def test_created_at_with_trailing_newline(self, registry: SchemaRegistry) -> None:
        """'$' ends the string (ECMA-262), so a trailing newline is rejected by both paths."""
        body = event(created_at="2026-01-01T00:00:00.123456Z\n")
        assert where(registry.issues("events/message.sent", body)) == [("/created_at", "pattern")]
        assert not registry.is_valid("events/message.sent", body)

    def test_undelivered_failure_reason(self, registry: SchemaRegistry) -> None:
        """undelivered's failure_reason is fatal_error or retries_exhausted."""
        body = event("message.undelivered")
        body["event_data"]["failure_reason"] = "nope"
        issues = registry.issues("events/message.undelivered", body)
        assert [(i.pointer, i.field, i.keyword) for i in issues] == [
            ("/event_data/failure_reason", "event_data.failure_reason", "enum")
        ]

    def test_delivery_attempted_attempt_zero(self, registry: SchemaRegistry) -> None:
        """attempt counts from 1."""
        body = event("message.delivery_attempted")
        body["event_data"]["attempt"] = 0
        issues = registry.issues("events/message.delivery_attempted", body)
        assert where(issues) == [("/event_data/attempt", "minimum")]

    def test_null_event_data_types_reject_an_object(self, registry: SchemaRegistry) -> None:
        """message.sent defines no event_data, so it must be null."""
        issues = registry.issues("events/message.sent", event(event_data={"__typename": "EventData"}))
        assert where(issues) == [("/event_data", "type")]

    def test_emitted_message_keeps_every_timestamp_key(self, registry: SchemaRegistry) -> None:
        """A Message without seen_at is Knock-valid but not emitted-valid."""
        message = without(emitted_message(), "seen_at")
        assert registry.issues("objects/message", message) == []
        assert [i.message for i in registry.issues("objects/emitted_message", message)] == [
            "'seen_at' is a required property"
        ]

    def test_emitted_message_never_has_a_cursor(self, registry: SchemaRegistry) -> None:
        """The historic __cursor key is accepted from Knock but never emitted."""
        issues = registry.issues("objects/emitted_message", emitted_message(__cursor=None))
        assert [(i.pointer, i.message) for i in issues] == [("/__cursor", "'__cursor' is not allowed here")]

    @pytest.mark.parametrize(("event_type", "changes", "pointer", "keyword"), [
        ("message.delivered", {"status": "queued"}, "/data/status", "const"),
        ("message.bounced", {"status": "delivered"}, "/data/status", "const"),
        ("message.undelivered", {"status": "sent"}, "/data/status", "const"),
        ("message.sent", {"status": "queued"}, "/data/status", "enum"),
        ("message.read", {"read_at": None}, "/data/read_at", "type"),
        ("message.unread", {"read_at": "2026-01-01T00:00:00.123456Z"}, "/data/read_at", "type"),
        ("message.link_clicked", {"link_clicked_at": None}, "/data/link_clicked_at", "type"),
        ("message.sent", {"actors": [f"u{i}" for i in range(11)]}, "/data/actors", "maxItems"),
    ])
    def test_data_shows_the_message_as_the_event_left_it(self, registry: SchemaRegistry, event_type: str,
                                                         changes: dict[str, Any], pointer: str,
                                                         keyword: str) -> None:
        """A delivery event's message has that status (message.sent: sent, or delivered for in-app); an
        engagement event's has its *_at set, or cleared for the un- events; a batch lists 10 actors at most."""
        body = event(event_type)
        body["data"].update(changes)
        assert where(registry.issues(f"events/{event_type}", body)) == [(pointer, keyword)]
        assert not registry.is_valid(f"events/{event_type}", body)

    @pytest.mark.parametrize(("key", "value"), [
        ("id", "run-1"), ("workflow_run_id", "9A3F1C6E-0000-4000-8000-000000000000"),
        ("inserted_at", "2026-01-01 00:00:00"), ("updated_at", "2026-01-01T00:00:00+01:00"),
    ])
    def test_recipient_runs_have_uuids_and_utc_times(self, registry: SchemaRegistry, key: str, value: str) -> None:
        body = event("workflow_recipient_run.started")
        body["data"][key] = value
        assert where(registry.issues("events/workflow_recipient_run.started", body)) == [(f"/data/{key}", "pattern")]

    def test_validate_event_picks_the_type(self, registry: SchemaRegistry) -> None:
        """validate_event checks a body against events/<type> and lists every problem."""
        registry.validate_event(event("message.seen"))
        with pytest.raises(SchemaViolation, match=r"events/message\.seen: 1 problem\(s\):\n  /created_at: "):
            registry.validate_event(event("message.seen", created_at="yesterday"))

    def test_validate_event_unknown_type(self, registry: SchemaRegistry) -> None:
        """An event type Knock does not send is refused by name."""
        with pytest.raises(SchemaViolation, match=r"unknown webhook event type 'message\.not_sent'"):
            registry.validate_event(event(type="message.not_sent"))
        with pytest.raises(SchemaViolation, match="unknown webhook event type None"):
            registry.validate_event({})


class TestRequestSchemas:
    def test_empty_recipients(self, registry: SchemaRegistry) -> None:
        """A trigger needs at least one recipient."""
        assert where(registry.issues("trigger_request", trigger(recipients=[]))) == [
            ("/recipients", "minItems")
        ]

    def test_too_many_recipients(self, registry: SchemaRegistry) -> None:
        """A trigger takes at most 1,000 recipients, and says how many it got."""
        issues = registry.issues("trigger_request", trigger(recipients=[f"u{i}" for i in range(1001)]))
        assert [(i.pointer, i.message) for i in issues] == [
            ("/recipients", "expected at most 1000 items, got 1001")
        ]

    def test_recipient_object_without_id(self, registry: SchemaRegistry) -> None:
        """A recipient object without id names the missing recipients[1].id, not the anyOf."""
        issues = registry.issues("trigger_request", trigger(recipients=["u1", {"name": "x"}]))
        assert [(i.pointer, i.field, i.message, i.keyword) for i in issues] == [
            ("/recipients/1/id", "recipients[1].id", "'id' is a required property", "required")
        ]

    def test_inline_object_without_id(self, registry: SchemaRegistry) -> None:
        """An inline object (it has collection) without id also names the missing id."""
        issues = registry.issues("trigger_request", trigger(recipients=[{"collection": "projects"}]))
        assert [(i.field, i.message) for i in issues] == [("recipients[0].id", "'id' is a required property")]

    def test_inline_object_with_bad_collection(self, registry: SchemaRegistry) -> None:
        """A non-string collection is blamed on collection, not on the user branch."""
        issues = registry.issues("trigger_request", trigger(recipients=[{"id": "p", "collection": 5}]))
        assert [(i.field, i.message) for i in issues] == [
            ("recipients[0].collection", "5 is not of type 'string'")
        ]

    def test_recipient_of_no_allowed_type(self, registry: SchemaRegistry) -> None:
        """A recipient that is neither string nor object says both are allowed."""
        issues = registry.issues("trigger_request", trigger(recipients=[5]))
        assert [(i.field, i.message) for i in issues] == [
            ("recipients[0]", "5 is not of type 'string' or 'object'")
        ]

    def test_data_as_list(self, registry: SchemaRegistry) -> None:
        """data must be an object or null."""
        issues = registry.issues("trigger_request", trigger(data=[1]))
        assert [(i.pointer, i.field, i.message) for i in issues] == [
            ("/data", "data", "[1] is not of type 'object' or 'null'")
        ]

    def test_unknown_top_level_keys_pass(self, registry: SchemaRegistry) -> None:
        """The OAS leaves TriggerWorkflowRequest open, so unknown keys pass."""
        assert registry.issues("trigger_request", trigger(schedule="later")) == []

    def test_cancel_reference_needs_collection(self, registry: SchemaRegistry) -> None:
        """A cancel recipient object is a reference and needs both id and collection."""
        issues = registry.issues("cancel_request", {"cancellation_key": "ck", "recipients": [{"id": "p"}]})
        assert [(i.field, i.message) for i in issues] == [
            ("recipients[0].collection", "'collection' is a required property")
        ]


class TestIssues:
    def test_sorted_by_location(self, registry: SchemaRegistry) -> None:
        """Issues come in document order, with array indexes compared as numbers."""
        recipients: list[Any] = [f"u{i}" for i in range(12)]
        recipients[10] = 10
        recipients[2] = 2
        issues = registry.issues("trigger_request", trigger(recipients=recipients, data=[]))
        assert [i.pointer for i in issues] == ["/data", "/recipients/2", "/recipients/10"]

    def test_pointer_escapes_and_field_quotes(self, registry: SchemaRegistry) -> None:
        """Pointers escape '/' and '~'; fields quote keys that are not plain names."""
        body = trigger(recipients=[{"id": "u", "channel_data": {"a/b~c": 5}}])
        issues = registry.issues("trigger_request", body)
        assert [(i.pointer, i.field) for i in issues] == [
            ("/recipients/0/channel_data/a~1b~0c", 'recipients[0].channel_data["a/b~c"]')
        ]

    def test_large_values_are_shortened(self, registry: SchemaRegistry) -> None:
        """A message quotes only the start of a large value."""
        issues = registry.issues("trigger_request", trigger(cancellation_key=["x" * 100_000] * 1000))
        assert len(issues) == 1 and len(issues[0].message) < 200

    def test_str_names_the_field(self) -> None:
        """str() of an issue is 'field: message', or '(root)' for the body itself."""
        assert str(SchemaIssue("/a/0", "a[0]", "bad", "type")) == "a[0]: bad"
        assert str(SchemaIssue("", "", "bad", "required")) == "(root): bad"


class TestFastPath:
    @pytest.mark.parametrize("case", CORPUS, ids=[c.label for c in CORPUS])
    def test_both_paths_agree_with_the_known_verdict(
        self, registry: SchemaRegistry, fallback: SchemaRegistry, case: Case
    ) -> None:
        """Full path, compiled fast path and jsonschema fallback all give the known verdict."""
        assert (registry.issues(case.name, case.instance) == []) is case.valid
        assert registry.is_valid(case.name, case.instance) is case.valid
        assert fallback.is_valid(case.name, case.instance) is case.valid

    def test_both_paths_agree_on_mutated_bodies(
        self, registry: SchemaRegistry, fallback: SchemaRegistry
    ) -> None:
        """Seeded random edits of every valid corpus body get the same verdict from all three paths."""
        rng = random.Random(20260101)
        valid = [
            case for case in CORPUS if case.valid and len(json.dumps(case.instance, default=str)) < 20_000
        ]
        verdicts = {True: 0, False: 0}
        for _ in range(4000):
            case = rng.choice(valid)
            mutated = _mutate(case.instance, rng)
            full = registry.issues(case.name, mutated) == []
            assert registry.is_valid(case.name, mutated) is full, (case.label, mutated)
            assert fallback.is_valid(case.name, mutated) is full, (case.label, mutated)
            verdicts[full] += 1
        assert min(verdicts.values()) > 300, verdicts

    def test_corpus_covers_both_verdicts(self) -> None:
        """The corpus has plenty of valid and invalid bodies."""
        assert sum(c.valid for c in CORPUS) >= 40 and sum(not c.valid for c in CORPUS) >= 30

    def test_auto_uses_the_compiled_predicates(self, registry: SchemaRegistry) -> None:
        """The default fast path is mockknock's own schema compiler."""
        assert registry.fast_backend == "compiled"

    def test_needs_no_fastjsonschema(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without fastjsonschema installed the default fast path still decides correctly."""
        monkeypatch.setitem(sys.modules, "fastjsonschema", None)
        registry = SchemaRegistry.load()
        assert registry.fast_backend == "compiled"
        assert registry.is_valid("trigger_request", trigger())
        assert not registry.is_valid("trigger_request", trigger(recipients=[]))

    def test_fastjsonschema_backend_agrees(self) -> None:
        """The optional fastjsonschema backend, when installed, gives the corpus's known verdicts too."""
        pytest.importorskip("fastjsonschema")
        optional = SchemaRegistry.load(backend="fastjsonschema")
        assert optional.fast_backend == "fastjsonschema"
        for case in CORPUS:
            assert optional.is_valid(case.name, case.instance) is case.valid, case.label

    def test_forcing_a_missing_fastjsonschema_fails_clearly(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """backend='fastjsonschema' without the package says it is not installed."""
        monkeypatch.setitem(sys.modules, "fastjsonschema", None)
        registry = SchemaRegistry.load(backend="fastjsonschema")
        with pytest.raises(SchemaViolation, match="not installed"):
            registry.is_valid("trigger_request", trigger())

    def test_does_not_modify_the_instance(self, registry: SchemaRegistry) -> None:
        """Validation never writes defaults or anything else into the body."""
        body = event("message.delivery_attempted")
        before = copy.deepcopy(body)
        registry.is_valid("events/message.delivery_attempted", body)
        registry.issues("events/message.delivery_attempted", body)
        assert body == before

    def test_inlined_schemas_are_self_contained_draft_07(self, registry: SchemaRegistry) -> None:
        """inlined() has no $ref, $defs or $id left and declares draft-07."""
        for name in registry.names():
            inlined = registry.inlined(name)
            assert inlined["$schema"] == "http://json-schema.org/draft-07/schema#"
            text = json.dumps(inlined)
            assert '"$ref"' not in text and '"$defs"' not in text and '"$id"' not in text, name


_REPLACEMENTS: list[Any] = [
    None, 0, 1, -1, 1.0, 1.5, True, "", "x", "2026-01-01T00:00:00.000000Z", UUID_A,
    [], {}, ["x"], {"id": "x"}, {"id": "x", "collection": "c"}, ("x",),
]  # fmt: skip


def _mutate(instance: Any, rng: random.Random) -> Any:
    """A deep copy of ``instance`` with one value replaced, one key removed, or one key added."""
    mutated = copy.deepcopy(instance)
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                paths.append((node, index))
                walk(value)

    walk(mutated)
    parent, key = rng.choice(paths)
    action = rng.random()
    if action < 0.2 and isinstance(parent, dict):
        del parent[key]
    elif action < 0.3 and isinstance(parent, dict):
        parent[rng.choice(["extra", "__cursor", "id", "collection", "retryable"])] = rng.choice(_REPLACEMENTS)
    else:
        parent[key] = copy.deepcopy(rng.choice(_REPLACEMENTS))
    return mutated


def _write(directory: Path, relative: str, body: dict[str, Any], schema_id: str | None = None) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id or f"https://mockknock.dev/schemas/{relative}",
        **body,
    }
    (directory / relative).write_text(json.dumps(schema))


def _request_examples(operation: dict[str, Any]) -> Iterator[Any]:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "example" in media:
            yield media["example"]
        for named in media.get("examples", {}).values():
            yield named["value"]


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _keywords(schema: object) -> set[str]:
    found: set[str] = set()
    if not isinstance(schema, dict):
        return found
    for key, value in schema.items():
        found.add(key)
        if key in ("properties", "$defs"):
            for sub in value.values():
                found |= _keywords(sub)
        elif key in ("anyOf", "oneOf", "allOf"):
            for sub in value:
                found |= _keywords(sub)
        elif key in ("items", "not", "additionalProperties"):
            found |= _keywords(value)
    return found
