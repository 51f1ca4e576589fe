"""Clean stage: from an original text to a cleaned text plus a complete edit log.

Cleaning runs as a few passes. Each pass computes non-overlapping edits on its
input (start, end, replacement, reason) and applies them at once, so every
character removed or inserted is logged with its reason. Because each logged
edit keeps the text it removed, the original can be rebuilt from the cleaned
text and the log: that rebuild is the conservation check (``restore``).

Passes, in order:
  1. ``pages``      put pages back in reading order (a permutation, no loss)
  2. ``remove``     boilerplate blocks and page furniture named in source.toml
  3. ``whitespace`` trailing blanks, runs of blank lines, start/end of text
  4. ``join``       hard line wraps, line-end hyphens, paragraphs split by page breaks
  5. ``emend``      explicit emendations (sic -> corr) listed in source.toml

Everything source-specific comes from the ``[clean]`` table of source.toml.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .conventions import ALPHABETIC_WORD, literal_matches
from .errors import PipelineError
from .sources import Source, find, read_toml

# A paragraph ending in one of these is taken as complete; anything else followed
# by a paragraph starting in lowercase is a paragraph split by a page break.
TERMINAL = set(".?!:;\"'”’)]*…") | set("⁰¹²³⁴⁵⁶⁷⁸⁹")
DASHES = "–—"


@dataclass(frozen=True)
class Edit:
    """A change computed on one pass's input text."""

    start: int
    end: int
    replacement: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class AppliedEdit:
    """An edit once applied: where it was in the pass input and output, what it removed."""

    in_start: int
    out_start: int
    removed: str
    inserted: str
    reason: str
    detail: str

    @property
    def out_end(self) -> int:
        return self.out_start + len(self.inserted)


@dataclass(frozen=True)
class PageSegment:
    """One page of a reordered source: its place in the file and in reading order."""

    page: int  # 1-based, in file order; 0 for a blank tail after the last newline
    in_start: int
    out_start: int
    length: int


@dataclass(frozen=True)
class Emendation:
    """An editorial correction as applied: offsets are in the cleaned text."""

    start: int
    end: int
    sic: str
    corr: str
    reason: str


@dataclass(frozen=True)
class LogEntry:
    """One row of the removal log, located in the original file."""

    source_id: str
    original_offset: int
    original_line: int
    pass_name: str
    reason: str
    removed: str
    inserted: str
    detail: str


@dataclass
class Conservation:
    """Where every character of the original went."""

    chars_in: int
    chars_out: int
    removed: dict[str, int]
    inserted: dict[str, int]
    restored: bool

    @property
    def unaccounted(self) -> int:
        """Characters neither published nor logged (0 when conservation holds)."""
        balance = self.chars_in - sum(self.removed.values()) + sum(self.inserted.values())
        return abs(balance - self.chars_out) + (0 if self.restored else 1)


@dataclass
class CleanedSource:
    """The output of the clean stage for one source."""

    source_id: str
    text: str
    page_order: list[int]
    pages: list[PageSegment]
    passes: list[tuple[str, list[AppliedEdit]]]
    emendations: list[Emendation]
    original: str
    # Line-end hyphens decided from the corpus (what the lock records) and the locked
    # decisions the current corpus would decide otherwise.
    hyphen_decisions: list[dict[str, Any]] = field(default_factory=list)
    hyphen_drift: list[HyphenDrift] = field(default_factory=list)

    def log(self) -> list[LogEntry]:
        """The removal log, every entry located in the original file."""
        entries = []
        line_starts = [0] + [m.end() for m in re.finditer("\n", self.original)]
        # each pass's edit starts listed once, not once per edit mapped back through it
        out_starts = [[e.out_start for e in applied] for _, applied in self.passes]
        page_starts = [p.out_start for p in self.pages]
        for index, (name, applied) in enumerate(self.passes):
            for edit in applied:
                offset = self._to_original(edit.in_start, index, out_starts, page_starts)
                entries.append(LogEntry(
                    self.source_id, offset, bisect.bisect_right(line_starts, offset), name,
                    edit.reason, edit.removed, edit.inserted, edit.detail,
                ))
        return entries

    def layout_traces(self) -> list[int]:
        """Where the cleaner closed a layout trace (a wider gap between paragraphs of running
        text, ``LAYOUT_TRACE`` in the log): offsets in the cleaned text of the paragraph
        that follows each, in order."""
        names = [name for name, _ in self.passes]
        if "whitespace" not in names:
            return []
        index = names.index("whitespace")
        found: list[int] = []
        for edit in self.passes[index][1]:
            if edit.detail == LAYOUT_TRACE:
                position = edit.out_start
                for _, later in self.passes[index + 1:]:
                    position = _map_forward(position, later)
                if not found or found[-1] != position:
                    found.append(position)
        return found

    def _to_original(self, position: int, pass_index: int,
                     out_starts: list[list[int]] | None = None,
                     page_starts: list[int] | None = None) -> int:
        # Walk back through the passes before this one, then undo the page order.
        for index in range(pass_index - 1, -1, -1):
            applied = self.passes[index][1]
            position = _map_back(position, applied,
                                 out_starts[index] if out_starts is not None else None)
        if self.pages:
            starts = page_starts if page_starts is not None else [p.out_start
                                                                  for p in self.pages]
            seg = self.pages[max(0, bisect.bisect_right(starts, position) - 1)]
            position = seg.in_start + (position - seg.out_start)
        return position

    def conservation(self) -> Conservation:
        """Count characters in, out, removed and inserted, and check the rebuild (made once:
        the build reads it for its check and for its summary)."""
        made = self.__dict__.get("_conservation")
        if made is None:
            made = self.__dict__["_conservation"] = self._conservation()
        return made

    def _conservation(self) -> Conservation:
        removed: Counter[str] = Counter()
        inserted: Counter[str] = Counter()
        for _, applied in self.passes:
            for edit in applied:
                removed[edit.reason] += len(edit.removed)
                inserted[edit.reason] += len(edit.inserted)
        return Conservation(
            chars_in=len(self.original),
            chars_out=len(self.text),
            removed=dict(sorted(removed.items())),
            inserted=dict(sorted(inserted.items())),
            restored=restore(self) == self.original,
        )


def _map_back(position: int, applied: list[AppliedEdit],
              starts: list[int] | None = None) -> int:
    """Map a position in a pass's output to its input (``starts``: the edits' out_start)."""
    if starts is None:
        starts = [e.out_start for e in applied]
    i = bisect.bisect_right(starts, position) - 1
    if i < 0:
        return position
    edit = applied[i]
    if position < edit.out_end:
        return edit.in_start
    return edit.in_start + len(edit.removed) + (position - edit.out_end)


def _map_forward(position: int, applied: list[AppliedEdit]) -> int:
    """Map a position in a pass's input to its output (inside an edit: the edit's end)."""
    starts = [e.in_start for e in applied]
    i = bisect.bisect_right(starts, position) - 1
    if i < 0:
        return position
    edit = applied[i]
    if position < edit.in_start + len(edit.removed):
        return edit.out_end
    return edit.out_end + (position - edit.in_start - len(edit.removed))


def apply_edits(text: str, edits: Iterable[Edit]) -> tuple[str, list[AppliedEdit]]:
    """Apply non-overlapping edits at once; overlapping edits are a pipeline bug."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    out: list[str] = []
    applied: list[AppliedEdit] = []
    cursor = 0
    length = 0
    for edit in ordered:
        if edit.start < cursor:
            raise AssertionError(f"overlapping edits at offset {edit.start}: {edit}")
        out.append(text[cursor:edit.start])
        length += edit.start - cursor
        applied.append(AppliedEdit(edit.start, length, text[edit.start:edit.end],
                                   edit.replacement, edit.reason, edit.detail))
        out.append(edit.replacement)
        length += len(edit.replacement)
        cursor = edit.end
    out.append(text[cursor:])
    return "".join(out), applied


def restore(cleaned: CleanedSource) -> str:
    """Rebuild the original from the cleaned text and the log (the conservation proof)."""
    text = cleaned.text
    for _, applied in reversed(cleaned.passes):
        parts, cursor = [], 0
        for edit in applied:
            parts.append(text[cursor:edit.out_start])
            parts.append(edit.removed)
            cursor = edit.out_end
        parts.append(text[cursor:])
        text = "".join(parts)
    if cleaned.pages:
        by_file_order = sorted(cleaned.pages, key=lambda p: p.in_start)
        text = "".join(text[p.out_start:p.out_start + p.length] for p in by_file_order)
    return text


# --- pass 1: page order -------------------------------------------------------------

def reorder_pages(source: Source, text: str) -> tuple[str, list[int], list[PageSegment]]:
    """Put the pages of a source back in reading order, as source.toml records it.

    Every page must be used exactly once; otherwise the metadata is wrong.
    """
    spec = source.clean.get("pages")
    if not spec:
        return text, [], []
    where = str(source.metadata_path)
    try:
        marker = re.compile(spec["marker"], re.M)
    except (KeyError, re.error) as exc:
        raise PipelineError(f"page marker missing or not a regex: {exc}", file=where,
                            field="clean.pages.marker") from None
    # A last line without a newline (whitespace only, in a PDF extraction) stays at
    # the end, outside the pages, so that every page ends with a newline.
    body_end = text.rfind("\n") + 1
    if text[body_end:].strip():
        raise PipelineError("text after the last newline is not blank; cannot split pages",
                            file=where, field="clean.pages")
    starts = [m.start() for m in marker.finditer(text, 0, body_end)]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    bounds = list(zip(starts, starts[1:] + [body_end], strict=True))
    order = spec.get("order", [])
    count = len(bounds)
    if sorted(order) != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(order))
        doubled = sorted(n for n, c in Counter(order).items() if c > 1)
        unknown = sorted(n for n in order if not 1 <= n <= count)
        raise PipelineError(
            f"page order must use each of the {count} pages once "
            f"(missing {missing}, repeated {doubled}, out of range {unknown})",
            file=where, field="clean.pages.order")
    segments, parts, out = [], [], 0
    for page in order:
        start, end = bounds[page - 1]
        segments.append(PageSegment(page, start, out, end - start))
        parts.append(text[start:end])
        out += end - start
    if body_end < len(text):
        segments.append(PageSegment(0, body_end, out, len(text) - body_end))
        parts.append(text[body_end:])
    return "".join(parts), list(order), segments


# --- pass 2: removals ---------------------------------------------------------------

def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line including its newline."""
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((pos, pos + len(line)))
        pos += len(line)
    return spans


def removal_edits(source: Source, text: str) -> list[Edit]:
    """Edits for the blocks listed as ``[[clean.remove]]`` and the page markers."""
    where = str(source.metadata_path)
    spans = _line_spans(text)
    lines = [text[s:e].rstrip("\n") for s, e in spans]
    # each line's blanks folded once, not once per block, and the lines of each folded
    # form listed: a block's exact first and last lines are looked up, not compared with
    # every line
    folded = [" ".join(line.split()) for line in lines]
    numbers: dict[str, list[int]] = {}
    for n, line in enumerate(folded):
        numbers.setdefault(line, []).append(n)
    edits: list[Edit] = []
    for i, block in enumerate(source.clean.get("remove", [])):
        label = f"clean.remove[{i}]"
        reason = block.get("reason", "")
        if reason not in ("boilerplate", "page-furniture"):
            raise PipelineError("reason must be 'boilerplate' or 'page-furniture'", file=where,
                                field=f"{label}.reason")
        first, last = block.get("first_line"), block.get("last_line", block.get("first_line"))
        if not first:
            raise PipelineError("first_line is required", file=where, field=f"{label}.first_line")
        occurrence = int(block.get("occurrence", 1))
        hits = _matching_lines(folded, numbers, first)
        if len(hits) < occurrence:
            raise PipelineError(f"first_line {first!r} found {len(hits)} time(s), "
                                f"occurrence {occurrence} wanted", file=where,
                                field=f"{label}.first_line")
        begin = hits[occurrence - 1]
        ends = [n for n in _matching_lines(folded, numbers, last) if n >= begin]
        if not ends:
            raise PipelineError(f"last_line {last!r} not found after first_line", file=where,
                                field=f"{label}.last_line")
        edits.append(Edit(spans[begin][0], spans[ends[0]][1], "", reason, block.get("why", "")))
        for j, other in enumerate(edits[:-1]):  # nested blocks are fine; crossing ones are not
            new = edits[-1]
            if new.start < other.end and other.start < new.end and not (
                    other.start <= new.start and new.end <= other.end
                    or new.start <= other.start and other.end <= new.end):
                raise PipelineError(f"overlaps clean.remove[{j}] without holding it or lying "
                                    "inside it", file=where, field=f"{label}.first_line",
                                    code="E201")
    pages = source.clean.get("pages")
    if pages and pages.get("marker_is_furniture", False):
        for m in re.finditer(pages["marker"], text, re.M):
            if m.end() > m.start():
                edits.append(Edit(m.start(), m.end(), "", "page-furniture",
                                  "page-start marker of the PDF extraction"))
    return _drop_nested(edits)


def _matching_lines(folded: list[str], numbers: dict[str, list[int]], wanted: str
                    ) -> list[int]:
    """The lines (``folded``: blanks folded, no-break spaces included; ``numbers``: the
    lines of each folded form) that match a line named in source.toml, its blanks folded
    too: equal, or, for a name ending in '...', starting with what comes before it."""
    wanted = " ".join(wanted.split())
    if wanted.endswith("..."):
        prefix = wanted[:-3]
        return [n for n, line in enumerate(folded) if line.startswith(prefix)]
    return numbers.get(wanted, [])


def _drop_nested(edits: list[Edit]) -> list[Edit]:
    """Drop edits that fall wholly inside an earlier, larger removal."""
    kept: list[Edit] = []
    for edit in sorted(edits, key=lambda e: (e.start, -e.end)):
        if kept and edit.start < kept[-1].end:
            if edit.end <= kept[-1].end:
                continue
            raise AssertionError(f"removal blocks overlap at offset {edit.start}")
        kept.append(edit)
    return kept


# --- pass 3: whitespace -------------------------------------------------------------

# The log's detail for the blank lines of a layout trace (see ``_is_layout_trace``);
# ``CleanedSource.layout_traces`` finds them by it.
LAYOUT_TRACE = ("layout trace: blank lines between paragraphs of running text"
                " (a lost heading or section break)")
_STOPS, _CLOSERS = ".!?:;", "\"'”’)]"     # a sentence's end: a stop, maybe closed
_RUNNING_START = re.compile(r"^[\"'“‘(\[]*[A-Z0-9]")
RUNNING_LINE = 80   # characters: a shorter line may be a heading, a dateline, a signature


def _is_layout_trace(text: str, run_start: int, run_end: int) -> bool:
    """A run of two or more blank lines whose neighbours are both running text: lines of
    at least RUNNING_LINE characters, the one before ending a sentence and the one after
    starting one. Around headings, title pages and lists the gap is only spacing."""
    # the lines around the run, found without copying the text before and after it
    line_end = text.find("\n", run_end)
    before = text[text.rfind("\n", 0, run_start) + 1:run_start].replace("\0", "")
    after = text[run_end:len(text) if line_end == -1 else line_end].replace("\0", "")
    return (len(before) >= RUNNING_LINE and len(after) >= RUNNING_LINE
            and _ends_sentence(before) and bool(_RUNNING_START.match(after)))


def _ends_sentence(line: str) -> bool:
    """A line (no newline) ends a sentence when, its closing quotes and brackets aside,
    it ends in a stop (as a regex ending in ``$`` would say, without trying every position)."""
    bare = line.rstrip(_CLOSERS)
    return bool(bare) and bare[-1] in _STOPS


def whitespace_edits(text: str) -> list[Edit]:
    """Trailing blanks, blank-line runs longer than one, leading and trailing blank lines."""
    edits: list[Edit] = []
    parts, cursor = [], 0       # the text with each trailing blank as a NUL (one scan)
    for m in re.finditer(r"[ \t\u00a0\u2002\u2003\u2009]+(?=\n|\Z)", text):
        edits.append(Edit(m.start(), m.end(), "", "whitespace", "trailing blanks"))
        parts += [text[cursor:m.start()], "\0" * (m.end() - m.start())]
        cursor = m.end()
    stripped = "".join(parts) + text[cursor:]
    # Runs of newlines (ignoring blanks already removed): keep at most one blank line.
    for m in re.finditer(r"\n(?:\0*\n)+", stripped):
        if m.start() == 0 or m.end() == len(stripped):
            continue  # handled below with the start and end of the text
        if m.group().count("\n") <= 2:
            continue  # one blank line: kept
        newline_positions = [m.start() + i for i, ch in enumerate(m.group()) if ch == "\n"]
        # Between two paragraphs of running text a wider gap is a trace of the original's
        # layout (a lost heading, a section break): logged as such, never as mere spacing.
        detail = LAYOUT_TRACE if _is_layout_trace(stripped, m.start(), m.end()) \
            else "extra blank line"
        for pos in newline_positions[2:]:
            edits.append(Edit(pos, pos + 1, "", "whitespace", detail))
    lead = re.match(r"[\n\0]*", stripped)
    for pos in range(lead.end() if lead else 0):
        if stripped[pos] == "\n":
            edits.append(Edit(pos, pos + 1, "", "whitespace", "blank line at start"))
    tail = re.search(r"[\n\0]*\Z", stripped)
    assert tail is not None     # an empty run at the end always matches
    newlines = [p for p in range(tail.start(), len(stripped)) if stripped[p] == "\n"]
    if tail.start() > 0:
        for pos in newlines[1:]:
            edits.append(Edit(pos, pos + 1, "", "whitespace", "blank line at end"))
        if not newlines:
            edits.append(Edit(len(text), len(text), "\n", "whitespace", "final newline"))
    return edits


# --- pass 4: joins ------------------------------------------------------------------

def lowered_words(text: str) -> list[str]:
    """The text's words (``ALPHABETIC_WORD``), each lowercased, in order."""
    # The text lowered at once gives each word lowered, unless a letter's lower case is
    # longer ("İ") or depends on what follows the word (a capital sigma's)
    lowered = text.lower()
    if len(lowered) == len(text) and "Σ" not in text:
        return ALPHABETIC_WORD.findall(lowered)
    return [word.lower() for word in ALPHABETIC_WORD.findall(text)]


def vocabulary(texts: Iterable[str]) -> Counter[str]:
    """Word forms the corpus uses, lowercased, not counting halves of words broken at a line end."""
    counts: Counter[str] = Counter()
    for text in texts:
        # Every word counted at C speed, then the halves at each "-\n" taken off: the match
        # ending at it is the last of its line (a newline is never inside a match, so a
        # line's matches are the same scanned alone), the one after it starts the line.
        counts.update(lowered_words(text))
        halves: dict[int, str] = {}
        at = text.find("-\n")
        while at != -1:
            line_start = text.rfind("\n", 0, at) + 1
            # the last word of the line, if the hyphen ends it
            last = next(reversed(list(ALPHABETIC_WORD.finditer(text, line_start, at))), None)
            if last is not None and last.end() == at:
                halves[last.start()] = last.group()
            after = ALPHABETIC_WORD.match(text, at + 2)
            if after is not None:
                halves[at + 2] = after.group()
            at = text.find("-\n", at + 1)
        for word in halves.values():
            key = word.lower()
            counts[key] -= 1
            if not counts[key]:
                del counts[key]
    return counts


def source_vocabulary(source: Source) -> Counter[str]:
    """A source's word counts for the hyphen rule: its text in reading order with the
    boilerplate and page furniture named in source.toml left out (a web page's menus or
    a publisher's advertisements are not the corpus's usage)."""
    return vocabulary([_removed(source)[4]])


# The last source's first two passes: the cleaning of the source whose vocabulary was
# counted just before (an edit to one source) does not make them again.
_last_removed: list[tuple[Source, str, list[int], list[PageSegment], str,
                          list[AppliedEdit]]] = []


def _removed(source: Source) -> tuple[Source, str, list[int], list[PageSegment], str,
                                      list[AppliedEdit]]:
    """(source, its text in reading order, the order, the pages, that text with the
    removal edits applied, those edits as applied)."""
    if _last_removed and _last_removed[0][0] is source:
        return _last_removed[0]
    text, order, pages = reorder_pages(source, source.original)
    removed, applied = apply_edits(text, removal_edits(source, text))
    _last_removed[:] = [(source, text, order, pages, removed, applied)]
    return _last_removed[0]


def corpus_vocabulary(sources: Iterable[Source],
                      counts_of: Callable[[Source], Counter[str]] | None = None
                      ) -> Counter[str]:
    """The corpus vocabulary: the sum of every source's :func:`source_vocabulary` (or of
    ``counts_of``, which gives the same, e.g. kept from an earlier call)."""
    counts: Counter[str] = Counter()
    for source in sources:
        counts.update((counts_of or source_vocabulary)(source))
    return counts


HYPHEN_LOCK = "hyphens.lock.toml"
_LOCK_DECISIONS = ("join", "keep")


@dataclass(frozen=True)
class HyphenDrift:
    """A locked hyphen decision that the current corpus would decide otherwise."""

    line: int          # line of the hyphen in the original file
    form: str          # "left-|right"
    locked: str        # the published decision
    now: str           # what the corpus vocabulary says today
    basis: str         # today's counts


def load_hyphen_lock(source: Source) -> dict[int, dict[str, Any]]:
    """The source's recorded hyphen decisions by original line ({} without a lock file)."""
    path = source.folder / HYPHEN_LOCK
    if not path.is_file():
        return {}
    data = read_toml(path)
    entries = data.get("decision", [])
    locked: dict[int, dict[str, Any]] = {}
    if not isinstance(entries, list):
        raise PipelineError("decision must be an array of tables", file=str(path),
                            field="decision")
    for i, entry in enumerate(entries):
        label = f"decision[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("line"), int) \
                or not isinstance(entry.get("form"), str) or "-|" not in entry["form"] \
                or entry.get("decision") not in _LOCK_DECISIONS \
                or not isinstance(entry.get("basis"), str):
            raise PipelineError("each decision needs line (integer), form ('left-|right'), "
                                "decision ('join' or 'keep') and basis", file=str(path),
                                field=label)
        if entry["line"] in locked:
            raise PipelineError(f"line {entry['line']} recorded twice", file=str(path),
                                field=f"{label}.line")
        locked[entry["line"]] = entry
    return locked


def _toml_string(value: str) -> str:
    # A JSON string is a TOML basic string (same escapes, \\uXXXX included).
    return json.dumps(value, ensure_ascii=False)


def hyphen_lock_text(cleaned: CleanedSource) -> str | None:
    """The lock file recording a cleaned source's corpus hyphen decisions (None if none)."""
    if not cleaned.hyphen_decisions:
        return None
    lines = [
        f"# Line-end hyphens of source '{cleaned.source_id}' decided from the corpus vocabulary,",
        "# recorded when first decided (by `sergetrotsky build`). The build keeps these",
        "# decisions, so that adding a source cannot change this text; it warns (W601) when the",
        "# corpus would now decide one otherwise. To change a decision, list the form in",
        "# source.toml (hyphen_keep / hyphen_join) and rebuild. `line`: line in the original.",
        "decision = [",
    ]
    for d in sorted(cleaned.hyphen_decisions, key=lambda d: d["line"]):
        lines.append(f"  {{ line = {d['line']}, form = {_toml_string(d['lockable'])}, "
                     f"decision = \"{d['decision']}\", basis = {_toml_string(d['basis'])} }},")
    lines += ["]", ""]
    return "\n".join(lines)


@dataclass
class _HyphenRules:
    keep: set[str]
    join: set[str]
    suspended: set[str]
    vocab: Counter[str]
    used: set[str] = field(default_factory=set)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    # Corpus decisions recorded in the source's hyphens.lock.toml, by original line.
    locked: dict[int, dict[str, Any]] = field(default_factory=dict)
    drift: list[HyphenDrift] = field(default_factory=list)

    def decide(self, left: str, right: str, line: int | None = None) -> str:
        """Return 'join', 'keep' or 'suspended' for ``left-`` at a line end, ``right`` next.

        A decision that depends on the corpus vocabulary is taken from the lock when the
        lock records it for this line; if the corpus would now decide otherwise, that is
        noted as drift (the published text does not change without review).
        """
        key = f"{left}-{right}"
        for name, entries in (("keep", self.keep), ("join", self.join),
                              ("suspended", self.suspended)):
            if key in entries:
                self.used.add(key)
                return self._record(key, name, "listed in source.toml")
        if right[:1].isupper() or right[:1].isdigit():
            return self._record(key, "keep", "capital or digit after the hyphen")
        decision, basis = self._from_corpus(left, right)
        form = f"{left}-|{right}"
        locked = self.locked.get(line) if line is not None else None
        if locked is not None and line is not None and locked["form"] == form:
            if locked["decision"] != decision:
                self.drift.append(HyphenDrift(line, form, locked["decision"], decision, basis))
            decision, basis = locked["decision"], locked["basis"]
        return self._record(key, decision, basis, line=line, form=form)

    def _from_corpus(self, left: str, right: str) -> tuple[str, str]:
        key = f"{left}-{right}"
        joined = self.vocab[(left + right).lower()]
        hyphenated = self.vocab[key.lower()]
        if hyphenated > joined:
            return "keep", (f"corpus: '{key.lower()}' {hyphenated}x, "
                            f"'{(left + right).lower()}' {joined}x")
        if joined:
            return "join", (f"corpus: '{(left + right).lower()}' {joined}x, "
                            f"'{key.lower()}' {hyphenated}x")
        return "join", "neither form elsewhere in the corpus: soft hyphen"

    def _record(self, key: str, decision: str, basis: str, line: int | None = None,
                form: str = "") -> str:
        entry: dict[str, Any] = {"form": key, "decision": decision, "basis": basis}
        if form and line is not None:
            entry.update(line=line, lockable=form)   # a corpus decision: goes in the lock
        self.decisions.append(entry)
        return decision


_LEFT = re.compile(r"([^\W\d_]+)-$")
_RIGHT = re.compile(r"^[^\W\d_]+")


def _join_edit(text: str, gap_start: int, gap_end: int, rules: _HyphenRules,
               reason: str, locate: Callable[[int], int] | None = None) -> Edit:
    """The edit that joins the text before ``gap_start`` to the text after ``gap_end``.

    ``locate`` gives the original line of an offset (the key of the hyphen lock)."""
    before = text[max(0, gap_start - 60):gap_start]
    after = text[gap_end:gap_end + 60]
    left, right = _LEFT.search(before), _RIGHT.search(after)
    if left and right and not before.endswith("--"):
        decision = rules.decide(left.group(1), right.group(),
                                locate(gap_start - 1) if locate else None)
        basis = rules.decisions[-1]["basis"]
        if decision == "join":
            return Edit(gap_start - 1, gap_end, "", "hyphen",
                        f"{left.group(1)}-|{right.group()} joined ({basis})")
        if decision == "keep":
            return Edit(gap_start, gap_end, "", "hyphen",
                        f"{left.group(1)}-{right.group()} kept as compound ({basis})")
    if before[-2:-1].isdigit() and before.endswith(("–", "-")) and after[:1].isdigit():
        # A number range broken after its dash ("1882–" / "1962"): no space.
        return Edit(gap_start, gap_end, "", reason, "number range")
    return Edit(gap_start, gap_end, " ", reason, "")


def _in_place(prefixes: list[str]) -> tuple[str, ...] | None:
    """``prefixes`` as ``str.startswith`` takes them, when each can be tested in place at
    a line's start (one line, at most the 200 characters the line is read to otherwise):
    no copy of the line is made for each line end where none begins. Else None."""
    found = tuple(p for p in prefixes if p and "\n" not in p and len(p) <= 200)
    return found if len(found) == len(prefixes) else None


def join_edits(source: Source, text: str, vocab: Counter[str],
               locate: Callable[[int], int] | None = None,
               page_top_lines: set[int] | None = None) -> tuple[list[Edit], _HyphenRules]:
    """Join wrapped lines and split paragraphs, resolving line-end hyphens (corpus
    decisions from the source's hyphen lock where it records them)."""
    conf = source.clean
    where = str(source.metadata_path)
    rules = _HyphenRules(set(conf.get("hyphen_keep", [])), set(conf.get("hyphen_join", [])),
                         set(conf.get("hyphen_suspended", [])), vocab,
                         locked=load_hyphen_lock(source) if locate else {})
    keep_breaks = list(conf.get("keep_paragraph_break", []))
    force_joins = list(conf.get("join_paragraph", []))
    used_breaks: set[str] = set()
    edits: list[Edit] = []
    para_starts = list(conf.get("paragraph_break_before", []))
    page_tops = page_top_lines or set()

    def declared_break(at: int, start: str) -> Edit:
        # A paragraph the line end does not show: at the top of a page, or declared.
        used_breaks.add(start)
        if locate and locate(at) in page_tops:
            return Edit(at, at, "\n", "page-break", "paragraph begins at the top of a page")
        return Edit(at, at, "\n", "paragraph-break",
                    f"paragraph break declared before {start!r} (paragraph_break_before)")

    in_place = _in_place(para_starts)
    for m in re.finditer(r"(?<=[^\n])\n(?=[^\n])", text):
        if in_place is not None and not text.startswith(in_place, m.end()):
            start = None
        else:
            following = text[m.end():m.end() + 200].split("\n", 1)[0]
            start = next((p for p in para_starts if following.startswith(p)), None)
        if start:
            edits.append(declared_break(m.end(), start))
        elif conf.get("hard_wrapped"):
            edits.append(_join_edit(text, m.start(), m.end(), rules, "line-wrap", locate))
    if conf.get("rejoin_split_paragraphs"):
        listed_in_place = _in_place([*force_joins, *keep_breaks])
        for m in re.finditer(r"(?<=[^\n])\n\n(?=[^\n])", text):
            last_char = text[m.start() - 1]
            if listed_in_place is not None and not text.startswith(listed_in_place, m.end()):
                forced = kept = None
            else:
                following = text[m.end():m.end() + 200].split("\n", 1)[0]
                forced = next((p for p in force_joins if following.startswith(p)), None)
                kept = next((p for p in keep_breaks if following.startswith(p)), None)
            if forced:
                used_breaks.add(forced)
            elif kept:
                used_breaks.add(kept)
                continue
            elif last_char in TERMINAL or last_char in DASHES or not text[m.end()].islower():
                continue
            edits.append(_join_edit(text, m.start(), m.end(), rules, "page-break", locate))
    for heading in conf.get("run_in_headings", []):
        # A heading the web extraction ran into its paragraph ("Prison and Exile The
        # authorities..."): restore the paragraph break after it.
        hits = list(literal_matches(re.compile(rf"(?:^|(?<=\n\n)){re.escape(heading)}( )"),
                                    heading + " ", text))
        if len(hits) != 1:
            raise PipelineError(f"run-in heading {heading!r} found {len(hits)} time(s) at a "
                                "paragraph start, 1 expected", file=where,
                                field="clean.run_in_headings")
        edits.append(Edit(hits[0].start(1), hits[0].end(1), "\n\n", "run-in-heading",
                          f"paragraph break restored after the heading {heading!r}"))
    stale = {
        "hyphen_keep": sorted(rules.keep - rules.used),
        "hyphen_join": sorted(rules.join - rules.used),
        "hyphen_suspended": sorted(rules.suspended - rules.used),
        "keep_paragraph_break": sorted(set(keep_breaks) - used_breaks),
        "join_paragraph": sorted(set(force_joins) - used_breaks),
        "paragraph_break_before": sorted(set(para_starts) - used_breaks),
    }
    what = {
        "hyphen_keep": "no line ends in the first part with the rest on the next line",
        "hyphen_join": "no line ends in the first part with the rest on the next line",
        "hyphen_suspended": "no line ends in the first part with the rest on the next line",
        "keep_paragraph_break": "no paragraph the rule would join begins with it"
        + ("" if conf.get("rejoin_split_paragraphs") else
           " (the rule runs only with rejoin_split_paragraphs = true)"),
        "join_paragraph": "no paragraph after a blank line begins with it"
        + ("" if conf.get("rejoin_split_paragraphs") else
           " (the rule runs only with rejoin_split_paragraphs = true)"),
        "paragraph_break_before": "no line that follows a single line end begins with it (a "
        "blank line already separates it from the line before, or the words differ from the "
        "text)",
    }
    for name, entries in stale.items():
        if entries:
            raise PipelineError(f"never applied: {entries}; {what[name]}", file=where,
                                field=f"clean.{name}")
    return edits, rules


# --- pass 5: emendations ------------------------------------------------------------

def emendation_edits(source: Source, text: str) -> list[Edit]:
    """Edits for ``[[clean.emendations]]``: each sic must occur as often as declared."""
    where = str(source.metadata_path)
    edits: list[Edit] = []
    for i, item in enumerate(source.clean.get("emendations", [])):
        label = f"clean.emendations[{i}]"
        sic, corr, reason = item.get("sic"), item.get("corr"), item.get("reason")
        if not sic or corr is None or not reason:
            raise PipelineError("each emendation needs sic, corr and reason", file=where,
                                field=label)
        hits = list(literal_matches(re.compile(rf"(?<![^\W_]){re.escape(sic)}(?![^\W_])"),
                                    sic, text))
        expected = int(item.get("count", 1))
        if len(hits) != expected:
            raise PipelineError(f"sic {sic!r} occurs {len(hits)} time(s) in the cleaned text, "
                                f"{expected} declared", file=where, field=f"{label}.sic")
        for m in hits:
            clash = next((e for e in edits if m.start() < e.end and e.start < m.end()), None)
            if clash:
                overlapped = text[clash.start:clash.end]
                raise PipelineError(f"sic {sic!r} overlaps {overlapped!r}, the sic of another "
                                    "emendation; write one for the whole span",
                                    file=where, field=f"{label}.sic", code="E202")
            edits.append(Edit(m.start(), m.end(), corr, "emendation", reason))
    return edits


# --- the stage ----------------------------------------------------------------------

def clean(source: Source, vocab: Counter[str] | None = None) -> CleanedSource:
    """Clean one source. ``vocab`` is the corpus vocabulary used to resolve hyphens."""
    original = source.original
    if vocab is None:
        vocab = source_vocabulary(source)
    _, _, order, pages, text, applied = _removed(source)
    _last_removed.clear()       # its texts are not kept beyond the source's cleaning
    passes: list[tuple[str, list[AppliedEdit]]] = []

    passes.append(("remove", applied))
    text, applied = apply_edits(text, whitespace_edits(text))
    passes.append(("whitespace", applied))
    so_far = CleanedSource(source.source_id, text, order, pages, list(passes), [], original)
    line_starts = [0] + [m.end() for m in re.finditer("\n", original)]

    def locate(position: int) -> int:
        offset = so_far._to_original(position, len(so_far.passes))
        return bisect.bisect_right(line_starts, offset)

    page_tops = {bisect.bisect_right(line_starts, p.in_start) for p in pages if p.page}
    joins, rules = join_edits(source, text, vocab, locate, page_tops)
    text, applied = apply_edits(text, joins)
    passes.append(("join", applied))
    text, applied = apply_edits(text, emendation_edits(source, text))
    passes.append(("emend", applied))
    emendations = [Emendation(e.out_start, e.out_end, e.removed, e.inserted, e.detail)
                   for e in applied]
    return CleanedSource(source.source_id, text, order, pages, passes, emendations, original,
                         hyphen_decisions=[d for d in rules.decisions if "lockable" in d],
                         hyphen_drift=rules.drift)


def clean_one(sources: list[Source], source_id: str) -> CleanedSource:
    """Clean one source of a corpus, against the vocabulary of the whole corpus."""
    return clean(find(sources, source_id), corpus_vocabulary(sources))


def clean_all(sources: list[Source]) -> dict[str, CleanedSource]:
    """Clean every source against the vocabulary of the whole corpus."""
    vocab = corpus_vocabulary(sources)
    return {s.source_id: clean(s, vocab) for s in sources}

