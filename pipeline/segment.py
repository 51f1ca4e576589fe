"""Segment stage: a cleaned text becomes a tree of units (chapters, letters, sections...).

Which paragraphs open units is an editorial decision, recorded per source in the
``[segment]`` table of source.toml as an ordered outline::

    [segment]
    top_type = "book"                       # type of the source's top unit
    units = [
      { level = 1, type = "chapter", heading = "1 Victor Serge and Bolshevism" },
      { level = 2, type = "letter", id = "letter-1", n = 1,
        heading = "Letter 1: Serge to Trotsky (in French)",
        author = "serge", date = "1936-04-22", place = "brussels" },
    ]

Each entry opens at the first paragraph, after the previous entry, whose text equals
``heading`` (blanks folded, note marks and ``*`` ignored; a heading ending in "..."
matches by prefix) and runs to the next entry of the same or a higher level. Every
recorded heading must be found, in order: anything else is a located error, never a
guess. An explicit ``id`` is relative to the source: ``letter-1`` in source ``papers``
is ``papers-letter-1``. A paragraph that is not listed is never a heading, so a paragraph that only
begins with an author's name, or a signature line, stays inside its unit.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .clean import CleanedSource
from .conventions import count_words as count_words  # re-exported: the outline command's
from .conventions import strip_marks
from .dates import ISO_DATE
from .errors import PipelineError
from .resources import table_schema
from .sources import Source

ID_ABBREVIATIONS = {"chapter": "ch", "section": "sec", "document": "doc", "introduction": "intro"}
ENTRY_KEYS = {"level", "type", "heading", "id", "n", "title", "author", "date", "place",
              "language", "note"}


def unit_types() -> list[str]:
    """The closed list of unit types, read from the documents table schema."""
    schema = table_schema("documents")
    field_def = next(f for f in schema["fields"] if f["name"] == "type")
    return list(field_def["constraints"]["enum"])


@dataclass
class Unit:
    """One unit of text; offsets are in the source's cleaned text."""

    document_id: str
    source_id: str
    parent_id: str
    type: str
    n: int | None
    title: str
    level: int
    start: int
    own_end: int
    end: int
    author_id: str = ""
    date: str = ""
    place_id: str = ""
    language: str = "en"
    heading: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SegmentedSource:
    """The unit tree of one source, units in reading order (top unit first).

    The tree API every later stage walks the units with: ``unit``, ``parent``,
    ``ancestors``, ``children``, ``descendants``, ``subtree``, ``of_type``, ``unit_at`` (the
    deepest unit at an offset) and ``body_span`` (a unit's own text after its heading).
    A unit's sub-units follow it in reading order, so a subtree is a run of ``units``."""

    source_id: str
    text: str
    units: list[Unit]

    def text_of(self, unit: Unit) -> str:
        """The unit's text, sub-units included."""
        return self.text[unit.start:unit.end]

    def own_text(self, unit: Unit) -> str:
        """The unit's text up to its first sub-unit."""
        return self.text[unit.start:unit.own_end]

    # --- the tree --------------------------------------------------------------------------
    # Indexes built on first use; ``units`` is not changed after segmentation.

    @cached_property
    def _by_id(self) -> dict[str, Unit]:
        return {u.document_id: u for u in self.units}

    @cached_property
    def _position(self) -> dict[str, int]:
        return {u.document_id: i for i, u in enumerate(self.units)}

    @cached_property
    def _children(self) -> dict[str, list[Unit]]:
        found: dict[str, list[Unit]] = {u.document_id: [] for u in self.units}
        for u in self.units:
            if u.parent_id in found:
                found[u.parent_id].append(u)
        return found

    @cached_property
    def _starts(self) -> list[int]:
        return [u.start for u in self.units]

    def unit(self, document_id: str) -> Unit:
        """The unit of that id (KeyError if there is none)."""
        return self._by_id[document_id]

    def get(self, document_id: str) -> Unit | None:
        """The unit of that id, or None."""
        return self._by_id.get(document_id)

    def parent(self, unit: Unit) -> Unit | None:
        """The unit's parent; None for the top unit."""
        return self._by_id.get(unit.parent_id) if unit.parent_id else None

    def ancestors(self, unit: Unit) -> list[Unit]:
        """The unit's ancestors, nearest first."""
        chain = []
        while (parent := self.parent(unit)) is not None:
            chain.append(parent)
            unit = parent
        return chain

    def children(self, unit: Unit) -> list[Unit]:
        """The unit's sub-units, in reading order."""
        return self._children.get(unit.document_id, [])

    def descendants(self, unit: Unit) -> list[Unit]:
        """Every unit under ``unit``, in reading order."""
        inside = {unit.document_id}
        found = []
        for other in self.units[self._position[unit.document_id] + 1:]:
            if other.parent_id not in inside:
                break
            inside.add(other.document_id)
            found.append(other)
        return found

    def subtree(self, unit: Unit) -> list[Unit]:
        """``unit`` and every unit under it, in reading order."""
        return [unit, *self.descendants(unit)]

    def of_type(self, unit_type: str) -> list[Unit]:
        """The units of one type, in reading order."""
        return [u for u in self.units if u.type == unit_type]

    def unit_at(self, offset: int) -> Unit:
        """The deepest unit at ``offset``: the one whose own text holds it (the units' own
        texts partition the text)."""
        return self.units[max(0, bisect.bisect_right(self._starts, offset) - 1)]

    def body_span(self, unit: Unit) -> tuple[int, int]:
        """(start, end) of the unit's own text after its printed heading: a unit with a
        heading opens at the paragraph that prints it (see ``segment``), which is left out."""
        start = unit.start
        if unit.heading:
            first = paragraphs(self.own_text(unit))
            if first:
                start = unit.start + first[0][1]
        return start, unit.own_end




def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph (blank-line separated), separators excluded."""
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text)]


def _matches(paragraph: str, heading: str) -> bool:
    paragraph, heading = strip_marks(paragraph), strip_marks(heading)
    if heading.endswith("..."):
        return paragraph.startswith(heading[:-3].rstrip())
    return paragraph == heading


def _derive_id(parent_id: str, unit_type: str, n: int) -> str:
    abbr = ID_ABBREVIATIONS.get(unit_type)
    if unit_type == "chapter":
        return f"{parent_id}-ch{n:02d}"
    return f"{parent_id}-{abbr or unit_type}-{n:02d}"


def segment(source: Source, cleaned: CleanedSource) -> SegmentedSource:
    """Build the unit tree of one source from its outline; fail loudly on any mismatch."""
    where = str(source.outline_path)
    spec = source.segment or {}
    types = unit_types()
    text = cleaned.text
    bib = source.bibliographic
    top = Unit(
        document_id=source.source_id, source_id=source.source_id, parent_id="",
        type=spec.get("top_type", bib["kind"]), n=None,
        title=spec.get("title", bib.get("short_title", bib["title"])), level=0,
        start=0, own_end=len(text), end=len(text), author_id=spec.get("author", ""),
        date=spec.get("date", bib.get("date", "")), language=bib["language"],
    )
    if top.type not in types:
        raise PipelineError(f"unknown unit type {top.type!r}", file=where, field="segment.top_type")
    paras = paragraphs(text)
    units = [top]
    stack = [top]
    cursor = 0
    counters: dict[str, int] = {}
    for index, entry in enumerate(spec.get("units", [])):
        label = f"segment.units[{index}]"
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise PipelineError(f"unknown keys {sorted(unknown)}", file=where, field=label)
        heading, level, unit_type = entry.get("heading"), entry.get("level"), entry.get("type")
        if not heading or not isinstance(level, int) or level < 1:
            raise PipelineError("each unit needs a heading and a level >= 1", file=where,
                                field=label)
        if unit_type not in types:
            raise PipelineError(f"unknown unit type {unit_type!r} (allowed: {', '.join(types)})",
                                file=where, field=f"{label}.type")
        if level > len(stack):
            raise PipelineError(f"level {level} under a unit of level {len(stack) - 1}: "
                                "a level was skipped", file=where, field=f"{label}.level")
        if entry.get("date") and not ISO_DATE.match(str(entry["date"])):
            raise PipelineError("date must be ISO 8601", file=where, field=f"{label}.date")
        found = next((i for i in range(cursor, len(paras))
                      if _matches(text[paras[i][0]:paras[i][1]], heading)), None)
        if found is None:
            earlier = any(_matches(text[s:e], heading) for s, e in paras[:cursor])
            previous = spec["units"][index - 1]["heading"] if index else "the start"
            why = "it occurs only before" if earlier else "it is not in the cleaned text after"
            raise PipelineError(f"heading {heading!r} not found in order: {why} {previous!r}",
                                file=where, field=f"{label}.heading")
        cursor = found + 1
        del stack[level:]
        parent = stack[-1]
        key = f"{parent.document_id}/{unit_type}"
        counters[key] = counters.get(key, 0) + 1
        sibling_n = sum(1 for u in units if u.parent_id == parent.document_id) + 1
        # Explicit ids are written relative to the source ("letter-12"), so that a copy
        # of a source folder under another name gets ids of its own.
        document_id = (entry.get("id") and f"{source.source_id}-{entry['id']}") or _derive_id(
            parent.document_id, unit_type, counters[key] if unit_type != "chapter" else sibling_n)
        unit = Unit(
            document_id=document_id, source_id=source.source_id, parent_id=parent.document_id,
            type=unit_type, n=entry.get("n", sibling_n),
            title=entry.get("title") or strip_marks(text[paras[found][0]:paras[found][1]]),
            level=level, start=paras[found][0], own_end=0, end=0,
            author_id=entry.get("author", ""), date=str(entry.get("date", "")),
            place_id=entry.get("place", ""), language=entry.get("language", bib["language"]),
            heading=text[paras[found][0]:paras[found][1]],
            extra={k: v for k, v in entry.items() if k == "note"},
        )
        units.append(unit)
        stack.append(unit)
    _close_spans(units, len(text))
    seen: set[str] = set()
    for unit in units:
        if unit.document_id in seen:
            raise PipelineError(f"document id {unit.document_id!r} used twice", file=where,
                                field="segment.units")
        seen.add(unit.document_id)
    return SegmentedSource(source.source_id, text, units)


def _close_spans(units: list[Unit], length: int) -> None:
    """Set each unit's end (next unit at its level or above) and own_end (next unit)."""
    for i, unit in enumerate(units):
        following = units[i + 1:]
        unit.own_end = following[0].start if following else length
        unit.end = next((u.start for u in following if u.level <= unit.level), length)
