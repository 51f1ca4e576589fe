"""The one name index (pipeline/names.py): its case rule and normalisation, whole-string
lookups and the scan of running text, ambiguity and its decisions; and, on the papers
source, the chronology's persons against the mentions the same index finds."""

from __future__ import annotations

import csv
import io

from sergetrotsky import registers
from sergetrotsky.names import NameIndex, name_key

from .conftest import SOURCES

SERGE = {"person_id": "serge", "name": "Victor Serge",
         "forms": ["Serge", "V", "VS", "Serge, Victor"]}
NIN = {"person_id": "nin", "name": "Andrès Nin", "forms": ["Nin"]}


def _found(index, text):
    return [(form, owner) for _, form, owner in index.find(text)]


# --- the case rule and the one normalisation ----------------------------------------------

def test_a_name_matches_as_printed_case_and_accents_included():
    index = NameIndex([SERGE, NIN])
    assert index.resolve("Serge") == ("serge", "")
    assert index.resolve("SERGE")[0] is None and index.resolve("serge")[0] is None
    assert index.resolve("Andrès Nin") == ("nin", "")
    assert index.resolve("Andrés Nin")[0] is None        # accents kept: another spelling
    assert _found(index, "serge wrote to SERGE and to Serge") == \
        [("Serge", ("person", "serge"))]


def test_note_marks_italics_and_blanks_are_not_part_of_a_name():
    index = NameIndex([SERGE, NIN])
    for printed in ("Victor Serge¹⁷³", "*Victor Serge*", " Victor  Serge ", "Victor\nSerge",
                    "Victor Serge^{12}"):
        assert name_key(printed) == "Victor Serge"
        assert index.resolve(printed) == ("serge", ""), printed
    # the same in running text: a mark after a name, italics around it, a wrapped line
    # (but a blank line ends a paragraph, and a name: "Victor" ends one, "Serge" alone,
    # no name word before it in its paragraph, opens the next)
    text = "Nin¹⁷³ met *Victor Serge* and Victor\nSerge; not Victor\n\nSerge."
    assert index.find(text) == [(0, "Nin", ("person", "nin")),
                                (12, "Victor Serge", ("person", "serge")),
                                (30, "Victor\nSerge", ("person", "serge")),
                                (56, "Serge", ("person", "serge"))]


def test_every_form_resolves_whole_but_only_searchable_forms_are_searched():
    index = NameIndex([SERGE])
    # a signature "V" or "VS", an inverted heading: looked up whole
    assert [index.resolve(f)[0] for f in ("V", "VS", "Serge, Victor")] == ["serge"] * 3
    # in running text a single letter and an inverted heading are never names
    assert _found(index, "V wrote; Serge, Victor said; VS") == \
        [("Serge", ("person", "serge")), ("VS", ("person", "serge"))]


def test_whole_string_lookup_says_why_not():
    index = NameIndex([SERGE, {"person_id": "vlady", "name": "Vlady Kibalchich",
                               "forms": ["Kibalchich"]},
                       {"person_id": "kib", "name": "Kib", "forms": ["Kibalchich"]}])
    pid, why = index.resolve("Nobody Inparticular")
    assert pid is None and "persons.toml" in why
    pid, why = index.resolve("Kibalchich")
    assert pid is None and "several entries (person kib, person vlady)" in why


def test_a_lookup_of_one_kind_never_returns_another():
    index = NameIndex([SERGE], [{"place_id": "paris", "name": "Paris"}])
    assert index.owner("Paris") == ("place", "paris")
    pid, why = index.resolve("Paris")
    assert pid is None and "a form of the place 'paris', not of a person" in why
    assert index.resolve("Paris", "place") == ("paris", "")


# --- forms, ambiguity, decisions -----------------------------------------------------------

def test_the_longest_form_wins():
    index = NameIndex([{"person_id": "sedova", "name": "Natalia Sedova",
                        "forms": ["Natalia", "Natalia Ivanovna"]}])
    assert index.find("Natalia Ivanovna and Natalia Sedova, then Natalia") == [
        (0, "Natalia Ivanovna", ("person", "sedova")),
        (21, "Natalia Sedova", ("person", "sedova")),
        (42, "Natalia", ("person", "sedova"))]


def test_ambiguous_forms_and_initials_are_never_searched():
    persons = [{"person_id": "a", "name": "Alfred Rosmer", "forms": [], "evidence": ["n1"]},
               {"person_id": "b", "name": "Marguerite Rosmer", "forms": ["N."],
                "evidence": ["n2"]}]
    index = NameIndex(persons, [{"place_id": "c", "name": "Coyoacán"}])
    found = index.find("Rosmer met Alfred Rosmer in Coyoacan; N. wrote¹²")
    assert found == [(0, "Rosmer", None), (11, "Alfred Rosmer", ("person", "a")),
                     (28, "Coyoacan", ("place", "c"))]
    assert index.resolve("Rosmer")[0] is None            # whole, too: never guessed
    assert index.resolve("N.") == ("b", "")              # initials resolve whole


def test_a_form_shared_by_a_person_and_an_organisation_is_ambiguous():
    index = NameIndex([{"person_id": "p", "name": "Pierre Naville", "forms": ["POI"]}],
                      organisations=[{"org_id": "poi", "name": "Parti Ouvrier",
                                      "abbreviation": "POI"}])
    assert index.find("the POI met") == [(4, "POI", None)]


def test_form_owner_only_settles_a_form_the_person_has():
    persons = [{"person_id": "lev", "name": "Lev Sedov", "forms": ["Sedov"], "evidence": []},
               {"person_id": "sergei", "name": "Sergei Sedov", "forms": [], "evidence": ["n"]}]
    undecided = NameIndex(persons)
    assert undecided.find("Sedov wrote") == [(0, "Sedov", None)]
    assert undecided.resolve("Sedov")[0] is None
    decided = NameIndex(persons, form_owners={"Sedov": "lev"})
    assert decided.find("Sedov wrote") == [(0, "Sedov", ("person", "lev"))]
    assert decided.resolve("Sedov") == ("lev", "")
    wrong = NameIndex(persons, form_owners={"Sedov": "nobody"})
    assert wrong.find("Sedov wrote") == [(0, "Sedov", None)]


def test_a_derived_persons_family_name_is_a_form():
    persons = [{"person_id": "maurin", "name": "Joaquin Maurin Julia", "forms": [],
                "evidence": ["n174"]},
               {"person_id": "knudsen", "name": "Konrad Knudsen", "forms": []}]
    index = NameIndex(persons, families={"Joaquin Maurin Julia": "Maurin"})
    assert _found(index, "Maurin and Julia; Knudsen") == [("Maurin", ("person", "maurin"))]


def test_a_surname_after_another_forename_is_someone_else():
    persons = [{"person_id": "martin", "name": "Antonio Martin", "forms": [],
                "evidence": ["n"]},
               {"person_id": "nin", "name": "Andreu Nin", "forms": ["Nin"], "evidence": []}]
    index = NameIndex(persons)
    # Serge's obituary of Sedov names "Jeanne Martin des Pallières": not Antonio Martin.
    # "Comrade" and "But" are written in lower case elsewhere in the text: no forenames.
    text = ("Liova's woman, Jeanne Martin des Pallières, a comrade but not ours, and "
            "Comrade Nin. But Nin wrote.")
    assert _found(index, text) == [("Nin", ("person", "nin")), ("Nin", ("person", "nin"))]



def test_the_paragraph_before_gives_no_forename():
    """A heading or a closing line that ends with a capitalised word or initials is not
    the forename of the next paragraph's first name (the papers' "Serge and Trotsky"
    heading before "Trotsky alone extended the hand…"; Letter 26's closer "… and N I."
    before the signature "VS")."""
    index = NameIndex([SERGE, {"person_id": "trotsky", "name": "Leon Trotsky",
                               "forms": ["Trotsky"]}])
    text = ("Serge and Trotsky\n\nTrotsky alone extended the hand.\n\n"
            "A handshake to you and N I.\n\nVS")
    assert [(at, form) for at, form, _ in index.find(text)] == \
        [(0, "Serge"), (10, "Trotsky"), (19, "Trotsky"), (82, "VS")]
    # within one paragraph the rule holds: "Jeanne Serge" is someone else
    assert index.find("Jeanne Serge") == []

# --- the chronology and the mentions agree (papers) ---------------------------------------

def _rows(built, table):
    return list(csv.DictReader(io.StringIO(built.files[f"data/{table}.csv"].decode("utf-8"))))


def test_papers_chronology_persons_are_the_person_mentions_of_each_line(built):
    """Each line of the papers' chronology lists exactly the persons the index finds in
    that printed line of text/papers.txt, as the mentions table records them."""
    text = built.files["text/papers.txt"].decode("utf-8")
    decisions = registers.load_decisions(SOURCES)
    index = NameIndex(_rows(built, "persons"), _rows(built, "places"),
                      _rows(built, "organisations"), decisions.family_names,
                      decisions.form_owners)
    table = [(int(r["offset"]), r["entity_id"]) for r in _rows(built, "mentions")
             if r["source_id"] == "papers" and r["entity_type"] == "person"]
    rows = [r for r in _rows(built, "chronology") if r["source_id"] == "papers"]
    assert rows
    at = 0
    for row in rows:                                # the lines in the order printed
        at = text.index(row["text"], at)
        start, end = text.rindex("\n", 0, at) + 1, text.index("\n", at)
        assert text[start:end].endswith(row["text"])          # one printed line
        found = [owner[1] for _, _, owner in index.find(text, start, end)
                 if owner and owner[0] == "person"]
        recorded = [entity for offset, entity in table if start <= offset < end]
        assert found == recorded, row["event_id"]
        persons = row["persons"].split(";") if row["persons"] else []
        assert persons == list(dict.fromkeys(found)), row["event_id"]
    by_id = {r["event_id"]: r["persons"] for r in rows}
    # "He works for the Comintern under Zinoviev": a person the notes identify (note 230
    # of Chapter 2), found by his family name; "Trotsky's death (20 August)".
    assert by_id["papers-chronology-003"] == "serge;zinoviev"
    assert by_id["papers-chronology-016"] == "serge;trotsky"
