"""Every bad input gets its own Knock-shaped error, creates nothing, and the server keeps serving."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from mockknock.scenario_file import load_scenario
from tests.conftest import AUTH, ServerFactory

Answer = tuple[int, dict[str, Any], CIMultiDict[str]]


async def call(method: str, url: str, body: Any = None, raw: bytes | None = None,
               headers: dict[str, str] | None = None) -> Answer:
    sent_headers = dict(AUTH if headers is None else headers)
    data = raw
    if raw is None and body is not None:
        data = json.dumps(body).encode()
        sent_headers["Content-Type"] = "application/json"
    async with aiohttp.ClientSession() as session, session.request(
        method, url, data=data, headers=sent_headers
    ) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else {}, CIMultiDict(response.headers)


def assert_knock_error(answer: Answer, status: int, code: str) -> dict[str, Any]:
    got_status, body, headers = answer
    assert got_status == status, body
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["type"], str)
    assert headers.get("x-request-id")
    return body


class TestAuthentication:
    """Authorization: Bearer sk_... is required on /v1."""

    async def test_missing_key_is_401(self, make_server: ServerFactory) -> None:
        """No Authorization header: 401 api_key_missing."""
        server = await make_server()
        answer = await call("POST", f"{server.url}/v1/workflows/wf/trigger", {"recipients": ["u1"]}, headers={})
        assert_knock_error(answer, 401, "api_key_missing")

    @pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer nope_123", "sk_test_123"])
    async def test_malformed_key_is_401(self, make_server: ServerFactory, header: str) -> None:
        """A header that is not 'Bearer sk_/pk_...' is refused."""
        server = await make_server()
        answer = await call("POST", f"{server.url}/v1/workflows/wf/trigger", {"recipients": ["u1"]},
                            headers={"Authorization": header})
        assert_knock_error(answer, 401, "authentication_required")

    async def test_public_key_refused_on_trigger(self, make_server: ServerFactory) -> None:
        """A pk_ key may not trigger workflows."""
        server = await make_server()
        answer = await call("POST", f"{server.url}/v1/workflows/wf/trigger", {"recipients": ["u1"]},
                            headers={"Authorization": "Bearer pk_test_123"})
        assert_knock_error(answer, 401, "incorrect_token_type")
        assert not server.simulation.store.runs

    async def test_public_key_allowed_on_message_status(self, make_server: ServerFactory) -> None:
        """A pk_ key may mark a message as seen, as the browser client does."""
        server = await make_server(virtual_clock=True)
        await call("POST", f"{server.url}/v1/workflows/wf/trigger", {"recipients": ["u1"]})
        message_id = next(iter(server.simulation.store.messages))
        status, body, _ = await call("PUT", f"{server.url}/v1/messages/{message_id}/seen",
                                     headers={"Authorization": "Bearer pk_test_123"})
        assert status == 200
        assert body["engagement_statuses"] == ["seen"]


class TestTriggerValidation:
    """Bad trigger bodies: each its own error, nothing created."""

    @pytest.mark.parametrize(
        ("raw", "fragment"),
        [
            (b"{not json", "line 1 column 2"),
            (b"", "empty"),
            (b"[1, 2]", "must be a JSON object"),
            (b"\xff\xfe", "UTF-8"),
            # Python's json reads these; JSON has no such numbers, and echoing them would break receivers.
            (b'{"recipients":["u1"],"data":{"x":NaN}}', "NaN is not a JSON value"),
            (b'{"recipients":["u1"],"data":{"x":-Infinity}}', "-Infinity is not a JSON value"),
            # Deeper than Python's parser goes: a clear 400, not a RecursionError and a 500 the SDKs retry.
            (b"[" * 100_000, "nested deeper than mockknock reads"),
            (b'{"recipients":["u1"],"data":{"x":' + b"[" * 5000 + b"]" * 5000 + b"}}", "nested deeper"),
        ],
    )
    async def test_malformed_json_is_400(self, make_server: ServerFactory, raw: bytes, fragment: str) -> None:
        """Broken JSON says where it broke."""
        server = await make_server()
        answer = await call("POST", f"{server.url}/v1/workflows/wf/trigger", raw=raw,
                            headers={**AUTH, "Content-Type": "application/json"})
        body = assert_knock_error(answer, 400, "invalid_json")
        assert fragment in body["message"]
        assert not server.simulation.store.runs

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "recipients"),
            ({"recipients": []}, "recipients"),
            ({"recipients": "u1"}, "recipients"),
            ({"recipients": [f"u{i}" for i in range(1001)]}, "recipients"),
            ({"recipients": [{"name": "no id"}]}, "recipients[0]"),
            ({"recipients": [42]}, "recipients[0]"),
            ({"recipients": ["u1"], "data": [1, 2]}, "data"),
            ({"recipients": ["u1"], "actor": 5}, "actor"),
            ({"recipients": ["u1"], "tenant": 5}, "tenant"),
            ({"recipients": ["u1"], "cancellation_key": 5}, "cancellation_key"),
            ({"recipients": ["u1"], "settings": {"sandbox_mode": "yes"}}, "settings.sandbox_mode"),
        ],
    )
    async def test_wrong_shapes_are_422_with_field(
        self, make_server: ServerFactory, body: dict[str, Any], field: str
    ) -> None:
        """The 422's errors name the offending field."""
        server = await make_server()
        answer = await call("POST", f"{server.url}/v1/workflows/wf/trigger", body)
        error = assert_knock_error(answer, 422, "invalid_params")
        fields = [e["field"] for e in error["errors"]]
        assert any(f == field or f.startswith(field + ".") or f.startswith(field + "[") for f in fields), fields
        assert all({"field", "message", "type"} <= set(e) for e in error["errors"])
        assert not server.simulation.store.runs

    async def test_body_over_limit_is_413(self, make_server: ServerFactory) -> None:
        """A body over the size limit is refused before it is parsed."""
        server = await make_server(max_body_bytes=10_000)
        answer = await call("POST", f"{server.url}/v1/workflows/wf/trigger",
                            {"recipients": ["u1"], "data": {"blob": "x" * 20_000}})
        assert_knock_error(answer, 413, "request_too_large")
        assert not server.simulation.store.runs

    async def test_unknown_workflow_is_404_when_scenario_defines_workflows(
        self, make_server: ServerFactory, tmp_path: Any
    ) -> None:
        """unknown_workflows: reject makes an undefined key a 404 workflow_missing."""
        path = tmp_path / "s.yaml"
        path.write_text(
            "version: 1\nunknown_workflows: reject\nworkflows:\n  known:\n    steps:\n      - channel: email\n"
        )
        server = await make_server(scenario_obj=load_scenario(path))
        answer = await call("POST", f"{server.url}/v1/workflows/unknown/trigger", {"recipients": ["u1"]})
        body = assert_knock_error(answer, 404, "workflow_missing")
        assert "unknown" in body["message"]
        status, _, _ = await call("POST", f"{server.url}/v1/workflows/known/trigger", {"recipients": ["u1"]})
        assert status == 200


class TestServerKeepsServing:
    """After every kind of error, the next good request works."""

    async def test_good_request_after_bad_ones(self, make_server: ServerFactory) -> None:
        """A burst of bad requests leaves the server healthy."""
        server = await make_server()
        url = f"{server.url}/v1/workflows/wf/trigger"
        await call("POST", url, raw=b"{", headers={**AUTH, "Content-Type": "application/json"})
        await call("POST", url, {"recipients": []})
        await call("POST", url, {"recipients": ["u1"]}, headers={})
        await call("GET", f"{server.url}/v1/nowhere")
        status, body, _ = await call("POST", url, {"recipients": ["u1"]})
        assert status == 200 and "workflow_run_id" in body

    async def test_unknown_route_and_method(self, make_server: ServerFactory) -> None:
        """Unknown paths are 404 and wrong methods 405, both in Knock's shape."""
        server = await make_server()
        assert_knock_error(await call("GET", f"{server.url}/v1/nowhere"), 404, "not_found")
        assert_knock_error(await call("GET", f"{server.url}/v1/workflows/wf/trigger"), 405, "method_not_allowed")

    @pytest.mark.parametrize(("method", "path"), [
        ("GET", "/v1/messages/abc/events"), ("GET", "/v1/messages/abc/activities"),
        ("GET", "/v1/messages/batch/content"), ("PUT", "/v1/messages/abc/bogus"),
        ("POST", "/v1/messages/batch/bogus"),
    ])
    async def test_knock_endpoints_not_served_are_404_whatever_their_shape(
            self, make_server: ServerFactory, method: str, path: str) -> None:
        """Knock's own endpoints that mockknock does not serve are 404s (docs/coverage.md), even when they
        look like a served route with another method."""
        server = await make_server()
        body = assert_knock_error(await call(method, f"{server.url}{path}"), 404, "not_found")
        assert "docs/coverage.md" in body["message"]

    @pytest.mark.parametrize("raw", [b"[" * 100_000, b"\xff\xfe", b'{"type": NaN}'])
    async def test_the_built_in_sink_refuses_what_it_cannot_read(self, make_server: ServerFactory,
                                                                 raw: bytes) -> None:
        """Anything POSTed to the sink that is not a signed webhook is a 400, whatever the body."""
        server = await make_server()
        status, _, _ = await call("POST", server.sink_url, raw=raw, headers={})
        assert status == 400

    async def test_unknown_message_is_404(self, make_server: ServerFactory) -> None:
        """GET of a message id that does not exist."""
        server = await make_server()
        assert_knock_error(await call("GET", f"{server.url}/v1/messages/nope"), 404, "resource_missing")


class TestIdempotency:
    """Idempotency-Key on trigger replays the first success for 24 simulated hours."""

    async def test_repeat_replays_and_creates_no_second_run(self, make_server: ServerFactory) -> None:
        """Same key, same body: same run id, replay headers, one run."""
        server = await make_server()
        url = f"{server.url}/v1/workflows/wf/trigger"
        headers = {**AUTH, "Idempotency-Key": "k-1"}
        first = await call("POST", url, {"recipients": ["u1"]}, headers=headers)
        second = await call("POST", url, {"recipients": ["u1"]}, headers=headers)
        assert first[0] == second[0] == 200
        assert first[1] == second[1]
        assert second[2]["idempotent-replayed"] == "true"
        assert second[2]["original-x-request-id"] == first[2]["x-request-id"]
        assert second[2]["x-request-id"] != first[2]["x-request-id"]
        assert "idempotent-replayed" not in first[2]
        assert len(server.simulation.store.runs) == 1

    async def test_errors_are_not_cached(self, make_server: ServerFactory) -> None:
        """A 422 under a key does not stop a later good request under the same key."""
        server = await make_server()
        url = f"{server.url}/v1/workflows/wf/trigger"
        headers = {**AUTH, "Idempotency-Key": "k-2"}
        assert (await call("POST", url, {"recipients": []}, headers=headers))[0] == 422
        assert (await call("POST", url, {"recipients": []}, headers=headers))[0] == 422
        assert len(server.simulation.store.runs) == 0

    async def test_key_reused_with_other_body_is_refused(self, make_server: ServerFactory) -> None:
        """A different request under a used key is a 422, not a silent replay."""
        server = await make_server()
        url = f"{server.url}/v1/workflows/wf/trigger"
        headers = {**AUTH, "Idempotency-Key": "k-3"}
        await call("POST", url, {"recipients": ["u1"]}, headers=headers)
        assert_knock_error(await call("POST", url, {"recipients": ["u2"]}, headers=headers), 422,
                           "idempotency_key_reused")

    async def test_the_same_parameters_in_other_bytes_are_the_same_request(self, make_server: ServerFactory) -> None:
        """Key order and spacing are the serialiser's, not the request's: the repeat is a replay."""
        server = await make_server()
        url = f"{server.url}/v1/workflows/wf/trigger"
        headers = {**AUTH, "Idempotency-Key": "k-6", "Content-Type": "application/json"}
        first = await call("POST", url, raw=b'{"recipients":["u1"],"data":{"a":1,"b":[1,2]}}', headers=headers)
        second = await call("POST", url, raw=b'{ "data": {"b": [1, 2], "a": 1},\n  "recipients": ["u1"] }',
                            headers=headers)
        assert first[0] == second[0] == 200 and first[1] == second[1]
        assert second[2]["idempotent-replayed"] == "true"
        assert len(server.simulation.store.runs) == 1

    async def test_expires_after_24_simulated_hours(self, make_server: ServerFactory) -> None:
        """After the virtual clock passes 24h the same key makes a new run."""
        server = await make_server(virtual_clock=True)
        url = f"{server.url}/v1/workflows/wf/trigger"
        headers = {**AUTH, "Idempotency-Key": "k-4"}
        first = await call("POST", url, {"recipients": ["u1"]}, headers=headers)
        await call("POST", f"{server.url}/__mockknock/clock/advance", {"by": "24h1s"}, headers={})
        second = await call("POST", url, {"recipients": ["u1"]}, headers=headers)
        assert first[1] != second[1]
        assert "idempotent-replayed" not in second[2]

    async def test_other_endpoints_ignore_the_header(self, make_server: ServerFactory) -> None:
        """Cancel under a reused key still runs (Knock honours the key on trigger only)."""
        server = await make_server()
        headers = {**AUTH, "Idempotency-Key": "k-5"}
        url = f"{server.url}/v1/workflows/wf/cancel"
        assert (await call("POST", url, {"cancellation_key": "a"}, headers=headers))[0] == 204
        assert (await call("POST", url, {"cancellation_key": "b"}, headers=headers))[0] == 204


class TestEngagementValidation:
    """Engagement calls check their bodies like the rest of the API."""

    async def test_batch_interacted_metadata_must_be_an_object(self, make_server: ServerFactory) -> None:
        """metadata as a string is a 422 naming metadata, and the message is left as it was."""
        server = await make_server(virtual_clock=True)
        await call("POST", f"{server.url}/v1/workflows/wf/trigger", {"recipients": ["u1"]})
        message_id = next(iter(server.simulation.store.messages))
        answer = await call("POST", f"{server.url}/v1/messages/batch/interacted",
                            {"message_ids": [message_id], "metadata": "clicked"})
        body = assert_knock_error(answer, 422, "invalid_params")
        assert body["errors"][0]["field"] == "metadata"
        assert server.simulation.store.messages[message_id].metadata is None

    @pytest.mark.parametrize(("metadata", "fragment"), [
        ({f"k{i}": i for i in range(6)}, "at most 5 key-value pairs, got 6"),
        ({"button": {"id": "b1"}}, "must not contain nested data; 'button' holds an object"),
        ({"tags": ["a", "b"]}, "must not contain nested data; 'tags' holds an array"),
        (["clicked"], "got an array"),
    ])
    @pytest.mark.parametrize("batch", [False, True])
    async def test_interacted_metadata_within_knocks_limits(self, make_server: ServerFactory, metadata: Any,
                                                            fragment: str, batch: bool) -> None:
        """api.yml: "Cannot include more than 5 key-value pairs, must not contain nested data"."""
        server = await make_server(virtual_clock=True)
        await call("POST", f"{server.url}/v1/workflows/wf/trigger", {"recipients": ["u1"]})
        message_id = next(iter(server.simulation.store.messages))
        if batch:
            answer = await call("POST", f"{server.url}/v1/messages/batch/interacted",
                                {"message_ids": [message_id], "metadata": metadata})
        else:
            answer = await call("PUT", f"{server.url}/v1/messages/{message_id}/interacted", {"metadata": metadata})
        body = assert_knock_error(answer, 422, "invalid_params")
        assert body["errors"][0]["field"] == "metadata" and fragment in body["errors"][0]["message"]
        assert server.simulation.store.messages[message_id].metadata is None
        flat = {f"k{i}": v for i, v in enumerate(["a", 1, 2.5, True, None])}
        status, message, _ = await call("PUT", f"{server.url}/v1/messages/{message_id}/interacted",
                                        {"metadata": flat})
        assert status == 200 and message["metadata"] == flat


class TestMessageListValidation:
    """GET /v1/messages refuses what Knock's OpenAPI does not allow, with a 422 naming the parameter."""

    @pytest.mark.parametrize(("query", "field"), [
        ("status[]=posted", "status"),
        ("page_size=%C2%B2", "page_size"),
        ("workflow_run_id=run-1", "workflow_run_id"),
        ("trigger_data=" + "%5B" * 1500, "trigger_data"),  # deeper than Python reads, shorter than 8 KB
        ("&".join(f"message_ids[]=m{i}" for i in range(51)), "message_ids"),
    ])
    async def test_bad_query_is_422(self, make_server: ServerFactory, query: str, field: str) -> None:
        server = await make_server()
        body = assert_knock_error(await call("GET", f"{server.url}/v1/messages?{query}"), 422, "invalid_params")
        assert [e["field"] for e in body["errors"]] == [field]

