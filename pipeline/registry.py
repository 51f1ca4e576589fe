"""Authority files shared by all sources: persons and places (``sources/_registry``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import PipelineError
from .sources import read_toml

PERSON_KEYS = {"id", "name", "forms", "birth", "death", "description", "is_group", "wikidata",
               "viaf"}
PLACE_KEYS = {"id", "name", "country", "latitude", "longitude", "part_of", "geonames"}


def _load(path: Path, table: str, keys: set[str]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise PipelineError("authority file missing", file=str(path))
    entries = read_toml(path).get(table, [])
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        label = f"{table}[{i}]"
        if not entry.get("id") or not entry.get("name"):
            raise PipelineError("needs id and name", file=str(path), field=label)
        if set(entry) - keys:
            raise PipelineError(f"unknown keys {sorted(set(entry) - keys)}", file=str(path),
                                field=label)
        if entry["id"] in seen:
            raise PipelineError(f"id {entry['id']!r} defined twice", file=str(path), field=label)
        seen.add(entry["id"])
    return entries


def load_persons(sources_dir: Path) -> list[dict[str, Any]]:
    """Persons, as rows of the persons table."""
    rows = []
    for e in _load(sources_dir / "_registry" / "persons.toml", "person", PERSON_KEYS):
        rows.append({"person_id": e["id"], "name": e["name"], "forms": e.get("forms", []),
                     "birth": e.get("birth", ""), "death": e.get("death", ""),
                     "description": e.get("description", ""),
                     "is_group": e.get("is_group", False),
                     "wikidata": e.get("wikidata", ""), "viaf": e.get("viaf", "")})
    return rows


def load_places(sources_dir: Path) -> list[dict[str, Any]]:
    """Places, as rows of the places table."""
    rows = []
    for e in _load(sources_dir / "_registry" / "places.toml", "place", PLACE_KEYS):
        rows.append({"place_id": e["id"], "name": e["name"], "country": e.get("country", ""),
                     "latitude": e.get("latitude", ""), "longitude": e.get("longitude", ""),
                     "part_of": e.get("part_of", ""), "geonames": e.get("geonames", "")})
    return rows
