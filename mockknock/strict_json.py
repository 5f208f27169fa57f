"""JSON text from API callers, read as JSON defines it, with a reason for every refusal.

Python's ``json.loads`` accepts ``NaN``, ``Infinity`` and ``-Infinity``, which JSON does not have (Knock's
API refuses them, and echoing them back in a message or a webhook would hand receivers invalid JSON). It
also raises RecursionError, not a decode error, on arrays or objects nested about a thousand deep.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn


class NotJson(ValueError):
    """Why the text is not JSON mockknock takes, phrased to follow "is not valid JSON: "."""


def loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise NotJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise NotJson("arrays or objects are nested deeper than mockknock reads (about 1,000 levels)") from None


def _refuse_constant(name: str) -> NoReturn:
    raise NotJson(f"{name} is not a JSON value (JSON numbers are finite)")


def kind(value: object) -> str:
    """A parsed value as JSON names its kind, for "got ..." in an error."""
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")

