"""The CMIF export on the real letters: valid against the CMIF v1.1 schema and
correspSearch's Schematron (run through the XSLT 1.0 rewrite, which is shown to fire),
one correspDesc per letter, the tricky letters checked by hand against the book, and
the same bytes on every call."""

from __future__ import annotations

import copy
import csv
import dataclasses
import functools
import io
import uuid

import pytest
from lxml import etree
from sergetrotsky import clean, cmif, conventions, package, registry, segment
from sergetrotsky.errors import PipelineError
from sergetrotsky.sources import discover, find

from .conftest import ROOT, SOURCES

SCHEMA = ROOT / "schema" / "cmif"
SHARED_STANDARDS = ROOT.parent / "shared" / "standards"
NS = {"t": conventions.TEI_NS}
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


def _rows(built, path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(built.files[path].decode("utf-8"))))


@pytest.fixture(scope="module")
def tables(built):
    """The arguments of cmif_xml, from the dataset as built."""
    return {"letters": _rows(built, "data/letters.csv"),
            "persons": registry.load_persons(SOURCES),
            "places": registry.load_places(SOURCES),
            "sources": _rows(built, "data/sources.csv"),
            "meta": package.load_dataset_meta(SOURCES)}


@pytest.fixture(scope="module")
def xml(tables) -> bytes:
    return cmif.cmif_xml(**tables)


@pytest.fixture(scope="module")
def doc(xml):
    return etree.fromstring(xml)


@pytest.fixture(scope="module")
def relaxng():
    return etree.RelaxNG(file=str(SCHEMA / "cmi-customization.rng"))


@pytest.fixture(scope="module")
def sch():
    return cmif.schematron((SCHEMA / "cmif.sch").read_bytes())


def by_key(doc, key: str):
    found = doc.xpath("//t:correspDesc[@key=$k]", namespaces=NS, k=key)
    assert len(found) == 1, f"{len(found)} correspDesc with key {key}"
    return found[0]


def action(desc, kind: str):
    return desc.find(f"t:correspAction[@type='{kind}']", NS)


@functools.cache
def _papers_segmented():
    sources = discover(SOURCES)
    source = find(sources, "papers")
    return segment.segment(source, clean.clean_one(sources, "papers"))


def book_text(built, letter_id: str) -> str:
    """The letter as printed: its unit's span of the cleaned text (note marks included)."""
    seg = _papers_segmented()
    unit = next(u for u in seg.units if u.document_id == letter_id)
    assert built.files[f"text/papers/{letter_id}.txt"]
    return seg.text_of(unit)


def messages(sch, tree) -> list[tuple[str, str]]:
    sch.validate(tree)
    return cmif.schematron_messages(sch)


# --- the schemas -------------------------------------------------------------------------

@pytest.mark.skipif(not SHARED_STANDARDS.is_dir(), reason="no ../shared/standards here")
@pytest.mark.parametrize("name", ["cmi-customization.rng", "cmif.sch"])
def test_schema_files_are_the_shared_standards_byte_for_byte(name):
    assert (SCHEMA / name).read_bytes() == (SHARED_STANDARDS / name).read_bytes()


def test_cmif_is_valid_against_the_cmi_customization(doc, relaxng):
    valid = relaxng.validate(doc)
    assert valid, "\n".join(str(e) for e in relaxng.error_log)


def test_cmif_passes_the_correspsearch_schematron_without_errors_or_warnings(doc, sch):
    found = messages(sch, doc)
    assert [m for m in found if m[0] == "error"] == []
    assert [m for m in found if m[0] == "warning"] == []   # W0001: the bibl id is a UUID
    assert found == []


def test_schematron_rewrite_is_xslt1_with_exslt_regular_expressions():
    original = etree.fromstring((SCHEMA / "cmif.sch").read_bytes())
    rewritten = cmif.xslt1_schematron((SCHEMA / "cmif.sch").read_bytes())
    sch_ns = {"s": cmif.SCH_NS}
    assert original.get("queryBinding") == "xslt2"
    assert rewritten.get("queryBinding") == "xslt"
    assert rewritten.xpath("//s:ns[@prefix='re']/@uri", namespaces=sch_ns) == \
        [cmif.EXSLT_REGEXP_NS]
    tests = rewritten.xpath("//s:assert/@test", namespaces=sch_ns)
    assert tests == [t.replace("matches(", "re:test(")
                     for t in original.xpath("//s:assert/@test", namespaces=sch_ns)]
    assert "re:test(@xml:id, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')" \
        in tests
    # nothing but the binding, the tests and the new ns declaration differs
    assert len(rewritten.xpath("//s:*", namespaces=sch_ns)) == \
        len(original.xpath("//s:*", namespaces=sch_ns)) + 1


def _schema_with_test(test: str) -> bytes:
    return (f'<schema xmlns="{cmif.SCH_NS}" queryBinding="xslt2"><pattern>'
            f'<rule context="*"><assert test="{test}">x</assert></rule></pattern>'
            "</schema>").encode()


def test_schematron_refuses_xpath2_it_cannot_run_faithfully():
    cmif.schematron(_schema_with_test("matches(name(), '^[a-z]+$')"))   # runs
    with pytest.raises(ValueError, match="flags"):
        cmif.schematron(_schema_with_test("matches(name(), '^[a-z]+$', 'i')"))
    with pytest.raises(ValueError, match="XPath 2.0"):
        cmif.schematron(_schema_with_test("matches(lower-case(name()), 'a')"))
    with pytest.raises(ValueError, match="XPath 2.0"):
        cmif.schematron(_schema_with_test("@when castable as xs:date"))
    with pytest.raises(ValueError, match="XSD-only"):
        cmif.schematron(_schema_with_test("matches(name(), '[a-z-[aeiou]]+')"))


def test_schematron_fires_e0002_when_the_received_action_is_missing(doc, sch):
    broken = copy.deepcopy(doc)
    desc = broken.find(".//t:correspDesc", NS)
    desc.remove(action(desc, "received"))
    found = messages(sch, broken)
    assert [role for role, text in found if "[E0002]" in text] == ["error"]
    assert not sch.validate(broken)


def test_schematron_fires_e0004_on_a_date_without_when(doc, sch):
    broken = copy.deepcopy(doc)
    del broken.find(".//t:correspDesc//t:date", NS).attrib["when"]
    found = messages(sch, broken)
    assert [role for role, text in found if "[E0004]" in text] == ["error"]


def test_schematron_fires_w0001_on_a_bibl_id_that_is_no_uuid(doc, sch):
    broken = copy.deepcopy(doc)
    broken.find(".//t:bibl", NS).set(XML_ID, "papers")
    for desc in broken.iterfind(".//t:correspDesc", NS):
        desc.set("source", "#papers")
    found = messages(sch, broken)
    assert [role for role, text in found if "[W0001]" in text] == ["warning"]
    assert all(role == "warning" for role, _ in found)   # E0003 still satisfied


# --- the content -------------------------------------------------------------------------

def test_one_correspdesc_per_letter_in_table_order_keyed_by_printed_number(doc, tables):
    descs = doc.findall(".//t:profileDesc/t:correspDesc", NS)
    letters = tables["letters"]
    assert len(descs) == len(letters)
    for desc, row in zip(descs, letters, strict=True):
        assert desc.get("key") == (row["number"] or None), row["letter_id"]
        assert action(desc, "sent") is not None and action(desc, "received") is not None
    # the Papers' letters (other sources may add theirs): 48, 41 of them numbered
    papers = "#bibl-" + str(uuid.uuid5(uuid.NAMESPACE_URL, "serge-trotsky-papers/papers"))
    in_papers = [d for d in descs if d.get("source") == papers]
    assert len(in_papers) == 48
    assert [d.get("key") for d in in_papers if d.get("key")] == [str(n) for n in range(1, 42)]


def test_the_book_is_one_print_bibl_with_a_stable_uuid_id(doc, tables):
    bibls = doc.findall(".//t:sourceDesc/t:bibl", NS)
    expected = "bibl-" + str(uuid.uuid5(uuid.NAMESPACE_URL, "serge-trotsky-papers/papers"))
    # one bibl per source with letters: the Papers' one here (other sources may add theirs)
    [bibl] = [b for b in bibls if b.get(XML_ID) == expected]
    assert bibl.get("type") == "print"
    assert bibl.findtext("t:title", namespaces=NS) == (
        "The Serge–Trotsky Papers: Correspondence and Other Writings between Victor Serge "
        "and Leon Trotsky")
    assert bibl.findtext("t:editor", namespaces=NS) == "D.J. Cotterill"
    assert bibl.findtext("t:publisher", namespaces=NS) == "Pluto Press"
    text = " ".join("".join(bibl.itertext()).split())
    assert "London; Boulder, Colorado: Pluto Press, 1994." in text
    # every letter of the Papers cites its bibl (other sources' letters cite their own)
    papers_letters = [r for r in tables["letters"] if r["tei_path"].startswith(
        "tei/letters/papers-")]
    cited = [d for d in doc.iterfind(".//t:correspDesc", NS) if d.get("source") == "#" + expected]
    assert len(cited) == len(papers_letters) == 48


def test_header_names_the_dataset_release_and_cc_by_licence(doc, tables):
    meta = tables["meta"]
    title = doc.findtext(".//t:titleStmt/t:title", namespaces=NS)
    assert meta["title"] in title and meta["version"] in title
    editor = doc.findtext(".//t:titleStmt/t:editor", namespaces=NS)
    assert editor == "Serge–Trotsky Papers project"
    stmt = doc.find(".//t:publicationStmt", NS)
    # CMIF documentation: publicationStmt/date/@when is an xsd:dateTime.
    assert stmt.find("t:date", NS).get("when") == f"{meta['released']}T00:00:00Z"
    assert stmt.find("t:idno", NS).get("type") == "url"
    assert stmt.find("t:availability/t:licence", NS).get("target") == \
        "https://creativecommons.org/licenses/by/4.0/"


def test_letter_3_the_telegram(doc, built):
    # Book: "Letter 3: Trotsky to Serge (telegram, in French)", addressed to "Kibalchich.
    # Poste Restante Central Post Office Brussels" (the addressee's post office, not a
    # place sent from), signed "Leon", dated "25/4/36" at its foot.
    text = book_text(built, "papers-letter-3")
    assert text.startswith("Letter 3: Trotsky to Serge (telegram, in French)")
    assert text.rstrip().endswith("25/4/36")
    desc = by_key(doc, "3")
    sent = action(desc, "sent")
    assert sent.findtext("t:persName", namespaces=NS) == "Leon Trotsky"
    assert sent.find("t:placeName", NS) is None
    date = sent.find("t:date", NS)
    assert (date.get("when"), date.text, date.get("cert")) == ("1936-04-25", "25/4/36", None)
    assert action(desc, "received").findtext("t:persName", namespaces=NS) == "Victor Serge"


def test_letter_12_date_corrected_by_note_150(doc, built):
    # Book: "Brussels, May 27, 1934¹⁵⁰"; note 150: "This is of course Serge's error for 1936."
    assert "Brussels, May 27, 1934¹⁵⁰" in book_text(built, "papers-letter-12")
    assert "150. This is of course Serge's error for 1936." in \
        built.files["text/papers/papers-notes-ch02.txt"].decode("utf-8")
    desc = by_key(doc, "12")
    sent = action(desc, "sent")
    assert sent.findtext("t:persName", namespaces=NS) == "Victor Serge"
    assert sent.findtext("t:placeName", namespaces=NS) == "Brussels"
    assert sent.find("t:placeName", NS).get("cert") is None     # printed, not inferred
    date = sent.find("t:date", NS)
    assert (date.get("when"), date.text) == ("1936-05-27", "May 27, 1934")
    assert action(desc, "received").findtext("t:persName", namespaces=NS) == "Leon Trotsky"


def test_letter_16_postcard_dated_at_its_foot(doc, built):
    # Book: "Letter 16: Serge to Konrad Knudsen¹⁸² (postcard–in Russian)" … "VS" /
    # "June 6, 1936 – Brussels" at the foot.
    text = book_text(built, "papers-letter-16")
    assert text.startswith("Letter 16: Serge to Konrad Knudsen")
    assert text.rstrip().endswith("June 6, 1936 – Brussels")
    desc = by_key(doc, "16")
    sent = action(desc, "sent")
    assert sent.findtext("t:persName", namespaces=NS) == "Victor Serge"
    place = sent.find("t:placeName", NS)
    assert (place.text, place.get("cert"), place.get("ref")) == ("Brussels", None, None)
    date = sent.find("t:date", NS)
    assert (date.get("when"), date.text) == ("1936-06-06", "June 6, 1936")
    assert action(desc, "received").findtext("t:persName", namespaces=NS) == "Konrad Knudsen"


def test_letter_35_the_open_letter_from_coyoacan(doc, built):
    # Book: a prefatory note, then "Trotsky to Serge (in French)" / "Coyoacan, March 5, 1937".
    assert "Trotsky to Serge (in French)\n\nCoyoacan, March 5, 1937" in \
        book_text(built, "papers-letter-35")
    desc = by_key(doc, "35")
    sent = action(desc, "sent")
    assert sent.findtext("t:persName", namespaces=NS) == "Leon Trotsky"
    place = sent.find("t:placeName", NS)
    assert (place.text, place.get("ref"), place.get("cert")) == \
        ("Coyoacán", "http://www.geonames.org/3530139", None)
    date = sent.find("t:date", NS)
    assert (date.get("when"), date.text) == ("1937-03-05", "March 5, 1937")
    assert action(desc, "received").findtext("t:persName", namespaces=NS) == "Victor Serge"


def test_inferred_place_is_low_certainty_conjecture(doc, tables):
    # Letter 2 states no place; the dataset infers Vexhall (place_cert = inferred).
    row = next(r for r in tables["letters"] if r["number"] == "2")
    assert (row["place_id"], row["place_cert"]) == ("vexhall", "inferred")
    place = action(by_key(doc, "2"), "sent").find("t:placeName", NS)
    assert (place.text, place.get("cert"), place.get("evidence")) == \
        ("Vexhall", "low", "conjecture")


def test_authority_refs_only_from_registry_ids(doc, tables):
    geonames = {p["name"]: p["geonames"] for p in tables["places"]}
    for place in doc.iterfind(".//t:placeName", NS):
        expected = f"http://www.geonames.org/{geonames[place.text]}" if geonames[place.text] \
            else None
        assert place.get("ref") == expected, place.text
    persons = {p["name"]: p for p in tables["persons"]}
    for person in doc.iterfind(".//t:persName", NS):
        assert person.get("ref") == (cmif.person_uri(persons[person.text]) or None)


def test_same_input_same_bytes(tables, xml):
    assert cmif.cmif_xml(**tables) == xml
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<TEI")


# --- rows the real data does not (yet) have ----------------------------------------------

def _synthetic(tables, **changes):
    letter = {"letter_id": "papers-letter-99", "number": 99, "sender_id": "serge",
              "addressee_id": "trotsky", "date": "1937-02", "date_as_written": "February 1937",
              "date_cert": "low", "date_source": "inferred", "place_id": "", "place_cert": ""}
    letter.update(changes)
    persons = [dict(p, wikidata="Q1234", viaf="") if p["person_id"] == "serge" else
               dict(p, viaf="5678") if p["person_id"] == "trotsky" else p
               for p in tables["persons"]]
    return cmif.cmif_xml([letter], persons, tables["places"], tables["sources"], tables["meta"])


def test_partial_dates_undated_letters_unknown_correspondents_and_ids(tables, relaxng, sch):
    year_month = etree.fromstring(_synthetic(tables))
    sent = year_month.find(".//t:correspAction[@type='sent']", NS)
    date = sent.find("t:date", NS)
    assert (date.get("when"), date.get("cert"), date.get("evidence")) == \
        ("1937-02", "low", "conjecture")
    assert sent.find("t:persName", NS).get("ref") == "http://www.wikidata.org/entity/Q1234"
    assert year_month.find(".//t:correspAction[@type='received']/t:persName", NS).get("ref") \
        == "http://viaf.org/viaf/5678"
    undated = etree.fromstring(_synthetic(tables, date="", date_as_written="", number=None,
                                          sender_id=""))
    assert undated.find(".//t:date[@when]", NS) is not None      # the publication date only
    assert undated.find(".//t:correspDesc//t:date", NS) is None
    assert undated.find(".//t:correspDesc", NS).get("key") is None
    assert undated.findtext(".//t:correspAction[@type='sent']/t:persName",
                            namespaces=NS) == "Unknown"
    year = etree.fromstring(_synthetic(tables, date="1937"))
    for tree in (year_month, undated, year):
        assert relaxng.validate(tree), "\n".join(str(e) for e in relaxng.error_log)
        assert messages(sch, tree) == []


def test_unknown_person_or_place_is_an_error(tables):
    with pytest.raises(PipelineError, match="nobody"):
        _synthetic(tables, addressee_id="nobody")
    with pytest.raises(PipelineError, match="atlantis"):
        _synthetic(tables, place_id="atlantis")
    with pytest.raises(PipelineError, match="no source"):
        _synthetic(tables, letter_id="elsewhere-letter-1")
    with pytest.raises(PipelineError, match="no source"):
        _synthetic(tables, source_id="elsewhere")


def test_a_salutation_naming_two_people_gives_two_addressees(doc, tables):
    # Letter 37: "Dear Leon Davidovich and Natalia Ivanovna,"
    names = [p.text for p in action(by_key(doc, "37"), "received").findall("t:persName", NS)]
    assert names == ["Leon Trotsky", "Natalia Ivanovna Sedova"]
    [row] = [r for r in tables["letters"] if r["number"] == "37"]
    assert row["addressee_ids"] == "trotsky;sedova" and row["addressee_id"] == "trotsky"
    others = [r for r in tables["letters"] if r["number"] and r["number"] != "37"]
    assert all(len(action(by_key(doc, r["number"]), "received").findall("t:persName", NS)) == 1
               for r in others)
    assert all(r["addressee_ids"] == r["addressee_id"] for r in others)


# --- harvestable by correspSearch; letters linked (issue 16) ------------------------------

def test_idno_is_the_absolute_url_of_cmif_xml_from_the_base_url(doc, tables):
    base = tables["meta"]["base_url"]
    assert base.startswith("https://")
    idno = doc.findtext(".//t:publicationStmt/t:idno", namespaces=NS)
    assert idno == base.rstrip("/") + "/cmif.xml"


def test_every_letter_has_ref_to_its_tei_file_and_key_where_numbered(doc, tables, built):
    base = tables["meta"]["base_url"].rstrip("/") + "/"
    descs = doc.findall(".//t:correspDesc", NS)
    assert len(descs) == len(tables["letters"])
    for desc, row in zip(descs, tables["letters"], strict=True):
        assert desc.get("ref") == base + row["tei_path"]
        assert row["tei_path"] in built.files           # the URL names a file of the dataset
        assert desc.get("key") == (row["number"] or None)
    # Unnumbered letters (Chapter 1's letter to Michel Kneller) are reachable by @ref alone.
    kneller = doc.xpath("//t:correspDesc[t:correspAction[@type='received']"
                        "/t:persName='Michel Kneller']", namespaces=NS)[0]
    assert kneller.get("key") is None and kneller.get("ref").endswith("papers-ch01-letter-01.xml")


def test_groups_are_org_names(doc, tables):
    # The book: Serge writes to "Esteemed comrades of La Batalla" (5 October 1936).
    groups = {p["name"] for p in tables["persons"] if p["is_group"]}
    assert "Editors of La Batalla" in groups
    received = [a for a in doc.iterfind(".//t:correspAction[@type='received']", NS)]
    names = {e.text: etree.QName(e).localname for a in received for e in a}
    assert names["Editors of La Batalla"] == "orgName"
    assert names["Executive Committee of the POUM"] == "orgName"
    assert names["Leon Trotsky"] == "persName"
    assert not doc.xpath("//t:persName[. = 'Editors of La Batalla']", namespaces=NS)


def _context(desc) -> dict[tuple[str, str], str]:
    return {(r.get("type"), r.get("subtype")): r.get("target")
            for r in desc.iterfind("t:correspContext/t:ref", NS)}


def test_corresp_context_edition_and_correspondence_neighbours(doc, tables):
    base = tables["meta"]["base_url"].rstrip("/") + "/tei/letters/"
    # Letter 16 (Serge to Knudsen) sits between Letters 15 and 17 and is the only letter
    # to Knudsen: no correspondence neighbours.
    assert _context(by_key(doc, "16")) == {("prev", "edition"): base + "papers-letter-15.xml",
                                           ("next", "edition"): base + "papers-letter-17.xml"}
    # Letter 17 (Serge to Trotsky): its previous letter between Serge and Trotsky skips 16.
    ctx17 = _context(by_key(doc, "17"))
    assert ctx17[("prev", "edition")] == base + "papers-letter-16.xml"
    assert ctx17[("prev", "correspondence")] == base + "papers-letter-15.xml"
    # The first letter of the book has no previous letter.
    first = doc.find(".//t:correspDesc", NS)
    assert ("prev", "edition") not in _context(first)


def test_corresp_context_follows_the_letters_table_order(doc, tables):
    rows = tables["letters"]
    descs = doc.findall(".//t:correspDesc", NS)
    for i, desc in enumerate(descs):
        ctx = _context(desc)
        if i + 1 < len(rows):
            assert ctx[("next", "edition")].endswith("/" + rows[i + 1]["tei_path"])
        pair = {rows[i]["sender_id"], rows[i]["addressee_id"]}
        later = [r for r in rows[i + 1:] if {r["sender_id"], r["addressee_id"]} == pair]
        if later and "" not in pair:
            assert ctx[("next", "correspondence")].endswith("/" + later[0]["tei_path"])
        else:
            assert ("next", "correspondence") not in ctx


def test_without_a_base_url_the_refs_stay_relative_and_no_url_is_invented(tables):
    meta = dataclasses.replace(tables["meta"], base_url="", homepage="")
    tree = etree.fromstring(cmif.cmif_xml(tables["letters"][:2], tables["persons"],
                                          tables["places"], tables["sources"], meta))
    assert tree.findtext(".//t:publicationStmt/t:idno", namespaces=NS) == "cmif.xml"
    assert all(d.get("ref") is None for d in tree.iterfind(".//t:correspDesc", NS))
    assert "http" not in "".join(r.get("target") for r in tree.iterfind(".//t:ref", NS))
