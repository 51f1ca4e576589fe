"""The notes stage: a golden case, the [notes] settings, then the real book (every printed
note once, the counts per chapter, notes landing in the right unit, the anomalies as
printed, the cross-references) and the three tables against their schemas."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
from lxml import etree
from sergetrotsky import clean, notes, package, segment
from sergetrotsky.errors import PipelineError
from sergetrotsky.sources import find, load_source

from .conftest import valid_mini_package

GOLDEN = Path(__file__).parent / "golden" / "notes"
TABLES = ("notes", "note_anomalies", "references")


def _tables(result: notes.NotesResult) -> dict[str, list[dict]]:
    return {"notes": notes.note_rows(result), "note_anomalies": notes.anomaly_rows(result),
            "references": notes.reference_rows(result)}


def _extract_folder(folder: Path) -> tuple[segment.SegmentedSource, notes.NotesResult]:
    source = load_source(folder)
    seg = segment.segment(source, clean.clean(source))
    return seg, notes.extract_notes(source, seg)


# --- golden case --------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir()))
def test_golden(case):
    _, result = _extract_folder(GOLDEN / case)
    for name, rows in _tables(result).items():
        produced = package.csv_bytes(package.Table(name, rows, name)).decode("utf-8")
        assert produced == (GOLDEN / case / f"expected-{name}.csv").read_text(encoding="utf-8")


def test_golden_mark_forms_and_anomalies():
    seg, result = _extract_folder(GOLDEN / "marks")
    by_id = {n.note_id: n for n in result.notes}
    # superscript, superscript after a space, markup, and a bare asterisk
    assert [by_id[f"marks-ch01-n{i}"].call.mark for i in (1, 2, 3)] == ["¹", "²", "^{3}"]
    star = by_id["marks-ch01-star1"]
    assert (star.text, star.kind, star.call.mark) == ("A weekly", "author", "*")
    assert seg.text[star.call.offset - 7:star.call.offset + 1] == "journal*"
    # italic pairs are not marks: the asterisk calls are "journal*" and "^{*7}"
    assert [c.mark for c in result.calls if c.star] == ["*", "^{*7}"]
    assert by_id["marks-ch01-n1"].text == "A note with *italics*."
    assert by_id["marks-ch02-n4"].kind == "author"  # "[Ann's note.]"
    assert by_id["marks-ch02-n1"].call.offset == seg.text.index("mark.¹") + 5  # the first ¹
    assert [(a.chapter_id, a.n, a.kind) for a in result.anomalies] == [
        ("marks-ch01", 5, "note_without_mark"), ("marks-ch02", 1, "duplicate_mark"),
        ("marks-ch02", 2, "mark_without_note"), ("marks-ch02", 7, "mark_without_note"),
        ("marks-ch02", 4, "note_without_mark"), ("marks-ch02", 2, "numbering_gap")]
    # "^{*7}": neither its number nor its asterisk is answered: one row, both details
    starred = result.anomalies[3]
    assert "mark ^{*7} has no note" in starred.detail
    assert "asterisk ^{*7} answered by no '* ' note paragraph" in starred.detail
    assert [(r.as_written, r.detail) for r in result.unresolved] == [
        ("Letter 9", "no letter printed as 'Letter 9'"), ("Chapter 7", "another work's chapter")]


def _copy(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "marks"
    shutil.copytree(GOLDEN / "marks", folder)
    with (folder / "source.toml").open("a", encoding="utf-8") as f:
        f.write(extra)
    return folder


def test_notes_table_in_source_toml_changes_the_patterns(tmp_path):
    # Lists printed "1) text" instead of "1. text": with the default pattern nothing parses.
    folder = _copy(tmp_path, "\n[notes]\nnote_line = '^\\s*(?P<n>\\d+)\\)\\s+(?P<text>\\S.*)$'\n")
    original = folder / "original.txt"
    original.write_text(re.sub(r"(?m)^(\s*\d+)\. ", r"\1) ", original.read_text()))
    _, result = _extract_folder(folder)
    assert [n.note_id for n in result.notes if n.n] == [
        f"marks-ch01-n{i}" for i in range(1, 7)] + ["marks-ch02-n1", "marks-ch02-n4"]


@pytest.mark.parametrize("extra, message", [
    ("\n[notes]\nnote_line = '(unclosed'\n", "[notes.note_line]: not a regular expression"),
    ("\n[notes]\nnote_line = '^(\\d+)\\. (.*)$'\n", "[notes.note_line]: needs the named group(s)"),
    ("\n[notes]\nline = 'x'\n", "[notes.line]: unknown key 'line' (did you mean note_line?)"),
])
def test_bad_notes_settings_are_located_errors(tmp_path, extra, message):
    with pytest.raises(PipelineError) as error:
        _extract_folder(_copy(tmp_path, extra))
    assert re.search(r"marks/source\.toml(:\d+)? " + re.escape(message), str(error.value))


def test_a_notes_list_is_paired_by_number_then_by_title(tmp_path):
    folder = _copy(tmp_path, "")
    outline, original = folder / "segment.toml", folder / "original.txt"

    def rename(old: str, new: str) -> None:
        for path in (outline, original):
            path.write_text(path.read_text().replace(old, new))

    rename("Chapter 2: Second Chapter", "Chapter 9: Second Chapter")
    # number 9 names no chapter, but the title does
    assert _extract_folder(folder)[1].chapters["marks-ch02"] == "marks-notes-ch02"
    rename("Chapter 9: Second Chapter", "Chapter 9: Another")
    with pytest.raises(PipelineError, match="notes list 'marks-notes-ch02'.*names no chapter"):
        _extract_folder(folder)


# --- the real book ------------------------------------------------------------------

@pytest.fixture(scope="module")
def papers(sources, segmented):
    seg = segmented["papers"]
    return seg, notes.extract_notes(find(sources, "papers"), seg)


def _unit(seg, parent_id: str, title: str) -> str:
    """The id of a unit found by its parent and title (derived ids are not relied on)."""
    hits = [u.document_id for u in seg.units if u.parent_id == parent_id and u.title == title]
    assert len(hits) == 1, (parent_id, title, hits)
    return hits[0]


def _printed_lines(seg) -> dict[str, list[tuple[int, str]]]:
    """Independently of the stage: the numbered lines of each notes list, by chapter."""
    out = {}
    for unit in seg.units:
        if unit.type == "notes" and unit.title.startswith("Chapter "):
            chapter = "papers-ch0" + re.match(r"Chapter (\d)", unit.title).group(1)
            out[chapter] = [(int(m.group(1)), m.group(2)) for m in
                            re.finditer(r"(?m)^\s*(\d+)\. (.*)$", seg.own_text(unit))]
    return out


def test_every_printed_note_is_published_once(papers):
    seg, result = papers
    printed = _printed_lines(seg)
    published = {}
    for note in result.notes:
        if note.n is not None:
            published.setdefault(note.chapter_id, []).append((note.n, note.text))
    assert published == printed
    ids = [n.note_id for n in result.notes]
    assert len(ids) == len(set(ids)) == 494
    for note in result.notes:
        assert seg.text[note.text_offset:note.text_offset + len(note.text)] == note.text
        if note.call:
            assert seg.text.startswith(note.call.mark, note.call.offset)


def test_notes_per_chapter_as_printed(papers):
    _, result = papers
    counts = {}
    for note in result.notes:
        counts.setdefault(note.chapter_id, [0, 0])[note.n is None] += 1
    assert counts == {"papers-ch01": [38, 1], "papers-ch02": [278, 1], "papers-ch03": [64, 0],
                      "papers-ch04": [75, 0], "papers-ch05": [37, 0]}
    ch04 = [n.n for n in result.notes if n.chapter_id == "papers-ch04"]
    assert ch04 == list(range(1, 29)) + list(range(31, 78))  # 29 and 30 are not printed
    assert result.chapters == {f"papers-ch0{i}": f"papers-notes-ch0{i}" for i in range(1, 6)}


def test_known_notes_land_in_the_right_unit(papers):
    seg, result = papers
    by_id = {n.note_id: n for n in result.notes}
    kronstadt = _unit(seg, "papers-ch01-extract-02", "Kronstadt")
    expected = {
        "papers-ch01-n27": ("papers-ch01-letter-01", "²⁷", "Letter to Comrade Michel"),
        "papers-ch01-n29": ("papers-ch01-letter-01", "²⁹", "along with Sirolle,"),
        "papers-ch01-n36": (kronstadt, "³⁶", "'For the soviets against the party'."),
        "papers-ch02-n82": ("papers-letter-prefatory", "⁸²", "Serge to Sedov (in French)"),
        "papers-ch02-n150": ("papers-letter-12", "¹⁵⁰", "Brussels, May 27, 1934"),
        "papers-ch02-n182": ("papers-letter-16", "¹⁸²", "Serge to Konrad Knudsen"),
        "papers-ch02-n237": ("papers-letter-32", "²³⁷", "my lawyer Mr Michael Punterwald"),
        "papers-ch03-n41": ("papers-ch03-letter-01", "⁴¹", "Letter to Andrès Nin"),
        "papers-ch04-n51": ("papers-ch04-extract-01", "⁵¹", "'Fiction and Fact. Kronstadt'"),
        "papers-ch05-n28": ("papers-ch05-extract-02", "²⁸", "The Life of the Oppositionists "),
    }
    for note_id, (unit_id, mark, before) in expected.items():
        note = by_id[note_id]
        assert (note.ref_document_id, note.call.mark) == (unit_id, mark), note_id
        assert seg.text[:note.call.offset].endswith(before), note_id
    assert by_id["papers-ch02-n150"].text == "This is of course Serge's error for 1936."
    assert by_id["papers-ch01-n27"].text.startswith("Translation of Victor Serge’s letter to")
    assert all(n.kind == "editorial" for n in result.notes if n.n is not None)
    # notes of the chapter introductions stay with the introductions
    intro = [n.n for n in result.notes if n.ref_document_id == "papers-ch02-intro"]
    assert intro == list(range(1, 82))


def test_authors_notes_printed_in_the_text(papers):
    seg, result = papers
    stars = [n for n in result.notes if n.n is None]
    kronstadt = _unit(seg, "papers-ch01-extract-02", "Kronstadt")
    assert [(n.note_id, n.kind, n.call.mark, n.ref_document_id, n.printed_in_id)
            for n in stars] == [
        ("papers-ch01-star1", "author", "^{*35}", kronstadt, "papers-ch01-extract-03"),
        ("papers-ch02-star1", "author", "*", "papers-letter-17", "papers-letter-17")]
    assert stars[0].text.startswith("The French press, and particularly M. Serge de Chessin")
    assert stars[0].text.endswith("[Serge’s note.]")
    assert stars[1].text == "A monthly"
    assert seg.text[:stars[1].call.offset].endswith("theoretical Marxist journal")
    # *italics* are never calls: only "journal*" and "^{*35}" carry an asterisk
    assert [c.mark for c in result.calls if c.star] == ["^{*35}", "*"]


def test_known_anomalies_are_listed(papers):
    seg, result = papers
    got = [(a.chapter_id, a.n, a.kind) for a in result.anomalies]
    assert got == [
        ("papers-ch01", 35, "duplicate_mark"),      # "operators, ^{*35}" after mark 36
        ("papers-ch01", 37, "note_without_mark"),   # 37 comments on Serge's asterisk note
        ("papers-ch02", 236, "note_without_mark"),  # Letter 32 (in French) carries no mark
        ("papers-ch04", 29, "mark_without_note"),
        ("papers-ch04", 30, "mark_without_note"),
        ("papers-ch04", 29, "numbering_gap"),       # the list goes from 28 to 31
    ]
    details = {(a.n, a.kind): a for a in result.anomalies}
    assert seg.text.startswith("^{*35}", details[35, "duplicate_mark"].offset)
    assert "^{*35} (printed for note 35) stands there" in details[37, "note_without_mark"].detail
    assert "after mark 235 in papers-letter-31, before mark 237 in papers-letter-32" \
        in details[236, "note_without_mark"].detail
    assert details[29, "numbering_gap"].detail == \
        "no note 29–30 printed: the list goes from 28 to 31"
    untied = sorted(n.note_id for n in result.notes if n.call is None)
    assert untied == ["papers-ch01-n37", "papers-ch02-n236"]


def test_letter_references_resolve_to_existing_letters(papers):
    seg, result = papers
    units = {u.document_id: u for u in seg.units}
    letters = [r for r in result.references if r.kind == "letter"]
    assert len(letters) == 43
    assert len([r for r in result.references if r.kind == "chapter"]) == 37
    assert result.unresolved == []
    for ref in letters:
        target = units[ref.to_id]
        assert target.type == "letter"
        number = re.search(r"\d+", ref.as_written)
        assert target.n == (int(number.group()) if number else 0), ref
    found = {(r.from_id, r.to_id, r.as_written) for r in result.references}
    assert {("papers-ch02-n17", "papers-letter-13", "Letter 13"),
            ("papers-ch02-n2", "papers-letter-prefatory", "Prefatory Letter"),
            ("papers-ch02-n137", "papers-letter-6", "Letter 6"),
            ("papers-ch03-n16", "papers-letter-14", "Letter 14 in Chapter 2"),
            ("papers-ch03-n26", "papers-letter-35", "Letter 35"),
            ("papers-ch03-n26", "papers-ch02", "Chapter 2"),
            ("papers-ch02-n61", "papers-ch04", "Chapter 4"),
            ("papers-ch02-intro", "papers-ch04", "Chapter 4"),
            } <= found
    # a chapter that only locates a letter is not a reference of its own
    assert ("papers-ch03-n16", "papers-ch02", "Chapter 2") not in found
    # a heading names its own unit: "Letter 35", "Appendix to letter 24" are not references
    assert not [r for r in result.references if r.from_id in ("papers-letter-35",
                                                              "papers-letter-24-enclosure-01")]


def test_references_in_other_books_are_left_alone(sources, cleaned):
    # The introduction book says "In Chapter 2 we saw...", but its chapters print no number.
    source = find(sources, "intro")
    result = notes.extract_notes(source, segment.segment(source, cleaned["intro"]))
    assert result.notes == [] and result.references == []
    assert [r.as_written for r in result.unresolved] == ["Chapter 2", "chapter 2"]


# --- tables -------------------------------------------------------------------------

def test_rows_have_the_schema_fields(papers):
    _, result = papers
    for name, rows in _tables(result).items():
        fields = [f["name"] for f in package.table_schema(name)["fields"]]
        assert rows and all(list(row) == fields for row in rows), name
        package.csv_bytes(package.Table(name, rows, name))
    kinds = next(f for f in package.table_schema("note_anomalies")["fields"] if f["name"] == "kind")
    assert tuple(kinds["constraints"]["enum"]) == notes.ANOMALY_KINDS
    assert notes.note_rows([result, result]) == notes.note_rows(result) * 2
    s = notes.summary(result)
    assert (s["notes"], s["tied"], s["untied"], s["author_notes"]) == (494, 492, 2, 2)
    assert s["anomalies"] == {"duplicate_mark": 1, "mark_without_note": 2,
                              "note_without_mark": 2, "numbering_gap": 1}
    assert s["references"] == {"chapter": 37, "letter": 43}


def test_tables_validate_with_documents_and_sources(papers, built, tmp_path):
    """The three tables, beside the built documents and sources, pass frictionless:
    types, constraints, primary keys and the foreign keys to documents and sources."""
    _, result = papers
    tables = [package.Table(name, rows, name) for name, rows in _tables(result).items()]
    for name in ("sources", "documents"):
        rows = list(csv.DictReader(io.StringIO(built.files[f"data/{name}.csv"].decode("utf-8"))))
        tables.append(package.Table(name, rows, name))
    valid_mini_package(tmp_path, tables)


# --- notes the ebook cuts short ------------------------------------------------------------

def test_truncated_notes_are_marked_by_their_rule(built):
    rows = {r["note_id"]: r for r in
            csv.DictReader(io.StringIO(built.files["data/notes.csv"].decode("utf-8")))}
    # cut mid-sentence by the ebook ("… to the extent of joining")
    assert rows["papers-ch01-n31"]["text"].endswith("to the extent of joining")
    assert rows["papers-ch01-n31"]["truncated"] == "true"
    assert rows["papers-ch02-n150"]["truncated"] == "false"     # "... error for 1936."
    # an apostrophe is not the end of a quotation: "… now in office in Blum'"
    assert rows["papers-ch02-n185"]["truncated"] == "true"
    assert rows["papers-ch02-star1"]["truncated"] == "false"    # the author's "A monthly"
    assert all((r["truncated"] == "true") == (r["kind"] == "editorial"
                                              and notes.is_truncated(r["text"]))
               for r in rows.values())
    assert notes.is_truncated("Ibid., p. 12") and not notes.is_truncated("*Ibid.*")
    assert not notes.is_truncated("'La tragique' (Paris, 1922)")
    assert not notes.is_truncated("see ‘Mer blanche’") and notes.is_truncated("in Blum’")
    editorial = [r for r in rows.values() if r["kind"] == "editorial"]
    cut = sum(r["truncated"] == "true" for r in editorial)
    readme = built.files["README.md"].decode("utf-8")
    assert f"Notes cut short: {cut} of the {len(editorial)} editor's notes end mid-sentence" \
        in readme
    tei = built.files["tei/papers.xml"].decode("utf-8")
    assert tei.count('<gap reason="truncated"/>') == \
        sum(r["truncated"] == "true" for r in rows.values() if r["source_id"] == "papers")
    # the gap closes the note, after its last printed words (names in it may be tagged)
    note = etree.fromstring(built.files["tei/papers.xml"]).xpath(
        "//t:note[@xml:id='papers-ch01-n31']", namespaces={"t": "http://www.tei-c.org/ns/1.0"})[0]
    last = note[-1]
    assert etree.QName(last).localname == "gap" and last.get("reason") == "truncated"
    assert "".join(note.itertext()).rstrip().endswith("to the extent of joining")


def test_literal_matches_find_what_the_reference_patterns_find(segmented):
    """The cross-reference patterns tried where str.find sees their word
    (``conventions.literal_matches``) find what their finditer finds, on every source's
    text, whole and in slices."""
    from sergetrotsky import notes as notes_stage
    from sergetrotsky.conventions import literal_matches

    hits = 0
    for seg in segmented.values():
        text = seg.text
        spans = [(0, len(text))] + [(u.start, u.end) for u in seg.units] \
            + [(u.start + 3, u.end - 2) for u in seg.units if u.end - u.start > 5]
        for pattern, literal in ((notes_stage.PREFATORY_REF, "refatory"),
                                 (notes_stage.LETTER_REF, "etter"),
                                 (notes_stage.CHAPTER_REF, "hapter")):
            for start, end in spans:
                expected = [(m.span(), m.group()) for m in pattern.finditer(text, start, end)]
                assert [(m.span(), m.group()) for m in literal_matches(
                    pattern, literal, text, start, end, lead=1)] == expected
                hits += len(expected)
    assert hits > 50
