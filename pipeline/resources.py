"""The files the tool needs at run time (schemas), found inside the installed package.

``schema/`` of the repository is installed as the sub-package ``sergetrotsky.schema``
(see ``pyproject.toml``), so an editable checkout and a wheel find the same files
through :mod:`importlib.resources`; nothing is looked up beside the source tree.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any


def schema_file(*parts: str) -> Path:
    """The path of a file under ``schema/`` (e.g. ``schema_file("tei", "serge-trotsky.rng")``).

    The package is always installed as files on disk (never zipped), so the
    traversable is a real path that lxml can open.
    """
    return Path(str(files("sergetrotsky.schema").joinpath(*parts)))


def schema_bytes(*parts: str) -> bytes:
    """The bytes of a file under ``schema/``."""
    return files("sergetrotsky.schema").joinpath(*parts).read_bytes()


def table_schema(name: str) -> dict[str, Any]:
    """The Frictionless table schema ``schema/tables/<name>.json``."""
    return json.loads(schema_bytes("tables", f"{name}.json").decode("utf-8"))
