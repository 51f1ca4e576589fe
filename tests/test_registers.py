"""The persons register built from the book: every correspondent, every person a note
identifies and every person the index lists, with evidence; the decisions a program
must not take read from sources/_registry/decisions.toml."""

from __future__ import annotations

import csv
import io

import pytest
from sergetrotsky import conventions, registers, registry
from sergetrotsky.errors import PipelineError

from .conftest import SOURCES


def _rows(built, table):
    return list(csv.DictReader(io.StringIO(built.files[f"data/{table}.csv"].decode("utf-8"))))


@pytest.fixture(scope="module")
def persons(built):
    return {r["person_id"]: r for r in _rows(built, "persons")}


@pytest.fixture(scope="module")
def notes(built):
    return _rows(built, "notes")


def _by_name(persons, name):
    found = [p for p in persons.values() if p["name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_every_correspondent_is_in_persons(built, persons):
    for letter in _rows(built, "letters"):
        for key in ("sender_id", "addressee_id"):
            assert letter[key] == "" or letter[key] in persons, letter["letter_id"]


def test_every_person_a_note_identifies_is_in_persons_with_the_note_as_evidence(persons, notes):
    evidence = {e for p in persons.values() for e in p["evidence"].split(";") if e}
    identified = [i for i in map(registers.identify, notes) if i and i.kind == "person"]
    # the editor identifies people one by one (papers: note 83 of Chapter 2, Eltsin)
    assert "papers-ch02-n83" in {i.note_id for i in identified}
    for ident in identified:
        assert ident.note_id in evidence, (ident.note_id, ident.name)


def test_note_83_identifies_boris_eltsin_and_the_description_quotes_it(persons, notes):
    note = next(n for n in notes if n["note_id"] == "papers-ch02-n83")
    assert note["text"].startswith("Boris Mikhailovich Eltsin, a comrade of Serge's")
    eltsin = _by_name(persons, "Boris Mikhailovich Eltsin")
    assert eltsin["description"].startswith(
        "Boris Mikhailovich Eltsin, a comrade of Serge's in internal exile at Orenburg.")
    assert "(note 83 of Chapter 2)" in eltsin["description"]
    # The index spells him 'Elsin, BM' (a recorded decision joins the two).
    assert eltsin["evidence"].split(";")[0] == "papers-ch02-n83"
    assert "Elsin, BM" in eltsin["forms"].split(";")
    # One surname, two people: Victor Eltsin (note 89) is a person of his own.
    victor = _by_name(persons, "Victor Eltsin")
    assert victor["person_id"] != eltsin["person_id"]
    assert "papers-ch02-n89" in victor["evidence"]


def test_dates_the_note_gives(persons):
    # Note 218 of Chapter 2: "Gustave Noske (1886–1946), War Minister …"
    noske = _by_name(persons, "Gustave Noske")
    assert (noske["birth"], noske["death"]) == ("1886", "1946")
    assert _by_name(persons, "Eleazar Solntsev")["birth"] == ""       # the note gives none


def test_index_persons_join_note_persons_or_stand_alone(built, persons):
    terms = {t["headword"]: t["term_id"] for t in _rows(built, "index_terms")
             if not t["sub_entry"]}
    andre = _by_name(persons, "Edgar André")              # note 49 of Chapter 3 + index
    assert andre["evidence"].split(";") == ["papers-ch03-n49", terms["André, Edgar"]]
    landau = _by_name(persons, "Kurt Landau")             # only the index lists him
    assert landau["evidence"] == terms["Landau, Kurt"]
    assert landau["description"] == "Listed in the book's index as 'Landau, Kurt'."
    # Decided: index headwords printed like names that name no person.
    forms = {f for p in persons.values() for f in p["forms"].split(";")}
    assert "Casas, Viejas" not in forms and "Revolution Betrayed, The" not in forms


def test_curated_entries_keep_their_facts(persons):
    for row in registry.load_persons(SOURCES):
        built = persons[row["person_id"]]
        assert (built["name"], built["description"], built["birth"], built["death"]) == \
            (row["name"], row["description"], row["birth"], row["death"])
    # The index's 'Sodova, NI' is decided to be Sedova (a misprint of 'Sedova, NI').
    assert "Sodova, NI" in persons["sedova"]["forms"].split(";")


def test_the_decisions_file_settles_every_open_question(built, notes):
    decided = registers.load_decisions(SOURCES)
    rows = registers.build_persons(registry.load_persons(SOURCES), notes,
                                   _rows(built, "index_terms"), decided)
    assert registers.open_questions(rows, notes, decided, _rows(built, "index_terms")) == []
    # Without the file, the shared surnames and the pseudonyms are questions.
    questions = registers.open_questions(
        registers.build_persons(registry.load_persons(SOURCES), notes,
                                _rows(built, "index_terms")), notes, registers.Decisions())
    kinds = {(q["kind"], q["subject"]) for q in questions}
    assert ("distinct_surname", "Eltsin") in kinds and ("pseudonym", "A. Tarov") in kinds


@pytest.mark.parametrize("text, expected", [
    ("Werth, *Twilight of France*, p. 110.", None),
    ("Serge to Trotsky, 24 June 1936 (Letter 19).", None),
    ("Richard Greeman, private communication on forthcoming biography of Serge.", None),
    ("This is of course Serge's error for 1936.", None),
    ("Vexhall was the village about 30 miles north of Oslo.", ("Vexhall", "place")),
    ("Gosizdat was the Soviet state publishing agency responsible.", ("Gosizdat", "org")),
    ("Dr. Anton Ciliga was a leading Yugoslav Communist.", ("Anton Ciliga", "person")),
    ("N. is Pierre Naville, a former Surrealist.", ("Pierre Naville", "person")),
])
def test_identify_reads_the_editors_identifications(text, expected):
    found = registers.identify({"note_id": "x-n1", "n": "1", "kind": "editorial", "text": text})
    assert (found.name, found.kind) == expected if expected else found is None


def test_a_decision_without_evidence_is_a_located_error(tmp_path):
    (tmp_path / "_registry").mkdir()
    (tmp_path / "_registry" / "decisions.toml").write_text(
        '[[distinct_surname]]\nsurname = "Eltsin"\n', encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        registers.load_decisions(tmp_path)
    assert "distinct_surname[0]" in str(caught.value) and "evidence" in str(caught.value)


def test_a_role_noun_makes_a_person_even_beside_an_organisation_word():
    # Note 29 of Chapter 1: "Henri Sirolle, a Paris railway union secretary, …"
    found = registers.identify({"note_id": "papers-ch01-n29", "n": "29", "kind": "editorial",
                                "text": "Henri Sirolle, a Paris railway union secretary, was "
                                        "also a French delegate."})
    assert (found.name, found.kind) == ("Henri Sirolle", "person")


def test_readme_says_how_many_authority_ids_are_filled(built, persons):
    readme = built.files["README.md"].decode("utf-8")
    places = _rows(built, "places")
    wikidata = sum(1 for p in persons.values() if p["wikidata"])
    geonames = sum(1 for p in places if p["geonames"])
    assert f"Authority ids: {wikidata} persons have a Wikidata id" in readme
    assert f"{geonames} of {len(places)} places have a GeoNames id" in readme


def test_index_places_carry_the_passage_that_uses_them_as_places(built):
    places = {p["place_id"]: p for p in _rows(built, "places")}
    terms = {t["term_id"]: t for t in _rows(built, "index_terms")}
    barcelona = places["barcelona"]
    term_id, passage = barcelona["evidence"].split(";")
    assert terms[term_id]["headword"] == "Barcelona"
    document_id, offset = passage.split("@")
    source = next(d["source_id"] for d in _rows(built, "documents")
                  if d["document_id"] == document_id)
    text = built.files[f"text/{source}.txt"].decode("utf-8")
    preposition, name = text[int(offset):].split()[:2]
    assert preposition in ("in", "at", "from", "to", "near") and name.startswith("Barcelona")
    # The book gives no country or coordinates for it: none is filled in.
    assert (barcelona["country"], barcelona["latitude"], barcelona["geonames"]) == ("", "", "")
    # A registered place keeps its facts and gains the index's evidence.
    assert places["paris"]["country"] == "FR" and places["paris"]["evidence"]


def test_a_decision_about_a_headword_the_index_lacks_is_an_open_question(built, notes):
    decided = registers.Decisions(index_places=["Atlantis"])
    questions = registers.open_questions([], notes, decided, _rows(built, "index_terms"))
    assert {"kind": "stale_decision", "subject": "Atlantis",
            "evidence": "the index has no such headword"} in questions


def test_a_place_decision_without_a_passage_is_refused(built):
    from sergetrotsky import clean, segment
    from sergetrotsky.sources import discover, find
    sources = discover(SOURCES)
    papers = find(sources, "papers")
    seg = {"papers": segment.segment(papers, clean.clean_one(sources, "papers"))}
    index = _rows(built, "index_terms")
    with pytest.raises(PipelineError) as caught:
        registers.build_places(registry.load_places(SOURCES), index, seg, ["Babeuf"])
    assert "Babeuf" in str(caught.value)


# --- persons a note names after its opening, or several at once (registers.identify_all) ---

@pytest.mark.parametrize("note_id, opening, names", [
    # a bracketed other forename, and another surname after "or"
    ("papers-ch02-n268", "Lilia (Eliana) Ginsberg was", ["Lilia Ginsberg"]),
    ("papers-ch02-n269", "Elsa (Elisabeth) Reiss or Peretsky was", ["Elsa Reiss"]),
    # a full name as the subject of a past-tense verb
    ("papers-ch02-n97", "Walter Dauge had come into", ["Walter Dauge"]),
    ("papers-ch02-n121", "Marceau Pivert inspired", ["Marceau Pivert"]),
    ("papers-ch02-n151", "Maurice Parijanine (Donzel) had lived", ["Maurice Parijanine"]),
    # an apposition in the middle of a note
    ("papers-ch02-n234", "In 1930 Valentin Oldberg, a Russian", ["Valentin Oldberg"]),
    ("papers-ch03-n57", "This refers to Pablo Yague, a Spanish CP member", ["Pablo Yague"]),
    ("papers-ch02-n270", "The party name of Mark Zborowski, who had", ["Mark Zborowski"]),
    # a title before the name
    ("papers-ch02-n149", "The novelist André Gide became", ["André Gide"]),
    # several names, each with its party
    ("papers-ch02-n180", "Jean Longuet of the French SFIO and Georg Lebedour of the German SPD",
     ["Jean Longuet", "Georg Lebedour"]),
    # a list of initialled names
    ("papers-ch05-n35",
     "Serge is here referring to P. Chevalier, J. Gorkin, M. Pivert and V. Serge",
     ["P. Chevalier", "J. Gorkin", "M. Pivert", "V. Serge"]),
])
def test_identify_all_finds_the_persons_a_real_note_names(notes, note_id, opening, names):
    note = next(n for n in notes if n["note_id"] == note_id)
    assert " ".join(note["text"].split()).startswith(opening)
    found = registers.identify_all(note)
    assert [i.name for i in found] == names
    assert all(i.kind == "person" and i.note_id == note_id for i in found)


def test_identify_all_takes_no_title_or_clause_for_a_name(notes):
    # "The article on 'The New Constitution of the USSR' had appeared …" names nobody;
    # "When Serge wrote, the Spanish Civil War …" has no person "When Serge".
    for note_id in ("papers-ch02-n156", "papers-ch02-n216"):
        note = next(n for n in notes if n["note_id"] == note_id)
        assert registers.identify_all(note) == []


def test_every_person_identify_all_finds_is_in_persons_with_the_note_as_evidence(persons, notes):
    for note in notes:
        for ident in registers.identify_all(note):
            if ident.kind != "person":
                continue
            holders = [p for p in persons.values() if ident.note_id in p["evidence"].split(";")]
            assert any(ident.name == p["name"] or ident.name in p["forms"].split(";")
                       for p in holders), (ident.note_id, ident.name)


def test_a_list_joins_its_initials_to_the_person_the_index_spells_out(persons):
    # Note 35 of Chapter 5 prints 'J. Gorkin', the index 'Gorkin, Julian': one person,
    # named as the index spells it, with the note's form and the note as evidence.
    gorkin = _by_name(persons, "Julian Gorkin")
    assert "J. Gorkin" in gorkin["forms"].split(";")
    assert "papers-ch05-n35" in gorkin["evidence"].split(";")
    assert gorkin["description"].startswith("Serge is here referring to P. Chevalier, J. Gorkin")
    # 'V. Serge' in the same list is the correspondent, not a new person
    assert "papers-ch05-n35" in persons["serge"]["evidence"].split(";")


def test_a_mid_note_identification_quotes_its_own_sentence(persons):
    oldberg = _by_name(persons, "Valentin Oldberg")
    assert oldberg["description"].startswith("In 1930 Valentin Oldberg, a Russian of Menshevik")
    assert oldberg["description"].endswith("(note 234 of Chapter 2)")


def test_initials_of_another_forename_are_not_joined_without_a_decision(persons):
    # Note 256 of Chapter 2: 'M.M. (Adolf) Yoffe'; the index: 'Yoffe, Maria' (decided apart).
    assert _by_name(persons, "M.M. Yoffe")["person_id"] != \
        _by_name(persons, "Maria Yoffe")["person_id"]


# --- organisations the index lists (registers.build_organisations) ---------------------

@pytest.fixture(scope="module")
def organisations(built):
    return {r["org_id"]: r for r in _rows(built, "organisations")}


def test_an_index_headword_that_is_a_glossary_abbreviation_joins_it(organisations, built):
    # papers: the index's "POUM" and "CPSU, Democratic Opposition to" are the glossary's
    terms = {t["headword"]: t["term_id"] for t in _rows(built, "index_terms")
             if not t["sub_entry"]}
    assert terms["POUM"] in organisations["poum"]["evidence"].split(";")
    assert terms["CPSU, Democratic Opposition to"] in organisations["cpsu"]["evidence"].split(";")


def test_a_headword_a_note_identifies_as_an_organisation_is_one(organisations, built):
    # Note 99 of Chapter 2: "Gosizdat was the Soviet state publishing agency …"
    gosizdat = organisations["gosizdat"]
    evidence = gosizdat["evidence"].split(";")
    assert evidence[:2] == [next(t["term_id"] for t in _rows(built, "index_terms")
                                 if t["headword"] == "Gosizdat" and not t["sub_entry"]),
                                "papers-ch02-n99"]
    assert gosizdat["description"].startswith("Gosizdat was the Soviet state publishing agency")
    assert gosizdat["abbreviation"] == ""


def test_decided_index_organisations_carry_the_passage_that_names_them(organisations, built):
    texts = {"papers": built.files["text/papers.txt"].decode("utf-8")}
    decided = registers.load_decisions(SOURCES).index_organisations
    new = [h for h, org in decided.items() if not org]
    assert "Fourth International" in new
    for headword in new:
        row = organisations[registers.slug(headword.split(", ")[0])]
        passage = [e for e in row["evidence"].split(";") if "@" in e][0]
        offset = int(passage.split("@")[1])
        assert texts[row["source_id"]][offset:offset + len(row["name"])] == row["name"]
    # a join: the index's "Communist International" is the "Third International"
    third = organisations["third-international"]["evidence"].split(";")
    assert any(t["headword"] == "Communist International" and t["term_id"] in third
               and not t["sub_entry"]
               for t in _rows(built, "index_terms"))


def test_an_index_headword_no_rule_or_decision_names_is_no_organisation(organisations):
    # "Communist Party" (which one?) and "Comintern" (no text says which International it
    # is) are left to a decision: no entry.
    names = {o["name"] for o in organisations.values()}
    assert "Communist Party" not in names and "Comintern" not in names


def test_an_index_organisation_decision_without_evidence_is_a_located_error(tmp_path):
    (tmp_path / "_registry").mkdir()
    (tmp_path / "_registry" / "decisions.toml").write_text(
        '[[index_organisation]]\nindex = "Gestapo"\nevidence = " "\n', encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        registers.load_decisions(tmp_path)
    assert "index_organisation[0]" in str(caught.value)


def test_a_party_name_the_index_files_under_a_surname_is_one_person(persons):
    # Note 270 of Chapter 2 at 'Comrade Etienne': "The party name of Mark Zborowski, …";
    # the index: 'Zborowski, Comrade Etienne' (decisions.toml joins them).
    zborowski = _by_name(persons, "Mark Zborowski")
    assert "Zborowski, Comrade Etienne" in zborowski["forms"].split(";")
    assert "papers-ch02-n270" in zborowski["evidence"].split(";")
    assert not [p for p in persons.values() if p["name"] == "Etienne Zborowski"]


def test_locative_and_first_use_scans_match_a_full_regex_scan(segmented):
    """The scans that try a name's pattern only where ``str.find`` sees the name give the
    matches ``finditer`` gives, on every real source, for the capitalised words printed
    after a preposition (and for names inside words, "the", and one never printed): every
    other one of them in alphabetical order, up to 20 a source (each name costs two scans
    of the whole text by the plain regex)."""
    import re
    for seg in segmented.values():
        names = sorted(set(re.findall(r"\b(?:in|at|from|to|near)\s+(?:the\s+)?([A-Z]\w+)",
                                      seg.text)))[::2][:20]
        for name in names + ["the", "an", "Nowhere-in-this-corpus"]:
            locative = re.compile(registers.LOCATIVE.format(name=re.escape(name)))
            assert (list(registers._named_locatives(lambda p=locative: p, name, seg.text))
                    == [m.span() for m in locative.finditer(seg.text)]), name
            whole = re.compile(rf"(?<![\w'’-]){re.escape(name)}(?![^\W⁰¹²³⁴⁵⁶⁷⁸⁹]|-)")
            assert ([m.span() for m in conventions.literal_matches(whole, name, seg.text)]
                    == [m.span() for m in whole.finditer(seg.text)]), name
