"""Knock's published OpenAPI documents, read from the shared research folder (never copied into the repo).

The folder is ``$MOCKKNOCK_SHARED`` or, by default, ``shared/`` beside the repository checkout.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

_DOCUMENTS = {"api": "api.yml", "mapi": "mapi.yml"}


def shared_dir() -> Path:
    default = Path(__file__).resolve().parent.parent.parent / "shared"
    path = Path(os.environ.get("MOCKKNOCK_SHARED", default))
    if not (path / "knock-openapi").is_dir():
        pytest.fail(
            f"Knock's OpenAPI documents were not found: {path / 'knock-openapi'} does not exist. "
            "Set MOCKKNOCK_SHARED to the folder that holds knock-openapi/api.yml and mapi.yml.",
            pytrace=False,
        )
    return path


@cache
def openapi(name: str) -> dict[str, Any]:
    """The parsed OpenAPI document: ``api`` (Knock API) or ``mapi`` (Management API)."""
    filename = _DOCUMENTS.get(name.removesuffix(".yml"))
    if filename is None:
        raise ValueError(f"unknown OpenAPI document {name!r}; known: {', '.join(_DOCUMENTS)}")
    with (shared_dir() / "knock-openapi" / filename).open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.safe_load(handle)
    return document


def component(document: str, schema: str) -> dict[str, Any]:
    """``components.schemas.<schema>`` of one document."""
    found: dict[str, Any] = openapi(document)["components"]["schemas"][schema]
    return found
