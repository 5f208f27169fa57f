"""``mockknock fixtures``: webhook bodies as files, for tests that need no server.

    mockknock fixtures email-bounces --out tests/fixtures/knock          # every event of a scenario run
    mockknock fixtures message.bounced --count 5 --out tests/fixtures/b  # five bounces, different ids
    mockknock fixtures --list                                            # event types and bundled scenarios

Each event becomes one file holding the exact bytes mockknock would POST, named so that the files sort in
emission order (``0001-message.sent-<message id>.json``), plus ``manifest.json``: for each file its event
type, ``created_at`` and the full headers, ``x-knock-signature`` included, signed with ``--secret``
(default :data:`mockknock.fixtures.FIXTURE_SECRET`, a public test value).

Signature timestamps: by default each signature is stamped with its event's ``created_at`` (2026 on the
default virtual clock), so the files are byte-identical on every run. A receiver that enforces Knock's
recommended 5-minute tolerance will reject them as stale: verify with the tolerance off
(``mockknock.signing.verify(body, header, secret, tolerance_ms=None)``), or regenerate just before use with
``--timestamp now`` (or a fixed ``--timestamp <unix ms>``).

The same seed gives byte-identical files. ``cli.py`` wires this module in: :func:`add_arguments` on the
``fixtures`` subparser, then :func:`run`; :func:`main` runs it standalone.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mockknock.arguments import positive_int
from mockknock.config import DEFAULT_ENVIRONMENT_ID
from mockknock.errors import ScenarioError
from mockknock.fixtures import (
    EVENT_TYPES,
    FIXTURE_SECRET,
    FIXTURE_START_US,
    FixtureError,
    FixtureFactory,
    body_bytes,
    default_factory,
    event_type_of,
    load_fixture_scenario,
    signed_headers,
    story_offset_us,
    subject_of,
)
from mockknock.model import EventType, format_timestamp
from mockknock.resources import scenarios_dir

EXIT_OK = 0
EXIT_USAGE = 2
MANIFEST = "manifest.json"
GENERATOR = "mockknock fixtures"
# --count K of one event type: event i is knock_event(TYPE, seed=SEED+i) with its story starting this
# much after the one before, so the K events read as a stream rather than K copies of one instant.
COUNT_SPACING_US = 60_000_000

HELP = "write webhook bodies and signed headers as files, for tests with no server"
DESCRIPTION = """\
Write Knock webhook bodies as files: one JSON file per event (the exact bytes mockknock would POST),
named to sort in emission order, plus manifest.json with each file's event type, created_at and headers
(x-knock-signature included). TARGET is a scenario (a bundled name such as email-bounces, or a YAML
file) whose run is written event by event, or an event type (message.bounced) written --count times.

Signatures are stamped with each event's created_at by default, so re-running gives byte-identical
files; a receiver enforcing Knock's 5-minute tolerance will call them stale: verify with the tolerance
off, or pass --timestamp now.
"""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="SCENARIO|EVENT_TYPE",
                        help="a bundled scenario name, a scenario file, or an event type such as message.bounced")
    parser.add_argument("--out", metavar="DIR", help="directory to write into (created if missing; must be empty)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for every id and value (default: the scenario's seed, else 0)")
    parser.add_argument("--count", type=positive_int, default=None, metavar="K",
                        help="with an EVENT_TYPE: write K events of it (seeds SEED..SEED+K-1, a minute apart)")
    parser.add_argument("--secret", default=FIXTURE_SECRET,
                        help=f"signing secret for x-knock-signature in the manifest (default {FIXTURE_SECRET})")
    parser.add_argument("--timestamp", type=_timestamp, default=None, metavar="now|MS",
                        help="signature timestamp: now, or Unix milliseconds (default: each event's created_at)")
    parser.add_argument("--environment-id", dest="fixture_environment_id", default=DEFAULT_ENVIRONMENT_ID,
                        metavar="ID", help="value of x-knock-environment-id")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty directory (files a previous run listed are replaced)")
    parser.add_argument("--list", dest="list_only", action="store_true",
                        help="print the event types and the bundled scenarios, and exit")


@dataclass(frozen=True)
class _Fixture:
    type: EventType
    body: bytes
    created_at_us: int
    subject: str


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.list_only:
        print_list(out)
        return EXIT_OK
    if args.target is None:
        print("mockknock fixtures: give a SCENARIO or an EVENT_TYPE (see mockknock fixtures --list)", file=err)
        return EXIT_USAGE
    if args.out is None:
        print("mockknock fixtures: --out DIR is required: where to write the files", file=err)
        return EXIT_USAGE
    directory = Path(args.out)
    try:
        _check_directory(directory, args.force)
        fixtures, source = _plan(args)
        _prepare(directory)
        count = _write(directory, fixtures, source, args)
    except (_UsageError, FixtureError, ScenarioError) as exc:
        print(f"mockknock fixtures: {exc}", file=err)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mockknock fixtures: cannot write to {args.out}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    stamp = "each event's created_at" if args.timestamp is None else f"t={args.timestamp}"
    print(f"wrote {count} event file{'s' if count != 1 else ''} and {MANIFEST} to {args.out} "
          f"(signed with {args.secret!r} at {stamp})", file=out)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``mockknock fixtures`` on its own (tests and benchmarks call this; the CLI calls :func:`run`)."""
    parser = argparse.ArgumentParser(prog="mockknock fixtures", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, out or sys.stdout, err or sys.stderr)


class _UsageError(Exception):
    pass


def _timestamp(raw: str) -> str | int:
    if raw == "now":
        return raw
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'now' or Unix milliseconds, got {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected Unix milliseconds (0 or more), got {value}")
    return value


# -- what to write ----------------------------------------------------------------------------------------


def _plan(args: argparse.Namespace) -> tuple[Iterator[_Fixture] | list[_Fixture], dict[str, Any]]:
    """The fixtures to write (an iterator for --count, built as they are written) and the manifest's source."""
    target: str = args.target
    factory = default_factory()
    if target in EVENT_TYPES:
        event_type = event_type_of(target)
        seed = 0 if args.seed is None else args.seed
        count = args.count or 1
        source = {"event_type": event_type.value, "seed": seed, "count": count}
        return _of_type(factory, event_type, seed, count), source
    if args.count is not None:
        raise _UsageError("--count goes with an EVENT_TYPE; a scenario writes every event its run emits")
    try:
        scenario = load_fixture_scenario(target)
    except FileNotFoundError:
        raise _UsageError(f"{target!r} is neither an event type nor a scenario{_did_you_mean(target)} "
                          "(see mockknock fixtures --list)") from None
    seed = args.seed if args.seed is not None else scenario.seed if scenario.seed is not None else 0
    events = factory.event_stream(scenario, seed=seed)
    fixtures = [_Fixture(e.type, e.body, e.created_at_us, e.subject_id) for e in events]
    return fixtures, {"scenario": scenario.name, "seed": seed, "count": len(fixtures)}


def _of_type(factory: FixtureFactory, event_type: EventType, seed: int, count: int) -> Iterator[_Fixture]:
    offset = story_offset_us(event_type)
    for index in range(count):
        body = factory.build(event_type, seed + index, FIXTURE_START_US + index * COUNT_SPACING_US)
        factory.check(event_type, body, "(a mockknock bug, please report it)")
        yield _Fixture(event_type, body_bytes(body), FIXTURE_START_US + index * COUNT_SPACING_US + offset,
                       subject_of(body))


def _did_you_mean(target: str) -> str:
    names = [*EVENT_TYPES, *bundled_scenarios()]
    close = difflib.get_close_matches(target, names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# -- the directory ----------------------------------------------------------------------------------------


def _check_directory(directory: Path, force: bool) -> None:
    """Refuse a file, or a non-empty directory without --force, before any work is done."""
    if directory.exists() and not directory.is_dir():
        raise _UsageError(f"--out {directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise _UsageError(f"--out {directory} is not empty; pass --force to write into it anyway")


def _prepare(directory: Path) -> None:
    if directory.is_dir():
        _remove_previous(directory)
        return
    try:
        directory.mkdir(parents=True)
    except OSError as exc:
        raise _UsageError(f"cannot create --out {directory}: {exc.strerror or exc}") from None


def _remove_previous(directory: Path) -> None:
    """With --force, delete the files an earlier ``mockknock fixtures`` listed there (and only those)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(manifest, dict) or manifest.get("generator") != GENERATOR:
        return
    for entry in manifest.get("files", []):
        name = entry.get("file") if isinstance(entry, dict) else None
        # Plain names only: a doctored manifest must not reach outside the directory.
        if isinstance(name, str) and name == Path(name).name and name != MANIFEST:
            (directory / name).unlink(missing_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)


def _write(
    directory: Path, fixtures: Iterator[_Fixture] | list[_Fixture], source: dict[str, Any], args: argparse.Namespace
) -> int:
    total = int(source["count"])
    width = max(4, len(str(total)))
    now_ms = time.time_ns() // 1_000_000
    entries = []
    for index, fixture in enumerate(fixtures, start=1):
        name = f"{index:0{width}d}-{fixture.type.value}-{_UNSAFE.sub('_', fixture.subject)[:80]}.json"
        (directory / name).write_bytes(fixture.body)
        stamp = (fixture.created_at_us // 1000 if args.timestamp is None
                 else now_ms if args.timestamp == "now" else int(args.timestamp))
        headers = signed_headers(fixture.body, args.secret, stamp, args.fixture_environment_id,
                                 event_type=fixture.type.value)
        entries.append({
            "file": name,
            "type": fixture.type.value,
            "created_at": format_timestamp(fixture.created_at_us),
            "headers": headers,
        })
    manifest = {
        "generator": GENERATOR,
        "source": source,
        "signing": {
            "secret": args.secret,
            "timestamp": "created_at" if args.timestamp is None else args.timestamp,
            "note": "x-knock-signature is t=<unix ms>,s=<base64 HMAC-SHA256 of '<t>.<body>'>. Unless --timestamp "
                    "now was given, t is the event's created_at, so a receiver enforcing Knock's 5-minute "
                    "tolerance rejects it as stale: verify with the tolerance off "
                    "(mockknock.signing.verify(body, header, secret, tolerance_ms=None)) or regenerate with "
                    "--timestamp now.",
        },
        "files": entries,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (directory / MANIFEST).write_text(text, encoding="utf-8")
    return len(entries)


# -- --list -----------------------------------------------------------------------------------------------


def bundled_scenarios() -> dict[str, str]:
    """Bundled scenario name -> the first line of its header comment (without the ``name:`` prefix)."""
    found = {}
    for path in sorted(scenarios_dir().glob("*.yaml")):
        found[path.stem] = _summary(path)
    return found


def _summary(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    for line in lines:
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text or text.startswith("yaml-language-server:"):
            continue
        return text.removeprefix(f"{path.stem}:").strip()
    return ""


def print_list(out: TextIO) -> None:
    print(f"Event types ({len(EVENT_TYPES)}):", file=out)
    for name in EVENT_TYPES:
        print(f"  {name}", file=out)
    scenarios = bundled_scenarios()
    print(f"\nBundled scenarios ({len(scenarios)}):", file=out)
    width = max((len(name) for name in scenarios), default=0)
    for name, summary in scenarios.items():
        print(f"  {name:<{width}}  {summary}".rstrip(), file=out)


__all__ = ["DESCRIPTION", "HELP", "add_arguments", "bundled_scenarios", "main", "print_list", "run"]


if __name__ == "__main__":
    sys.exit(main())
