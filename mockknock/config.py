"""The one frozen Settings object: defaults, overridden by MOCKKNOCK_* variables, overridden by flags.

Nothing reads the environment at import time; ``Settings.resolve`` is handed the environment and the
flags explicitly, so tests and the pytest plugin build Settings without touching ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockknock.duration import DurationError, format_duration, parse_duration
from mockknock.errors import ConfigError
from mockknock.model import EventType

DEFAULT_PORT = 3737
# Where a virtual clock starts unless told otherwise: a fixed instant, so a seeded virtual run stamps
# the same times (and mints the same KSUIDs) on every machine and every day.
DEFAULT_VIRTUAL_START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
WEBHOOK_CLIENTS = ("http1", "aiohttp")
DEFAULT_ENVIRONMENT_ID = "0b1a7f4e-6d5c-4b3a-9e8f-7d6c5b4a3f2e"
# Knock documents a 10 MB limit on `data`; the whole body may be a little larger than its data.
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024 + 64 * 1024


@dataclass(frozen=True)
class Endpoint:
    """A webhook endpoint and the event types it receives (glob patterns such as ``message.*``)."""

    url: str
    events: tuple[str, ...] = ("*",)
    # Each type's answer, worked out once: asked for every event emitted.
    _answers: dict[EventType, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def wants(self, event_type: EventType) -> bool:
        answer = self._answers.get(event_type)
        if answer is None:
            answer = any(fnmatch.fnmatchcase(event_type.value, pattern) for pattern in self.events)
            self._answers[event_type] = answer
        return answer

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """``URL`` or ``URL|message.sent,message.bounced`` (``|`` cannot appear unescaped in a URL)."""
        url, _, filters = text.partition("|")
        url = url.strip()
        example = "e.g. http://127.0.0.1:8000/webhooks/knock"
        try:
            parts = urlsplit(url)
            port = parts.port  # raises on a port out of range or not a number
        except ValueError as exc:
            raise ConfigError(f"webhook URL {url!r} is not a URL mockknock can send to ({exc}); {example}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"webhook URL {url!r} must be an absolute http(s) URL, {example}")
        if port == 0:
            raise ConfigError(f"webhook URL {url!r} has port 0, which nothing listens on; {example}")
        events = tuple(p.strip() for p in filters.split(",") if p.strip()) or ("*",)
        known = [e.value for e in EventType]
        for pattern in events:
            if not any(fnmatch.fnmatchcase(name, pattern) for name in known):
                raise ConfigError(
                    f"event filter {pattern!r} on {url} matches no Knock event type; "
                    f"use names such as message.sent or globs such as message.*"
                )
        return cls(url, events)


# Beyond these a setting is a typo, not a wish: a billion delivery workers exhaust memory before serving.
MAX_SPEED = 1e6
MAX_DELIVERY_CONCURRENCY = 4096


@dataclass(frozen=True)
class RetryPolicy:
    """How failed webhook deliveries are retried.

    Knock documents 8 attempts but no schedule; the default, 10s doubling to at most 15m with 20%
    jitter, spends its 8 attempts over about 21 minutes, in line with the 30-minute window Knock
    documents for provider retries. It is our assumption, so every number is configurable.
    """

    max_attempts: int = 8
    base_us: int = 10_000_000
    factor: float = 2.0
    cap_us: int = 15 * 60_000_000
    jitter: float = 0.2
    timeout_s: float = 10.0

    def delay_before(self, attempt: int, unit_random: float) -> int:
        """Simulated microseconds to wait before ``attempt`` (2 for the first retry); unit_random in [0, 1)."""
        raw = min(self.base_us * self.factor ** (attempt - 2), self.cap_us)
        spread = 1 + self.jitter * (2 * unit_random - 1)
        # The cap bounds the wait itself, jitter included: it is the longest wait, as --retry-cap says.
        return max(0, min(round(raw * spread), self.cap_us))

    def describe(self) -> str:
        return (
            f"{self.max_attempts} attempts, waits {format_duration(self.base_us)} x{self.factor:g} "
            f"up to {format_duration(self.cap_us)} (+/-{self.jitter:.0%}), {self.timeout_s:g}s timeout"
        )


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    webhook_urls: tuple[Endpoint, ...] = ()
    signing_secret: str | None = None
    speed: float = 1.0
    virtual_clock: bool = False
    # On a virtual clock: jump to the next due event whenever idle (replay, CI), or move only when told to
    # through the control plane (tests that trigger from outside and must not see windows close between calls).
    auto_advance: bool = True
    start_at_us: int = DEFAULT_VIRTUAL_START_US
    seed: int | None = None
    scenario: Path | None = None
    environment_id: str = DEFAULT_ENVIRONMENT_ID
    # None: the scenario's retry policy, else RetryPolicy's defaults. retry_overrides (from flags and
    # variables, field by field) then win over whichever applies.
    retry: RetryPolicy | None = None
    retry_overrides: tuple[tuple[str, Any], ...] = ()
    validate_webhooks: bool = True
    access_log: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    delivery_concurrency: int = 64
    # POST webhooks from a child process (courier.py), leaving this process's core to the API and the
    # simulation. Off by default: a POST costs this process less than handing it over does (http1.py), so
    # the child pays only when a spare core runs it.
    delivery_process: bool = False
    # What POSTs to http:// endpoints: mockknock's own HTTP/1.1 client (http1.py, 40 % of aiohttp's CPU
    # per POST), or aiohttp's, should a server and http1 ever disagree. https always goes through aiohttp.
    webhook_client: str = "http1"
    # While Knock API requests keep arriving, each webhook delivery attempt waits for a gap in them, at most
    # this long at a time (priority.py); 0 lets deliveries take turns with requests as they come.
    api_first_wait_s: float = 0.05
    delivery_log_size: int = 10_000
    quiet: bool = False
    play_script: bool = False

    def retry_policy(self, scenario_retry: RetryPolicy | None) -> RetryPolicy:
        """The policy in force: an explicit one, else the scenario's, else the defaults; then flag overrides."""
        base = self.retry or scenario_retry or RetryPolicy()
        return dataclasses.replace(base, **dict(self.retry_overrides)) if self.retry_overrides else base

    @classmethod
    def resolve(cls, env: Mapping[str, str], flags: Mapping[str, Any]) -> Settings:
        """Defaults < ``MOCKKNOCK_<NAME>`` variables < flags whose value is not None."""
        values: dict[str, Any] = {}
        for name, (option, parse) in _OPTIONS.items():
            variable = env_variable(option)
            raw = env.get(variable)
            if raw is not None and raw != "":
                values[name] = _parse_source(raw, parse, variable)
        for name, raw in flags.items():
            if raw is None or name not in _OPTIONS:
                continue
            option, parse = _OPTIONS[name]
            values[name] = _parse_source(raw, parse, f"--{option}") if isinstance(raw, str | list | tuple) else raw
        retry_fields = {f.name for f in dataclasses.fields(RetryPolicy)}
        retry_values = {k: values.pop(k) for k in list(values) if k in retry_fields}
        if retry_values:
            values["retry_overrides"] = tuple(sorted(retry_values.items()))
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, got {self.port}")
        if not 0 < self.speed <= MAX_SPEED:  # NaN fails this too
            raise ConfigError(f"speed must be above 0 and at most {MAX_SPEED:g} (1 = real time, 60 = a minute per "
                              f"second; --virtual-clock for as fast as possible), got {self.speed}")
        if not self.host.strip():
            raise ConfigError("host must name an interface, such as 127.0.0.1 (the default) or 0.0.0.0; got none")
        retry = self.retry_policy(None)
        if retry.max_attempts < 1:
            raise ConfigError(f"max attempts must be at least 1, got {retry.max_attempts}")
        if not 0 <= retry.jitter <= 1:
            raise ConfigError(f"retry jitter is a fraction from 0 to 1, got {retry.jitter}")
        if retry.timeout_s <= 0:
            raise ConfigError(f"the delivery timeout must be above 0, got {retry.timeout_s:g}s")
        for name, value in (("max body bytes", self.max_body_bytes), ("delivery log size", self.delivery_log_size)):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if not 1 <= self.delivery_concurrency <= MAX_DELIVERY_CONCURRENCY:
            raise ConfigError(f"delivery concurrency must be from 1 to {MAX_DELIVERY_CONCURRENCY} (connections to "
                              f"each endpoint at once), got {self.delivery_concurrency}")
        if not 0 <= self.api_first_wait_s <= 10:
            raise ConfigError(f"the API-first wait must be from 0 to 10s, got {self.api_first_wait_s:g}s")
        if self.webhook_client not in WEBHOOK_CLIENTS:
            raise ConfigError(f"the webhook client is one of {', '.join(WEBHOOK_CLIENTS)}, got {self.webhook_client!r}")
        if not self.environment_id.isascii() or not self.environment_id.isprintable():
            raise ConfigError(f"the environment id is sent as the x-knock-environment-id header, so it must be "
                              f"printable ASCII, got {self.environment_id!r}")
        if self.scenario is not None and not self.scenario.is_file():
            raise ConfigError(f"scenario file {self.scenario} does not exist")


def env_variable(option: str) -> str:
    return "MOCKKNOCK_" + option.upper().replace("-", "_")


def _parse_source(raw: Any, parse: Callable[[Any], Any], where: str) -> Any:
    try:
        return parse(raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (ValueError, DurationError) as exc:
        raise ConfigError(f"{where}={raw!r} is not valid: {exc}") from None


def _bool(raw: str) -> bool:
    lowered = str(raw).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _instant(raw: str) -> int:
    parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-01-01T09:00:00Z")
    # Knock's message ids (KSUIDs) count seconds from 2014-05-13; leave room for ten years of simulation.
    if not datetime(2014, 5, 14, tzinfo=UTC) <= parsed <= datetime(2140, 1, 1, tzinfo=UTC):
        raise ValueError("give a time from 2014-05-14 to 2140, the span Knock's message ids can stamp")
    return round(parsed.timestamp() * 1_000_000)


def _choice(raw: str, choices: Sequence[str]) -> str:
    value = str(raw).strip().lower()
    if value not in choices:
        raise ValueError(f"expected {' or '.join(choices)}")
    return value


def _endpoints(raw: str | Sequence[str]) -> tuple[Endpoint, ...]:
    # In the environment several URLs are separated by spaces or newlines.
    items = raw.split() if isinstance(raw, str) else list(raw)
    return tuple(Endpoint.parse(item) for item in items)


# Settings field -> (option name, parser). The option is the flag (--retry-base) and, upper-cased, the
# environment variable (MOCKKNOCK_RETRY_BASE); errors name whichever the value came from.
_OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "host": ("host", str),
    "port": ("port", int),
    "webhook_urls": ("webhook-url", _endpoints),
    "signing_secret": ("signing-secret", str),
    "speed": ("speed", float),
    "virtual_clock": ("virtual-clock", _bool),
    "auto_advance": ("auto-advance", _bool),
    "start_at_us": ("start-at", _instant),
    "seed": ("seed", int),
    "scenario": ("scenario", Path),
    "environment_id": ("environment-id", str),
    "max_attempts": ("max-attempts", int),
    "base_us": ("retry-base", parse_duration),
    "cap_us": ("retry-cap", parse_duration),
    "jitter": ("retry-jitter", float),
    "timeout_s": ("delivery-timeout", lambda raw: parse_duration(raw) / 1_000_000),
    "validate_webhooks": ("validate-webhooks", _bool),
    "access_log": ("access-log", _bool),
    "max_body_bytes": ("max-body-bytes", int),
    "delivery_concurrency": ("delivery-concurrency", int),
    "delivery_process": ("delivery-process", _bool),
    "webhook_client": ("webhook-client", lambda raw: _choice(raw, WEBHOOK_CLIENTS)),
    "api_first_wait_s": ("api-first-wait", lambda raw: parse_duration(raw) / 1_000_000),
    "delivery_log_size": ("delivery-log-size", int),
    "quiet": ("quiet", _bool),
    "play_script": ("play-script", _bool),
}

