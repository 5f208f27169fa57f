"""The official Python SDK (``knockapi``) against mockknock, as an app would use it.

Every client is built with ``_strict_response_validation=True`` so a response whose shape does not
match the SDK's models fails loudly instead of being half-parsed. The sync client blocks, so in these
async tests its calls run in a thread (``asyncio.to_thread``) while the server answers on the loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import knockapi
import pytest
from knockapi import AsyncKnock, Knock
from knockapi.types import Message

from mockknock.model import ChannelType, RunStatus
from mockknock.scenario import ChannelStep, DelayStep, Scenario, Workflow, make_channel
from mockknock.server import MockKnockServer
from mockknock.signing import verify
from tests.conftest import SECRET, Received, Receiver, ServerFactory

SDK_KEY = "sk_test_sdk_python"
IN_APP = make_channel("in-app", ChannelType.IN_APP_FEED, "knock", "In-app feed")
UNKNOWN_MESSAGE_ID = "2w3YUpTTOxuDvZFji8OMsKrG176"
ENVELOPE_KEYS = {"__typename", "type", "created_at", "data", "event_data"}


def in_app_scenario(
    recipient_run_events: bool = False,
    workflows: dict[str, Workflow] | None = None,
    categories: tuple[str, ...] = (),
) -> Scenario:
    """Any workflow key sends one in-app feed message per recipient, sent and delivered at once."""
    return Scenario(
        name="sdk-in-app",
        channels={"in-app": IN_APP},
        default_steps=(ChannelStep("in_app_feed_1", IN_APP),),
        default_categories=categories,
        workflows=workflows or {},
        recipient_run_events=recipient_run_events,
    )


@pytest.fixture
def requests_seen() -> list[httpx.Request]:
    return []


KnockFactory = Callable[..., Knock]


@pytest.fixture
def knock(requests_seen: list[httpx.Request]) -> Iterator[KnockFactory]:
    """Sync SDK clients pointed at a server; every request they send is recorded in ``requests_seen``."""
    clients: list[Knock] = []

    def factory(server: MockKnockServer, api_key: str = SDK_KEY, **options: Any) -> Knock:
        http_client = httpx.Client(event_hooks={"request": [requests_seen.append]})
        client = Knock(
            api_key=api_key,
            base_url=server.url,
            http_client=http_client,
            _strict_response_validation=True,
            **options,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def header(received: Received, name: str) -> str:
    """A webhook request header, looked up case-insensitively as HTTP wants."""
    found = {k.lower(): v for k, v in received.headers.items()}
    return found[name.lower()]


def own_verify(received: Received, secret: str) -> None:
    """Knock's scheme written out by hand: t=<ms>,s=base64(HMAC-SHA256(secret, "<t>.<raw body>"))."""
    header_value = header(received, "x-knock-signature")
    t_part, s_part = header_value.split(",")
    assert t_part.startswith("t=") and s_part.startswith("s=")
    timestamp = t_part[2:]
    assert timestamp.isdigit() and len(timestamp) == 13  # Unix milliseconds
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256).digest()
    assert hmac.compare_digest(base64.b64encode(mac).decode(), s_part[2:])


def query_of(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True)


def list_requests(seen: list[httpx.Request]) -> list[httpx.Request]:
    return [r for r in seen if r.method == "GET" and r.url.path == "/v1/messages"]


def is_uuid4(text: str) -> bool:
    try:
        return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text
    except ValueError:
        return False


# -- trigger and webhooks ---------------------------------------------------------------------------


async def test_trigger_returns_uuid4_and_signed_webhooks_arrive(
    make_server: ServerFactory, receiver: Receiver, knock: KnockFactory
) -> None:
    server = await make_server(receiver.url, virtual_clock=True, scenario_obj=in_app_scenario(True))
    client = knock(server)

    response = await asyncio.to_thread(
        client.workflows.trigger,
        "new-comment",
        recipients=["u1", "u2"],
        data={"comment": "hi", "n": 1},
        actor="u3",
        tenant="acme",
        cancellation_key="ck-1",
    )
    run_id = response.workflow_run_id
    assert is_uuid4(run_id)
    await server.simulation.settle()

    # Per recipient: run started, message sent, message delivered, run completed.
    received = await receiver.wait_for(8)
    assert len(received) == 8
    per_recipient = [
        "workflow_recipient_run.started",
        "message.sent",
        "message.delivered",
        "workflow_recipient_run.completed",
    ]
    assert sorted(receiver.types()) == sorted(per_recipient * 2)
    for hook in received:
        assert verify(hook.body, header(hook, "x-knock-signature"), SECRET) > 0
        own_verify(hook, SECRET)
        body = hook.json
        assert set(body) == ENVELOPE_KEYS
        assert body["__typename"] == "Event"
        assert header(hook, "x-knock-event") == body["type"]
        assert header(hook, "content-type").startswith("application/json")
        assert header(hook, "x-knock-environment-id")
        assert body["event_data"] is None
        data = body["data"]
        if body["type"].startswith("message."):
            Message.model_validate(data)  # the SDK's own model accepts the webhook's Message
            assert data["source"]["workflow_run_id"] == run_id
            assert data["source"]["key"] == "new-comment"
            assert data["workflow"] == "new-comment"
            assert data["actors"] == ["u3"]
            assert data["tenant"] == "acme"
            assert data["data"] == {"comment": "hi", "n": 1}
            assert data["recipient"] in ("u1", "u2")
        else:
            assert data["__typename"] == "WorkflowRecipientRun"
            assert data["workflow_run_id"] == run_id
            assert data["trigger_source"]["cancellation_key"] == "ck-1"
    # A tampered body fails both verifications.
    tampered = Received(received[0].headers, received[0].body.replace(b"Event", b"Evil"))
    with pytest.raises(ValueError):
        verify(tampered.body, header(tampered, "x-knock-signature"), SECRET)
    with pytest.raises(AssertionError):
        own_verify(tampered, SECRET)

    # The trigger the SDK sent: snake_case JSON with only the fields passed, and an auto Idempotency-Key.
    run = server.simulation.store.runs[run_id]
    assert [r.recipient for r in run.recipient_runs] == ["u1", "u2"]
    assert all(r.status is RunStatus.COMPLETED for r in run.recipient_runs)


async def test_trigger_sends_the_request_knock_expects(
    make_server: ServerFactory, knock: KnockFactory, requests_seen: list[httpx.Request]
) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"], data={"k": 1})
    await server.simulation.settle()
    (sent,) = requests_seen
    assert sent.method == "POST" and sent.url.path == "/v1/workflows/wf/trigger"
    assert json.loads(sent.content) == {"recipients": ["u1"], "data": {"k": 1}}
    assert sent.headers["Authorization"] == f"Bearer {SDK_KEY}"
    assert sent.headers["Idempotency-Key"].startswith("stainless-python-retry-")


async def test_inline_user_and_object_recipients(
    make_server: ServerFactory, receiver: Receiver, knock: KnockFactory
) -> None:
    server = await make_server(receiver.url, virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    # Custom properties ("plan") are allowed on inline users, though the SDK's TypedDict does not list them.
    recipients: list[Any] = [
        {"id": "u2", "email": "u2@example.com", "name": "Ursula Two", "plan": "pro"},
        {"id": "p1", "collection": "projects", "name": "Project One"},
    ]
    response = await asyncio.to_thread(
        client.workflows.trigger,
        "project-update",
        recipients=recipients,
        actor={"id": "u3", "name": "Ada Actor"},
        tenant={"id": "acme", "name": "Acme Inc"},
    )
    await server.simulation.settle()
    await receiver.wait_for(4)

    store = server.simulation.store
    assert store.users["u2"]["email"] == "u2@example.com"
    assert store.users["u2"]["plan"] == "pro"
    assert store.users["u3"]["name"] == "Ada Actor"
    assert store.objects[("projects", "p1")]["name"] == "Project One"
    assert store.tenants["acme"]["name"] == "Acme Inc"

    messages = await asyncio.to_thread(
        lambda: list(client.messages.list(workflow_run_id=response.workflow_run_id))
    )
    assert len(messages) == 2
    recipients = sorted(
        (m.recipient if isinstance(m.recipient, str) else f"{m.recipient.collection}/{m.recipient.id}")
        for m in messages
    )
    assert recipients == ["projects/p1", "u2"]
    for message in messages:
        assert message.actors == ["u3"]
        assert message.tenant == "acme"
    hooks = {(h.type, json.dumps(h.json["data"]["recipient"], sort_keys=True)) for h in receiver.received}
    assert ("message.sent", '{"collection": "projects", "id": "p1"}') in hooks
    assert ("message.delivered", '"u2"') in hooks


async def test_cancel_stops_queued_runs(make_server: ServerFactory, knock: KnockFactory) -> None:
    delayed = Workflow(
        "digest",
        "Digest",
        (DelayStep("delay_1", 3600 * 1_000_000), ChannelStep("in_app_feed_1", IN_APP)),
    )
    server = await make_server(scenario_obj=in_app_scenario(workflows={"digest": delayed}))
    client = knock(server)
    response = await asyncio.to_thread(
        client.workflows.trigger,
        "digest",
        recipients=["u1", "u2", {"id": "p1", "collection": "projects"}],
        cancellation_key="ck-digest",
    )
    runs = {r.recipient: r for r in server.simulation.store.runs[response.workflow_run_id].recipient_runs}
    assert set(runs) == {"u1", "u2", ("projects", "p1")}

    # Scoped to one recipient first: only u1's run stops. Knock answers 204 with no body.
    raw = await asyncio.to_thread(
        client.workflows.with_raw_response.cancel, "digest", cancellation_key="ck-digest", recipients=["u1"]
    )
    assert raw.status_code == 204
    assert raw.http_response.content == b""
    assert runs["u1"].status is RunStatus.CANCELLED
    assert runs["u2"].status is RunStatus.PROCESSING
    # An object reference scopes the same way.
    await asyncio.to_thread(
        client.workflows.cancel,
        "digest",
        cancellation_key="ck-digest",
        recipients=[{"id": "p1", "collection": "projects"}],
    )
    assert runs[("projects", "p1")].status is RunStatus.CANCELLED
    assert runs["u2"].status is RunStatus.PROCESSING

    # Then everyone left.
    await asyncio.to_thread(client.workflows.cancel, "digest", cancellation_key="ck-digest")
    assert all(r.status is RunStatus.CANCELLED for r in runs.values())
    # An unknown cancellation key is not an error.
    await asyncio.to_thread(client.workflows.cancel, "digest", cancellation_key="nothing-by-this-key")
    assert server.simulation.store.messages == {}


# -- messages -----------------------------------------------------------------------------------------


async def test_list_auto_paginates_with_filters(
    make_server: ServerFactory, knock: KnockFactory, requests_seen: list[httpx.Request]
) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    first = await asyncio.to_thread(
        client.workflows.trigger, "bulk", recipients=[f"user-{i}" for i in range(40)], tenant="acme"
    )
    second = await asyncio.to_thread(
        client.workflows.trigger, "bulk", recipients=[f"user-{i}" for i in range(40, 55)]
    )
    await server.simulation.settle()
    assert len(server.simulation.store.messages) == 55

    # Default page size (50): two pages.
    requests_seen.clear()
    everything = await asyncio.to_thread(lambda: list(client.messages.list()))
    assert len(everything) == 55
    assert len({m.id for m in everything}) == 55
    assert len(list_requests(requests_seen)) == 2

    # page_size=20 and a status filter, as the SDK sends them: three pages, cursors followed.
    requests_seen.clear()
    delivered = await asyncio.to_thread(
        lambda: list(client.messages.list(page_size=20, status=["delivered"]))
    )
    assert len(delivered) == 55
    assert {m.id for m in delivered} == {m.id for m in everything}
    assert all(m.status == "delivered" for m in delivered)
    pages = [dict(query_of(r)) for r in list_requests(requests_seen)]
    assert len(pages) == 3
    assert all(p["page_size"] == "20" and p["status[]"] == "delivered" for p in pages)
    assert "after" not in pages[0] and pages[1]["after"] and pages[2]["after"] != pages[1]["after"]

    # One page object: page_info as the SDK models it, and newest first.
    page = await asyncio.to_thread(client.messages.list, page_size=10)
    assert len(page.items) == 10
    assert page.page_info is not None and page.page_info.after
    assert [m.inserted_at for m in page.items] == sorted((m.inserted_at for m in page.items), reverse=True)

    # workflow_run_id, tenant and status filters.
    run_two = await asyncio.to_thread(
        lambda: list(client.messages.list(workflow_run_id=second.workflow_run_id))
    )
    assert len(run_two) == 15
    assert all(m.source.workflow_run_id == second.workflow_run_id for m in run_two)
    acme = await asyncio.to_thread(lambda: list(client.messages.list(tenant="acme", page_size=50)))
    assert len(acme) == 40
    assert {m.source.workflow_run_id for m in acme} == {first.workflow_run_id}
    queued = await asyncio.to_thread(lambda: list(client.messages.list(status=["queued", "undelivered"])))
    assert queued == []
    by_source = await asyncio.to_thread(lambda: list(client.messages.list(source="bulk")))
    assert len(by_source) == 55
    ids = [m.id for m in everything[:3]]
    by_ids = await asyncio.to_thread(lambda: list(client.messages.list(message_ids=ids)))
    assert sorted(m.id for m in by_ids) == sorted(ids)
    sent_query = query_of(list_requests(requests_seen)[-1])
    assert [v for k, v in sent_query if k == "message_ids[]"] == ids
    by_channel = await asyncio.to_thread(lambda: list(client.messages.list(channel_id=IN_APP.id)))
    assert len(by_channel) == 55
    other_channel = await asyncio.to_thread(
        lambda: list(client.messages.list(channel_id="123e4567-e89b-42d3-a456-426614174000"))
    )
    assert other_channel == []


async def test_list_page_info_and_before_cursor(make_server: ServerFactory, knock: KnockFactory) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    await asyncio.to_thread(client.workflows.trigger, "wf", recipients=[f"u{i}" for i in range(25)])
    await server.simulation.settle()

    raw_first = await asyncio.to_thread(client.messages.with_raw_response.list, page_size=10)
    first = raw_first.http_response.json()
    assert set(first) == {"items", "page_info"}
    info = first["page_info"]
    assert info["__typename"] == "PageInfo"
    assert info["page_size"] == 10
    assert info["before"] is None and info["after"]
    second = (
        await asyncio.to_thread(client.messages.with_raw_response.list, page_size=10, after=info["after"])
    ).http_response.json()
    assert second["page_info"]["before"]
    back = await asyncio.to_thread(client.messages.list, page_size=10, before=second["page_info"]["before"])
    assert [m.id for m in back.items] == [m["id"] for m in first["items"]]
    last = await asyncio.to_thread(client.messages.list, page_size=10, after=second["page_info"]["after"])
    assert len(last.items) == 5
    assert last.page_info is not None and last.page_info.after is None
    assert not last.has_next_page()


async def test_list_filters_by_data_categories_and_recipient_run(
    make_server: ServerFactory, knock: KnockFactory
) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario(categories=("orders",)))
    client = knock(server)
    one = await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1", "u2"], data={"order": 42})
    await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"], data={"order": 7})
    await server.simulation.settle()

    order_42 = await asyncio.to_thread(lambda: list(client.messages.list(trigger_data='{"order": 42}')))
    assert sorted(m.recipient for m in order_42) == ["u1", "u2"]  # type: ignore[type-var]
    assert {m.source.workflow_run_id for m in order_42} == {one.workflow_run_id}
    orders = await asyncio.to_thread(lambda: list(client.messages.list(workflow_categories=["orders"])))
    assert len(orders) == 3
    assert all(m.source.categories == ["orders"] for m in orders)
    other = await asyncio.to_thread(lambda: list(client.messages.list(workflow_categories=["marketing"])))
    assert other == []

    recipient_run_id = order_42[0].source.workflow_recipient_run_id
    assert recipient_run_id is not None and is_uuid4(recipient_run_id)
    assert order_42[0].source.type == "workflow"
    for_run = await asyncio.to_thread(
        lambda: list(client.messages.list(workflow_recipient_run_id=recipient_run_id))
    )
    assert [m.id for m in for_run] == [order_42[0].id]


async def test_list_engagement_status_filters(make_server: ServerFactory, knock: KnockFactory) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1", "u2", "u3"])
    await server.simulation.settle()
    ids = [m.id for m in await asyncio.to_thread(lambda: list(client.messages.list()))]
    await asyncio.to_thread(client.messages.mark_as_read, ids[0])
    await asyncio.to_thread(client.messages.mark_as_seen, ids[1])
    await asyncio.to_thread(client.messages.archive, ids[2])

    async def filtered(status: Any) -> set[str]:
        found = await asyncio.to_thread(lambda: list(client.messages.list(engagement_status=[status])))
        return {m.id for m in found}

    assert await filtered("read") == {ids[0]}
    assert await filtered("seen") == {ids[1]}
    assert await filtered("archived") == {ids[2]}
    # Knock's own example for this filter is engagement_status[]=unread.
    assert await filtered("unread") == {ids[1], ids[2]}
    assert await filtered("unseen") == {ids[0], ids[2]}
    assert await filtered("unarchived") == {ids[0], ids[1]}


async def test_list_inserted_at_filter_as_the_sdk_sends_it(
    make_server: ServerFactory, knock: KnockFactory, requests_seen: list[httpx.Request]
) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1", "u2"])
    await server.simulation.settle()
    requests_seen.clear()
    none = await asyncio.to_thread(
        lambda: list(client.messages.list(inserted_at={"lt": "2000-01-01T00:00:00Z"}))
    )
    # knockapi encodes the nested filter in bracket form.
    assert ("inserted_at[lt]", "2000-01-01T00:00:00Z") in query_of(requests_seen[-1])
    assert none == []
    both = await asyncio.to_thread(
        lambda: list(client.messages.list(inserted_at={"gte": "2000-01-01T00:00:00Z"}))
    )
    assert len(both) == 2


async def test_get_message_matches_list(make_server: ServerFactory, knock: KnockFactory) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    response = await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"], data={"x": "y"})
    await server.simulation.settle()
    (listed,) = await asyncio.to_thread(lambda: list(client.messages.list()))
    message = await asyncio.to_thread(client.messages.get, listed.id)
    assert message == listed
    assert message.api_typename == "Message"
    assert message.source.api_typename == "NotificationSource"
    assert message.source.workflow_run_id == response.workflow_run_id
    assert message.channel_id == IN_APP.id
    assert message.channel is not None and message.channel.type == "in_app_feed"
    assert message.status == "delivered"
    assert message.engagement_statuses == []
    assert message.recipient == "u1"
    assert message.data == {"x": "y"}
    assert len(message.id) == 27 and message.id.isalnum()


async def test_engagement_calls_return_the_message_and_fire_webhooks(
    make_server: ServerFactory, receiver: Receiver, knock: KnockFactory
) -> None:
    server = await make_server(receiver.url, virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])
    await server.simulation.settle()
    await receiver.wait_for(2)
    (listed,) = await asyncio.to_thread(lambda: list(client.messages.list()))
    mid = listed.id
    msgs = client.messages

    seen = await asyncio.to_thread(msgs.mark_as_seen, mid)
    assert isinstance(seen, Message) and seen.id == mid
    assert seen.engagement_statuses == ["seen"] and seen.seen_at is not None
    read = await asyncio.to_thread(msgs.mark_as_read, mid)
    assert set(read.engagement_statuses) == {"seen", "read"} and read.read_at is not None
    archived = await asyncio.to_thread(msgs.archive, mid)
    assert "archived" in archived.engagement_statuses and archived.archived_at is not None
    interacted = await asyncio.to_thread(msgs.mark_as_interacted, mid, metadata={"button": "accept"})
    assert "interacted" in interacted.engagement_statuses and interacted.interacted_at is not None

    unarchived = await asyncio.to_thread(msgs.unarchive, mid)
    assert "archived" not in unarchived.engagement_statuses and unarchived.archived_at is None
    unread = await asyncio.to_thread(msgs.mark_as_unread, mid)
    assert "read" not in unread.engagement_statuses and unread.read_at is None
    unseen = await asyncio.to_thread(msgs.mark_as_unseen, mid)
    assert "seen" not in unseen.engagement_statuses and unseen.seen_at is None
    assert unseen.engagement_statuses == ["interacted"]

    await server.simulation.settle()
    hooks = await receiver.wait_for(9)
    assert receiver.types_emitted(server.simulation)[2:] == [
        "message.seen",
        "message.read",
        "message.archived",
        "message.interacted",
        "message.unarchived",
        "message.unread",
        "message.unseen",
    ]
    for hook in hooks:
        own_verify(hook, SECRET)
        assert hook.json["data"]["id"] == mid
    interacted_hook = hooks[5].json
    assert interacted_hook["event_data"]["button"] == "accept"
    # The state a filter sees follows the calls.
    engaged = await asyncio.to_thread(lambda: list(msgs.list(engagement_status=["interacted"])))
    assert [m.id for m in engaged] == [mid]


async def test_batch_calls_return_arrays_of_messages(
    make_server: ServerFactory, receiver: Receiver, knock: KnockFactory
) -> None:
    server = await make_server(receiver.url, virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1", "u2", "u3"])
    await server.simulation.settle()
    await receiver.wait_for(6)
    ids = [m.id for m in await asyncio.to_thread(lambda: list(client.messages.list()))]
    batch = client.messages.batch

    seen = await asyncio.to_thread(batch.mark_as_seen, message_ids=ids)
    assert isinstance(seen, list) and [m.id for m in seen] == ids
    assert all(m.engagement_statuses == ["seen"] for m in seen)
    read = await asyncio.to_thread(batch.mark_as_read, message_ids=ids[:2])
    assert [m.id for m in read] == ids[:2] and all("read" in m.engagement_statuses for m in read)
    archived = await asyncio.to_thread(batch.archive, message_ids=ids[:1])
    assert archived[0].archived_at is not None
    interacted = await asyncio.to_thread(batch.mark_as_interacted, message_ids=ids[:1], metadata={"k": "v"})
    assert "interacted" in interacted[0].engagement_statuses
    unarchived = await asyncio.to_thread(batch.unarchive, message_ids=ids[:1])
    assert unarchived[0].archived_at is None
    unread = await asyncio.to_thread(batch.mark_as_unread, message_ids=ids[:2])
    assert all("read" not in m.engagement_statuses for m in unread)
    unseen = await asyncio.to_thread(batch.mark_as_unseen, message_ids=ids)
    assert all("seen" not in m.engagement_statuses for m in unseen)

    await server.simulation.settle()
    await receiver.wait_for(6 + 3 + 2 + 1 + 1 + 1 + 2 + 3)
    engagement_types = receiver.types()[6:]
    assert engagement_types.count("message.seen") == 3
    assert engagement_types.count("message.read") == 2
    assert engagement_types.count("message.archived") == 1
    assert engagement_types.count("message.interacted") == 1
    assert engagement_types.count("message.unarchived") == 1
    assert engagement_types.count("message.unread") == 2
    assert engagement_types.count("message.unseen") == 3


# -- errors ---------------------------------------------------------------------------------------------


async def test_validation_error_is_unprocessable_entity(
    make_server: ServerFactory, knock: KnockFactory
) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    with pytest.raises(knockapi.UnprocessableEntityError) as caught:
        await asyncio.to_thread(client.workflows.trigger, "wf", recipients=[{"name": "no id"}])  # type: ignore[list-item]
    error = caught.value
    assert error.status_code == 422
    assert isinstance(error.body, dict)
    assert {"code", "message", "status", "type"} <= set(error.body)
    assert error.body["status"] == 422
    assert isinstance(error.body.get("errors"), list) and error.body["errors"]
    assert error.response.headers.get("x-request-id")
    assert server.simulation.store.runs == {}


async def test_bad_api_key_is_authentication_error(make_server: ServerFactory, knock: KnockFactory) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server, api_key="not-a-knock-key")
    with pytest.raises(knockapi.AuthenticationError) as caught:
        await asyncio.to_thread(client.workflows.trigger, "wf", recipients=["u1"])
    assert caught.value.status_code == 401
    with pytest.raises(knockapi.AuthenticationError):
        await asyncio.to_thread(lambda: list(client.messages.list()))
    assert server.simulation.store.runs == {}


async def test_unknown_message_is_not_found(make_server: ServerFactory, knock: KnockFactory) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)
    with pytest.raises(knockapi.NotFoundError) as caught:
        await asyncio.to_thread(client.messages.get, UNKNOWN_MESSAGE_ID)
    assert caught.value.status_code == 404
    with pytest.raises(knockapi.NotFoundError):
        await asyncio.to_thread(client.messages.mark_as_read, UNKNOWN_MESSAGE_ID)
    with pytest.raises(knockapi.NotFoundError):
        await asyncio.to_thread(client.messages.batch.mark_as_seen, message_ids=[UNKNOWN_MESSAGE_ID])


# -- idempotency -----------------------------------------------------------------------------------


async def test_idempotency_key_replays_the_first_trigger(
    make_server: ServerFactory, knock: KnockFactory
) -> None:
    server = await make_server(virtual_clock=True, scenario_obj=in_app_scenario())
    client = knock(server)

    def trigger(**options: Any) -> knockapi.types.WorkflowTriggerResponse:
        return client.workflows.trigger("order-shipped", recipients=["u1"], data={"order": 42}, **options)

    first = await asyncio.to_thread(trigger, idempotency_key="order-42-shipped")
    raw = await asyncio.to_thread(
        lambda: client.workflows.with_raw_response.trigger(
            "order-shipped", recipients=["u1"], data={"order": 42}, idempotency_key="order-42-shipped"
        )
    )
    second = raw.parse()
    assert second.workflow_run_id == first.workflow_run_id
    assert raw.headers.get("idempotent-replayed") == "true"
    assert raw.headers.get("original-x-request-id")
    # The same key given as a plain header works the same way.
    third = await asyncio.to_thread(trigger, extra_headers={"Idempotency-Key": "order-42-shipped"})
    assert third.workflow_run_id == first.workflow_run_id
    assert list(server.simulation.store.runs) == [first.workflow_run_id]

    # Without an explicit key each call carries its own auto-generated key: two calls, two runs.
    a = await asyncio.to_thread(trigger)
    b = await asyncio.to_thread(trigger)
    assert len({first.workflow_run_id, a.workflow_run_id, b.workflow_run_id}) == 3
    assert len(server.simulation.store.runs) == 3


# -- async client --------------------------------------------------------------------------------------


async def test_async_client_end_to_end(make_server: ServerFactory, receiver: Receiver) -> None:
    server = await make_server(receiver.url, virtual_clock=True, scenario_obj=in_app_scenario())
    async with AsyncKnock(api_key=SDK_KEY, base_url=server.url, _strict_response_validation=True) as client:
        response = await client.workflows.trigger(
            "welcome", recipients=["u1", {"id": "u2", "email": "u2@example.com"}], data={"plan": "pro"}
        )
        assert is_uuid4(response.workflow_run_id)
        await server.simulation.settle()
        await receiver.wait_for(4)
        messages = [m async for m in client.messages.list(page_size=1)]
        assert len(messages) == 2
        got = await client.messages.get(messages[0].id)
        assert got.id == messages[0].id and got.data == {"plan": "pro"}
        read = await client.messages.mark_as_read(got.id)
        assert "read" in read.engagement_statuses
        batch = await client.messages.batch.mark_as_seen(message_ids=[m.id for m in messages])
        assert len(batch) == 2
        await client.workflows.cancel("welcome", cancellation_key="none")
        with pytest.raises(knockapi.NotFoundError):
            await client.messages.get(UNKNOWN_MESSAGE_ID)
        with pytest.raises(knockapi.UnprocessableEntityError):
            await client.workflows.trigger("welcome", recipients=[{"email": "missing-id@example.com"}])  # type: ignore[list-item]
    await server.simulation.settle()
    hooks = await receiver.wait_for(7)
    assert receiver.types_emitted(server.simulation)[4:] == ["message.read", "message.seen", "message.seen"]
    for hook in hooks:
        verify(hook.body, header(hook, "x-knock-signature"), SECRET)
