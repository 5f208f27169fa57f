"""The ``mockknock`` command: ``serve`` (and the commands later issues add)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from mockknock import __version__
from mockknock.config import DEFAULT_PORT, WEBHOOK_CLIENTS, Settings
from mockknock.console import Console
from mockknock.errors import ConfigError, MockKnockError, ScenarioError
from mockknock.gc_tuning import serving_thresholds
from mockknock.scenario_file import load_scenario
from mockknock.server import MockKnockServer

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

SERVE_HELP = """\
Run a local Knock: the API at http://HOST:PORT/v1 and signed webhooks to your endpoints.
Every option can also be set as an environment variable, MOCKKNOCK_<OPTION> (e.g. MOCKKNOCK_PORT=4000,
MOCKKNOCK_WEBHOOK_URL="http://a/hook http://b/hook"); flags win over variables.
"""


# Commands whose code `serve` never needs: their modules are imported only when they, or every command's
# help, are asked for, which takes ~80 ms off serve's start-up on a slow day (bench/serve.py (c)).
_LAZY_COMMANDS = ("replay", "fixtures")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser; or, for ``command`` other than those in _LAZY_COMMANDS, not theirs."""
    parser = argparse.ArgumentParser(prog="mockknock", description="A local mock of Knock (knock.app).")
    parser.add_argument("--version", action="version", version=f"mockknock {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the mock Knock API and send webhooks", description=SERVE_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--webhook-url", dest="webhook_urls", action="append", metavar="URL[|EVENTS]",
                       help="send webhooks here; repeatable. Add |message.bounced,message.* to receive only "
                            "those event types. Default: the built-in sink, printed to this terminal")
    serve.add_argument("--signing-secret", help="secret for x-knock-signature (default: generated and printed)")
    serve.add_argument("--speed", type=float,
                       help="simulated seconds per real second for every delay and retry wait (default 1; "
                            "60 = a simulated minute per second)")
    serve.add_argument("--virtual-clock", action="store_const", const=True, default=None,
                       help="jump simulated time to the next due event whenever nothing is in flight")
    serve.add_argument("--no-auto-advance", dest="auto_advance", action="store_const", const=False, default=None,
                       help="with --virtual-clock: move time only through POST /__mockknock/clock/advance")
    serve.add_argument("--start-at", dest="start_at_us", metavar="ISO-TIME",
                       help="where the virtual clock starts (default 2026-01-01T00:00:00Z)")
    serve.add_argument("--seed", type=int, help="seed for every id, fake value and random choice")
    serve.add_argument("--scenario", metavar="FILE", help="scenario YAML (default: the bundled default scenario)")
    serve.add_argument("--environment-id", help="value of the x-knock-environment-id header")
    serve.add_argument("--max-attempts", type=int, help="delivery attempts per webhook (default 8)")
    serve.add_argument("--retry-base", dest="base_us", metavar="DURATION",
                       help="simulated wait before the first retry, doubling after (default 10s)")
    serve.add_argument("--retry-cap", dest="cap_us", metavar="DURATION",
                       help="longest simulated wait between retries (default 15m)")
    serve.add_argument("--retry-jitter", dest="jitter", type=float, help="+/- fraction of each wait (default 0.2)")
    serve.add_argument("--delivery-timeout", dest="timeout_s", metavar="DURATION",
                       help="real time to wait for your endpoint's answer before retrying (default 10s)")
    serve.add_argument("--no-validate-webhooks", dest="validate_webhooks", action="store_const", const=False,
                       default=None, help="skip validating each webhook body against its schema (load tests only)")
    serve.add_argument("--max-body-bytes", type=int, help="largest request body accepted (default 10 MB + 64 KB)")
    serve.add_argument("--delivery-concurrency", type=int, help="webhook POSTs in flight at once (default 64)")
    serve.add_argument("--delivery-process", action=argparse.BooleanOptionalAction, default=None,
                       help="POST webhooks from a child process, so the API keeps this one's core; pays "
                            "only with a spare core (default: off)")
    serve.add_argument("--webhook-client", choices=WEBHOOK_CLIENTS,
                       help="what POSTs to http:// endpoints: mockknock's own HTTP/1.1 client (default, about "
                            "40%% of aiohttp's CPU per POST) or aiohttp's; https always uses aiohttp")
    serve.add_argument("--api-first-wait", dest="api_first_wait_s", metavar="DURATION",
                       help="while API requests are in flight, webhooks wait for a gap, at most this long at "
                            "a time (default 50ms; 0 = no priority)")
    serve.add_argument("--delivery-log-size", type=int, help="delivery attempts kept in the log (default 10000)")
    serve.add_argument("--access-log", action="store_const", const=True, default=None,
                       help="log every API request (costs a third of throughput)")
    serve.add_argument("--play-script", action="store_const", const=True, default=None,
                       help="make the scenario's script: calls itself, starting at once")
    serve.add_argument("--quiet", action="store_const", const=True, default=None,
                       help="do not print sink deliveries")
    if command in (None, "replay"):
        from mockknock import replay  # noqa: PLC0415 - see _LAZY_COMMANDS

        replay_parser = commands.add_parser(
            "replay", help=replay.REPLAY_HELP, description=replay.REPLAY_DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        replay.add_arguments(replay_parser)
    if command in (None, "fixtures"):
        from mockknock import fixture_files  # noqa: PLC0415 - see _LAZY_COMMANDS

        fixtures_parser = commands.add_parser(
            "fixtures", help=fixture_files.HELP, description=fixture_files.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        fixture_files.add_arguments(fixtures_parser)
    validate = commands.add_parser(
        "validate", help="check scenario files and report every problem",
        description="Check scenario YAML files. Exit 0 when all are valid, 1 when any has a problem.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="scenario files to check")
    return parser


def validate_files(files: Sequence[str], console: Console, errors: TextIO) -> int:
    failed = 0
    for name in files:
        path = Path(name)
        if not path.is_file():
            print(f"{name}: no such file", file=errors)
            failed += 1
            continue
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            print(str(exc), file=errors)
            failed += 1
            continue
        console.line(
            f"{name}: ok ({scenario.name}: {len(scenario.workflows)} workflows, "
            f"{len(scenario.lifecycles)} lifecycles, {len(scenario.rules)} rules)"
        )
        for note in scenario.notes:
            console.line(f"  note: {note}")
    if failed:
        print(f"{failed} of {len(files)} file{'s' if len(files) > 1 else ''} invalid", file=errors)
    return EXIT_INVALID if failed else EXIT_OK


def banner(server: MockKnockServer) -> list[str]:
    sim = server.simulation
    endpoints = sim.delivery.endpoints
    lines = [
        f"mockknock {__version__}: Knock's API at {server.url}/v1 (any sk_ key is accepted)",
        f"  scenario  {sim.scenario.name}: {sim.scenario.description}".rstrip(": "),
        f"  seed      {sim.seed}   clock {sim.clock.mode}"
        + (f" x{server.settings.speed:g}" if sim.clock.mode == "scaled" else ""),
        "  point your SDK at it:",
        f"    export KNOCK_BASE_URL={server.url} KNOCK_API_KEY=sk_test_mockknock",
        f"    Python  Knock(api_key='sk_test_mockknock', base_url='{server.url}')",
        f"    Node    new Knock({{ apiKey: 'sk_test_mockknock', baseURL: '{server.url}' }})",
    ]
    for endpoint in endpoints:
        where = "built-in sink (printed below)" if endpoint.url == server.sink_url else endpoint.url
        only = "" if endpoint.events == ("*",) else f" (only {', '.join(endpoint.events)})"
        lines.append(f"  webhooks  -> {where}{only}")
    secret_note = " (generated; pass --signing-secret to fix it)" if sim.secret_generated else ""
    lines.append(f"  signing secret  {sim.secret}{secret_note}")
    lines.append(f"  delivery  {sim.delivery.transport.describe()}")
    lines.append(f"  retries   {sim.delivery.policy.describe()}")
    lines.append(f"  control   {server.url}/__mockknock   (Ctrl-C stops)")
    return lines


async def _serve(settings: Settings, console: Console) -> int:
    server = MockKnockServer(settings, console=console, watch_scenario=True)
    await server.start()
    for line in banner(server):
        console.line(line)
    for note in server.simulation.scenario.notes:
        console.line(f"  note      {note}")
    if settings.play_script:
        count = server.simulation.play_script()
        console.line(f"  script    {count} scripted calls scheduled from now")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return EXIT_OK


def settings_from(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    flags: dict[str, Any] = {k: v for k, v in vars(args).items() if k != "command"}
    return Settings.resolve(env, flags)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    # Anything but a plain command first (no command, --help, --version, a typo) gets every command's parser.
    first = words[0] if words else None
    parser = build_parser(first if first in ("serve", "validate", *_LAZY_COMMANDS) else None)
    args = parser.parse_args(words)
    environment = os.environ if env is None else env
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "fixtures":
            from mockknock import fixture_files  # noqa: PLC0415 - see _LAZY_COMMANDS

            return fixture_files.run(args, sys.stdout, sys.stderr)
        if args.command == "replay":
            from mockknock import replay  # noqa: PLC0415 - see _LAZY_COMMANDS

            return replay.run(args, sys.stdout, sys.stderr)
        if args.command == "validate":
            return validate_files(args.files, Console(), sys.stderr)
        if args.command == "serve":
            settings = settings_from(args, environment)
            with serving_thresholds():
                return asyncio.run(_serve(settings, Console(quiet=bool(settings.quiet))))
    except (ConfigError, ScenarioError) as exc:
        print(f"mockknock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MockKnockError as exc:
        print(f"mockknock: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE
