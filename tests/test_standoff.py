"""Letter files that stand alone: the notes a letter calls are in its file, its persons and
places in its standOff, every pointer resolves inside the file, and the TEI Consortium's
own stylesheets (html/html.xsl, run by Saxon) make a page that shows the notes."""

from __future__ import annotations

import csv
import io

import pytest
from lxml import etree, html
from sergetrotsky import standoff

from .conftest import ROOT

NS = {"t": "http://www.tei-c.org/ns/1.0"}
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
STYLESHEET = ROOT / "tests" / "vendor" / "tei-stylesheets" / "html" / "html.xsl"


def _rows(built, table):
    return list(csv.DictReader(io.StringIO(built.files[f"data/{table}.csv"].decode("utf-8"))))


@pytest.fixture(scope="module")
def letter_files(built):
    return {row["letter_id"]: etree.fromstring(built.files[row["tei_path"]])
            for row in _rows(built, "letters")}


@pytest.fixture(scope="module")
def papers(built):
    return etree.fromstring(built.files["tei/papers.xml"])


@pytest.fixture(scope="module")
def teic_html(built, tmp_path_factory):
    """Letter files turned into HTML by the TEI Consortium's html.xsl, with Saxon HE."""
    import saxonche  # the test extra (pyproject.toml): never skipped
    folder = tmp_path_factory.mktemp("letters")
    pages = {}
    with saxonche.PySaxonProcessor(license=False) as processor:
        executable = processor.new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(STYLESHEET))
        for letter_id in ("papers-letter-12", "papers-letter-16"):
            path = folder / f"{letter_id}.xml"
            path.write_bytes(built.files[f"tei/letters/{letter_id}.xml"])
            pages[letter_id] = html.fromstring(
                executable.transform_to_string(source_file=str(path)).encode("utf-8"))
    return pages


def test_every_note_call_resolves_inside_its_letter_file(letter_files, papers):
    home_notes = {n.get(XML_ID): n for n in papers.iter(f"{{{NS['t']}}}note")}
    calls = 0
    for letter_id, tree in letter_files.items():
        for call in tree.iterfind(".//t:ref[@type='note']", NS):
            calls += 1
            assert call.get("target").startswith(f"#{letter_id}-"), (letter_id, call.get("target"))
            note = tree.xpath("//t:note[@xml:id=$id]", namespaces=NS,
                              id=call.get("target")[1:])
            assert len(note) == 1, (letter_id, call.get("target"))
            home = note[0].get("corresp").split("#", 1)[1]
            assert "".join(note[0].itertext()) == "".join(home_notes[home].itertext())
            assert note[0].get("n") == call.get("n") == home_notes[home].get("n")
    assert calls


def test_letter_12_carries_note_150_that_corrects_its_date(letter_files):
    # Book: "Brussels, May 27, 1934¹⁵⁰"; note 150: "This is of course Serge's error for 1936."
    tree = letter_files["papers-letter-12"]
    note = tree.find(".//t:back/t:div[@type='notes']/t:note[@n='150']", NS)
    assert note.get(XML_ID) == "papers-letter-12-papers-ch02-n150"
    assert note.get("corresp") == "../papers.xml#papers-ch02-n150"
    assert "Serge's error for 1936" in "".join(note.itertext())
    call = tree.find(".//t:opener/t:dateline/t:ref[@type='note']", NS)
    assert call.get("target") == "#papers-letter-12-papers-ch02-n150"


def test_persons_and_places_are_listed_in_the_file_and_refs_point_there(built, letter_files):
    keys = {"person": {r["person_id"] for r in _rows(built, "persons")},
            "place": {r["place_id"] for r in _rows(built, "places")},
            "org": {r["org_id"] for r in _rows(built, "organisations")}}
    keys["personGrp"] = keys["person"]
    for letter_id, tree in letter_files.items():
        assert not tree.xpath("//@ref[starts-with(., 'person:') or starts-with(., 'place:')]")
        assert tree.find(".//t:listPrefixDef", NS) is None          # no CSV fragments
        for node in tree.xpath("//*[@ref]"):
            local = node.get("ref").split()[0]
            entry = tree.xpath("/t:TEI/t:standOff//*[@xml:id=$id]", namespaces=NS,
                               id=local[1:])
            assert len(entry) == 1, (letter_id, local)
            key = entry[0].findtext("t:idno[@type='dataset']", namespaces=NS)
            kind = etree.QName(entry[0]).localname
            assert key in keys[kind], (letter_id, kind, key)
    knudsen = letter_files["papers-letter-16"].xpath(
        "//t:standOff//t:person[t:idno='knudsen']", namespaces=NS)[0]
    assert knudsen.findtext("t:persName", namespaces=NS) == "Konrad Knudsen"
    assert "note 182" in knudsen.findtext("t:note", namespaces=NS)


def test_authority_uri_follows_the_local_pointer_where_the_register_has_one(letter_files):
    # Letter 35 is dated from Coyoacán, whose GeoNames id the register records.
    place = letter_files["papers-letter-35"].find(
        ".//t:correspAction[@type='sent']/t:placeName", NS)
    assert place.get("ref") == \
        "#papers-letter-35-place-coyoacan http://www.geonames.org/3530139"


def test_ids_of_letter_files_are_unique_across_the_dataset(built):
    seen: dict[str, str] = {}
    for path, data in built.files.items():
        if path.startswith("tei/") and path.endswith(".xml"):
            for value in etree.fromstring(data).xpath("//@xml:id"):
                assert value not in seen, (value, path, seen.get(value))
                seen[value] = path


def test_the_tei_stylesheets_show_a_letters_notes(teic_html, letter_files):
    for letter_id, page in teic_html.items():
        tree = letter_files[letter_id]
        notes = tree.findall(".//t:back//t:note", NS)
        assert notes, letter_id
        for note in notes:
            shown = page.get_element_by_id(note.get(XML_ID))     # the note, on the page
            text = " ".join("".join(note.itertext()).split())
            assert text in " ".join(shown.text_content().split()), (letter_id, text)
        # every call on the page is a link to a note on the same page
        links = [a.get("href") for a in page.iter("{http://www.w3.org/1999/xhtml}a", "a")
                 if (a.get("href") or "").startswith(f"#{letter_id}-")]
        assert len(links) == len(tree.findall(".//t:ref[@type='note']", NS))
        for href in links:
            page.get_element_by_id(href[1:])


def test_own_notes_copies_each_called_note_once_and_keeps_unknown_targets():
    tei_ns = NS["t"]
    home = etree.fromstring(
        f'<TEI xmlns="{tei_ns}"><text><body><div type="notes">'
        f'<note xml:id="s-n1" n="1">One, see <ref type="cross" target="#s-ch1">ch 1</ref></note>'
        f'</div></body></text></TEI>')
    letter = etree.fromstring(
        f'<TEI xmlns="{tei_ns}"><teiHeader/><text><body><div type="letter">'
        f'<p>a<ref type="note" target="../s.xml#s-n1" n="1">1</ref>'
        f'b<ref type="note" target="../s.xml#s-n1" n="1">1</ref>'
        f'c<ref type="note" target="../s.xml#s-n9" n="9">9</ref></p></div></body></text></TEI>')
    notes = {n.get(XML_ID): n for n in home.iter(f"{{{tei_ns}}}note")}
    assert standoff.own_notes(letter, "s-letter-1", "../s.xml", notes) == 1
    copies = letter.findall(".//t:back/t:div/t:note", NS)
    assert [(c.get(XML_ID), c.get("corresp")) for c in copies] == \
        [("s-letter-1-s-n1", "../s.xml#s-n1")]
    assert copies[0].find("t:ref", NS).get("target") == "../s.xml#s-ch1"
    targets = [r.get("target") for r in letter.iterfind(".//t:p/t:ref", NS)]
    assert targets == ["#s-letter-1-s-n1", "#s-letter-1-s-n1", "../s.xml#s-n9"]
