"""The JSON Schema registry: the only module that reads ``schemas/``.

Two ways to check an instance, which must always agree:

* ``issues()`` is the full path: ``jsonschema`` over the schemas as written, with readable, located
  messages. It runs only when something is already known to be wrong, or in tests.
* ``is_valid()`` is the fast path, run on every API request and every emitted webhook. Each schema has
  its ``$ref``s inlined into one document, which ``schema_compiler`` turns into specialised Python
  (about 80x faster than jsonschema for a trigger body and 45x for a webhook body, 10x and 1.7x faster
  than fastjsonschema: ``bench/validation.py``). The backends ``fastjsonschema`` (when installed) and
  ``jsonschema`` (the inlined document) can be forced; the tests hold all of them to the same verdicts.

Both paths share one set of semantics, chosen where ``jsonschema`` and ``fastjsonschema`` differ by
default: ``format`` is an annotation only (2020-12's default; the ``pattern``s carry the shape), ``$``
in a ``pattern`` matches only at the very end of the string (ECMA-262, as JSON Schema specifies; Python's
``re`` would also accept a trailing newline), a tuple counts as an array and a ``Decimal`` as a number
(what ``json.dumps`` and ``fastjsonschema`` do). The schemas are restricted to keywords that mean the
same in draft-07 and 2020-12, because ``fastjsonschema`` compiles them as draft-07.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

# jsonschema and referencing are imported where used, not here: together they are about a fifth of
# `mockknock serve`'s start-up, and the compiled fast path needs neither until a schema is first inlined
# (referencing) or a body fails (jsonschema, for the located messages).
if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

from mockknock.errors import SchemaViolation
from mockknock.resources import schemas_dir
from mockknock.schema_compiler import UnsupportedSchema, compile_predicate

__all__ = ["Backend", "SchemaIssue", "SchemaRegistry"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "https://mockknock.dev/schemas/"
SUFFIX = ".schema.json"
_DRAFT07 = "http://json-schema.org/draft-07/schema#"

# Keywords whose meaning is identical in draft-07 and 2020-12. Anything else would make the compiled
# draft-07 fast path and the 2020-12 full path disagree, so the loader refuses it.
ALLOWED_KEYWORDS = frozenset(
    {
        "$schema", "$id", "$ref", "$defs", "$comment", "title", "description",
        "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "anyOf", "oneOf", "allOf", "not", "format", "pattern", "minLength", "maxLength",
        "minItems", "maxItems", "minimum", "maximum",
    }
)  # fmt: skip
_SUBSCHEMA_MAPS = frozenset({"properties", "$defs"})
_SUBSCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf"})
_SUBSCHEMA_SINGLE = frozenset({"items", "not", "additionalProperties"})
# Keys that carry no validation; dropped from the compiled copy so they cannot reach fastjsonschema.
_ANNOTATIONS = frozenset({"$comment", "title", "description", "$schema", "$id", "$defs"})

# Object keys shown bare in dotted field names; anything else is shown quoted: a["a/b"].
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
# fastjsonschema rewrites every unescaped "$" the same way; mirroring it keeps the two paths equal.
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")

Backend = Literal["auto", "compiled", "fastjsonschema", "jsonschema"]


class _Validator(Protocol):
    def iter_errors(self, instance: object) -> Iterator[ValidationError]: ...

    def is_valid(self, instance: object) -> bool: ...


_ValidatorClass = Callable[..., _Validator]


@dataclass(frozen=True)
class SchemaIssue:
    """One reason an instance fails a schema, located both as a JSON pointer and as a dotted field."""

    pointer: str
    field: str
    message: str
    keyword: str

    def __str__(self) -> str:
        return f"{self.field or '(root)'}: {self.message}"


def _ecma_pattern(pattern: str) -> str:
    return _UNESCAPED_DOLLAR.sub(r"\\Z", pattern)


def _compile_ecma(pattern: str) -> re.Pattern[str]:
    return re.compile(_ecma_pattern(pattern))


def _is_array(_checker: object, instance: object) -> bool:
    return isinstance(instance, list | tuple)


def _is_number(_checker: object, instance: object) -> bool:
    return isinstance(instance, int | float | Decimal) and not isinstance(instance, bool)


def _shared_semantics(patterns: Mapping[str, re.Pattern[str]]) -> _ValidatorClass:
    """Draft 2020-12 with the few choices that make it behave exactly like the compiled path."""

    from jsonschema import Draft202012Validator  # noqa: PLC0415 - deferred: see the imports above
    from jsonschema.exceptions import ValidationError  # noqa: PLC0415 - deferred: see the imports above
    from jsonschema.validators import extend  # noqa: PLC0415 - deferred: see the imports above

    def pattern(
        validator: _Validator, patrn: str, instance: object, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        if not isinstance(instance, str):
            return
        compiled = patterns.get(patrn) or re.compile(_ecma_pattern(patrn))
        if not compiled.search(instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def required(
        validator: _Validator, names: Sequence[str], instance: object, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        # Located at the missing member, not at its parent: a 422's "field" should name what to add.
        if isinstance(instance, dict):
            for name in names:
                if name not in instance:
                    yield ValidationError(f"{name!r} is a required property", path=[name])

    checker = Draft202012Validator.TYPE_CHECKER.redefine_many({"array": _is_array, "number": _is_number})
    cls: _ValidatorClass = extend(  # type: ignore[no-untyped-call]  # jsonschema's extend() is unannotated
        Draft202012Validator, validators={"pattern": pattern, "required": required}, type_checker=checker
    )
    return cls


class SchemaRegistry:
    """Every bundled schema by relative name (``events/message.sent``, ``objects/message``, ...)."""

    def __init__(self, schemas: Mapping[str, dict[str, Any]], backend: Backend = "auto") -> None:
        self._schemas = MappingProxyType(dict(schemas))
        self._patterns = MappingProxyType(
            {p: re.compile(_ecma_pattern(p)) for s in schemas.values() for p in _patterns_in(s)}
        )
        self._refs: Registry[Any] | None = None
        self._validators: _ValidatorClass | None = None
        self._backend: Backend = backend
        # Caches filled on first use, so that starting the server does not compile 38 schemas.
        self._full: dict[str, _Validator] = {}
        self._fast: dict[str, Callable[[object], bool]] = {}
        self._inlined: dict[str, dict[str, Any]] = {}

    @property
    def _registry(self) -> Registry[Any]:
        if self._refs is None:
            from referencing import Registry  # noqa: PLC0415 - deferred: see the imports above
            from referencing.jsonschema import DRAFT202012  # noqa: PLC0415 - deferred: see the imports above

            # Resources go in without "$schema": jsonschema picks the validator class of a $ref target from
            # its "$schema", which would swap the shared-semantics class below for the stock one.
            self._refs = Registry().with_resources(
                (schema["$id"], DRAFT202012.create_resource(_without_dialect(schema)))
                for schema in self._schemas.values()
            )
        return self._refs

    @property
    def _validator_class(self) -> _ValidatorClass:
        if self._validators is None:
            self._validators = _shared_semantics(self._patterns)
        return self._validators

    @classmethod
    def load(
        cls, directory: Path | None = None, *, backend: Backend = "auto", check: bool = True
    ) -> SchemaRegistry:
        """Read and check every ``*.schema.json`` under ``directory`` (default: the bundled schemas).

        ``backend`` forces the fast path's engine; ``auto`` compiles each schema, and uses jsonschema for
        one the compiler refuses (none of the bundled ones: a test says so).
        ``check=False`` skips checking each file against the 2020-12 metaschema and resolving every $ref
        up front (about 130 ms): the server does, for the bundled files the test suite has already checked.
        """
        root = directory if directory is not None else schemas_dir()
        schemas: dict[str, dict[str, Any]] = {}
        for path in sorted(root.rglob(f"*{SUFFIX}")):
            relative = path.relative_to(root).as_posix()
            schemas[relative.removesuffix(SUFFIX)] = _read_schema(path, relative, check)
        if not schemas:
            raise SchemaViolation(f"no *{SUFFIX} files under {root}")
        registry = cls(schemas, backend)
        if check:
            # Resolving every $ref now reports a broken reference at load, naming its file.
            for name in schemas:
                registry._inlined_schema(name)
        return registry

    def names(self) -> list[str]:
        return sorted(self._schemas)

    def schema(self, name: str) -> dict[str, Any]:
        """A copy of the schema as written, so callers cannot change what the validators use."""
        return copy.deepcopy(self._get(name))

    def inlined(self, name: str) -> dict[str, Any]:
        """The schema with every ``$ref`` replaced by its target: one self-contained draft-07 document."""
        self._get(name)
        return copy.deepcopy(self._inlined_schema(name))

    def _inlined_schema(self, name: str) -> dict[str, Any]:
        # Built on first use, like the validators: start-up need not inline 39 schemas.
        found = self._inlined.get(name)
        if found is None:
            found = self._inlined[name] = self._inline_schema(name)
        return found

    @property
    def fast_backend(self) -> str:
        """Which engine ``is_valid`` uses: ``compiled`` (the default; a schema the compiler refuses is checked
        by jsonschema), ``fastjsonschema`` or ``jsonschema``."""
        return "compiled" if self._backend == "auto" else self._backend

    def issues(self, name: str, instance: object) -> list[SchemaIssue]:
        """Every problem with ``instance``, sorted by location (array indexes numerically), then keyword."""
        validator = self._full_validator(name)
        found: dict[tuple[str, str], SchemaIssue] = {}
        for error in validator.iter_errors(instance):
            for issue in _explain(error):
                found.setdefault((issue.pointer, issue.message), issue)
        return sorted(found.values(), key=_issue_order)

    def is_valid(self, name: str, instance: object) -> bool:
        """The fast path. ``instance`` must be JSON data: dict, list/tuple, str, int, float, bool, None."""
        check = self._fast.get(name)
        if check is None:
            check = self._fast[name] = self._compile(name)
        return check(instance)

    def validate(self, name: str, instance: object) -> None:
        if self.is_valid(name, instance):
            return
        found = self.issues(name, instance)
        if not found:
            # Only reachable if the two paths disagree, which the test suite forbids; say so loudly.
            raise SchemaViolation(f"{name}: the fast validator rejected the instance but found no reason")
        lines = "\n".join(f"  {issue.pointer or '/'}: {issue.message}" for issue in found)
        raise SchemaViolation(f"{name}: {len(found)} problem(s):\n{lines}")

    def validate_event(self, body: Mapping[str, object]) -> None:
        event_type = body.get("type")
        name = f"events/{event_type}"
        if not isinstance(event_type, str) or name not in self._schemas:
            known = ", ".join(n.removeprefix("events/") for n in self.names() if n.startswith("events/"))
            raise SchemaViolation(f"unknown webhook event type {event_type!r}; known types: {known}")
        self.validate(name, body)

    def _get(self, name: str) -> dict[str, Any]:
        try:
            return self._schemas[name]
        except KeyError:
            raise KeyError(f"no schema named {name!r}; known: {', '.join(self.names())}") from None

    def _full_validator(self, name: str) -> _Validator:
        validator = self._full.get(name)
        if validator is None:
            schema = _without_dialect(self._get(name))
            validator = self._full[name] = self._validator_class(schema, registry=self._registry)
        return validator

    def _compile(self, name: str) -> Callable[[object], bool]:
        inlined = self.inlined(name)
        if self._backend in ("auto", "compiled"):
            try:
                return compile_predicate(inlined, self._patterns, _compile_ecma)
            except UnsupportedSchema:
                if self._backend == "compiled":
                    raise
                return self._validator_class(_without_dialect(inlined)).is_valid
        if self._backend == "jsonschema":
            return self._validator_class(_without_dialect(inlined)).is_valid
        fastjsonschema = _fastjsonschema()
        if fastjsonschema is None:
            raise SchemaViolation("backend 'fastjsonschema' was asked for but it is not installed")
        # Only the verdict is needed (issues() explains failures); detailed exceptions would build a
        # message for every rejected anyOf branch, which doubles the cost of a trigger body.
        compiled = fastjsonschema.compile(
            _const_as_enum(inlined), use_default=False, use_formats=False, detailed_exceptions=False
        )
        invalid: type[Exception] = fastjsonschema.JsonSchemaValueException

        def check(instance: object) -> bool:
            try:
                compiled(instance)
            except invalid:
                return False
            return True

        return check

    def _inline_schema(self, name: str) -> dict[str, Any]:
        from referencing.exceptions import Unresolvable  # noqa: PLC0415 - deferred: see the imports above

        schema = self._schemas[name]
        try:
            inlined = _inline(schema, self._registry.resolver(schema["$id"]), (id(schema),))
        except (Unresolvable, RecursionError) as exc:
            raise SchemaViolation(f"{name}{SUFFIX}: cannot resolve $ref: {exc}") from exc
        if not isinstance(inlined, dict):
            raise SchemaViolation(f"{name}{SUFFIX}: the schema must be an object")
        return {"$schema": _DRAFT07, **inlined}


def _check_metaschema(schema: dict[str, Any], relative: str) -> None:
    from jsonschema import Draft202012Validator  # noqa: PLC0415 - deferred: see the imports above
    from jsonschema.exceptions import SchemaError  # noqa: PLC0415 - deferred: see the imports above

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/" + "/".join(str(p) for p in exc.absolute_path)
        raise SchemaViolation(f"{relative}: not a valid 2020-12 schema at {where}: {exc.message}") from exc


def _without_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key != "$schema"}


def _read_schema(path: Path, relative: str, check: bool = True) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaViolation(f"{relative}: not readable JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise SchemaViolation(f"{relative}: a schema file must hold a JSON object")
    if schema.get("$schema") != SCHEMA_DIALECT:
        got = schema.get("$schema")
        raise SchemaViolation(f"{relative}: $schema must be {SCHEMA_DIALECT!r}, got {got!r}")
    if schema.get("$id") != ID_PREFIX + relative:
        raise SchemaViolation(f"{relative}: $id must be {ID_PREFIX + relative!r}, got {schema.get('$id')!r}")
    if check:
        _check_metaschema(schema, relative)
    for pointer, keyword in _keywords(schema, ""):
        if keyword in ("$id", "$schema") and pointer:
            # A nested $id would move the base URI that relative $refs below it resolve against.
            raise SchemaViolation(f"{relative}: {keyword} is allowed only at the top, found at {pointer}")
        if keyword not in ALLOWED_KEYWORDS:
            raise SchemaViolation(
                f"{relative}: keyword {keyword!r} at {pointer or '/'} is not allowed; use only keywords that "
                f"mean the same in draft-07 and 2020-12: {', '.join(sorted(ALLOWED_KEYWORDS))}"
            )
    for pointer, value in _subschemas(schema, ""):
        pattern = value.get("pattern")
        # fastjsonschema turns every unescaped "$" into an end anchor, even inside [...].
        if isinstance(pattern, str) and "$" in pattern[:-1]:
            raise SchemaViolation(f"{relative}: pattern at {pointer or '/'} may use '$' only at its end")
    return schema


def _subschemas(schema: object, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key, value in schema.items():
        here = f"{pointer}/{_escape(key)}"
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield from _subschemas(sub, f"{here}/{_escape(name)}")
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            for index, sub in enumerate(value):
                yield from _subschemas(sub, f"{here}/{index}")
        elif key in _SUBSCHEMA_SINGLE:
            yield from _subschemas(value, here)


def _keywords(schema: dict[str, Any], pointer: str) -> Iterator[tuple[str, str]]:
    for where, sub in _subschemas(schema, pointer):
        for keyword in sub:
            yield where, keyword


def _patterns_in(schema: dict[str, Any]) -> Iterator[str]:
    for _, sub in _subschemas(schema, ""):
        if isinstance(sub.get("pattern"), str):
            yield sub["pattern"]


def _inline(node: object, resolver: Any, seen: tuple[int, ...]) -> object:
    """Copy ``node`` with each ``$ref`` replaced by its (recursively inlined) target."""
    if isinstance(node, list):
        return [_inline(item, resolver, seen) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or key == "$ref":
            continue
        if key in _SUBSCHEMA_MAPS:
            out[key] = {name: _inline(sub, resolver, seen) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS or key in _SUBSCHEMA_SINGLE:
            out[key] = _inline(value, resolver, seen)
        else:
            out[key] = copy.deepcopy(value)
    ref = node.get("$ref")
    if ref is None:
        return out
    resolved = resolver.lookup(ref)
    # Schemas stay loaded, so the identity of a target subschema names it for cycle detection.
    if id(resolved.contents) in seen:
        raise RecursionError(f"recursive $ref {ref!r} cannot be inlined")
    target = _inline(resolved.contents, resolved.resolver, (*seen, id(resolved.contents)))
    # In draft-07 keywords beside $ref are ignored; wrapping keeps their 2020-12 meaning.
    return {"allOf": [target, out]} if out else target


def _const_as_enum(node: object) -> object:
    """Rewrite ``const: x`` as ``enum: [x]``, which means the same.

    fastjsonschema 2.22.3 cannot compile ``const`` with ``detailed_exceptions=False`` (its message
    template names a field that is then missing: KeyError 'definition_rule').
    """
    if isinstance(node, list):
        return [_const_as_enum(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _const_as_enum(value) for key, value in node.items() if key != "const"}
    if "const" in node:
        out["enum"] = [node["const"]]
    return out


def _fastjsonschema() -> Any:
    """The fastjsonschema module, or None: it is an optional speed-up, never a requirement."""
    try:
        return importlib.import_module("fastjsonschema")
    except ImportError:
        return None


def _explain(error: ValidationError) -> list[SchemaIssue]:
    """Turn one jsonschema error into issues, following anyOf/oneOf into the branch that was meant."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[int, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        if all(_wrong_type(errors) for errors in branches.values()):
            expected: list[str] = []
            for errors in branches.values():
                for sub in errors:
                    if sub.validator == "type" and not sub.relative_path:
                        for t in _as_list(sub.validator_value):
                            if t not in expected:
                                expected.append(t)
            return [_issue(error, f"{_short(error.instance)} is not of type {_or(expected)}", "type")]
        _, chosen = min(branches.items(), key=lambda item: _branch_rank(item[0], item[1]))
        return [issue for sub in chosen for issue in _explain(sub)]
    return [_issue(error, _message(error), str(error.validator))]


def _wrong_type(errors: Sequence[ValidationError]) -> bool:
    return any(e.validator == "type" and not e.relative_path for e in errors)


def _branch_rank(index: int, errors: Sequence[ValidationError]) -> tuple[bool, bool, int, int]:
    # A branch whose type the instance does not even have is the least likely intent; one rejected
    # by a root-level "not" was excluded on purpose (e.g. an inline user that carries "collection").
    excluded = any(e.validator == "not" and not e.relative_path for e in errors)
    return (_wrong_type(errors), excluded, len(errors), index)


def _message(error: ValidationError) -> str:
    keyword = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if keyword == "type":
        return f"{_short(instance)} is not of type {_or(_as_list(value))}"
    if keyword == "const":
        return f"expected {value!r}, got {_short(instance)}"
    if keyword == "enum":
        return f"{_short(instance)} is not one of {', '.join(repr(v) for v in value)}"
    if keyword == "pattern":
        return f"{_short(instance)} does not match {value!r}"
    if keyword in ("minItems", "maxItems", "minLength", "maxLength"):
        unit = "items" if keyword.endswith("Items") else "characters"
        bound = "at least" if keyword.startswith("min") else "at most"
        return f"expected {bound} {value} {unit}, got {len(instance)}"
    if keyword == "minimum":
        return f"{_short(instance)} is less than the minimum of {value}"
    if keyword == "maximum":
        return f"{_short(instance)} is greater than the maximum of {value}"
    if keyword == "not" and value == {}:
        key = error.relative_path[-1] if error.relative_path else None
        return f"{key!r} is not allowed here" if key is not None else "no value is allowed here"
    if keyword == "not" and isinstance(value, dict) and list(value) == ["required"]:
        return f"must not have {_or(value['required'])} here"
    if keyword in ("anyOf", "oneOf"):
        if keyword == "oneOf" and not error.context:
            return f"{_short(instance)} matches more than one of the allowed shapes"
        return f"{_short(instance)} matches none of the allowed shapes"
    return str(error.message)


def _issue(error: ValidationError, message: str, keyword: str) -> SchemaIssue:
    path = list(error.absolute_path)
    return SchemaIssue(_pointer(path), _field(path), message, keyword)


def _pointer(path: Iterable[object]) -> str:
    return "".join(f"/{_escape(str(part))}" for part in path)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _field(path: Iterable[object]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _issue_order(issue: SchemaIssue) -> tuple[tuple[tuple[int, int, str], ...], str, str]:
    parts = issue.pointer.split("/")[1:] if issue.pointer else []
    key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)
    return key, issue.keyword, issue.message


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _or(items: Sequence[object]) -> str:
    quoted = [repr(i) for i in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _short(value: object) -> str:
    # Instances can be megabytes (trigger data); messages show only their start.
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = 40
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = 3
    shortener.maxlevel = 2
    text = shortener.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
