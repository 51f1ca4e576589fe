"""Check a contribution before it is sent: one source folder, with the rest of its corpus.

``sergetrotsky validate sources/<id>`` (a folder holding ``source.toml``) runs here. It
reads the folder's metadata, then dry-builds that source together with the other sources
of the folder it sits in (clean, segment, notes, letters), writing nothing, and reports:

- located, coded problems (``E6xx`` errors, ``W6xx`` warnings, documented in
  docs/validation-codes.md), each with its file, line when it can be found, and field;
- the figures a reviewer reads: characters in, published, removed and inserted by reason,
  unaccounted (must be 0); units by type; letters; persons and places the source refers
  to, and which of them no other source uses (what it adds to the registry); the hyphen
  decisions it would record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import clean as clean_stage
from . import letters as letters_stage
from . import notes as notes_stage
from . import registry
from . import segment as segment_stage
from .errors import BuildFailed, PipelineError
from .sources import Source, load_source, locate

# One located problem, as the dataset validator renders it (CODE file:line field F: message).
from .validate import Problem as Finding

SOURCE_FILE = "source.toml"

# Codes of this check (E600-E699 / W600-W699); the W60x of the hyphen lock are also
# printed by `sergetrotsky build`.
CODES = {
    "E601": "The source's metadata cannot be read or breaks a rule"
            " (source.toml, segment.toml, letters.toml).",
    "E602": "A cleaning rule of [clean] does not match the text, or is stale.",
    "E603": "Text conservation fails: characters neither published nor logged.",
    "E604": "The segmentation outline does not match the cleaned text.",
    "E605": "The notes of the source cannot be read.",
    "E606": "A letter of the source cannot be read.",
    "E607": "A person or place the source names is not in the registry, or the registry is broken.",
    "E608": "The hyphen lock file (hyphens.lock.toml) cannot be read.",
    "E610": "Another source of the corpus cannot be loaded, so the dry build cannot run.",
    "W601": "A locked line-end hyphen decision is one the current corpus would now take otherwise.",
    "W602": "Line-end hyphen decisions not yet recorded in hyphens.lock.toml.",
    "W603": "A decision recorded in hyphens.lock.toml is no longer decided from the corpus.",
}

@dataclass
class Report:
    """What checking one source folder found: problems and figures."""

    folder: Path
    findings: list[Finding] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


def is_source_folder(path: Path) -> bool:
    """A source folder is recognised by its source.toml."""
    return path.is_dir() and (path / SOURCE_FILE).is_file()


def _finding(code: str, exc: PipelineError, folder: Path, own_code: bool = True) -> Finding:
    """A finding for one located error: its own code (the build's catalogue) when it has
    one and ``own_code``, else ``code``, the family of the step that failed."""
    path = Path(exc.file) if exc.file else folder / SOURCE_FILE
    if path.is_dir():
        path = path / SOURCE_FILE if (path / SOURCE_FILE).is_file() else path
    # the line of the field in its TOML file, found as the build finds it
    line = locate(PipelineError(exc.message, str(path), exc.line, exc.field)).line
    return Finding((own_code and exc.code) or code, str(path), exc.message, line=line,
                   field=exc.field)


def _findings(code: str, exc: PipelineError, folder: Path,
              own_code: bool = True) -> list[Finding]:
    """Every problem an error carries (a stage's BuildFailed holds several)."""
    problems = exc.problems if isinstance(exc, BuildFailed) else [exc]
    return [_finding(code, problem, folder, own_code) for problem in problems]


@dataclass
class _Read:
    """Source folders loaded and their word counts, kept for the checks of one call
    (``check_sources``): the folders of one corpus are read and counted once."""

    loaded: dict[Path, Source | PipelineError] = field(default_factory=dict)
    counted: dict[Path, Counter[str]] = field(default_factory=dict)

    def source(self, folder: Path) -> Source:
        if folder not in self.loaded:
            try:
                self.loaded[folder] = load_source(folder)
            except PipelineError as exc:
                self.loaded[folder] = exc
        found = self.loaded[folder]
        if isinstance(found, PipelineError):
            raise found
        return found

    def counts(self, source: Source) -> Counter[str]:
        """``clean.source_vocabulary``, made once a source."""
        if source.folder not in self.counted:
            self.counted[source.folder] = clean_stage.source_vocabulary(source)
        return self.counted[source.folder]


def check_sources(folders: list[Path]) -> list[Report]:
    """``check_source`` of each folder; the folders of a corpus read and counted once."""
    read = _Read()
    return [check_source(folder, read) for folder in folders]


def check_source(folder: Path, read: _Read | None = None) -> Report:
    """Check one source folder with its corpus (the folder it sits in); write nothing."""
    folder = Path(folder)
    read = read or _Read()
    report = Report(folder)
    findings = report.findings
    try:
        source = read.source(folder)
    except PipelineError as exc:
        findings += _findings("E601", exc, folder)
        return report
    corpus_dir = folder.parent
    others: list[Source] = []
    for path in sorted(p for p in corpus_dir.iterdir() if p.is_dir()
                       and not p.name.startswith((".", "_")) and p.name != folder.name):
        try:
            if is_source_folder(path):
                others.append(read.source(path))
        except PipelineError as exc:
            findings += _findings("E610", exc, path, own_code=False)
            return report
    corpus = sorted(others + [source], key=lambda s: s.source_id)

    def stage(code: str, run: Callable[[], Any]) -> Any:
        try:
            return run()
        except PipelineError as exc:
            findings.extend(_findings(code, exc, folder))
            return None

    try:
        clean_stage.load_hyphen_lock(source)
    except PipelineError as exc:
        findings.append(_finding("E608", exc, folder))
        return report
    vocab = stage("E602", lambda: clean_stage.corpus_vocabulary(corpus, read.counts))
    if vocab is None:
        return report
    cleaned = stage("E602", lambda: clean_stage.clean(source, vocab))
    if cleaned is None:
        return report
    figures = cleaned.conservation()
    report.figures.append(
        f"characters: {figures.chars_in} in, {figures.chars_out} published, "
        f"{sum(figures.removed.values())} removed, {sum(figures.inserted.values())} inserted, "
        f"{figures.unaccounted} unaccounted")
    report.figures.append("removed by reason: " + (", ".join(
        f"{r} {n}" for r, n in figures.removed.items() if n) or "none"))
    if figures.unaccounted:
        findings.append(Finding("E603", str(source.metadata_path),
                                f"{figures.unaccounted} character(s) neither published nor "
                                "logged", field="clean"))
    from .build import hyphen_locks  # the same warnings as the build's
    for warning in hyphen_locks([source], {source.source_id: cleaned})[1]:
        code, rest = warning.split(" ", 1)
        where, message = rest.split(": ", 1)
        file_name, _, line = where.rpartition(":")
        if not line.isdigit():
            file_name, line = where, ""
        findings.append(Finding(code, file_name, message,
                                line=int(line) or None if line else None))
    report.figures.append(f"hyphen decisions from the corpus: {len(cleaned.hyphen_decisions)}"
                          f" ({sum(d['decision'] == 'join' for d in cleaned.hyphen_decisions)}"
                          " joined)")
    seg = stage("E604", lambda: segment_stage.segment(source, cleaned))
    if seg is None:
        return report
    from .tei import front_roles  # the title and byline the outline declares
    stage("E604", lambda: front_roles(source, seg))
    types = Counter(u.type for u in seg.units)
    report.figures.append(f"units: {len(seg.units)} (" + ", ".join(
        f"{t} {n}" for t, n in sorted(types.items())) + ")")
    found = stage("E605", lambda: notes_stage.extract_notes(source, seg))
    if found is not None:
        summary = notes_stage.summary(found)
        report.figures.append(f"notes: {summary['notes']} ({summary['untied']} not tied to a "
                              f"mark), cross-references: {sum(summary['references'].values())}")
    persons = stage("E607", lambda: registry.load_persons(corpus_dir))
    places = stage("E607", lambda: registry.load_places(corpus_dir))
    if persons is None or places is None:
        return report
    _check_registry(source, seg, persons, places, findings)
    reading = stage("E606", lambda: letters_stage.read_letters(source, seg, persons, places,
                                                               found))
    letters: list[Any] = []
    if reading is not None:
        letters = reading.letters
        for problem in reading.problems:
            findings.append(Finding("E606", str(source.outline_path),
                                    f"{problem.message} (cleaned text line {problem.line})",
                                    field=problem.letter_id))
    report.figures.append(f"letters: {len(letters)}" + (
        " (" + ", ".join(letter.letter_id for letter in letters[:5])
        + (", ..." if len(letters) > 5 else "") + ")" if letters else ""))
    report.figures += _registry_figures(source, seg, letters, others, persons, places)
    return report


def _check_registry(source: Source, seg: Any, persons: list[dict[str, Any]],
                    places: list[dict[str, Any]], findings: list[Finding]) -> None:
    person_ids = {p["person_id"] for p in persons}
    place_ids = {p["place_id"] for p in places}
    for unit in seg.units:
        for value, known, what, key in ((unit.author_id, person_ids, "persons", "author"),
                                        (unit.place_id, place_ids, "places", "place")):
            if value and value not in known:
                path = source.outline_path
                findings.append(Finding(
                    "E607", str(path), f"unit {unit.document_id}: {key} {value!r} is not in "
                    f"sources/_registry/{what}.toml", line=_line_with(path, value),
                    field=f"segment.units.{key}"))


def _line_with(path: Path, value: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if f'"{value}"' in line:
            return number
    return None


def _registry_figures(source: Source, seg: Any, letters: list[Any], others: list[Source],
                      persons: list[dict[str, Any]], places: list[dict[str, Any]]) -> list[str]:
    """Persons and places this source refers to, and those that no other source's
    metadata names (what the contribution brings to the registry)."""
    used_persons = {u.author_id for u in seg.units if u.author_id}
    used_places = {u.place_id for u in seg.units if u.place_id}
    for letter in letters:
        used_persons |= {letter.sender_id, letter.addressee_id} - {""}
        used_places |= {letter.place_id} - {""}
    elsewhere = "\n".join(
        p.read_text(encoding="utf-8") for o in others
        for p in (o.folder / "segment.toml", o.folder / "letters.toml", o.metadata_path)
        if p.is_file())
    new_persons = sorted(p for p in used_persons if f'"{p}"' not in elsewhere)
    new_places = sorted(p for p in used_places if f'"{p}"' not in elsewhere)
    return [
        f"persons named: {len(used_persons)}"
        + (
            f" (named by no other source's metadata: {', '.join(new_persons)})"
            if new_persons
            else ""
        ),
        f"places named: {len(used_places)}"
        + (
            f" (named by no other source's metadata: {', '.join(new_places)})" if new_places else ""
        ),
    ]
