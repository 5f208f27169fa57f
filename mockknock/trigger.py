"""A workflow trigger request, read from a body that already passed the trigger schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockknock.model import RecipientRef


@dataclass(frozen=True)
class Recipient:
    """A recipient or actor: its reference, plus the properties to upsert when it was given inline."""

    ref: RecipientRef
    properties: dict[str, Any] | None

    @classmethod
    def parse(cls, raw: str | dict[str, Any]) -> Recipient:
        if isinstance(raw, str):
            return cls(raw, None)
        properties = {k: v for k, v in raw.items() if k not in ("id", "collection")}
        collection = raw.get("collection")
        ref: RecipientRef = (collection, raw["id"]) if collection is not None else raw["id"]
        return cls(ref, properties)


def recipient_refs(raw: list[str | dict[str, Any]] | None) -> list[RecipientRef] | None:
    """A cancel request's ``recipients`` (ids or ``{id, collection}``) as references; None means everyone."""
    return None if raw is None else [Recipient.parse(r).ref for r in raw]


@dataclass(frozen=True)
class TriggerRequest:
    recipients: tuple[Recipient, ...]
    actor: Recipient | None
    data: dict[str, Any] | None
    tenant: str | None
    tenant_properties: dict[str, Any] | None
    cancellation_key: str | None
    sandbox_mode: bool
    skip_delay: bool

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> TriggerRequest:
        tenant = body.get("tenant")
        tenant_id: str | None
        tenant_properties: dict[str, Any] | None = None
        if isinstance(tenant, dict):
            tenant_id = tenant["id"]
            tenant_properties = {k: v for k, v in tenant.items() if k != "id"}
        else:
            tenant_id = tenant
        settings = body.get("settings") or {}
        actor = body.get("actor")
        return cls(
            recipients=tuple(Recipient.parse(r) for r in body["recipients"]),
            actor=None if actor is None else Recipient.parse(actor),
            data=body.get("data"),
            tenant=tenant_id,
            tenant_properties=tenant_properties,
            cancellation_key=body.get("cancellation_key"),
            sandbox_mode=bool(settings.get("sandbox_mode")),
            skip_delay=bool(settings.get("skip_delay")),
        )
