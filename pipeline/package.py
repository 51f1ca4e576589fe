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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clean import CleanedSource
from .errors import PipelineError
from .segment import SegmentedSource, count_words
from .resources import table_schema
from .sources import Source, read_toml

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
            "title_supplied": bool(bib.get("title_supplied", False)),
            **{key: str(bib.get(key, "")) for key in ("isbn", "journal", "volume", "issue",
                                                      "season", "reviewed_work")},
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
                "text_path": text_path(source_id, u.document_id), "tei_path": tei_path(source_id),
                "words": count_words(seg.text_of(u)),
            })
    return rows


def original_path(source: Source) -> str:
    return f"originals/{source.source_id}/{source.original_file}"


def text_path(source_id: str, document_id: str | None = None) -> str:
    """Where a unit's reading text goes (``text/<source_id>/<document_id>.txt``); without a
    unit, where the source's whole cleaned text goes (``text/<source_id>.txt``)."""
    return f"text/{source_id}/{document_id}.txt" if document_id else f"text/{source_id}.txt"


def letters_jsonl(letters: list[dict[str, Any]], readings: dict[str, str],
                  notes: list[dict[str, Any]], documents: list[dict[str, Any]]) -> bytes:
    """One JSON object per letter: its row of the letters table, its reading text (sub-units
    included) and the notes called in it (``n``, ``note_id``, ``text``)."""
    parent = {d["document_id"]: d["parent_id"] for d in documents}

    def within(document_id: str, letter_id: str) -> bool:
        while document_id:
            if document_id == letter_id:
                return True
            document_id = parent.get(document_id, "")
        return False

    lines = []
    for row in letters:
        record = dict(row)
        record["text"] = readings[row["letter_id"]]
        record["notes"] = [{"note_id": n["note_id"], "n": n["n"], "text": n["text"]}
                           for n in notes if within(n["ref_document_id"], row["letter_id"])]
        lines.append(json.dumps(record, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


# Files published beside the tables, listed in datapackage.json with their checksums.
FILE_RESOURCES = (("tei/", ".xml", "application/tei+xml", "xml"),
                  ("cmif.xml", "", "application/tei+xml", "xml"),
                  ("letters.jsonl", "", "application/jsonl", "jsonl"))


def file_resources(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """Resources for the TEI files, the CMIF file and letters.jsonl (not tables: frictionless
    checks their ``hash`` and ``bytes``)."""
    resources = []
    for path in sorted(files):
        for prefix, suffix, mediatype, fmt in FILE_RESOURCES:
            if path.startswith(prefix) and path.endswith(suffix):
                name = re.sub(r"[^a-z0-9]+", "-", path.lower())   # tei/papers.xml: tei-papers-xml
                resources.append({"name": name, "type": "file", "path": path, "format": fmt,
                                  "mediatype": mediatype, "encoding": "utf-8",
                                  **file_facts(files[path])})
    return resources


def tei_path(source_id: str) -> str:
    """Where a source's TEI file goes: the home of all its units' ids."""
    return f"tei/{source_id}.xml"


def letter_tei_path(letter_id: str) -> str:
    """Where a letter's own TEI file (its correspDesc and text) goes."""
    return f"tei/letters/{letter_id}.xml"


def descriptor(meta: dict[str, Any], tables: list[Table], table_bytes: dict[str, bytes],
               files: dict[str, bytes] | None = None) -> dict[str, Any]:
    """``datapackage.json``: the tables, each with its schema path, hash and bytes, then
    the TEI, CMIF and JSON Lines files among ``files`` with their hash and bytes."""
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
        "contributors": meta.get("contributors", []),
        "resources": resources + file_resources(files or {}),
    }
    if meta.get("homepage"):
        package["homepage"] = meta["homepage"]
    return package
