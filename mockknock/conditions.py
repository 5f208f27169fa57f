"""Conditions on a trigger's context, for branch steps and scenario rules.

A context is a mapping such as ``{"data": {...}, "recipient": {...}, "actor": {...}, "tenant": {...},
"workflow": "key", "channel": {...}}``; a variable is a dotted path into it (``data.priority``,
``recipient.email``). Operators use Knock's names (``equal_to``, ``contains``, ...), so conditions read from a
Knock CLI ``workflow.json`` mean what they mean in Knock.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MISSING = object()


class Operator(enum.StrEnum):
    EQUAL_TO = "equal_to"
    NOT_EQUAL_TO = "not_equal_to"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    GREATER_THAN_OR_EQUAL_TO = "greater_than_or_equal_to"
    LESS_THAN_OR_EQUAL_TO = "less_than_or_equal_to"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    EMPTY = "empty"
    NOT_EMPTY = "not_empty"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    IN = "in"
    NOT_IN = "not_in"


# Operators that take no argument.
UNARY = frozenset({Operator.EMPTY, Operator.NOT_EMPTY, Operator.EXISTS, Operator.NOT_EXISTS})


def lookup(context: Mapping[str, Any], variable: str) -> Any:
    value: Any = context
    for part in variable.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _compare(left: Any, right: Any, op: Operator) -> bool:
    try:
        if op is Operator.GREATER_THAN:
            return bool(left > right)
        if op is Operator.LESS_THAN:
            return bool(left < right)
        if op is Operator.GREATER_THAN_OR_EQUAL_TO:
            return bool(left >= right)
        return bool(left <= right)
    except TypeError:
        return False


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item.lower() in container.lower()
    if isinstance(container, list | tuple | set | dict):
        return item in container
    return False


@dataclass(frozen=True)
class Condition:
    variable: str
    operator: Operator
    argument: Any = None

    def holds(self, context: Mapping[str, Any]) -> bool:
        value = lookup(context, self.variable)
        op = self.operator
        if op is Operator.EXISTS:
            return value is not MISSING and value is not None
        if op is Operator.NOT_EXISTS:
            return value is MISSING or value is None
        if op is Operator.EMPTY:
            return value is MISSING or value in (None, "", [], {})
        if op is Operator.NOT_EMPTY:
            return value is not MISSING and value not in (None, "", [], {})
        if value is MISSING:
            return op in (Operator.NOT_EQUAL_TO, Operator.NOT_CONTAINS, Operator.NOT_IN)
        if op is Operator.EQUAL_TO:
            return bool(value == self.argument)
        if op is Operator.NOT_EQUAL_TO:
            return bool(value != self.argument)
        if op is Operator.CONTAINS:
            return _contains(value, self.argument)
        if op is Operator.NOT_CONTAINS:
            return not _contains(value, self.argument)
        if op is Operator.IN:
            return isinstance(self.argument, list) and value in self.argument
        if op is Operator.NOT_IN:
            return isinstance(self.argument, list) and value not in self.argument
        return _compare(value, self.argument, op)

    def __str__(self) -> str:
        return f"{self.variable} {self.operator.value}" + ("" if self.operator in UNARY else f" {self.argument!r}")


@dataclass(frozen=True)
class Conditions:
    """``all`` of them must hold, or ``any`` of them; no conditions always holds."""

    items: tuple[Condition, ...] = ()
    mode: str = "all"

    def holds(self, context: Mapping[str, Any]) -> bool:
        if not self.items:
            return True
        results = (c.holds(context) for c in self.items)
        return all(results) if self.mode == "all" else any(results)


class ConditionError(ValueError):
    pass


def parse_compact(raw: Any) -> Conditions:
    """The scenario form: ``{"data.priority": "high", "recipient.email": {"contains": "bounce"}}``.

    A bare value means equal_to; a mapping names one operator and its argument; ``{exists: true}`` and
    ``{empty: true}`` take a boolean. Several keys must all hold; ``{any: [{...}, {...}]}`` needs one.
    """
    if not isinstance(raw, Mapping) or not raw:
        raise ConditionError("expected a mapping such as {data.priority: high} or {recipient.email: {contains: x}}")
    if set(raw) == {"any"}:
        branches = raw["any"]
        if not isinstance(branches, list) or not branches:
            raise ConditionError("'any' takes a non-empty list of conditions")
        return Conditions(tuple(c for b in branches for c in parse_compact(b).items), "any")
    items = []
    for variable, spec in raw.items():
        if not isinstance(variable, str) or not variable:
            raise ConditionError(
                f"a condition's variable must be a dotted path such as data.priority, got {variable!r}"
            )
        items.append(_parse_one(variable, spec))
    return Conditions(tuple(items), "all")


def _parse_one(variable: str, spec: Any) -> Condition:
    if not isinstance(spec, Mapping):
        return Condition(variable, Operator.EQUAL_TO, spec)
    if len(spec) != 1:
        raise ConditionError(f"{variable}: give exactly one operator, got {', '.join(map(str, spec)) or 'none'}")
    ((raw_name, argument),) = spec.items()
    aliases = {"equals": "equal_to", "not_equals": "not_equal_to", "gt": "greater_than", "lt": "less_than",
               "gte": "greater_than_or_equal_to", "lte": "less_than_or_equal_to"}
    name = aliases.get(str(raw_name), str(raw_name))
    try:
        operator = Operator(name)
    except ValueError:
        known = ", ".join([o.value for o in Operator] + list(aliases))
        raise ConditionError(f"{variable}: unknown operator {name!r}; known: {known}") from None
    if operator in (Operator.EXISTS, Operator.EMPTY) and argument is False:
        operator = Operator.NOT_EXISTS if operator is Operator.EXISTS else Operator.NOT_EMPTY
    if operator in (Operator.IN, Operator.NOT_IN) and not isinstance(argument, list):
        raise ConditionError(f"{variable}: {operator.value} takes a list, got {argument!r}")
    return Condition(variable, operator, None if operator in UNARY else argument)


def parse_knock(raw: Any) -> Conditions:
    """Knock's own form (workflow.json, MOAS): ``{"all": [{"variable", "operator", "argument"}]}`` or ``any``."""
    if raw is None:
        return Conditions()
    if not isinstance(raw, Mapping) or not (set(raw) & {"all", "any"}):
        raise ConditionError('expected {"all": [...]} or {"any": [...]} of {variable, operator, argument}')
    mode = "all" if "all" in raw else "any"
    items = []
    for entry in raw[mode] or []:
        if not isinstance(entry, Mapping) or "variable" not in entry or "operator" not in entry:
            raise ConditionError(f"each condition needs variable and operator, got {entry!r}")
        try:
            operator = Operator(entry["operator"])
        except ValueError:
            raise ConditionError(f"operator {entry['operator']!r} is not one mockknock evaluates") from None
        items.append(Condition(str(entry["variable"]), operator, entry.get("argument")))
    return Conditions(tuple(items), mode)
