"""Names tagged in the texts: where the letters and documents mention a registered person,
place or organisation.

Why: "which letters mention Nin?" should be answerable from the tables alone, and a
reader of a TEI file should be able to follow a name to its register entry, as in the
leading letter editions (the edition humboldt digital, the Schnitzler letters).

How, and what is never done:

- A mention is an exact, case-sensitive, whole-word occurrence of a *form* of an entry:
  a person's name and the forms the texts use (``persons.forms``, without the index's
  inverted headings such as "Sedova, NI"), a derived person's family name, a place's
  name (and its spelling without accents, "Coyoacan"), an organisation's name, English
  name and abbreviation (three letters or more: "IS" and "RP" are words too often).
- The longest form wins where forms overlap ("Natalia Sedova" before "Natalia").
- A form that belongs to two entries (a surname two persons share: "Rosmer", "Eltsin";
  "Kibalchich", which is Serge's and his son's) is **ambiguous and never tagged**: no
  guess, unless a person who read every use of it decided its owner
  (``form_owner`` in ``sources/_registry/decisions.toml``, with the evidence). Initials only
  ("N.") and single letters are never forms to search.
- Searched: every unit of the texts except the apparatus that lists names rather than
  mentions them (index, bibliography, glossary, front matter).

The TEI stage wraps each mention as ``persName``/``placeName``/``orgName`` with
``@ref="person:…"`` (made local to the file by pipeline/standoff.py); the ``mentions``
table gives, for each, the source, the innermost unit, the entity, the offset in the
source's text (``text/<source_id>.txt``) and the form as printed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import registers

Row = Mapping[str, Any]
SKIPPED_UNIT_TYPES = frozenset({"index", "bibliography", "glossary", "front"})
# A name word (capitalised, an initial, a particle) just before a match.
NAME_BEFORE = re.compile(r"(?:(?<![\w'’.-])((?:[A-Z]\.\s?)+|(?:de|del|van|von|da|di|y|la|le))"
                         r"|(?<![\w'’-])([A-ZÀ-ÖØ-Þ][\w'’-]*))\s+$")
WORDS = re.compile(r"[^\W\d_][\w'’-]*")
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


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _searchable(form: str) -> bool:
    """A form worth searching: not an inverted index heading, not initials only."""
    form = form.strip()
    if not form or ", " in form or len(form) < 2:
        return False
    return not re.fullmatch(r"(?:[A-Z]\.\s*)+", form)


class Gazetteer:
    """Forms of every registered entity, and which forms are ambiguous."""

    def __init__(self, persons: Iterable[Row], places: Iterable[Row],
                 organisations: Iterable[Row] = (),
                 families: Mapping[str, str] | None = None,
                 form_owners: Mapping[str, str] | None = None):
        owners: dict[str, set[tuple[str, str]]] = {}

        def add(form: str, kind: str, key: str) -> None:
            if _searchable(form):
                owners.setdefault(form.strip(), set()).add((kind, key))

        for p in persons:
            key = str(p["person_id"])
            forms = [str(p["name"]), *_list(p.get("forms"))]
            for form in forms:
                add(form, "person", key)
            if str(p.get("evidence") or ""):        # derived entries: the family name too
                add(registers.surname(str(p["name"]), families), "person", key)
        for p in places:
            add(str(p["name"]), "place", str(p["place_id"]))
            add(_ascii(str(p["name"])), "place", str(p["place_id"]))
        for o in organisations:
            key = str(o["org_id"])
            for form in (str(o.get("name") or ""), str(o.get("name_english") or "")):
                add(form, "organisation", key)
            abbreviation = str(o.get("abbreviation") or "")
            if len(abbreviation) >= 3:
                add(abbreviation, "organisation", key)
        # A person decided a shared form's owner, having read every use of it
        # (decisions.toml form_owner): "Sedov" alone is always Lev Sedov in these texts.
        for form, person in (form_owners or {}).items():
            if ("person", person) in owners.get(form, set()):
                owners[form] = {("person", person)}
        self.owner = {f: next(iter(ids)) for f, ids in owners.items() if len(ids) == 1}
        self.ambiguous = {f: ids for f, ids in owners.items() if len(ids) > 1}
        alternatives = sorted(owners, key=lambda f: (-len(f), f))
        # Whole words; a note mark (superscript digits) may follow a name ("Nin¹⁷³").
        # The lookahead on the forms' first characters only makes the scan fast (4×): a
        # position no form can start at is passed over before the long alternation.
        first = "".join(map(re.escape, sorted({f[0] for f in alternatives})))
        self.pattern = re.compile(f"(?=[{first}])" r"(?<![\w'’-])(?:"
                                  + literal_trie(alternatives)
                                  + r")(?![^\W⁰¹²³⁴⁵⁶⁷⁸⁹]|-)") if alternatives else None

    def find(self, text: str, start: int = 0, end: int | None = None
             ) -> list[tuple[int, str, tuple[str, str] | None]]:
        """(offset, form, (kind, id) or None when ambiguous) for each match in text[start:end].

        A one-word form of a person right after another name word ("Jeanne Martin",
        "Primo de Rivera", "E.H. Carr") is someone the register may not hold, or holds
        under another form: it is not a mention of the entry (no guess). A name word is
        an initial, a particle, or a capitalised word the text never writes in lower case
        (so "But Nin" and "Comrade Nin" are mentions, "Jeanne Martin" is not)."""
        if self.pattern is None:
            return []
        end = len(text) if end is None else end
        common = {w for w in set(WORDS.findall(text)) if w.islower()}
        found = []
        for m in self.pattern.finditer(text, start, end):
            owner = self.owner.get(m[0])
            if (owner is None or owner[0] == "person") and " " not in m[0]:
                before = NAME_BEFORE.search(text, max(0, m.start() - 40), m.start())
                if before and (before[1] or before[2].lower() not in common):
                    continue
            found.append((m.start(), m[0], owner))
        return found


def literal_trie(forms: Iterable[str]) -> str:
    """A regex alternation of the literal ``forms`` written as a trie, one branch per next
    character ("Natalia(?: Sedova)?"): it matches what the plain alternation of the forms,
    longest first, matches (at any position one branch at most can go on, and a longer
    form is tried before a shorter one ends), about five times faster.
    """
    trie: dict[str, Any] = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}               # a form ends here

    def branch(node: dict[str, Any]) -> str:
        ways = [re.escape(char) + branch(node[char]) for char in sorted(node) if char]
        if not ways:
            return ""
        if len(ways) == 1 and "" not in node:
            return ways[0]
        return f"(?:{'|'.join(ways)})" + ("?" if "" in node else "")

    return branch(trie)


def _list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v for v in str(value or "").split(";") if v]


def _innermost(units: Sequence[Any], offset: int) -> Any | None:
    found = None
    for unit in units:
        if unit.start <= offset < unit.end and (found is None or unit.level >= found.level):
            found = unit
    return found


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


def find_mentions(segmented: Any, gazetteer: Gazetteer, letters: Iterable[Any] = ()
                  ) -> tuple[list[Mention], int]:
    """The mentions in one segmented source, and the number of ambiguous forms met (left
    untagged). Units of the skipped types (and their sub-units) are not searched. The
    place of a letter's dateline is a mention of the letter's place (``place_id``) as
    printed there, whatever names it contains (the TEI stage tags it from the letters
    table, so :func:`wraps` leaves it out)."""
    text = segmented.text
    units = segmented.units
    skipped = [(u.start, u.end) for u in units if u.type in SKIPPED_UNIT_TYPES]
    datelines = dateline_places(text, letters)
    skipped += [(start, end) for start, end, _ in datelines]
    found: list[Mention] = []
    for start, end, place_id in datelines:
        unit = _innermost(units, start)
        # as tei._dateline_wraps: two places printed "A / B" are not one placeName
        if unit is not None and " / " not in text[start:end]:
            found.append(Mention(segmented.source_id, unit.document_id, "place", place_id,
                                 start, text[start:end], in_dateline=True))
    ambiguous = 0
    for offset, form, owner in gazetteer.find(text):
        if any(s <= offset < e for s, e in skipped):
            continue
        if owner is None:
            ambiguous += 1
            continue
        unit = _innermost(units, offset)
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
