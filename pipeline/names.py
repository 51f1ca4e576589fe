"""The name index: registered persons, places and organisations by the forms the texts
print, with one rule of matching for every stage that reads a name.

Three stages read names through it: the letters stage looks a printed name up whole (a
heading's sender and addressee, a salutation's names, a signature: ``NameIndex.resolve``);
the mentions stage finds names in running text (``NameIndex.find``); the chronology's
``persons`` are the person mentions of each of its lines (``backmatter.chronology_rows``),
so both tables say the same.

**The case rule: a name matches as printed, case and accents included** ("Andrès" is not
"Andrés"; "Leon" is not "leon"). Why, from the texts:

- Where the letters stage resolves names (headings, salutations, signatures and
  addresses), every name is printed in the case of its registered form; the only
  capitals in the texts are section headings ("TROTSKY AND DEMOCRACY IN THE COMMUNIST
  PARTY" in nelson), never a name to resolve. Ignoring case there gained nothing.
- In running text, case is what tells a name from a phrase: ignoring it would take "the
  proletarian revolution" (papers) for the periodical *The Proletarian Revolution* and
  "Trotsky's grandson" for the index's "Volkov, Siova (Trotsky's Grandson)". A form the
  texts print in another case ("La Révolution prolétarienne") is a form to register.

**One normalisation** (``name_key``), the same for a registered form, a string looked up
whole and a name found in running text: note marks and the asterisks of italics are not
part of a name ("Nin¹⁷³", "*Serge*"), and a run of blanks, a line break included, is one
space. What surrounds a name in its line (a comma, a full stop, "(sign.)") is the
caller's to cut: the scan's word boundaries, or the candidates of ``letters.is_person``.

**Forms.** An entry's forms are its name and registered forms, a derived person's
family name (``registers.surname``), a place's name and its spelling without accents
("Coyoacan"), an organisation's name, English name and abbreviation. Every form can be
looked up whole (a signature "V" or "LT"); running text is searched only for forms that
can be told from other words (``searchable``): not an inverted index heading ("Sedova,
NI"), not initials only ("N.") nor a single letter, and no organisation's abbreviation of
fewer than three letters ("IS" and "RP" are words too often).

**Ambiguity.** A form (its key) of two entries is ambiguous and never resolved, whole or
in running text ("Rosmer", "Kibalchich"), unless a person who read every use of it decided
its owner (``form_owner`` in ``sources/_registry/decisions.toml``). In running text the
longest form wins where forms overlap ("Natalia Sedova" before "Natalia"), and a one-word
person form right after another name word is someone else (``NameIndex.find``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from collections.abc import Set as AbstractSet
from functools import cached_property
from typing import Any

from . import registers
from .conventions import strip_marks, without_accents

Row = Mapping[str, Any]
Owner = tuple[str, str]                         # (entity kind, id): ("person", "serge")
KIND_FILES = {"person": "persons", "place": "places"}     # the hand-made registry's files
# The blanks between two words of a form in running text: any run of them, with at most
# one line break (a blank line ends the paragraph, and the name).
BLANKS = r"[^\S\n]*\n?[^\S\n]*(?<=\s)"
# A name word (capitalised, an initial, a particle) just before a match, in its paragraph.
NAME_BEFORE = re.compile(r"(?:(?<![\w'’.-])((?:[A-Z]\.[^\S\n]?)+|(?:de|del|van|von|da|di|y|la|le))"
                         r"|(?<![\w'’-])([A-ZÀ-ÖØ-Þ][\w'’-]*))" + BLANKS + r"\Z")
WORDS = re.compile(r"[^\W\d_][\w'’-]*")


def name_key(text: str) -> str:
    """A name as the index compares it: note marks and italics' asterisks removed, blanks
    folded to one space; case and accents kept (the one case rule: as printed)."""
    return strip_marks(text)


def searchable(form: str) -> bool:
    """A form worth searching in running text: not an inverted index heading, not
    initials only, not a single letter."""
    if ", " in form or len(form) < 2:
        return False
    return not re.fullmatch(r"(?:[A-Z]\.\s*)+", form)


def _list(value: Any) -> list[str]:
    """A row's forms: a list (the registry) or ';'-separated (a table's cell)."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v for v in str(value or "").split(";") if v]


class NameIndex:
    """Every form of the given entries → its owners; which forms are ambiguous."""

    def __init__(self, persons: Iterable[Row], places: Iterable[Row] = (),
                 organisations: Iterable[Row] = (),
                 families: Mapping[str, str] | None = None,
                 form_owners: Mapping[str, str] | None = None):
        owners: dict[str, set[Owner]] = {}
        searched: set[str] = set()

        def add(form: str, kind: str, key: str, search: bool = True) -> None:
            form = name_key(form)
            if form:
                owners.setdefault(form, set()).add((kind, key))
                if search and searchable(form):
                    searched.add(form)

        for p in persons:
            key = str(p["person_id"])
            for form in [str(p["name"]), *_list(p.get("forms"))]:
                add(form, "person", key)
            if str(p.get("evidence") or ""):        # derived entries: the family name too
                add(registers.surname(str(p["name"]), families), "person", key)
        for p in places:
            add(str(p["name"]), "place", str(p["place_id"]))
            add(without_accents(str(p["name"])), "place", str(p["place_id"]))
        for o in organisations:
            key = str(o["org_id"])
            for form in (str(o.get("name") or ""), str(o.get("name_english") or "")):
                add(form, "organisation", key)
            abbreviation = str(o.get("abbreviation") or "")
            add(abbreviation, "organisation", key, search=len(abbreviation) >= 3)
        # A person decided a shared form's owner, having read every use of it
        # (decisions.toml form_owner): "Sedov" alone is always Lev Sedov in these texts.
        for form, person in (form_owners or {}).items():
            if ("person", person) in owners.get(name_key(form), set()):
                owners[name_key(form)] = {("person", person)}
        self.owners: dict[str, frozenset[Owner]] = {f: frozenset(ids)
                                                    for f, ids in owners.items()}
        self.searched = searched

    @cached_property
    def pattern_source(self) -> str | None:
        """The regular expression of the searched forms (None if there are none)."""
        alternatives = sorted(self.searched, key=lambda f: (-len(f), f))
        # Whole words; a note mark (superscript digits) may follow a name ("Nin¹⁷³").
        # The lookahead on the forms' first characters only makes the scan fast (4×): a
        # position no form can start at is passed over before the long alternation.
        first = "".join(map(re.escape, sorted({f[0] for f in alternatives})))
        return (f"(?=[{first}])" r"(?<![\w'’-])(?:" + literal_trie(alternatives)
                + r")(?![^\W⁰¹²³⁴⁵⁶⁷⁸⁹]|-)") if alternatives else None

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        """The searched forms as one pattern, compiled when first used (``find``): it takes
        a while, and an index used only to ``resolve`` a name never needs it. (The build
        may set it, compiled from its cache: build._compiled.)"""
        source = self.pattern_source
        return re.compile(source) if source is not None else None

    def owner(self, printed: str) -> Owner | None:
        """The one entry a printed name is a form of; None if none or several."""
        return self._owner(name_key(printed))

    def _owner(self, key: str) -> Owner | None:
        ids = self.owners.get(key, frozenset())
        return next(iter(ids)) if len(ids) == 1 else None

    def resolve(self, printed: str, kind: str = "person") -> tuple[str | None, str]:
        """A name printed on its own (a heading's addressee, a signature) → (id of the
        entry of this kind, "") or (None, why not)."""
        ids = self.owners.get(name_key(printed), frozenset())
        if len(ids) == 1 and next(iter(ids))[0] == kind:
            return next(iter(ids))[1], ""
        if len(ids) > 1:
            return None, (f"{printed!r} is a form of several entries "
                          f"({', '.join(sorted(f'{k} {i}' for k, i in ids))})")
        if ids:
            other = next(iter(ids))
            return None, f"{printed!r} is a form of the {other[0]} {other[1]!r}, not of a {kind}"
        where = f"sources/_registry/{KIND_FILES[kind]}.toml" if kind in KIND_FILES \
            else f"the register of {kind}s"
        return None, f"{printed!r} is not a name or form in {where}"

    def find(self, text: str, start: int = 0, end: int | None = None,
             common: AbstractSet[str] | None = None) -> list[tuple[int, str, Owner | None]]:
        """(offset, form as printed, owner or None when ambiguous) for each name in
        running text, text[start:end].

        A one-word form of a person right after another name word of its paragraph
        ("Jeanne Martin", "Primo de Rivera", "E.H. Carr") is someone the register may not
        hold, or holds under another form: it is not a mention of the entry (no guess).
        The paragraph before (a heading, a closer's "… and N I.") gives no such word;
        a line break within the paragraph is a blank. A name word is
        an initial, a particle, or a capitalised word the text never writes in lower case
        (so "But Nin" and "Comrade Nin" are mentions, "Jeanne Martin" is not)."""
        if self.pattern is None:
            return []
        end = len(text) if end is None else end
        if common is None:      # (``lowercase_words`` of the text, if given)
            common = {w for w in set(WORDS.findall(text)) if w.islower()}
        found = []
        keys: dict[str, str] = {}      # a text prints the same few hundred forms many times
        for m in self.pattern.finditer(text, start, end):
            key = keys.get(m[0]) or keys.setdefault(m[0], name_key(m[0]))
            owner = self._owner(key)
            if (owner is None or owner[0] == "person") and " " not in key:
                before = NAME_BEFORE.search(text, max(0, m.start() - 40), m.start())
                if before and (before[1] or before[2].lower() not in common):
                    continue
            found.append((m.start(), m[0], owner))
        return found


def lowercase_words(text: str, edges: Iterable[int], known: Mapping[str, frozenset[str]],
                    made: MutableMapping[str, frozenset[str]]) -> set[str]:
    """The words of ``text`` written in lower case, as ``NameIndex.find`` reads them: the
    text cut at ``edges`` (its units' bounds) where a blank is on either side of the cut
    (no word runs across it), each piece's words taken from ``known`` (piece -> its
    words) or found; ``made`` is given every piece's."""
    cuts = sorted({0, len(text), *(edge for edge in edges if 0 < edge < len(text)
                                   and (text[edge - 1].isspace() or text[edge].isspace()))})
    found: set[str] = set()
    for start, end in zip(cuts, cuts[1:], strict=False):
        piece = text[start:end]
        words = known.get(piece)
        if words is None:
            words = frozenset(w for w in set(WORDS.findall(piece)) if w.islower())
        made[piece] = words
        found |= words
    return found


def literal_trie(forms: Iterable[str]) -> str:
    """A regex alternation of the ``forms`` written as a trie, one branch per next
    character ("Natalia(?:BLANKSSedova)?"), a form's space matching ``BLANKS``: it matches
    what the plain alternation of the forms, longest first, matches (at any position one
    branch at most can go on, and a longer form is tried before a shorter one ends),
    about five times faster.
    """
    trie: dict[str, Any] = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}               # a form ends here

    def branch(node: dict[str, Any]) -> str:
        ways = [(BLANKS if char == " " else re.escape(char)) + branch(node[char])
                for char in sorted(node) if char]
        if not ways:
            return ""
        if len(ways) == 1 and "" not in node:
            return ways[0]
        return f"(?:{'|'.join(ways)})" + ("?" if "" in node else "")

    return branch(trie)
