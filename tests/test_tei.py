"""The TEI stage on the real sources: every file valid TEI P5 (tei_all), the div tree equal
to the unit tree, the text complete and in order, notes tied to their calls, letters
encoded as letters with their correspDesc."""

from __future__ import annotations

import csv
import io
import re

import pytest
from lxml import etree

from sergetrotsky import segment

NS = {"t": "http://www.tei-c.org/ns/1.0"}
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
SOURCES = ["intro", "jacobins", "nelson", "papers", "review"]


def _rows(built, table):
    return list(csv.DictReader(io.StringIO(built.files[f"data/{table}.csv"].decode("utf-8"))))


@pytest.fixture(scope="module")
def trees(built):
    return {path: etree.fromstring(data) for path, data in built.files.items()
            if path.startswith("tei/") and path.endswith(".xml")}


@pytest.fixture(scope="module")
def papers(trees):
    return trees["tei/papers.xml"]


def _letter(trees, letter_id):
    return trees[f"tei/letters/{letter_id}.xml"]




def test_every_tei_file_is_valid_tei_all(trees, tei_all):
    assert len(trees) == len(SOURCES) + 48
    invalid = {}
    for path, tree in trees.items():
        if not tei_all.validate(tree):
            invalid[path] = [f"{e.line}: {e.message}" for e in tei_all.error_log][:3]
    assert invalid == {}


def test_div_tree_is_the_unit_tree(built, trees):
    documents = _rows(built, "documents")
    assert {d["tei_path"] for d in documents} == {f"tei/{s}.xml" for s in SOURCES}
    for doc in documents:
        tree = trees[doc["tei_path"]]
        found = tree.xpath("//t:div[@xml:id=$id]", namespaces=NS, id=doc["document_id"])
        assert len(found) == 1, doc["document_id"]
        div = found[0]
        assert div.get("type") == doc["type"]
        parent = div.xpath("ancestor::t:div[1]/@xml:id", namespaces=NS)
        assert (parent[0] if parent else "") == doc["parent_id"], doc["document_id"]
    every_div = [d for t in (trees[f"tei/{s}.xml"] for s in SOURCES)
                 for d in t.iter("{%s}div" % NS["t"])]
    assert len(every_div) == len(documents)


def _tei_words(root):
    """The words of a TEI body as a reader gets them: corrections, not the printed errors;
    note calls left out (they are numbers)."""
    out = []
    # Elements inside a word's run of text (a name tagged in "Serge's") add no space.
    inline = {"hi", "title", "ref", "choice", "corr", "persName", "placeName", "orgName",
              "date", "quote"}

    def walk(node):
        name = etree.QName(node).localname
        if name == "sic" or (name == "ref" and node.get("type") == "note") \
                or (name == "hi" and node.get("rend") == "superscript"):
            return
        out.append(node.text or "")
        for child in node:
            gap = "" if etree.QName(child).localname in inline else " "
            out.append(gap)
            walk(child)
            out.append(gap + (child.tail or ""))
    walk(root.find("t:text", NS))
    return _words("".join(out))


def _words(text):
    return [w for w in segment.WORD.findall(text) if not w.isdigit()]


@pytest.mark.parametrize("source_id", SOURCES)
def test_the_whole_text_is_in_the_tei_in_order(cleaned, trees, source_id):
    """Every word of the cleaned text, in order, and nothing else (numbers aside: note
    marks and labels and list numbers are attributes in TEI)."""
    text = segment.NOTE_MARK.sub(" ", cleaned[source_id].text).replace("*", "")
    assert _tei_words(trees[f"tei/{source_id}.xml"]) == _words(text)


def test_emendations_are_choice_sic_corr(cleaned, trees):
    for source_id in SOURCES:
        pairs = [(c.findtext("t:sic", namespaces=NS), c.findtext("t:corr", namespaces=NS))
                 for c in trees[f"tei/{source_id}.xml"].iter("{%s}choice" % NS["t"])]
        assert pairs == [(e.sic, e.corr) for e in cleaned[source_id].emendations]
    assert ("Andrs", "Andrés") in [(c[0].text, c[1].text)
                                   for c in trees["tei/papers.xml"].iter("{%s}choice" % NS["t"])]


def test_every_note_once_with_its_id_and_every_call_resolves(built, papers):
    notes = _rows(built, "notes")
    encoded = papers.xpath("/t:TEI/t:text//t:note", namespaces=NS)   # not the standOff's
    assert sorted(n.get(XML_ID) for n in encoded) == sorted(r["note_id"] for r in notes)
    ids = set(papers.xpath("//@xml:id"))
    targets = [r.get("target")[1:] for r in papers.xpath("//t:ref[@type='note']", namespaces=NS)]
    assert set(targets) <= ids
    tied = [r for r in notes if r["ref_document_id"]]
    assert sorted(targets) == sorted(r["note_id"] for r in tied)
    for row in tied:          # each call is inside the unit the notes table names
        ref = papers.xpath("//t:ref[@target=$t]", namespaces=NS, t="#" + row["note_id"])[0]
        assert ref.xpath("ancestor::t:div[1]/@xml:id", namespaces=NS)[0] == \
            row["ref_document_id"]


def test_note_150_is_called_from_letter_12s_dateline_and_says_so(papers):
    ref = papers.xpath("//t:div[@xml:id='papers-letter-12']/t:opener/t:dateline/t:ref",
                       namespaces=NS)
    assert [r.get("target") for r in ref] == ["#papers-ch02-n150"]
    note = papers.xpath("//t:note[@xml:id='papers-ch02-n150']", namespaces=NS)[0]
    assert note.get("n") == "150" and note.get("type") == "editorial"
    assert "1936" in "".join(note.itertext())
    assert note.xpath("ancestor::t:div[1]/@xml:id", namespaces=NS) == ["papers-notes-ch02"]


def test_author_notes_stay_where_printed(built, papers):
    authors = [r for r in _rows(built, "notes") if r["kind"] == "author"]
    assert authors
    for row in authors:
        note = papers.xpath("//t:note[@xml:id=$id]", namespaces=NS, id=row["note_id"])[0]
        assert note.get("type") == "author"
        assert note.xpath("ancestor::t:div[1]/@xml:id", namespaces=NS) == [row["printed_in_id"]]


def test_letters_encoded_as_letters(papers):
    letter = papers.xpath("//t:div[@xml:id='papers-letter-12']", namespaces=NS)[0]
    parts = [etree.QName(c).localname for c in letter]
    assert parts[:2] == ["head", "opener"] and parts[-1] == "closer"
    closer = letter.find("t:closer", NS)
    assert "".join(closer.find("t:signed", NS).itertext()) == "Victor Serge"
    assert closer.findtext("t:salute", namespaces=NS).startswith("Our friendly greetings")
    date = letter.find("t:opener/t:dateline/t:date", NS)
    assert (date.get("when"), date.text) == ("1936-05-27", "May 27, 1934")
    # the telegram: the address it was sent to, and its date at the foot
    telegram = papers.xpath("//t:div[@xml:id='papers-letter-3']", namespaces=NS)[0]
    assert telegram.findtext("t:opener/t:address/t:addrLine", namespaces=NS).startswith(
        "Kibalchich. Poste Restante")
    assert telegram.find("t:closer/t:dateline/t:date", NS).get("when") == "1936-04-25"
    # the postcard, dated and placed under its signature
    postcard = papers.xpath("//t:div[@xml:id='papers-letter-16']/t:closer", namespaces=NS)[0]
    assert [etree.QName(c).localname for c in postcard] == ["salute", "signed", "dateline"]
    # a pointer at the file's own register entry (pipeline/standoff.py)
    assert postcard.find("t:dateline/t:placeName", NS).get("ref") == "#papers-place-brussels"
    # postscripts
    ps = papers.xpath("//t:div[@xml:id='papers-letter-30']/t:postscript/t:p", namespaces=NS)
    assert [p.text[:4] for p in ps] == ["PS. ", "PPS."]


def test_enclosures_stay_inside_their_letter_after_the_signature(papers):
    for n in (14, 18, 24):
        letter_id = f"papers-letter-{n}"
        enclosure = papers.xpath("//t:div[@xml:id=$id]", namespaces=NS,
                                 id=f"{letter_id}-enclosure-01")[0]
        assert enclosure.xpath("ancestor::t:div[1]/@xml:id", namespaces=NS) == [letter_id]
        assert etree.QName(enclosure.getparent().getparent().getparent()).localname == \
            "postscript"
        assert enclosure.xpath("preceding::t:closer[1]/ancestor::t:div[1]/@xml:id",
                               namespaces=NS) == [letter_id]


def test_numbered_paragraphs_are_lists_and_bibliography_italics_titles(papers):
    items = papers.xpath("//t:div[@xml:id='papers-letter-4']//t:list/t:item", namespaces=NS)
    assert [i.get("n") for i in items][:3] == ["1", "2", "3"]
    assert "".join(items[0].itertext()).startswith("Our comrade Solntsev")
    titles = {t.text for t in papers.xpath("//t:div[@type='bibliography']//t:title",
                                           namespaces=NS)}
    assert "The Prophet Outcast – Trotsky 1929–40" in titles
    elsewhere = papers.xpath("//t:div[@type='notes']//t:title/text()", namespaces=NS)
    assert "The Prophet Outcast" in elsewhere


def test_letter_files_have_a_complete_corresp_desc(built, trees):
    persons = {r["person_id"]: r["name"] for r in _rows(built, "persons")}
    for row in _rows(built, "letters"):
        tree = trees[row["tei_path"]]
        desc = tree.find(".//t:profileDesc/t:correspDesc", NS)
        sent = desc.find("t:correspAction[@type='sent']", NS)
        received = desc.find("t:correspAction[@type='received']", NS)
        def key(node):     # the register key of the standOff entry a @ref points at
            entry = tree.xpath("//t:standOff//*[@xml:id=$id]", namespaces=NS,
                               id=node.get("ref").split()[0].lstrip("#"))
            return entry[0].findtext("t:idno[@type='dataset']", namespaces=NS)
        assert key(sent.find("t:persName", NS)) == row["sender_id"]
        assert sent.findtext("t:persName", namespaces=NS) == persons[row["sender_id"]]
        assert key(received.find("t:persName", NS)) == row["addressee_id"]
        date = sent.find("t:date", NS)
        assert (date.get("when") if date is not None else "") == row["date"]
        place = sent.find("t:placeName", NS)
        assert (key(place) if place is not None else "") == row["place_id"]
        assert desc.get("corresp") == f"../papers.xml#{row['letter_id']}"
        body = tree.find("t:text/t:body/t:div", NS)
        assert body.get("corresp") == f"../papers.xml#{row['letter_id']}"
        # the letter's own ids (register entries, note copies) start with the letter id;
        # units keep their ids in the source file only
        assert all(i.startswith(row["letter_id"] + "-") for i in tree.xpath("//@xml:id"))
        languages = [x.get("ident") for x in tree.iterfind(".//t:langUsage/t:language", NS)]
        assert languages == ["en"] + ([row["language"]] if row["language"] not in ("en", "") else [])


def test_letter_files_point_into_the_source_file(trees, papers):
    ids = set(papers.xpath("//@xml:id"))
    for path, tree in trees.items():
        if not path.startswith("tei/letters/"):
            continue
        pointers = tree.xpath("//@target[contains(., '#')] | //@corresp", namespaces=NS)
        assert pointers, path
        for pointer in pointers:
            file_part, _, fragment = pointer.partition("#")
            if file_part == "":          # a note copy or register entry inside the file
                assert tree.xpath("//*[@xml:id=$id]", id=fragment), (path, pointer)
            else:
                assert file_part == "../papers.xml" and fragment in ids, (path, pointer)


def test_letter_12_file_keeps_the_printed_date_and_says_why(trees):
    desc = _letter(trees, "papers-letter-12").find(".//t:correspDesc", NS)
    date = desc.find("t:correspAction[@type='sent']/t:date", NS)
    assert (date.get("when"), date.get("cert"), date.text) == ("1936-05-27", "high",
                                                               "May 27, 1934")
    assert "corrected by note 150" in desc.findtext("t:note[@type='date']", namespaces=NS)


def test_letter_35_open_letter_and_3_telegram_forms(trees):
    for letter_id, form in (("papers-letter-35", "open-letter"), ("papers-letter-3", "telegram"),
                            ("papers-letter-16", "postcard")):
        tree = _letter(trees, letter_id)
        assert tree.findtext(".//t:textClass/t:keywords/t:term[@type='form']",
                             namespaces=NS) == form


def test_header_records_source_checksum_and_cleaning(built, trees):
    sources = {r["source_id"]: r for r in _rows(built, "sources")}
    for source_id in SOURCES:
        tree = trees[f"tei/{source_id}.xml"]
        bibl = tree.find(".//t:sourceDesc/t:bibl", NS)
        assert bibl.findtext("t:idno[@type='sha256']", namespaces=NS) == \
            sources[source_id]["sha256"]
        assert bibl.find("t:ptr", NS).get("target") == "../" + sources[source_id]["original_path"]
        decl = tree.find(".//t:encodingDesc/t:editorialDecl", NS)
        assert decl is not None and decl.find("t:correction", NS) is not None
    review = trees["tei/review.xml"]
    changes = review.xpath("//t:revisionDesc//t:change/text()", namespaces=NS)
    assert any(re.match(r"Pages restored to reading order", c) for c in changes)


def test_cross_references_are_links_to_the_units_they_cite(built, papers):
    rows = _rows(built, "references")
    links = papers.xpath("//t:ref[@type='cross']", namespaces=NS)
    assert sorted((r.get("target"), r.text) for r in links) == \
        sorted((f"#{r['to_id']}", r["as_written"]) for r in rows)
    ids = set(papers.xpath("//t:div/@xml:id", namespaces=NS))
    assert {r.get("target")[1:] for r in links} <= ids
    # a note that cites a letter: the reader can jump from the note to the letter
    cited = [r for r in rows if r["from_id"].startswith("papers-ch") and "-n" in r["from_id"]
             and r["kind"] == "letter"]
    assert cited
    for row in cited:
        note = papers.xpath("//t:note[@xml:id=$id]", namespaces=NS, id=row["from_id"])[0]
        assert f"#{row['to_id']}" in note.xpath(".//t:ref[@type='cross']/@target",
                                                 namespaces=NS)


def test_a_wholly_quoted_paragraph_is_a_quote(trees):
    intro = trees["tei/intro.xml"]
    quotes = intro.xpath("//t:p/t:quote", namespaces=NS)
    marx = [q for q in quotes if "Men make their own history" in "".join(q.itertext())]
    assert len(marx) == 1
    text = "".join(marx[0].itertext())
    assert text.startswith("“") and text.endswith("”")
    # the paragraph that introduces it is not one
    said = intro.xpath("//t:p[contains(., 'As Karl Marx wrote:')]", namespaces=NS)[0]
    assert said.find("t:quote", NS) is None
