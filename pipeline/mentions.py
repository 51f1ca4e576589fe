"""Names tagged in the texts: where the letters and documents mention a registered person,
place or organisation.

Why: "which letters mention Nin?" should be answerable from the tables alone, and a
reader of a TEI file should be able to follow a name to its register entry, as in the
leading letter editions (the edition humboldt digital, the Schnitzler letters).

How: a mention is a name of a registered entry found in running text by the one name
index (pipeline/names.py, which states the rules: names match as printed, case
included; the longest form wins; a form of two entries is **ambiguous and never
tagged** unless ``form_owner`` in ``sources/_registry/decisions.toml`` decided its owner;
initials only and inverted index headings are never searched). Searched: every unit of
the texts except the apparatus that lists names rather than mentions them (index,
bibliography, glossary, front matter). The chronology's ``persons`` are the person
mentions of each of its lines (``backmatter.chronology_rows``).

The TEI stage wraps each mention as ``persName``/``placeName``/``orgName`` with
``@ref="person:…"`` (made local to the file by pipeline/standoff.py); the ``mentions``
table gives, for each, the source, the innermost unit, the entity, the offset in the
source's text (``text/<source_id>.txt``) and the form as printed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from .names import NameIndex

SKIPPED_UNIT_TYPES = frozenset({"index", "bibliography", "glossary", "front"})
TAGS = {"person": "persName", "place": "placeName", "organisation": "orgName"}
PREFIXES = {"person": "person", "place": "place", "organisation": "org"}


@dataclass(frozen=True, slots=True)   # many per source: no __dict__ each
class Mention:
    """One tagged mention."""

    source_id: str
    document_id: str
    entity_type: str            # person, place, organisation
    entity_id: str
    offset: int
    form: str
    # A dateline's place: the TEI stage tags it from the letters table, not from here.
    in_dateline: bool = False

    def row(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "document_id": self.document_id,
                "entity_type": self.entity_type, "entity_id": self.entity_id,
                "offset": self.offset, "form": self.form}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as the call that makes it (the build cache holds thousands): the
        # dataclass's own state functions set each field in Python, five times slower.
        return (Mention, (self.source_id, self.document_id, self.entity_type, self.entity_id,
                          self.offset, self.form, self.in_dateline))


def _innermost(units: Sequence[Any], offset: int) -> Any | None:
    found = None
    for unit in units:
        if unit.start <= offset < unit.end and (found is None or unit.level >= found.level):
            found = unit
    return found


class _Spans:
    """Where the units are, for many offsets: ``innermost(offset)`` is
    ``_innermost(units, offset)`` (the last of the deepest units holding it) and
    ``skipped(offset)`` whether a unit of ``skipped`` holds it, each found by bisection
    among the units' bounds (looping over every unit for every name found was a third of
    finding a source's mentions)."""

    def __init__(self, units: Sequence[Any], skipped: Iterable[tuple[int, int]]) -> None:
        spans = list(skipped)
        bounds = sorted({u.start for u in units} | {u.end for u in units}
                        | {start for start, _ in spans} | {end for _, end in spans})
        at = {bound: k for k, bound in enumerate(bounds)}
        # for each stretch between two bounds, its innermost unit and whether it is skipped
        inner: list[Any] = [None] * len(bounds)
        for unit in units:
            for k in range(at[unit.start], at[unit.end]):
                if inner[k] is None or unit.level >= inner[k].level:
                    inner[k] = unit
        skip = [False] * len(bounds)
        for start, end in spans:
            for k in range(at[start], at[end]):
                skip[k] = True
        self.bounds, self.inner, self.skip = bounds, inner, skip

    def _stretch(self, offset: int) -> int:
        return bisect_right(self.bounds, offset) - 1    # -1: before every bound

    def innermost(self, offset: int) -> Any | None:
        k = self._stretch(offset)
        return self.inner[k] if k >= 0 else None

    def skipped(self, offset: int) -> bool:
        k = self._stretch(offset)
        return k >= 0 and self.skip[k]


def dateline_places(text: str, letters: Iterable[Any]) -> list[tuple[int, int, str]]:
    """Spans of the places printed in letters' datelines: the TEI stage tags them with the
    letter's place (its ``place_id``), which a mention inside them must not contradict
    ("Mexico" in a dateline "Mexico, D.F." is Mexico City): (start, end, place_id)."""
    spans = []
    for letter in letters:
        place = letter.place_as_written
        if not letter.place_id or not place:
            continue
        for offset, role in letter.anatomy.parts:
            if role in ("dateline", "foot-dateline"):
                end = text.find("\n\n", offset)
                line = text[offset:end if end >= 0 else len(text)]
                if place in line:
                    at = offset + line.index(place)
                    spans.append((at, at + len(place), letter.place_id))
    return spans


def find_mentions(segmented: Any, index: NameIndex, letters: Iterable[Any] = (),
                  common: AbstractSet[str] | None = None) -> tuple[list[Mention], int]:
    """The mentions in one segmented source, and the number of ambiguous forms met (left
    untagged). Units of the skipped types (and their sub-units) are not searched. The
    place of a letter's dateline is a mention of the letter's place (``place_id``) as
    printed there, whatever names it contains (the TEI stage tags it from the letters
    table, so :func:`wraps` leaves it out). ``common``: the text's words in lower case
    (``names.lowercase_words``), if known."""
    text = segmented.text
    units = segmented.units
    skipped = [(u.start, u.end) for u in units if u.type in SKIPPED_UNIT_TYPES]
    datelines = dateline_places(text, letters)
    skipped += [(start, end) for start, end, _ in datelines]
    found: list[Mention] = []
    spans = _Spans(units, skipped)
    for start, end, place_id in datelines:
        unit = spans.innermost(start)
        # as tei._dateline_wraps: two places printed "A / B" are not one placeName
        if unit is not None and " / " not in text[start:end]:
            found.append(Mention(segmented.source_id, unit.document_id, "place", place_id,
                                 start, text[start:end], in_dateline=True))
    ambiguous = 0
    for offset, form, owner in index.find(text, common=common):
        if spans.skipped(offset):
            continue
        if owner is None:
            ambiguous += 1
            continue
        unit = spans.innermost(offset)
        if unit is None:
            continue
        found.append(Mention(segmented.source_id, unit.document_id, owner[0], owner[1],
                             offset, form))
    return sorted(found, key=lambda m: m.offset), ambiguous


def wraps(mentions: Iterable[Mention]) -> list[tuple[int, int, str, dict[str, str]]]:
    """The TEI stage's spans: (offset, length, element, attributes)."""
    return [(m.offset, len(m.form), TAGS[m.entity_type],
             {"ref": f"{PREFIXES[m.entity_type]}:{m.entity_id}"}) for m in mentions
            if not m.in_dateline]
