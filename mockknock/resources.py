"""Where the data that ships with mockknock lives: the JSON Schemas and the bundled scenarios.

A wheel carries them inside the package (``mockknock/_data``); a source checkout or an editable
install finds them at the top of the repository. This module is the only place that knows both.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"mockknock's {name}/ directory is missing: looked in {_PACKAGE_DIR / '_data' / name} "
        f"and {_PACKAGE_DIR.parent / name}. Reinstall mockknock (pip install mockknock) to restore it."
    )


def schemas_dir() -> Path:
    return _data_dir("schemas")


def scenarios_dir() -> Path:
    return _data_dir("scenarios")


def bundled_scenario(name: str) -> Path:
    """A bundled scenario by file name, with or without ``.yaml``."""
    directory = scenarios_dir()
    path = directory / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise FileNotFoundError(f"no bundled scenario named {name!r}; bundled: {available}")
    return path
