"""How fast ``mockknock fixtures`` writes fixture files.

Run: ``python bench/fixtures.py [--count 10000] [TYPE ...]``. For each event type (default: a message
event that runs the engine, a recipient-run event, and a Management API object built from fake data)
it writes ``--count`` files with the command's own function (``fixture_files.main``) into a fresh
temporary directory. It prints wall time and files per second, and the CPU time of the process, which
is steadier than wall time on a shared machine (the gap between the two is mostly file-system time).
Schema loading, Faker start-up and schema compilation are paid once, in a warm-up, before timing: what
is measured is the steady rate.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mockknock import fixture_files

DEFAULT_TYPES = ("message.delivered", "workflow_recipient_run.completed", "workflow.committed")


def write(event_type: str, count: int, directory: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to write ``count`` files of ``event_type``."""
    out, err = io.StringIO(), io.StringIO()
    started, cpu = time.perf_counter(), time.process_time()
    code = fixture_files.main([event_type, "--count", str(count), "--out", str(directory)], out, err)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"mockknock fixtures failed: {err.getvalue()}")
    written = sum(1 for _ in directory.iterdir()) - 1  # manifest.json
    if written != count:
        raise SystemExit(f"expected {count} files in {directory}, found {written}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("types", nargs="*", default=list(DEFAULT_TYPES), metavar="TYPE")
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mockknock-bench-") as root:
        base = Path(root)
        for index, event_type in enumerate(args.types):
            write(event_type, 5, base / f"warm-{index}")
        print(f"{'event type':<36} {'files':>7} {'wall s':>7} {'files/s':>8} {'cpu s':>7} {'per cpu s':>9}")
        for index, event_type in enumerate(args.types):
            elapsed, cpu = write(event_type, args.count, base / f"run-{index}")
            print(f"{event_type:<36} {args.count:>7} {elapsed:>7.2f} {args.count / elapsed:>8,.0f} "
                  f"{cpu:>7.2f} {args.count / cpu:>9,.0f}")


if __name__ == "__main__":
    main()
