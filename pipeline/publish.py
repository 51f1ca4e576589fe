"""Publish stage: run every stage and write the dataset atomically.

The dataset is assembled in memory as {relative path: bytes}, written to a temporary
folder beside the target, and swapped in only when everything succeeded: a failed
build leaves the previous dataset untouched.

Each stage collects its problems (one per source at most: a source's stage stops at its
first) and the build stops after the first stage that has any, reporting all of them
(``BuildFailed``). The output folder is guarded by ``OutputFolder``: see its docstring.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; builds into one folder are then not serialised
    fcntl = None  # type: ignore[assignment]

from . import backmatter, cmif, docs, mentions, package, registers, registry, tei
from . import cache as cache_stage
from . import clean as clean_stage
from . import letters as letters_stage
from . import notes as notes_stage
from . import segment as segment_stage
from .errors import BuildFailed, PipelineError, with_code
from .resources import schema_bytes
from .sources import Source, discover, locate

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    """What a build produced: the files of the dataset and the figures for the summary."""

    files: MutableMapping[str, bytes]
    summary: list[dict[str, Any]]
    # Hyphen lock files as this build would write them, by path (sources/<id>/...), and
    # the located warnings about them (W601-W603): see clean.hyphen_lock_text.
    locks: dict[Path, bytes] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# ``jobs=None``: the cores when the originals exceed this many bytes, else one process.
PARALLEL_ABOVE = 4_000_000


def assemble(sources_dir: Path, progress: Progress = lambda step: None,
             jobs: int | None = 1, cache: cache_stage.BuildCache | None = None,
             files: MutableMapping[str, bytes] | None = None) -> BuildResult:
    """Run clean → segment → package on every source; return the dataset's files.

    With ``jobs`` > 1 the per-source work (vocabulary counts, cleaning, segmentation,
    notes, TEI encoding) runs in up to ``jobs`` processes; every corpus-wide step stays
    here, in source order, so the files are the same bytes whatever ``jobs`` is.
    With a ``cache`` (pipeline/cache.py) each source's results are taken from it when
    their inputs are unchanged: the files are the same bytes either way. ``files``
    (e.g. ``OutputFolder.stage()``) receives the dataset's files as they are made, so
    that they are not all held in memory; by default they are kept in a dict.
    """
    sources, meta = load_metadata(sources_dir)
    if jobs is None:    # workers cost more than they save on a small corpus (README)
        large = sum(len(s.original_bytes) for s in sources) > PARALLEL_ABOVE
        jobs = (os.cpu_count() or 1) if large else 1
    with _pool(jobs, len(sources)) as pool:
        result = _assemble(sources_dir, sources, meta, progress, pool,
                           _Cached(cache, sources_dir, sources), {} if files is None else files)
    if cache is not None:
        cache.prune(s.source_id for s in sources)
    return result


class _Cached:
    """Per-source results through the build cache (or computed, without one)."""

    def __init__(self, cache: cache_stage.BuildCache | None, sources_dir: Path,
                 sources: list[Source]) -> None:
        self.cache = cache
        self.keys: dict[str, str] = {}
        if cache is not None:
            corpus = cache_stage.folder_digest(sources_dir, [s.folder for s in sources])
            self.keys = {s.source_id: cache_stage.key(cache_stage.code_digest(), corpus,
                                                      cache_stage.folder_digest(s.folder))
                         for s in sources}

    def each(self, stage: str, sources: list[Source], keys: dict[str, str],
             compute: Callable[[list[int]], list[Any]],
             valid: Callable[[Any], bool] = lambda entry: True) -> list[Any]:
        """A result per source: from the cache where its entry (under ``keys``) is there
        and ``valid``, else from ``compute`` (given the indexes of the sources to do)."""
        if self.cache is None:
            return compute(list(range(len(sources))))
        found: list[Any] = []
        for s in sources:
            entry = self.cache.get(stage, s.source_id, keys[s.source_id])
            found.append(entry if entry is not None and valid(entry) else None)
            if found[-1] is not None:
                self.cache.reused.append((stage, s.source_id))
        todo = [i for i, entry in enumerate(found) if entry is None]
        if todo:
            for i, entry in zip(todo, compute(todo), strict=True):
                found[i] = entry
        return found

    def put(self, stage: str, source: Source, keys: dict[str, str], entry: Any) -> None:
        if self.cache is not None:
            self.cache.put(stage, source.source_id, keys[source.source_id], entry)


def load_metadata(sources_dir: Path) -> tuple[list[Source], Any]:
    """The metadata stage: every source folder, the registry and dataset.toml, checked
    against schema/sources/*.json. All their problems are raised together."""
    problems: list[PipelineError] = []
    results: list[Any] = []
    for load in (discover, package.load_dataset_meta, registry.load_persons,
                 registry.load_places):
        try:
            results.append(load(sources_dir))
        except BuildFailed as failed:
            problems += failed.problems
        except PipelineError as error:
            problems.append(with_code(error, "E109"))
    if problems:
        raise BuildFailed("metadata", problems)
    return results[0], results[1]


class _Guarded:
    """A stage function that returns a PipelineError instead of raising it, so that a
    stage can run on every source and report every source's problem."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function

    def __call__(self, *args: Any) -> Any:
        try:
            return self.function(*args)
        except PipelineError as error:
            return error


def _stage(stage: str, code: str, pool: Executor | None, function: Callable[..., Any],
           *args: Any) -> list[Any]:
    """``function`` over each source; if any source failed, BuildFailed with every error
    (each given the stage's ``code`` unless it has its own)."""
    results = _each(pool, _Guarded(function), *args)
    failed = [r for r in results if isinstance(r, PipelineError)]
    problems = [locate(with_code(p, code)) for p in BuildFailed(stage, failed).problems]
    if problems:
        raise BuildFailed(stage, problems)
    return results


def _run(stage: str, code: str, function: Callable[..., Any], *args: Any) -> Any:
    """A corpus-wide step; its PipelineErrors become the stage's BuildFailed."""
    try:
        return function(*args)
    except BuildFailed as failed:
        raise BuildFailed(stage, [locate(with_code(p, code)) for p in failed.problems]) \
            from None
    except PipelineError as error:
        raise BuildFailed(stage, [locate(with_code(error, code))]) from None


def _assemble(sources_dir: Path, sources: list[Source], meta: dict[str, Any],
              progress: Progress, pool: Executor | None, cached: _Cached,
              files: MutableMapping[str, bytes]) -> BuildResult:
    progress("clean")
    # The corpus vocabulary (for line-end hyphens) first: it is the sum of each source's.
    vocab: Counter[str] = Counter()

    def vocabularies(todo: list[int]) -> list[Counter[str]]:
        found = _stage("clean", "E200", pool, _vocabulary, [sources[i] for i in todo])
        for i, counts in zip(todo, found, strict=True):
            cached.put("vocabulary", sources[i], cached.keys, counts)
        return found

    for counts in cached.each("vocabulary", sources, cached.keys, vocabularies):
        vocab.update(counts)
    # A source's text entry: (the vocabulary words its cleaning read, with their counts;
    # cleaned; segmented; notes), valid while those counts are the corpus's.
    texts = cached.each("text", sources, cached.keys, lambda todo: [None] * len(todo),
                        lambda entry: all(vocab[w] == n for w, n in entry[0].items()))
    todo = [i for i, entry in enumerate(texts) if entry is None]
    recorded = _stage("clean", "E200", pool, _clean_recording, [sources[i] for i in todo],
                      repeat(vocab))
    for i, (result, reads) in zip(todo, recorded, strict=True):
        texts[i] = [reads, result, None, None]
    cleaned = dict(zip((s.source_id for s in sources), (entry[1] for entry in texts), strict=True))
    lost = [PipelineError(f"text conservation failed: {result.conservation().unaccounted} "
                          "character(s) neither published nor logged (a bug of the cleaner)",
                          file=str(s.folder / s.original_file), code="E203")
            for s, result in zip(sources, cleaned.values(), strict=True)
            if result.conservation().unaccounted]
    if lost:
        raise BuildFailed("clean", lost)
    progress("segment")
    for i, result in zip(todo, _stage("segment", "E300", pool, segment_stage.segment,
                                      [sources[i] for i in todo],
                                      [texts[i][1] for i in todo]), strict=True):
        texts[i][2] = result
    segmented = dict(zip((s.source_id for s in sources), (entry[2] for entry in texts),
                         strict=True))
    owner: dict[str, str] = {}
    twice = []
    for s in sources:
        for unit in segmented[s.source_id].units:
            if unit.document_id in owner:
                twice.append(PipelineError(f"document id {unit.document_id!r} is also used by "
                                           f"source {owner[unit.document_id]!r}",
                                           file=str(s.outline_path), code="E110"))
            owner.setdefault(unit.document_id, s.source_id)
    if twice:
        raise BuildFailed("segment", twice)
    progress("notes")
    for i, result in zip(todo, _stage("notes", "E400", pool, notes_stage.extract_notes,
                                      [sources[i] for i in todo],
                                      [texts[i][2] for i in todo]), strict=True):
        texts[i][3] = result
        cached.put("text", sources[i], cached.keys, tuple(texts[i]))
    found_notes = [entry[3] for entry in texts]
    # What the later stages' entries follow from: the source and the words read.
    text_keys = {s.source_id: cache_stage.key(cached.keys[s.source_id],
                                              cache_stage.fingerprint(entry[0]))
                 for s, entry in zip(sources, texts, strict=True)} if cached.cache else {}
    persons, places = registry.load_persons(sources_dir), registry.load_places(sources_dir)
    _run("notes", "E111", _check_references, sources, segmented, persons, places)
    progress("letters")
    try:
        notes_by_source = {s.source_id: n for s, n in zip(sources, found_notes, strict=True)}
        letters_by_source = _run("letters", "E410", letters_stage.read_all, sources, segmented,
                                 persons, places, notes_by_source)
    except BuildFailed as failed:
        for problem in failed.problems:
            _at_original_line(problem, sources, cleaned)
        raise
    try:
        # the glossary as the editors read it (backmatter.organisation_rows states the rule)
        organisation_table = package.Table("organisations", _run(
            "letters", "E410", backmatter.organisation_rows, segmented, sources),
            "Organisations")
    except BuildFailed as failed:
        originals = {s.source_id: str(s.folder / s.original_file) for s in sources}
        for problem in failed.problems:  # the glossary's problems name the source by its id
            problem.file = originals.get(problem.file, problem.file)
        raise
    letter_tables = [letters_stage.letters_table(letters_by_source), organisation_table]
    index_rows = backmatter.index_rows(segmented, backmatter.index_references(sources))
    # The registers built from the book (pipeline/registers.py): the persons its notes
    # identify and its index lists, after the letters stage (which needs only the
    # hand-made registry, so that a new form never makes a correspondent ambiguous).
    decisions = registers.load_decisions(sources_dir)
    persons = registers.build_persons(persons, notes_stage.note_rows(found_notes),
                                      index_rows, decisions)
    places = registers.build_places(places, index_rows, segmented,
                                    decisions.index_places)
    letter_tables = [package.Table(t.name, registers.build_organisations(  # + the index's
        t.rows, index_rows, notes_stage.note_rows(found_notes), segmented, decisions),
        t.title) if t.name == "organisations" else t for t in letter_tables]
    # Names tagged in the texts (pipeline/mentions.py), for the TEI and the mentions table.
    organisations = next(t.rows for t in letter_tables if t.name == "organisations")
    gazetteer = mentions.Gazetteer(persons, places, organisations, decisions.family_names,
                                   decisions.form_owners)

    def find_mentions(todo: list[int]) -> list[Any]:
        found = [mentions.find_mentions(segmented[sources[i].source_id], gazetteer,
                                        letters_by_source.get(sources[i].source_id, []))[0]
                 for i in todo]
        for i, entry in zip(todo, found, strict=True):
            cached.put("mentions", sources[i], mention_keys, entry)
        return found

    mention_keys: dict[str, str] = {}
    if cached.cache:
        names = cache_stage.fingerprint((persons, places, organisations,
                                         decisions.family_names, decisions.form_owners))
        letter_prints = {s.source_id: cache_stage.fingerprint(
            letters_by_source.get(s.source_id, [])) for s in sources}
        mention_keys = {s.source_id: cache_stage.key(text_keys[s.source_id], names,
                                                     letter_prints[s.source_id])
                        for s in sources}
    found_mentions = cached.each("mentions", sources, mention_keys, find_mentions)
    # A letter's date in `documents` is the letters stage's date: where the book's own
    # notes correct the printed date, the corrected one (the printed one is in letters).
    letter_dates = {row["letter_id"]: row["date"] for row in letter_tables[0].rows}
    progress("package")
    tables = [
        package.Table("sources", package.source_rows(sources, cleaned), "Sources"),
        package.Table("documents", letters_stage.documents_follow_letters(
            _document_rows(cached, sources, segmented, letter_dates, text_keys),
            letter_tables[0].rows),
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
        package.Table("bibliography", backmatter.bibliography_rows(
            segmented, backmatter.bibliography_inferences(sources)), "Bibliography"),
        package.Table("index_terms", index_rows, "Index terms"),
        package.Table("removals", package.removal_rows(cleaned), "Cleaning log"),
        package.Table("layout_traces", package.layout_trace_rows(cleaned, segmented),
                      "Traces of lost layout"),
        package.Table("mentions", [m.row() for found in found_mentions for m in found],
                      "Mentions of registered persons, places and organisations"),
    ]
    table_bytes = {t.name: package.csv_bytes(t) for t in tables}
    for t in tables:
        files[t.path] = table_bytes[t.name]
        files[f"schema/{t.name}.json"] = schema_bytes("tables", f"{t.name}.json")
    readings: dict[str, str] = {}     # the letters' (letters.jsonl): the rest are written
    letter_ids = {row["letter_id"] for row in letter_tables[0].rows}
    for s, found in zip(sources, found_notes, strict=True):
        files[package.original_path(s)] = s.original_bytes
        seg = segmented[s.source_id]
        files[package.text_path(s.source_id)] = seg.text.encode("utf-8")
        cuts = notes_stage.reading_cuts(seg.text, found)
        for unit in seg.units:
            reading = notes_stage.reading_text(seg.text, unit.start, unit.end, cuts)
            if unit.document_id in letter_ids:
                readings[unit.document_id] = reading
            files[package.text_path(s.source_id, unit.document_id)] = reading.encode("utf-8")
    progress("tei")
    titles = frozenset().union(*(tei.bibliography_titles(segmented[s.source_id])
                                 for s in sources))
    name_spans = [mentions.wraps(f) for f in found_mentions]

    def encode_tei(todo: list[int]) -> list[dict[str, bytes]]:
        chosen = [sources[i] for i in todo]
        found = _stage("tei", "E450", pool, _encode_tei, chosen,
                       [cleaned[s.source_id] for s in chosen],
                       [segmented[s.source_id] for s in chosen], [found_notes[i] for i in todo],
                       [letters_by_source.get(s.source_id, []) for s in chosen],
                       repeat(titles), repeat(meta), repeat(persons), repeat(places),
                       repeat(organisations), [name_spans[i] for i in todo])
        for i, entry in zip(todo, found, strict=True):
            cached.put("tei", sources[i], tei_keys, entry)
        return found

    tei_keys: dict[str, str] = {}
    if cached.cache:
        corpus = cache_stage.fingerprint((sorted(titles), meta, persons, places, organisations))
        tei_keys = {s.source_id: cache_stage.key(text_keys[s.source_id], corpus,
                                                 letter_prints[s.source_id],
                                                 cache_stage.fingerprint(spans))
                    for s, spans in zip(sources, name_spans, strict=True)}
    for tei_files in cached.each("tei", sources, tei_keys, encode_tei):
        files.update(tei_files)
    by_name = {t.name: t for t in tables}
    try:
        files["cmif.xml"] = _run("package", "E450", cmif.cmif_xml, by_name["letters"].rows,
                                 persons, places, by_name["sources"].rows, meta)
    except BuildFailed as failed:
        for problem in failed.problems:  # the CMIF stage names dataset.toml by its name only
            if problem.file == "dataset.toml":
                problem.file = str(sources_dir / "dataset.toml")
                locate(problem)
        raise
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
    files[MARKER] = MARKER_TEXT.encode("utf-8")
    summary = [_summary(s, cleaned[s.source_id], segmented[s.source_id], n)
               for s, n in zip(sources, found_notes, strict=True)]
    locks, warnings = hyphen_locks(sources, cleaned)
    return BuildResult(files, summary, locks, warnings)


def hyphen_locks(sources: list[Source], cleaned: dict[str, clean_stage.CleanedSource]
                 ) -> tuple[dict[Path, bytes], list[str]]:
    """Each source's hyphen lock as the build records it, and what a reviewer must know:
    locked decisions the corpus would now take otherwise (W601), decisions not yet
    recorded (W602), recorded lines no longer decided from the corpus (W603)."""
    locks: dict[Path, bytes] = {}
    warnings: list[str] = []
    for s in sources:
        result = cleaned[s.source_id]
        path = s.folder / clean_stage.HYPHEN_LOCK
        text = clean_stage.hyphen_lock_text(result)
        if text is None and not path.is_file():
            continue
        locked = clean_stage.load_hyphen_lock(s)
        listed = _lock_lines(path)
        for d in result.hyphen_drift:
            warnings.append(f"W601 {path}:{listed.get(d.line, 0)}: {d.form} (original line "
                            f"{d.line}) is published {'joined' if d.locked == 'join' else 'kept'}"
                            f" as locked; the corpus would now {d.now} it ({d.basis}): review "
                            "it, and list it in hyphen_keep or hyphen_join to settle it")
        new = [d for d in result.hyphen_decisions
               if locked.get(d["line"], {}).get("form") != d["lockable"]]
        if new:
            warnings.append(f"W602 {path}: {len(new)} line-end hyphen decision(s) not yet "
                            f"recorded (first: {new[0]['lockable']} at original line "
                            f"{new[0]['line']}); the build records them: commit the file")
        decided = {d["line"] for d in result.hyphen_decisions}
        for line, entry in sorted(locked.items()):
            if line not in decided:
                warnings.append(f"W603 {path}:{listed.get(line, 0)}: {entry['form']} (original "
                                f"line {line}) is no longer decided from the corpus; the build "
                                "drops it from the lock")
        locks[path] = (text or "").encode("utf-8")
    return locks, warnings


def _lock_lines(path: Path) -> dict[int, int]:
    """Original line -> line of the lock file that records it (one entry per line)."""
    if not path.is_file():
        return {}
    found = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.match(r"\s*\{\s*line\s*=\s*(\d+)", line)
        if m:
            found[int(m.group(1))] = number
    return found


@contextlib.contextmanager
def _pool(jobs: int, tasks: int) -> Iterator[Executor | None]:
    """A process pool for the per-source stages, or None when one process will do.

    On Linux the workers are forks of this process: they start at once, the pipeline
    already imported (a fork server or spawned workers import it first, which costs about
    what parallel work saves on the five sources). A worker only runs stage functions and
    answers through the pool's pipes: it never touches the locks of the CLI's progress
    thread. Elsewhere the workers are spawned.

    Workers end with their parent: on Linux each asks the kernel for SIGKILL when its
    parent dies (whatever killed it, SIGKILL included); when the build stops on an
    exception (a user error, SIGTERM turned into SystemExit by the CLI, Ctrl-C), queued
    work is cancelled and the workers are terminated rather than waited for.
    """
    if jobs <= 1 or tasks <= 1:
        yield None
        return
    method = "fork" if sys.platform == "linux" else "spawn"
    pool = ProcessPoolExecutor(min(jobs, tasks), mp_context=multiprocessing.get_context(method),
                               initializer=_worker_init, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        # No public API before Python 3.14 (Executor.terminate_workers).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        raise
    pool.shutdown()


PR_SET_PDEATHSIG = 1


def _worker_init(parent_pid: int) -> None:
    """In a worker: die with the parent (Linux prctl PR_SET_PDEATHSIG), default signals."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _each(pool: Executor | None, function: Callable[..., Any], *args: Any) -> list[Any]:
    """``function`` over each source's arguments, in source order, in the pool if any."""
    return list(pool.map(function, *args) if pool else map(function, *args))


def _vocabulary(source: Source) -> Counter[str]:
    """One source's word counts: the corpus vocabulary is their sum."""
    return clean_stage.source_vocabulary(source)


def _document_rows(cached: _Cached, sources: list[Source], segmented: dict[str, Any],
                   dates: dict[str, str], text_keys: dict[str, str]) -> list[dict[str, Any]]:
    """``package.document_rows`` made source by source (in its order: by source id), each
    source's rows through the cache (counting the words of every unit is most of it)."""
    by_id = {s.source_id: s for s in sources}
    ordered = [by_id[source_id] for source_id in sorted(segmented)]
    keys: dict[str, str] = {}
    if cached.cache:
        keys = {s.source_id: cache_stage.key(text_keys[s.source_id], cache_stage.fingerprint(
            {u.document_id: dates.get(u.document_id) for u in segmented[s.source_id].units}))
            for s in ordered}

    def rows(todo: list[int]) -> list[list[dict[str, Any]]]:
        found = [package.document_rows({ordered[i].source_id: segmented[ordered[i].source_id]},
                                       dates) for i in todo]
        for i, entry in zip(todo, found, strict=True):
            cached.put("documents", ordered[i], keys, entry)
        return found

    return [row for found in cached.each("documents", ordered, keys, rows) for row in found]


def _clean_recording(source: Source, vocab: Counter[str]
                     ) -> tuple[clean_stage.CleanedSource, dict[str, int]]:
    """One source cleaned, with the vocabulary words the cleaning read and their counts
    (what a cached cleaned text depends on: pipeline/cache.py)."""
    recorded = cache_stage.RecordedVocabulary(vocab)
    return clean_stage.clean(source, recorded), recorded.reads  # type: ignore[arg-type]


def _encode_tei(source: Source, cleaned: clean_stage.CleanedSource,
                segmented: segment_stage.SegmentedSource, found: notes_stage.NotesResult,
                letters: list[letters_stage.Letter], titles: frozenset[str],
                meta: dict[str, Any], persons: list[dict[str, Any]],
                places: list[dict[str, Any]], organisations: Sequence[dict[str, Any]] = (),
                name_spans: Sequence[Any] = ()) -> dict[str, bytes]:
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


CLEANED_LINE = re.compile(r"^(?P<unit>\S+) \(cleaned text line (?P<line>\d+)\): (?P<message>.*)$",
                          re.S)


def _at_original_line(problem: PipelineError, sources: list[Source],
                      cleaned: dict[str, clean_stage.CleanedSource]) -> None:
    """A problem at a line of a cleaned text, moved to that line of the original file
    (the file a user can open; the cleaned text is the tool's)."""
    m = CLEANED_LINE.match(problem.message)
    source = next((s for s in sources if problem.file == str(s.outline_path)
                   and problem.field.startswith(f"{s.source_id}-")), None)
    if not m or source is None:
        return
    result = cleaned[source.source_id]
    line_starts = [0] + [x.end() for x in re.finditer("\n", result.text)]
    offset = line_starts[min(int(m["line"]), len(line_starts)) - 1]
    at = result._to_original(offset, len(result.passes))
    problem.file = str(source.folder / source.original_file)
    problem.line = result.original.count("\n", 0, at) + 1
    problem.message = m["message"]  # the unit is the problem's field


def _check_references(sources: list[Source], segmented: dict[str, Any],
                      persons: list[dict[str, Any]], places: list[dict[str, Any]]) -> None:
    """Every person and place a unit names must exist in the registry."""
    person_ids = {p["person_id"] for p in persons}
    place_ids = {p["place_id"] for p in places}
    for s in sources:
        for unit in segmented[s.source_id].units:
            if unit.author_id and unit.author_id not in person_ids:
                raise PipelineError(f"unit {unit.document_id}: author {unit.author_id!r} is not "
                                    "in sources/_registry/persons.toml", file=str(s.outline_path),
                                    field="segment.units.author")
            if unit.place_id and unit.place_id not in place_ids:
                raise PipelineError(f"unit {unit.document_id}: place {unit.place_id!r} is not "
                                    "in sources/_registry/places.toml", file=str(s.outline_path),
                                    field="segment.units.place")


# --- the output folder ------------------------------------------------------------------------

# What the build puts in every dataset it writes, and how it recognises one it may replace:
# a file of its own (not datapackage.json, which any Frictionless package has). It is one of
# the dataset's files, so `build --check` and the committed dist/ include it.
MARKER = ".sergetrotsky-build"
MARKER_TEXT = ("This folder is the output of `sergetrotsky build`, which replaces it whole.\n"
               "Keep nothing else here: the next build removes it.\n")
# Test hook: SIGKILL this process at a named step of the swap (see tests/test_publish.py).
CRASH_AT = "SERGETROTSKY_CRASH_AT"


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_AT) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def repository_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding pyproject.toml or .git."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
            return folder
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputFolder:
    """The folder ``build`` writes, guarded (use as a context manager, then ``write``).

    - Only a folder that is absent, empty, or holds ``MARKER`` (a dataset this tool wrote)
      is written; a file, or a folder with anything else, is refused (E500, E501) and left
      untouched. It may not be, hold or lie inside the sources folder, nor be or hold the
      repository (E502).
    - An exclusive lock (``.<name>.lock`` beside it, flock) makes a second build into the
      same folder stop with E503 instead of colliding.
    - The new dataset is written to ``.<name>.new-*`` beside it and swapped in: on Linux by
      one atomic exchange of the two folders (the target is never missing); elsewhere, or
      where the filesystem cannot exchange, by two renames through ``.<name>.old``. A build
      killed between those renames leaves the old dataset as ``.<name>.old``; the next
      build puts it back first (W500). Leftovers of killed builds are removed.
    - Folders get the umask's permissions (not mkdtemp's 0700).
    """

    def __init__(self, out_dir: Path, sources_dir: Path | None = None,
                 notice: Callable[[PipelineError], None] = lambda warning: None) -> None:
        self.requested = out_dir
        self.target = Path(os.path.abspath(out_dir))
        if self.target.is_symlink():
            self.target = self.target.resolve()
        self.sources_dir = sources_dir
        self.notice = notice
        self.backup = self.target.parent / f".{self.target.name}.old"
        self._lock_fd: int | None = None
        self._staged: StagedFiles | None = None

    # -- checks -----------------------------------------------------------------------------

    def _refuse(self, code: str, message: str) -> PipelineError:
        return PipelineError(message, file=str(self.requested), code=code)

    def check_place(self) -> None:
        """E502 unless the folder keeps clear of the sources folder and the repository."""
        target = self.target.resolve()
        roots = {repository_root(Path.cwd().resolve())}
        if self.sources_dir is not None:
            roots.add(repository_root(self.sources_dir.resolve()))
        for root in sorted(filter(None, roots)):
            if root.is_relative_to(target):
                raise self._refuse("E502", f"is or holds the repository {root}; "
                                           "choose another --out (the default is dist)")
        if self.sources_dir is not None:
            sources = self.sources_dir.resolve()
            if target.is_relative_to(sources) or sources.is_relative_to(target):
                raise self._refuse("E502", f"is, holds or lies inside the sources folder "
                                           f"{self.sources_dir}; choose another --out")

    def check_contents(self) -> None:
        """E500/E501 unless the folder is absent, empty, or a dataset this tool wrote."""
        target = self.target
        if target.exists() or target.is_symlink():
            if not target.is_dir():
                raise self._refuse("E500", "is an existing file, not a folder; choose a folder "
                                           "(it is left untouched)")
            marker = target / MARKER
            try:
                with os.scandir(target) as listing:
                    entries = next(listing, None)
            except OSError as exc:
                raise self._refuse("E504", f"cannot be read: {exc.strerror}") from None
            if entries is not None and not (marker.is_file() and not marker.is_symlink()):
                raise self._refuse("E501", f"holds files this tool did not write (no {MARKER}); "
                                           "choose a new or empty folder (nothing was touched; "
                                           "a dataset built before this check existed must be "
                                           "removed once by hand)")

    # -- lock, repair, leftovers ------------------------------------------------------------

    def __enter__(self) -> OutputFolder:
        self.check_place()
        if not self.backup.is_dir():  # a half-finished swap is repaired under the lock
            self.check_contents()
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.target.parent / f".{self.target.name}.lock"
            self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror}") from None
        try:
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise self._refuse("E503", "another build is writing this folder (it holds "
                                       f"{lock_path.name}); wait for it to finish") from None
        try:
            self.repair()
            self.check_contents()
            self.remove_leftovers()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._staged is not None:      # a build that stopped before its commit
            shutil.rmtree(self._staged.folder, ignore_errors=True)
            self._staged = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None

    def repair(self) -> bool:
        """Put back the old dataset a build killed mid-swap left aside; True if it did."""
        if self.backup.is_dir() and not (self.target.exists() or self.target.is_symlink()):
            self.backup.rename(self.target)
            self.notice(PipelineError(f"a build was killed while replacing this folder; the "
                                      f"previous dataset was put back from {self.backup.name}",
                                      file=str(self.requested), code="W500"))
            return True
        return False

    def remove_leftovers(self) -> None:
        """Remove the temporary folders of killed builds (named by this class, beside the
        target): ``.<name>.new-*``, ``.<name>.old`` (once the target exists)."""
        parent, name = self.target.parent, self.target.name
        for entry in parent.iterdir():
            ours = entry.name.startswith((f".{name}.new-", f".{name}.old-")) \
                or entry.name == f".{name}.old"
            if ours and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)

    # -- writing ----------------------------------------------------------------------------

    def write(self, files: dict[str, bytes]) -> None:
        """Write ``files`` to a new folder and swap it in for the target."""
        if self._lock_fd is None:
            raise RuntimeError("OutputFolder.write outside its `with` block")
        staging: Path | None = None
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.new-",
                                            dir=self.target.parent))
            staging.chmod(0o777 & ~_umask())
            for rel, data in sorted(files.items()):
                path = staging / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            _crash_point("staged")
            self._swap(staging)
            staging = None
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def stage(self) -> StagedFiles:
        """A new staging folder beside the target, as a mapping that writes each file as
        it is given (``assemble(files=...)``); ``commit`` swaps it in. Left uncommitted,
        it is removed when the ``with`` block ends."""
        if self._lock_fd is None:
            raise RuntimeError("OutputFolder.stage outside its `with` block")
        try:
            folder = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.new-",
                                           dir=self.target.parent))
            folder.chmod(0o777 & ~_umask())
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        self._staged = StagedFiles(folder, self._refuse)
        return self._staged

    def commit(self, staged: StagedFiles) -> None:
        """Swap a staging folder from ``stage`` in for the target."""
        try:
            _crash_point("staged")
            self._swap(staged.folder)
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        self._staged = None

    def _swap(self, staging: Path) -> None:
        if not self.target.exists():
            staging.rename(self.target)
            return
        if _exchange(staging, self.target):
            _crash_point("exchanged")
            shutil.rmtree(staging)  # now the old dataset
            return
        self.target.rename(self.backup)
        _crash_point("old-moved")
        staging.rename(self.target)
        _crash_point("new-moved")
        shutil.rmtree(self.backup)


class StagedFiles(MutableMapping[str, bytes]):
    """The dataset's files in a staging folder: each file is written when it is set
    (memory does not hold the dataset) and read back when it is asked for (the
    descriptor's hashes); the names are kept."""

    def __init__(self, folder: Path,
                 refuse: Callable[[str, str], PipelineError]) -> None:
        self.folder = folder
        self._refuse = refuse
        self._names: set[str] = set()

    def __setitem__(self, rel: str, data: bytes) -> None:
        path = self.folder / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        self._names.add(rel)

    def __getitem__(self, rel: str) -> bytes:
        if rel not in self._names:
            raise KeyError(rel)
        return (self.folder / rel).read_bytes()

    def __delitem__(self, rel: str) -> None:
        self._names.remove(rel)
        (self.folder / rel).unlink()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, rel: object) -> bool:
        return rel in self._names


RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where
    the system or filesystem cannot, so the caller falls back to two renames."""
    if sys.platform != "linux" or os.environ.get("SERGETROTSKY_NO_EXCHANGE"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def write_atomically(files: dict[str, bytes], out_dir: Path, sources_dir: Path | None = None,
                     notice: Callable[[PipelineError], None] = lambda warning: None) -> None:
    """Write the dataset to a temporary folder, then swap it in for ``out_dir`` (guarded:
    see ``OutputFolder``)."""
    with OutputFolder(out_dir, sources_dir, notice) as out:
        out.write(files)


def differences(files: Mapping[str, bytes], out_dir: Path) -> list[str]:
    """Files that differ between a fresh build and an existing dataset folder."""
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()} \
        if out_dir.is_dir() else set()
    changed = [f"missing: {rel}" for rel in sorted(set(files) - present)]
    changed += [f"not built: {rel}" for rel in sorted(present - set(files))]
    changed += [f"differs: {rel}" for rel in sorted(set(files) & present)
                if (out_dir / rel).read_bytes() != files[rel]]
    return changed


def release(dataset_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """A versioned zip of a dataset folder, the same as a SQLite file, and SHA256SUMS.

    The zip is reproducible: entries sorted, timestamps set to the release date.
    The dataset must be the output of the current build (checked by the caller).
    """
    descriptor_path = dataset_dir / "datapackage.json"
    if not descriptor_path.is_file():
        raise PipelineError("not a dataset folder (no datapackage.json)", file=str(dataset_dir),
                            code="E505")
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
    from .sqlite import write_database  # the same dataset as one SQLite file
    database = out_dir / f"{name}-{version}.sqlite"
    write_database(dataset_dir, database)
    sums.append(f"{hashlib.sha256(database.read_bytes()).hexdigest()}  {database.name}")
    checksums = out_dir / "SHA256SUMS"
    checksums.write_text("\n".join(sums) + "\n", encoding="utf-8")
    return archive, checksums
