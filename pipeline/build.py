"""The build: every source through the per-source stages, then the corpus-wide steps,
then the exporters; the dataset's files as {relative path: bytes}.

The graph runs one way (docs/architecture.md draws it):

1. ``PER_SOURCE_STAGES`` (clean → segment → notes) run on each source, in worker
   processes with ``jobs`` > 1; each source's results make one ``SourceBuild``.
2. ``CORPUS_STEPS`` run on the whole ``Corpus`` in source order: the registry's
   references, letters, the glossary's organisations, the registers, the mentions. Each
   step sets its own fields of the corpus (or of each ``SourceBuild``) and reads only
   fields set before it: no step changes another's result.
3. ``EXPORTERS`` turn the built corpus into files (tables, texts, TEI, CMIF, JSONL,
   docs, the descriptor): each reads the corpus, none changes it.

Each stage collects its problems (one per source at most: a source's stage stops at its
first) and the build stops after the first stage that has any, reporting all of them
(``BuildFailed``). With a cache (pipeline/cache.py) a source's results are reused when
their inputs are unchanged; the files are the same bytes either way, and whatever
``jobs`` is. Writing the files is pipeline/publish.py's (``OutputFolder``).

Memory does not grow with the corpus: ``assemble`` keeps each source's original, outline
and bulky results (cleaned text, unit tree, notes, letters, mentions) and its share of
the large tables in a spill folder (pipeline/spill.py) from the moment they are made,
and every step reads them back a source at a time; the files are written as they are
made (tables, CMIF and JSON Lines in parts). Only small corpus-wide results are held
(the vocabulary, the registers, the letters table, the checks' briefs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import importlib
import json
import os
import pickle
import re
import signal
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import backmatter, cmif, docs, mentions, package, registers, registry, tei
from . import cache as cache_stage
from . import clean as clean_stage
from . import letters as letters_stage
from . import notes as notes_stage
from . import segment as segment_stage
from .errors import BuildFailed, PipelineError, with_code
from .names import NameIndex, lowercase_words
from .publish import MARKER, MARKER_TEXT, StagedFiles, write_chunks
from .resources import schema_bytes
from .sources import (
    MetadataRecord,
    Source,
    checks_deferred,
    deferred_checks_pass,
    discover,
    locate,
    read_toml,
    record_valid,
    validated_before,
    validator_release,
)
from .spill import SPILLED, Fields, OnDisk, Parts, Spill, spill_folder

if TYPE_CHECKING:   # the pool's modules are imported when a pool is made (start-up)
    from concurrent.futures import Executor

Progress = Callable[[str], None]
Row = dict[str, Any]


@dataclass
class BuildResult:
    """What a build produced: the files of the dataset and the figures for the summary."""

    files: MutableMapping[str, bytes]
    summary: list[dict[str, Any]]
    # Hyphen lock files as this build would write them, by path (sources/<id>/...), and
    # the located warnings about them (W601-W603): see clean.hyphen_lock_text.
    locks: dict[Path, bytes] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpilledSource(Source):
    """A source whose original bytes and outline are kept in a ``Spill`` (its ``spill``
    attribute, not a field: the fields are a Source's), read back when asked for (the
    cleaning, the checksum, originals/; the segmentation, the TEI), so that the corpus's
    are not all held."""

    original_bytes = OnDisk()   # the fields, kept on disk
    segment = OnDisk()

    @property
    def original_size(self) -> int:
        """The original's length in bytes (without reading it back)."""
        return int(self.__dict__["_original_size"])


def _spilled_source(source: Source, spill: Spill) -> SpilledSource:
    """``source`` with its original bytes and outline written to ``spill``."""
    spill.save(source.source_id, "original_bytes", source.original_bytes)
    spill.save(source.source_id, "segment", source.segment)
    fields = {f.name: getattr(source, f.name) for f in dataclasses.fields(Source)}
    spilled = SpilledSource(**{**fields, "original_bytes": SPILLED, "segment": SPILLED})
    object.__setattr__(spilled, "spill", spill)
    object.__setattr__(spilled, "_original_size", len(source.original_bytes))
    return spilled


@dataclass
class SourceBuild:
    """One source and what each stage made of it. The per-source stages give the first
    fields; the corpus-wide steps add ``letters`` and ``mentions``. With a ``spill``
    the bulky fields (``OnDisk``) are kept on disk and read back when asked for."""

    source: Source
    cleaned: clean_stage.CleanedSource = OnDisk()                   # type: ignore[assignment]
    segmented: segment_stage.SegmentedSource = OnDisk()             # type: ignore[assignment]
    notes: notes_stage.NotesResult = OnDisk()                       # type: ignore[assignment]
    # The vocabulary words the cleaning read, with their counts (its cache validity), and
    # the cache key of everything that follows from this source's text.
    reads: dict[str, int] = field(default_factory=dict)
    key: str = ""
    letters: list[letters_stage.Letter] = OnDisk(())  # type: ignore[assignment] # letters step
    mentions: Sequence[mentions.Mention] = OnDisk(())  # type: ignore[assignment] # mentions step
    spill: Spill | None = field(default=None, repr=False, compare=False)

    @property
    def source_id(self) -> str:
        return self.source.source_id


@dataclass
class Corpus:
    """Every source's ``SourceBuild`` and what the corpus-wide steps made of them, in the
    order of ``CORPUS_STEPS``; the exporters read it."""

    sources_dir: Path
    meta: dict[str, Any]
    builds: list[SourceBuild]
    registry_persons: list[Row]         # the hand-made registry (metadata stage)
    registry_places: list[Row]
    decisions: registers.Decisions      # the registers' decisions (metadata stage)
    pool: _Pool | None = field(default=None, repr=False)
    cached: _Cached | None = field(default=None, repr=False)
    tei_begun: _TeiWork | None = field(default=None, repr=False)    # export: _begin_tei
    ahead: _Ahead | None = field(default=None, repr=False)   # build_corpus: _begin_ahead
    # an edited source's rows made while its mentions were made ahead (_rows_meanwhile)
    rows_made: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    to_wait: list[_Forked] = field(default_factory=list, repr=False)  # children to end
    spill: Spill | None = field(default=None, repr=False)
    glossary: list[Row] = field(default_factory=list)       # organisations step
    index_rows: Sequence[Row] = field(default_factory=list)     # registers step
    persons: list[Row] = field(default_factory=list)
    places: list[Row] = field(default_factory=list)
    organisations: list[Row] = field(default_factory=list)

    @property
    def sources(self) -> list[Source]:
        return [b.source for b in self.builds]

    @property
    def segmented(self) -> Mapping[str, segment_stage.SegmentedSource]:
        """Each source's unit tree by source id, each read when asked for (spill.py)."""
        return Fields(self.builds, "segmented")

    @cached_property
    def letter_rows(self) -> Sequence[Row]:
        """The letters table's rows: each source's letters in reading order, by source id."""
        return letters_stage.letters_table(Fields(self.builds, "letters")).rows

    @cached_property
    def tables(self) -> list[package.Table]:
        """Every table of the dataset, in the descriptor's order."""
        own, removals, traces = _own_rows(self)
        inferences = backmatter.bibliography_inferences(self.sources)
        return [
            package.Table("sources", [own[b.source_id] for b in self.builds], "Sources"),
            package.Table("documents", _document_rows(self), "Units of text"),
            package.Table("letters", self.letter_rows, "Letters"),
            package.Table("organisations", self.organisations, "Organisations"),
            package.Table("persons", self.persons, "Persons"),
            package.Table("places", self.places, "Places"),
            # the notes' tables made from each source's notes each time they are read
            package.Table("notes", package.MadeRows(
                self.builds, lambda b: notes_stage.note_rows(b.notes),
                lambda b: len(b.notes.notes)), "Notes"),
            package.Table("note_anomalies", package.MadeRows(
                self.builds, lambda b: notes_stage.anomaly_rows(b.notes),
                lambda b: len(b.notes.anomalies)), "Anomalies in the notes"),
            package.Table("references", package.MadeRows(
                self.builds, lambda b: notes_stage.reference_rows(b.notes),
                lambda b: len(b.notes.references)), "Cross-references"),
            package.Table("chronology", _back_matter_rows(self, "chronology", lambda seg: (
                backmatter.chronology_rows(seg, Fields(self.builds, "mentions")))),
                "Chronology"),
            package.Table("bibliography", _back_matter_rows(self, "bibliography", lambda seg: (
                backmatter.bibliography_rows(seg, inferences))), "Bibliography"),
            package.Table("index_terms", self.index_rows, "Index terms"),
            package.Table("removals", removals, "Cleaning log"),
            package.Table("layout_traces", traces, "Traces of lost layout"),
            package.Table("mentions", package.MadeRows(
                self.builds, lambda b: (m.row() for m in b.mentions), lambda b: len(b.mentions)),
                "Mentions of registered persons, places and organisations"),
        ]

    def table(self, name: str) -> package.Table:
        return next(t for t in self.tables if t.name == name)


@dataclass(frozen=True)
class SourceStage:
    """A stage run on each source: ``run(source, what the stage before made)``; then
    ``check`` (if any) over every source's ``brief`` of its result (what the check reads
    of it: the results themselves are not all held), raising BuildFailed."""

    name: str
    code: str
    run: Callable[[Source, Any], Any]
    check: Callable[[list[Source], list[Any]], None] | None = None
    brief: Callable[[Any], Any] = lambda made: None


# ``jobs=None``: the cores when the originals exceed this many bytes, or when the cache
# holds an earlier build (``_built_before``), else one process.
PARALLEL_ABOVE = 4_000_000
# A build keeps each source's bulky results on disk (spill.py) when the source folders
# hold more than this many bytes: below, holding them costs less than the spill's writes
# and reads (the five sources, 1.1 MB: a cached build 0.40 s held, 0.49 s spilled).
SPILL_ABOVE = 4_000_000


def _built_before(cache: cache_stage.BuildCache | None) -> bool:
    """Whether ``cache`` holds the registers of an earlier build: a build from it mostly
    takes its sources' results, and what it makes again (an edit) it makes in forked
    children while the rest is read here (``_begin_ahead``), which only workers allow.
    From an empty cache, the stages of a small corpus run faster in one process."""
    return cache is not None and (os.cpu_count() or 1) > 1 and bool(
        cache.entries("registers", cache_stage.CORPUS_ENTRY))


def _sources_size(sources_dir: Path) -> int:
    """The bytes of the files in the source folders (what a build reads of them)."""
    try:
        return sum(entry.stat().st_size for folder in sources_dir.iterdir()
                   if folder.is_dir() and not folder.name.startswith((".", "_"))
                   for entry in folder.iterdir() if entry.is_file())
    except OSError:     # the metadata stage says what is wrong
        return 0


def assemble(sources_dir: Path, progress: Progress = lambda step: None,
             jobs: int | None = 1, cache: cache_stage.BuildCache | None = None,
             files: MutableMapping[str, bytes] | None = None) -> BuildResult:
    """Run the stages, the corpus-wide steps and the exporters; return the dataset's files.

    With ``jobs`` > 1 the per-source work (vocabulary counts, cleaning, segmentation,
    notes, TEI encoding) runs in up to ``jobs`` processes; every corpus-wide step stays
    here, in source order, so the files are the same bytes whatever ``jobs`` is.
    With a ``cache`` (pipeline/cache.py) each source's results are taken from it when
    their inputs are unchanged: the files are the same bytes either way. ``files``
    (e.g. ``OutputFolder.stage()``) receives the dataset's files as they are made, so
    that they are not all held in memory; by default they are kept in a dict.
    """
    # A large corpus's originals and bulky results are kept on disk while the build runs
    # (spill.py), beside the staging folder if there is one; a small one's are held
    # (writing and reading them back would cost more than they take). The metadata
    # record also keeps the TOML files the stages read as parsed.
    spilling = _sources_size(sources_dir) > SPILL_ABOVE
    global _trim_heap
    _trim_heap = spilling
    if jobs is None and _built_before(cache):
        jobs = os.cpu_count() or 1
    with (spill_folder(files.folder if isinstance(files, StagedFiles) else None) if spilling
          else contextlib.nullcontext()) as spill, _validated_metadata(cache):
        metadata, checks = _load_checked_meanwhile(sources_dir, cache, jobs, spill)
        sources = metadata.sources
        if jobs is None:    # workers cost more than they save on a small corpus (README)
            large = sum(s.original_size if isinstance(s, SpilledSource)
                        else len(s.original_bytes) for s in sources) > PARALLEL_ABOVE
            jobs = (os.cpu_count() or 1) if large else 1
        out: MutableMapping[str, bytes] = {} if files is None else files
        # With workers, the cache's entries are written once a source's TEI is begun in a
        # child (_begin_tei): pickling them no longer delays it. Not with a spill: held
        # entries would hold every source's results.
        held = _HeldWrites(cache) if cache is not None and jobs > 1 and spill is None \
            else None
        cached = _Cached(held or cache, sources_dir, sources)
        try:
            with _pool(jobs, len(sources)) as pool:
                corpus = build_corpus(sources_dir, metadata, progress, pool, cached,
                                      checks=checks, spill=spill)
                export(corpus, out, progress)
        except Exception as error:
            if checks is not None:
                checks.confirm()    # metadata problems first, as when checked first
            if held is not None and not (isinstance(error, BuildFailed)
                                         and error.stage == "metadata"):
                held.flush()        # what was made before the failure, as without workers
            raise
        if held is not None:
            held.flush()
        if cache is not None:
            cache.prune([*(s.source_id for s in sources), cache_stage.CORPUS_ENTRY])
        summary = [_summary(b) for b in corpus.builds]
        locks, warnings = hyphen_locks(sources, Fields(corpus.builds, "cleaned"))
    return BuildResult(out, summary, locks, warnings)


def build_corpus(sources_dir: Path, metadata: Metadata, progress: Progress = lambda step: None,
                 pool: _Pool | None = None, cached: _Cached | None = None,
                 steps: Sequence[tuple[str, Callable[[Corpus], None]]] | None = None,
                 checks: _MetadataChecks | None = None, spill: Spill | None = None
                 ) -> Corpus:
    """The per-source stages on every source, then the corpus-wide ``steps`` (by default
    ``CORPUS_STEPS``): the built corpus, ready for the exporters (without ``cached``: no
    cache; with a ``spill``, each source's bulky results are kept there). ``checks``:
    metadata checks still running (``_load_checked_meanwhile``), awaited after the
    per-source stages."""
    cached = cached or _Cached(None, sources_dir, metadata.sources)
    try:
        builds = _build_sources(metadata.sources, progress, pool, cached, spill)
    except Exception:
        if checks is not None:
            checks.confirm()        # metadata problems first, as when checked first
        raise
    if checks is not None:
        checks.confirm()
    corpus = Corpus(sources_dir, metadata.meta, builds, metadata.persons, metadata.places,
                    metadata.decisions, pool, cached, spill=spill)
    done: set[Callable[[Corpus], None]] = set()
    if steps is None:
        corpus.ahead = _begin_ahead(corpus)
    announced = "notes"
    try:
        if corpus.ahead is not None:
            done = _registers_meanwhile(corpus)
        for step_name, step in CORPUS_STEPS if steps is None else steps:
            if step_name != announced:
                progress(step_name)
                announced = step_name
            if step in done:
                continue
            step(corpus)
            _release_freed_memory()     # what the step read of each source (spill.py)
    except BaseException:
        if corpus.ahead is not None:
            corpus.ahead.child.cancel()
        raise
    return corpus


def _registers_meanwhile(corpus: Corpus) -> set[Callable[[Corpus], None]]:
    """While the ``_Ahead`` child reads the edited source's letters: the glossary and the
    registers, which do not read the letters, made before the steps before them; the
    steps done (none if either failed: both are made again in their turn, after the
    steps before them, and a problem is reported as ever)."""
    try:
        _read_glossary(corpus)
        _build_registers(corpus)
    except Exception:
        return set()
    return {_read_glossary, _build_registers}


def export(corpus: Corpus, files: MutableMapping[str, bytes],
           progress: Progress = lambda step: None) -> None:
    """Every exporter, in order, writing into ``files``. The TEI files are begun first
    (``_begin_tei``): one source's to make (after an edit) is made in a child process
    while the tables and texts are made here."""
    corpus.tei_begun = _begin_tei(corpus, files)
    try:
        announced = ""
        for step_name, exporter in EXPORTERS:
            if step_name != announced:
                progress(step_name)
                announced = step_name
            try:
                exporter(corpus, files)
                _release_freed_memory()
            except Exception:
                work = corpus.tei_begun
                if work is not None and work.deferred:  # its problems first, as in its turn
                    corpus.tei_begun = None
                    _take_tei(corpus, work, files)
                raise
    finally:
        if corpus.tei_begun is not None:    # an exporter failed before the TEI's turn
            corpus.tei_begun.cancel()
            corpus.tei_begun = None
        if corpus.ahead is not None:        # its TEI not taken
            corpus.ahead.child.cancel()
            corpus.ahead = None
        for child in corpus.to_wait:        # (what it still does is not wanted on failure)
            if sys.exc_info()[0] is None:
                child._wait()
            else:
                child.cancel()
        corpus.to_wait.clear()


class _HeldWrites(cache_stage.BuildCache):
    """A build cache whose writes are held until ``flush`` (its reads are the cache's)."""

    def __init__(self, cache: cache_stage.BuildCache) -> None:
        self.cache = cache
        self.held: list[tuple[str, str, str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)

    def get(self, stage: str, source_id: str, entry_key: str) -> Any | None:
        return self.cache.get(stage, source_id, entry_key)

    def put(self, stage: str, source_id: str, entry_key: str, value: Any) -> None:
        self.held.append((stage, source_id, entry_key, value))

    def flush(self) -> None:
        """Write the held entries."""
        held, self.held = self.held, []
        for entry in held:
            self.cache.put(*entry)


class _Cached:
    """Per-source results through the build cache (or computed, without one)."""

    def __init__(self, cache: cache_stage.BuildCache | None, sources_dir: Path,
                 sources: list[Source]) -> None:
        self.cache = cache
        self.keys: dict[str, str] = {}
        if cache is not None:
            corpus = cache_stage.folder_digest(sources_dir, [s.folder for s in sources])
            # a source as loaded (source.toml as read: a comment is not in it; its folder
            # by name, not where it is), its segment.toml as read (the outline and the
            # declared letters: the stages read nothing else of it, and a problem, which
            # names a line, is never cached) and its other files, the original among them
            self.keys = {s.source_id: cache_stage.key(
                cache_stage.code_digest(), corpus, cache_stage.fingerprint(
                    replace(s, folder=Path(s.folder.name), original_bytes=b"")),
                cache_stage.fingerprint(_outline_as_read(s)),
                cache_stage.files_digest(s.folder, ["source.toml", "segment.toml"]))
                for s in sources}

    def put(self, stage: str, source: Source, keys: dict[str, str], entry: Any) -> None:
        if self.cache is not None:
            self.cache.put(stage, source.source_id, keys[source.source_id], entry)


def _outline_as_read(source: Source) -> dict[str, Any] | None:
    """A source's segment.toml as parsed (None if it has none)."""
    path = source.folder / "segment.toml"
    return read_toml(path) if path.is_file() else None


@dataclass
class Metadata:
    """What the metadata stage read: the sources, dataset.toml, the hand-made registry and
    the registers' decisions (sources/_registry/decisions.toml)."""

    sources: list[Source]
    meta: dict[str, Any]
    persons: list[Row]
    places: list[Row]
    decisions: registers.Decisions


def load_metadata(sources_dir: Path, spill: Spill | None = None) -> Metadata:
    """The metadata stage: every source folder, the registry, the registers' decisions
    and dataset.toml, checked against schema/sources/*.json. All their problems are
    raised together. With a ``spill``, each source's original goes there as it is read
    (``SpilledSource``): the corpus's are never all held."""
    problems: list[PipelineError] = []
    results: list[Any] = []

    def sources(folder: Path) -> list[Source]:
        return discover(folder, partial(_spilled_source, spill=spill)) if spill \
            else discover(folder)

    for load in (sources, _dataset_meta, registry.load_persons,
                 registry.load_places, registers.load_decisions):
        try:
            results.append(load(sources_dir))
        except BuildFailed as failed:
            problems += failed.problems
        except PipelineError as error:
            problems.append(with_code(error, "E109"))
    if problems:
        raise BuildFailed("metadata", problems)
    return Metadata(*results)


def _dataset_meta(sources_dir: Path) -> dict[str, Any]:
    """dataset.toml, with what cmif.xml needs of it checked here (E450): a dataset.toml
    that cannot make one fails before the stages run, not at the export."""
    meta = package.load_dataset_meta(sources_dir)
    problems = cmif.metadata_problems(meta)
    if problems:
        raise BuildFailed("metadata", [_in_dataset_toml(with_code(problem, "E450"), sources_dir)
                                       for problem in problems])
    return meta


def _in_dataset_toml(problem: PipelineError, sources_dir: Path) -> PipelineError:
    """A problem the CMIF code names by "dataset.toml" alone, located in the file."""
    if problem.file == "dataset.toml":
        problem.file = str(sources_dir / "dataset.toml")
        locate(problem)
    return problem


@contextlib.contextmanager
def _validated_metadata(cache: cache_stage.BuildCache | None) -> Iterator[None]:
    """Metadata files found valid by an earlier build (their digests, recorded in the
    cache under the pipeline's code and the validator's release) are not checked again,
    nor parsed again (sources.validated_before): a cached build does not even import the
    validator."""
    release = validator_release() if cache is not None else None
    if cache is None or release is None:
        yield
        return
    entry_key = cache_stage.key(cache_stage.code_digest(), release)
    record = cache.get("validated", cache_stage.CORPUS_ENTRY, entry_key)
    record = record if isinstance(record, MetadataRecord) else MetadataRecord()
    with validated_before(record) as found:
        yield
    if found != record:
        cache.put("validated", cache_stage.CORPUS_ENTRY, entry_key, found)


def _load_checked_meanwhile(sources_dir: Path, cache: cache_stage.BuildCache | None,
                            jobs: int | None, spill: Spill | None = None
                            ) -> tuple[Metadata, _MetadataChecks | None]:
    """The metadata stage. With workers (``jobs`` > 1) and the cache, the files that
    changed since they were found valid (an edit to a source's segment.toml) are checked
    against their schemas in a child process while the per-source stages run here
    (importing the validator alone takes 0.04 s): ``build_corpus`` awaits the verdict
    before anything is written or begun from them, and if a file is not valid, the
    metadata is loaded again and checked here, which reports every problem as ever."""
    if cache is None or jobs is None or jobs <= 1 or not _Forked.possible():
        return load_metadata(sources_dir, spill), None
    try:
        with checks_deferred() as pending:
            metadata = load_metadata(sources_dir, spill)
    except Exception:       # a file's data not as its schema says: checked here, as ever
        return load_metadata(sources_dir, spill), None
    if not pending:
        return metadata, None
    return metadata, _MetadataChecks(sources_dir, pending,
                                     _Forked(deferred_checks_pass, pending))


@dataclass
class _MetadataChecks:
    """Metadata checks running in a child (``_load_checked_meanwhile``)."""

    sources_dir: Path
    pending: list[Any]
    child: _Forked
    confirmed: bool = False

    def confirm(self) -> None:
        """Return if every file is valid (recorded so); else raise the metadata stage's
        BuildFailed, from loading and checking the metadata here."""
        if self.confirmed:
            return
        self.confirmed = True
        if self.child.result():
            record_valid(self.pending)
            return
        load_metadata(self.sources_dir)         # raises the problems
        raise BuildFailed("metadata", [PipelineError(
            "a metadata file failed its schema's check in one process, not in another",
            code="E109")])


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


def _raise_problems(stage: str, code: str, failed: list[PipelineError]) -> None:
    """BuildFailed with every source's error, if any (each given the stage's ``code``
    unless it has its own)."""
    problems = [locate(with_code(p, code)) for p in BuildFailed(stage, failed).problems]
    if problems:
        raise BuildFailed(stage, problems)


def _run(stage: str, code: str, function: Callable[..., Any], *args: Any) -> Any:
    """A corpus-wide step; its PipelineErrors become the stage's BuildFailed."""
    try:
        return function(*args)
    except BuildFailed as failed:
        raise BuildFailed(stage, [locate(with_code(p, code)) for p in failed.problems]) \
            from None
    except PipelineError as error:
        raise BuildFailed(stage, [locate(with_code(error, code))]) from None


# --- 1. the per-source stages ------------------------------------------------------------


def _clean_recording(source: Source, vocab: Counter[str]
                     ) -> tuple[clean_stage.CleanedSource, dict[str, int]]:
    """One source cleaned, with the vocabulary words the cleaning read and their counts
    (what a cached cleaned text depends on: pipeline/cache.py)."""
    recorded = cache_stage.RecordedVocabulary(vocab)
    return clean_stage.clean(source, recorded), recorded.reads  # type: ignore[arg-type]


def _conservation_brief(recorded: tuple[clean_stage.CleanedSource, dict[str, int]]
                        ) -> tuple[int, dict[str, int]]:
    """What is kept of a cleaned source for the check and the cache key: the characters
    unaccounted for, and the vocabulary words the cleaning read."""
    return recorded[0].conservation().unaccounted, recorded[1]


def _check_conservation(sources: list[Source], briefs: list[tuple[int, dict[str, int]]]
                        ) -> None:
    """E203: every character of an original is published or logged as removed."""
    lost = [PipelineError(f"text conservation failed: {unaccounted} "
                          "character(s) neither published nor logged (a bug of the cleaner)",
                          file=str(s.folder / s.original_file), code="E203")
            for s, (unaccounted, _) in zip(sources, briefs, strict=True) if unaccounted]
    if lost:
        raise BuildFailed("clean", lost)


def _segment(source: Source, recorded: tuple[clean_stage.CleanedSource, dict[str, int]]
             ) -> segment_stage.SegmentedSource:
    return segment_stage.segment(source, recorded[0])


def _document_ids(segmented: segment_stage.SegmentedSource) -> list[str]:
    return [unit.document_id for unit in segmented.units]


def _check_document_ids(sources: list[Source], document_ids: list[list[str]]) -> None:
    """E110: a document id belongs to one source."""
    owner: dict[str, str] = {}
    twice = []
    for s, ids in zip(sources, document_ids, strict=True):
        for document_id in ids:
            if document_id in owner:
                twice.append(PipelineError(f"document id {document_id!r} is also used by "
                                           f"source {owner[document_id]!r}",
                                           file=str(s.outline_path), code="E110"))
            owner.setdefault(document_id, s.source_id)
    if twice:
        raise BuildFailed("segment", twice)


PER_SOURCE_STAGES = (
    SourceStage("clean", "E200", _clean_recording, _check_conservation, _conservation_brief),
    SourceStage("segment", "E300", _segment, _check_document_ids, _document_ids),
    SourceStage("notes", "E400", notes_stage.extract_notes),
)
# The SourceBuild field each stage's result goes to (the cleaning's: with the words read).
STAGE_FIELDS = {"clean": "cleaned", "segment": "segmented", "notes": "notes"}


def _chain(source: Source, first: Any, spill: Spill | None = None
           ) -> tuple[list[Any], dict[str, Any] | None]:
    """One source through ``PER_SOURCE_STAGES`` (a worker's task): each stage's brief, up
    to the first stage that fails, whose PipelineError ends the list; and the stages'
    results by stage name, or None when they went to ``spill`` (a source that failed
    is not spilled: the build stops)."""
    results: list[Any] = []
    made = first
    for stage in PER_SOURCE_STAGES:
        try:
            made = stage.run(source, made)
        except PipelineError as error:
            results.append(error)
            break
        results.append(made)
    briefs = [r if isinstance(r, PipelineError) else stage.brief(r)   # up to a failure
              for stage, r in zip(PER_SOURCE_STAGES, results, strict=False)]
    entry: dict[str, Any] | None = {stage.name: r for stage, r in
                                    zip(PER_SOURCE_STAGES, results, strict=False)}
    if spill is not None:
        if len(results) == len(PER_SOURCE_STAGES) and not isinstance(made, PipelineError):
            _spill_entry(source, entry, spill)    # type: ignore[arg-type]
        entry = None
    del results, made
    _release_freed_memory()     # the passes' intermediate texts
    return briefs, entry


def _spill_entry(source: Source, entry: dict[str, Any], spill: Spill) -> None:
    """A source's text entry (the stages' results by stage name) written to ``spill``."""
    for name, value in entry.items():
        spill.save(source.source_id, STAGE_FIELDS[name], value[0] if name == "clean" else value)


def _unspilled_entry(source: Source, reads: dict[str, int], spill: Spill) -> dict[str, Any]:
    """A source's text entry as the cache keeps it, read back from ``spill``."""
    entry = {name: spill.load(source.source_id, field) for name, field in STAGE_FIELDS.items()}
    entry["clean"] = (entry["clean"], reads)
    return entry


def _build_sources(sources: list[Source], progress: Progress, pool: _Pool | None,
                   cached: _Cached, spill: Spill | None = None) -> list[SourceBuild]:
    """Each source through ``PER_SOURCE_STAGES`` (or from the cache): its SourceBuild.
    With a ``spill``, each source's results go there as they are made (in a worker, by
    the worker): only what the checks read of them is held for the corpus; and once the
    vocabulary is counted, each source of ``sources`` is replaced by a ``SpilledSource``
    (its original in the spill)."""
    progress("clean")
    cache = cached.cache
    # The corpus vocabulary (for line-end hyphens) first: it is the sum of each source's,
    # each added as it comes (not all held).
    vocab: Counter[str] = Counter()
    counted = [_reused(cache, "vocabulary", s.source_id, cached.keys.get(s.source_id, ""))
               for s in sources]
    for counts in counted:
        if counts is not None:
            vocab.update(counts)
    uncounted = [s for s, counts in zip(sources, counted, strict=True) if counts is None]
    del counted
    # One source to count (an edit): counted in a child while its text is cleaned here
    # with its counts of the build before, taken if the words the cleaning read count the
    # same in both (``_texts``); else cleaned again.
    guessed = _vocabulary_ahead(cache, uncounted, pool, spill)
    if guessed is not None:
        others = vocab.copy()
        vocab.update(guessed[1])
        made = _texts(sources, cached, vocab, pool, spill)
        counts = guessed[0].result(lambda: _Guarded(_vocabulary)(uncounted[0]))
        if isinstance(counts, PipelineError):
            _raise_problems("clean", "E200", [counts])
        cached.put("vocabulary", uncounted[0], cached.keys, counts)
        vocab = others
        vocab.update(counts)
        if not made.valid(vocab):
            made = _texts(sources, cached, vocab, pool, spill)
        return _checked_builds(sources, progress, pool, cached, spill, made)
    failed = []
    for s, counts in zip(uncounted, _lazily(pool, _Guarded(_vocabulary), uncounted),
                         strict=True):
        if isinstance(counts, PipelineError):
            failed.append(counts)
            continue
        cached.put("vocabulary", s, cached.keys, counts)
        vocab.update(counts)
    _raise_problems("clean", "E200", failed)
    if spill is not None:   # (sources loaded without the spill)
        sources[:] = [s if isinstance(s, SpilledSource) else _spilled_source(s, spill)
                      for s in sources]
    return _checked_builds(sources, progress, pool, cached, spill,
                           _texts(sources, cached, vocab, pool, spill))


def _vocabulary_ahead(cache: cache_stage.BuildCache | None, uncounted: list[Source],
                      pool: _Pool | None, spill: Spill | None
                      ) -> tuple[_Forked, Counter[str]] | None:
    """With workers and the cache, one source to count, and its counts of the build
    before in the cache (the entry the cache kept): a child counting it, and those."""
    if cache is None or pool is None or spill is not None or len(uncounted) != 1 \
            or not _Forked.possible():
        return None
    source_id = uncounted[0].source_id
    previous = cache.entries("vocabulary", source_id)
    if len(previous) != 1:
        return None
    try:
        with previous[0].open("rb") as handle:
            counts = pickle.load(handle)
    except Exception:       # unreadable: a miss
        return None
    if not isinstance(counts, Counter):
        return None
    return _Forked(_Guarded(_vocabulary), uncounted[0]), counts


@dataclass
class _Texts:
    """What ``_texts`` made: each source's briefs (what the stages' checks read), and
    its text entry (what each stage made of it, by stage name), or None (spilled), and
    the entries to keep in the cache."""

    briefs: list[list[Any]]
    entries: list[dict[str, Any] | None]
    to_keep: list[tuple[Source, dict[str, Any]]]

    def valid(self, vocab: Counter[str]) -> bool:
        """Whether every text was cleaned (taken or made) reading the counts ``vocab``
        gives (a cleaning that failed read what it read: not known)."""
        return all(brief and not isinstance(brief[0], PipelineError)
                   and all(vocab[w] == n for w, n in brief[0][1].items())
                   for brief in self.briefs)


def _texts(sources: list[Source], cached: _Cached, vocab: Counter[str], pool: _Pool | None,
           spill: Spill | None) -> _Texts:
    """Each source's text entry: taken from the cache while the vocabulary counts its
    cleaning read are ``vocab``'s, else made (``_chain``); kept, or written to the spill."""
    cache = cached.cache
    briefs: list[list[Any]] = [[] for _ in sources]
    entries: list[dict[str, Any] | None] = [None] * len(sources)
    to_keep: list[tuple[Source, dict[str, Any]]] = []
    todo = []
    for i, s in enumerate(sources):
        entry = _reused(cache, "text", s.source_id, cached.keys.get(s.source_id, ""),
                        lambda entry: all(vocab[w] == n for w, n in entry["clean"][1].items()))
        if entry is None:
            todo.append(i)
            continue
        briefs[i] = [stage.brief(entry[stage.name]) for stage in PER_SOURCE_STAGES]
        if spill is not None:
            _spill_entry(s, entry, spill)
        else:
            entries[i] = entry
        del entry
    # In a pool each source goes through every stage in one task: its results come back
    # in one message (the text that the stages share, once), or go to the spill.
    chained = _lazily(pool, _chain, [sources[i] for i in todo], repeat(vocab), repeat(spill))
    for i, (brief, entry) in zip(todo, chained, strict=True):
        briefs[i] = brief
        if cache is not None and len(brief) == len(PER_SOURCE_STAGES) \
                and not isinstance(brief[-1], PipelineError):
            if spill is None:
                to_keep.append((sources[i], entry))
            else:
                cached.put("text", sources[i], cached.keys,
                           _unspilled_entry(sources[i], brief[0][1], spill))
                spill.release()
        entries[i] = entry
        del entry
    return _Texts(briefs, entries, to_keep)


def _checked_builds(sources: list[Source], progress: Progress, pool: _Pool | None,
                    cached: _Cached, spill: Spill | None, made: _Texts) -> list[SourceBuild]:
    """The texts ``made`` kept in the cache, each stage's problems and checks, then each
    source's SourceBuild."""
    cache = cached.cache
    briefs, entries = made.briefs, made.entries
    for source, kept in made.to_keep:
        cached.put("text", source, cached.keys, kept)
    if pool is not None and spill is not None:
        # the workers' heaps hold what the cleaning left (let go); the TEI forks anew
        # from this process, small since its sources are in the spill
        pool.release()
    announced = "clean"
    for index, stage in enumerate(PER_SOURCE_STAGES):
        if stage.name != announced:
            progress(stage.name)
            announced = stage.name
        # the stage's problems, then its check, as if it had run on every source alone
        _raise_problems(stage.name, stage.code,
                        [b[index] for b in briefs if len(b) == index + 1
                         and isinstance(b[index], PipelineError)])
        if stage.check is not None:
            stage.check(sources, [b[index] for b in briefs])
    builds = []
    for s, brief, entry in zip(sources, briefs, entries, strict=True):
        reads = brief[0][1]
        # What the later stages' entries follow from: the source and the words read.
        key = cache_stage.key(cached.keys[s.source_id], cache_stage.fingerprint(reads)) \
            if cache else ""
        if entry is None:
            builds.append(SourceBuild(s, SPILLED, SPILLED, SPILLED, reads, key, spill=spill))
        else:
            builds.append(SourceBuild(s, entry["clean"][0], entry["segment"], entry["notes"],
                                      reads, key))
    return builds


# --- 2. the corpus-wide steps ------------------------------------------------------------


def _check_references(corpus: Corpus) -> None:
    """E111: every person and place a unit names exists in the registry."""
    _run("notes", "E111", _unknown_references, corpus.sources, corpus.segmented,
         corpus.registry_persons, corpus.registry_places)


def _read_letters(corpus: Corpus) -> None:
    """Each source's letters (pipeline/letters.py), read with the hand-made registry only,
    so that a new form of the registers never makes a correspondent ambiguous."""
    # A source's letters follow from its text (its key) and the hand-made registry, which
    # the key covers (it holds every file of the sources folder outside the source
    # folders): each source's are cached; the sources not cached are read together.
    builds = corpus.builds
    cache = corpus.cached.cache if corpus.cached is not None else None
    found: dict[str, list[letters_stage.Letter]] = {}
    for b in builds:
        entry = _reused(cache, "letters", b.source_id, b.key)
        if entry is not None:
            found[b.source_id] = entry
    todo = [b for b in builds if b.source_id not in found]
    # one source's read ahead, in the child of _begin_ahead (the same reading of the same
    # text and registry); if it sent none, they are read here (and a problem reported)
    ahead = corpus.ahead
    read: dict[str, list[letters_stage.Letter]] = {}
    if ahead is not None and [b.source_id for b in todo] == [ahead.source_id]:
        sent, letters = ahead.take(LETTERS)
        if sent:
            read = {ahead.source_id: letters}
    try:
        if not read:
            read = _run("letters", "E410", letters_stage.read_all, [b.source for b in todo],
                        Fields(todo, "segmented"), corpus.registry_persons,
                        corpus.registry_places, Fields(todo, "notes"))
    except BuildFailed as failed:
        cleaned = Fields(corpus.builds, "cleaned")
        for problem in failed.problems:
            _at_original_line(problem, corpus.sources, cleaned)
        raise
    for b in todo:
        if cache is not None:
            cache.put("letters", b.source_id, b.key, read.get(b.source_id, []))
    found.update(read)
    for b in builds:
        b.letters = found.get(b.source_id, [])


def _check_outline(corpus: Corpus) -> None:
    """E410: the outline's date, author and place of each letter are the letter's."""
    problems = [locate(p) for b in corpus.builds
                for p in letters_stage.outline_disagreements(b.source, b.segmented, b.letters)]
    if problems:
        raise BuildFailed("letters", problems)


def _read_glossary(corpus: Corpus) -> None:
    """The glossary's organisations as the editors read them (backmatter.organisation_rows
    states the rule)."""
    try:
        corpus.glossary = _run("letters", "E410", backmatter.organisation_rows,
                               corpus.segmented, corpus.sources)
    except BuildFailed as failed:
        originals = {s.source_id: str(s.folder / s.original_file) for s in corpus.sources}
        for problem in failed.problems:  # the glossary's problems name the source by its id
            problem.file = originals.get(problem.file, problem.file)
        raise


def _build_registers(corpus: Corpus) -> None:
    """The registers built from the book (pipeline/registers.py): the registry plus the
    persons the notes identify and the index lists, places, and organisations (the
    glossary's and the index's)."""
    # What the registers read follows from every source's text and metadata and from the
    # registry and its decisions: all in the sources' keys. One entry for the corpus.
    cache = corpus.cached.cache if corpus.cached is not None else None
    key = cache_stage.key(*(b.key for b in corpus.builds)) if cache else ""
    entry = _reused(cache, "registers", cache_stage.CORPUS_ENTRY, key)
    if entry is not None:
        corpus.index_rows, corpus.persons, corpus.places, corpus.organisations = entry
        return
    segmented = corpus.segmented
    references = backmatter.index_references(corpus.sources)
    index_rows = Parts(corpus.spill, "index_terms")  # each source's kept in the spill
    for source_id in sorted(segmented):
        index_rows.add(source_id, backmatter.index_rows(segmented[source_id], references))
    corpus.index_rows = index_rows
    note_rows = package.MadeRows(corpus.builds, lambda b: notes_stage.note_rows(b.notes),
                                 lambda b: len(b.notes.notes))     # made as read, not held
    decisions = corpus.decisions
    corpus.persons = registers.build_persons(corpus.registry_persons, note_rows,
                                             corpus.index_rows, decisions)
    corpus.places = registers.build_places(corpus.registry_places, corpus.index_rows,
                                           segmented, decisions.index_places)
    corpus.organisations = registers.build_organisations(
        corpus.glossary, corpus.index_rows, note_rows, segmented, decisions)
    if cache is not None:
        cache.put("registers", cache_stage.CORPUS_ENTRY, key, (
            list(corpus.index_rows), corpus.persons, corpus.places, corpus.organisations))


def _find_mentions(corpus: Corpus) -> None:
    """Names of registered persons, places and organisations in each source's text
    (pipeline/mentions.py), for the TEI and the mentions table."""
    cached, decisions = corpus.cached, corpus.decisions
    builds = corpus.builds
    keys: dict[str, str] = {}
    names = ""
    if cached is not None and cached.cache:
        names = _names_fingerprint(corpus.persons, corpus.places, corpus.organisations,
                                   decisions)
        keys = {b.source_id: cache_stage.key(b.key, names, cache_stage.fingerprint(b.letters))
                for b in builds}

    # Source by source, each source's mentions set as they are found (with a spill, they
    # go to disk: the corpus's are never all held).
    cache = cached.cache if cached is not None else None
    index: NameIndex | None = None
    for b in builds:
        entry = _reused(cache, "mentions", b.source_id, keys.get(b.source_id, ""))
        if entry is None:
            entry = _mentions_ahead(corpus, b, names)
            if entry is None:
                if index is None:   # made only when a source's mentions are not cached
                    index = _name_index(corpus.persons, corpus.places,   # (its pattern
                                        corpus.organisations, decisions, cache)  # takes a while)
                common, made = _lowercase_words(cache, b)
                entry = mentions.find_mentions(b.segmented, index, b.letters, common)[0]
                if cache:
                    cache.put("name-words", b.source_id, _pieces_key("name-words"), made)
            _put(corpus, "mentions", b.source, keys, entry)
        b.mentions = entry
    if cache and index is None:
        # no index made here: the compiled patterns kept (the next edit's is among them)
        cache.used.update(cache.entries("patterns", cache_stage.CORPUS_ENTRY))


def _name_index(persons: Sequence[Row], places: Sequence[Row], organisations: Sequence[Row],
                decisions: registers.Decisions, cache: cache_stage.BuildCache | None
                ) -> NameIndex:
    """The name index of the registers, its search pattern compiled from the cache's
    program when there is one (``_compiled``)."""
    made = NameIndex(persons, places, organisations, decisions.family_names,
                     decisions.form_owners)
    if made.searched and cache:
        # the searched forms make the pattern (its text is only made on a miss)
        made.pattern = _compiled(cache, "\n".join(sorted(made.searched)),
                                 lambda: made.pattern_source or "")
    return made


def _compiled(cache: cache_stage.BuildCache, made_of: str, make: Callable[[], str]
              ) -> re.Pattern[str]:
    """``re.compile(make())``, for a long pattern (the name index's: 0.04 s to compile),
    from the compiled program a build of this pipeline and Python kept in the cache under
    ``made_of`` (what the pattern's text follows from, with the pipeline's code: the
    pattern and its text are made on a miss only). The program is CPython's own parser
    and code generator's, as ``re.compile`` runs them, given to its ``_sre.compile``;
    anything unexpected: ``re.compile``."""
    entry_key = cache_stage.key(cache_stage.code_digest(),
                                hashlib.sha256(made_of.encode()).hexdigest())
    entry = cache.get("patterns", cache_stage.CORPUS_ENTRY, entry_key)
    source, program = entry if isinstance(entry, tuple) and len(entry) == 2 else (make(), None)
    try:
        import _sre
        if program is None:
            compiler = importlib.import_module("re._compiler")
            parsed = importlib.import_module("re._parser").parse(source, 0)
            groupindex = dict(parsed.state.groupdict)
            indexgroup = [None] * parsed.state.groups
            for name, number in groupindex.items():
                indexgroup[number] = name
            program = (parsed.state.flags, [int(op) for op in compiler._code(parsed, 0)],
                       parsed.state.groups - 1, groupindex, tuple(indexgroup))
            cache.put("patterns", cache_stage.CORPUS_ENTRY, entry_key, (source, program))
        compiled: re.Pattern[str] = _sre.compile(source, *program)
    except Exception:       # another Python's re: the plain way
        return re.compile(source)
    return compiled


@dataclass
class _Ahead:
    """The one source whose texts this build made (an edit), its letters, mentions and
    TEI made ahead in a child (``_ahead``) while the registers are built here, with the
    registers of the build before: what the child sends is taken where the keys it was
    made under are the ones this build finds (its mentions in ``_find_mentions``, its TEI
    in ``_begin_tei``)."""

    source_id: str
    child: _Forked
    keys: tuple[str, str, str] | None = None     # names, letters, TEI context fingerprints
    received: list[Any] = field(default_factory=list)   # its messages taken, in order

    def take(self, index: int) -> tuple[bool, Any]:
        """(True, the child's message ``index``: LETTERS, MENTIONS, TEI, the ones before
        taken first), or (False, None) if it ended without sending it."""
        while len(self.received) <= index:
            sent, message = self.child.next()
            if not sent:
                return False, None
            self.received.append(message)
        return True, self.received[index]



# The messages of the ``_Ahead`` child, in the order it sends them
LETTERS, MENTIONS, TEI = range(3)


def _begin_ahead(corpus: Corpus) -> _Ahead | None:
    """With workers and a cache: after an edit to one source (its texts made, the others'
    taken from the cache), a child making that source's letters, mentions and TEI with
    the previous build's registers (an edit rarely changes what the TEI reads of them),
    while the registers are built again here."""
    cache = corpus.cached.cache if corpus.cached is not None else None
    if cache is None or corpus.pool is None or not _Forked.possible():
        return None
    reused = {i for stage, i in cache.reused if stage == "text"}
    made = [b for b in corpus.builds if b.source_id not in reused]
    previous = cache.entries("registers", cache_stage.CORPUS_ENTRY)
    if len(made) != 1 or len(previous) != 1:
        return None
    return _Ahead(made[0].source_id, _Forked(_ahead, corpus, made[0], previous[0], stream=True))


def _ahead(corpus: Corpus, b: SourceBuild, previous: Path) -> Iterator[Any]:
    """(In the child of ``_begin_ahead``.) Yields the source's letters (read with the
    hand-made registry, as ``_read_letters`` reads them), the fingerprints its results
    follow from (the registers' names, the letters, the TEI's context) with the source's
    mentions and the cache entries it used (the name index's pattern), then its TEI
    files; then keeps its units' TEI elements in the cache (the build waits for it at
    its end: ``export``)."""
    with previous.open("rb") as handle:
        _, persons, places, organisations = pickle.load(handle)
    decisions = corpus.decisions
    read = letters_stage.read_all([b.source], {b.source_id: b.segmented},
                                  corpus.registry_persons, corpus.registry_places,
                                  {b.source_id: b.notes})
    letters = read.get(b.source_id, [])
    yield letters
    names = _names_fingerprint(persons, places, organisations, decisions)
    # the name index's compiled pattern written to the cache from here (a build's held
    # writes are the parent's), and the entry named to the parent, which keeps it
    cache = corpus.cached.cache if corpus.cached is not None else None
    if isinstance(cache, _HeldWrites):
        cache = cache.cache
    index = _name_index(persons, places, organisations, decisions, cache)
    kept = [path for path in cache.used if path.parent.name == "patterns"] if cache else []
    common, words = _lowercase_words(cache, b)
    found = mentions.find_mentions(b.segmented, index, letters, common)[0]
    titles = frozenset().union(*(tei.bibliography_titles(x.segmented) for x in corpus.builds))
    context = _tei_context(titles, corpus.meta, persons, places, organisations)
    yield (names, cache_stage.fingerprint(letters), context), found, kept
    # (a build of its own, without the spill: the parent's stays as it is)
    made = SourceBuild(b.source, b.cleaned, b.segmented, b.notes, b.reads, b.key,
                       letters, found)
    encoded = _Guarded(_encode_tei)(made, titles, corpus.meta, persons, places, organisations,
                                    _tei_parts(cache, b.source_id))
    if isinstance(encoded, PipelineError) or cache is None:
        yield encoded
        return
    # the TEI files sent; then the units' elements and the words in lower case kept in
    # the cache from here
    files, parts = encoded
    yield files, None
    cache.put("tei-parts", b.source_id, _pieces_key("tei-parts"), parts)
    cache.put("name-words", b.source_id, _pieces_key("name-words"), words)


def _mentions_ahead(corpus: Corpus, b: SourceBuild, names: str) -> list[Any] | None:
    """The source's mentions the ``_Ahead`` child made, if it made them from the names
    and letters this build has (else None, and the child is let go)."""
    ahead = corpus.ahead
    if ahead is None or ahead.source_id != b.source_id or not names:
        return None
    # meanwhile, the source's rows, and the cache's entries written (the source's text)
    _rows_meanwhile(corpus, b)
    if corpus.cached is not None and isinstance(corpus.cached.cache, _HeldWrites):
        corpus.cached.cache.flush()
    sent, message = ahead.take(MENTIONS)
    if sent:
        ahead.keys, found, kept = message
        if corpus.cached is not None and corpus.cached.cache:
            corpus.cached.cache.used.update(kept)   # the pattern it compiled, for the next
        if ahead.keys[:2] == (names, cache_stage.fingerprint(b.letters)):
            return found
    ahead.child.cancel()
    corpus.ahead = None
    return None


def _tei_ahead(corpus: Corpus, b: SourceBuild, context: str) -> _Ahead | None:
    """The ``_Ahead``, when ``b``, the one source whose TEI is to be made, is its
    source and the TEI's key is the one it was made under (the same ``context``, letters
    and mentions: this build took the child's); else None."""
    ahead = corpus.ahead
    if ahead is None or ahead.source_id != b.source_id or ahead.keys is None \
            or (context, cache_stage.fingerprint(b.letters)) != (ahead.keys[2], ahead.keys[1]):
        return None
    corpus.ahead = None
    return ahead


def _rows_meanwhile(corpus: Corpus, b: SourceBuild) -> None:
    """The edited source's rows of the documents table and its own rows, made while the
    ``_Ahead`` child makes its mentions (they read its text and letters, not the
    registers), for the tables (``_made_meanwhile``); a problem is left for the tables'
    turn, which reports it."""
    try:
        cache = corpus.cached.cache if corpus.cached is not None else None
        corpus.rows_made[b.source_id] = {"documents": _source_document_rows(b, cache),
                                         "rows": _own_source_rows(b)}
    except PipelineError:
        pass


def _made_meanwhile(corpus: Corpus, b: SourceBuild, stage: str) -> Any | None:
    """The entry of ``stage`` ("documents" or "rows") for ``b`` made by
    ``_rows_meanwhile``, if it was; else None."""
    return corpus.rows_made.get(b.source_id, {}).get(stage)


def _names_fingerprint(persons: Sequence[Row], places: Sequence[Row],
                       organisations: Sequence[Row], decisions: registers.Decisions) -> str:
    """What the name index of the mentions is made of (its cache key's part)."""
    return cache_stage.fingerprint((_read_by_exports(persons), _read_by_exports(places),
                                    _read_by_exports(organisations),
                                    decisions.family_names, decisions.form_owners))


def _tei_context(titles: frozenset[str], meta: Any, persons: Sequence[Row],
                 places: Sequence[Row], organisations: Sequence[Row]) -> str:
    """What every source's TEI reads of the corpus (its cache key's part)."""
    return cache_stage.fingerprint((sorted(titles), meta, _read_by_exports(persons),
                                    _read_by_exports(places), _read_by_exports(organisations)))


def _read_by_exports(rows: Sequence[Row]) -> list[Row]:
    """Register rows as the mentions and the TEI read them, for their cache keys: a row's
    ``evidence`` (passages as ``document_id@offset``, which an edit to any text moves)
    only as whether there is any (names.NameIndex reads no more of it), so that an edit
    to one text leaves the other sources' mentions and TEI files reusable."""
    return [{**row, "evidence": bool(row["evidence"])} if "evidence" in row else row
            for row in rows]


CORPUS_STEPS: tuple[tuple[str, Callable[[Corpus], None]], ...] = (
    ("notes", _check_references),
    ("letters", _read_letters),
    ("letters", _check_outline),
    ("letters", _read_glossary),
    ("letters", _build_registers),
    ("letters", _find_mentions),
)


# --- 3. the exporters --------------------------------------------------------------------

Files = MutableMapping[str, bytes]


def _document_rows(corpus: Corpus) -> Sequence[Row]:
    """Rows of the ``documents`` table, each source's units in reading order (sources by
    id). A letter's date and place are the letters step's (printed, corrected by the
    book's notes or inferred: letters.date_source and place_cert), so that both tables
    say the same; each source's rows go through the cache (counting the words of every
    unit is most of it)."""
    ordered = sorted(corpus.builds, key=lambda b: b.source_id)
    keys: dict[str, str] = {}
    if corpus.cached is not None and corpus.cached.cache:
        keys = {b.source_id: cache_stage.key(b.key, cache_stage.fingerprint(
            [(letter.letter_id, letter.date, letter.place_id) for letter in b.letters]))
            for b in ordered}

    # each source's rows kept in the spill as they are made (spill.Parts)
    found = Parts(corpus.spill, "documents")
    cache = corpus.cached.cache if corpus.cached is not None else None
    for b in ordered:
        entry = _reused(cache, "documents", b.source_id, keys.get(b.source_id, ""))
        if entry is None:
            entry = _made_meanwhile(corpus, b, "documents")
            if entry is None:
                entry = _source_document_rows(b, cache)
            _put(corpus, "documents", b.source, keys, entry)
        found.add(b.source_id, entry)
    return found


def _back_matter_rows(corpus: Corpus, name: str,
                      rows: Callable[[segment_stage.SegmentedSource], list[Row]]) -> Parts:
    """A back-matter table (sources by id), each source's rows kept in the spill."""
    found = Parts(corpus.spill, name)
    segmented = corpus.segmented
    for source_id in sorted(segmented):
        found.add(source_id, rows(segmented[source_id]))
    return found


def _own_rows(corpus: Corpus) -> tuple[dict[str, Row], Parts, Parts]:
    """The rows of each source that follow from it alone: its row of ``sources`` (checked
    against its text: package.check_source_facts) by source id, and the ``removals`` and
    ``layout_traces`` tables (sources by id, each source's kept in the spill); through
    the cache, under the source's key."""
    source_rows: dict[str, Row] = {}
    removals = Parts(corpus.spill, "removals")
    traces = Parts(corpus.spill, "layout_traces")
    cache = corpus.cached.cache if corpus.cached is not None else None
    for b in sorted(corpus.builds, key=lambda b: b.source_id):
        entry = _reused(cache, "rows", b.source_id, b.key)
        if entry is None:
            entry = _made_meanwhile(corpus, b, "rows")
            if entry is None:
                entry = _own_source_rows(b)
            _put(corpus, "rows", b.source, {b.source_id: b.key}, entry)
        source_rows[b.source_id] = entry[0]
        removals.add(b.source_id, entry[1])
        traces.add(b.source_id, entry[2])
    return source_rows, removals, traces


def _own_source_rows(b: SourceBuild) -> tuple[Row, list[Row], list[Row]]:
    """A source's row of ``sources`` and its rows of ``removals`` and ``layout_traces``."""
    cleaned = {b.source_id: b.cleaned}
    return (package.source_rows([b.source], cleaned)[0], package.removal_rows(cleaned),
            package.layout_trace_rows(cleaned, {b.source_id: b.segmented}))


def _source_document_rows(build: SourceBuild, cache: cache_stage.BuildCache | None = None
                          ) -> list[Row]:
    """A source's rows of the documents table; with a ``cache``, the words of the pieces
    of its text counted by the build before are taken from it (``package.WordCounter``),
    and this build's kept there."""
    if not cache:
        return package.document_rows(build.segmented,
                                     {letter.letter_id: letter for letter in build.letters})
    key = _pieces_key("word-counts")
    known = cache.get("word-counts", build.source_id, key)
    made: dict[str, int] = {}
    rows = package.document_rows(build.segmented,
                                 {letter.letter_id: letter for letter in build.letters},
                                 (known if isinstance(known, dict) else {}, made))
    cache.put("word-counts", build.source_id, key, made)
    return rows


def export_tables(corpus: Corpus, files: Files) -> None:
    """data/<table>.csv and schema/<table>.json for every table."""
    for t in corpus.tables:
        write_chunks(files, t.path, package.csv_chunks(t))    # not held whole
        files[f"schema/{t.name}.json"] = schema_bytes("tables", f"{t.name}.json")


def _readings(build: SourceBuild, chosen: Callable[[str], bool] = lambda document_id: True
              ) -> Iterator[tuple[str, str]]:
    """(document id, reading text: the unit's text without its note marks) of each unit
    (each ``chosen`` unit)."""
    seg = build.segmented
    cuts = notes_stage.reading_cuts(seg.text, build.notes)
    units = [u for u in seg.units if chosen(u.document_id)]
    return zip((u.document_id for u in units), notes_stage.reading_texts(
        seg.text, ((u.start, u.end) for u in units), cuts), strict=True)


def export_texts(corpus: Corpus, files: Files) -> None:
    """originals/, each source's cleaned text and each unit's reading text (text/); the
    text files of each source through the cache, under the source's key."""
    cache = corpus.cached.cache if corpus.cached is not None else None
    for b in corpus.builds:
        files[package.original_path(b.source)] = b.source.original_bytes
        entry = _reused(cache, "texts", b.source_id, b.key)
        if entry is None:
            entry = {package.text_path(b.source_id): b.segmented.text.encode("utf-8")}
            entry.update((package.text_path(b.source_id, document_id), reading.encode("utf-8"))
                         for document_id, reading in _readings(b))
            _put(corpus, "texts", b.source, {b.source_id: b.key}, entry)
        files.update(entry)
        del entry


def export_tei(corpus: Corpus, files: Files) -> None:
    """tei/<source>.xml and tei/letters/<letter>.xml (E450), per source in the pool. One
    source's made in a child is taken when the descriptor needs it (the CMIF, the JSON
    Lines and the docs are made here meanwhile)."""
    work = corpus.tei_begun or _begin_tei(corpus, files)
    if work.in_child:
        corpus.tei_begun, work.deferred = work, True
        return
    corpus.tei_begun = None
    _take_tei(corpus, work, files)


def _take_tei(corpus: Corpus, work: _TeiWork, files: Files) -> None:
    """The TEI files made (``work``) into ``files`` and the cache; E450 if any failed."""
    failed = []
    for b, entry in zip(work.chosen, work.made(), strict=True):
        if isinstance(entry, PipelineError):
            failed.append(entry)
            continue
        encoded, parts = entry
        _put(corpus, "tei", b.source, work.keys, encoded)
        if parts is not None:
            _put(corpus, "tei-parts", b.source, {b.source_id: _pieces_key("tei-parts")}, parts)
        files.update(encoded)
    if corpus.pool is not None:     # the pool's last use: its workers' memory is let go
        corpus.pool.release()
    _raise_problems("tei", "E450", failed)


@dataclass
class _TeiWork:
    """The TEI files to make (``chosen``: the sources not cached), begun: ``made()``
    gives each one's files (or PipelineError) in order."""

    chosen: list[SourceBuild]
    keys: dict[str, str]
    made: Callable[[], Iterator[Any]]
    cancel: Callable[[], None] = lambda: None
    in_child: bool = False      # one source's, in a forked child
    deferred: bool = False      # export_tei left it to the descriptor


def _begin_tei(corpus: Corpus, files: Files) -> _TeiWork:
    """The cached sources' TEI files into ``files``; the others' begun: one source's
    (an edit to it) in a forked child (``_Forked``, with a pool: ``--jobs`` > 1) while
    this process goes on with the other exporters; several in the pool, when
    ``export_tei`` takes them (each source's files are written and dropped as they come:
    the TEI of the whole corpus is never held at once)."""
    builds = corpus.builds
    titles = frozenset().union(*(tei.bibliography_titles(b.segmented) for b in builds))
    persons, places, organisations = corpus.persons, corpus.places, corpus.organisations
    cache = corpus.cached.cache if corpus.cached is not None else None
    context = _tei_context(titles, corpus.meta, persons, places, organisations) \
        if cache else ""
    # each source's mentions read for its key alone (with a spill, one at a time)
    keys = {b.source_id: cache_stage.key(b.key, context, cache_stage.fingerprint(b.letters),
                                         cache_stage.fingerprint(mentions.wraps(b.mentions)))
            for b in builds} if cache else {}
    # The sources to make are those without an entry file: one (an edit) is begun in a
    # child before the others' entries are read and written out.
    todo = [i for i, b in enumerate(builds) if cache is None
            or not cache._path("tei", b.source_id, keys[b.source_id]).is_file()]
    if cache:   # each source's units' TEI elements, word counts and words in lower case
        cache.used.update(cache._path(stage, b.source_id, _pieces_key(stage))  # are kept
                          for b in builds  # for its next build
                          for stage in ("tei-parts", "word-counts", "name-words"))
    child = ahead = None
    if len(todo) == 1:
        b = builds[todo[0]]
        one = (b, titles, corpus.meta, persons, places, organisations,
               _tei_parts(cache, b.source_id))
        ahead = _tei_ahead(corpus, b, context)
        child = ahead.child if ahead is not None else None
        if child is None and corpus.pool is not None and _Forked.possible():
            child = _Forked(_Guarded(_encode_tei), *one)
    if corpus.ahead is not None:        # its TEI not wanted
        corpus.ahead.child.cancel()
        corpus.ahead = None
    if isinstance(cache, _HeldWrites):
        cache.flush()
    # Each source's files go to ``files`` as they are made (from the cache or the pool)
    # and are dropped: the TEI of the whole corpus is never held at once, nor are the
    # sources' results (a source's are read from the spill when it is encoded).
    unreadable = []
    for i, b in enumerate(builds):
        if i in todo:
            continue
        entry = _reused(cache, "tei", b.source_id, keys.get(b.source_id, ""))
        if entry is None:
            unreadable.append(i)
            continue
        files.update(entry)
        del entry
    if child is not None and not unreadable:
        def made(child: _Forked = child) -> Iterator[Any]:
            if ahead is not None:
                # its TEI files, sent before it keeps its units' elements in the cache (the
                # child is waited for when the build ends: export)
                sent, encoded = ahead.take(TEI)
                if sent:
                    corpus.to_wait.append(ahead.child)
                    return iter([encoded])
                ahead.child.cancel()
                return iter([_Guarded(_encode_tei)(*one)])
            return iter([child.result(lambda: _Guarded(_encode_tei)(*one))])

        return _TeiWork([builds[todo[0]]], keys, made, child.cancel, in_child=True)
    if child is not None:
        child.cancel()      # made with the others, in source order
    todo = sorted(todo + unreadable)
    chosen = [builds[i] for i in todo]
    return _TeiWork(chosen, keys, lambda: _lazily(
        corpus.pool, _Guarded(_encode_tei), chosen, repeat(titles), repeat(corpus.meta),
        repeat(persons), repeat(places), repeat(organisations),
        (_tei_parts(cache, b.source_id) for b in chosen)))


def export_cmif(corpus: Corpus, files: Files) -> None:
    """cmif.xml: every letter's correspDesc."""
    try:
        # written letter by letter (the letters are never one tree): its errors come as
        # it is written
        _run("package", "E450", write_chunks, files, "cmif.xml", cmif.cmif_chunks(
            corpus.letter_rows, corpus.persons, corpus.places, corpus.table("sources").rows,
            corpus.meta))
    except BuildFailed as failed:
        for problem in failed.problems:
            _in_dataset_toml(problem, corpus.sources_dir)
        raise


def export_jsonl(corpus: Corpus, files: Files) -> None:
    """letters.jsonl: each letter's row, reading text and notes."""
    write_chunks(files, "letters.jsonl", _letters_jsonl_chunks(corpus, files))


def _letters_jsonl_chunks(corpus: Corpus, files: Files | None = None) -> Iterator[bytes]:
    """letters.jsonl made a source at a time (a letter's units, notes and reading text are
    its source's): the corpus's reading texts and notes are never all held. The letters
    table lists each source's letters in reading order, sources by id. A letter's reading
    text is read back from its text file in ``files`` (export_texts) when given."""
    rows, documents = corpus.letter_rows, corpus.table("documents").rows
    assert isinstance(documents, Parts)
    at = 0
    for b in sorted(corpus.builds, key=lambda b: b.source_id):
        count = len(b.letters)
        if count:
            chosen = [row["letter_id"] for row in rows[at:at + count]]
            yield from package.letters_jsonl_chunks(
                rows[at:at + count],
                {i: files[package.text_path(b.source_id, i)].decode("utf-8") for i in chosen}
                if files is not None else dict(_readings(b, set(chosen).__contains__)),
                notes_stage.note_rows(b.notes),
                documents.part(b.source_id))
            at += count
    if not at:      # as the whole file is written without letters
        yield b"\n"


def export_docs(corpus: Corpus, files: Files) -> None:
    """The dataset's README.md and CITATION.cff, and the repository's CHANGELOG.md."""
    files["README.md"] = docs.readme(corpus.meta, corpus.tables, corpus.sources).encode("utf-8")
    files["CITATION.cff"] = docs.citation(corpus.meta).encode("utf-8")
    changelog = corpus.sources_dir.parent / "CHANGELOG.md"
    if changelog.is_file():
        files["CHANGELOG.md"] = changelog.read_bytes()


def export_descriptor(corpus: Corpus, files: Files) -> None:
    """datapackage.json (with every file's hash), then the build's marker file."""
    if corpus.tei_begun is not None:        # made in a child (export_tei)
        work, corpus.tei_begun = corpus.tei_begun, None
        _take_tei(corpus, work, files)
    # each table's bytes read back when the descriptor hashes it, not all held at once
    table_bytes = _ReadBack(files, {t.name: t.path for t in corpus.tables})
    files["datapackage.json"] = (json.dumps(package.descriptor(corpus.meta, corpus.tables,
                                                               table_bytes, files),
                                            indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    files[MARKER] = MARKER_TEXT.encode("utf-8")


class _ReadBack(Mapping[str, bytes]):
    """Files by another name (a table's by the table's), read from ``files`` when asked."""

    def __init__(self, files: Files, paths: dict[str, str]) -> None:
        self.files, self.paths = files, paths

    def __getitem__(self, name: str) -> bytes:
        return self.files[self.paths[name]]

    def facts(self, name: str) -> dict[str, Any]:
        """The file's hash and size, read in parts where ``files`` can (package.facts_of)."""
        return package.facts_of(self.files, self.paths[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


# (the progress step each reports under, exporter), in the order the files are made: the
# descriptor last, as it hashes the others.
EXPORTERS: tuple[tuple[str, Callable[[Corpus, Files], None]], ...] = (
    ("package", export_tables),
    ("package", export_texts),
    ("tei", export_tei),
    ("tei", export_cmif),
    ("tei", export_jsonl),
    ("tei", export_docs),
    ("tei", export_descriptor),
)


def _reused(cache: cache_stage.BuildCache | None, stage: str, source_id: str, entry_key: str,
            valid: Callable[[Any], bool] = lambda entry: True) -> Any | None:
    """The cache's entry, recorded as reused; None without a cache, without the entry, or
    when it is not ``valid``."""
    if not cache:
        return None
    entry = cache.get(stage, source_id, entry_key)
    if entry is None or not valid(entry):
        return None
    cache.reused.append((stage, source_id))
    return entry


def _put(corpus: Corpus, stage: str, source: Source, keys: dict[str, str], entry: Any) -> None:
    if corpus.cached is not None:
        corpus.cached.put(stage, source, keys, entry)


# --- helpers ------------------------------------------------------------------------------


def hyphen_locks(sources: list[Source], cleaned: Mapping[str, clean_stage.CleanedSource]
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


class _Pool:
    """A process pool for the per-source stages, made when it is first given work (a
    cached build may give it none: the pool's modules are then not even imported).

    On Linux the workers are forks of this process: they start at once, the pipeline
    already imported (a fork server or spawned workers import it first, which costs about
    what parallel work saves on the five sources). A worker only runs stage functions and
    answers through the pool's pipes: it never touches the locks of the CLI's progress
    thread. Elsewhere the workers are spawned.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: Executor | None = None

    def map(self, function: Callable[..., Any], *iterables: Any) -> Iterator[Any]:
        """``function`` over the iterables' items, the results in order, the workers
        started on the first call. Unlike ``Executor.map`` (which takes every item at
        once), at most two tasks per worker are given out ahead of the results taken:
        the items are taken, and the results held, only as the work goes."""
        executor = self._executor()
        pending: deque[Any] = deque()
        for arguments in zip(*iterables, strict=False):    # some may repeat forever
            pending.append(executor.submit(function, *arguments))
            if len(pending) >= 2 * self.workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def _executor(self) -> Executor:
        if self.executor is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            method = "fork" if sys.platform == "linux" else "spawn"
            # The objects made so far are left out of the cyclic collector's walks: a
            # forked worker's collections would otherwise write to each of them, copying
            # the pages it shares with this process (README, Performance: memory).
            gc.freeze()
            self.executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(method),
                initializer=_worker_init, initargs=(os.getpid(),))
        return self.executor

    def release(self) -> None:
        """Let the workers go (a later ``map`` starts new ones): a worker keeps the
        memory its tasks used, and the steps between the pool's uses run here."""
        if self.executor is not None:
            self.executor.shutdown()
            self.executor = None
            gc.unfreeze()       # cycles made before the fork are collected again


@contextlib.contextmanager
def _pool(jobs: int, tasks: int) -> Iterator[_Pool | None]:
    """A process pool for the per-source stages (``_Pool``), or None when one process
    will do.

    Workers end with their parent: on Linux each asks the kernel for SIGKILL when its
    parent dies (whatever killed it, SIGKILL included); when the build stops on an
    exception (a user error, SIGTERM turned into SystemExit by the CLI, Ctrl-C), queued
    work is cancelled and the workers are terminated rather than waited for.
    """
    if jobs <= 1 or tasks <= 1:
        yield None
        return
    pool = _Pool(min(jobs, tasks))
    try:
        yield pool
    except BaseException:
        if pool.executor is not None:
            pool.executor.shutdown(wait=False, cancel_futures=True)
            # No public API before Python 3.14 (Executor.terminate_workers).
            for process in list((getattr(pool.executor, "_processes", None) or {}).values()):
                process.terminate()
            gc.unfreeze()
        raise
    pool.release()


class _Forked:
    """``function(*args)`` in a forked child process while this one goes on (Linux): the
    child starts with this process's memory as it is, so nothing is pickled to it, only
    its result back (through a pipe, read by a thread here so that the child never waits
    on a full pipe). If the child gives no result (it was killed, or failed), the call
    is made here, when the result is asked for. With ``stream``, ``function`` yields its
    results one by one and each is read with ``next``, as soon as the child sends it."""

    @staticmethod
    def possible() -> bool:
        return sys.platform == "linux"

    def __init__(self, function: Callable[..., Any], *args: Any, stream: bool = False) -> None:
        import threading

        self.call = (function, args)
        self.messages: list[Any] = []
        self.taken = 0
        self.arrived = threading.Condition()
        self.ended = False
        self.status: int | None = None
        parent = os.getpid()
        read_end, write_end = os.pipe()
        gc.freeze()     # the child's collections would copy the pages it shares (_Pool)
        try:
            self.pid = os.fork()
        except OSError:     # no process to be had: the results are made here when asked
            gc.unfreeze()
            os.close(read_end)
            os.close(write_end)
            self.pid, self.ended, self.status = -1, True, 1
            return
        if self.pid == 0:                                   # the child
            status = 1
            try:
                os.close(read_end)
                _worker_init(parent)
                with os.fdopen(write_end, "wb") as out:
                    for item in function(*args) if stream else [function(*args)]:
                        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
                        out.write(len(data).to_bytes(8, "little") + data)
                        out.flush()
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self.reader = threading.Thread(target=self._read, args=(read_end,), daemon=True)
        self.reader.start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while len(size := pipe.read(8)) == 8:
                data = pipe.read(int.from_bytes(size, "little"))
                with self.arrived:
                    self.messages.append(data)
                    self.arrived.notify_all()
        with self.arrived:
            self.ended = True
            self.arrived.notify_all()

    def next(self) -> tuple[bool, Any]:
        """(True, the child's next result) once it has come, or (False, None) if the child
        ended without sending another."""
        with self.arrived:
            self.arrived.wait_for(lambda: self.ended or len(self.messages) > self.taken)
            if len(self.messages) == self.taken:
                return False, None
            data, self.messages[self.taken] = self.messages[self.taken], b""
            self.taken += 1
        try:
            return True, pickle.loads(data)
        except Exception:       # cut short (the child was killed while writing)
            return False, None

    def _wait(self) -> int:
        if self.status is None:
            self.reader.join()
            gc.unfreeze()
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status

    def result(self, otherwise: Callable[[], Any] | None = None) -> Any:
        """The child's (next) result; if it gave none, ``otherwise()``, by default the
        call made here."""
        sent, value = self.next()
        if self._wait() == 0 and sent:
            return value
        if otherwise is not None:
            return otherwise()
        function, args = self.call
        return function(*args)

    def cancel(self) -> None:
        """End the child, its result unwanted."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self._wait()


PR_SET_PDEATHSIG = 1


def _worker_init(parent_pid: int) -> None:
    """In a worker: die with the parent (Linux prctl PR_SET_PDEATHSIG), default signals."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if sys.platform == "linux":
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _lazily(pool: _Pool | None, function: Callable[..., Any], first: Sequence[Any],
            *args: Any) -> Iterator[Any]:
    """``function`` over each source's arguments, in source order, in the pool if any: the
    results one by one, as they are taken (each can be written and dropped). One task is
    run here: starting the workers for it costs more than it could save (a cached build
    with one source edited)."""
    if pool is None or len(first) <= 1:
        return map(function, first, *args)
    return iter(pool.map(function, first, *args))


# Whether ``_release_freed_memory`` trims the heap: in a build of a large corpus (one that
# spills, ``assemble``); a small one's peak is small, and each trim costs a millisecond.
_trim_heap = True


def _release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``): a
    source's TEI tree (libxml2) and the cleaning's passes are freed in large numbers of
    small blocks that glibc keeps otherwise, and the process's peak would hold them while
    it grows again (README, Performance). Elsewhere, and in the build of a small corpus
    (``_trim_heap``), nothing is done."""
    if not sys.platform.startswith("linux") or not _trim_heap:
        return
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):     # not glibc
        pass


def _vocabulary(source: Source) -> Counter[str]:
    """One source's word counts: the corpus vocabulary is their sum."""
    return clean_stage.source_vocabulary(source)


def _encode_tei(build: SourceBuild, titles: frozenset[str],
                meta: dict[str, Any], persons: list[dict[str, Any]],
                places: list[dict[str, Any]], organisations: Sequence[dict[str, Any]] = (),
                parts: Mapping[str, Any] | None = None
                ) -> tuple[dict[str, bytes], dict[str, Any] | None]:
    """One source's TEI files (a worker's task: the context is built where it is used;
    a spilled build's results are read there), and with ``parts`` (the units' elements
    an earlier build encoded, tei.UnitParts; None: no cache) those this build used."""
    source = build.source
    context = tei.SourceContext(source, build.cleaned, build.segmented, build.notes,
                                build.letters, titles)
    if parts is not None:
        context.parts = tei.UnitParts(parts)
    tei.add_wraps(context, mentions.wraps(build.mentions))  # names tagged (mentions.py)
    encoded = tei.encode_source(context, meta, package.original_path(source), persons, places,
                                organisations)
    made = context.parts.made if context.parts is not None else None
    del context
    _release_freed_memory()     # the source's TEI trees
    return encoded, made


def _lowercase_words(cache: cache_stage.BuildCache | None, b: SourceBuild
                     ) -> tuple[set[str] | None, dict[str, frozenset[str]]]:
    """The words of the source's text in lower case, as the name index reads them
    (``names.lowercase_words``), each piece's (between unit edges) taken from the cache's
    ``name-words`` entry where the build before found it; and every piece's, for the
    next. Without a cache: None (``NameIndex.find`` finds them)."""
    if not cache:
        return None, {}
    known = cache.get("name-words", b.source_id, _pieces_key("name-words"))
    made: dict[str, frozenset[str]] = {}
    seg = b.segmented
    words = lowercase_words(seg.text, (edge for u in seg.units for edge in (u.start, u.end)),
                            known if isinstance(known, dict) else {}, made)
    return words, made


def _pieces_key(stage: str) -> str:
    """The key of a source's entry of pieces of ``stage`` ("tei-parts": the units' TEI
    elements, tei.UnitParts; "word-counts"; "name-words"), each piece keyed within it by
    what it is made of: the pipeline's code."""
    return cache_stage.key(cache_stage.code_digest(), stage)


def _tei_parts(cache: cache_stage.BuildCache | None, source_id: str) -> dict[str, Any] | None:
    """A source's units' TEI elements from the cache (empty if none); None without one."""
    if not cache:
        return None
    found = cache.get("tei-parts", source_id, _pieces_key("tei-parts"))
    return found if isinstance(found, dict) else {}


def _summary(build: SourceBuild) -> dict[str, Any]:
    figures = build.cleaned.conservation()
    notes = notes_stage.summary(build.notes)
    return {"source_id": build.source_id, "chars_in": figures.chars_in,
            "chars_published": figures.chars_out, "removed": figures.removed,
            "inserted": {k: v for k, v in figures.inserted.items() if v},
            "unaccounted": figures.unaccounted, "units": len(build.segmented.units),
            "notes": notes["notes"], "notes_untied": notes["untied"],
            "note_anomalies": sum(notes["anomalies"].values()),
            "references": sum(notes["references"].values())}


CLEANED_LINE = re.compile(r"^(?P<unit>\S+) \(cleaned text line (?P<line>\d+)\): (?P<message>.*)$",
                          re.S)


def _at_original_line(problem: PipelineError, sources: list[Source],
                      cleaned: Mapping[str, clean_stage.CleanedSource]) -> None:
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


def _unknown_references(sources: list[Source], segmented: dict[str, Any],
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


# What the build puts in every dataset it writes, and how it recognises one it may replace:
