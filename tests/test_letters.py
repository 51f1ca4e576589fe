"""The letters stage on the real book: every letter read from its printed header, the
tricky ones checked by hand against the text, the editor's corrections verified
against the notes they cite; then the organisations glossary; then the errors a
header the parser cannot read must produce."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from sergetrotsky import clean, letters, notes, registry, segment
from sergetrotsky.errors import PipelineError
from sergetrotsky.names import NameIndex
from sergetrotsky.sources import find, load_source

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sources"
CORRESPONDENCE = ["papers-letter-prefatory"] + [f"papers-letter-{n}" for n in range(1, 42)]
DOCUMENT_LETTERS = ["papers-ch01-letter-01", "papers-ch03-letter-01", "papers-ch03-letter-02",
                    "papers-ch03-letter-03", "papers-ch04-letter-01", "papers-ch04-letter-02"]


@pytest.fixture(scope="module")
def papers(sources, segmented):
    return find(sources, "papers"), segmented["papers"]


@pytest.fixture(scope="module")
def papers_notes(papers):
    """The notes stage's reading of papers (the letters stage checks decisions against it)."""
    source, seg = papers
    return notes.extract_notes(source, seg)


@pytest.fixture(scope="module")
def persons():
    return registry.load_persons(SOURCES)


@pytest.fixture(scope="module")
def places():
    return registry.load_places(SOURCES)


@pytest.fixture(scope="module")
def reading(papers, papers_notes, persons, places):
    source, seg = papers
    return letters.read_letters(source, seg, persons, places, papers_notes)


@pytest.fixture(scope="module")
def by_id(reading):
    return {letter.letter_id: letter for letter in reading.letters}


def _notes_ch02(papers_notes):
    """Chapter 2's notes as the notes stage read them: {number: text}."""
    return {n: text for (unit_id, n), text in letters.printed_notes(papers_notes).items()
            if unit_id == "papers-notes-ch02"}


# --- every letter ---------------------------------------------------------------------------

def test_every_letter_unit_is_read_without_problems(papers, reading):
    _, seg = papers
    assert reading.problems == []
    assert [letter.letter_id for letter in reading.letters] == \
        [u.document_id for u in seg.units if u.type == "letter"]
    ids = [letter.letter_id for letter in reading.letters]
    assert [i for i in ids if i in CORRESPONDENCE] == CORRESPONDENCE     # 42, in order
    assert sorted(set(ids) - set(CORRESPONDENCE)) == sorted(DOCUMENT_LETTERS)
    assert len(ids) == 48


def test_numbers_as_printed(by_id):
    assert [by_id[i].number for i in CORRESPONDENCE] == [None] + list(range(1, 42))
    assert all(by_id[i].number is None for i in DOCUMENT_LETTERS)


def test_counts_by_form_language_and_place(reading):
    assert Counter(letter.form for letter in reading.letters) == \
        {"letter": 45, "telegram": 1, "postcard": 1, "open-letter": 1}
    # the headers of the six chapter documents state no language
    assert Counter(letter.language for letter in reading.letters) == {"ru": 31, "fr": 11, "": 6}
    assert Counter(letter.place_cert for letter in reading.letters) == \
        {"printed": 22, "inferred": 20, "": 6}
    assert Counter(letter.date_source for letter in reading.letters) == \
        {"printed": 47, "corrected by note 150": 1}
    assert all(letter.date_cert == "high" for letter in reading.letters)


def test_correspondents_of_the_chapter_documents(by_id):
    got = {i: (by_id[i].sender_id, by_id[i].addressee_id) for i in DOCUMENT_LETTERS}
    assert got == {
        "papers-ch01-letter-01": ("serge", "kneller"),           # "Letter to Comrade Michel"
        "papers-ch03-letter-01": ("serge", "nin"),               # "Letter to Andrès Nin"
        "papers-ch03-letter-02": ("serge", "la-batalla"),        # "Letter to La Batalla"
        "papers-ch03-letter-03": ("serge", "poum-executive-committee"),
        "papers-ch04-letter-01": ("trotsky", "wendelin-thomas"),
        "papers-ch04-letter-02": ("serge", "balabanova"),
    }
    assert by_id["papers-ch03-letter-03"].publication == "in La Batalla"
    assert by_id["papers-ch03-letter-02"].salutation == "Esteemed comrades of La Batalla,"


def test_the_letters_agree_with_the_outline(papers, by_id):
    """The outline records printed dates, places and authors; so does this stage."""
    _, seg = papers
    for unit in (u for u in seg.units if u.type == "letter"):
        letter = by_id[unit.document_id]
        printed = letters.parse_dateline(letter.date_as_written)
        assert printed is not None and unit.date == printed.date, unit.document_id
        assert unit.author_id == letter.sender_id, unit.document_id
        if letter.place_cert == "printed":
            assert unit.place_id == letter.place_id, unit.document_id
        else:
            assert unit.place_id == "", unit.document_id


# --- the tricky ones, by hand against the text ----------------------------------------------

def test_letter_3_the_telegram_dated_at_its_foot(by_id):
    # "Letter 3: Trotsky to Serge (telegram, in French)" / "Kibalchich. Poste Restante
    # Central Post Office Brussels" / "Fraternal greetings" / "Letter follows – Leon" / "25/4/36"
    t = by_id["papers-letter-3"]
    assert (t.sender_id, t.addressee_id, t.form, t.language) == \
        ("trotsky", "serge", "telegram", "fr")
    assert (t.date, t.date_as_written, t.date_position) == ("1936-04-25", "25/4/36", "foot")
    # Brussels is where it was sent TO ("Kibalchich" is Serge), not where from.
    assert (t.place_id, t.place_as_written, t.place_cert) == ("", "", "")
    assert (t.salutation, t.incipit) == ("", "Fraternal greetings")


def test_letter_16_the_postcard_dated_at_its_foot(by_id):
    # "Letter 16: Serge to Konrad Knudsen¹⁸² (postcard–in Russian)" ... "VS" /
    # "June 6, 1936 – Brussels"
    p = by_id["papers-letter-16"]
    assert (p.sender_id, p.addressee_id, p.form, p.language) == \
        ("serge", "knudsen", "postcard", "ru")
    assert (p.date, p.date_as_written, p.date_position) == ("1936-06-06", "June 6, 1936", "foot")
    assert (p.place_id, p.place_as_written, p.place_cert) == ("brussels", "Brussels", "printed")
    assert p.incipit == "Today I received the letter from LD which I was"


def test_letter_12_printed_1934_is_corrected_by_note_150(papers, papers_notes, by_id):
    letter = by_id["papers-letter-12"]
    assert letter.date_as_written == "May 27, 1934"        # "Brussels, May 27, 1934¹⁵⁰"
    assert (letter.date, letter.date_source, letter.date_cert) == \
        ("1936-05-27", "corrected by note 150", "high")
    assert letter.date_notes == (150,)
    note = _notes_ch02(papers_notes)[150]
    assert note == "This is of course Serge's error for 1936."
    assert "1936" in note
    # and the book's own correspondence bears it out: Letter 13 answers
    # "one in French of May 27"
    assert "one in French of May 27" in papers[1].text_of(
        next(u for u in papers[1].units if u.document_id == "papers-letter-13"))


def test_no_other_note_of_chapter_2_corrects_a_printed_date(papers, papers_notes, by_id):
    notes = _notes_ch02(papers_notes)
    assert len(notes) == 278 and sorted(notes) == list(range(1, 279))
    # The notes printed on datelines: only 150 corrects; the others are about the gap
    # between letters.
    on_datelines = {
        letter.letter_id: letter.date_notes for letter in by_id.values() if letter.date_notes
    }
    assert on_datelines == {"papers-letter-12": (150,), "papers-letter-34": (239,),
                            "papers-letter-37": (258,), "papers-letter-39": (263,)}
    assert notes[239].startswith("The long interval between this letter and its predecessor")
    assert notes[258].startswith("In the considerable interval between this letter")
    assert notes[263].startswith("In the year between Trotsky's last letter")
    # The notes that call a date an error all concern dates a letter's BODY gives to
    # another letter ("Your letter of April 26¹²⁵"), not a printed date.
    errors = sorted(n for n, text in notes.items()
                    if re.search(r"\b(?:error|mistake|actually dated|was dated|confusion over "
                                 r"dates)\b", text))
    assert errors == [125, 133, 145, 150, 229]
    assert [
        letter.letter_id for letter in by_id.values() if letter.date_source.startswith("corrected")
    ] == ["papers-letter-12"]


def test_letter_35_prefatory_note_and_open_letter(by_id):
    letter = by_id["papers-letter-35"]
    assert (letter.number, letter.sender_id, letter.addressee_id, letter.language) == \
        (35, "trotsky", "serge", "fr")
    # the header ("Trotsky to Serge (in French)") does not say it; the headnote does
    assert letter.form == "open-letter"
    assert letter.headnote.startswith("Prefatory note.")
    assert "The following 'open letter' from Trotsky to Serge was printed in" in letter.headnote
    # date, place, salutation and incipit are the letter's, not the headnote's
    assert (letter.date, letter.date_as_written) == ("1937-03-05", "March 5, 1937")
    assert (letter.place_id, letter.place_as_written) == ("coyoacan", "Coyoacan")
    assert letter.salutation == "Dear friend,"
    assert letter.incipit == "You know as well as I do what the press"


def test_letter_36_address_in_schaerbeek(by_id, places):
    letter = by_id["papers-letter-36"]
    assert letter.place_as_written == \
        "9 Verbrugge, 38 av. des Hortensias / Schaerbeek / Belgium, Brussels"
    assert (letter.place_id, letter.place_cert, letter.place_position) == \
        ("schaerbeek", "printed", "head")
    part_of = {p["place_id"]: p["part_of"] for p in places}
    assert part_of["schaerbeek"] == part_of["uccle"] == "brussels"


def test_addresses_and_datelines_as_printed(by_id):
    expect = {
        # id: (date_as_written, date, place_as_written, place_id)
        "papers-letter-7": ("May 6, 1936", "1936-05-06",
                            "rue Joseph Bens, 134 / Uccle, Brussels", "uccle"),
        "papers-letter-19": ("June 24, 1936", "1936-06-24", "Brussels", "brussels"),
        "papers-letter-32": ("Sept 6, 1936", "1936-09-06", "Hurum", "hurum"),
        "papers-letter-34": ("January 10, 1937", "1937-01-10", "Uccle, rue Joseph Bens 134",
                             "uccle"),
        "papers-letter-40": ("May 6 1939", "1939-05-06", "Coyoacan, DF", "coyoacan"),
        "papers-ch01-letter-01": ("May 29, 1921", "1921-05-29", "Petrograd", "petrograd"),
        "papers-ch04-letter-02": ("23 October 1941", "1941-10-23", "Mexico", "mexico-city"),
    }
    got = {i: (by_id[i].date_as_written, by_id[i].date, by_id[i].place_as_written,
               by_id[i].place_id) for i in expect}
    assert got == expect


def test_letter_37_to_a_couple_keeps_its_printed_addressee(by_id):
    letter = by_id["papers-letter-37"]
    # heading "Serge to Trotsky"; the salutation names both
    assert letter.addressee_id == "trotsky"
    assert letter.salutation == "Dear Leon Davidovich and Natalia Ivanovna,"
    # the address is printed under the signature
    assert (letter.place_as_written, letter.place_id, letter.place_position) == \
        ("Place Severine Apt. 179 / Pre St. Gervais / Seine", "le-pre-saint-gervais", "foot")


def test_the_extract_to_wendelin_thomas_is_dated_in_its_heading(by_id):
    letter = by_id["papers-ch04-letter-01"]
    assert (letter.extract, letter.date, letter.date_as_written, letter.date_position) == \
        (True, "1937-07-06", "6 July 1937", "heading")
    assert letter.incipit == "Your evaluation of the Kronstadt uprising of 1921 is basically"


def test_header_publication_and_incipits(by_id):
    assert by_id["papers-letter-4"].publication == ("published in part in the Russian-Language "
                                                    "Bulletin of the Opposition [Paris], no. 50, "
                                                    "May 1936")
    # note marks and italics markup are stripped: "Your letter of April 26¹²⁵ gave me"
    assert by_id["papers-letter-6"].incipit == \
        "Your letter of April 26 gave me incredible pleasure. The"
    assert by_id["papers-letter-prefatory"].salutation == "Dear Comrade Lev Lvovich,"
    assert by_id["papers-ch01-letter-01"].salutation == "Dear Comrade Michel,"   # "Michel,²⁸"


def test_inferred_places_carry_reasons_from_the_book(papers, by_id):
    _, seg = papers
    inferred = {
        i: letter.place_id for i, letter in by_id.items() if letter.place_cert == "inferred"
    }
    vexhall = [2, 5, 8, 10, 13, 14, 17, 20, 21, 22, 25, 29, 30]
    assert inferred == {
        **{f"papers-letter-{n}": "brussels" for n in (6, 9, 11, 15, 33)},
        **{f"papers-letter-{n}": "vexhall" for n in vexhall},
        "papers-letter-38": "coyoacan", "papers-ch04-letter-01": "coyoacan"}
    book = " ".join(seg.text.split())
    for letter_id, letter in by_id.items():
        if letter.place_cert != "inferred":
            assert letter.place_reason == ""
            continue
        assert letter.place_as_written == ""
        quotes = re.findall(r"(?:(?<=\s)|^)'(.+?)'(?=[\s,.;)]|$)", letter.place_reason)
        assert quotes, letter_id
        for quote in quotes:    # every quoted phrase is the book's
            assert " ".join(quote.replace(" / ", " ").split()) in book, (letter_id, quote)


# --- persons and places ----------------------------------------------------------------------

def test_every_person_and_place_resolves(reading, persons, places):
    person_ids = {p["person_id"] for p in persons}
    place_ids = {p["place_id"] for p in places}
    for letter in reading.letters:
        assert {letter.sender_id, letter.addressee_id} <= person_ids
        assert letter.place_id == "" or letter.place_id in place_ids
    for place in places:
        assert place["part_of"] == "" or place["part_of"] in place_ids


def test_persons_carry_the_forms_the_texts_use(persons):
    forms = {p["person_id"]: set(p["forms"]) | {p["name"]} for p in persons}
    assert {"LD", "LT", "Lev Davidovich", "Leon Davidovich", "L Trotsky"} <= forms["trotsky"]
    assert {"VS", "VLK", "VL", "V", "Victor Lvovich", "Kibalchich"} <= forms["serge"]
    assert {"N Iv.", "NI", "Natalia Ivanovna"} <= forms["sedova"]
    assert {"Lev Lvovich", "Sedov"} <= forms["sedov"]
    groups = {p["person_id"] for p in persons if p["is_group"]}
    assert {"la-batalla", "poum-executive-committee"} <= groups


def test_names_resolve_through_forms_not_code(persons):
    names = NameIndex(persons)
    assert names.resolve("Lev Davidovich") == ("trotsky", "")
    assert names.resolve("Comrade Michel") == ("kneller", "")
    assert names.resolve("the Executive Committee of the POUM") == \
        ("poum-executive-committee", "")
    pid, why = names.resolve("Nobody Inparticular")
    assert pid is None and "persons.toml" in why


# --- the tables ------------------------------------------------------------------------------

def test_the_published_letters_are_the_letters_read(papers, papers_notes, persons, places, built):
    """No later stage changes what the letters stage read: the built ``letters`` table
    holds, for each of papers' letters in reading order, the sender, addressees, date and
    place the parser read from the text."""
    source, seg = papers
    read = letters.read_all([source], {"papers": seg}, persons, places,
                            {"papers": papers_notes})["papers"]
    table = csv.DictReader(io.StringIO(built.files["data/letters.csv"].decode("utf-8")))
    published = [row for row in table if row["letter_id"].startswith("papers-")]
    facts = ("letter_id", "sender_id", "addressee_ids", "date", "date_as_written",
             "place_id", "place_as_written")
    assert [[row[f] for f in facts] for row in published] == \
        [[letter.letter_id, letter.sender_id, ";".join(letter.addressee_ids), letter.date or "",
          letter.date_as_written, letter.place_id or "", letter.place_as_written]
         for letter in read]
    assert len(read) == 48


# The letters and organisations tables under frictionless, with their keys: with every
# other table of the built dataset, in test_publish.test_datapackage_is_valid_under_frictionless.


# --- decisions and errors --------------------------------------------------------------------

def test_without_letters_toml_the_parser_reports_instead_of_guessing(
    papers, papers_notes, persons, places, tmp_path
):
    source, seg = papers
    bare = dataclasses.replace(source, folder=tmp_path)        # no letters.toml there
    reading = letters.read_letters(bare, seg, persons, places, papers_notes)
    found: dict[str, str] = {}
    for p in reading.problems:
        found[p.letter_id] = found.get(p.letter_id, "") + p.message + "; "
    # ... and the letters that print no closer: why is an editor's decision.
    assert set(found) == {"papers-letter-12", "papers-letter-37", "papers-ch04-letter-02",
                          "papers-ch03-letter-03", "papers-ch04-letter-01"}
    assert "no closing formula and no signature" in found["papers-ch03-letter-03"]
    assert "dated 1934-05-27 ('May 27, 1934'), before papers-letter-11" in found["papers-letter-12"]
    assert "'Place Severine Apt. 179 / Pre St. Gervais / Seine'" in found["papers-letter-37"]
    assert "'Mexico'" in found["papers-ch04-letter-02"]
    assert next(p for p in reading.problems if p.letter_id == "papers-letter-12").line == \
        1 + seg.text.count("\n", 0, seg.text.index("Letter 12: Serge to Trotsky"))


def test_a_correction_the_note_does_not_support_is_an_error(
    papers, papers_notes, persons, places, tmp_path
):
    source, seg = papers
    (tmp_path / "letters.toml").write_text(
        (source.folder / "letters.toml").read_text(encoding="utf-8")
        .replace("This is of course Serge's error for 1936.", "Serge's error for 1935."),
        encoding="utf-8")
    reading = letters.read_letters(dataclasses.replace(source, folder=tmp_path), seg, persons,
                                   places, papers_notes)
    [problem] = reading.problems
    assert problem.letter_id == "papers-letter-12"
    assert "note 150 does not say \"Serge's error for 1935.\"" in problem.message


def test_a_decision_for_a_letter_not_in_the_outline_is_located(
    papers, papers_notes, persons, places, tmp_path
):
    source, seg = papers
    (tmp_path / "letters.toml").write_text(
        '[letter.letter-99]\nform = "postcard"\nform_quote = "x"\n', encoding="utf-8")
    with pytest.raises(PipelineError) as error:
        letters.read_letters(dataclasses.replace(source, folder=tmp_path), seg, persons, places,
                             papers_notes)
    assert error.value.field == "papers-letter-99"
    assert error.value.file.endswith("letters.toml")


BROKEN = """A Book

1 The Chapter

Letter 1 Serge writes to Trotsky

Dear comrade,

Text of the first.

Letter 2: Serge to Nobody Known (in French)

Brussels, April 22, 1936

Dear friend,

Text of the second.

Victor Serge

Letter 3: Serge to Trotsky (in Klingon)

Dear comrade,

Text of the third.

Victor Serge

Letter 4: Trotsky to Serge (telegram, in French)

Fraternal greetings

Leon

5/4/36
"""


def _tiny_source(tmp_path: Path, text: str):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "original.txt").write_text(text, encoding="utf-8")
    (folder / "source.toml").write_text(
        'original = "original.txt"\n[bibliographic]\ntitle = "A Book"\nkind = "book"\n'
        'origin = "ebook"\nlanguage = "en"\nrights = "test fixture"\n'
        # the one heading form this book prints: "Letter 2: Serge to Trotsky (in French)"
        "[letters]\nheading = '^Letter\\s+(?P<number>\\d+):\\s*(?P<sender>.+?)\\s+to\\s+"
        "(?P<addressee>.+?)\\s*\\((?P<qualifiers>[^()]+)\\)$'\n", encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("Letter ")]
    units = ['{ level = 1, type = "chapter", heading = "1 The Chapter" }'] + [
        f'{{ level = 2, type = "letter", id = "letter-{n}", n = {n}, heading = "{h}" }}'
        for n, h in enumerate(headings, start=1)]
    (folder / "segment.toml").write_text("[segment]\nunits = [\n  " + ",\n  ".join(units)
                                         + "\n]\n", encoding="utf-8")
    source = load_source(folder)
    return source, segment.segment(source, clean.clean(source))


def test_headers_the_parser_cannot_read_fail_the_build_naming_each_letter(tmp_path, persons,
                                                                          places):
    source, seg = _tiny_source(tmp_path, BROKEN)
    with pytest.raises(PipelineError) as error:
        letters.read_all([source], {"tiny": seg}, persons, places, {})
    message = str(error.value)
    assert len(error.value.problems) == 4   # every letter's problem, not only the first
    assert error.value.field == "tiny-letter-1"
    assert ("tiny-letter-1 (cleaned text line 5): cannot read the heading "
            "'Letter 1 Serge writes to Trotsky'") in message
    assert ("tiny-letter-2 (cleaned text line 11): addressee: 'Nobody Known' is not a name "
            "or form in sources/_registry/persons.toml") in message
    assert "tiny-letter-3 (cleaned text line 21): cannot read 'in Klingon'" in message
    assert "tiny-letter-4 (cleaned text line 35): cannot read the date '5/4/36'" in message


def test_heading_forms_come_from_the_source_metadata(tmp_path, persons, places):
    """Without a [letters] table a letter's heading is read by no form: the build names
    each letter and says where the forms go. A form without its groups is a coded error."""
    source, seg = _tiny_source(tmp_path, BROKEN)
    toml = source.folder / "source.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text[:text.index("[letters]")], encoding="utf-8")
    with pytest.raises(PipelineError) as error:
        letters.read_all([load_source(source.folder)], {"tiny": seg}, persons, places, {})
    assert len(error.value.problems) == 4
    assert "none of the forms of [letters] in source.toml" in str(error.value)
    toml.write_text(text.replace("(?P<sender>", "(?P<from>"), encoding="utf-8")
    with pytest.raises(PipelineError) as error:
        letters.heading_forms(load_source(source.folder))
    assert (error.value.code, error.value.field) == ("E106", "letters.heading")
    assert "lacks the named groups ['sender']" in error.value.message


# --- the letter anatomy (pipeline/anatomy.py) ----------------------------------------------

def _roles(papers, letter):
    _, seg = papers
    return [(role, " ".join(seg.text[o:seg.text.find("\n\n", o)].split()))
            for o, role in letter.anatomy.parts]


def test_anatomy_of_letter_21_reads_the_closer_before_the_postscript(papers, by_id):
    letter = by_id["papers-letter-21"]
    roles = _roles(papers, letter)
    assert [r for r in roles if r[0] != "p"][-6:] == [
        ("closing", "Friendliest greetings."), ("closing", "Yours,"), ("signed", "LT"),
        ("postscript", roles[-3][1]), ("ps-closing", "Yours,"), ("ps-signed", "LT")]
    assert roles[-3][1].startswith("PS. An American comrade")
    [postscript] = letter.anatomy.postscripts()
    assert [role for _, role in postscript] == ["postscript", "ps-closing", "ps-signed"]


def test_anatomy_splits_two_postscripts_of_letter_30(by_id):
    assert len(by_id["papers-letter-30"].anatomy.postscripts()) == 2


def test_anatomy_every_letter_has_a_closer_unless_letters_toml_says_why(reading):
    without = {letter.letter_id: letter.anatomy.no_closer for letter in reading.letters
               if not letter.anatomy.has_closer}
    assert set(without) == {"papers-ch03-letter-03", "papers-ch04-letter-01"}
    assert all(without.values())


def test_an_attestation_the_letter_does_not_print_is_an_error(papers, papers_notes, persons, places,
                                                               tmp_path):
    source, seg = papers
    (tmp_path / "letters.toml").write_text(
        (source.folder / "letters.toml").read_text(encoding="utf-8")
        .replace('attestation = "Attested in handwriting:"',
                 'attestation = "Attested by a notary:"'), encoding="utf-8")
    reading = letters.read_letters(dataclasses.replace(source, folder=tmp_path), seg, persons,
                                   places, papers_notes)
    [problem] = reading.problems
    assert problem.letter_id == "papers-letter-32"
    assert "attestation: no line of the letter's foot reads 'Attested by a notary:'" \
        in problem.message


def test_postscript_marks():
    from sergetrotsky.anatomy import POSTSCRIPT
    for text in ("PS. We", "PS – Soon", "PSs. Do", "PPS. Wouldn't", "P.S. x", "PS Have"):
        assert POSTSCRIPT.match(text), text
    for text in ("Psst", "PSYCHE", "Post Office"):
        assert not POSTSCRIPT.match(text), text


def test_two_people_saluted_are_two_addressees(by_id, reading):
    assert by_id["papers-letter-37"].salutation == "Dear Leon Davidovich and Natalia Ivanovna,"
    assert by_id["papers-letter-37"].addressee_ids == ("trotsky", "sedova")
    assert all(letter.addressee_ids == (letter.addressee_id,) for letter in reading.letters
               if letter.letter_id != "papers-letter-37")


def test_place_as_written_follows_one_rule(reading):
    """Printed lines joined by ' / ', without the punctuation that ends a printed line."""
    assert letters.place_lines(["Brussels,"]) == "Brussels"
    assert letters.place_lines(["Mexico."]) == "Mexico"
    assert letters.place_lines(["Pre St.", "Gervais,"]) == "Pre St. / Gervais"
    for letter in reading.letters:
        for line in filter(None, letter.place_as_written.split(" / ")):
            assert not line.endswith(",") and not (
                line.endswith(".") and len(line.split()[-1]) > 4), letter.letter_id


def test_documents_and_letters_agree_on_each_letters_date_and_place(built):
    import csv
    import io
    rows = {t: list(csv.DictReader(io.StringIO(built.files[f"data/{t}.csv"].decode("utf-8"))))
            for t in ("documents", "letters")}
    documents = {r["document_id"]: r for r in rows["documents"]}
    for letter in rows["letters"]:
        document = documents[letter["letter_id"]]
        assert (document["date"], document["place_id"]) == \
            (letter["date"], letter["place_id"]), letter["letter_id"]
    # inferred places too (Letter 6, Brussels), and the corrected date of Letter 12
    assert documents["papers-letter-6"]["place_id"] == "brussels"
    assert documents["papers-letter-12"]["date"] == "1936-05-27"


def test_every_form_the_texts_use_is_in_the_registry(persons):
    forms = {p["person_id"]: set(p.get("forms", [])) for p in persons}
    assert all(forms.values())                             # no person without a form
    assert "Mark Hoskisson" in forms["mark-hoskisson"]     # "Mark Hoskisson argues that..."
    assert "N" in forms["sedova"]          # Letter 32: "from N and myself"
    assert "Leon" in forms["trotsky"]      # Letter 3: "Letter follows – Leon"


def test_every_name_a_salutation_prints_is_a_form_of_an_addressee(reading, persons):
    names = NameIndex(persons)
    for letter in reading.letters:
        found = letters.saluted(letter.salutation, names)
        assert None not in found, (letter.letter_id, letter.salutation)
        assert set(found) <= set(letter.addressee_ids), letter.letter_id
    assert letters.saluted("Dear comrade,", names) == []
    assert letters.saluted("Dear friend V. Serge,", names) == ["serge"]
