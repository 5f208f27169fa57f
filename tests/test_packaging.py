"""A plain (non-editable) install carries schemas/ and scenarios/ inside the wheel and finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("mockknock-*.whl")
    return built


class TestWheel:
    """The built wheel."""

    def test_wheel_contains_data(self, wheel: Path) -> None:
        """Every schema and scenario file is inside the package, plus the console script entry point."""
        names = set(zipfile.ZipFile(wheel).namelist())
        for path in (ROOT / "schemas").rglob("*.json"):
            assert f"mockknock/_data/schemas/{path.relative_to(ROOT / 'schemas')}" in names
        for path in (ROOT / "scenarios").glob("*.yaml"):
            assert f"mockknock/_data/scenarios/{path.name}" in names
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "mockknock = mockknock.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

    def test_installed_wheel_finds_its_data(self, wheel: Path, tmp_path: Path) -> None:
        """Unpacked away from the checkout, the package loads its schemas and default scenario."""
        target = tmp_path / "site"
        zipfile.ZipFile(wheel).extractall(target)
        code = (
            "import mockknock.resources as r, mockknock.schemas as s, mockknock.scenario_file as f;"
            f"assert str(r.schemas_dir()).startswith({str(target)!r}), r.schemas_dir();"
            "print(len(s.SchemaRegistry.load().names()), f.load_default().name)"
        )
        env = {**os.environ, "PYTHONPATH": str(target)}
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        count, name = result.stdout.split()
        assert int(count) >= 30 and name == "default"

    def test_installed_wheel_runs_the_delivery_process(self, wheel: Path, tmp_path: Path) -> None:
        """The child `serve` starts for its POSTs runs from the installed package, as `python -m`."""
        target = tmp_path / "site"
        zipfile.ZipFile(wheel).extractall(target)
        env = {**os.environ, "PYTHONPATH": str(target)}
        result = subprocess.run(
            [sys.executable, "-m", "mockknock.courier", "--help"], cwd=tmp_path, env=env, capture_output=True,
            text=True, check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "started by mockknock, not by hand" in result.stdout
