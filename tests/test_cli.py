"""`mockknock serve` as a new user runs it: a subprocess, its banner, its sink lines, its exit codes."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from mockknock.cli import main
from mockknock.gc_tuning import YOUNG_GENERATION_THRESHOLD
from tests.conftest import AUTH

URL_LINE = re.compile(r"Knock's API at (http://127\.0\.0\.1:\d+)/v1")


async def read_until(stream: asyncio.StreamReader, pattern: re.Pattern[str], timeout: float = 15) -> tuple[str, str]:
    seen = ""

    async def scan() -> str:
        nonlocal seen
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"output ended before {pattern.pattern!r}; output was:\n{seen}")
            seen += line
            match = pattern.search(line)
            if match:
                return match.group(1) if match.groups() else line

    return await asyncio.wait_for(scan(), timeout), seen


class TestServeCommand:
    """The serve subprocess."""

    @pytest.mark.parametrize("child", [False, True], ids=["one-process", "delivery-process"])
    async def test_serve_prints_banner_and_sink_lines(self, child: bool) -> None:
        """Banner names URL, SDK setup, sink, secret and where POSTs come from; a trigger shows up as signed
        sink lines; Ctrl-C stops everything (with --delivery-process, the child too)."""
        env = {**os.environ, "MOCKKNOCK_SPEED": "1000"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mockknock", "serve", "--port", "0", "--seed", "3",
            *(["--delivery-process"] if child else []),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )
        assert process.stdout is not None
        courier: int | None = None
        try:
            url, banner = await read_until(process.stdout, URL_LINE)
            _, banner_rest = await read_until(process.stdout, re.compile(r"(control)"))
            banner += banner_rest
            delivery = "POSTed from a child process (pid " if child else "delivery  POSTed from this process"
            for fragment in ("KNOCK_BASE_URL=", "base_url=", "baseURL:", "built-in sink", "signing secret  whsec_",
                             "seed      3", "scaled x1000", delivery):
                assert fragment in banner, f"{fragment!r} missing from banner:\n{banner}"
            if child:
                courier = int(re.search(r"child process \(pid (\d+)", banner).group(1))  # type: ignore[union-attr]
                assert Path(f"/proc/{courier}").exists() or not Path("/proc").exists()
            async with aiohttp.ClientSession() as session, session.post(
                f"{url}/v1/workflows/welcome/trigger", json={"recipients": ["u1"]}, headers=AUTH
            ) as response:
                assert response.status == 200
            line, _ = await read_until(process.stdout, re.compile(r"(message\.delivered .*email.*)"))
            assert "signature ok" in line and "welcome/email_1" in line and "to u1" in line
        finally:
            process.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(process.wait(), 10)
        assert code == 0
        # Ctrl-C stops the delivery process with the server (it ignores the signal itself and exits when the
        # server closes its stdin), so nothing is left behind.
        assert courier is None or not Path(f"/proc/{courier}").exists(), "the delivery process outlived the server"

    def test_serve_leaves_the_other_commands_unloaded(self) -> None:
        """serve's start-up does not import replay's and fixtures' code (bench (c)); --help still lists them."""
        probe = ("import sys; from mockknock.cli import build_parser; build_parser('serve'); "
                 "print(sorted(m for m in sys.modules if m.startswith(('mockknock.replay', 'mockknock.fixture'))))")
        loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert loaded.stdout.strip() == "[]"
        listing = subprocess.run([sys.executable, "-m", "mockknock", "--help"], capture_output=True, text=True,
                                 check=True)
        for command in ("serve", "replay", "fixtures", "validate"):
            assert command in listing.stdout

    def test_help_documents_every_option(self) -> None:
        """--help names each option and the MOCKKNOCK_ variables."""
        result = subprocess.run([sys.executable, "-m", "mockknock", "serve", "--help"], capture_output=True,
                                text=True, check=True)
        for option in ("--host", "--port", "--webhook-url", "--signing-secret", "--speed", "--seed", "--scenario",
                       "--virtual-clock", "--max-attempts", "--retry-base", "MOCKKNOCK_"):
            assert option in result.stdout

    @pytest.mark.parametrize(
        ("argv", "fragment"),
        [
            (["serve", "--speed", "0"], "speed must be above 0"),
            (["serve", "--speed", "nan"], "speed must be above 0 and at most"),
            (["serve", "--speed", "inf"], "speed must be above 0 and at most"),
            (["serve", "--host="], "host must name an interface"),
            (["serve", "--start-at", "2200-01-01T00:00:00Z"], "the span Knock's message ids can stamp"),
            (["serve", "--retry-base", "10000000d"], "longer than mockknock simulates"),
            (["serve", "--delivery-concurrency", "100000000"], "delivery concurrency must be from 1 to 4096"),
            (["serve", "--webhook-url", "http://127.0.0.1:99999/"], "is not a URL mockknock can send to"),
            (["serve", "--webhook-url", "http://[::1/"], "is not a URL mockknock can send to"),
            (["serve", "--scenario", "/no/such.yaml"], "does not exist"),
            (["serve", "--webhook-url", "localhost:8000"], "absolute http(s) URL"),
        ],
    )
    def test_bad_options_exit_2(self, argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad value exits 2 with a message saying what was wrong."""
        assert main(argv, env={}) == 2
        assert fragment in capsys.readouterr().err

    def test_bad_env_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad MOCKKNOCK_ variable is named in the error."""
        assert main(["serve"], env={"MOCKKNOCK_PORT": "eighty"}) == 2
        assert "MOCKKNOCK_PORT" in capsys.readouterr().err

    @pytest.mark.parametrize("command", ["serve", "replay"])
    def test_commands_run_with_serving_gc_thresholds(self, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """serve and replay run their event loop with the young generation collected less often (see
        gc_tuning.py), and give the process its own thresholds back when they end."""
        from mockknock import cli, replay  # noqa: PLC0415 - the modules whose coroutines are replaced

        seen: list[tuple[int, int, int]] = []

        async def record(*_args: object) -> int:
            seen.append(gc.get_threshold())
            return 0

        monkeypatch.setattr(cli, "_serve", record)
        monkeypatch.setattr(replay, "run_async", record)
        before = gc.get_threshold()
        argv = ["serve"] if command == "serve" else ["replay", "email-bounces", "--target", "http://127.0.0.1:9/"]
        assert main(argv, env={}) == 0
        assert seen == [(YOUNG_GENERATION_THRESHOLD, *before[1:])]
        assert gc.get_threshold() == before

    def test_no_command_prints_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Bare `mockknock` shows usage and exits 2."""
        assert main([], env={}) == 2
        assert "serve" in capsys.readouterr().out

    async def test_quiet_keeps_the_banner_and_silences_the_sink(self) -> None:
        """--quiet silences sink deliveries only: the port picked, the generated secret and the seed still
        show (README: "do not print sink deliveries")."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mockknock", "serve", "--port", "0", "--quiet",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        try:
            url, _ = await read_until(process.stdout, URL_LINE)
            _, banner = await read_until(process.stdout, re.compile(r"(control)"))
            assert "signing secret  whsec_" in banner and "(generated" in banner
            async with aiohttp.ClientSession() as session, session.post(
                f"{url}/v1/workflows/new-comment/trigger", json={"recipients": ["u1"]}, headers=AUTH
            ) as response:
                assert response.status == 200
            await asyncio.sleep(1.0)  # the in-app webhooks reach the sink meanwhile
        finally:
            process.send_signal(signal.SIGINT)
            rest = (await asyncio.wait_for(process.stdout.read(), 15)).decode()
            await asyncio.wait_for(process.wait(), 15)
        assert "message.sent" not in rest and "signature ok" not in rest

    async def test_port_in_use_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A taken port is reported with how to fix it."""
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            code = await asyncio.to_thread(main, ["serve", "--port", str(port), "--quiet"], {})
        finally:
            server.close()
        assert code == 2
        assert "Pick another --port" in capsys.readouterr().err
