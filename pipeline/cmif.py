"""CMIF export: every letter's correspondents, place and date in one TEI file.

Why: the Correspondence Metadata Interchange Format (CMIF v1.1, TEI Correspondence SIG)
is the exchange format of correspSearch, the service that gathers the metadata of
letters from many editions, printed and digital, so that one search finds every
letter Serge wrote from Brussels in 1936, whichever edition prints it. A CMIF file
holds no text: the printed book is a ``bibl`` in ``sourceDesc``, and each letter one
``correspDesc`` (sender, place and date sent; addressee) pointing at it, with persons
and places identified by authority URIs (Wikidata, VIAF, GeoNames) so that
correspSearch can match them across editions.

The schema is the SIG's TEI customization and correspSearch's Schematron, copied
unchanged into ``schema/cmif/``. That Schematron is written for XSLT 2.0, which lxml
cannot run: :func:`schematron` rewrites it, faithfully, to XSLT 1.0 with EXSLT
regular expressions.

Encoding decisions (see also ``schema/tei/README.md`` and the project conventions):

- ``correspDesc/@key`` is the letter's printed number ("Letter 16" → ``16``), the way
  CMIF cites a letter in a printed edition; unnumbered letters have no ``@key``.
  ``correspDesc/@ref`` is the absolute URL of the letter's TEI file: the dataset's
  ``base_url`` (``sources/dataset.toml``) joined with the letter's ``tei_path``.
- ``publicationStmt/idno`` is the absolute URL of ``cmif.xml`` (``base_url`` + ``cmif.xml``),
  the identifier correspSearch harvests the file by; ``publicationStmt/date/@when`` is an
  ``xsd:dateTime`` (the release date at midnight UTC), as the CMIF documentation asks.
- ``correspContext`` (pipeline/links.py): the letter's previous and next letters in the
  edition and between the same two correspondents, as absolute URLs of their TEI files.
- ``@ref`` on ``persName``/``placeName`` only where the registry holds an authority id;
  none is ever made up. Names are the registry's canonical names.
- ``date/@when`` is the ISO date of the letters table (corrected where the book's notes
  correct it); the element's text is the date *as printed*, as in our letter files, so
  that a corrected date (Letter 12: ``when="1936-05-27"``, printed "May 27, 1934") shows
  both readings. A letter without a date has no ``date``: the Schematron (E0004)
  demands a dating attribute on every ``date``.
- A place the letter does not state but the dataset infers (``place_cert`` =
  ``inferred``) gets ``cert="low"`` and ``evidence="conjecture"``, CMIF v1.1's
  attribute for "inferred, not documented in the source itself"; likewise a date
  whose ``date_source`` is ``inferred``. ``date_cert`` = ``low`` gives ``cert="low"``.
- A correspondent the registry marks ``is_group`` (the editors of La Batalla, the POUM's
  Executive Committee) is an ``orgName``, which CMIF offers "if persName is not
  applicable"; a person is a ``persName``; an empty correspondent id becomes
  ``<persName>Unknown</persName>``, as CMIF asks.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lxml import etree

from . import links
from .conventions import tei_element
from .errors import PipelineError

if TYPE_CHECKING:   # imported where a validator is made (a build does not need it)
    from lxml import isoschematron

SCH_NS = "http://purl.oclc.org/dsdl/schematron"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
EXSLT_REGEXP_NS = "http://exslt.org/regular-expressions"

CC_BY_4 = "https://creativecommons.org/licenses/by/4.0/"
# The licence statement CMIF's documentation makes mandatory.
CC_BY_4_STATEMENT = ("This file is licensed under the terms of the Creative Commons License "
                     "CC-BY 4.0")
CMIF_FILE = "cmif.xml"

WIKIDATA = "http://www.wikidata.org/entity/{}"
VIAF = "http://viaf.org/viaf/{}"
GEONAMES = "http://www.geonames.org/{}"

Row = Mapping[str, Any]


# --- small helpers ---------------------------------------------------------------------

def _text(value: Any) -> str:
    """A cell as text: rows come from the stages (``None``, ints, lists) or from CSV."""
    return "" if value is None else str(value).strip()


def _items(value: Any) -> list[str]:
    """A list cell: a list in memory, ';'-separated in the CSV."""
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value if _text(v)]
    return [part.strip() for part in _text(value).split(";") if part.strip()]


def _mixed(parent: etree._Element, parts: Iterable[str | tuple[str, str]]) -> None:
    """Append mixed content: a string is text, ``(tag, text)`` a TEI child element."""
    last: etree._Element | None = None
    for part in parts:
        if isinstance(part, str):
            if last is None:
                parent.text = (parent.text or "") + part
            else:
                last.tail = (last.tail or "") + part
        else:
            last = tei_element(parent, part[0], part[1])


# --- identifiers -----------------------------------------------------------------------

def bibl_id(dataset_name: str, source_id: str) -> str:
    """The ``xml:id`` of a source's ``bibl``: stable across builds and versions, a UUID as
    correspSearch's Schematron recommends (W0001), prefixed because an ``xml:id`` may
    not start with a digit."""
    return "bibl-" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{dataset_name}/{source_id}"))


def person_uri(person: Row) -> str:
    """The person's authority URI (Wikidata, else VIAF), or '' when the registry has none."""
    if _text(person.get("wikidata")):
        return WIKIDATA.format(_text(person["wikidata"]))
    if _text(person.get("viaf")):
        return VIAF.format(_text(person["viaf"]))
    return ""


def place_uri(place: Row) -> str:
    """The place's authority URI (GeoNames, the authority CMIF recommends for places,
    else Wikidata should the registry gain that column), or ''."""
    if _text(place.get("geonames")):
        return GEONAMES.format(_text(place["geonames"]))
    if _text(place.get("wikidata")):
        return WIKIDATA.format(_text(place["wikidata"]))
    return ""


def _source_of(letter: Row, source_ids: Sequence[str]) -> str:
    """The source a letter belongs to: its ``source_id`` if the row has one, else the
    source whose id prefixes the letter's id (ids are derived from the source)."""
    letter_id = _text(letter.get("letter_id"))
    owners = [s for s in source_ids if letter_id == s or letter_id.startswith(s + "-")]
    if _text(letter.get("source_id")):
        owners = [s for s in source_ids if s == _text(letter["source_id"])]
    if not owners:
        raise PipelineError(f"letter {letter_id!r} belongs to no source", field="letter_id")
    return max(owners, key=len)


def base_url(meta: Row) -> str:
    """The dataset's public base URL (``base_url`` in dataset.toml, else ``homepage``),
    ending in '/', or '' when the dataset states neither."""
    url = _text(meta.get("base_url")) or _text(meta.get("homepage"))
    return url.rstrip("/") + "/" if url else ""


def dataset_url(meta: Row, path: str) -> str:
    """The absolute URL of a file of the dataset (its path relative to the dataset
    folder); the relative path itself when the dataset has no base URL."""
    return base_url(meta) + path


def publication_datetime(released: str) -> str:
    """The release date as an ``xsd:dateTime`` (midnight UTC): the build reads no clock."""
    return released if "T" in released else f"{released}T00:00:00Z"


# --- the header ------------------------------------------------------------------------

def _editors(meta: Row) -> list[str]:
    return [_text(c.get("title")) for c in meta.get("contributors", []) if _text(c.get("title"))]


def metadata_problems(meta: Row) -> list[PipelineError]:
    """What a CMIF file needs of dataset.toml and it lacks: an editor (a contributor), the
    CC-BY 4.0 licence. The metadata stage asks too, so that such a dataset.toml fails
    before the stages run, not at the export."""
    problems = []
    if not _editors(meta):
        problems.append(PipelineError("CMIF needs an editor: the dataset names no contributor",
                                      file="dataset.toml", field="contributors"))
    if not _is_cc_by(meta):
        problems.append(PipelineError("CMIF requires the CC-BY 4.0 licence; the dataset has "
                                      "none", file="dataset.toml", field="licenses"))
    return problems


def _is_cc_by(meta: Row) -> bool:
    for licence in meta.get("licenses", []):
        path = _text(licence.get("path")).replace("http://", "https://")
        if path.rstrip("/") + "/" == CC_BY_4 or _text(licence.get("name")) == "CC-BY-4.0":
            return True
    return False


def _file_desc(header: etree._Element, meta: Row, bibls: Sequence[etree._Element]) -> None:
    file_desc = tei_element(header, "fileDesc")
    title_stmt = tei_element(file_desc, "titleStmt")
    tei_element(title_stmt, "title", f"{meta['title']}, version {meta['version']}: "
                              "correspondence metadata (CMIF)")
    problems = metadata_problems(meta)
    if problems:    # (the metadata stage of a build has reported them all)
        raise problems[0]
    responsible = _editors(meta)
    for name in responsible:
        tei_element(title_stmt, "editor", name)
    publication = tei_element(file_desc, "publicationStmt")
    for name in responsible:
        tei_element(publication, "publisher", name)
    # idno: the absolute URL the file is published at (correspSearch's identifier for it).
    tei_element(publication, "idno", dataset_url(meta, CMIF_FILE), type="url")
    released = _text(meta["released"])
    tei_element(publication, "date", released, when=publication_datetime(released))
    availability = tei_element(publication, "availability")
    tei_element(availability, "licence", CC_BY_4_STATEMENT, target=CC_BY_4)
    source_desc = tei_element(file_desc, "sourceDesc")
    source_desc.extend(bibls)


def _source_bibl(source: Row, xml_id: str) -> etree._Element:
    """The printed book: title, editors, place, publisher, year. The CMIF schema allows
    ``title``, ``editor`` and ``publisher`` inside ``bibl`` but neither ``pubPlace`` nor
    ``date``: place and year are text, as in CMIF's own examples."""
    # A manuscript or typescript first published here, or a web page: an online edition.
    online = _text(source.get("origin")) in ("web page", "manuscript", "typescript")
    bibl = tei_element(None, "bibl", type="online" if online else "print", xml_id=xml_id)
    parts: list[str | tuple[str, str]] = [("title", _text(source["title"]))]
    editors = _items(source.get("editors"))
    for i, editor in enumerate(editors):
        parts += [", ed. " if i == 0 else " and ", ("editor", editor)]
    imprint: list[str | tuple[str, str]] = []
    place, publisher, year = (_text(source.get(k)) for k in ("place", "publisher", "date"))
    if place:
        imprint.append(place + (": " if publisher else ""))
    if publisher:
        imprint.append(("publisher", publisher))
    if year:
        imprint.append((", " if imprint else "") + year)
    if imprint:
        parts += [". ", *imprint]
    parts.append(".")
    _mixed(bibl, parts)
    return bibl


# --- the letters -----------------------------------------------------------------------

def _pers_name(parent: etree._Element, person_id: str, persons: Mapping[str, Row],
               letter_id: str) -> None:
    if not person_id:
        tei_element(parent, "persName", "Unknown")
        return
    if person_id not in persons:
        raise PipelineError(f"letter {letter_id}: person {person_id!r} is not in the persons "
                            "table", field="letters")
    person = persons[person_id]
    tag = "orgName" if _text(person.get("is_group")).lower() == "true" else "persName"
    tei_element(parent, tag, _text(person["name"]), ref=person_uri(person))


def _sent(desc: etree._Element, letter: Row, persons: Mapping[str, Row],
          places: Mapping[str, Row]) -> None:
    letter_id = _text(letter["letter_id"])
    action = tei_element(desc, "correspAction", type="sent")
    _pers_name(action, _text(letter.get("sender_id")), persons, letter_id)
    place_id = _text(letter.get("place_id"))
    if place_id:
        if place_id not in places:
            raise PipelineError(f"letter {letter_id}: place {place_id!r} is not in the places "
                                "table", field="letters")
        inferred = _text(letter.get("place_cert")) == "inferred"
        tei_element(action, "placeName", _text(places[place_id]["name"]),
             ref=place_uri(places[place_id]), cert="low" if inferred else "",
             evidence="conjecture" if inferred else "")
    when = _text(letter.get("date"))
    if when:
        # Text: the date as printed (see the module docstring); @when: the date as read.
        tei_element(action, "date", _text(letter.get("date_as_written")), when=when,
             cert="low" if _text(letter.get("date_cert")) == "low" else "",
             evidence="conjecture" if _text(letter.get("date_source")) == "inferred" else "")


def _letter_path(letter: Row) -> str:
    """The letter's TEI file in the dataset (the letters table's ``tei_path``)."""
    return _text(letter.get("tei_path")) or f"tei/letters/{_text(letter['letter_id'])}.xml"


def _corresp_desc(letter: Row, source: str, persons: Mapping[str, Row],
                  places: Mapping[str, Row], meta: Row) -> etree._Element:
    desc = tei_element(None, "correspDesc", key=_text(letter.get("number")),
                ref=dataset_url(meta, _letter_path(letter)) if base_url(meta) else "",
                source=f"#{source}")
    _sent(desc, letter, persons, places)
    received = tei_element(desc, "correspAction", type="received")
    # A salutation that names two people ("Dear Leon Davidovich and Natalia Ivanovna,")
    # means two addressees: one persName each (letters.addressee_ids).
    for person_id in _items(letter.get("addressee_ids")) or [_text(letter.get("addressee_id"))]:
        _pers_name(received, person_id, persons, _text(letter["letter_id"]))
    return desc


# --- the document ----------------------------------------------------------------------

def cmif_tree(letters: Sequence[Row], persons: Sequence[Row], places: Sequence[Row],
              sources: Sequence[Row], meta: Row) -> etree._ElementTree:
    """The CMIF document as a tree (see :func:`cmif_xml`)."""
    root, profile, descs = _cmif_parts(letters, persons, places, sources, meta)
    for desc in descs:
        profile.append(desc)
    return etree.ElementTree(root)


def _cmif_parts(letters: Sequence[Row], persons: Sequence[Row], places: Sequence[Row],
                sources: Sequence[Row], meta: Row
                ) -> tuple[etree._Element, etree._Element, Iterator[etree._Element]]:
    """The CMIF document without its letters (its root and ``profileDesc``) and each
    letter's ``correspDesc``, made as it is taken."""
    source_ids = [_text(s["source_id"]) for s in sources]
    owner = [_source_of(letter, source_ids) for letter in letters]
    by_id = {_text(s["source_id"]): s for s in sources}
    ids = {sid: bibl_id(_text(meta["name"]), sid) for sid in source_ids}
    with_letters = set(owner)
    bibls = [_source_bibl(by_id[sid], ids[sid]) for sid in source_ids if sid in with_letters]
    if not bibls:
        raise PipelineError("CMIF needs at least one letter", field="letters")
    person_rows = {_text(p["person_id"]): p for p in persons}
    place_rows = {_text(p["place_id"]): p for p in places}

    root = tei_element(None, "TEI")
    header = tei_element(root, "teiHeader")
    _file_desc(header, meta, bibls)
    profile = tei_element(header, "profileDesc")
    linked = links.neighbours([links.key_of_row(letter, sid)
                               for letter, sid in zip(letters, owner, strict=True)])
    paths = {_text(letter["letter_id"]): _letter_path(letter) for letter in letters}
    # CMIF's TEI must have a text; like the SIG's examples, an empty paragraph.
    tei_element(tei_element(tei_element(root, "text"), "body"), "p")

    def descs() -> Iterator[etree._Element]:
        for letter, sid in zip(letters, owner, strict=True):
            desc = _corresp_desc(letter, ids[sid], person_rows, place_rows, meta)
            context = links.corresp_context(linked[_text(letter["letter_id"])],
                                            lambda key: dataset_url(meta, paths[key.letter_id]))
            if context is not None:
                desc.append(context)
            yield desc

    return root, profile, descs()


def cmif_xml(letters: list[dict], persons: list[dict], places: list[dict],
             sources: list[dict], meta: dict) -> bytes:
    """The letters as one CMIF v1.1 file (``cmif.xml``), for correspSearch.

    ``letters``: rows of the letters table, in table order (from the letters stage or read
    back from ``data/letters.csv``: both forms of a cell are understood); ``persons``,
    ``places``: rows of ``registry.load_persons``/``load_places``; ``sources``: rows of
    ``package.source_rows``; ``meta``: ``package.load_dataset_meta``.

    One ``bibl type="print"`` per source that has letters, one ``correspDesc`` per letter.
    Pure and deterministic: the same rows give the same bytes (UTF-8, XML declaration,
    pretty-printed). Raises a PipelineError when a letter names a person or place the
    tables lack, belongs to no source, or when the dataset is not CC-BY 4.0.
    """
    tree = cmif_tree(letters, persons, places, sources, meta)
    return etree.tostring(tree, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def cmif_chunks(letters: Sequence[Row], persons: Sequence[Row], places: Sequence[Row],
                sources: Sequence[Row], meta: Row) -> Iterator[bytes]:
    """:func:`cmif_xml`'s bytes in parts, each letter's ``correspDesc`` made, written and
    let go in turn: the letters of a large corpus are never one tree. Each is written
    as the whole document's pretty-printing writes it, in a document of its own whose
    ``profileDesc`` holds it alone (the same depth and namespace)."""
    root, profile, descs = _cmif_parts(letters, persons, places, sources, meta)
    tei_element(profile, "correspDesc")          # where the letters go: an empty one
    document = etree.tostring(etree.ElementTree(root), pretty_print=True,
                              xml_declaration=True, encoding="UTF-8")
    before, after = document.split(b"<correspDesc/>\n", 1)
    yield before.rstrip(b" ")
    own_root = tei_element(None, "TEI")
    alone = tei_element(tei_element(own_root, "teiHeader"), "profileDesc")
    for desc in descs:
        alone.append(desc)
        text = etree.tostring(own_root, pretty_print=True, encoding="UTF-8")
        alone.remove(desc)
        start = text.index(b"<profileDesc>\n") + len(b"<profileDesc>\n")
        yield text[start:text.rindex(b"</profileDesc>")].rstrip(b" ")
    yield after


# --- Schematron ------------------------------------------------------------------------

MATCHES = re.compile(r"(?<![\w.:-])matches\s*\(")
# XSD regular-expression syntax Python's re reads differently: multi-character escapes
# \i \c, block escapes \p{Is…}, character-class subtraction [a-z-[aeiou]].
XSD_ONLY_REGEX = re.compile(r"\\[iIcC]|\\[pP]\{Is|\[[^\]]*-\[")
# XPath 2.0 beyond matches(), with no XPath 1.0 / EXSLT counterpart here: a schema using
# any of it cannot be run faithfully by XSLT 1.0, so it is refused rather than weakened.
XPATH2_ONLY = re.compile(
    r"(?<![\w.:-])(?:(?:replace|tokenize|lower-case|upper-case|ends-with|string-join|exists"
    r"|empty|distinct-values|index-of|format-date|format-dateTime|current-date"
    r"|current-dateTime|xs:[\w-]+)\s*\(|(?:if|for|some|every)\s*[($]"
    r"|(?:instance\s+of|castable\s+as|cast\s+as|treat\s+as)\b)")
QUERY_ATTRIBUTES = ("test", "context", "select", "path", "value", "use")


def schematron(sch_bytes: bytes) -> isoschematron.Schematron:
    """An lxml validator for an XSLT 2.0 Schematron such as correspSearch's ``cmif.sch``.

    lxml runs Schematron through XSLT 1.0 only, so the schema is first rewritten
    faithfully by :func:`xslt1_schematron`. The validator keeps its report
    (``validation_report``; see :func:`schematron_messages`).
    """
    from lxml import isoschematron

    return isoschematron.Schematron(xslt1_schematron(sch_bytes), store_report=True)


def xslt1_schematron(sch_bytes: bytes) -> etree._Element:
    """The Schematron rewritten from query binding ``xslt2`` to ``xslt`` (XSLT 1.0).

    Every two-argument XPath 2.0 ``matches(s, re)`` becomes EXSLT ``re:test(s, re)``:
    both find the pattern anywhere in the string (lxml implements ``re:test`` with
    Python's ``re``, which reads character classes, escapes like ``\\d`` and counts as XSD
    regular expressions do), and ``<ns prefix="re" uri="http://exslt.org/regular-expressions"/>``
    is declared. Nothing else changes. A schema that uses ``matches`` with flags or with
    XSD-only regular-expression syntax, or another XPath 2.0-only construct, raises
    ValueError rather than being run as a weaker schema.
    """
    schema = etree.fromstring(sch_bytes)
    if schema.tag != f"{{{SCH_NS}}}schema":
        raise ValueError("not an ISO Schematron schema")
    binding = schema.get("queryBinding", "xslt")
    if binding not in ("xslt", "xslt1", "xslt2"):
        raise ValueError(f"cannot run query binding {binding!r} with XSLT 1.0")
    schema.set("queryBinding", "xslt")
    for element in schema.iter(f"{{{SCH_NS}}}*"):
        for name in QUERY_ATTRIBUTES:
            expression = element.get(name)
            if expression is None:
                continue
            if XPATH2_ONLY.search(expression):
                raise ValueError(f"XPath 2.0 beyond matches() in {name}={expression!r}")
            element.set(name, _matches_to_re_test(expression))
    namespaces = schema.findall(f"{{{SCH_NS}}}ns")
    bound = {ns.get("prefix"): ns.get("uri") for ns in namespaces}
    if bound.get("re", EXSLT_REGEXP_NS) != EXSLT_REGEXP_NS:
        raise ValueError("the schema binds the prefix 're' to another namespace")
    if "re" not in bound:
        declaration = etree.Element(f"{{{SCH_NS}}}ns", prefix="re", uri=EXSLT_REGEXP_NS)
        if namespaces:
            namespaces[-1].addnext(declaration)
            declaration.tail = namespaces[-1].tail
        else:
            title = schema.find(f"{{{SCH_NS}}}title")
            schema.insert(0 if title is None else schema.index(title) + 1, declaration)
    return schema


def _matches_to_re_test(expression: str) -> str:
    """``matches(a, b)`` → ``re:test(a, b)``; refuses the three-argument form (its flags
    are not EXSLT's)."""
    out, position = [], 0
    for m in MATCHES.finditer(expression):
        if _argument_count(expression, m.end()) != 2:
            raise ValueError(f"matches() with flags cannot be rewritten: {expression!r}")
        if XSD_ONLY_REGEX.search(expression, m.end()):
            raise ValueError(f"XSD-only regular expression syntax: {expression!r}")
        out += [expression[position:m.start()], "re:test("]
        position = m.end()
    return "".join(out) + expression[position:]


def _argument_count(expression: str, start: int) -> int:
    """Top-level commas + 1 of the call whose arguments begin at ``start``."""
    depth, count, quote = 0, 1, ""
    for c in expression[start:]:
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            if depth == 0:
                return count
            depth -= 1
        elif c == "," and depth == 0:
            count += 1
    raise ValueError(f"unbalanced parentheses: {expression!r}")


def schematron_messages(validator: isoschematron.Schematron) -> list[tuple[str, str]]:
    """``(role, message)`` of every failed assert and successful report in the validator's
    last report; role is the rule's ``@role`` ('error' when it has none)."""
    report = validator.validation_report
    if report is None:
        return []
    found = report.xpath("//svrl:failed-assert | //svrl:successful-report",
                         namespaces={"svrl": SVRL_NS})
    return [(f.get("role") or "error",
             " ".join("".join(f.itertext()).split())) for f in found]
