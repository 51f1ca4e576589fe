"""Letters linked to their neighbours (``correspContext``), for the letter files and CMIF.

Why: a reader of one letter wants the one before and the one after, in the book and in
the exchange between the same two people. The TEI Guidelines' ``correspContext`` holds
these links (the WeGA, Escher and Schnitzler editions give them in every letter).

Two orders, both taken from the letters table (whose order is the book's):

- the edition: the previous and next letter of the same source (the book);
- the correspondence: the previous and next letter of the same source exchanged between
  the same two correspondents, in either direction. A letter with an unknown sender or
  addressee belongs to no correspondence, and a group is a correspondent like a person.

Each link is a ``ref`` with ``@type`` ``prev`` or ``next`` and ``@subtype`` ``edition`` or
``correspondence``; all four are given wherever they exist, even when the two orders
agree, so that a reader (or a program) never has to infer one from the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from lxml import etree

from .conventions import TEI_NS

KINDS = (("prev", "edition"), ("next", "edition"),
         ("prev", "correspondence"), ("next", "correspondence"))


@dataclass(frozen=True)
class LetterKey:
    """What linking needs to know of a letter."""

    letter_id: str
    source_id: str
    sender_id: str
    addressee_id: str
    number: str = ""
    date: str = ""

    @property
    def pair(self) -> frozenset[str] | None:
        """The two correspondents, whoever wrote; None when one is unknown."""
        if not self.sender_id or not self.addressee_id:
            return None
        return frozenset((self.sender_id, self.addressee_id))

    @property
    def label(self) -> str:
        """How a link names the letter: its printed number, else its date, else its id."""
        if self.number:
            return f"Letter {self.number}"
        return f"Unnumbered letter of {self.date}" if self.date else self.letter_id


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def key_of_row(row: Mapping[str, Any], source_id: str) -> LetterKey:
    """A letters-table row (from the stage or the CSV) as a LetterKey."""
    return LetterKey(_text(row.get("letter_id")), source_id, _text(row.get("sender_id")),
                     _text(row.get("addressee_id")), _text(row.get("number")),
                     _text(row.get("date")))


def neighbours(letters: Sequence[LetterKey]) -> dict[str, dict[tuple[str, str], LetterKey]]:
    """For each letter id, its neighbours: {(type, subtype): letter}, only those that exist.

    ``letters`` are in the book's order; letters of different sources are never linked.
    """
    found: dict[str, dict[tuple[str, str], LetterKey]] = {k.letter_id: {} for k in letters}
    groups: dict[tuple[str, Any], list[LetterKey]] = {}
    for key in letters:
        groups.setdefault((key.source_id, "edition"), []).append(key)
        if key.pair is not None:
            groups.setdefault((key.source_id, key.pair), []).append(key)
    for (_, group), members in groups.items():
        subtype = "edition" if group == "edition" else "correspondence"
        for before, after in pairwise(members):
            found[after.letter_id][("prev", subtype)] = before
            found[before.letter_id][("next", subtype)] = after
    return found


def corresp_context(links: Mapping[tuple[str, str], LetterKey],
                    target: Callable[[LetterKey], str]) -> etree._Element | None:
    """A TEI ``correspContext`` with one ``ref`` per link (in the order of ``KINDS``), or
    None when the letter has no neighbour at all. ``target`` gives a link's URI."""
    if not links:
        return None
    context = etree.Element(f"{{{TEI_NS}}}correspContext", nsmap={None: TEI_NS})
    for kind in KINDS:
        if kind in links:
            ref = etree.SubElement(context, f"{{{TEI_NS}}}ref", type=kind[0], subtype=kind[1],
                                   target=target(links[kind]))
            ref.text = links[kind].label
    return context


def key_of_letter(letter: Any, source_id: str) -> LetterKey:
    """A letters-stage ``Letter`` as a LetterKey."""
    number = "" if letter.number is None else str(letter.number)
    return LetterKey(letter.letter_id, source_id, letter.sender_id or "",
                     letter.addressee_id or "", number, letter.date or "")


def add_to_letter_file(tei: etree._Element, links: Mapping[tuple[str, str], LetterKey]) -> None:
    """Put the ``correspContext`` into a letter file's ``correspDesc``, after its
    ``correspAction``s; links point at the neighbours' letter files, which sit in the
    same folder (``tei/letters/<letter_id>.xml``)."""
    context = corresp_context(links, lambda key: f"{key.letter_id}.xml")
    if context is None:
        return
    desc = tei.find(f".//{{{TEI_NS}}}correspDesc")
    actions = desc.findall(f"{{{TEI_NS}}}correspAction")
    actions[-1].addnext(context)
