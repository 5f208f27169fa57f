"""The schema compiler behind ``SchemaRegistry.is_valid``: the same verdicts as the full jsonschema path,
keyword by keyword and on awkward values (no sockets)."""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mockknock.errors import SchemaViolation
from mockknock.schema_compiler import UnsupportedSchema, compile_predicate
from mockknock.schemas import SchemaRegistry

# One schema per keyword (and a few combinations), each checked against every value below.
SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "null": {"type": "null"},
    "array": {"type": "array"},
    "object": {"type": "object"},
    "string_or_null": {"type": ["string", "null"]},
    "const_string": {"const": "sent"},
    "const_true": {"const": True},
    "const_one": {"const": 1},
    "const_null": {"const": None},
    "enum_strings": {"enum": ["a", "b"]},
    "enum_mixed": {"enum": ["a", 1, None, False, [1], {"k": 1}]},
    "pattern_end": {"pattern": "^[0-9]{3}$"},
    "pattern_typed": {"type": "string", "pattern": "^ab"},
    "lengths": {"minLength": 2, "maxLength": 3},
    "bounds": {"minimum": 1, "maximum": 2.5},
    "integer_bounds": {"type": "integer", "minimum": 0},
    "infinite_bounds": {"type": "number", "minimum": float("-inf"), "maximum": float("inf")},
    "items": {"items": {"type": "string"}, "minItems": 1, "maxItems": 2},
    "object_rules": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
        "additionalProperties": False,
    },
    "untyped_object_rules": {"required": ["id"], "properties": {"id": {"const": "x"}}},
    "extra_schema": {"properties": {"id": {}}, "additionalProperties": {"type": "integer"}},
    "all_of": {"allOf": [{"type": "string"}, {"minLength": 2}]},
    "any_of": {"anyOf": [{"type": "string"}, {"type": "object", "required": ["id"]}]},
    "one_of": {"oneOf": [{"type": "integer"}, {"minimum": 2}]},
    "not": {"not": {"type": "object", "required": ["collection"]}},
    "nested": {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"type": "object", "properties": {"b": {"enum": ["x"]}}}}},
    },
    "false_property": {"properties": {"gone": False}},
    "annotations": {"format": "date-time", "title": "t", "description": "d", "$comment": "c"},
}

VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 3, -1, 1.0, 1.5, 2.5, 3.5, float("nan"), Decimal("1.0"), Decimal("2"),
    "", "a", "b", "ab", "abc", "abcd", "sent", "123", "123\n", "1234", "x",
    [], ["a"], ["a", "b"], ["a", "b", "c"], [1], ("a",), (1, 2), [{"b": "x"}], [{"b": "y"}],
    {}, {"id": "x"}, {"id": 1}, {"id": "x", "n": 1}, {"id": "x", "n": True}, {"id": "x", "n": 1.0},
    {"id": "x", "other": 1}, {"id": "x", "other": "s"}, {"collection": "c"}, {"k": 1}, {"k": True},
    {"gone": None}, {"a": [{"b": "x"}]}, {"a": [{"b": "y"}]}, {"a": "not a list"},
]  # fmt: skip


def _registry(directory: Path, backend: str) -> SchemaRegistry:
    return SchemaRegistry.load(directory, backend=backend)  # type: ignore[arg-type]  # literal from a loop


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> tuple[SchemaRegistry, SchemaRegistry]:
    directory = tmp_path_factory.mktemp("schemas")
    for name, body in SCHEMAS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$id": f"https://mockknock.dev/schemas/{name}.schema.json", **body}
        (directory / f"{name}.schema.json").write_text(json.dumps(schema))
    return _registry(directory, "compiled"), _registry(directory, "jsonschema")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_keyword_agrees_with_the_full_path(
    registries: tuple[SchemaRegistry, SchemaRegistry], name: str
) -> None:
    """For each schema, every value gets the verdict jsonschema (as the registry configures it) gives."""
    compiled, full = registries
    verdicts = set()
    for value in VALUES:
        expected = full.is_valid(name, value)
        assert compiled.is_valid(name, value) is expected, (name, value)
        assert (full.issues(name, value) == []) is expected, (name, value)
        verdicts.add(expected)
    if name != "annotations":
        assert verdicts == {True, False}, f"{name}: the values never exercise both verdicts"


@pytest.mark.parametrize(
    ("name", "value", "valid"),
    [
        ("integer", True, False),  # a boolean is never a number
        ("integer", 1.0, True),  # 1.0 is an integer in JSON Schema
        ("number", Decimal("2"), True),
        ("array", ("a",), True),  # a tuple serialises as an array
        ("pattern_end", "123\n", False),  # ECMA "$": no trailing newline
        ("const_one", True, False),
        ("const_one", 1.0, True),
        ("enum_mixed", 0, False),  # False is not 0
        ("enum_mixed", [1], True),
        ("enum_mixed", {"k": True}, False),
        ("one_of", 3, False),  # both branches
        ("one_of", 1, True),
        ("false_property", {"gone": None}, False),
        ("false_property", {}, True),
    ],
)
def test_json_semantics(registries: tuple[SchemaRegistry, SchemaRegistry], name: str, value: Any, valid: bool) -> None:
    """The awkward corners of JSON Schema's data model, pinned."""
    compiled, _ = registries
    assert compiled.is_valid(name, value) is valid


def test_bundled_schemas_all_compile() -> None:
    """Every bundled schema compiles: none silently falls back to the slow path."""
    registry = SchemaRegistry.load()
    patterns: dict[str, re.Pattern[str]] = {}
    for name in registry.names():
        compile_predicate(registry.inlined(name), patterns, re.compile)


@pytest.mark.parametrize(
    "schema",
    [{"type": "string", "uniqueItems": True}, {"type": "date"}, {"type": []}, {"enum": "a"}, {"minimum": "1"}, 5],
)
def test_unsupported_schemas_are_refused(schema: Any) -> None:
    """Whatever the compiler does not understand, it refuses rather than guess."""
    with pytest.raises(UnsupportedSchema):
        compile_predicate({"properties": {"x": schema}}, {}, re.compile)


def test_forcing_the_compiler_on_an_unsupported_schema_fails(tmp_path: Path) -> None:
    """backend='compiled' raises where 'auto' would quietly use jsonschema."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": "https://mockknock.dev/schemas/odd.schema.json", "type": "date"}
    (tmp_path / "odd.schema.json").write_text(json.dumps(schema))
    with pytest.raises(SchemaViolation):
        SchemaRegistry.load(tmp_path)  # the loader's metaschema check refuses it first
    registry = SchemaRegistry.load(tmp_path, check=False, backend="compiled")
    with pytest.raises(UnsupportedSchema):
        registry.is_valid("odd", "x")


def test_values_cover_every_type() -> None:
    """The value list mixes every JSON type, so no schema is tested against one kind of value only."""
    kinds = {type(v).__name__ for v in VALUES}
    assert {"NoneType", "bool", "int", "float", "Decimal", "str", "list", "tuple", "dict"} <= kinds
    assert len(list(itertools.combinations(VALUES, 2))) > 1000
