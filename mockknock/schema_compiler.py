"""Compiles one inlined JSON Schema into a Python predicate: the fast path of ``SchemaRegistry.is_valid``.

Every emitted webhook and every API request body is checked, so this check sits on the hottest path
mockknock has. A general-purpose validator pays for generality on each call: fastjsonschema's generated
code copies each object's keys into a set and removes them one by one, and tests an enum value by a
chain of comparisons; jsonschema walks the schema as data. Here each subschema becomes straight-line
Python specialised to it: required and allowed keys are frozenset comparisons on ``dict.keys()``, enums
of strings are set lookups, a keyword guarded by a type the schema already asserts loses its guard, and
leaf schemas are inlined as expressions into their parent object's function.

Only the keywords ``schemas.ALLOWED_KEYWORDS`` admits are compiled; anything else raises
``UnsupportedSchema`` and the registry uses jsonschema for that schema instead. The semantics are those
of the registry's full path (see ``schemas``): draft 2020-12 with ``format`` as an annotation, ``$`` in
a pattern matching only at the very end, tuples as arrays, ``Decimal`` as a number, booleans never
numbers, and ``1.0`` an integer. The test suite holds the two paths to the same verdict on a corpus and
on thousands of seeded mutations of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

__all__ = ["UnsupportedSchema", "compile_predicate"]

Predicate = Callable[[object], bool]

# Keywords that carry no assertion in the semantics the registry uses.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "format", "$defs"})
_COMPILED = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "anyOf", "oneOf", "allOf", "not", "pattern", "minLength", "maxLength",
        "minItems", "maxItems", "minimum", "maximum",
    }
)  # fmt: skip

# How each JSON type is recognised; the same choices as the registry's jsonschema type checker.
_TYPE_TESTS = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, (list, tuple))",
    "string": "isinstance({v}, str)",
    "null": "{v} is None",
    "boolean": "isinstance({v}, bool)",
    "number": "(isinstance({v}, (int, float, Decimal)) and not isinstance({v}, bool))",
    "integer": "((isinstance({v}, int) and not isinstance({v}, bool))"
               " or (isinstance({v}, float) and {v}.is_integer()))",
}
# The guard under which a keyword applies: e.g. "pattern" only constrains strings.
_APPLIES_TO = {
    "pattern": "string", "minLength": "string", "maxLength": "string",
    "minItems": "array", "maxItems": "array", "items": "array",
    "properties": "object", "required": "object", "additionalProperties": "object",
    "minimum": "number", "maximum": "number",
}  # fmt: skip
# A schema type that implies the guard type (an integer is a number).
_IMPLIES = {"integer": {"integer", "number"}}

_MISSING = object()
# Keywords compiled as statements of a function of their own rather than inline expressions.
_STRUCTURAL = frozenset({"properties", "required", "additionalProperties", "items", "anyOf", "oneOf", "allOf", "not"})


class UnsupportedSchema(ValueError):
    """The schema uses something this compiler does not handle; the caller validates another way."""


def _constant_verdict(schema: object) -> bool | None:
    """True for a schema that accepts everything, False for one that accepts nothing, None otherwise."""
    if schema is True or schema == {}:
        return True
    if schema is False:
        return False
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    return None


def _json_equal(a: object, b: object) -> bool:
    """JSON equality, as jsonschema's const and enum use it: true is not 1, and 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_json_equal(x, y) for x, y in zip(a, b, strict=True)))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_json_equal(a[k], b[k]) for k in a))
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return bool(a == b)
    return False


def _json_in(value: object, options: tuple[object, ...]) -> bool:
    return any(_json_equal(value, option) for option in options)


class _Compiler:
    def __init__(self, patterns: Mapping[str, re.Pattern[str]], compile_pattern: Callable[[str], re.Pattern[str]]):
        self._lines: list[str] = []
        self._names: dict[str, object] = {
            "Decimal": Decimal, "_MISSING": _MISSING, "_json_in": _json_in,
        }
        self._constants: dict[tuple[str, str], str] = {}
        self._patterns = patterns
        self._compile_pattern = compile_pattern
        self._bodies: dict[str, str] = {}

    def constant(self, kind: str, value: object, key: str) -> str:
        """A module-level name for ``value`` (a frozenset, a compiled pattern, ...), shared when equal."""
        found = self._constants.get((kind, key))
        if found is None:
            found = self._constants[(kind, key)] = f"_{kind}{len(self._constants)}"
            self._names[found] = value
        return found

    def predicate(self, schema: object) -> Predicate:
        entry = self.function(schema)
        source = "\n".join(self._lines)
        namespace = dict(self._names)
        # The source is generated above from the schema; no text of an instance ever reaches it.
        exec(compile(source, "<mockknock schema>", "exec"), namespace)
        compiled: Predicate = namespace[entry]  # type: ignore[assignment]  # exec() namespaces are untyped
        return compiled

    def function(self, schema: object) -> str:
        """Emit ``def _vN(v)`` for ``schema``, or reuse an identical one; return its name."""
        body = "\n".join(self.statements(schema, "v", "    "))
        name = self._bodies.get(body)
        if name is None:
            name = self._bodies[body] = f"_v{len(self._bodies)}"
            self._lines.append(f"def {name}(v):\n{body}\n    return True\n")
        return name

    def expression(self, schema: object, var: str) -> str:
        """A boolean expression over ``var``; objects and combinators become a call of their own function."""
        verdict = _constant_verdict(schema)
        if verdict is not None:
            return str(verdict)
        assert isinstance(schema, dict)
        if _STRUCTURAL & schema.keys():
            return f"{self.function(schema)}({var})"
        return " and ".join(self.checks(schema, var)) or "True"

    def statements(self, schema: object, var: str, indent: str) -> list[str]:
        verdict = _constant_verdict(schema)
        if verdict is not None:
            return [] if verdict else [f"{indent}return False"]
        assert isinstance(schema, dict)
        lines = [f"{indent}if not ({check}): return False" for check in self.checks(schema, var)]
        known = self.known_type(schema)
        objects = self.object_statements(schema, var, indent + ("" if known == "object" else "    "))
        if objects:
            lines += objects if known == "object" else [f"{indent}if isinstance({var}, dict):", *objects]
        if "items" in schema:
            item = self.expression(schema["items"], "e")
            if item != "True":
                inner = indent
                if known != "array":
                    lines.append(f"{indent}if isinstance({var}, (list, tuple)):")
                    inner += "    "
                lines += [f"{inner}for e in {var}:", f"{inner}    if not ({item}): return False"]
        for keyword, joiner in (("allOf", " and "), ("anyOf", " or ")):
            if keyword in schema:
                parts = [self.expression(sub, var) for sub in self.branches(schema, keyword)]
                lines.append(f"{indent}if not ({joiner.join(parts)}): return False")
        if "oneOf" in schema:
            parts = [self.expression(sub, var) for sub in self.branches(schema, "oneOf")]
            lines.append(f"{indent}if ({' + '.join(f'bool({p})' for p in parts)}) != 1: return False")
        if "not" in schema:
            lines.append(f"{indent}if {self.expression(schema['not'], var)}: return False")
        return lines

    def branches(self, schema: dict[str, Any], keyword: str) -> list[object]:
        subs = schema[keyword]
        if not isinstance(subs, list) or not subs:
            raise UnsupportedSchema(f"{keyword} must be a non-empty array of schemas")
        return subs

    def object_statements(self, schema: dict[str, Any], var: str, indent: str) -> list[str]:
        lines: list[str] = []
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise UnsupportedSchema("properties must be an object")
        required = schema.get("required", [])
        if required:
            names = frozenset(required)
            lines.append(f"{indent}if not ({var}.keys() >= {self.constant('req', names, repr(sorted(names)))}):"
                         " return False")
        extra = schema.get("additionalProperties", True)
        if extra is not True and extra != {}:
            allowed = frozenset(properties)
            allowed_name = self.constant("keys", allowed, repr(sorted(allowed)))
            if extra is False:
                lines.append(f"{indent}if not ({var}.keys() <= {allowed_name}): return False")
            else:
                check = self.expression(extra, f"{var}[k]")
                lines.append(f"{indent}if not all({check} for k in {var}.keys() - {allowed_name}): return False")
        for key, sub in properties.items():
            check = self.expression(sub, "p")
            if check == "True":
                continue
            if key in required:  # present: checked above
                lines.append(f"{indent}p = {var}[{key!r}]")
                lines.append(f"{indent}if not ({check}): return False")
            else:
                lines.append(f"{indent}p = {var}.get({key!r}, _MISSING)")
                lines.append(f"{indent}if p is not _MISSING and not ({check}): return False")
        return lines

    def known_type(self, schema: dict[str, Any]) -> str | None:
        kind = schema.get("type")
        if isinstance(kind, list) and len(kind) == 1:
            kind = kind[0]
        return kind if isinstance(kind, str) else None

    def checks(self, schema: dict[str, Any], var: str) -> list[str]:
        """The non-structural keywords of ``schema`` as expressions, the type test first."""
        for keyword in schema:
            if keyword not in _COMPILED and keyword not in _ANNOTATIONS:
                raise UnsupportedSchema(f"keyword {keyword!r} is not compiled")
        out: list[str] = []
        known = self.known_type(schema)
        if "type" in schema:
            kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not kinds:
                raise UnsupportedSchema("type must name at least one JSON type")
            try:
                tests = [_TYPE_TESTS[k].format(v=var) for k in kinds]
            except (KeyError, TypeError):
                raise UnsupportedSchema(f"type {schema['type']!r} is not a JSON type") from None
            out.append(tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")")
        if "const" in schema:
            out.append(self.membership(var, (schema["const"],), known))
        if "enum" in schema:
            if not isinstance(schema["enum"], list):
                raise UnsupportedSchema("enum must be an array")
            out.append(self.membership(var, tuple(schema["enum"]), known))
        for keyword, test in (
            ("pattern", "{p}.search({v}) is not None"),
            ("minLength", "len({v}) >= {n}"), ("maxLength", "len({v}) <= {n}"),
            ("minItems", "len({v}) >= {n}"), ("maxItems", "len({v}) <= {n}"),
            # Written as jsonschema does, so NaN (which json.loads accepts) gets its verdict.
            ("minimum", "not {v} < {n}"), ("maximum", "not {v} > {n}"),
        ):  # fmt: skip
            if keyword not in schema:
                continue
            limit = schema[keyword]
            if keyword == "pattern":
                if not isinstance(limit, str):
                    raise UnsupportedSchema("pattern must be a string")
                compiled = self._patterns.get(limit) or self._compile_pattern(limit)
                expression = test.format(p=self.constant("re", compiled, limit), v=var)
            else:
                if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                    raise UnsupportedSchema(f"{keyword} must be a number")
                # A named constant, not its repr: inf and nan (which json.loads accepts) have no literal.
                expression = test.format(v=var, n=self.constant("num", limit, f"{type(limit).__name__}:{limit!r}"))
            out.append(self.guarded(expression, _APPLIES_TO[keyword], known, var))
        return out

    def guarded(self, expression: str, applies_to: str, known: str | None, var: str) -> str:
        if known is not None and applies_to in _IMPLIES.get(known, {known}):
            return expression
        return f"(not {_TYPE_TESTS[applies_to].format(v=var)} or {expression})"

    def membership(self, var: str, options: tuple[object, ...], known: str | None) -> str:
        strings = [o for o in options if isinstance(o, str)]
        if len(strings) == len(options):
            guard = "" if known == "string" else f"isinstance({var}, str) and "
            if len(strings) == 1:
                return f"({guard}{var} == {strings[0]!r})"
            names = frozenset(strings)
            return f"({guard}{var} in {self.constant('enum', names, repr(sorted(names)))})"
        if options == (None,):
            return f"{var} is None"
        return f"_json_in({var}, {self.constant('opts', options, repr(options))})"


def compile_predicate(
    schema: Mapping[str, Any],
    patterns: Mapping[str, re.Pattern[str]],
    compile_pattern: Callable[[str], re.Pattern[str]],
) -> Predicate:
    """``schema`` must be self-contained (no ``$ref``). ``patterns`` maps each pattern as written to its
    compiled form (the registry's ECMA reading); ``compile_pattern`` compiles one it does not hold."""
    return _Compiler(patterns, compile_pattern).predicate(dict(schema))
