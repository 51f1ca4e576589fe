"""Back matter tables of the papers: chronology, bibliography, index.

Completeness is checked twice: against counts computed here from the unit's text by
a simpler, independent reading (lines, tokens), and against numbers counted by hand
in the printed book. Spot checks give exact values."""

from __future__ import annotations

import dataclasses
import re

import pytest
from sergetrotsky import backmatter, mentions, package, registry, segment
from sergetrotsky.backmatter import IndexTerm, parse_chronology_line, parse_index_entry
from sergetrotsky.errors import PipelineError
from sergetrotsky.names import NameIndex

from .conftest import SOURCES, valid_mini_package

# Counted by hand in the printed back matter.
HAND_CHRONOLOGY_LINES = 18
HAND_BIBLIOGRAPHY = {
    "Primary Sources / Archives": 5,
    "Primary Sources / Theses": 3,
    "Primary Sources / Works by Serge": 13,
    "Primary Sources / Works by Trotsky": 13,
    "Primary Sources / Journals, newspapers, with contributions by Serge or Trotsky or "
    "referred to in the text and notes": 36,
    "Secondary Sources": 60,
}
# Counted on the index unit's text (647 entries); the number of sub-entries (533) was
# checked by reading the rows ("7703" under Kronstadt and "1917" under revolution
# included), not counted by hand. The references are counted from the text in the test.
INDEX_ENTRIES, INDEX_ROWS = 647, 1180


@pytest.fixture(scope="module")
def papers(segmented):
    return segmented["papers"]


@pytest.fixture(scope="module")
def persons():
    return registry.load_persons(SOURCES)


@pytest.fixture(scope="module")
def mentioned(papers, persons):
    """The mentions of the papers' registry persons (the hand-made registry only)."""
    return mentions.find_mentions(papers, NameIndex(persons))[0]


@pytest.fixture(scope="module")
def chronology(papers, mentioned):
    return backmatter.chronology_rows(papers, {"papers": mentioned})


@pytest.fixture(scope="module")
def bibliography(papers, sources):
    return backmatter.bibliography_rows(papers, backmatter.bibliography_inferences(sources))


@pytest.fixture(scope="module")
def references(sources):
    return backmatter.index_references(sources)


@pytest.fixture(scope="module")
def index(papers, references):
    return backmatter.index_rows(papers, references)


def _unit(seg, unit_type):
    (unit,) = [u for u in seg.units if u.type == unit_type]
    return unit


def _lines(text):
    return [ln.strip() for ln in text.split("\n") if ln.strip()]


# --- chronology ------------------------------------------------------------------------

def test_chronology_one_row_per_printed_line(papers, chronology):
    unit = _unit(papers, "chronology")
    printed = _lines(papers.text_of(unit))[1:]          # the heading is not an event
    assert len(chronology) == len(printed) == HAND_CHRONOLOGY_LINES
    assert [r["n"] for r in chronology] == list(range(1, len(printed) + 1))
    assert len({r["event_id"] for r in chronology}) == len(chronology)
    for row, line in zip(chronology, printed, strict=True):
        assert line.endswith(row["text"]) and row["text"]
        assert row["document_id"] == unit.document_id and row["source_id"] == "papers"
        assert row["date"] and row["precision"]      # every line of this chronology is dated


def test_chronology_spot_checks(chronology):
    rows = {r["date_as_written"]: r for r in chronology}
    birth = chronology[0]
    assert birth == {
        "event_id": "papers-chronology-001", "source_id": "papers",
        "document_id": "papers-chronology", "n": 1, "date": "1890-12-30", "date_end": "",
        "precision": "day", "date_as_written": "1890 (30 December)",
        "text": "Serge's birth (30 December). His real name is Victor Lvovich Kibalchich.",
        "persons": ["serge"],
    }
    july = rows["July"]
    assert (july["date"], july["precision"], july["text"], july["persons"]) == \
        ("1936-07", "month", "Spanish Civil War breaks out.", [])
    assert chronology[chronology.index(july) - 2]["date_as_written"] == "February"
    assert rows["December"]["date"] == "1936-12" and rows["December"]["persons"] == ["trotsky"]
    assert (rows["1920–22"]["date"], rows["1920–22"]["date_end"],
            rows["1920–22"]["precision"]) == ("1920", "1922", "year")
    assert rows["1928–38"]["date_end"] == "1938"
    assert rows["1917"]["persons"] == ["trotsky", "serge"]
    # "Trotsky's death (20 August)" is the last of several events of 1940: the line keeps
    # its year; a day in the first sentence dates the line ("Serge's death (17 November).")
    assert (rows["1940"]["date"], rows["1940"]["precision"]) == ("1940", "year")
    assert rows["1947 (17 November)"]["date"] == "1947-11-17"


def test_chronology_persons_are_the_persons_mentioned_in_each_line(papers):
    people = [
        {"person_id": "serge", "name": "Victor Serge", "forms": ["Serge"]},
        {"person_id": "zinoviev", "name": "Grigori Zinoviev", "forms": ["Zinoviev"]},
        {"person_id": "a", "name": "A", "forms": ["Trotsky"]},
        {"person_id": "b", "name": "B", "forms": ["Trotsky"]},   # ambiguous: never resolved
    ]
    found = mentions.find_mentions(papers, NameIndex(people))[0]
    rows = {r["date_as_written"]: r for r in
            backmatter.chronology_rows(papers, {"papers": found})}
    assert rows["1919"]["persons"] == ["serge", "zinoviev"]
    assert rows["1917"]["persons"] == ["serge"]
    assert rows["December"]["persons"] == []
    # "He" is not resolved, "Vlady" is not in this registry
    assert rows["1933"]["persons"] == ["serge"]
    # without the mentions stage's result, no row names anyone
    assert all(r["persons"] == [] for r in backmatter.chronology_rows(papers))


def test_chronology_line_parsing():
    parsed, year = parse_chronology_line("1998–02 A range across centuries.", None)
    assert (parsed.date, parsed.date_end, year) == ("1998", "2002", None)
    parsed, _ = parse_chronology_line("March: after a range, the year is not printed.", year)
    assert (parsed.date, parsed.precision, parsed.as_written) == ("", "", "March")
    parsed, year = parse_chronology_line("1936", None)
    assert (parsed.date, parsed.text, year) == ("1936", "", 1936)
    parsed, _ = parse_chronology_line("July 19: rising in Barcelona.", year)
    assert (parsed.date, parsed.precision) == ("1936-07-19", "day")
    parsed, _ = parse_chronology_line("An undated remark.", year)
    assert (parsed.date, parsed.text) == ("", "An undated remark.")
    parsed, _ = parse_chronology_line("1900 Event (31 February).", None)
    assert (parsed.date, parsed.precision) == ("1900", "year")


# --- bibliography ----------------------------------------------------------------------

def _by_section(rows):
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["section"]] = counts.get(r["section"], 0) + 1
    return counts


def test_bibliography_one_row_per_printed_entry(papers, bibliography):
    assert _by_section(bibliography) == HAND_BIBLIOGRAPHY
    # Independent count per section unit: its printed lines, less the heading, the
    # head-notes and an imprint left alone on a line by a page break, plus an entry run
    # into the one before it ("…Press). Broue, P. (1968)…").
    top = _unit(papers, "bibliography")
    by_unit: dict[str, int] = {}
    for r in bibliography:
        by_unit[r["document_id"]] = by_unit.get(r["document_id"], 0) + 1
    sections = [u for u in papers.units if u.parent_id == top.document_id or
                u.parent_id in {c.document_id for c in papers.children(top)}]
    assert len(sections) == 7
    for unit in sections:
        lines = _lines(papers.own_text(unit))[1:]
        entries = [ln for ln in lines if not ln.startswith("Note:")
                   and not re.match(r"\((?!\d{4}\))", ln)]
        run_in = sum(len(re.findall(r"\)\. [A-Z]\w+, [A-Z]\. \(\d{4}\)", ln)) for ln in entries)
        assert by_unit.get(unit.document_id, 0) == len(entries) + run_in, unit.document_id
    # nothing printed is lost: every line of the sections is in some entry's text
    texts = " ".join(r["text"] for r in bibliography)
    for unit in sections:
        for line in _lines(papers.own_text(unit))[1:]:
            if not line.startswith("Note:"):
                assert line.removeprefix("- ") in texts


def test_bibliography_spot_checks(bibliography):
    rows = {r["entry_id"]: r for r in bibliography}
    assert rows["papers-bibliography-serge-01"] == {
        "entry_id": "papers-bibliography-serge-01", "source_id": "papers",
        "document_id": "papers-bibliography-serge", "section": "Primary Sources / Works by Serge",
        "n": 1, "kind": "book", "authors": "", "year": "1937", "title": "Destiny of a Revolution",
        "place": "London", "publisher": "National Book Association",   # the first publisher
        "text": "(1937) *Destiny of a Revolution*, transl. M. Shachtman (London: National Book "
                "Association, Hutchinson).", "inferred": [], "inference_basis": "",
    }
    memoirs = rows["papers-bibliography-serge-05"]
    assert (memoirs["title"], memoirs["place"], memoirs["publisher"]) == \
        ("Memoirs of a Revolutionary", "", "Oxford University Press")
    carnets = rows["papers-bibliography-serge-04"]     # first imprint only
    assert (carnets["place"], carnets["publisher"]) == ("Paris", "Juillard")

    def pick(title):
        (row,) = [r for r in bibliography if r["title"] == title]
        return row

    # an imprint broken onto its own paragraph by a page break is joined back
    supplement = pick("Writings of Leon Trotsky: Supplement (1934–1940)")
    assert supplement["text"].endswith("(1934–1940) (New York: Pathfinder).")
    assert (supplement["kind"], supplement["place"]) == ("book", "New York")
    # two entries run into one paragraph are two rows
    brenan, broue = pick("The Spanish Labyrinth"), pick(
        "L'Action clandestin de Trotsky en Dauphine (1934–35)")
    assert brenan["text"] == \
        "Brenan, G. (1990) *The Spanish Labyrinth* (Cambridge University Press)."
    assert (broue["authors"], broue["year"], broue["kind"], broue["place"]) == \
        ("Broue, P.", "1968", "article", "Lyons")
    assert broue["n"] == brenan["n"] + 1
    # ditto rule
    cockpit = pick("The Spanish Cockpit")
    assert cockpit["authors"] == "F. Borkenau" and cockpit["text"].startswith("—— (1986)")
    assert pick("The Prophet Outcast – Trotsky 1929–40")["authors"] == "Deutscher, I."
    # list markers of the ebook are dropped; an entry printing no author is attributed
    # only by the editors' inference, marked as such with its reason
    state = pick("State and Revolution")
    assert state["text"].startswith("(1964) *State and Revolution*")
    assert (state["authors"], state["kind"], state["publisher"]) == \
        ("Lenin, I.V.", "chapter", "Progress Publishers")
    assert state["inferred"] == ["authors"]
    assert state["inference_basis"].startswith("authors: ") and \
        "ditto rule" in state["inference_basis"]
    assert sum(1 for r in bibliography if r["inferred"]) == 1
    assert bibliography[bibliography.index(state) - 1]["authors"] == "Lenin, I.V."
    # a piece "first publ. in … in *Journal*" is an article, though a translation's
    # imprint follows
    sedov = rows["papers-bibliography-secondary-50"]
    assert sedov["text"].startswith("Sedov, L.L. (1936) 'Livre rouge sur le procès de Moscou', "
                                    "first publ. in Russian in *Bulletin of the Opposition*")
    assert (sedov["kind"], sedov["place"], sedov["publisher"]) == ("article", "", "")
    # the imprint of the translation whose title the entry gives
    souvarine = rows["papers-bibliography-secondary-55"]
    assert "*Stalin: A Critical Study of Bolshevism* (transl. [1939] London: Secker and " \
           "Warburg)" in souvarine["text"]
    assert (souvarine["title"], souvarine["place"], souvarine["publisher"]) == \
        ("Stalin: A Critical Study of Bolshevism", "London", "Secker and Warburg")
    assert pick("La Lutte contre le Stalinisme")["text"].startswith("Dreyfus, M. (1977)")
    # a translation's imprint is not the original's
    ciliga = pick("Au pays du grand mensonge")
    assert (ciliga["year"], ciliga["place"], ciliga["publisher"]) == ("1938", "", "")
    reed = pick("Trotsky Papers at the Hoover Institution: One Chapter of an Archival "
                "Mystery Story")
    assert (reed["authors"], reed["year"], reed["kind"]) == \
        ("Reed, D. and Jakobson, M.", "1987", "article")
    assert pick("Between the Russian Revolutions")["kind"] == "chapter"
    assert pick("'Left-Wing' Communism – an Infantile Disorder")["authors"] == "Lenin, I.V."
    rosmer = pick("Le Mouvement ouvrier pendant la Première Guerre mondiale")
    assert (rosmer["year"], rosmer["place"]) == ("1936", "Paris")
    thesis = rows["papers-bibliography-theses-03"]
    assert (thesis["kind"], thesis["authors"], thesis["year"], thesis["publisher"]) == \
        ("thesis", "Weissman, S.C.", "1991", "University of Glasgow")
    assert thesis["title"].startswith("Victor Serge: Political, Social & Literary Critic")
    assert rows["papers-bibliography-archives-04"]["title"] == "Trotsky Archive"
    assert rows["papers-bibliography-archives-04"]["place"] == ""
    assert rows["papers-bibliography-periodicals-05"]["title"] == \
        "Bulletin of the Opposition (Byulleten' Oppozitsii)"


def test_bibliography_fields_never_invented(bibliography):
    for r in bibliography:
        assert "*" not in r["title"] and "*" not in r["authors"]
        if r["year"]:
            assert r["year"] in r["text"]
        for name in ("authors", "title", "place", "publisher"):
            if name == "authors" and r["text"].startswith("——") or name in r["inferred"]:
                continue
            assert r[name] in r["text"].replace("*", "") or r[name] in r["text"], (name, r)
    kinds = {}
    for r in bibliography:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    assert kinds == {"archive": 5, "thesis": 3, "periodical": 36, "book": 78, "chapter": 3,
                     "article": 5}
    # an imprint keeps its first publisher only
    assert not any("," in r["publisher"] for r in bibliography if r["kind"] != "thesis")


def test_bibliography_inference_must_name_one_empty_field(papers, sources):
    """An inference that names no entry, or a field the entry prints, is a located error."""
    (papers_source,) = [s for s in sources if s.source_id == "papers"]
    good = backmatter.bibliography_inferences(sources)["papers"][0]
    for entry, field, message in (("(1999) *Nowhere*", "authors", "matches 0"),
                                  ("Lenin, I.V. (1920)", "authors", "prints its authors")):
        bad = dataclasses.replace(good, entry=entry, field=field)
        with pytest.raises(PipelineError) as error:
            backmatter.bibliography_rows(papers, {"papers": [bad]})
        assert message in error.value.message and error.value.file == good.where
    broken = dataclasses.replace(papers_source, extra={
        "bibliography": {"inferred": [{"entry": "(1964)", "author": "Lenin", "basis": "x"}]}})
    with pytest.raises(PipelineError) as error:
        backmatter.bibliography_inferences([broken])
    assert error.value.field == "bibliography.inferred[0]" and "author" in error.value.message


# --- index -----------------------------------------------------------------------------

def test_index_one_row_per_headword_and_sub_entry(papers, index):
    unit = _unit(papers, "index")
    text = papers.text_of(unit)
    # entries are blank-line separated; one of them is wrapped ("…ref18;\nNorwegian…")
    entries = [p for p in text.split("\n\n") if p.strip()][1:]
    assert len(entries) == INDEX_ENTRIES
    assert len([r for r in index if r["sub_entry"] == ""]) == INDEX_ENTRIES
    printed_refs = len(re.findall(r"\bref\d+\b", text))
    assert printed_refs > 2000
    assert sum(r["references"] for r in index) == printed_refs
    assert len(index) == INDEX_ROWS
    assert len({r["term_id"] for r in index}) == len(index)
    heads = [r for r in index if r["sub_entry"] == ""]
    assert [r["entry_n"] for r in heads] == list(range(1, INDEX_ENTRIES + 1))
    for entry, head in zip(entries, heads, strict=True):
        assert entry.startswith(head["headword"]) and head["headword"]
    assert not any(r["see"] for r in index)       # this index prints no cross-references


def test_index_spot_checks(index):
    def entry(headword):
        rows = [r for r in index if r["headword"] == headword]
        return [(r["sub_entry"], r["references"]) for r in rows]

    assert entry("Zinoviev") == [("", 5), ("Chief of Petrograd Soviet", 1),
                                 ("liquidation of", 1), ("President of Petrograd Soviet", 1)]
    (main,) = [r for r in index if r["headword"] == "Zinoviev" and not r["sub_entry"]]
    assert main["term_id"] == "papers-index-0645" and main["see"] == ""
    assert entry("Africa") == [("", 1)]
    # a colon opens the first sub-entry; the headword itself then has no references
    assert entry("Belgian") == [("", 0), ("comrades", 1), ("Stalinists", 1)]
    assert entry("Belgian, organisers of Fourth International") == [("", 1)]
    # sub-entries separated by a comma or a colon by a printer's slip
    assert entry("Bolshevik–Leninists")[5:7] == [("in France", 1), ("in Spain", 1)]
    assert entry("Trotskyites") == [("", 1), ("sent to Turukhansk", 1), ("deportees Tara area", 1)]
    # a wrapped line inside an entry continues it
    assert entry("Stalinists")[-2:] == [("Norwegian", 1), ("Spanish preparation of purge", 1)]
    assert ("'Ideas and facts; Kronstadt'", 1) in entry("Serge, Victor")
    assert entry("Serge, Victor")[0] == ("", 30)


def test_index_labels_made_of_digits_are_sub_entries(papers, index):
    """"Kronstadt … rebellion, ref11; 7703, ref12; uprising in, ref13": the label '7703'
    is a printed sub-entry with its own reference, as is '1917' under 'revolution'."""
    text = papers.text_of(_unit(papers, "index"))
    assert "rebellion, ref11; 7703, ref12; uprising in, ref13" in text
    assert "Balkan, ref3; 1917, ref4; Socialist, ref5" in text

    def entry(headword):
        return [(r["sub_entry"], r["references"]) for r in index if r["headword"] == headword]

    assert entry("Kronstadt")[-3:] == [("rebellion", 1), ("7703", 1), ("uprising in", 1)]
    assert entry("revolution") == [("", 2), ("Balkan", 1), ("1917", 1), ("Socialist", 1),
                                   ("October", 1)]


def test_index_rows_hold_every_printed_label(papers, index, references):
    """Per entry, the headword, the labels and the cross-references of its rows, taken
    out of the printed text with its references, leave only separators; per entry, the
    rows count the references printed."""
    ref = references["papers"]
    entries = [p for p in papers.text_of(_unit(papers, "index")).split("\n\n") if p.strip()][1:]
    for n, printed in enumerate(entries, start=1):
        rows = [r for r in index if r["entry_n"] == n]
        terms = [IndexTerm(r["sub_entry"], r["references"], r["see"]) for r in rows]
        assert backmatter.unaccounted_index_text(printed, rows[0]["headword"], terms, ref) == ""
        assert sum(t.references for t in terms) == len(ref.findall(printed))
    # the check fails on the old parser's reading, which skipped the label '7703'
    kronstadt = next(p for p in entries if p.startswith("Kronstadt, ref1"))
    head, terms = parse_index_entry(kronstadt, ref)
    lost = [t for t in terms if t.sub_entry != "7703"]
    lost[-2].references += 1
    assert backmatter.unaccounted_index_text(kronstadt, head, lost, ref) == "7703"


def test_index_entries_ending_in_a_separator_are_flagged(papers, index):
    """An entry printed with a dangling ',' or ';' (a continuation lost in the ebook) is
    flagged on all its rows; its rows hold only what is printed."""
    entries = [p.strip() for p in papers.text_of(_unit(papers, "index")).split("\n\n")
               if p.strip()][1:]
    open_ends = {n for n, p in enumerate(entries, start=1) if p[-1] in ",;"}
    assert {r["entry_n"] for r in index if r["ends_in_separator"]} == open_ends
    flagged = {r["headword"] for r in index if r["ends_in_separator"]}
    assert {"Bolshevism", "FAI", "Federation de l'Enseignement", "Russia",
            "Spanish revolution", "Syndicalists"} <= flagged
    assert "Kronstadt" not in flagged
    fai = [r for r in index if r["headword"] == "FAI"]
    assert [(r["sub_entry"], r["references"]) for r in fai] == [("", 3)]


def test_index_needs_its_reference_pattern(papers, references):
    """Without the source's [index] reference, or with a pattern that does not count the
    printed references, the index is a located error, not a wrong table."""
    with pytest.raises(PipelineError) as missing:
        backmatter.index_rows(papers, {})
    assert missing.value.field == "index.reference" and "papers" in missing.value.file


def test_build_check_catches_a_dropped_label_or_reference(papers, references, monkeypatch):
    """The old reading of "rebellion, ref11; 7703, ref12" (the digits-only label skipped,
    its reference added to 'rebellion') and a reference lost are both located errors."""
    parse = backmatter.parse_index_entry

    def skipping_digits(entry, reference):
        head, terms = parse(entry, reference)
        kept = []
        for term in terms:
            if term.sub_entry.isdigit():
                kept[-1].references += term.references
            else:
                kept.append(term)
        return head, kept

    monkeypatch.setattr(backmatter, "parse_index_entry", skipping_digits)
    with pytest.raises(PipelineError) as dropped:
        backmatter.index_rows(papers, references)
    assert "'7703' is in no row" in dropped.value.message and "Kronstadt" in dropped.value.message

    def losing_one(entry, reference):
        head, terms = parse(entry, reference)
        if head == "Zinoviev":
            terms[0].references -= 1
        return head, terms

    monkeypatch.setattr(backmatter, "parse_index_entry", losing_one)
    with pytest.raises(PipelineError) as lost:
        backmatter.index_rows(papers, references)
    assert "references" in lost.value.message and lost.value.field == "index.reference"


def test_index_entry_parsing_with_cross_references():
    ref = re.compile(r"ref\d+")

    assert parse_index_entry("Stalinism, see Stalin", ref) == \
        ("Stalinism", [IndexTerm("", 0, "see Stalin")])
    head, terms = parse_index_entry("Kronstadt, ref1, ref2; rising, ref3, see also Petrograd; "
                                    "sailors, ref4", ref)
    assert head == "Kronstadt"
    assert terms == [IndexTerm("", 2), IndexTerm("rising", 1, "see also Petrograd"),
                     IndexTerm("sailors", 1)]
    assert parse_index_entry("Kronstadt, ref1; sailors, ref2; see also Petrograd", ref) == \
        ("Kronstadt", [IndexTerm("", 1, "see also Petrograd"), IndexTerm("sailors", 1)])
    assert parse_index_entry("Moscow, ref1; trials, see Moscow trials", ref) == \
        ("Moscow", [IndexTerm("", 1), IndexTerm("trials", 0, "see Moscow trials")])
    assert parse_index_entry("Gide, André, ref1; *see also* Retour", ref) == \
        ("Gide, André", [IndexTerm("", 1, "see also Retour")])
    assert parse_index_entry("'Fiction: Fact', ref1", ref)[0] == "'Fiction: Fact'"


# --- glossary of organisations -----------------------------------------------------------

def test_glossary_names_english_names_and_descriptions_each_in_their_field(papers, sources):
    """The rule of schema/tables/organisations.json on the printed entries: GPU and OVRA
    print a description and no name; PCE and RP print their English name after the name."""
    rows = {r["abbreviation"]: r for r in backmatter.organisation_rows({"papers": papers},
                                                                        sources)}
    glossary = papers.own_text(_unit(papers, "glossary"))
    printed = {p.split(" ", 1)[0]: p.split(" ", 1)[1] for p in glossary.split("\n\n")[1:]
               if re.match(r"[A-Z]{2,}\s", p)}
    assert printed["GPU"] == "The Soviet security police, absorbed into the NKVD in 1939."
    assert (rows["GPU"]["name"], rows["GPU"]["name_english"], rows["GPU"]["description"]) == \
        ("", "", printed["GPU"])
    assert (rows["OVRA"]["name"], rows["OVRA"]["description"]) == ("", "Italian Secret Service.")
    assert printed["PCE"] == "Partido Comunista de España. The Communist Party of Spain."
    assert (rows["PCE"]["name"], rows["PCE"]["name_english"], rows["PCE"]["description"]) == \
        ("Partido Comunista de España", "The Communist Party of Spain", "")
    assert printed["RP"].endswith(
        "‘The Proletarian Revolution’, revolutionary-syndicalist newspaper founded in 1925.")
    assert (rows["RP"]["name"], rows["RP"]["name_english"], rows["RP"]["description"]) == \
        ("La Révolution Prolétarienne", "The Proletarian Revolution",
         "revolutionary-syndicalist newspaper founded in 1925.")
    # the other entries are as the parser reads them; nothing printed is lost
    assert rows["POUM"]["name_english"] == "Workers Party of Marxist Unity"
    folded = " ".join(glossary.split())
    for row in rows.values():
        for value in (row["name"], row["name_english"], row["description"]):
            assert value in folded
    assert sum(1 for r in rows.values() if not r["name"]) == 2


def test_glossary_readings_must_fit_the_entry(papers, sources):
    (source,) = [s for s in sources if s.source_id == "papers"]
    for table, message in (({"describes": ["XYZ"]}, "not an entry"),
                           ({"describes": ["POUM"]}, "translation in brackets"),
                           ({"english_name_follows": ["CPSU"]}, "no sentence after")):
        broken = dataclasses.replace(source, extra={**source.extra, "glossary": table})
        with pytest.raises(PipelineError) as error:
            backmatter.organisation_rows({"papers": papers}, [broken])
        assert message in error.value.message and error.value.field.startswith("glossary.")


# --- schemas, ids, independence from ids ------------------------------------------------

@pytest.mark.parametrize("name, rows_of", [("chronology", "chronology"),
                                           ("bibliography", "bibliography"),
                                           ("index_terms", "index")])
def test_rows_match_their_schema(name, rows_of, request):
    rows = request.getfixturevalue(rows_of)
    schema = package.table_schema(name)
    names = [f["name"] for f in schema["fields"]]
    assert all(list(r) == names for r in rows)
    for f in schema["fields"]:
        c = f.get("constraints", {})
        values = [r[f["name"]] for r in rows]
        if c.get("required"):
            assert all(v not in ("", None) for v in values), f["name"]
        if "enum" in c:
            assert {v for v in values if v} <= set(c["enum"]), f["name"]
        if "pattern" in c:
            assert all(re.fullmatch(c["pattern"], v) for v in values if v), f["name"]
        if c.get("unique"):
            assert len(set(values)) == len(values)
    assert schema["primaryKey"] == [names[0]]
    assert {fk["reference"]["resource"] for fk in schema["foreignKeys"]} == {"sources", "documents"}


def test_tables_validate_under_frictionless(tmp_path, sources, cleaned, segmented, persons,
                                            chronology, bibliography, index):
    """The three tables, with the tables they point to, as a valid data package."""
    tables = [
        package.Table("sources", package.source_rows(sources, cleaned), "Sources"),
        package.Table("documents", [row for source_id in sorted(segmented) for row in
                                    package.document_rows(segmented[source_id], {})], "Units"),
        package.Table("persons", persons, "Persons"),
        package.Table("places", registry.load_places(SOURCES), "Places"),
        package.Table("chronology", chronology, "Chronology"),
        package.Table("bibliography", bibliography, "Bibliography"),
        package.Table("index_terms", index, "Index"),
    ]
    data = valid_mini_package(tmp_path, tables)
    chronology_csv = data["chronology"].decode("utf-8")
    assert "papers-chronology-002,papers,papers-chronology,2,1917,,year,1917," in chronology_csv
    assert chronology_csv.splitlines()[2].endswith(",trotsky;serge")


def test_units_are_found_by_type_not_by_id(papers, mentioned, chronology, bibliography, index,
                                          references):
    """The same back matter under other ids (another book) gives the same rows."""
    def rename(value):
        return value.replace("papers", "other").replace("bibliography-", "bib-x-")
    units = [dataclasses.replace(u, document_id=rename(u.document_id),
                                 parent_id=rename(u.parent_id), source_id="other")
             for u in papers.units]
    other = segment.SegmentedSource("other", papers.text, units)
    assert backmatter.chronology_rows(other, {"other": mentioned}) == \
        [{**row, "event_id": rename(row["event_id"]), "document_id": rename(row["document_id"]),
          "source_id": "other"} for row in chronology]
    rows = backmatter.bibliography_rows(other)
    assert _by_section(rows) == HAND_BIBLIOGRAPHY
    assert rows[0]["entry_id"] == "other-bib-x-archives-01" and rows[0]["source_id"] == "other"
    references = {**references, "other": references["papers"]}
    assert len(backmatter.index_rows(other, references)) == len(index)
    # a build's dict of sources: rows of each source, in sorted source order
    both = {"papers": papers, "other": other}
    assert backmatter.index_rows(both, references) == \
        backmatter.index_rows(other, references) + index
    assert backmatter.chronology_rows({"papers": papers}, {"papers": mentioned}) == chronology
    stripped = segment.SegmentedSource("other", papers.text,
                                       [u for u in units if u.type not in
                                        ("chronology", "bibliography", "index")])
    assert backmatter.chronology_rows(stripped, {"other": mentioned}) == []
    assert backmatter.bibliography_rows(stripped) == []
    assert backmatter.index_rows(stripped, {}) == []


# --- source records: facts from the text or marked as inferred --------------------------

def _fold(text):
    return " ".join(text.split())


@pytest.fixture(scope="module")
def source_table(sources, cleaned):
    return {r["source_id"]: r for r in package.source_rows(sources, cleaned)}


def test_every_fact_of_a_source_record_is_printed_or_inferred(sources, source_table):
    """Read independently of the build's check: each value of a column a text can state is
    in the original file, or each of its quoted passages is, or it is marked inferred."""
    for source in sources:
        row, original = source_table[source.source_id], _fold(source.original)
        quoted = source.bibliographic.get("quoted", {})
        for name, value in row.items():
            if name in package.NOT_TEXT_FACTS or name in row["inferred"] or not value:
                continue
            for item in value if isinstance(value, list) else [value]:
                passages = quoted.get(name, [item])
                assert all(_fold(p) in original for p in passages), (source.source_id, name)
        basis = row["inference_basis"]
        assert [b.split(":")[0] for b in re.findall(r"(?:^|(?<= ))\w+: ", basis)][:1] == \
            row["inferred"][:1]
        assert all(f"{name}: " in basis for name in row["inferred"])
        # what the attribution names is in a field
        if "ISBN" in row["attribution"]:
            assert row["isbn"] and _fold(row["isbn"]) in original
        assert "Copyright the author" not in row["rights"] or "Copyright the author" in original


def test_source_records_spot_checks(sources, source_table):
    by_id = {s.source_id: s for s in sources}
    # nelson: the publisher is the editors' inference from the removed appeal for funds
    nelson = source_table["nelson"]
    assert "International Socialist" not in by_id["nelson"].original
    assert nelson["publisher"] == "IS Network" and "publisher" in nelson["inferred"]
    assert "'We're up and running! An appeal for funds to kickstart the IS Network'" in \
        nelson["inference_basis"]
    assert "We're up and running! An appeal for funds to kickstart the IS Network" in \
        by_id["nelson"].original
    # no copyright stated, none claimed
    for source_id in ("nelson", "jacobins", "review", "intro"):
        assert "©" not in by_id[source_id].original and \
            "copyright" not in by_id[source_id].original.lower()
        row = source_table[source_id]
        assert row["rights"] == "No copyright or licence is stated in the text."
        assert "rights" in row["inferred"]
    # papers: the imprint's rights quoted exactly, "© D J. Cotterill" as printed
    papers = source_table["papers"]
    assert papers["rights"].startswith("Selection and annotations copyright © D J. Cotterill; ")
    for line in papers["rights"].split("; "):
        assert f"\n{line}\n" in by_id["papers"].original
    assert papers["isbn"] == "0-7453-0515-6" and "ISBN 0-7453-0515-6" in by_id["papers"].original
    assert papers["inferred"] == [] and papers["inference_basis"] == ""
    review = source_table["review"]
    assert set(review["inferred"]) == {"title", "journal", "rights"}


@pytest.mark.parametrize("field, value, table, message", [
    ("publisher", "International Socialist Network", {}, "is not printed in the text"),
    ("rights", "Copyright the author.", {}, "is not printed in the text"),
    ("authors", ["Tim Nelson", "Tim Nelsen"], {}, "'Tim Nelsen' is not printed"),
])
def test_source_fact_check_fails_on_unsupported_values(sources, cleaned, field, value, table,
                                                       message):
    (nelson,) = [s for s in sources if s.source_id == "nelson"]
    bib = {**nelson.bibliographic, field: value, "inferred": table}
    broken = dataclasses.replace(nelson, bibliographic=bib)
    with pytest.raises(PipelineError) as error:
        package.source_rows([broken], cleaned)
    assert message in error.value.message and error.value.field == f"bibliographic.{field}"
    assert error.value.file.endswith("nelson/source.toml")


def test_source_fact_check_on_quotations(sources, cleaned):
    """A quotation must be printed exactly, and the value made of its quotations only."""
    (papers,) = [s for s in sources if s.source_id == "papers"]
    quoted = papers.bibliographic["quoted"]
    silently_corrected = [quoted["rights"][0].replace("D J.", "D.J."), *quoted["rights"][1:]]
    cases = [
        ({"quoted": {**quoted, "rights": silently_corrected}}, "quoted.rights", "not printed"),
        ({"rights": papers.bibliographic["rights"] + " Included for research."}, "rights",
         "words the quotations do not give"),
        ({"rights": "Copyright © D.J. Cotterill"}, "quoted.rights", "not in the value"),
        ({"inferred": {"sha256": "x"}}, "inferred.sha256", "not a field"),
    ]
    for change, field, message in cases:
        broken = dataclasses.replace(papers, bibliographic={**papers.bibliographic, **change})
        with pytest.raises(PipelineError) as error:
            package.source_rows([broken], cleaned)
        assert message in error.value.message and field in error.value.field, change


# --- editorial inferences in the README --------------------------------------------------

def test_intro_chapter_numbering_is_published_as_an_inference_with_both_passages(sources):
    """The two cross-references that the numbering rests on disagree: both are quoted, as
    printed, in the outline's comment and in the dataset's README."""
    from sergetrotsky import docs
    (intro,) = [s for s in sources if s.source_id == "intro"]
    text = _fold(intro.original)
    passages = ["whose struggle against Kornilov had been weak and half-hearted (see chapter 2).",
                "In Chapter 2 we saw how Lenin and the Mensheviks had approached the Russian "
                "revolution completely differently."]
    outline = _fold(" ".join(line.lstrip("# ") for line in
                             intro.outline_path.read_text(encoding="utf-8").splitlines()))
    meta = package.load_dataset_meta(SOURCES)
    readme = _fold(docs.readme(meta, [], sources))
    section = readme[readme.index("## Editorial inferences"):readme.index("## Rights")]
    for passage in passages:
        assert passage in text and passage in outline and passage in section
    assert "EDITORIAL INFERENCE" in outline and "DISAGREE" in outline
    # the lost sub-headings of "Bread, Peace and Land" are a published limitation
    assert "`intro`: The web page has lost sub-headings: in \"Bread, Peace and Land\"" in section
    # every inference of every source's record is in the README's passage, with its basis
    for source in sources:
        for name, basis in source.bibliographic.get("inferred", {}).items():
            assert f"`{source.source_id}`: `sources.{name}`" in section and _fold(basis) in section


def test_inferred_record_facts_are_marked_in_the_tei_header(built, sources):
    """The TEI's description of each original marks the inferred facts, with their basis."""
    from lxml import etree
    ns = {"t": "http://www.tei-c.org/ns/1.0"}
    for source in sources:
        tree = etree.fromstring(built.files[f"tei/{source.source_id}.xml"])
        bibl = tree.find(".//t:sourceDesc/t:bibl", ns)
        notes = [n.text for n in bibl.findall("t:note[@type='inferred']", ns)]
        inferred = source.bibliographic.get("inferred", {})
        assert notes == [f"{name}: {basis}" for name, basis in inferred.items()]
    nelson = etree.fromstring(built.files["tei/nelson.xml"])
    assert nelson.find(".//t:sourceDesc/t:bibl/t:publisher", ns).text == "IS Network"


def test_index_reference_pattern_is_checked(sources):
    (papers,) = [s for s in sources if s.source_id == "papers"]
    assert backmatter.index_references([papers])["papers"].findall("a, ref1, ref22; ref3x") == \
        ["ref1", "ref22"]
    for pattern, message in (("ref(", "not a regular expression"), ("x*", "matches one")):
        broken = dataclasses.replace(
            papers, extra={**papers.extra, "index": {"reference": pattern}}
        )
        with pytest.raises(PipelineError) as error:
            backmatter.index_references([broken])
        assert message in error.value.message and error.value.field == "index.reference"


# --- organisations, as the glossary prints them -------------------------------------------

def test_organisations_parsed_from_the_glossary(papers):
    seg = papers
    rows = {r["org_id"]: r for r in backmatter.printed_organisation_rows({"papers": seg})}
    glossary = next(u for u in seg.units if u.type == "glossary")
    printed = [p.split(" ", 1)[0] for p in seg.own_text(glossary).split("\n\n")[1:]
               if re.match(r"[A-Z]{2,}\s", p)]
    assert [r["abbreviation"] for r in rows.values()] == printed
    assert rows["poum"] == {
        "org_id": "poum", "source_id": "papers", "abbreviation": "POUM",
        "name": "Partido Obrero de Unificacion Marxista",
        "name_english": "Workers Party of Marxist Unity",
        "description": "Formed in 1935 by a fusion of the Workers and Peasants Bloc (BOC) with "
                       "the former members of the Spanish Left Opposition led by Andrés Nin.",
        "evidence": []}
    # the emendations of the cleaned text: "Confédération", "Révolution", "Française"
    assert rows["cgt"]["name"] == "Confédération Générale du Travail"
    assert rows["rp"]["name"] == "La Révolution Prolétarienne"
    assert rows["rp"]["description"] == \
        "‘The Proletarian Revolution’, revolutionary-syndicalist newspaper founded in 1925."
    # brackets inside the translation; the paragraph after SFIO continues its entry
    assert rows["sfio"]["name_english"] == "French section of the Workers [Second] International"
    assert rows["sfio"]["description"].endswith(
        "In 1920 a majority of the SFIO left to form the French Communist Party; the reformist "
        "minority retained the name.")
    assert (rows["cheka"]["name"], rows["cheka"]["description"]) == \
        ("Special Commission of the Soviet Union for counter-revolutionary activity", "")
    assert (rows["pce"]["name"], rows["pce"]["description"]) == \
        ("Partido Comunista de España", "The Communist Party of Spain.")


def test_a_glossary_line_that_is_not_an_entry_is_not_read():
    assert backmatter.parse_glossary_entry("the Workers Party", "x") is None
    entry = backmatter.parse_glossary_entry("XYZ Xyz Party (The X Party). Small.", "x")
    assert (entry.org_id, entry.name, entry.name_english, entry.description) == \
        ("xyz", "Xyz Party", "The X Party", "Small.")
