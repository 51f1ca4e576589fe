"""Authority files shared by all sources: persons and places (``sources/_registry``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BuildFailed, PipelineError
from .sources import read_checked, toml_line

# The keys of each entry are those of schema/sources/persons.json and places.json.


def _load(path: Path, table: str) -> list[dict[str, Any]]:
    """The entries of an authority file, checked against schema/sources/<table>s.json
    (types, required and unknown keys) and for ids defined twice."""
    if not path.is_file():
        raise PipelineError("authority file missing", file=str(path), code="E109")
    entries = read_checked(path, f"{table}s").get(table, [])
    text = path.read_text(encoding="utf-8")
    seen: set[str] = set()
    problems = []
    for i, entry in enumerate(entries):
        if entry["id"] in seen:
            problems.append(PipelineError(f"id {entry['id']!r} defined twice", file=str(path),
                                          line=toml_line(text, (table, i, "id")),
                                          field=f"{table}[{i}].id", code="E110"))
        seen.add(entry["id"])
    if problems:
        raise BuildFailed("metadata", problems)
    return entries


def load_persons(sources_dir: Path) -> list[dict[str, Any]]:
    """Persons, as rows of the persons table."""
    rows = []
    for e in _load(sources_dir / "_registry" / "persons.toml", "person"):
        rows.append({"person_id": e["id"], "name": e["name"], "forms": e.get("forms", []),
                     "birth": e.get("birth", ""), "death": e.get("death", ""),
                     "description": e.get("description", ""),
                     "is_group": e.get("is_group", False),
                     "wikidata": e.get("wikidata", ""), "viaf": e.get("viaf", "")})
    return rows


def load_places(sources_dir: Path) -> list[dict[str, Any]]:
    """Places, as rows of the places table."""
    rows = []
    for e in _load(sources_dir / "_registry" / "places.toml", "place"):
        rows.append({"place_id": e["id"], "name": e["name"], "country": e.get("country", ""),
                     "latitude": e.get("latitude", ""), "longitude": e.get("longitude", ""),
                     "part_of": e.get("part_of", ""), "geonames": e.get("geonames", "")})
    return rows
