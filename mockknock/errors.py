"""Every error mockknock raises on purpose.

API errors carry Knock's wire shape (``{code, message, status, type}`` plus ``errors`` on 422) so the
web layer only serialises them. Codes are Knock's documented ones where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class MockKnockError(Exception):
    """Base of every deliberate mockknock error."""


@dataclass(frozen=True)
class FieldError:
    """One entry of a 422's ``errors`` list: which field, what is wrong with it."""

    field: str
    message: str
    type: str = "invalid"

    def to_wire(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.type}


@dataclass
class KnockApiError(MockKnockError):
    """An error answered to an API client in Knock's JSON shape."""

    status: int
    code: str
    type: str
    message: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "type": self.type,
        }
        if self.errors:
            body["errors"] = [e.to_wire() for e in self.errors]
        return body


def missing_api_key() -> KnockApiError:
    return KnockApiError(
        401,
        "api_key_missing",
        "authentication_error",
        "No API key was sent. Send 'Authorization: Bearer sk_test_...' (any sk_ key works against mockknock).",
    )


def malformed_api_key(detail: str) -> KnockApiError:
    return KnockApiError(
        401,
        "authentication_required",
        "authentication_error",
        f"The Authorization header is not a valid Knock API key: {detail}. "
        "Send 'Authorization: Bearer sk_test_...'.",
    )


def public_key_refused(method: str, path: str) -> KnockApiError:
    return KnockApiError(
        401,
        "incorrect_token_type",
        "authentication_error",
        f"{method} {path} needs a secret key (sk_...); a public key (pk_...) may only call the "
        "client-side endpoints.",
    )


def invalid_json(detail: str) -> KnockApiError:
    return KnockApiError(
        400,
        "invalid_json",
        "invalid_request_error",
        f"The request body is not valid JSON: {detail}.",
    )


def invalid_params(errors: list[FieldError]) -> KnockApiError:
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return KnockApiError(422, "invalid_params", "invalid_params_error", f"Invalid parameters: {summary}", errors)


def body_too_large(size: int, limit: int) -> KnockApiError:
    return KnockApiError(
        413,
        "request_too_large",
        "invalid_request_error",
        f"The request body is {size} bytes; Knock accepts at most {limit} bytes. Send less data.",
    )


def workflow_missing(key: str) -> KnockApiError:
    return KnockApiError(
        404,
        "workflow_missing",
        "invalid_request_error",
        f"The workflow {key!r} was not found in this environment. Define it in the scenario's workflows, "
        "or set unknown_workflows: accept to accept any key.",
    )


def resource_missing(kind: str, ident: str) -> KnockApiError:
    return KnockApiError(404, "resource_missing", "invalid_request_error", f"The {kind} {ident!r} was not found.")


def not_found(method: str, path: str) -> KnockApiError:
    return KnockApiError(
        404,
        "not_found",
        "invalid_request_error",
        f"{method} {path} is not an endpoint mockknock serves; see docs/coverage.md for what mockknock serves.",
    )


def method_not_allowed(method: str, path: str, allowed: list[str]) -> KnockApiError:
    return KnockApiError(
        405,
        "method_not_allowed",
        "invalid_request_error",
        f"{method} is not allowed on {path}; allowed: {', '.join(sorted(allowed))}.",
    )


def idempotency_key_reused(key: str) -> KnockApiError:
    return KnockApiError(
        422,
        "idempotency_key_reused",
        "invalid_request_error",
        f"The Idempotency-Key {key!r} was already used with a different request within 24 hours. "
        "Use a new key for a new request.",
    )


def simulated_outage(status: int, outage_id: str, title: str) -> KnockApiError:
    codes = {429: ("rate_limit_exceeded", "rate_limit_error"), 502: ("bad_gateway", "api_error"),
             503: ("service_unavailable", "api_error"), 504: ("gateway_timeout", "api_error")}
    code, kind = codes.get(status, ("api_error", "api_error"))
    return KnockApiError(
        status, code, kind,
        f"Simulated outage {outage_id} ({title}): this failure is deliberate. "
        "GET /__mockknock/outages shows what is planned.",
    )


def internal_error(request_id: str) -> KnockApiError:
    return KnockApiError(
        500,
        "internal_error",
        "api_error",
        f"mockknock hit an unexpected error (request {request_id}); the server keeps running. "
        "Please report it with the request id.",
    )


class ScenarioError(MockKnockError):
    """A scenario file is unreadable or invalid; the message lists every problem with where it is."""


class ConfigError(MockKnockError):
    """A command-line option or MOCKKNOCK_* variable has a value that cannot be used."""


class SimulationFailed(MockKnockError):
    """Something inside a simulation went wrong (a step raised, a body failed its schema, a scripted call
    was refused); the message lists each problem."""


class SchemaViolation(MockKnockError):
    """A body mockknock built does not match its schema: a bug in mockknock, never the user's fault."""
