"""TEI files that stand alone: their notes and their register entries inside them.

Why: a letter file used to point into ``../papers.xml`` for its notes and at CSV rows
(``data/persons.csv#serge``, a fragment syntax CSV does not define) for its persons and
places, so that the TEI Consortium's stylesheets made a page of it without its notes,
and no XML tool could follow its references. Now:

- **Notes**: every note a letter calls is copied into the letter file, once, in
  ``<back><div type="notes">``, in the order of its first call; the copy's ``@xml:id`` is
  the letter id + the note id (``papers-letter-16-papers-ch02-n182``: ids are unique
  across the dataset, E050) and its ``@corresp`` points at the note's home in the source
  file. The calls point at the copy (``#papers-letter-16-papers-ch02-n182``). A note the
  book prints inside the letter (an author's note) is already in the file: it gets the
  local id and keeps its ``@corresp``.
- **Registers**: every ``person:``/``place:``/``org:`` reference of a TEI file (source
  file or letter file) becomes a pointer into the file's own ``standOff``
  (``#papers-letter-16-person-serge``), whose ``listPerson``/``listPlace``/``listOrg`` give
  the entry (names, dates, country, the register's description, the dataset key as
  ``idno type="dataset"`` — the row of persons.csv, places.csv or organisations.csv — and
  any authority id as a URI). Where the register holds an authority id, the reference
  also carries its URI after the local pointer, space-separated, as the edition humboldt
  digital does. The ``listPrefixDef`` that mapped ``person:`` to CSV rows is removed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .conventions import XML_ID, tei_element, tei_tag

WIKIDATA = "http://www.wikidata.org/entity/{}"
VIAF = "http://viaf.org/viaf/{}"
GEONAMES = "http://www.geonames.org/{}"
KINDS = ("person", "place", "org")


@dataclass
class Registers:
    """The dataset's registers, by kind and id: rows of the persons, places and
    organisations tables."""

    persons: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    places: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    orgs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # each entry's element made once (``_entry``), copied into each file that lists it
    entries: dict[tuple[str, str], etree._Element] = field(default_factory=dict, repr=False,
                                                           compare=False)

    @classmethod
    def of(cls, persons: Sequence[Mapping[str, Any]], places: Sequence[Mapping[str, Any]],
           orgs: Sequence[Mapping[str, Any]] = ()) -> Registers:
        return cls({p["person_id"]: p for p in persons}, {p["place_id"]: p for p in places},
                   {o["org_id"]: o for o in orgs})

    def row(self, kind: str, key: str) -> Mapping[str, Any] | None:
        return {"person": self.persons, "place": self.places, "org": self.orgs}[kind].get(key)


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def authority_uris(kind: str, row: Mapping[str, Any]) -> list[str]:
    """The authority URIs the register holds for an entry (never made up here)."""
    uris = []
    if _s(row.get("wikidata")):
        uris.append(WIKIDATA.format(_s(row["wikidata"])))
    if kind == "person" and _s(row.get("viaf")):
        uris.append(VIAF.format(_s(row["viaf"])))
    if kind == "place" and _s(row.get("geonames")):
        uris.append(GEONAMES.format(_s(row["geonames"])))
    return uris


def local_id(file_id: str, kind: str, key: str) -> str:
    """The id of a register entry inside one file (unique across the dataset)."""
    return f"{file_id}-{kind}-{key}"


# --- registers -------------------------------------------------------------------------

def _entry(kind: str, key: str, row: Mapping[str, Any], xml_id: str) -> etree._Element:
    """One ``person``/``personGrp``/``place``/``org`` element for a standOff list."""
    if kind == "person":
        is_group = _s(row.get("is_group")).lower() == "true"
        entry = etree.Element(tei_tag("personGrp" if is_group else "person"))
        entry.set(XML_ID, xml_id)
        tei_element(entry, "persName" if not is_group else "name", _s(row["name"]))
        if not is_group:
            if _s(row.get("birth")):
                tei_element(entry, "birth", _s(row["birth"]), when=_s(row["birth"]))
            if _s(row.get("death")):
                tei_element(entry, "death", _s(row["death"]), when=_s(row["death"]))
    elif kind == "place":
        entry = etree.Element(tei_tag("place"))
        entry.set(XML_ID, xml_id)
        tei_element(entry, "placeName", _s(row["name"]))
        if _s(row.get("country")):
            tei_element(tei_element(entry, "location"), "country", _s(row["country"]),
                        key=_s(row["country"]))
    else:
        entry = etree.Element(tei_tag("org"))
        entry.set(XML_ID, xml_id)
        tei_element(entry, "orgName", _s(row.get("name_english")) or _s(row["name"]))
        if _s(row.get("abbreviation")):
            tei_element(entry, "orgName", _s(row["abbreviation"]), type="abbreviation")
    tei_element(entry, "idno", key, type="dataset")
    for uri in authority_uris(kind, row):
        tei_element(entry, "idno", uri, type="URI")
    if _s(row.get("description")):
        tei_element(entry, "note", _s(row["description"]))
    return entry


_WITH_REF = etree.XPath("descendant-or-self::*[@ref]")


def localise_references(tei: etree._Element, file_id: str, registers: Registers) -> None:
    """Turn the file's ``person:``/``place:``/``org:`` references into pointers at entries
    of its own ``standOff`` (made here, after the header) and drop the CSV prefixDefs.

    A reference to an id the registers lack is left as it is (validate reports it, E052).
    """
    used: dict[str, dict[str, Mapping[str, Any]]] = {kind: {} for kind in KINDS}
    pointers: dict[str, str | None] = {}    # a reference -> its pointer (None: left as is)
    for node in _WITH_REF(tei):     # (an XPath: walking every element here took longer)
        ref = node.get("ref")
        if ref not in pointers:
            pointers[ref] = None
            if not ref or ":" not in ref or ref.startswith(("http:", "https:", "#")):
                continue
            kind, key = ref.split(":", 1)
            row = registers.row(kind, key) if kind in KINDS else None
            if row is None:
                continue
            used[kind][key] = row
            pointers[ref] = " ".join(["#" + local_id(file_id, kind, key),
                                      *authority_uris(kind, row)])
        pointer = pointers[ref]
        if pointer is not None:
            node.set("ref", pointer)
    _drop_prefix_defs(tei)
    if not any(used.values()):
        return
    standoff = etree.Element(tei_tag("standOff"))
    for kind, list_tag in (("person", "listPerson"), ("place", "listPlace"), ("org", "listOrg")):
        if used[kind]:
            listed = tei_element(standoff, list_tag)
            for key in sorted(used[kind]):
                made = registers.entries.get((kind, key))
                if made is None:
                    made = registers.entries[kind, key] = _entry(kind, key, used[kind][key], "")
                entry = copy.deepcopy(made)
                entry.set(XML_ID, local_id(file_id, kind, key))
                listed.append(entry)
    tei.find(tei_tag("teiHeader")).addnext(standoff)


def _drop_prefix_defs(tei: etree._Element) -> None:
    """Remove the prefixDefs that map person:/place: to CSV rows (nothing uses them now),
    and an encodingDesc left empty."""
    path = "/".join(tei_tag(t) for t in ("teiHeader", "encodingDesc", "listPrefixDef"))
    for prefixes in tei.findall(path):
        encoding = prefixes.getparent()
        encoding.remove(prefixes)
        if not len(encoding):
            encoding.getparent().remove(encoding)


# --- notes -----------------------------------------------------------------------------

def own_notes(tei: etree._Element, file_id: str, home: str,
              notes: Mapping[str, etree._Element]) -> int:
    """Copy every note the letter file calls into its ``back`` and point the calls at the
    copies; returns the number of notes now in the file. ``home`` is the source file as
    the letter file names it (``../papers.xml``); ``notes`` the source file's notes by id.
    """
    prefix = home + "#"
    printed_inside = {n.get("corresp")[len(prefix):]: n for n in tei.iter(tei_tag("note"))
                      if (n.get("corresp") or "").startswith(prefix)}
    local: dict[str, str] = {}
    copies: list[etree._Element] = []
    calls = [r for r in tei.iter(tei_tag("ref")) if r.get("type") == "note"
             and (r.get("target") or "").startswith(prefix)]
    for call in calls:
        note_id = call.get("target")[len(prefix):]
        if note_id not in local:
            if note_id in printed_inside:
                printed_inside[note_id].set(XML_ID, f"{file_id}-{note_id}")
            elif note_id in notes:
                copies.append(_note_copy(notes[note_id], home, f"{file_id}-{note_id}"))
            else:
                continue                    # not a note of the home file: left as it is
            local[note_id] = f"{file_id}-{note_id}"
        call.set("target", "#" + local[note_id])
    if copies:
        text = tei.find(tei_tag("text"))
        notes_div = tei_element(tei_element(text, "back"), "div", type="notes")
        notes_div.extend(copies)
    return len(local)


def _note_copy(note: etree._Element, home: str, xml_id: str) -> etree._Element:
    """A note of the source file for a letter file: the local id, ``@corresp`` at its home,
    its own pointers made relative to the home file."""
    copied = copy.deepcopy(note)
    copied.tail = None
    home_id = copied.attrib.pop(XML_ID)
    for node in copied.iter(etree.Element):
        node.attrib.pop(XML_ID, None)
        target = node.get("target")
        if target and target.startswith("#"):
            node.set("target", home + target)
    attributes = dict(copied.attrib)
    copied.attrib.clear()
    copied.set(XML_ID, xml_id)
    copied.set("corresp", f"{home}#{home_id}")
    for key, value in attributes.items():
        copied.set(key, value)
    return copied
