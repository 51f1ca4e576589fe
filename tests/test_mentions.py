"""Names tagged in the texts (pipeline/mentions.py) on real passages: a person, a place
and an organisation each tagged with a pointer at their register entry, an ambiguous
surname left alone, and the mentions table answering "which letters mention Nin?"."""

from __future__ import annotations

import csv
import io

import pytest
from lxml import etree
from sergetrotsky import mentions, names

NS = {"t": "http://www.tei-c.org/ns/1.0"}


def _rows(built, table):
    return list(csv.DictReader(io.StringIO(built.files[f"data/{table}.csv"].decode("utf-8"))))


@pytest.fixture(scope="module")
def table(built):
    return _rows(built, "mentions")


def _paragraph(tree, phrase):
    """The one paragraph-like element whose text contains ``phrase``."""
    found = [p for p in tree.iter(f"{{{NS['t']}}}p", f"{{{NS['t']}}}item")
             if phrase in "".join(p.itertext())]
    assert len(found) == 1, phrase
    return found[0]


def _tagged(tree, element):
    """(tag, text, register key) of every name tagged in ``element``."""
    out = []
    for node in element.iter(f"{{{NS['t']}}}persName", f"{{{NS['t']}}}placeName",
                             f"{{{NS['t']}}}orgName"):
        local = node.get("ref").split()[0][1:]
        entry = tree.xpath("//t:standOff//*[@xml:id=$id]", namespaces=NS, id=local)[0]
        out.append((etree.QName(node).localname, "".join(node.itertext()),
                    entry.findtext("t:idno[@type='dataset']", namespaces=NS)))
    return out


def test_letter_1_tags_a_person_and_a_place(built):
    # Letter 1: "I have just written to Lev Lvovich in Paris asking him …"
    tree = etree.fromstring(built.files["tei/letters/papers-letter-1.xml"])
    para = _paragraph(tree, "I have just written to Lev Lvovich in Paris")
    tagged = _tagged(tree, para)
    assert ("persName", "Lev Lvovich", "sedov") in tagged
    assert ("placeName", "Paris", "paris") in tagged
    # The place's GeoNames id (in the register) follows the local pointer.
    place = para.find("t:placeName", NS)
    assert place.get("ref").split()[1:] == ["http://www.geonames.org/2988507"]


def test_an_organisation_in_a_chapter_3_document(built):
    # Chapter 3 document: "… the FAI, the CNT and the POUM (Partido Obrero de Unificacion
    # Marxista)": the glossary's abbreviations and the POUM's full name.
    tree = etree.fromstring(built.files["tei/papers.xml"])
    para = _paragraph(tree, "Third Position: The revolutionary one")
    tagged = _tagged(tree, para)
    assert ("orgName", "CNT", "cnt") in tagged and ("orgName", "FAI", "fai") in tagged
    assert ("orgName", "Partido Obrero de Unificacion Marxista", "poum") in tagged


def test_an_ambiguous_surname_is_left_alone(built):
    # Letter 12: "(B. and V. Eltsin, Byk)¹⁶⁴": two Eltsins and two Byks in the register
    # (decisions.toml), so neither surname is tagged; "Rakovsky" in the same paragraph is.
    tree = etree.fromstring(built.files["tei/letters/papers-letter-12.xml"])
    para = _paragraph(tree, "B. and V. Eltsin, Byk")
    names = [text for _, text, _ in _tagged(tree, para)]
    assert "Rakovsky" in names
    assert not any("Eltsin" in n or "Byk" in n for n in names)
    # Letter 21's PS: "An American comrade, Muste,²⁰¹" – the index's 'Muste, W' and note
    # 201's 'A.J. Muste' are kept apart, so 'Muste' is not guessed.
    tree21 = etree.fromstring(built.files["tei/letters/papers-letter-21.xml"])
    ps = _paragraph(tree21, "An American comrade, Muste,")
    assert all("Muste" not in text for _, text, _ in _tagged(tree21, ps))


def test_the_table_answers_which_letters_mention_nin(built, table):
    letters = {r["letter_id"] for r in _rows(built, "letters")}
    with_nin = {r["document_id"] for r in table
                if r["entity_type"] == "person" and r["entity_id"] == "nin"}
    # Trotsky's letter on 'our attitude towards Andreu Nin' is among them.
    letter = next(r["letter_id"] for r in _rows(built, "letters")
                  if "our attitude towards Andreu Nin" in
                  built.files[f"text/papers/{r['letter_id']}.txt"].decode("utf-8"))
    assert letter in with_nin and with_nin & letters


def test_every_row_is_the_text_as_printed_at_its_offset(built, table):
    texts = {}
    units = {r["document_id"]: r for r in _rows(built, "documents")}
    for row in table:
        if row["source_id"] not in texts:
            texts[row["source_id"]] = built.files[f"text/{row['source_id']}.txt"].decode("utf-8")
        text = texts[row["source_id"]]
        offset = int(row["offset"])
        assert text[offset:offset + len(row["form"])] == row["form"], row
        assert units[row["document_id"]]["type"] not in mentions.SKIPPED_UNIT_TYPES


def test_every_mention_of_the_table_is_tagged_in_the_tei(built, table):
    for source_id in {r["source_id"] for r in table}:
        tree = etree.fromstring(built.files[f"tei/{source_id}.xml"])
        tagged = [("".join(e.itertext()), e.get("ref").split()[0]) for e in tree.xpath(
            "/t:TEI/t:text//t:persName | /t:TEI/t:text//t:placeName"
            " | /t:TEI/t:text//t:orgName", namespaces=NS)]
        prefix = {"person": "person", "place": "place", "organisation": "org"}
        rows = sorted((r["form"], f"#{source_id}-{prefix[r['entity_type']]}-{r['entity_id']}")
                      for r in table if r["source_id"] == source_id)
        remaining = sorted(tagged)
        for form, ref in rows:        # each row has its own tagged element: the mention,
            # or a dateline's place that contains it ("Coyoacan" in "Coyoacan, DF")
            match = next((t for t in remaining if t == (form, ref)), None) or next(
                (t for t in remaining if t[1] == ref and form in t[0]), None)
            assert match, (form, ref)
            remaining.remove(match)


def test_a_shared_form_whose_owner_was_decided_is_tagged(built):
    # "Sedov" is Lev Sedov's form and Sergei Sedov's surname; decisions.toml (form_owner)
    # records that every "Sedov" alone in the texts is Lev. Serge's obituary (Chapter 5):
    # "Sedov, finally, dead of natural causes..."
    tree = etree.fromstring(built.files["tei/papers.xml"])
    para = _paragraph(tree, "Sedov, finally, dead of natural causes")
    assert ("persName", "Sedov", "sedov") in _tagged(tree, para)
    # … while "Rosmer" (Alfred or Marguerite), undecided, stays untagged in the same passage.
    assert all(text != "Rosmer" for _, text, _ in _tagged(tree, para))


def test_every_name_tagged_in_a_letter_file_has_its_row_in_mentions(built, table):
    # The dateline's place too (Letter 12: "Brussels, May 27, 1934"), which the TEI tags
    # from the letters table: the table and the TEI agree.
    from collections import Counter
    notes = _rows(built, "notes")
    kinds = {"persName": "person", "placeName": "place", "orgName": "organisation"}
    children: dict[str, list[str]] = {}
    for unit in _rows(built, "documents"):
        children.setdefault(unit["parent_id"], []).append(unit["document_id"])
    letter_files = [p for p in built.files if p.startswith("tei/letters/")]
    assert "tei/letters/papers-letter-12.xml" in letter_files
    for path in letter_files:
        letter_id = path.rsplit("/", 1)[1].removesuffix(".xml")
        units, queue = set(), [letter_id]
        while queue:
            units.add(queue[-1])
            queue += children.get(queue.pop(), [])
        tree = etree.fromstring(built.files[path])
        # the notes the file carries: their mentions are where the book prints them
        carried = {n.get("corresp").split("#")[1] for n in tree.xpath(
            "//t:note[@corresp]", namespaces=NS)}
        spans = [(n["source_id"], int(n["text_offset"]), int(n["text_offset"]) + len(n["text"]))
                 for n in notes if n["note_id"] in carried and n["text_offset"]]
        rows = Counter((r["entity_type"], r["entity_id"], r["form"]) for r in table
                       if r["document_id"] in units or any(
                           r["source_id"] == s and a <= int(r["offset"]) < e for s, a, e in spans))
        tagged = Counter()
        for node in tree.xpath("/t:TEI/t:text//t:persName[@ref] | /t:TEI/t:text//t:placeName[@ref]"
                               " | /t:TEI/t:text//t:orgName[@ref]", namespaces=NS):
            local = node.get("ref").split()[0][1:]
            entry = tree.xpath("//t:standOff//*[@xml:id=$id]", namespaces=NS, id=local)[0]
            tagged[(kinds[etree.QName(node).localname],
                    entry.findtext("t:idno[@type='dataset']", namespaces=NS),
                    "".join(node.itertext()))] += 1
        assert not tagged - rows, (letter_id, tagged - rows)
        if letter_id == "papers-letter-12":
            assert rows[("place", "brussels", "Brussels")] >= 1


def test_literal_trie_matches_what_the_plain_alternation_of_the_forms_matches(segmented):
    """The name index's pattern is written as a trie for speed: on every source's text it
    finds the same matches as the alternation of the forms, longest first. The forms: the
    capitalised words of the texts and each with the word after it (prefixes of each
    other, as a register's forms are: "Natalia", "Natalia Sedova")."""
    import re

    texts = [seg.text for seg in segmented.values()]
    forms: set[str] = set()
    for text in texts:
        forms.update(m[0] for m in re.finditer(r"[A-Z]\w+(?: [A-Z]?\w+)?", text[:40_000]))
        forms.update(m[1] for m in re.finditer(r"([A-Z]\w+) ", text[:40_000]))
    alternatives = sorted(forms, key=lambda f: (-len(f), f))
    assert len(alternatives) > 1000

    def pattern(body):
        return re.compile(r"(?<![\w'’-])(?:" + body + r")(?![^\W⁰¹²³⁴⁵⁶⁷⁸⁹]|-)")

    plain = pattern("|".join(names.BLANKS.join(map(re.escape, f.split(" ")))
                             for f in alternatives))
    trie = pattern(names.literal_trie(alternatives))
    # Every form begins with a capital, so the plain alternation can match only there:
    # asked at each capital in turn (its look-behind still sees the text before), it gives
    # what its finditer gives, ~10x sooner (sre tries every form at every character).
    assert all("A" <= form[0] <= "Z" for form in alternatives)

    def plain_matches(text):
        found, end = [], 0
        for capital in re.finditer(r"[A-Z]", text):
            if capital.start() >= end and (m := plain.match(text, capital.start())):
                found.append((m.start(), m[0]))
                end = m.end()
        return found

    for text in texts:
        expected = plain_matches(text)
        assert expected
        assert [(m.start(), m[0]) for m in trie.finditer(text)] == expected
