"""Package stage: stage outputs become Frictionless tables and ``datapackage.json``.

Table schemas live in ``schema/tables/`` and are the single definition: the build
writes columns in their field order, copies them into the dataset, and ``validate``
checks against the same files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clean import CleanedSource
from .errors import PipelineError
from .segment import SegmentedSource, count_words
from .sources import Source, read_toml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"


@dataclass
class Table:
    """A resource to publish: its name, rows and where it goes in the dataset."""

    name: str
    rows: list[dict[str, Any]]
    title: str

    @property
    def path(self) -> str:
        return f"data/{self.name}.csv"


def table_schema(name: str) -> dict[str, Any]:
    """The table schema of a resource, as kept in ``schema/tables``."""
    return json.loads((SCHEMA_DIR / "tables" / f"{name}.json").read_text(encoding="utf-8"))


def _cell(value: Any, field_def: dict[str, Any]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return field_def.get("delimiter", ",").join(str(v) for v in value)
    return str(value)


def csv_bytes(table: Table) -> bytes:
    """The table as CSV bytes, columns in schema order, rows as given."""
    fields = table_schema(table.name)["fields"]
    names = [f["name"] for f in fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for i, row in enumerate(table.rows):
        extra = set(row) - set(names)
        if extra:
            raise AssertionError(f"{table.name} row {i}: columns not in schema: {sorted(extra)}")
        writer.writerow([_cell(row.get(f["name"]), f) for f in fields])
    return buffer.getvalue().encode("utf-8")


def file_facts(data: bytes) -> dict[str, Any]:
    """``hash`` and ``bytes`` as a Data Package v2 resource records them."""
    return {"hash": "sha256:" + hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def load_dataset_meta(sources_dir: Path) -> dict[str, Any]:
    """``sources/dataset.toml``: name, version, release date, licences."""
    path = sources_dir / "dataset.toml"
    if not path.is_file():
        raise PipelineError("dataset metadata missing", file=str(path))
    meta = read_toml(path)
    for key in ("name", "title", "version", "released", "licenses"):
        if not meta.get(key):
            raise PipelineError("required field missing", file=str(path), field=key)
    return meta


def source_rows(sources: list[Source], cleaned: dict[str, CleanedSource]) -> list[dict[str, Any]]:
    """Rows of the ``sources`` table."""
    rows = []
    for s in sources:
        bib, c = s.bibliographic, cleaned[s.source_id].conservation()
        rows.append({
            "source_id": s.source_id, "title": bib["title"], "authors": bib.get("authors", []),
            "editors": bib.get("editors", []), "publisher": bib.get("publisher", ""),
            "place": bib.get("place", ""), "date": bib.get("date", ""), "kind": bib["kind"],
            "origin": bib["origin"], "language": bib["language"], "rights": bib["rights"],
            "unknown": bib.get("unknown", []), "attribution": bib.get("attribution", ""),
            "original_path": original_path(s), "sha256": s.sha256, "chars_in": c.chars_in,
            "chars_published": c.chars_out, "chars_removed": sum(c.removed.values()),
            "chars_inserted": sum(c.inserted.values()),
            "page_order": cleaned[s.source_id].page_order, "text_path": text_path(s.source_id),
        })
    return rows


def removal_rows(cleaned: dict[str, CleanedSource]) -> list[dict[str, Any]]:
    """Rows of the ``removals`` table: the cleaning log of every source."""
    rows = []
    for source_id in sorted(cleaned):
        for seq, e in enumerate(cleaned[source_id].log(), start=1):
            rows.append({"source_id": source_id, "seq": seq, "original_line": e.original_line,
                         "original_offset": e.original_offset, "pass": e.pass_name,
                         "reason": e.reason, "removed": e.removed, "inserted": e.inserted,
                         "detail": e.detail})
    return rows


def document_rows(segmented: dict[str, SegmentedSource],
                  dates: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Rows of the ``documents`` table, each source's units in reading order.

    ``dates`` overrides the printed date of some units (letters whose date the book's
    notes correct)."""
    dates = dates or {}
    rows = []
    for source_id in sorted(segmented):
        seg = segmented[source_id]
        for u in seg.units:
            rows.append({
                "document_id": u.document_id, "source_id": u.source_id, "parent_id": u.parent_id,
                "type": u.type, "n": u.n, "title": u.title, "author_id": u.author_id,
                "date": dates.get(u.document_id) or u.date, "place_id": u.place_id,
                "language": u.language,
                "text_path": text_path(source_id, u.document_id), "tei_path": "",
                "words": count_words(seg.text_of(u)),
            })
    return rows


def original_path(source: Source) -> str:
    return f"originals/{source.source_id}/{source.original_file}"


def text_path(source_id: str, document_id: str | None = None) -> str:
    """Where a unit's plain text goes; a source's whole cleaned text is its top unit."""
    return f"text/{source_id}/{document_id or source_id}.txt"


def descriptor(meta: dict[str, Any], tables: list[Table],
               table_bytes: dict[str, bytes]) -> dict[str, Any]:
    """``datapackage.json`` for the tables, each with its schema path, hash and bytes."""
    resources = []
    for table in tables:
        resources.append({
            "name": table.name, "type": "table", "title": table.title, "path": table.path,
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            **file_facts(table_bytes[table.name]),
            "schema": f"schema/{table.name}.json",
        })
    package = {
        "$schema": PROFILE, "name": meta["name"], "title": meta["title"],
        "description": meta.get("description", ""), "version": meta["version"],
        "created": f"{meta['released']}T00:00:00Z", "licenses": meta["licenses"],
        "contributors": meta.get("contributors", []), "resources": resources,
    }
    if meta.get("homepage"):
        package["homepage"] = meta["homepage"]
    return package
