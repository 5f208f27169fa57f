"""What a replay found, and the three ways it is written out: a terminal summary, JUnit XML and JSON.

Pure records and rendering; no network and no clock. ``replay`` fills a :class:`ReplayReport`; the
exit code is derived from it here so the terminal, the JUnit file and the JSON file always agree.
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Literal

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

CheckStatus = Literal["passed", "failed", "skipped"]
BODY_PREVIEW_BYTES = 200
BODY_NOT_CAPTURED = "(empty)"
# Characters XML 1.0 cannot carry at all, even escaped; a receiver's answer body may hold any byte.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Failure:
    """One event (or one tampered send) the receiver did not answer as it should have."""

    check: str
    event_type: str
    subject_id: str  # the message id (or workflow run id) the event is about
    event_seq: int
    expected: str
    answered: str
    body: str | None = None  # first BODY_PREVIEW_BYTES of the answer; None when it was not captured
    case: str = ""  # which variant of the check, e.g. "wrong secret"
    attempts: int = 1
    time_s: float = 0.0

    @property
    def event_title(self) -> str:
        return f"{self.event_type} {self.subject_id} (#{self.event_seq})"

    @property
    def title(self) -> str:
        return self.event_title + (f" [{self.case}]" if self.case else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "case": self.case or None,
            "event_type": self.event_type,
            "message_id": self.subject_id,
            "event_seq": self.event_seq,
            "expected": self.expected,
            "answered": self.answered,
            "body": self.body,
            "attempts": self.attempts,
            "time_s": round(self.time_s, 6),
        }


def _emission_order(failure: Failure) -> tuple[int, str]:
    return failure.event_seq, failure.case


@dataclass
class CheckResult:
    name: str
    description: str
    status: CheckStatus = "passed"
    cases: int = 0  # deliveries (or sends) the check looked at
    # The earliest events' failures, up to the report's limit, in emission order: retries finish in an
    # order the network decides, and the same seed must give the same report.
    failures: list[Failure] = field(default_factory=list)
    failed: int = 0  # all of them, listed or not
    warnings: list[str] = field(default_factory=list)
    warned: int = 0
    skipped_reason: str | None = None
    time_s: float = 0.0

    def fail(self, failure: Failure, limit: int) -> None:
        self.failed += 1
        self.status = "failed"
        bisect.insort(self.failures, failure, key=_emission_order)
        del self.failures[limit:]

    def warn(self, text: str, limit: int) -> None:
        self.warned += 1
        if len(self.warnings) < limit:
            self.warnings.append(text)

    def skip(self, reason: str) -> None:
        self.status = "skipped"
        self.skipped_reason = reason

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "cases": self.cases,
            "failed": self.failed,
            "failures": [f.to_json() for f in self.failures],
            "failures_not_listed": self.failed - len(self.failures),
            "warned": self.warned,
            "warnings": self.warnings,
            "skipped_reason": self.skipped_reason,
            "time_s": round(self.time_s, 6),
        }


@dataclass(frozen=True)
class SlowResponse:
    latency_ms: float
    event_type: str
    subject_id: str
    event_seq: int
    attempt: int
    answered: str

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": round(self.latency_ms, 3),
            "event_type": self.event_type,
            "message_id": self.subject_id,
            "event_seq": self.event_seq,
            "attempt": self.attempt,
            "answered": self.answered,
        }


@dataclass
class ReplayReport:
    scenario: str
    target: str
    seed: int
    clock: str  # "virtual" or "x60" (scaled)
    script_calls: int = 0
    events: int = 0  # events sent to the target (emitted and wanted by its filter)
    events_ok: int = 0
    attempts: int = 0
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # "204" / "timeout" / "connection error" -> attempts
    unreachable: bool = False
    simulated_us: int = 0
    duration_s: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    slowest: list[SlowResponse] = field(default_factory=list)
    # mockknock could not play the scenario as written (a scripted call Knock would refuse, ...).
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "failed"]

    @property
    def exit_code(self) -> int:
        """3: nothing reached the target; 1: a check failed; 2: the scenario could not be played; else 0."""
        if self.unreachable:
            return EXIT_UNREACHABLE
        if self.failed_checks:
            return EXIT_FAILED
        if self.errors:
            return EXIT_USAGE
        return EXIT_OK

    @property
    def verdict(self) -> str:
        code = self.exit_code
        if code == EXIT_UNREACHABLE:
            return "UNREACHABLE"
        if code == EXIT_FAILED:
            return "FAILED"
        if code == EXIT_USAGE:
            return "ERROR"
        return "PASSED"

    def check(self, name: str) -> CheckResult:
        for found in self.checks:
            if found.name == name:
                return found
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "target": self.target,
            "seed": self.seed,
            "clock": self.clock,
            "result": self.verdict.lower(),
            "exit_code": self.exit_code,
            "script_calls": self.script_calls,
            "events": self.events,
            "events_ok": self.events_ok,
            "attempts": self.attempts,
            "retries": self.retries,
            "answers": dict(sorted(self.statuses.items())),
            "unreachable": self.unreachable,
            "simulated_s": self.simulated_us / 1_000_000,
            "duration_s": round(self.duration_s, 6),
            "checks": [c.to_json() for c in self.checks],
            "slowest": [s.to_json() for s in self.slowest],
            "errors": self.errors,
            "notes": self.notes,
        }


# -- terminal ---------------------------------------------------------------------------------------


def _span(us: int) -> str:
    seconds = us // 1_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def summary_lines(report: ReplayReport, failures_shown: int = 20) -> list[str]:
    lines = [
        f"mockknock replay: scenario {report.scenario!r} (seed {report.seed}) -> {report.target}",
        f"  {report.script_calls} scripted calls over {_span(report.simulated_us)} simulated, "
        f"in {report.duration_s:.2f}s ({report.clock} clock)",
        "",
        f"  {'check':<20} {'result':<8} {'cases':>6} {'failed':>7} {'warnings':>9}",
    ]
    for check in report.checks:
        note = f"   {check.skipped_reason}" if check.skipped_reason else ""
        lines.append(
            f"  {check.name:<20} {check.status:<8} {check.cases:>6} {check.failed:>7} {check.warned:>9}{note}"
        )
    answers = ", ".join(f"{k} x{v}" for k, v in sorted(report.statuses.items())) or "none"
    lines += [
        "",
        f"  events sent {report.events}   answered 2xx {report.events_ok}   attempts {report.attempts} "
        f"({report.retries} retries)",
        f"  answers     {answers}",
    ]
    if report.slowest:
        lines.append("  slowest responses")
        for slow in report.slowest:
            lines.append(
                f"    {slow.latency_ms:>9.1f} ms  {slow.event_type:<28} {slow.subject_id} "
                f"(#{slow.event_seq}, attempt {slow.attempt}) -> {slow.answered}"
            )
    for note in report.notes:
        lines.append(f"  note: {note}")
    return lines + detail_lines(report, failures_shown)


def detail_lines(report: ReplayReport, failures_shown: int = 20) -> list[str]:
    """Warnings, failures (event, expected, answered, body), scenario errors and the result line."""
    lines: list[str] = []
    for check in report.checks:
        if not check.warnings:
            continue
        lines += ["", f"warnings from {check.name} ({check.warned}):"]
        lines += [f"  {w}" for w in check.warnings[:failures_shown]]
        if check.warned > min(len(check.warnings), failures_shown):
            lines.append(f"  ... and {check.warned - min(len(check.warnings), failures_shown)} more")
    shown = 3 if report.unreachable else failures_shown
    for check in report.failed_checks:
        lines += ["", f"FAILED {check.name}: {check.failed} of {check.cases} — {check.description}"]
        # Receivers tend to fail the same way many times: one block per distinct answer, then its events.
        groups: dict[tuple[str, str, str, str | None], list[Failure]] = {}
        for failure in check.failures:
            groups.setdefault((failure.case, failure.expected, failure.answered, failure.body), []).append(failure)
        for (case, expected, answered, body), members in groups.items():
            lines += [
                f"  {case + ': ' if case else ''}{len(members)} event{'s' if len(members) > 1 else ''}",
                f"    expected  {expected}",
                f"    answered  {answered}",
                f"    body      {BODY_NOT_CAPTURED if body is None else repr(body)}",
            ]
            lines += [f"    - {m.event_title}" for m in members[:shown]]
            if len(members) > shown:
                lines.append(f"    ... and {len(members) - shown} more")
        unlisted = check.failed - len(check.failures)
        if unlisted:
            lines.append(f"  ... and {unlisted} more failures, counted but not listed (report limit)")
    if report.errors:
        lines += ["", "the scenario could not be played as written:"]
        lines += [f"  {e}" for e in report.errors]
    if report.unreachable:
        lines += ["", f"could not reach {report.target}: every attempt was a connection error. "
                      "Is the receiver running, and on that port?"]
    lines += ["", f"result: {report.verdict} (exit {report.exit_code})"]
    return lines


def verdict_line(report: ReplayReport) -> str:
    failed = ", ".join(f"{c.name} ({c.failed})" for c in report.failed_checks)
    tail = f"; failed: {failed}" if failed else ""
    return (
        f"mockknock replay {report.scenario}: {report.verdict} (exit {report.exit_code}): "
        f"{report.events} events, {report.attempts} attempts{tail}"
    )


# -- JUnit ------------------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", text)


def _failure_details(failure: Failure) -> str:
    body = BODY_NOT_CAPTURED if failure.body is None else failure.body
    return (
        f"event     {failure.event_type} (seq {failure.event_seq})\n"
        f"message   {failure.subject_id}\n"
        f"expected  {failure.expected}\n"
        f"answered  {failure.answered}\n"
        f"attempts  {failure.attempts}\n"
        f"body      {body}\n"
    )


def junit_xml(report: ReplayReport) -> str:
    """One <testsuite> in a <testsuites> root: a testcase per check, and one per failing event.

    Follows the common (Jenkins / Ant) schema: testsuite name/tests/failures/errors/skipped/time,
    testcase classname/name/time, failure and error message/type with the details as text.
    """
    classname = f"mockknock.replay.{report.scenario}"
    cases: list[ET.Element] = []
    failures = errors = skipped = 0

    def case(name: str, time_s: float) -> ET.Element:
        element = ET.Element("testcase", classname=classname, name=_xml_text(name), time=f"{time_s:.3f}")
        cases.append(element)
        return element

    for check in report.checks:
        element = case(f"check {check.name}", check.time_s)
        if check.status == "failed":
            failures += 1
            failure = ET.SubElement(element, "failure", type=check.name,
                                    message=_xml_text(f"{check.failed} of {check.cases} failed: {check.description}"))
            failure.text = _xml_text("\n".join(f.title for f in check.failures))
        elif check.status == "skipped":
            skipped += 1
            ET.SubElement(element, "skipped", message=_xml_text(check.skipped_reason or "skipped"))
        if check.warnings:
            out = ET.SubElement(element, "system-out")
            out.text = _xml_text("\n".join(check.warnings))
        for listed in check.failures:
            failures += 1
            sub = case(f"{check.name}: {listed.title}", listed.time_s)
            failure = ET.SubElement(sub, "failure", type=check.name,
                                    message=_xml_text(f"expected {listed.expected}; answered {listed.answered}"))
            failure.text = _xml_text(_failure_details(listed))
    for index, text in enumerate(report.errors, 1):
        errors += 1
        element = case(f"scenario error {index}", 0.0)
        error = ET.SubElement(element, "error", type="ScenarioError", message=_xml_text(text.splitlines()[0]))
        error.text = _xml_text(text)
    if report.unreachable:
        errors += 1
        element = case("target reachable", report.duration_s)
        ET.SubElement(element, "error", type="Unreachable",
                      message=_xml_text(f"every attempt to {report.target} was a connection error"))

    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors), "skipped": str(skipped),
              "time": f"{report.duration_s:.3f}"}
    root = ET.Element("testsuites", {"name": "mockknock replay", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _xml_text(f"mockknock replay {report.scenario}"), **counts})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("target", report.target), ("seed", str(report.seed)), ("clock", report.clock),
                        ("events", str(report.events)), ("attempts", str(report.attempts))):
        ET.SubElement(properties, "property", name=name, value=_xml_text(value))
    suite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
