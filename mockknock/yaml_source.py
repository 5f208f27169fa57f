"""YAML to plain Python values, remembering where each value came from (line and column).

Uses PyYAML's safe composer (no arbitrary tags) so errors can point at ``file:line:col`` and a YAML
path such as ``workflows.new-comment.steps[1].channel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """A parsed document plus the 1-based line and column of every node, by path."""

    file: str
    data: Any
    marks: dict[PathKey, tuple[int, int]]

    def where(self, path: PathKey) -> str:
        # Fall back to the nearest ancestor that has a mark (a missing key has none of its own).
        probe = path
        while probe not in self.marks and probe:
            probe = probe[:-1]
        line, col = self.marks.get(probe, (1, 1))
        return f"{self.file}:{line}:{col}"


def format_path(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class YamlSyntaxError(ValueError):
    pass


def load(text: str, file: str) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise YamlSyntaxError(f"{file}: lists or mappings are nested deeper than mockknock reads") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlSyntaxError(f"{where}: broken YAML: {problem}") from None
    marks: dict[PathKey, tuple[int, int]] = {}
    constructor = yaml.SafeLoader("")
    try:
        data = _build(node, (), marks, constructor) if node is not None else None
    except YamlSyntaxError as exc:
        raise YamlSyntaxError(f"{file}: {exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{file}: YAML mockknock cannot read: {exc}") from None
    except RecursionError:
        raise YamlSyntaxError(f"{file}: lists or mappings are nested deeper than mockknock reads") from None
    return Located(file, data, marks)


def load_file(path: Path) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlSyntaxError(f"{path}: cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise YamlSyntaxError(f"{path}: the file is not UTF-8 text") from None
    return load(text, str(path))


# A file of a few hundred bytes can alias an anchor that aliases another, ten times a level, into billions
# of values ("billion laughs"); every value is counted as it is built, and a scenario never needs this many.
MAX_VALUES = 100_000


def _build(node: yaml.Node, path: PathKey, marks: dict[PathKey, tuple[int, int]], c: yaml.SafeLoader) -> Any:
    if len(marks) > MAX_VALUES:
        raise YamlSyntaxError(f"more than {MAX_VALUES:,} values once its anchors (&) and aliases (*) are "
                              "expanded; a scenario needs far fewer: repeat less through aliases")
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        c.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = c.construct_object(key_node, deep=True)
            key_text = key if isinstance(key, str) else str(key)
            marks[(*path, key_text)] = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
            if key_text in result:
                line = key_node.start_mark.line + 1
                raise YamlSyntaxError(
                    f"line {line}: the key {key_text!r} appears twice under {format_path(path)}"
                )
            result[key_text] = _build(value_node, (*path, key_text), marks, c)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), marks, c) for i, item in enumerate(node.value)]
    return c.construct_object(node, deep=True)
