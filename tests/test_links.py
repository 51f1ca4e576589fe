"""Letters linked to their neighbours (correspContext) in the letter files, the same
links as in CMIF, every link naming a letter file of the dataset."""

from __future__ import annotations

import csv
import io

import pytest
from lxml import etree
from sergetrotsky import links

NS = {"t": "http://www.tei-c.org/ns/1.0"}


@pytest.fixture(scope="module")
def letters(built):
    return list(csv.DictReader(io.StringIO(built.files["data/letters.csv"].decode("utf-8"))))


def _context(tree) -> dict[tuple[str, str], tuple[str, str]]:
    return {(r.get("type"), r.get("subtype")): (r.get("target"), r.text)
            for r in tree.iterfind(".//t:correspContext/t:ref", NS)}


def test_every_letter_file_has_its_neighbours_and_they_resolve(built, letters):
    for i, row in enumerate(letters):
        tree = etree.fromstring(built.files[row["tei_path"]])
        ctx = _context(tree)
        # The book's first letter has no previous one, its last no next one; all others both.
        assert (("prev", "edition") in ctx) == (i > 0), row["letter_id"]
        assert (("next", "edition") in ctx) == (i < len(letters) - 1), row["letter_id"]
        for target, _ in ctx.values():
            assert f"tei/letters/{target}" in built.files, target


def test_letter_2_links_back_to_letter_1_in_both_orders(built):
    # Letter 2 (Trotsky to Serge, April 24, 1936) answers Letter 1 (Serge to Trotsky).
    ctx = _context(etree.fromstring(built.files["tei/letters/papers-letter-2.xml"]))
    assert ctx[("prev", "edition")] == ("papers-letter-1.xml", "Letter 1")
    assert ctx[("prev", "correspondence")] == ("papers-letter-1.xml", "Letter 1")
    assert ctx[("next", "edition")] == ("papers-letter-3.xml", "Letter 3")


def test_letter_files_and_cmif_give_the_same_links(built, letters):
    cmif = etree.fromstring(built.files["cmif.xml"])
    descs = cmif.findall(".//t:correspDesc", NS)
    for desc, row in zip(descs, letters, strict=True):
        in_cmif = {k: (t.rsplit("/", 1)[-1], label) for k, (t, label) in _context(desc).items()}
        in_tei = _context(etree.fromstring(built.files[row["tei_path"]]))
        assert in_cmif == in_tei, row["letter_id"]


def test_unknown_correspondent_and_other_sources_are_never_linked():
    keys = [links.LetterKey("a-1", "a", "serge", "trotsky"),
            links.LetterKey("a-2", "a", "serge", ""),            # addressee unknown
            links.LetterKey("a-3", "a", "trotsky", "serge", number="3"),
            links.LetterKey("b-1", "b", "serge", "trotsky")]     # another book
    found = links.neighbours(keys)
    assert found["a-1"][("next", "correspondence")].letter_id == "a-3"
    assert ("prev", "correspondence") not in found["a-2"]
    assert ("next", "correspondence") not in found["a-2"]
    assert ("next", "edition") not in found["a-3"]
    assert found["b-1"] == {}
    assert found["a-3"][("prev", "correspondence")].letter_id == "a-1"
    assert found["a-1"][("next", "edition")].label == "a-2"
    assert found["a-2"][("next", "edition")].label == "Letter 3"
