"""Regenerate the API coverage table in docs/coverage.md from Knock's OpenAPI spec and mockknock's router.

    python docs/coverage.py                  # rewrite the generated section of docs/coverage.md
    python docs/coverage.py --check          # exit 1 if that section is out of date
    python docs/coverage.py --spec api.yml   # use another copy of the spec

The spec is Knock's OpenAPI document (repo knocklabs/docs, ``data/specs/api/openapi.yml``). Without
``--spec`` it is read from $MOCKKNOCK_OPENAPI_SPEC, else from /work/shared/knock-openapi/api.yml.

An operation counts as mocked when a route that ``mockknock.web.api.register`` adds to a fresh aiohttp
router matches its method and path. Where the spec has a literal segment and the route a variable
(``/v1/messages/{message_id}/unread`` against ``/v1/messages/{message_id}/{status}``), the literal
must be one of the values that route's handler accepts; everything else in this file is mechanical.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from mockknock.web import api

DOC = Path(__file__).with_name("coverage.md")
DEFAULT_SPEC = Path("/work/shared/knock-openapi/api.yml")
BEGIN = "<!-- BEGIN GENERATED: api coverage (docs/coverage.py) -->"
END = "<!-- END GENERATED: api coverage -->"
METHODS = ("get", "post", "put", "patch", "delete")
UNTAGGED = "Untagged"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tags: tuple[str, ...]

    @property
    def group(self) -> str:
        return self.tags[0] if self.tags else UNTAGGED


Route = tuple[str, str]  # (METHOD, canonical path)

# Values a route variable takes when the spec spells the segment out. The single-message route
# clears with DELETE every status it sets with PUT except interacted, which cannot be unset.
_ENGAGEMENT = frozenset(api._ENGAGEMENT_PATHS)
ROUTE_VALUES: dict[tuple[str, str, str], frozenset[str]] = {
    ("PUT", "/v1/messages/{message_id}/{status}", "status"): _ENGAGEMENT,
    ("DELETE", "/v1/messages/{message_id}/{status}", "status"): _ENGAGEMENT - {"interacted"},
    ("POST", "/v1/messages/batch/{status}", "status"): frozenset(api._BATCH_ACTIONS),
}


def default_spec_path() -> Path:
    return Path(os.environ.get("MOCKKNOCK_OPENAPI_SPEC") or DEFAULT_SPEC)


def load_spec(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=loader)  # a safe loader, C or Python
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise SystemExit(f"{path} is not an OpenAPI document with paths")
    return spec


def spec_operations(spec: Mapping[str, Any]) -> list[Operation]:
    operations = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=str(op.get("operationId") or ""),
                    summary=" ".join(str(op.get("summary") or "").split()),
                    tags=tuple(str(t) for t in op.get("tags") or ()),
                )
            )
    return operations


def mock_routes() -> list[Route]:
    """The (method, path) pairs mockknock's Knock API registers, read from a fresh router."""
    app = web.Application()
    api.register(app.router)
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    return sorted((m, p) for m, p in routes if m != "HEAD")


def _variable(segment: str) -> str | None:
    return segment[1:-1] if segment.startswith("{") and segment.endswith("}") else None


def matches(op: Operation, route: Route) -> bool:
    method, route_path = route
    if method != op.method:
        return False
    wanted, offered = op.path.strip("/").split("/"), route_path.strip("/").split("/")
    if len(wanted) != len(offered):
        return False
    for spec_segment, route_segment in zip(wanted, offered, strict=True):
        route_var, spec_var = _variable(route_segment), _variable(spec_segment)
        if route_var is None:
            if spec_var is not None or spec_segment != route_segment:
                return False
            continue
        accepted = ROUTE_VALUES.get((method, route_path, route_var))
        if accepted is None:
            continue  # the route takes any value here, as the spec's variable or literal needs
        if spec_var is not None or spec_segment not in accepted:
            return False  # a handler that takes only some values does not serve "any value"
    return True


def is_mocked(op: Operation, routes: Iterable[Route]) -> bool:
    return any(matches(op, route) for route in routes)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(operations: Sequence[Operation], routes: Sequence[Route], tag_order: Sequence[str] = ()) -> str:
    """The generated section: a summary line, then one table per tag (an operation's first tag)."""
    groups: dict[str, list[Operation]] = {}
    for op in operations:
        groups.setdefault(op.group, []).append(op)
    rank = {tag: index for index, tag in enumerate(tag_order)}
    ordered = sorted(groups, key=lambda tag: (rank.get(tag, len(rank)), tag))
    mocked_total = sum(is_mocked(op, routes) for op in operations)
    lines = [
        BEGIN,
        "",
        f"**{mocked_total} of {len(operations)} operations mocked.** "
        "Grouped by each operation's first tag in the spec; other tags are listed beside it.",
        "",
    ]
    for tag in ordered:
        ops = sorted(groups[tag], key=lambda o: (o.path, METHODS.index(o.method.lower())))
        mocked = sum(is_mocked(op, routes) for op in ops)
        lines += [
            f"### {tag} ({mocked} of {len(ops)} mocked)",
            "",
            "| Method | Path | operationId | Summary | Other tags | mockknock |",
            "|---|---|---|---|---|---|",
        ]
        for op in ops:
            status = "**mocked**" if is_mocked(op, routes) else "not mocked"
            lines.append(
                f"| {op.method} | `{op.path}` | `{_cell(op.operation_id)}` | {_cell(op.summary)} "
                f"| {_cell(', '.join(op.tags[1:]))} | {status} |"
            )
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def render_from_spec(spec_path: Path) -> str:
    spec = load_spec(spec_path)
    tag_order = [str(t.get("name")) for t in spec.get("tags") or () if isinstance(t, dict)]
    return render(spec_operations(spec), mock_routes(), tag_order)


def generated_section(doc_text: str) -> str:
    """The part of coverage.md this script owns, markers included."""
    start, end = doc_text.find(BEGIN), doc_text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"coverage.md has no generated section; it needs the lines {BEGIN!r} and {END!r}")
    return doc_text[start : end + len(END)] + "\n"


def replace_section(doc_text: str, section: str) -> str:
    old = generated_section(doc_text)
    start = doc_text.find(BEGIN)
    return doc_text[:start] + section + doc_text[start + len(old) :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spec", type=Path, default=None, help="Knock API OpenAPI document (YAML)")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/coverage.md is out of date")
    args = parser.parse_args(argv)
    spec_path: Path = args.spec or default_spec_path()
    if not spec_path.is_file():
        print(f"no OpenAPI spec at {spec_path}; pass --spec or set MOCKKNOCK_OPENAPI_SPEC", file=sys.stderr)
        return 2
    section = render_from_spec(spec_path)
    current = DOC.read_text(encoding="utf-8")
    if args.check:
        if generated_section(current) != section:
            print(f"{DOC} is out of date; run: python docs/coverage.py", file=sys.stderr)
            return 1
        print(f"{DOC} is up to date")
        return 0
    DOC.write_text(replace_section(current, section), encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
