"""TEI stage: every source as one TEI P5 file, every letter as a letter file.

The model is documented in ``schema/tei/README.md`` and defined by
``schema/tei/serge-trotsky.rng`` and ``.sch``. In short:

- ``tei/<source_id>.xml`` holds the whole cleaned text; each unit of the segment stage is
  a ``div`` whose ``@xml:id`` is its ``document_id``, nested as the unit tree is. It is
  the home of every unit id and note id.
- Notes follow the ELTeC model: the call site is ``<ref type="note" target="#…">`` and
  the note is encoded once, as a ``note`` in the ``div type="notes"`` where the book
  prints it. The notes stay where the book has them (in the book's end-matter units)
  rather than being moved into ``back``, so that the ``div`` tree is exactly the unit
  tree of the ``documents`` table (``parent_id``).
- ``tei/letters/<letter_id>.xml`` is a view of one letter with its ``correspDesc``; its
  ``div``s point at their units with ``@corresp`` instead of repeating the ids, so that
  ids are unique across the dataset.

Everything is derived from the stage outputs (cleaned text, units, notes, letters); the
text itself is never altered except where the cleaner's emendations are shown as
``choice``/``sic``/``corr``.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from types import SimpleNamespace
from typing import Any, cast

from lxml import etree

from . import anatomy, links, standoff
from .anatomy import CLOSER_ROLES, OPENER_ROLES
from .cache import fingerprint
from .clean import CleanedSource, Emendation
from .conventions import (
    ITALIC,
    LANGUAGE_NAMES,
    NOTE_MARK,
    SUPERSCRIPTS,
    TEI_NS,
    XML_ID,
    strip_marks,
)
from .conventions import tei_element as _el
from .errors import PipelineError
from .letters import Letter, is_person
from .names import NameIndex
from .notes import Note, NoteCall, NotesResult
from .package import letter_tei_path, tei_path
from .segment import SegmentedSource, Unit, paragraphs
from .sources import Source

PROJECT = "Serge–Trotsky Papers project"
# A heading is a line: a paragraph longer than this is prose, never a head.
HEAD_MAX_WORDS = 40
NUMBERED = re.compile(r"^(\d{1,2})\.\s+\S")
NOTE_LABEL = re.compile(r"(?:\d+\.|\*)\s*$")
# Elements that hold text: never indented, so that no whitespace is added to the text.
MIXED_CONTENT = {"p", "head", "dateline", "salute", "signed", "addrLine", "note", "item",
                 "quote", "hi", "title", "ref", "choice", "sic", "corr", "date", "placeName",
                 "persName", "orgName"}
QUOTES = {"“": "”", "‘": "’", '"': '"'}


def _add_text(node: etree._Element, text: str) -> None:
    """Append text to a node's content, after its last child."""
    if not text:
        return
    if len(node):
        node[-1].tail = (node[-1].tail or "") + text
    else:
        node.text = (node.text or "") + text


# --- inline content ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Event:
    offset: int
    length: int
    kind: str        # "call", "emendation", "italic", "lb"
    payload: Any = None


@dataclass
class SourceContext:
    """What the encoder needs to know about one source beyond its units."""

    source: Source
    cleaned: CleanedSource
    segmented: SegmentedSource
    notes: NotesResult
    letters: list[Letter]
    titles: frozenset[str] = frozenset()
    note_by_call: dict[int, str] = field(default_factory=dict)   # call offset -> note id
    note_by_text: dict[int, Any] = field(default_factory=dict)   # text offset -> Note
    roles: dict[int, str] = field(default_factory=dict)          # paragraph offset -> role
    wraps: list[_Event] = field(default_factory=list)            # date and place in datelines
    layout_traces: frozenset[int] = frozenset()  # paragraphs after a wider gap (clean stage)
    postscript_starts: set[int] = field(default_factory=set)     # paragraphs opening a PS
    # Signed or dated documents: {document_id: ((start, end, role), …)} (anatomy stage)
    document_closers: dict[str, tuple[tuple[int, int, str], ...]] = field(default_factory=dict)
    document_closing_lines: set[int] = field(default_factory=set)
    last_role: str = ""     # the role of the line last put in a closer
    # Each unit's own content as an earlier build encoded it (``UnitParts``), or None
    parts: UnitParts | None = None

    def __post_init__(self) -> None:
        self.note_by_call = {n.call.offset: n.note_id for n in self.notes.notes if n.call}
        self.note_by_text = {n.text_offset: n for n in self.notes.notes}
        self.roles = {offset: role for letter in self.letters
                      for offset, role in letter.anatomy.parts}
        self.postscript_starts = {offset for letter in self.letters
                                  for offset in letter.anatomy.postscript_starts}
        self.roles.update(front_roles(self.source, self.segmented))
        self.wraps = [w for letter in self.letters for w in _dateline_wraps(self, letter)]
        self.layout_traces = frozenset(self.cleaned.layout_traces())
        # "Letter 13", "see Chapter 4 below": links to the unit they cite.
        self.wraps += [_Event(x.offset, len(x.as_written), "wrap",
                              ("ref", {"type": "cross", "target": f"#{x.to_id}"}))
                       for x in self.notes.references if x.to_id]


@dataclass
class UnitParts:
    """Each unit's own content (its ``div``'s elements before its first sub-unit) as
    encoded by an earlier build, by the key of what it was made from (``found``: key ->
    (the closer role it left, the elements serialised)), and those this build made or
    took (``made``): an edit to one chapter or letter encodes that unit again, and the
    others' elements are parsed (lxml parses them far faster than they are built)."""

    found: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)
    made: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def front_roles(source: Source, segmented: SegmentedSource) -> dict[int, str]:
    """The title and byline printed at the head of a source's text, as declared in its
    outline (``head`` and ``byline`` of [segment]): paragraph offset -> 'head'/'byline'.

    They must be the first paragraphs of the text, title first, as printed."""
    spec = source.segment or {}
    wanted = [(role, spec[role]) for role in ("head", "byline") if spec.get(role)]
    if not wanted:
        return {}
    text = segmented.text
    spans = paragraphs(text[:segmented.units[0].own_end])
    roles = {}
    for (role, words), (start, end) in zip(wanted, spans, strict=False):
        if " ".join(text[start:end].split()) != " ".join(str(words).split()):
            raise PipelineError(f"{role} {words!r} is not the paragraph printed there "
                                f"({text[start:end][:60]!r}); the title comes first, then "
                                "the byline", file=str(source.outline_path),
                                field=f"segment.{role}")
        roles[start] = role
    return roles


def add_wraps(ctx: SourceContext, spans: Iterable[tuple[int, int, str, dict[str, str]]]
              ) -> None:
    """Hook for pipeline/mentions.py: more (offset, length, element, attributes) spans for
    ``inline`` to wrap (names tagged in the text). A span that starts inside one already
    encoded (a dateline's placeName) is skipped by ``inline``."""
    ctx.wraps += [_Event(offset, length, "wrap", (tag, attrs))
                  for offset, length, tag, attrs in spans]


def _dateline_wraps(ctx: SourceContext, letter: Letter) -> list[_Event]:
    """The printed date and place of a letter's dateline, as ``date``/``placeName`` spans."""
    text = ctx.segmented.text
    wraps = []
    for offset, role in letter.anatomy.parts:
        if role not in ("dateline", "foot-dateline"):
            continue
        end = text.find("\n\n", offset)
        line = text[offset:end if end >= 0 else len(text)]
        if letter.date_as_written and letter.date_as_written in line:
            at = offset + line.index(letter.date_as_written)
            wraps.append(_Event(at, len(letter.date_as_written), "wrap",
                                ("date", {"when": letter.date})))
        place = letter.place_as_written
        if letter.place_id and place and " / " not in place and place in line:
            at = offset + line.index(place)
            wraps.append(_Event(at, len(place), "wrap",
                                ("placeName", {"ref": f"place:{letter.place_id}"})))
    return wraps


def add_document_closers(ctx: SourceContext, persons: list[dict[str, Any]]) -> None:
    """The signatures and datelines that close the source's signed or dated documents
    (anatomy.document_closers), with their dates and places wrapped like a letter's."""
    # The index is made at the first line to try (its search pattern takes a while to
    # compile, and a source may have no signed document).
    names: list[NameIndex] = []

    def names_person(text: str, person_id: str) -> bool:
        if not names:
            names.append(NameIndex(persons))
        return is_person(text, person_id, names[0])

    ctx.document_closers = anatomy.document_closers(
        ctx.segmented, names_person, [letter.letter_id for letter in ctx.letters])
    ctx.document_closing_lines = {start for lines in ctx.document_closers.values()
                                  for start, _, _ in lines}
    units = {u.document_id: u for u in ctx.segmented.units}
    text = ctx.segmented.text
    for unit_id, lines in ctx.document_closers.items():
        for start, end, role in lines:
            dateline = anatomy.document_dateline(text[start:end]) \
                if role == "foot-dateline" else None
            if dateline is None:
                continue
            line = text[start:end]
            if dateline.date_as_written in line:
                at = start + line.index(dateline.date_as_written)
                ctx.wraps.append(_Event(at, len(dateline.date_as_written), "wrap",
                                        ("date", {"when": dateline.date})))
            place = dateline.place_as_written
            if place and place in line:
                at = start + line.index(place)
                place_id = units[unit_id].place_id
                ctx.wraps.append(_Event(at, len(place), "wrap",
                                        ("placeName",
                                         {"ref": f"place:{place_id}" if place_id else ""})))


def bibliography_titles(segmented: SegmentedSource) -> frozenset[str]:
    """Italic words printed in a bibliography: titles, so the same italics elsewhere are too."""
    found = set()
    for unit in segmented.units:
        if unit.type == "bibliography":
            for m in ITALIC.finditer(segmented.text_of(unit)):
                # "The Prophet Outcast – Trotsky 1929–40" is cited as "The Prophet Outcast"
                found.update({_title_key(m[1]), _title_key(re.split(r"[:–—]", m[1])[0])})
    return frozenset(found - {""})


def _title_key(text: str) -> str:
    return " ".join(strip_marks(text).casefold().split()).strip(" ,.;:")


def _starting_in(ctx: SourceContext, items: list[Any], key: str, start: int,
                 end: int) -> list[Any]:
    """The items whose ``key`` offset lies in [start, end], in their list's order among
    equal offsets: a bisection in a sorted copy kept on ``ctx`` (scanning the whole list
    for every run of text was a quarter of the build). The copy is remade when the list
    is replaced or grows."""
    cache = ctx.__dict__.setdefault("_offset_index", {})
    index = cache.get((id(items), key))
    if index is None or index[0] is not items or index[1] != len(items):
        ordered = sorted(items, key=lambda item: getattr(item, key))    # stable
        index = cache[id(items), key] = (items, len(items),
                                         [getattr(item, key) for item in ordered], ordered)
    offsets, ordered = index[2], index[3]
    return ordered[bisect_left(offsets, start):bisect_right(offsets, end)]


def _positions(text: str, char: str, start: int, end: int) -> list[int]:
    """Where ``char`` occurs in text[start:end] (str.find, not a loop over characters)."""
    found = []
    at = text.find(char, start, end)
    while at != -1:
        found.append(at)
        at = text.find(char, at + 1, end)
    return found


def _events(ctx: SourceContext, start: int, end: int, with_wraps: bool) -> list[_Event]:
    """Calls, emendations, italics and line breaks in [start, end), in text order."""
    text = ctx.segmented.text
    events = [_Event(m.start(), m.end() - m.start(), "call", m.group())
              for m in NOTE_MARK.finditer(text, start, end)]
    events += [_Event(c.offset, len(c.mark), "call", c.mark)
               for c in _starting_in(ctx, ctx.notes.calls, "offset", start, end)
               if c.star and start <= c.offset < end]
    if with_wraps:
        events += [w for w in _starting_in(ctx, ctx.wraps, "offset", start, end)
                   if start <= w.offset and w.offset + w.length <= end]
    masked = {i for e in events if e.kind == "call" for i in range(e.offset, e.offset + e.length)}
    events += [_Event(e.start, e.end - e.start, "emendation", e)
               for e in _starting_in(ctx, ctx.cleaned.emendations, "start", start, end)
               if start <= e.start and e.end <= end]
    stars = [i for i in _positions(text, "*", start, end) if i not in masked]
    line_starts = _positions(text, "\n", start, end)
    for i in line_starts:
        events.append(_Event(i, 1, "lb"))
    # Italics are pairs of asterisks on one line; an unpaired asterisk stays as printed.
    pairs: list[tuple[int, int]] = []
    for a, b in pairwise(stars):
        if pairs and pairs[-1][1] >= a:
            continue
        if "\n" not in text[a:b]:
            pairs.append((a, b))
    for a, b in pairs:
        events.append(_Event(a, 1, "italic", b))
        events.append(_Event(b, 1, "italic-end"))
    return sorted(events, key=lambda e: (e.offset, e.kind != "italic-end"))


def _call(parent: etree._Element, ctx: SourceContext, event: _Event, target_file: str) -> None:
    mark = event.payload
    number = mark.translate(SUPERSCRIPTS).strip("^{}")
    note_id = ctx.note_by_call.get(event.offset)
    if note_id is None:
        # A mark with no note (the book's own anomaly): kept as printed.
        _el(parent, "hi", number, rend="superscript")
    else:
        _el(parent, "ref", number, type="note", target=f"{target_file}#{note_id}",
            n=number.lstrip("*") or "*")


def inline(parent: etree._Element, ctx: SourceContext, start: int, end: int,
           target_file: str = "", with_wraps: bool = True) -> None:
    """Encode the cleaned text in [start, end) as mixed content of ``parent``."""
    text = ctx.segmented.text
    stack = [parent]
    position = start
    for event in _events(ctx, start, end, with_wraps):
        if event.offset < position:
            continue        # inside an emendation or a call already encoded
        _add_text(stack[-1], text[position:event.offset])
        position = event.offset + event.length
        if event.kind == "italic":
            words = text[event.offset + 1:event.payload]
            is_title = _title_key(words) in ctx.titles
            stack.append(_el(stack[-1], "title") if is_title
                         else _el(stack[-1], "hi", rend="italic"))
        elif event.kind == "italic-end":
            if len(stack) > 1:
                stack.pop()
        elif event.kind == "wrap":
            tag, attrs = event.payload
            inline(_el(stack[-1], tag, **attrs), ctx, event.offset, position, target_file,
                   with_wraps=False)
        elif event.kind == "lb":
            _el(stack[-1], "lb")
        elif event.kind == "call":
            _call(stack[-1], ctx, event, target_file)
        elif event.kind == "emendation":
            choice = _el(stack[-1], "choice")
            _el(choice, "sic", event.payload.sic)
            _el(choice, "corr", event.payload.corr)
    _add_text(stack[-1], text[position:end])


# --- blocks ---------------------------------------------------------------------------------

def _paragraph(parent: etree._Element, ctx: SourceContext, start: int, end: int) -> None:
    """A paragraph: a ``p``, or a ``p`` holding one ``quote`` when it is wholly quoted."""
    text = ctx.segmented.text[start:end]
    bare = NOTE_MARK.sub("", text).rstrip()
    p = _el(parent, "p")
    close = QUOTES.get(bare[:1])
    # Wholly quoted: one opening mark at the start, its closing mark only at the end.
    if close and len(bare) > 2 and bare.endswith(close) and (
            bare.count(close) == 2 if close == bare[0]
            else bare.count(bare[0]) == 1 and bare.count(close) == 1):
        quote_end = start + text.rfind(close) + 1
        q = _el(p, "quote")
        inline(q, ctx, start, quote_end)
        inline(p, ctx, quote_end, end)
    else:
        inline(p, ctx, start, end)


def _notes_in(ctx: SourceContext, start: int, end: int) -> list[Any]:
    """The notes printed in [start, end), in text order: a bisection in the offsets of
    ``note_by_text`` sorted once (scanning every note for every paragraph was a third of
    the TEI stage)."""
    index = ctx.__dict__.get("_notes_index")
    if index is None or index[0] is not ctx.note_by_text:
        offsets = sorted(ctx.note_by_text)
        index = ctx.__dict__["_notes_index"] = (ctx.note_by_text, offsets,
                                                [ctx.note_by_text[o] for o in offsets])
    _, offsets, notes = index
    return notes[bisect_left(offsets, start):bisect_left(offsets, end)]


def _trimmed_paragraph(parent: etree._Element, ctx: SourceContext, start: int, end: int
                       ) -> None:
    """A paragraph for the text in [start, end) without its surrounding blanks, if any."""
    part = ctx.segmented.text[start:end]
    if part.strip():
        _paragraph(parent, ctx, start + len(part) - len(part.lstrip()),
                   start + len(part.rstrip()))


def _block(parent: etree._Element, ctx: SourceContext, start: int, end: int) -> None:
    """One printed paragraph; the notes printed in it become ``note`` elements."""
    notes = _notes_in(ctx, start, end)
    if not notes:
        _paragraph(parent, ctx, start, end)
        return
    text = ctx.segmented.text
    position = start
    for note in notes:
        before = text[position:note.text_offset]
        label = NOTE_LABEL.search(before)    # "150. " is the note's @n, not text
        _trimmed_paragraph(parent, ctx, position,
                           position + (label.start() if label else len(before)))
        node = _el(parent, "note", xml_id=note.note_id,
                   n=str(note.n) if note.n is not None else "*", type=note.kind)
        inline(node, ctx, note.text_offset, note.text_offset + len(note.text))
        if note.truncated:
            _el(node, "gap", reason="truncated")    # the ebook cuts the note short here
        position = note.text_offset + len(note.text)
    _trimmed_paragraph(parent, ctx, position, end)


def _numbered_runs(paras: list[tuple[int, int]], text: str) -> dict[int, int]:
    """Runs of paragraphs numbered 1., 2., 3. …: {index of the first: length of the run}."""
    runs: dict[int, int] = {}
    i = 0
    while i < len(paras):
        m = NUMBERED.match(text[paras[i][0]:paras[i][1]])
        if m and m[1] == "1":
            j = i + 1
            while j < len(paras) and (n := NUMBERED.match(text[paras[j][0]:paras[j][1]])) \
                    and int(n[1]) == j - i + 1:
                j += 1
            if j - i >= 2:
                runs[i] = j - i
                i = j
                continue
        i += 1
    return runs


def _local(node: etree._Element | None) -> str:
    return "" if node is None else etree.QName(node).localname


def _closer_part(closer: etree._Element, ctx: SourceContext, role: str, start: int,
                 end: int) -> None:
    """One printed line of a closer (the letter's, a postscript's or a document's)."""
    last = closer[-1] if len(closer) else None
    if role in ("address", "foot-address"):
        address = last if _local(last) == "address" else _el(closer, "address")
        inline(_el(address, "addrLine"), ctx, start, end)
    elif role == "attestation":
        # An attestation under the signature (Letter 32): one more signature block, its
        # printed lines kept apart by line breaks.
        if _local(last) == "signed" and ctx.last_role == "attestation":
            _el(last, "lb")
            signed = last
        else:
            signed = _el(closer, "signed")
        inline(signed, ctx, start, end)
    elif role == "unsigned":
        # The editor's words where a signature would be ("[copy unsigned]").
        inline(_el(closer, "seg", type="editorial"), ctx, start, end)
    else:
        tag = {"dateline": "dateline", "foot-dateline": "dateline", "salute": "salute",
               "closing": "salute", "ps-closing": "salute", "signed": "signed",
               "ps-signed": "signed"}[role]
        inline(_el(closer, tag), ctx, start, end)
    ctx.last_role = role


def _letter_part(parent: etree._Element, ctx: SourceContext, role: str, start: int,
                 end: int, open_part: etree._Element | None) -> etree._Element | None:
    """Encode one paragraph of a letter by its role (letters' anatomy); returns the part
    still open (an opener, a closer or a postscript) for the next paragraph."""
    if role in OPENER_ROLES or role in CLOSER_ROLES:
        wrapper_tag = "opener" if role in OPENER_ROLES else "closer"
        if _local(open_part) != wrapper_tag:
            open_part = _el(parent, wrapper_tag)
        _closer_part(open_part, ctx, role, start, end)
        return open_part
    if role in ("ps-closing", "ps-signed"):
        postscript = open_part if open_part is not None and _local(open_part) == "postscript" \
            else _el(parent, "postscript")
        last = postscript[-1] if len(postscript) else None
        closer = last if _local(last) == "closer" else _el(postscript, "closer")
        _closer_part(closer, ctx, role, start, end)
        return postscript
    if role == "postscript":
        opens = start in ctx.postscript_starts or _local(open_part) != "postscript" \
            or (open_part is not None and len(open_part) and _local(open_part[-1]) == "closer")
        if opens:
            open_part = _el(parent, "postscript")
        _block(open_part, ctx, start, end)
        return open_part
    _block(parent, ctx, start, end)
    return None


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", strip_marks(text).casefold()).split())


def _is_title_line(ctx: SourceContext, text: str) -> bool:
    """A line that prints the source's title ("Tim Nelson: Trotsky and Serge")."""
    bib = ctx.source.bibliographic
    titles = [_fold(t) for t in (bib.get("title", ""), bib.get("short_title", "")) if t]
    line = _fold(text)
    return bool(line) and len(line.split()) <= HEAD_MAX_WORDS and any(
        t and (t in line or line in t) and len(line.split()) >= 2 for t in titles)


def _is_heading(ctx: SourceContext, unit: Unit, start: int, end: int) -> bool:
    """Is the unit's first paragraph its printed heading? Not when the unit's title is
    supplied ("[Opening]", "[Imprint]": the book prints none) unless the line is the
    source's title; never a paragraph of prose."""
    text = ctx.segmented.text[start:end]
    if len(strip_marks(text).split()) > HEAD_MAX_WORDS:
        return False
    if unit.title.startswith("[") or not unit.heading:
        return _is_title_line(ctx, text)
    return True


def _is_editors_bracket(text: str) -> bool:
    line = strip_marks(text).strip()
    return line.startswith("[") and line.rstrip(":.").endswith("]")


def _is_short_heading(text: str) -> bool:
    line = strip_marks(text).strip()
    return 0 < len(line.split()) <= 6 and not line.endswith((".", ":", ",", ";"))


def _own_content(div: etree._Element, ctx: SourceContext, unit: Unit) -> None:
    """The unit's own paragraphs (up to its first sub-unit)."""
    text = ctx.segmented.text
    spans = [(unit.start + s, unit.start + e)
             for s, e in paragraphs(text[unit.start:unit.own_end])]
    spans = [sp for sp in spans if sp[0] not in ctx.document_closing_lines]
    # An editor's bracket that opens a unit, above its printed heading ("[Enclosure of
    # manuscript by …]:" then "Questions"), describes it: an argument, not its head.
    if len(spans) > 1 and _is_editors_bracket(text[spans[0][0]:spans[0][1]]) \
            and _is_short_heading(text[spans[1][0]:spans[1][1]]):
        _paragraph(_el(div, "argument"), ctx, *spans[0])
        spans = spans[1:]
    # A unit with a heading opens at it (segment stage); letters mark their heading lines.
    if spans and ctx.roles.get(spans[0][0], "head") == "head" \
            and _is_heading(ctx, unit, *spans[0]):
        inline(_el(div, "head"), ctx, *spans[0])
        spans = spans[1:]
    while spans and ctx.roles.get(spans[0][0]) == "head":
        inline(_el(div, "head"), ctx, *spans[0])
        spans = spans[1:]
    while spans and ctx.roles.get(spans[0][0]) == "byline":
        inline(_el(div, "byline"), ctx, *spans[0])
        spans = spans[1:]
    runs = _numbered_runs(spans, text)
    open_part: etree._Element | None = None
    i = 0
    while i < len(spans):
        if i in runs and not _notes_in(ctx, spans[i][0], spans[i + runs[i] - 1][1]):
            items = _el(div, "list", type="ordered")
            for s, e in spans[i:i + runs[i]]:
                m = NUMBERED.match(text[s:e])
                assert m is not None
                item = _el(items, "item", n=m[1])
                # The printed number is text: it stays, as the item's label.
                label_end = s + m.end() - 1
                _el(item, "label", text[s:label_end].rstrip())
                _add_text(item, text[s:label_end][len(text[s:label_end].rstrip()):])
                inline(item, ctx, label_end, e)
            open_part = None
            i += runs[i]
            continue
        s, e = spans[i]
        if s in ctx.layout_traces and ctx.roles.get(s, "p") == "p" and len(div) and \
                etree.QName(div[-1]).localname in ("p", "list", "note"):
            # the original's layout marks a division here (a lost heading, a section break)
            _el(div, "milestone", unit="section", type="layout-trace")
        open_part = _letter_part(div, ctx, ctx.roles.get(s, "p"), s, e, open_part)
        i += 1


def _sorted_offsets(ctx: SourceContext, name: str, offsets: Iterable[int]) -> list[int]:
    """``offsets`` sorted, kept on ``ctx`` under ``name`` (made once per context)."""
    found = ctx.__dict__.setdefault("_sorted_offsets", {})
    if name not in found:
        found[name] = sorted(offsets)
    return cast(list[int], found[name])


def _offsets_in(ctx: SourceContext, name: str, offsets: Iterable[int], start: int, end: int
                ) -> list[int]:
    """The ``offsets`` in [start, end), rebased to ``start``, in order."""
    ordered = _sorted_offsets(ctx, name, offsets)
    return [o - start for o in ordered[bisect_left(ordered, start):bisect_left(ordered, end)]]


def _unit_view(ctx: SourceContext, unit: Unit) -> list[Any]:
    """What ``_own_content`` reads of the context for ``unit``'s own text, [start, own_end),
    as plain values, its offsets counted from the unit's start (so that an edit elsewhere
    in the source leaves it as it was): the unit as seen from there, the text, the calls,
    wraps, emendations and notes in it, the roles, postscripts, layout traces and closing
    lines at its paragraphs, the title words the source's headings are tried against,
    the bibliography's titles (a digest: ``_view`` takes them from the context) and the
    closer role last put. The key of the elements made from it; they are always made
    from the view ``_view`` builds of these values alone (a cached unit or not): a view
    without something the encoding reads fails, never goes stale."""
    start, end = unit.start, unit.own_end

    def starting(items: list[Any], key: str) -> list[Any]:
        return [item for item in _starting_in(ctx, items, key, start, end)
                if getattr(item, key) < end]

    by_call, roles = ctx.note_by_call, ctx.roles
    titles = ctx.__dict__.get("_titles_key")
    if titles is None:
        titles = ctx.__dict__["_titles_key"] = fingerprint(ctx.titles)
    return [
        # (its end as its own text's: an edit in a sub-unit leaves it as it was)
        [*{**unit.__dict__, "start": 0, "own_end": end - start, "end": end - start}.values()],
        ctx.segmented.text[start:end],
        [(c.chapter_id, c.n, c.star, c.mark, c.offset - start, c.document_id)
         for c in starting(ctx.notes.calls, "offset")],
        [(w.offset - start, w.length, w.kind, w.payload) for w in starting(ctx.wraps, "offset")],
        [(e.start - start, e.end - start, e.sic, e.corr, e.reason)
         for e in starting(ctx.cleaned.emendations, "start")],
        [(n.note_id, n.source_id, n.chapter_id, n.n, n.text, n.kind, n.printed_in_id,
          n.text_offset - start) for n in _notes_in(ctx, start, end)],
        [(o, by_call[o + start]) for o in _offsets_in(ctx, "calls", by_call, start, end)],
        [(o, roles[o + start]) for o in _offsets_in(ctx, "roles", roles, start, end)],
        _offsets_in(ctx, "postscripts", ctx.postscript_starts, start, end),
        _offsets_in(ctx, "traces", ctx.layout_traces, start, end),
        _offsets_in(ctx, "closing", ctx.document_closing_lines, start, end),
        {k: v for k, v in ctx.source.bibliographic.items() if k in ("title", "short_title")},
        titles, ctx.last_role]


def _view(data: list[Any], titles: frozenset[str]) -> tuple[SourceContext, Unit]:
    """The context and unit ``_own_content`` is given, made of a unit's view
    (``_unit_view``) and the bibliography's titles (whose digest the view holds)."""
    (fields, text, calls, wraps, emendations, notes, called, roles, postscripts, traces,
     closing, bib, _, last_role) = data
    notes = [Note(*item) for item in notes]
    view = SourceContext.__new__(SourceContext)     # its fields set here, as viewed
    view.__dict__.update(
        source=SimpleNamespace(bibliographic=bib), segmented=SimpleNamespace(text=text),
        cleaned=SimpleNamespace(emendations=[Emendation(*item) for item in emendations]),
        notes=SimpleNamespace(calls=[NoteCall(*item) for item in calls]), letters=[],
        titles=titles, wraps=[_Event(*item) for item in wraps], note_by_call=dict(called),
        note_by_text={n.text_offset: n for n in notes}, roles=dict(roles),
        postscript_starts=set(postscripts), layout_traces=frozenset(traces),
        document_closers={}, document_closing_lines=set(closing), last_role=last_role,
        parts=None)
    return view, Unit(*fields)


def _own_content_of(div: etree._Element, ctx: SourceContext, unit: Unit) -> None:
    """The unit's own content (``_own_content``), made from its view (``_unit_view``), or
    parsed from the elements an earlier build made from the same view (``ctx.parts``)."""
    data = _unit_view(ctx, unit)
    parts = ctx.parts
    if parts is None:
        view, seen = _view(data, ctx.titles)
        _own_content(div, view, seen)
        ctx.last_role = view.last_role
        return
    key = fingerprint(data)
    entry = parts.found.get(key)
    if entry is None:
        view, seen = _view(data, ctx.titles)
        holder = _el(None, "div")
        _own_content(holder, view, seen)
        entry = (view.last_role, etree.tostring(holder, encoding="UTF-8"))
    else:
        holder = etree.fromstring(entry[1])
    parts.made[key] = entry
    ctx.last_role = entry[0]
    for element in list(holder):
        div.append(element)


def _unit_div(parent: etree._Element, ctx: SourceContext, unit: Unit) -> etree._Element:
    div = _el(parent, "div", type=unit.type, xml_id=unit.document_id,
              n=str(unit.n) if unit.n is not None else "")
    _own_content_of(div, ctx, unit)
    for child in ctx.segmented.children(unit):
        if len(div) and etree.QName(div[-1]).localname in ("closer", "postscript"):
            # What a letter encloses is printed after its signature, and TEI allows no
            # div after a closer: the enclosure is a floatingText in a postscript, which
            # keeps the printed order and the unit's div (and id) inside the letter's.
            floating = _el(_el(div, "postscript"), "floatingText", type=child.type)
            _unit_div(_el(floating, "body"), ctx, child)
        else:
            _unit_div(div, ctx, child)
    lines = ctx.document_closers.get(unit.document_id, ())
    if lines:
        closer = _el(div, "closer")
        for start, end, role in lines:
            _closer_part(closer, ctx, role, start, end)
    return div


# --- headers --------------------------------------------------------------------------------

def _bibl(parent: etree._Element, bibliographic: dict[str, Any], **attrs: str) -> etree._Element:
    bibl = _el(parent, "bibl", **attrs)
    _el(bibl, "title", bibliographic["title"],
        type="supplied" if bibliographic.get("title_supplied") else "")
    for name in bibliographic.get("authors", []):
        _el(bibl, "author", name)
    for name in bibliographic.get("editors", []):
        _el(bibl, "editor", name)
    if bibliographic.get("journal"):
        _el(bibl, "title", bibliographic["journal"], level="j")
    for unit in ("volume", "issue"):
        if bibliographic.get(unit):
            _el(bibl, "biblScope", str(bibliographic[unit]), unit=unit)
    if bibliographic.get("publisher"):
        _el(bibl, "publisher", bibliographic["publisher"])
    if bibliographic.get("place"):
        _el(bibl, "pubPlace", bibliographic["place"])
    if bibliographic.get("season"):     # "Spring 2002": the issue's date as printed
        _el(bibl, "date", bibliographic["season"], when=str(bibliographic.get("date", "")))
    elif bibliographic.get("date"):
        _el(bibl, "date", str(bibliographic["date"]))
    for name, basis in bibliographic.get("inferred", {}).items():   # not printed in the text
        _el(bibl, "note", f"{name}: {basis}", type="inferred")
    if bibliographic.get("isbn"):
        _el(bibl, "idno", bibliographic["isbn"], type="ISBN")
    if bibliographic.get("reviewed_work"):
        _el(_el(bibl, "relatedItem", type="reviewOf"), "bibl", bibliographic["reviewed_work"])
    return bibl


def _publication(file_desc: etree._Element, meta: dict[str, Any], rights: str) -> None:
    edition = _el(file_desc, "editionStmt")
    _el(edition, "edition", f"{meta['title']}, version {meta['version']}", n=meta["version"])
    pub = _el(file_desc, "publicationStmt")
    _el(pub, "publisher", PROJECT)
    _el(pub, "date", str(meta["released"]), when=str(meta["released"]))
    _el(pub, "idno", meta["name"], type="dataset")
    availability = _el(pub, "availability")
    for licence in meta["licenses"]:
        _el(availability, "licence", licence.get("title", licence["name"]),
            target=licence.get("path", ""))
    _el(availability, "p", f"Rights in the source text: {rights}")


def _prefixes(encoding: etree._Element, data_dir: str) -> None:
    prefixes = _el(encoding, "listPrefixDef")
    for ident, table in (("person", "persons"), ("place", "places")):
        _el(prefixes, "prefixDef", ident=ident, matchPattern="([a-z0-9-]+)",
            replacementPattern=f"{data_dir}/{table}.csv#$1")


def _editorial(encoding: etree._Element, cleaned: CleanedSource) -> None:
    """The cleaning rules, with how often each was applied (the log is in removals.csv)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for name, applied in cleaned.passes:
        for edit in applied:
            entry = counts.setdefault((name, edit.reason), [0, 0])
            entry[0] += 1
            entry[1] += len(edit.removed)
    decl = _el(encoding, "editorialDecl")

    def described(names: set[str]) -> str:
        parts = [f"{reason}: {n} edit(s), {chars} character(s) removed"
                 for (name, reason), (n, chars) in sorted(counts.items()) if name in names]
        return "; ".join(parts) or "none"

    _el(_el(decl, "correction"), "p",
        f"Emendations are encoded as choice/sic/corr ({len(cleaned.emendations)} in this "
        "text); each is recorded with its reason in the source's source.toml.")
    _el(_el(decl, "hyphenation", eol="none"), "p",
        "Line-end hyphens and page-break splits are resolved by recorded rules: "
        + described({"join"}) + ".")
    _el(_el(decl, "normalization"), "p",
        "Whitespace normalised: " + described({"whitespace"}) + ".")
    _el(_el(decl, "segmentation"), "p",
        "Each unit of the segment stage (sources/<id>/segment.toml) is a div whose xml:id is "
        "its document_id in documents.csv.")
    _el(_el(decl, "interpretation"), "p",
        "Removed as not part of the text (web boilerplate, page furniture): "
        + described({"remove", "pages"}) + ". Every removed character is listed, with "
        "its place in the original file, in data/removals.csv.")


def _revisions(header: etree._Element, cleaned: CleanedSource, meta: dict[str, Any]) -> None:
    changes = []
    if cleaned.page_order and cleaned.page_order != sorted(cleaned.page_order):
        changes.append(f"Pages restored to reading order ({len(cleaned.page_order)} pages; "
                       "the order is recorded in sources.csv page_order).")
    changes.append("Cleaned, segmented and encoded by the sergetrotsky pipeline.")
    revision = _el(header, "revisionDesc")
    listed = _el(revision, "listChange")
    for text in changes:
        _el(listed, "change", text, when=str(meta["released"]))


def _header(tei: etree._Element, title: str, meta: dict[str, Any], rights: str
            ) -> tuple[etree._Element, etree._Element]:
    header = _el(tei, "teiHeader")
    file_desc = _el(header, "fileDesc")
    title_stmt = _el(file_desc, "titleStmt")
    _el(title_stmt, "title", title)
    resp = _el(title_stmt, "respStmt")
    _el(resp, "resp", "Cleaning, segmentation and TEI encoding")
    _el(resp, "name", PROJECT)
    _publication(file_desc, meta, rights)
    return header, file_desc


_MIXED_TAGS = frozenset(f"{{{TEI_NS}}}{tag}" for tag in MIXED_CONTENT)


def _indent(node: etree._Element, level: int = 0) -> None:
    """Indent element-only content; mixed content (a paragraph, a dateline) is left as it is,
    so that no whitespace is added to the text."""
    children = list(node)
    if not children or node.tag in _MIXED_TAGS or (node.text or "").strip() \
            or any((child.tail or "").strip() for child in children):
        return
    inner = "\n" + "  " * (level + 1)
    node.text = inner
    for child in children:
        if len(child):      # (an element without children is left as it is)
            _indent(child, level + 1)
        child.tail = inner
    children[-1].tail = "\n" + "  " * level


def _serialise(tei: etree._Element) -> bytes:
    _indent(tei)
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            + etree.tostring(tei, encoding="UTF-8") + b"\n")


# --- the files ----------------------------------------------------------------------------

def source_tree(ctx: SourceContext, meta: dict[str, Any], original_path: str
                ) -> etree._Element:
    """The TEI document of a whole source."""
    source, bib = ctx.source, ctx.source.bibliographic
    tei = _el(None, "TEI", xml_lang="en", n=source.source_id)
    header, file_desc = _header(tei, bib["title"], meta, bib["rights"])
    title_stmt = file_desc[0]
    for position, name in enumerate(bib.get("authors", [])):
        title_stmt.insert(1 + position, _el(None, "author", name))
    source_desc = _el(file_desc, "sourceDesc")
    bibl = _bibl(source_desc, bib, xml_id=f"{source.source_id}-original")
    _el(bibl, "idno", source.sha256, type="sha256")
    _el(bibl, "ptr", target=f"../{original_path}")
    encoding = _el(header, "encodingDesc")
    _editorial(encoding, ctx.cleaned)
    _prefixes(encoding, "../data")
    profile = _el(header, "profileDesc")
    languages = _el(profile, "langUsage")
    _el(languages, "language", LANGUAGE_NAMES.get(bib["language"], bib["language"]),
        ident=bib["language"])
    _revisions(header, ctx.cleaned, meta)
    body = _el(_el(tei, "text"), "body")
    _unit_div(body, ctx, ctx.segmented.units[0])
    return tei


def _as_view(div: etree._Element, home: str) -> etree._Element:
    """A copy of a unit's div for a letter file: ids become pointers into the home file."""
    view = copy.deepcopy(div)
    for node in view.iter():
        node_id = node.attrib.pop(XML_ID, None)
        if node_id is not None:
            node.set("corresp", f"{home}#{node_id}")
        target = node.get("target")
        if target and target.startswith("#"):
            node.set("target", f"{home}{target}")
    return view


def _names(rows: Iterable[dict[str, Any]], key: str) -> dict[str, str]:
    return {r[key]: r["name"] for r in rows}


def letter_tree(letter: Letter, div: etree._Element, source: Source, meta: dict[str, Any],
                persons: dict[str, str], places: dict[str, str]) -> etree._Element:
    """The TEI document of one letter: its correspDesc and a view of its text."""
    home = f"../{source.source_id}.xml"
    sender, addressee = persons.get(letter.sender_id, ""), persons.get(letter.addressee_id, "")
    title = (f"Letter {letter.number}: " if letter.number else "") + \
        f"{sender} to {addressee}" + (f", {letter.date}" if letter.date else "")
    tei = _el(None, "TEI", xml_lang="en", n=letter.letter_id)
    header, file_desc = _header(tei, title, meta, source.bibliographic["rights"])
    source_desc = _el(file_desc, "sourceDesc")
    bibl = _bibl(source_desc, source.bibliographic)
    _el(bibl, "ptr", target=f"{home}#{letter.letter_id}")
    _prefixes(_el(header, "encodingDesc"), "../../data")
    profile = _el(header, "profileDesc")
    corresp = _el(profile, "correspDesc", n=str(letter.number) if letter.number is not None
                  else "", corresp=f"{home}#{letter.letter_id}")
    sent = _el(corresp, "correspAction", type="sent")
    _el(sent, "persName", sender, ref=f"person:{letter.sender_id}")
    if letter.place_id:
        _el(sent, "placeName", places.get(letter.place_id, letter.place_as_written),
            ref=f"place:{letter.place_id}",
            cert="low" if letter.place_cert == "inferred" else "")
    if letter.date:
        _el(sent, "date", letter.date_as_written or letter.date, when=letter.date,
            cert=letter.date_cert)
    received = _el(corresp, "correspAction", type="received")
    for person_id in letter.addressee_ids or (letter.addressee_id,):
        _el(received, "persName", persons.get(person_id, ""), ref=f"person:{person_id}")
    if letter.date_source and letter.date_source != "printed":
        _el(corresp, "note", f"Date {letter.date_source}"
            + (f"; printed {letter.date_as_written!r}." if letter.date_as_written else "."),
            type="date")
    if letter.place_reason:
        _el(corresp, "note", f"Place inferred: {letter.place_reason}", type="place")
    if letter.anatomy.no_closer:
        _el(corresp, "note", f"No closer: {letter.anatomy.no_closer}", type="closer")
    languages = _el(profile, "langUsage")
    # The language the source prints the letter in; a translation when [letters] says so.
    printed_in = source.bibliographic.get("language") or "en"
    statement = LANGUAGE_NAMES.get(printed_in, printed_in)
    if source.extra.get("letters", {}).get("translated"):
        statement += " (the edition's translation)"
    _el(languages, "language", statement, ident=printed_in)
    if letter.language and letter.language != printed_in:
        _el(languages, "language",
            f"{LANGUAGE_NAMES.get(letter.language, letter.language)} (the original)",
            ident=letter.language)
    keywords = _el(_el(profile, "textClass"), "keywords")
    _el(keywords, "term", letter.form, type="form")
    body = _el(_el(tei, "text"), "body")
    body.append(_as_view(div, home))
    return tei


def encode_source(ctx: SourceContext, meta: dict[str, Any], original_path: str,
                  persons: list[dict[str, Any]], places: list[dict[str, Any]],
                  organisations: Iterable[dict[str, Any]] = ()) -> dict[str, bytes]:
    """The TEI files of one source: the source file and one file per letter."""
    add_document_closers(ctx, persons)
    tree = source_tree(ctx, meta, original_path)
    divs = {d.get(XML_ID): d for d in tree.iter(f"{{{TEI_NS}}}div")}
    person_names, place_names = _names(persons, "person_id"), _names(places, "place_id")
    files = {}
    linked = links.neighbours([links.key_of_letter(letter, ctx.source.source_id)
                               for letter in ctx.letters])
    # Files that stand alone (pipeline/standoff.py): notes and register entries inside.
    registers = standoff.Registers.of(persons, places, list(organisations))
    notes = {n.get(XML_ID): n for n in tree.iter(f"{{{TEI_NS}}}note") if n.get(XML_ID)}
    for letter in ctx.letters:
        letter_tei = letter_tree(letter, divs[letter.letter_id], ctx.source, meta,
                                 person_names, place_names)
        links.add_to_letter_file(letter_tei, linked[letter.letter_id])   # correspContext
        standoff.own_notes(letter_tei, letter.letter_id, f"../{ctx.source.source_id}.xml",
                           notes)
        standoff.localise_references(letter_tei, letter.letter_id, registers)
        files[letter_tei_path(letter.letter_id)] = _serialise(letter_tei)
    # The source file's own ids start with its id; a source that is one letter (its top
    # unit, with the source's id) has given that prefix to the letter file already.
    own_prefix = ctx.source.source_id
    if any(letter.letter_id == own_prefix for letter in ctx.letters):
        own_prefix += "-source"
    standoff.localise_references(tree, own_prefix, registers)
    files[tei_path(ctx.source.source_id)] = _serialise(tree)
    return files
