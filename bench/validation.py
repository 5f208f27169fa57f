"""What one schema check costs, per call, for the bodies mockknock validates most often.

Run: ``python bench/validation.py``. Prints microseconds per call (best of 5 runs) for a typical
trigger body (3 recipients, small data) and a typical emitted ``message.sent`` webhook body, for each
way of validating that was considered for ``SchemaRegistry.is_valid``.
"""

from __future__ import annotations

import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mockknock.schemas import SchemaRegistry, _const_as_enum

TRIGGER: dict[str, Any] = {
    "recipients": [
        "u1",
        {"id": "u2", "email": "u2@example.com", "name": "U Two"},
        {"id": "p1", "collection": "projects"},
    ],
    "actor": "u3",
    "cancellation_key": "ck1",
    "data": {"comment": "Life finds a way", "count": 3, "url": "https://example.com/c/1"},
    "tenant": "acme",
}

MESSAGE_SENT: dict[str, Any] = {
    "__typename": "Event",
    "type": "message.sent",
    "created_at": "2026-01-01T00:00:00.123456Z",
    "data": {
        "__typename": "Message",
        "id": "2w3YUpTTOxuDvZFji8OMsKrG176",
        "channel_id": "123e4567-e89b-12d3-a456-426614174000",
        "channel": {
            "id": "123e4567-e89b-12d3-a456-426614174000",
            "key": "sendgrid",
            "name": "SendGrid",
            "provider": "sendgrid",
            "type": "email",
            "created_at": "2025-01-01T00:00:00.000000Z",
            "updated_at": "2025-01-01T00:00:00.000000Z",
        },
        "recipient": "dr_grant",
        "actors": ["mr_dna"],
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
            "version_id": "0b3c6f0e-2f7e-4a43-9d3e-0a0e5e7f6a11",
            "categories": ["collaboration"],
            "step_ref": "email_1",
            "type": "workflow",
            "workflow_run_id": "5f8a70d2-e42a-46dc-86fa-aada5752f6cf",
            "workflow_recipient_run_id": "9e1b3a55-6c1f-4a0b-8a57-1d2f3c4b5a69",
        },
        "workflow": "new-comment",
        "tenant": None,
        "data": {"comment": "Life finds a way"},
        "metadata": None,
        "recipient_snapshot": {"email": "grant@example.com", "name": "Alan Grant"},
    },
    "event_data": None,
}


def per_call_us(func: Callable[[], object]) -> float:
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def options(registry: SchemaRegistry, name: str) -> dict[str, Callable[[object], object]]:
    raw = registry.schema(name)
    refs: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT202012))
        for s in (registry.schema(n) for n in registry.names())
    )
    inlined = registry.inlined(name)
    inlined_2020 = {**inlined, "$schema": "https://json-schema.org/draft/2020-12/schema"}
    with_refs = Draft202012Validator(raw, registry=refs)
    with_formats = Draft202012Validator(
        raw, registry=refs, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    flat_2020 = Draft202012Validator(inlined_2020)
    flat_07 = Draft7Validator(inlined)
    enums = _const_as_enum(inlined)  # as the registry's fastjsonschema backend compiles it
    assert isinstance(enums, dict)
    compiled = fastjsonschema.compile(enums, use_default=False, use_formats=False, detailed_exceptions=False)
    compiled_detailed = fastjsonschema.compile(inlined, use_default=False, use_formats=False)
    compiled_formats = fastjsonschema.compile(enums, use_default=False, detailed_exceptions=False)
    fallback = SchemaRegistry.load(backend="jsonschema")
    fast = SchemaRegistry.load(backend="fastjsonschema")
    own = SchemaRegistry.load(backend="compiled")
    return {
        "jsonschema 2020-12, $refs via referencing (as written)": with_refs.is_valid,
        "  same, with format checking on": with_formats.is_valid,
        "jsonschema 2020-12, $refs inlined": flat_2020.is_valid,
        "jsonschema draft-07, $refs inlined": flat_07.is_valid,
        "fastjsonschema draft-07, inlined, formats off": compiled,
        "  same, detailed exceptions on (its default)": compiled_detailed,
        "  same, formats on": compiled_formats,
        "SchemaRegistry.is_valid, jsonschema fallback": lambda i: fallback.is_valid(name, i),
        "SchemaRegistry.is_valid, fastjsonschema": lambda i: fast.is_valid(name, i),
        "SchemaRegistry.is_valid, compiled (the default)": lambda i: own.is_valid(name, i),
        "SchemaRegistry.issues (full path, valid body)": lambda i: registry.issues(name, i),
    }


def main() -> None:
    registry = SchemaRegistry.load()
    cases = [("trigger_request", TRIGGER), ("events/message.sent", MESSAGE_SENT)]
    print(
        f"json.loads of the bodies, for scale: "
        f"{per_call_us(lambda: json.loads(json.dumps(TRIGGER))):.1f} us / "
        f"{per_call_us(lambda: json.loads(json.dumps(MESSAGE_SENT))):.1f} us (dumps+loads)"
    )
    for name, body in cases:
        assert registry.is_valid(name, body) and not registry.issues(name, body), name
        print(f"\n{name} ({len(json.dumps(body))} bytes)")
        baseline = None
        for label, check in options(registry, name).items():
            us = per_call_us(lambda check=check, body=body: check(body))  # type: ignore[misc]
            baseline = baseline or us
            print(f"  {label:<55} {us:9.1f} us  {baseline / us:6.1f}x")


if __name__ == "__main__":
    main()
