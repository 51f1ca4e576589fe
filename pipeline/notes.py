"""Notes stage: a book's notes, the marks that call them, and its cross-references.

The structure comes from the unit tree: each ``notes`` unit without ``notes``
sub-units is a list of notes ("N. text", one a line), and belongs to the chapter
that holds it or, for notes gathered at the back of a book, to the chapter its
heading names ("Chapter 2: The Correspondence" → the chapter printed "2 ..."). The
chapter's text (its span less any notes list inside it) is searched for call marks:
superscript digits ("Michel²⁷", "iron ²⁶"), the markup ``^{35}`` / ``^{*35}``, and a
bare asterisk ("journal*") for an author's note printed in the text as a paragraph
"* A monthly". ``*italics*`` pairs are not marks.

Every printed note becomes one ``Note``, tied to the deepest unit whose text carries
its mark. Nothing is renumbered or invented: what does not fit (a note with no mark,
a mark with no note, a gap or a repeat in the numbering, a mark out of sequence) is
a ``NoteAnomaly`` row. Cross-references to letters ("Letter 13", "Letters 12 and 13",
"Letter 24 in Chapter 2") and chapters ("see Chapter 4 below") are resolved only
when the target's number is printed in its heading and exactly one unit fits.

Per-source patterns can be changed in an optional ``[notes]`` table of source.toml
(keys in ``DEFAULTS``); everything else comes from the outline.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from .conventions import ITALIC, NOTE_MARK, SUPERSCRIPTS, literal_matches, strip_marks
from .errors import PipelineError
from .segment import SegmentedSource, Unit, paragraphs
from .sources import Source

# Regexes a source may override in its [notes] table; each needs the named groups shown.
DEFAULTS: dict[str, str] = {
    # a line of a notes list: "27. Translation of ..." (leading blanks allowed)
    "note_line": r"^[ \t]*(?P<n>\d+)\.[ \t]+(?P<text>\S.*)$",
    # the heading of a notes list gathered at the back: "Chapter 2: The Correspondence"
    "list_heading": r"^Chapter\s+(?P<n>\d+)\b",
    # a chapter heading that prints its number: "2 The Correspondence", "Chapter 2 ..."
    "chapter_heading": r"^(?:Chapter\s+)?(?P<n>\d+)\b",
    # a letter heading that prints its number: "Letter 12: Serge to Trotsky ..."
    "letter_heading": r"^Letter\s+(?P<n>\d+)\b",
    # an unnumbered letter a note can name: "Prefatory letter: Serge to Sedov ..."
    "prefatory_heading": r"^Prefatory\s+letter\b",
    # the mark of an author's note in a numbered note's text: "[Serge's note.]"
    "author_note": r"\[[^\[\]]*['’]s\s+note\.?\]",
    # a paragraph that is an author's note printed in the text: "* A monthly"
    "asterisk_note": r"^\*[ \t]+(?P<text>\S)",
}
REQUIRED_GROUPS = {"note_line": {"n", "text"}, "list_heading": {"n"}, "chapter_heading": {"n"},
                   "letter_heading": {"n"}, "asterisk_note": {"text"}}
ANOMALY_KINDS = ("note_without_mark", "mark_without_note", "numbering_gap", "duplicate_note",
                 "duplicate_mark", "mark_out_of_order", "stray_text")
MARK = re.compile(r"\^\{(?P<star>\*?)(?P<num>\d*)\}|(?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
LINE = re.compile(r"[^\n]+")
# A markdown-style italic pair: opens before a non-blank, closes after one, one line.
NUMBERS = r"\d+(?:\s*(?:,|and|&|–|-|to)\s*\d+)*"
LETTER_REF = re.compile(
    rf"\b(?:(?P<one>[Ll]etter)\s+(?P<n>\d+)(?!\d|[./]\d)|(?P<many>[Ll]etters)\s+(?P<ns>{NUMBERS}))"
    r"(?P<where>\s+in\s+[Cc]hapter\s+(?P<ch>\d+))?")
PREFATORY_REF = re.compile(r"\b[Pp]refatory\s+[Ll]etter\b")
CHAPTER_REF = re.compile(r"\b[Cc]hapters?\s+(?P<ns>\d+(?:\s*(?:,|and|&)\s*\d+)*)(?!\d|[./]\d)")
# Context that makes a "Letter N" / "Chapter N" another work's: "Chapter 3 of *History*",
# "*History*, chapter 3". "of this volume", "in Chapter 2" stay ours.
FOREIGN_AFTER = re.compile(r"\s*,?\s*(?:of|in|from)\s+(?!(?:this|the\s+present|these|[Cc]hapter)\b)"
                           r"(?:the\s+)?(?:\*|[A-Z])")
FOREIGN_BEFORE = re.compile(r"\*[^*\n]+\*\s*,\s*(?:vol\.\s*\w+\s*,\s*)?$")


@dataclass(frozen=True)
class NoteCall:
    """A call mark in a chapter's text, as printed."""

    chapter_id: str
    n: int | None        # the printed number; None for a bare asterisk
    star: bool           # an asterisk: the call of an author's note printed in the text
    mark: str            # as printed: "²⁷", "^{*35}", "*"
    offset: int          # in the source's cleaned text
    document_id: str     # the deepest unit whose text carries the mark


@dataclass(frozen=True)
class Note:
    """One printed note, with the mark that calls it (None when no mark was found)."""

    note_id: str
    source_id: str
    chapter_id: str
    n: int | None        # as printed; None for an unnumbered author's note ("* A monthly")
    text: str            # as printed, italics markup kept
    kind: str            # "editorial" or "author"
    printed_in_id: str   # the unit where the note's text is printed
    text_offset: int     # where the note's text starts in the cleaned text
    call: NoteCall | None = None

    @property
    def ref_document_id(self) -> str:
        """The unit whose text carries the note's mark; empty when no mark was found."""
        return self.call.document_id if self.call else ""

    @property
    def truncated(self) -> bool:
        """Does the editor's note end mid-sentence (cut short by the ebook's notes list)?
        See ``is_truncated``; an author's note printed in the text is never cut."""
        return self.kind == "editorial" and is_truncated(self.text)


# A note whose text, italics markup left aside, ends without one of these ends
# mid-sentence: the ebook cut it short. (The rule is stated in schema/tables/notes.json.)
SENTENCE_END = re.compile(r"[.!?…)\]]$")
CLOSING_QUOTES = {"”": "“", "’": "‘", "'": "'", '"': '"'}
TRUNCATED_RULE = ("an editor's note whose text, without its italics markup (*) and final "
                  "blanks, does not end with a full stop, '!', '?', '…', a closing bracket, "
                  "or a quotation mark that closes a quotation opened in the note")


def _closes_a_quotation(text: str) -> bool:
    """Does the text end with a quotation mark that closes one opened in it ("… 'Mer
    blanche'") rather than an apostrophe ("in Blum'")?"""
    last = text[-1:]
    opening = CLOSING_QUOTES.get(last)
    if opening is None:
        return False
    if opening == last:                     # straight quotes: an even count
        return text.count(last) >= 2 and text.count(last) % 2 == 0
    return text.count(opening) >= text.count(last)


def is_truncated(text: str) -> bool:
    """True when a note's text ends mid-sentence (``TRUNCATED_RULE``)."""
    bare = text.rstrip().rstrip("*").rstrip()
    return not (SENTENCE_END.search(bare) or _closes_a_quotation(bare))


@dataclass(frozen=True)
class NoteAnomaly:
    """Something in the notes or marks that does not fit; recorded, never repaired."""

    source_id: str
    chapter_id: str
    n: int | None
    kind: str            # one of ANOMALY_KINDS
    offset: int          # of the mark, note or text concerned, in the cleaned text
    detail: str


@dataclass(frozen=True)
class CrossReference:
    """A reference from a note or a unit's text to a letter or chapter of the same source."""

    source_id: str
    from_id: str         # a note_id or a document_id
    to_id: str           # a document_id; empty when the reference was left unresolved
    kind: str            # "letter" or "chapter"
    as_written: str
    offset: int          # in the cleaned text
    detail: str = ""     # why an unresolved reference was left alone


@dataclass
class NotesResult:
    """The output of the notes stage for one source."""

    source_id: str
    notes: list[Note] = field(default_factory=list)
    calls: list[NoteCall] = field(default_factory=list)
    anomalies: list[NoteAnomaly] = field(default_factory=list)
    references: list[CrossReference] = field(default_factory=list)
    unresolved: list[CrossReference] = field(default_factory=list)
    chapters: dict[str, str] = field(default_factory=dict)  # chapter_id -> notes list unit id


# --- configuration ------------------------------------------------------------------

def notes_config(source: Source) -> dict[str, re.Pattern[str]]:
    """The compiled patterns for a source: DEFAULTS overridden by its ``[notes]`` table."""
    where = str(source.metadata_path)
    table = source.extra.get("notes", {})
    if not isinstance(table, dict):
        raise PipelineError("must be a table", file=where, field="notes")
    unknown = set(table) - set(DEFAULTS)
    if unknown:
        raise PipelineError(f"unknown keys {sorted(unknown)} (allowed: {', '.join(DEFAULTS)})",
                            file=where, field="notes")
    compiled = {}
    for key, default in DEFAULTS.items():
        value = table.get(key, default)
        if not isinstance(value, str):
            raise PipelineError("must be a string (a regular expression)", file=where,
                                field=f"notes.{key}")
        try:
            pattern = re.compile(value, re.M)
        except re.error as exc:
            raise PipelineError(f"not a regular expression: {exc}", file=where,
                                field=f"notes.{key}") from None
        missing = REQUIRED_GROUPS.get(key, set()) - set(pattern.groupindex)
        if missing:
            raise PipelineError(f"needs the named group(s) {sorted(missing)}", file=where,
                                field=f"notes.{key}")
        compiled[key] = pattern
    return compiled


# --- the unit tree ------------------------------------------------------------------

class _Tree:
    """The segmented source's tree, with the numbers its chapter and letter headings print."""

    def __init__(self, seg: SegmentedSource, conf: dict[str, re.Pattern[str]]):
        self.seg = seg
        self.units = seg.units
        self.chapters = seg.of_type("chapter")
        self.chapter_number = {u.document_id: n for u in self.chapters
                               if (n := _printed_number(conf["chapter_heading"], u)) is not None}
        self.letter_number = {u.document_id: n for u in seg.of_type("letter")
                              if (n := _printed_number(conf["letter_heading"], u)) is not None}
        self.prefatory = [u for u in seg.of_type("letter")
                          if conf["prefatory_heading"].search(strip_marks(u.heading))]

    def chapter_of(self, unit: Unit) -> Unit | None:
        """The chapter the unit is, or is in; None outside chapters."""
        return next((u for u in [unit, *self.seg.ancestors(unit)] if u.type == "chapter"), None)


def _printed_number(pattern: re.Pattern[str], unit: Unit) -> int | None:
    found = pattern.search(strip_marks(unit.heading)) if unit.heading else None
    return int(found.group("n")) if found else None


def _note_lists(tree: _Tree, conf: dict[str, re.Pattern[str]], where: str
                ) -> list[tuple[Unit, Unit | None]]:
    """(scope, notes list) pairs: each notes unit without notes sub-units, with the chapter
    it annotates (or the top unit, in a source without chapters). In a source with notes,
    a chapter without a list is paired with None: its marks are then marks with no note."""
    pairs: list[tuple[Unit, Unit | None]] = []
    lists = [u for u in tree.seg.of_type("notes")
             if not any(c.type == "notes" for c in tree.seg.children(u))]
    for unit in lists:
        scope = tree.chapter_of(unit)
        if scope is None:
            scope = _named_chapter(tree, unit, conf)
        if scope is None and not tree.chapters:
            scope = tree.units[0]
        if scope is None:
            raise PipelineError(f"notes list {unit.document_id!r} ({unit.title!r}) names no "
                                "chapter of the outline", file=where, field="segment.units")
        if any(s is scope for s, _ in pairs):
            raise PipelineError(f"two notes lists for {scope.document_id!r}", file=where,
                                field="segment.units")
        pairs.append((scope, unit))
    if pairs:
        pairs += [(c, None) for c in tree.chapters if not any(s is c for s, _ in pairs)]
    return sorted(pairs, key=lambda p: p[0].start)


def _named_chapter(tree: _Tree, unit: Unit, conf: dict[str, re.Pattern[str]]) -> Unit | None:
    """The chapter a back-of-book notes list names: by printed number, else by title."""
    heading = strip_marks(unit.heading)
    found = conf["list_heading"].search(heading)
    if found:
        n = int(found.group("n"))
        hits = [c for c in tree.chapters if tree.chapter_number.get(c.document_id) == n]
        if len(hits) == 1:
            return hits[0]
    folded = heading.casefold()
    hits = [c for c in tree.chapters
            if (title := re.sub(r"^\d+\s+", "", c.title).casefold()) and folded.endswith(title)]
    return hits[0] if len(hits) == 1 else None


def _spans_without(scope: Unit, excluded: list[Unit]) -> list[tuple[int, int]]:
    """The scope's span less the spans of the excluded units inside it."""
    spans, cursor = [], scope.start
    for unit in sorted((u for u in excluded if scope.start <= u.start < scope.end),
                       key=lambda u: u.start):
        if unit.start > cursor:
            spans.append((cursor, unit.start))
        cursor = max(cursor, unit.end)
    if cursor < scope.end:
        spans.append((cursor, scope.end))
    return spans


# --- marks --------------------------------------------------------------------------

def _italics_and_marks_blanked(paragraph: str) -> str:
    """The paragraph with italic pairs and ``^{...}`` marks blanked out (same length), so
    that any asterisk left is a call."""
    paragraph = MARK.sub(lambda m: "\0" * len(m.group()), paragraph)
    return ITALIC.sub(lambda m: "\0" * len(m.group()), paragraph)


def _calls(text: str, tree: _Tree, chapter_id: str, spans: list[tuple[int, int]],
           conf: dict[str, re.Pattern[str]]) -> tuple[list[NoteCall], list[tuple[int, int]]]:
    """Every call mark in the spans, in text order, and the (start, end) of the paragraphs
    that are author's notes printed in the text."""
    calls: list[NoteCall] = []
    star_notes: list[tuple[int, int]] = []
    for span_start, span_end in spans:
        for m in MARK.finditer(text, span_start, span_end):
            if m.group("sup"):
                n: int | None = int(m.group("sup").translate(SUPERSCRIPTS))
                star = False
            elif m.group("star") or m.group("num"):
                n = int(m.group("num")) if m.group("num") else None
                star = bool(m.group("star"))
            else:
                continue  # "^{}": nothing to call
            calls.append(NoteCall(chapter_id, n, star, m.group(), m.start(),
                                  tree.seg.unit_at(m.start()).document_id))
        for p_start, p_end in paragraphs(text[span_start:span_end]):
            p_start, p_end = p_start + span_start, p_end + span_start
            paragraph = text[p_start:p_end]
            if conf["asterisk_note"].match(paragraph):
                star_notes.append((p_start, p_end))
                continue
            for a in re.finditer(r"\*", _italics_and_marks_blanked(paragraph)):
                calls.append(NoteCall(chapter_id, None, True, "*", p_start + a.start(),
                                      tree.seg.unit_at(p_start + a.start()).document_id))
    calls.sort(key=lambda c: c.offset)
    return calls, star_notes


def _increasing(calls: list[NoteCall]) -> set[int]:
    """Offsets of the calls forming the longest strictly increasing subsequence of numbers (the
    sequence the printer meant); the others are out of sequence or repeats."""
    numbers = [_number(call) for call in calls]
    tails: list[int] = []        # index into calls of the smallest tail of each length
    previous: list[int] = [-1] * len(calls)
    for i, n in enumerate(numbers):
        k = bisect.bisect_left([numbers[t] for t in tails], n)
        if k < len(tails) and numbers[tails[k]] == n:
            continue  # a repeat: the earlier mark serves any later one as well
        if k:
            previous[i] = tails[k - 1]
        if k == len(tails):
            tails.append(i)
        else:
            tails[k] = i
    chosen, i = set(), tails[-1] if tails else -1
    while i >= 0:
        chosen.add(calls[i].offset)
        i = previous[i]
    return chosen


def _context(text: str, offset: int, width: int = 40) -> str:
    before = text[max(0, offset - width):offset].split("\n")[-1]
    after = text[offset:offset + width // 2].split("\n")[0]
    return f"…{before}{after}…"


# --- the notes of one chapter -------------------------------------------------------

@dataclass
class _Printed:
    n: int
    text: str
    offset: int


def _parse_list(seg: SegmentedSource, unit: Unit | None, conf: dict[str, re.Pattern[str]]
                ) -> tuple[list[_Printed], list[tuple[int, str]]]:
    """The notes of a list as printed, and any text before the first note. A line that
    does not start a note continues the note before it (kept as in the cleaned text)."""
    if unit is None:
        return [], []
    text = seg.text
    body_start, body_end = seg.body_span(unit)
    printed: list[_Printed] = []
    ends: list[int] = []
    stray: list[tuple[int, str]] = []
    for line in LINE.finditer(text, body_start, body_end):
        m = conf["note_line"].match(line.group())
        if m:
            start = line.start() + m.start("text")
            printed.append(_Printed(int(m.group("n")), "", start))
            ends.append(line.end())
        elif printed:
            ends[-1] = line.end()
        elif line.group().strip():
            stray.append((line.start(), line.group().strip()))
    for note, end in zip(printed, ends, strict=True):
        note.text = text[note.offset:end]
    return printed, stray


def _chapter_notes(text: str, tree: _Tree, scope: Unit, notes_list: Unit | None,
                   conf: dict[str, re.Pattern[str]], source_id: str
                   ) -> tuple[list[Note], list[NoteCall], list[NoteAnomaly]]:
    """The notes of one chapter tied to their marks, and what does not fit."""
    chapter_id = scope.document_id
    lists = tree.seg.of_type("notes")
    calls, star_notes = _calls(text, tree, chapter_id, _spans_without(scope, lists), conf)
    printed, stray = _parse_list(tree.seg, notes_list, conf)
    list_id = notes_list.document_id if notes_list else ""
    anomalies: list[NoteAnomaly] = []

    def flag(n: int | None, kind: str, offset: int, detail: str) -> None:
        anomalies.append(NoteAnomaly(source_id, chapter_id, n, kind, offset, detail))

    for offset, line in stray:
        flag(None, "stray_text", offset,
             f"text before the first note of {list_id}: {line[:80]!r}")
    _numbering(printed, flag)

    # Numbered marks: where a number is marked twice, the mark that fits the increasing
    # sequence is the call; the others, and marks out of sequence, are reported.
    numbered = [c for c in calls if c.n is not None]
    in_sequence = _increasing(numbered)
    by_n: dict[int, list[NoteCall]] = {}
    for call in numbered:
        by_n.setdefault(_number(call), []).append(call)
    tied = {n: next((c for c in group if c.offset in in_sequence), group[0])
            for n, group in by_n.items()}
    strays = [c for c in numbered
              if c is not tied[_number(c)] or c.offset not in in_sequence]
    for call in strays:
        n = _number(call)
        where = _between(call.offset, tied)
        if call is not tied[n]:
            flag(n, "duplicate_mark", call.offset,
                 f"{call.mark} at {_context(text, call.offset)!r} ({where}) repeats mark {n} of"
                 f" {_context(text, tied[n].offset)!r}; the note is tied to the mark in"
                 f" sequence, at {tied[n].offset}")
        else:
            flag(n, "mark_out_of_order", call.offset,
                 f"{call.mark} at {_context(text, call.offset)!r} is out of sequence ({where})")

    notes: list[Note] = []
    seen: Counter[int] = Counter()
    for note in printed:
        seen[note.n] += 1
        first = seen[note.n] == 1
        its_call = tied.get(note.n) if first else None
        if not first:
            flag(note.n, "duplicate_note", note.offset,
                 f"note {note.n} printed {seen[note.n]} times; this one has no mark of its own")
        elif its_call is None:
            hint = _expected(note.n, tied)
            nearby = [c for c in strays if _between_neighbours(c.offset, note.n, tied)]
            there = "".join(f"; {c.mark} (printed for note {c.n}) stands there, at {c.offset}"
                            for c in nearby)
            flag(note.n, "note_without_mark", note.offset,
                 f"no mark {note.n} in the text of {chapter_id} ({hint}{there}):"
                 f" {note.text[:60]!r}")
        kind = "author" if conf["author_note"].search(note.text) else "editorial"
        suffix = "" if first else chr(ord("a") + seen[note.n] - 1)
        notes.append(Note(f"{chapter_id}-n{note.n}{suffix}", source_id, chapter_id, note.n,
                          note.text, kind, list_id, note.offset, its_call))
    printed_numbers = {p.n for p in printed}
    for n, call in sorted(tied.items(), key=lambda item: item[1].offset):
        if n not in printed_numbers:
            flag(n, "mark_without_note", call.offset,
                 f"mark {call.mark} has no note in {list_id or 'any notes list'}:"
                 f" {_context(text, call.offset)!r}")

    notes += _asterisk_notes(text, tree, calls, star_notes, chapter_id, source_id, flag, conf)
    return notes, calls, anomalies


def _numbering(printed: list[_Printed], flag: Any) -> None:
    """Report gaps in the printed numbering (one row per gap); repeats are reported with
    the notes."""
    previous = 0
    for note in printed:
        if note.n > previous + 1:
            missing = list(range(previous + 1, note.n))
            shown = str(missing[0]) if len(missing) == 1 else f"{missing[0]}–{missing[-1]}"
            flag(missing[0], "numbering_gap", note.offset,
                 f"no note {shown} printed: the list goes from {previous or 'its start'}"
                 f" to {note.n}")
        previous = max(previous, note.n)


def _between_neighbours(offset: int, n: int, tied: dict[int, NoteCall]) -> bool:
    """Is ``offset`` between the marks of the nearest numbers below and above ``n``?"""
    below = [c.offset for k, c in tied.items() if k < n]
    above = [c.offset for k, c in tied.items() if k > n]
    return max(below, default=-1) < offset < min(above, default=1 << 62)


def _number(call: NoteCall) -> int:
    assert call.n is not None
    return call.n


def _neighbours(below: list[int], above: list[int], tied: dict[int, NoteCall]) -> str:
    parts = []
    if below:
        parts.append(f"after mark {below[0]} in {tied[below[0]].document_id}")
    if above:
        parts.append(f"before mark {above[0]} in {tied[above[0]].document_id}")
    return ", ".join(parts) or "no other marks"


def _between(offset: int, tied: dict[int, NoteCall]) -> str:
    """Where a mark stands: the nearest marks before and after it in the text."""
    below = sorted((k for k, c in tied.items() if c.offset < offset), key=lambda k: -tied[k].offset)
    above = sorted((k for k, c in tied.items() if c.offset > offset), key=lambda k: tied[k].offset)
    return _neighbours(below, above, tied)


def _expected(n: int, tied: dict[int, NoteCall]) -> str:
    """Where the mark of note ``n`` should stand: after mark n-1, before mark n+1."""
    return _neighbours(sorted((k for k in tied if k < n), reverse=True),
                       sorted(k for k in tied if k > n), tied)


def _asterisk_notes(text: str, tree: _Tree, calls: list[NoteCall],
                    star_notes: list[tuple[int, int]], chapter_id: str, source_id: str,
                    flag: Any, conf: dict[str, re.Pattern[str]]) -> list[Note]:
    """Author's notes printed in the text ("* A monthly"), each tied to the nearest
    asterisk before it. Consecutive note paragraphs answer the last asterisks, in order."""
    pending = [c for c in calls if c.star]
    groups: list[list[tuple[int, int]]] = []
    for span in star_notes:
        between = text[groups[-1][-1][1]:span[0]] if groups else "x"
        if groups and not between.strip():
            groups[-1].append(span)
        else:
            groups.append([span])
    notes: list[Note] = []
    for group in groups:
        before = [c for c in pending if c.offset < group[0][0]]
        answered = before[-len(group):]
        for index, (start, end) in enumerate(group):
            call = answered[index] if index < len(answered) else None
            if call is not None:
                pending.remove(call)
            head = conf["asterisk_note"].match(text, start)
            assert head is not None     # star_notes are the paragraphs this pattern matched
            body = head.start("text")
            note = Note(f"{chapter_id}-star{len(notes) + 1}", source_id, chapter_id, None,
                        text[body:end], "author", tree.seg.unit_at(start).document_id, body, call)
            if call is None:
                flag(None, "note_without_mark", start,
                     f"author's note printed in the text with no asterisk before it:"
                     f" {note.text[:60]!r}")
            notes.append(note)
    for call in pending:
        flag(None, "mark_without_note", call.offset,
             f"asterisk {call.mark} answered by no '* ' note paragraph:"
             f" {_context(text, call.offset)!r}")
    return notes


# --- cross-references ---------------------------------------------------------------

def _numbers(spec: str) -> list[int]:
    """'12 and 13' → [12, 13]; '12–14' → [12, 13, 14]."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|and|&)\s*", spec):
        bounds = re.split(r"\s*(?:–|-|to)\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit() \
                and int(bounds[0]) < int(bounds[1]) <= int(bounds[0]) + 50:
            out.extend(range(int(bounds[0]), int(bounds[1]) + 1))
        else:
            out.extend(int(b) for b in bounds if b.isdigit())
    return out


def _foreign(text: str, start: int, end: int) -> bool:
    """True when the reference is to another work ("Chapter 3 of *History*")."""
    return bool(FOREIGN_AFTER.match(text, end)
                or FOREIGN_BEFORE.search(text[max(0, start - 120):start]))


def _references_in(text: str, start: int, end: int, from_id: str, home: Unit | None,
                   tree: _Tree, source_id: str, skip: set[str]
                   ) -> tuple[list[CrossReference], list[CrossReference]]:
    """References to letters and chapters in ``text[start:end]``. ``home`` is the chapter
    the referring text belongs to; ``skip`` the targets that would refer to the text itself."""
    found: list[CrossReference] = []
    left: list[CrossReference] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, as_written: str, offset: int, targets: list[str], why: str) -> None:
        for target in targets:
            if target not in skip:
                found.append(CrossReference(source_id, from_id, target, kind, as_written, offset))
        if not targets:
            left.append(CrossReference(source_id, from_id, "", kind, as_written, offset, why))

    for m in literal_matches(PREFATORY_REF, "refatory", text, start, end, lead=1):
        taken.append(m.span())
        hits = [u.document_id for u in tree.prefatory]
        add("letter", m.group(), m.start(), hits if len(hits) == 1 else [],
            "no single prefatory letter in the outline")
    for m in literal_matches(LETTER_REF, "etter", text, start, end, lead=1):
        if any(s <= m.start() < e for s, e in taken):
            continue
        taken.append(m.span())
        numbers = [int(m.group("n"))] if m.group("one") else _numbers(m.group("ns"))
        if _foreign(text, m.start(), m.end()):
            add("letter", m.group(), m.start(), [], "another work's letter")
            continue
        for n in numbers:
            candidates = [tree.seg.unit(i) for i, k in tree.letter_number.items() if k == n]
            if m.group("ch"):
                wanted = int(m.group("ch"))
                candidates = [u for u in candidates if (c := tree.chapter_of(u))
                              and tree.chapter_number.get(c.document_id) == wanted]
            elif len(candidates) > 1 and home is not None:
                candidates = [u for u in candidates if tree.chapter_of(u) is home]
            why = (f"no letter printed as 'Letter {n}'" + (f" in Chapter {m.group('ch')}"
                                                           if m.group("ch") else "")
                   if not candidates else f"{len(candidates)} letters printed as 'Letter {n}'")
            add("letter", m.group(), m.start(),
                [candidates[0].document_id] if len(candidates) == 1 else [], why)
    for m in literal_matches(CHAPTER_REF, "hapter", text, start, end, lead=1):
        if any(s <= m.start() < e for s, e in taken):
            continue  # "Letter 24 in Chapter 2": the chapter only locates the letter
        if _foreign(text, m.start(), m.end()):
            add("chapter", m.group(), m.start(), [], "another work's chapter")
            continue
        for n in _numbers(m.group("ns")):
            hits = [i for i, k in tree.chapter_number.items() if k == n]
            add("chapter", m.group(), m.start(), hits if len(hits) == 1 else [],
                f"no chapter printed with the number {n}" if not hits
                else f"{len(hits)} chapters printed with the number {n}")
    return found, left


def _references(text: str, tree: _Tree, notes: list[Note], source_id: str
                ) -> tuple[list[CrossReference], list[CrossReference]]:
    """References in the notes (from the note) and in every unit's own text (from the unit),
    headings and notes lists excepted: a heading names its own unit."""
    found: list[CrossReference] = []
    left: list[CrossReference] = []
    in_text = sorted((n for n in notes if n.printed_in_id and
                      tree.seg.unit(n.printed_in_id).type != "notes"), key=lambda n: n.text_offset)
    for note in notes:
        home = tree.seg.get(note.chapter_id)
        resolved, unresolved = _references_in(text, note.text_offset,
                                              note.text_offset + len(note.text), note.note_id,
                                              home, tree, source_id, set())
        found += resolved
        left += unresolved
    for unit in tree.units:
        if unit.type == "notes":
            continue
        start, end = tree.seg.body_span(unit)
        cuts = [(n.text_offset, n.text_offset + len(n.text)) for n in in_text
                if start <= n.text_offset < end]
        skip = {unit.document_id, *(a.document_id for a in tree.seg.ancestors(unit))}
        for s, e in _spans_between(start, end, cuts):
            resolved, unresolved = _references_in(text, s, e, unit.document_id,
                                                  tree.chapter_of(unit), tree, source_id, skip)
            found += resolved
            left += unresolved
    def key(reference: CrossReference) -> tuple[int, str]:
        return reference.offset, reference.to_id
    return sorted(found, key=key), sorted(left, key=key)


def _spans_between(start: int, end: int, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans, cursor = [], start
    for s, e in sorted(cuts):
        if s > cursor:
            spans.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        spans.append((cursor, end))
    return spans


# --- the stage ----------------------------------------------------------------------

def extract_notes(source: Source, segmented: SegmentedSource) -> NotesResult:
    """The notes, call marks, anomalies and cross-references of one segmented source.

    Pure: reads only the source's ``[notes]`` table and the unit tree. A source without
    ``notes`` units has no notes, but its cross-references are still collected.
    """
    conf = notes_config(source)
    tree = _Tree(segmented, conf)
    text = segmented.text
    result = NotesResult(source.source_id)
    for scope, notes_list in _note_lists(tree, conf, str(source.outline_path)):
        notes, calls, anomalies = _chapter_notes(text, tree, scope, notes_list, conf,
                                                 source.source_id)
        result.notes += notes
        result.calls += calls
        result.anomalies += _merged(sorted(anomalies, key=lambda a: (a.offset, a.kind)))
        if notes_list is not None:
            result.chapters[scope.document_id] = notes_list.document_id
    result.references, result.unresolved = _references(text, tree, result.notes,
                                                        source.source_id)
    return result


def _merged(anomalies: list[NoteAnomaly]) -> list[NoteAnomaly]:
    """One anomaly per (offset, kind), the table's key: a "^{*7}" whose number and
    asterisk both lack a note is one row, with both details."""
    out: list[NoteAnomaly] = []
    for a in anomalies:
        if out and (out[-1].offset, out[-1].kind) == (a.offset, a.kind):
            last = out.pop()
            a = NoteAnomaly(a.source_id, a.chapter_id, last.n if last.n is not None else a.n,
                            a.kind, a.offset, f"{last.detail}; {a.detail}")
        out.append(a)
    return out


def _results(results: NotesResult | Iterable[NotesResult]) -> Iterable[NotesResult]:
    # not made a list: each source's may be read from disk as it comes (pipeline/spill.py)
    return [results] if isinstance(results, NotesResult) else results


def note_rows(results: NotesResult | Iterable[NotesResult]) -> list[dict[str, Any]]:
    """Rows of the ``notes`` table (keys as in schema/tables/notes.json)."""
    return [{
        "note_id": n.note_id, "source_id": n.source_id, "chapter_id": n.chapter_id, "n": n.n,
        "mark": n.call.mark if n.call else "", "kind": n.kind, "text": n.text,
        "ref_document_id": n.ref_document_id,
        "mark_offset": n.call.offset if n.call else None,
        "printed_in_id": n.printed_in_id, "text_offset": n.text_offset,
        "truncated": n.truncated,
    } for r in _results(results) for n in r.notes]


def anomaly_rows(results: NotesResult | Iterable[NotesResult]) -> list[dict[str, Any]]:
    """Rows of the ``note_anomalies`` table (keys as in schema/tables/note_anomalies.json)."""
    return [{"source_id": a.source_id, "chapter_id": a.chapter_id, "n": a.n, "kind": a.kind,
             "offset": a.offset, "detail": a.detail}
            for r in _results(results) for a in r.anomalies]


def reference_rows(results: NotesResult | Iterable[NotesResult]) -> list[dict[str, Any]]:
    """Rows of the ``references`` table (keys as in schema/tables/references.json)."""
    return [{"source_id": x.source_id, "from_id": x.from_id, "to_id": x.to_id, "kind": x.kind,
             "as_written": x.as_written, "offset": x.offset}
            for r in _results(results) for x in r.references]


def reading_cuts(text: str, result: NotesResult) -> list[tuple[int, int]]:
    """What the reading text of a unit leaves out, as sorted (start, end) spans of the
    cleaned text: every call mark (with the space before a mark printed after a space),
    and each author's note printed in the running text (its paragraph and the blank line
    before it). Both are in the notes table (``mark``, ``text``)."""
    cuts = []
    for call in result.calls:
        start = call.offset - 1 if call.offset and text[call.offset - 1] == " " else call.offset
        cuts.append((start, call.offset + len(call.mark)))
    marked = {c.offset for c in result.calls}
    cuts += [(m.start(), m.end()) for m in NOTE_MARK.finditer(text) if m.start() not in marked]
    for note in result.notes:
        if note.kind == "author" and note.printed_in_id not in result.chapters.values():
            start = text.rfind("\n\n", 0, note.text_offset)
            cuts.append((start if start >= 0 else note.text_offset,
                         note.text_offset + len(note.text)))
    return sorted(cuts)


def reading_text(text: str, start: int, end: int, cuts: list[tuple[int, int]]) -> str:
    """The cleaned text in [start, end) without the ``reading_cuts`` that fall inside it."""
    parts, position = [], start
    for a, b in cuts:
        if b <= position or a >= end:
            continue
        a, b = max(a, position), min(b, end)
        parts.append(text[position:a])
        position = b
    parts.append(text[position:end])
    return "".join(parts)


def reading_texts(text: str, spans: Iterable[tuple[int, int]], cuts: list[tuple[int, int]]
                  ) -> Iterator[str]:
    """``reading_text`` of each (start, end) of ``spans``, given only the cuts that can
    fall inside it, found by bisection (a loop over every cut for every unit was most of
    the time taken to write the texts): the cuts before those that reach past ``start``
    and from the first that begins at ``end`` on are the ones ``reading_text`` passes by."""
    reach = list(accumulate((b for _, b in cuts), max))   # the furthest end so far
    starts = [a for a, _ in cuts]
    for start, end in spans:
        lo, hi = bisect.bisect_right(reach, start), bisect.bisect_left(starts, end)
        yield reading_text(text, start, end, cuts[lo:hi])


def summary(result: NotesResult) -> dict[str, Any]:
    """Counts for the build summary."""
    per_chapter = Counter(n.chapter_id for n in result.notes)
    return {
        "source_id": result.source_id,
        "notes": len(result.notes),
        "notes_by_chapter": dict(per_chapter),
        "author_notes": sum(1 for n in result.notes if n.kind == "author"),
        "tied": sum(1 for n in result.notes if n.call),
        "untied": sum(1 for n in result.notes if not n.call),
        "marks": len(result.calls),
        "anomalies": dict(sorted(Counter(a.kind for a in result.anomalies).items())),
        "references": dict(sorted(Counter(x.kind for x in result.references).items())),
        "references_unresolved": len(result.unresolved),
    }
