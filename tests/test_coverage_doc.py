"""docs/coverage.md stays in step with Knock's spec and mockknock's routes (docs/coverage.py generates it)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mockknock.model import EventType

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "docs" / "coverage.py"
DOC = ROOT / "docs" / "coverage.md"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mockknock_docs_coverage", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="module")
def spec_path(generator: ModuleType) -> Path:
    path = generator.default_spec_path()
    assert isinstance(path, Path)
    if not path.is_file():
        pytest.skip(f"Knock's OpenAPI spec is not at {path}; set MOCKKNOCK_OPENAPI_SPEC to a copy of api.yml")
    return path


def test_api_table_is_up_to_date(generator: ModuleType, spec_path: Path) -> None:
    expected = generator.render_from_spec(spec_path)
    actual = generator.generated_section(DOC.read_text(encoding="utf-8"))
    assert actual == expected, "docs/coverage.md is out of date; run: python docs/coverage.py"


def test_every_route_is_a_knock_operation(generator: ModuleType, spec_path: Path) -> None:
    """A mock route that matches no operation of the spec is a typo or an invention."""
    operations = generator.spec_operations(generator.load_spec(spec_path))
    for route in generator.mock_routes():
        assert any(generator.matches(op, route) for op in operations), f"{route} is not in Knock's API"


def test_matching_honours_the_values_a_route_accepts(generator: ModuleType) -> None:
    op = generator.Operation
    single = ("DELETE", "/v1/messages/{message_id}/{status}")
    assert generator.matches(op("DELETE", "/v1/messages/{message_id}/read", "x", "", ()), single)
    assert not generator.matches(op("DELETE", "/v1/messages/{message_id}/unread", "x", "", ()), single)
    assert not generator.matches(op("GET", "/v1/messages/{message_id}/read", "x", "", ()), single)
    batch = ("POST", "/v1/messages/batch/{status}")
    assert generator.matches(op("POST", "/v1/messages/batch/unarchived", "x", "", ()), batch)
    assert not generator.matches(op("POST", "/v1/messages/batch/{action}", "x", "", ()), batch)


def test_event_table_lists_every_event_type_once() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, flags=re.MULTILINE)
    assert sorted(rows) == sorted(e.value for e in EventType)
    assert len(rows) == 26
