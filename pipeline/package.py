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
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, overload

from .clean import LAYOUT_TRACE, CleanedSource
from .conventions import count_words
from .errors import PipelineError
from .resources import table_schema
from .segment import SegmentedSource
from .sources import Source, load_dataset

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"


@dataclass
class Table:
    """A resource to publish: its name, rows and where it goes in the dataset."""

    name: str
    rows: Sequence[dict[str, Any]]
    title: str

    @property
    def path(self) -> str:
        return f"data/{self.name}.csv"


class MadeRows(Sequence[dict[str, Any]]):
    """A table's rows made each time they are read, part by part (a source's mentions),
    so that a large table is not held as dicts: only its count is kept, learnt when
    the rows are first read through (or by ``count`` if asked before)."""

    def __init__(self, parts: Sequence[Any], rows: Callable[[Any], Iterable[dict[str, Any]]],
                 count: Callable[[Any], int]) -> None:
        self._parts, self._rows, self._counter = parts, rows, count
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(map(self._counter, self._parts))
        return self._count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        made = 0
        for part in self._parts:
            for row in self._rows(part):
                made += 1
                yield row
        self._count = made

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return list(self)[index]


def _cell(value: Any, field_def: dict[str, Any]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return field_def.get("delimiter", ",").join(str(v) for v in value)
    return str(value)


_SPELLED = frozenset({bool, list, tuple})   # the cell types _cell writes otherwise than str()


def csv_bytes(table: Table) -> bytes:
    """The table as CSV bytes, columns in schema order, rows as given."""
    return b"".join(csv_chunks(table))


CSV_CHUNK_ROWS = 2000


def csv_chunks(table: Table) -> Iterator[bytes]:
    """The table as CSV bytes in parts of ``CSV_CHUNK_ROWS`` rows (``csv_bytes`` joins
    them): a large table is written without being held whole."""
    fields = table_schema(table.name)["fields"]
    names = [f["name"] for f in fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    known = set(names)
    for i, row in enumerate(table.rows):
        if i and not i % CSV_CHUNK_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
        if not known.issuperset(row):
            extra = set(row) - known
            raise AssertionError(f"{table.name} row {i}: columns not in schema: {sorted(extra)}")
        cells = list(map(row.get, names))
        # the csv module writes None as "" and other scalars with str(), as _cell does;
        # only a row with a boolean or a list needs _cell
        if not _SPELLED.isdisjoint(map(type, cells)):
            cells = [_cell(value, f) for value, f in zip(cells, fields, strict=True)]
        writer.writerow(cells)
    yield buffer.getvalue().encode("utf-8")


def file_facts(data: bytes) -> dict[str, Any]:
    """``hash`` and ``bytes`` as a Data Package v2 resource records them."""
    return {"hash": "sha256:" + hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def facts_of(files: Mapping[str, bytes], name: str) -> dict[str, Any]:
    """``file_facts`` of ``files[name]``; from the file in parts where ``files`` can say
    them so (``publish.StagedFiles.facts``: a large file is not read whole)."""
    facts = getattr(files, "facts", None)
    return facts(name) if facts is not None else file_facts(files[name])


def load_dataset_meta(sources_dir: Path) -> dict[str, Any]:
    """``sources/dataset.toml``: name, version, release date, licences."""
    return load_dataset(sources_dir)  # type: ignore[return-value]


def source_rows(sources: list[Source], cleaned: dict[str, CleanedSource]) -> list[dict[str, Any]]:
    """Rows of the ``sources`` table, each checked against its text
    (``check_source_facts``)."""
    rows = []
    for s in sources:
        bib, c = s.bibliographic, cleaned[s.source_id].conservation()
        inferred = _table(s, "inferred")
        row = {
            "source_id": s.source_id, "title": bib["title"], "authors": bib.get("authors", []),
            "editors": bib.get("editors", []), "publisher": bib.get("publisher", ""),
            "place": bib.get("place", ""), "date": bib.get("date", ""),
            "isbn": bib.get("isbn", ""), "kind": bib["kind"],
            "origin": bib["origin"], "language": bib["language"], "rights": bib["rights"],
            "unknown": bib.get("unknown", []), "attribution": bib.get("attribution", ""),
            "inferred": list(inferred),
            "inference_basis": " ".join(f"{k}: {v}" for k, v in inferred.items()),
            "original_path": original_path(s), "sha256": s.sha256, "chars_in": c.chars_in,
            "chars_published": c.chars_out, "chars_removed": sum(c.removed.values()),
            "chars_inserted": sum(c.inserted.values()),
            "page_order": cleaned[s.source_id].page_order, "text_path": text_path(s.source_id),
            "title_supplied": bool(bib.get("title_supplied", False)),
            **{key: str(bib.get(key, "")) for key in ("journal", "volume", "issue", "season",
                                                      "reviewed_work")},
        }
        check_source_facts(s, cleaned[s.source_id], row)
        rows.append(row)
    return rows


# Columns of ``sources`` that are not facts of the text: the folder's slug, the editors'
# classification (closed vocabularies), the editors' notes, and what the build computes.
NOT_TEXT_FACTS = frozenset({
    "source_id", "kind", "origin", "language", "title_supplied", "unknown", "attribution",
    "inferred",
    "inference_basis", "original_path", "sha256", "chars_in", "chars_published",
    "chars_removed", "chars_inserted", "page_order", "text_path"})
SEPARATORS = re.compile(r"[\s,;:.•–—/-]*")


def _table(source: Source, name: str) -> dict[str, Any]:
    """``[bibliographic.<name>]`` of a source, checked to name only columns of sources."""
    table = source.bibliographic.get(name, {})
    fields = {f["name"] for f in table_schema("sources")["fields"]} - NOT_TEXT_FACTS
    if not isinstance(table, dict):
        raise PipelineError("must be a table of field = value", file=str(source.metadata_path),
                            field=f"bibliographic.{name}")
    for key, value in table.items():
        if key not in fields:
            raise PipelineError(f"{key!r} is not a field of the record the text can state "
                                f"({', '.join(sorted(fields))})", file=str(source.metadata_path),
                                field=f"bibliographic.{name}.{key}")
        if not value:
            raise PipelineError("is empty", file=str(source.metadata_path),
                                field=f"bibliographic.{name}.{key}")
    return table


def _fold(text: str) -> str:
    return " ".join(text.split())


def check_source_facts(source: Source, cleaned: CleanedSource, row: dict[str, Any]) -> None:
    """Every fact of a source's record comes from its text or is marked as inferred.

    Each non-empty value of a column that a text can state (all but NOT_TEXT_FACTS; each
    item of a list) must be printed in the source, in its cleaned text or in a passage
    the cleaner removed (blanks folded); or be joined from the exact passages listed in
    ``[bibliographic.quoted]`` (each printed; the value holds them, case aside, and only
    separators between them); or be named in ``[bibliographic.inferred]`` with its basis.
    Anything else is a located PipelineError.
    """
    printed = [_fold(cleaned.text)] + [_fold(e.removed) for e in cleaned.log() if e.removed]
    quoted, inferred = _table(source, "quoted"), _table(source, "inferred")
    where = str(source.metadata_path)
    for name, value in row.items():
        if name in NOT_TEXT_FACTS or name in inferred or value in ("", [], None):
            continue
        if name in quoted:
            passages = quoted[name] if isinstance(quoted[name], list) else [quoted[name]]
            rest = _fold(str(value))
            for passage in passages:
                if not any(_fold(passage) in text for text in printed):
                    raise PipelineError(f"quotation {passage!r} is not printed in the text",
                                        file=where, field=f"bibliographic.quoted.{name}")
                at = rest.lower().find(_fold(passage).lower())
                if at < 0:
                    raise PipelineError(f"quotation {passage!r} is not in the value {value!r}",
                                        file=where, field=f"bibliographic.quoted.{name}")
                rest = rest[:at] + " " + rest[at + len(_fold(passage)):]
            if not SEPARATORS.fullmatch(rest):
                raise PipelineError(f"{value!r} has words the quotations do not give: {rest!r}",
                                    file=where, field=f"bibliographic.{name}")
            continue
        for item in value if isinstance(value, list) else [value]:
            if not any(_fold(str(item)) in text for text in printed):
                raise PipelineError(f"{item!r} is not printed in the text: quote it exactly, "
                                    "or give the passages it joins in [bibliographic.quoted] "
                                    "or the basis of the inference in [bibliographic.inferred]",
                                    file=where, field=f"bibliographic.{name}")


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


def layout_trace_rows(cleaned: dict[str, CleanedSource],
                      segmented: dict[str, SegmentedSource]) -> list[dict[str, Any]]:
    """Rows of the ``layout_traces`` table: each wider gap between two paragraphs of running
    text that the cleaner closed (``clean.LAYOUT_TRACE``), where it is in the original and
    in the cleaned text, and the unit whose text it divides."""
    rows = []
    for source_id in sorted(cleaned):
        result, seg = cleaned[source_id], segmented[source_id]
        groups: list[list[Any]] = []
        for entry in (e for e in result.log() if e.detail == LAYOUT_TRACE):
            if groups and entry.original_line == groups[-1][-1].original_line + 1:
                groups[-1].append(entry)
            else:
                groups.append([entry])
        positions = result.layout_traces()
        if len(groups) != len(positions):
            raise AssertionError(f"{source_id}: {len(groups)} traces logged, "
                                 f"{len(positions)} found in the cleaned text")
        for n, (group, position) in enumerate(zip(groups, positions, strict=True), start=1):
            unit = seg.unit_at(position)
            before = result.text[:position].rstrip().rsplit("\n", 1)[-1]
            after = result.text[position:].split("\n", 1)[0]
            rows.append({"source_id": source_id, "n": n, "document_id": unit.document_id,
                         "original_line": group[0].original_line, "text_offset": position,
                         "blank_lines": len(group) + 1, "before": before[-80:],
                         "after": after[:80]})
    return rows


class WordCounter:
    """``count_words(text[start:end])`` for the spans of one text's units, reading the
    text once: a unit's text holds its sub-units', so counting each unit's slice read it
    once per level of nesting.

    The text is cut at every edge of a span into pieces, whose words are counted once; a
    span's words are the sum of its pieces'. That holds where no word or note mark runs
    across a cut, which a blank on either side of it guarantees (units begin at a line);
    a span with another cut inside it is counted from its slice, as ``count_words`` does.

    ``known``: pieces counted before (piece -> its words), taken rather than counted (an
    edit to one unit counts that unit's pieces only); ``made`` is given every piece's."""

    def __init__(self, text: str, spans: list[tuple[int, int]],
                 known: Mapping[str, int] | None = None,
                 made: MutableMapping[str, int] | None = None) -> None:
        self.text = text
        self.cuts = sorted({0, len(text), *(edge for span in spans for edge in span)})
        counts = [0]
        known = known or {}
        made = {} if made is None else made
        for start, end in pairwise(self.cuts):
            piece = text[start:end]
            words = known.get(piece)
            made[piece] = words = count_words(piece) if words is None else words
            counts.append(counts[-1] + words)
        self.before = counts         # words of the pieces before each cut
        self.unsafe = [i for i, cut in enumerate(self.cuts) if 0 < cut < len(text)
                       and not (text[cut - 1].isspace() or text[cut].isspace())]

    def count(self, start: int, end: int) -> int:
        """The words of text[start:end] (a span given to the constructor), marks not counted."""
        first, last = bisect_left(self.cuts, start), bisect_left(self.cuts, end)
        inner = bisect_right(self.unsafe, first)
        if inner < len(self.unsafe) and self.unsafe[inner] < last:
            return count_words(self.text[start:end])    # a word may run across a cut
        return self.before[last] - self.before[first]


def document_rows(seg: SegmentedSource, letters: Mapping[str, Any],
                  counted: tuple[Mapping[str, int], MutableMapping[str, int]] | None = None
                  ) -> list[dict[str, Any]]:
    """Rows of the ``documents`` table for one source, its units in reading order. A unit
    that is a letter takes its date and place from the letters stage's result
    (``letters``: letter id -> Letter), where the book's notes may correct the printed
    date; any other unit keeps what its outline says. ``counted``: ``WordCounter``'s
    ``known`` and ``made``."""
    rows = []
    words = WordCounter(seg.text, [(u.start, u.end) for u in seg.units], *(counted or ()))
    for u in seg.units:
        letter = letters.get(u.document_id)
        rows.append({
            "document_id": u.document_id, "source_id": u.source_id, "parent_id": u.parent_id,
            "type": u.type, "n": u.n, "title": u.title, "author_id": u.author_id,
            "date": letter.date if letter else u.date,
            "place_id": letter.place_id if letter else u.place_id,
            "language": u.language,
            "text_path": text_path(seg.source_id, u.document_id),
            "tei_path": tei_path(seg.source_id),
            "words": words.count(u.start, u.end),
        })
    return rows


def original_path(source: Source) -> str:
    return f"originals/{source.source_id}/{source.original_file}"


def text_path(source_id: str, document_id: str | None = None) -> str:
    """Where a unit's reading text goes (``text/<source_id>/<document_id>.txt``); without a
    unit, where the source's whole cleaned text goes (``text/<source_id>.txt``)."""
    return f"text/{source_id}/{document_id}.txt" if document_id else f"text/{source_id}.txt"


def letters_jsonl_chunks(letters: Sequence[dict[str, Any]], readings: Mapping[str, str],
                         notes: Iterable[dict[str, Any]], documents: Iterable[dict[str, Any]]
                         ) -> Iterator[bytes]:
    """letters.jsonl, a line at a time: one JSON object per letter, its row of the letters
    table, its reading text (sub-units included; each reading asked for as its letter
    comes) and the notes called in it (``n``, ``note_id``, ``text``)."""
    parent = {d["document_id"]: d["parent_id"] for d in documents}
    # Each note goes to every letter among its unit's ancestors (itself included): one
    # walk up per note, instead of testing every note against every letter.
    called: dict[str, list[dict[str, Any]]] = {row["letter_id"]: [] for row in letters}
    for n in notes:
        entry = {"note_id": n["note_id"], "n": n["n"], "text": n["text"]}
        document_id = n["ref_document_id"]
        while document_id:
            if document_id in called:
                called[document_id].append(entry)
            document_id = parent.get(document_id, "")

    if not letters:
        yield b"\n"
    for row in letters:
        record = dict(row)
        record["text"] = readings[row["letter_id"]]
        record["notes"] = called[row["letter_id"]]
        yield (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


# Files published beside the tables, listed in datapackage.json with their checksums.
FILE_RESOURCES = (("tei/", ".xml", "application/tei+xml", "xml"),
                  ("cmif.xml", "", "application/tei+xml", "xml"),
                  ("letters.jsonl", "", "application/jsonl", "jsonl"))


def file_resources(files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """Resources for the TEI files, the CMIF file and letters.jsonl (not tables: frictionless
    checks their ``hash`` and ``bytes``)."""
    resources = []
    for path in sorted(files):
        for prefix, suffix, mediatype, fmt in FILE_RESOURCES:
            if path.startswith(prefix) and path.endswith(suffix):
                name = re.sub(r"[^a-z0-9]+", "-", path.lower())   # tei/papers.xml: tei-papers-xml
                resources.append({"name": name, "type": "file", "path": path, "format": fmt,
                                  "mediatype": mediatype, "encoding": "utf-8",
                                  **facts_of(files, path)})
    return resources


def tei_path(source_id: str) -> str:
    """Where a source's TEI file goes: the home of all its units' ids."""
    return f"tei/{source_id}.xml"


def letter_tei_path(letter_id: str) -> str:
    """Where a letter's own TEI file (its correspDesc and text) goes."""
    return f"tei/letters/{letter_id}.xml"


def descriptor(meta: dict[str, Any], tables: list[Table], table_bytes: Mapping[str, bytes],
               files: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """``datapackage.json``: the tables, each with its schema path, hash and bytes, then
    the TEI, CMIF and JSON Lines files among ``files`` with their hash and bytes."""
    resources = []
    for table in tables:
        resources.append({
            "name": table.name, "type": "table", "title": table.title, "path": table.path,
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            **facts_of(table_bytes, table.name),
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
