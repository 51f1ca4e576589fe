"""Publish stage: run every stage and write the dataset atomically.

The dataset is assembled in memory as {relative path: bytes}, written to a temporary
folder beside the target, and swapped in only when everything succeeded: a failed
build leaves the previous dataset untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import shutil
import sys
import tempfile
import zipfile
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, Callable

from . import clean as clean_stage
from . import cmif, docs, package, registry, segment as segment_stage, tei
from . import backmatter, mentions, registers
from . import letters as letters_stage
from . import notes as notes_stage
from .errors import PipelineError
from .resources import schema_bytes
from .sources import Source, discover

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    """What a build produced: the files of the dataset and the figures for the summary."""

    files: dict[str, bytes]
    summary: list[dict[str, Any]]


def assemble(sources_dir: Path, progress: Progress = lambda step: None,
             jobs: int = 1) -> BuildResult:
    """Run clean → segment → package on every source; return the dataset's files.

    With ``jobs`` > 1 the per-source work (vocabulary counts, cleaning, segmentation,
    notes, TEI encoding) runs in up to ``jobs`` processes; every corpus-wide step stays
    here, in source order, so the files are the same bytes whatever ``jobs`` is.
    """
    sources = discover(sources_dir)
    meta = package.load_dataset_meta(sources_dir)
    with _pool(jobs, len(sources)) as pool:
        return _assemble(sources_dir, sources, meta, progress, pool)


def _assemble(sources_dir: Path, sources: list[Source], meta: dict[str, Any],
              progress: Progress, pool: Executor | None) -> BuildResult:
    progress("clean")
    # The corpus vocabulary (for line-end hyphens) first: it is the sum of each source's.
    vocab: Counter[str] = Counter()
    for counts in _each(pool, _vocabulary, sources):
        vocab.update(counts)
    cleaned = dict(zip((s.source_id for s in sources),
                       _each(pool, clean_stage.clean, sources, repeat(vocab))))
    for source_id, result in cleaned.items():
        figures = result.conservation()
        if figures.unaccounted:
            raise PipelineError(f"text conservation failed: {figures.unaccounted} character(s) "
                                "neither published nor logged", file=source_id)
    progress("segment")
    segmented = dict(zip((s.source_id for s in sources),
                         _each(pool, segment_stage.segment, sources,
                               [cleaned[s.source_id] for s in sources])))
    owner: dict[str, str] = {}
    for s in sources:
        for unit in segmented[s.source_id].units:
            if unit.document_id in owner:
                raise PipelineError(f"document id {unit.document_id!r} is also used by source "
                                    f"{owner[unit.document_id]!r}", file=str(s.outline_path))
            owner[unit.document_id] = s.source_id
    progress("notes")
    found_notes = _each(pool, notes_stage.extract_notes, sources,
                        [segmented[s.source_id] for s in sources])
    persons, places = registry.load_persons(sources_dir), registry.load_places(sources_dir)
    _check_references(sources, segmented, persons, places)
    progress("letters")
    letters_by_source = letters_stage.read_all(sources, segmented, persons, places)
    letter_tables = letters_stage.tables(letters_by_source, segmented)
    # The registers built from the book (pipeline/registers.py): the persons its notes
    # identify and its index lists, after the letters stage (which needs only the
    # hand-made registry, so that a new form never makes a correspondent ambiguous).
    decisions = registers.load_decisions(sources_dir)
    persons = registers.build_persons(persons, notes_stage.note_rows(found_notes),
                                      backmatter.index_rows(segmented), decisions)
    places = registers.build_places(places, backmatter.index_rows(segmented), segmented,
                                    decisions.index_places)
    # Names tagged in the texts (pipeline/mentions.py), for the TEI and the mentions table.
    organisations = next(t.rows for t in letter_tables if t.name == "organisations")
    gazetteer = mentions.Gazetteer(persons, places, organisations, decisions.family_names,
                                   decisions.form_owners)
    found_mentions = [mentions.find_mentions(segmented[s.source_id], gazetteer,
                                             letters_by_source.get(s.source_id, []))[0]
                      for s in sources]
    # A letter's date in `documents` is the letters stage's date: where the book's own
    # notes correct the printed date, the corrected one (the printed one is in letters).
    letter_dates = {row["letter_id"]: row["date"] for row in letter_tables[0].rows}
    progress("package")
    tables = [
        package.Table("sources", package.source_rows(sources, cleaned), "Sources"),
        package.Table("documents", package.document_rows(segmented, letter_dates),
                      "Units of text"),
        *letter_tables,
        package.Table("persons", persons, "Persons"),
        package.Table("places", places, "Places"),
        package.Table("notes", notes_stage.note_rows(found_notes), "Notes"),
        package.Table("note_anomalies", notes_stage.anomaly_rows(found_notes),
                      "Anomalies in the notes"),
        package.Table("references", notes_stage.reference_rows(found_notes),
                      "Cross-references"),
        package.Table("chronology", backmatter.chronology_rows(segmented, persons), "Chronology"),
        package.Table("bibliography", backmatter.bibliography_rows(segmented), "Bibliography"),
        package.Table("index_terms", backmatter.index_rows(segmented), "Index terms"),
        package.Table("removals", package.removal_rows(cleaned), "Cleaning log"),
        package.Table("mentions", [m.row() for found in found_mentions for m in found],
                      "Mentions of registered persons, places and organisations"),
    ]
    files: dict[str, bytes] = {}
    table_bytes = {t.name: package.csv_bytes(t) for t in tables}
    for t in tables:
        files[t.path] = table_bytes[t.name]
        files[f"schema/{t.name}.json"] = schema_bytes("tables", f"{t.name}.json")
    readings: dict[str, str] = {}
    for s, found in zip(sources, found_notes):
        files[package.original_path(s)] = s.original_bytes
        seg = segmented[s.source_id]
        files[package.text_path(s.source_id)] = seg.text.encode("utf-8")
        cuts = notes_stage.reading_cuts(seg.text, found)
        for unit in seg.units:
            readings[unit.document_id] = notes_stage.reading_text(seg.text, unit.start,
                                                                  unit.end, cuts)
            files[package.text_path(s.source_id, unit.document_id)] = \
                readings[unit.document_id].encode("utf-8")
    progress("tei")
    titles = frozenset().union(*(tei.bibliography_titles(segmented[s.source_id])
                                 for s in sources))
    for tei_files in _each(pool, _encode_tei, sources, [cleaned[s.source_id] for s in sources],
                           [segmented[s.source_id] for s in sources], found_notes,
                           [letters_by_source.get(s.source_id, []) for s in sources],
                           repeat(titles), repeat(meta), repeat(persons), repeat(places),
                           repeat(organisations), [mentions.wraps(f) for f in found_mentions]):
        files.update(tei_files)
    by_name = {t.name: t for t in tables}
    files["cmif.xml"] = cmif.cmif_xml(by_name["letters"].rows, persons, places,
                                      by_name["sources"].rows, meta)
    files["letters.jsonl"] = package.letters_jsonl(by_name["letters"].rows, readings,
                                                   by_name["notes"].rows,
                                                   by_name["documents"].rows)
    files["README.md"] = docs.readme(meta, tables, sources).encode("utf-8")
    files["CITATION.cff"] = docs.citation(meta).encode("utf-8")
    changelog = sources_dir.parent / "CHANGELOG.md"
    if changelog.is_file():
        files["CHANGELOG.md"] = changelog.read_bytes()
    files["datapackage.json"] = (json.dumps(package.descriptor(meta, tables, table_bytes, files),
                                            indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    summary = [_summary(s, cleaned[s.source_id], segmented[s.source_id], n)
               for s, n in zip(sources, found_notes)]
    return BuildResult(files, summary)


def _pool(jobs: int, tasks: int) -> Any:
    """A process pool for the per-source stages, or a null context when one process will do.

    On Linux the workers are forks of this process: they start at once, the pipeline
    already imported (a fork server or spawned workers import it first, which costs about
    what parallel work saves on the five sources). A worker only runs stage functions and
    answers through the pool's pipes: it never touches the locks of the CLI's progress
    thread. Elsewhere the workers are spawned.
    """
    if jobs <= 1 or tasks <= 1:
        return contextlib.nullcontext()
    method = "fork" if sys.platform == "linux" else "spawn"
    return ProcessPoolExecutor(min(jobs, tasks), mp_context=multiprocessing.get_context(method))


def _each(pool: Executor | None, function: Callable[..., Any], *args: Any) -> list[Any]:
    """``function`` over each source's arguments, in source order, in the pool if any."""
    return list(pool.map(function, *args) if pool else map(function, *args))


def _vocabulary(source: Source) -> Counter[str]:
    """One source's word counts: the corpus vocabulary is their sum."""
    return clean_stage.vocabulary([source.original])


def _encode_tei(source: Source, cleaned: clean_stage.CleanedSource,
                segmented: segment_stage.SegmentedSource, found: notes_stage.NotesResult,
                letters: list[letters_stage.Letter], titles: frozenset[str],
                meta: dict[str, Any], persons: list[dict[str, Any]],
                places: list[dict[str, Any]], organisations: list[dict[str, Any]] = (),
                name_spans: list[Any] = ()) -> dict[str, bytes]:
    """One source's TEI files (a worker's task: the context is built where it is used)."""
    context = tei.SourceContext(source, cleaned, segmented, found, letters, titles)
    tei.add_wraps(context, name_spans)          # names tagged (pipeline/mentions.py)
    return tei.encode_source(context, meta, package.original_path(source), persons, places,
                             organisations)


def _summary(source: Source, cleaned: clean_stage.CleanedSource,
             segmented: segment_stage.SegmentedSource,
             found_notes: notes_stage.NotesResult) -> dict[str, Any]:
    figures = cleaned.conservation()
    notes = notes_stage.summary(found_notes)
    return {"source_id": source.source_id, "chars_in": figures.chars_in,
            "chars_published": figures.chars_out, "removed": figures.removed,
            "inserted": {k: v for k, v in figures.inserted.items() if v},
            "unaccounted": figures.unaccounted, "units": len(segmented.units),
            "notes": notes["notes"], "notes_untied": notes["untied"],
            "note_anomalies": sum(notes["anomalies"].values()),
            "references": sum(notes["references"].values())}


def _check_references(sources: list[Source], segmented: dict[str, Any],
                      persons: list[dict[str, Any]], places: list[dict[str, Any]]) -> None:
    """Every person and place a unit names must exist in the registry."""
    person_ids = {p["person_id"] for p in persons}
    place_ids = {p["place_id"] for p in places}
    for s in sources:
        for unit in segmented[s.source_id].units:
            if unit.author_id and unit.author_id not in person_ids:
                raise PipelineError(f"unit {unit.document_id}: author {unit.author_id!r} is not "
                                    "in sources/_registry/persons.toml", file=str(s.folder),
                                    field="segment.units.author")
            if unit.place_id and unit.place_id not in place_ids:
                raise PipelineError(f"unit {unit.document_id}: place {unit.place_id!r} is not "
                                    "in sources/_registry/places.toml", file=str(s.folder),
                                    field="segment.units.place")


def write_atomically(files: dict[str, bytes], out_dir: Path) -> None:
    """Write the dataset to a temporary folder, then swap it in for ``out_dir``."""
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        for rel, data in sorted(files.items()):
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            old.rmdir()
            out_dir.rename(old)
        staging.rename(out_dir)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def differences(files: dict[str, bytes], out_dir: Path) -> list[str]:
    """Files that differ between a fresh build and an existing dataset folder."""
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()} \
        if out_dir.is_dir() else set()
    changed = [f"missing: {rel}" for rel in sorted(set(files) - present)]
    changed += [f"not built: {rel}" for rel in sorted(present - set(files))]
    changed += [f"differs: {rel}" for rel in sorted(set(files) & present)
                if (out_dir / rel).read_bytes() != files[rel]]
    return changed


def release(dataset_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """A versioned zip of a dataset folder and a SHA256SUMS file beside it.

    The zip is reproducible: entries sorted, timestamps set to the release date.
    The dataset must be the output of the current build (checked by the caller).
    """
    descriptor_path = dataset_dir / "datapackage.json"
    if not descriptor_path.is_file():
        raise PipelineError("not a dataset folder (no datapackage.json)", file=str(dataset_dir))
    descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    name, version = descriptor["name"], descriptor["version"]
    year, month, day = (int(x) for x in descriptor["created"][:10].split("-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{name}-{version}.zip"
    files = sorted(p for p in dataset_dir.rglob("*") if p.is_file())
    sums = []
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            rel = path.relative_to(dataset_dir).as_posix()
            info = zipfile.ZipInfo(f"{name}-{version}/{rel}", date_time=(year, month, day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = path.read_bytes()
            zf.writestr(info, data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}-{version}/{rel}")
    sums.append(f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}")
    checksums = out_dir / "SHA256SUMS"
    checksums.write_text("\n".join(sums) + "\n", encoding="utf-8")
    return archive, checksums
