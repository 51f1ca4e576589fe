"""The segment stage: a golden case, the outline's error reporting, then the real
sources (every unit once, the right parents, titles and authors; the traps)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sergetrotsky import clean, conventions, segment
from sergetrotsky.errors import PipelineError
from sergetrotsky.sources import load_source

GOLDEN = Path(__file__).parent / "golden" / "segment"


def _tsv(seg: segment.SegmentedSource) -> str:
    lines = ["document_id\tparent_id\ttype\tn\ttitle\tauthor_id\tdate\tplace_id\twords"]
    for u in seg.units:
        n = "" if u.n is None else u.n
        lines.append(f"{u.document_id}\t{u.parent_id}\t{u.type}\t{n}\t{u.title}\t{u.author_id}\t"
                     f"{u.date}\t{u.place_id}\t{segment.count_words(seg.text_of(u))}")
    return "\n".join(lines) + "\n"


def _segment_folder(folder: Path) -> segment.SegmentedSource:
    source = load_source(folder)
    return segment.segment(source, clean.clean(source))


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir()))
def test_golden(case):
    seg = _segment_folder(GOLDEN / case)
    assert _tsv(seg) == (GOLDEN / case / "expected-units.tsv").read_text(encoding="utf-8")
    assert "".join(seg.own_text(u) for u in seg.units) == seg.text


def test_golden_traps_stay_inside_their_units():
    seg = _segment_folder(GOLDEN / "letters")
    units = {u.document_id: u for u in seg.units}
    assert "Victor Serge, who, it would seem" in seg.own_text(units["letters-ch01-intro-01"])
    letter = seg.own_text(units["letters-letter-1"])
    assert "Some questions:\n\n1. First point.\n\nVictor Serge\n\n" in letter


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "letters"
    shutil.copytree(GOLDEN / "letters", folder)
    outline = folder / "segment.toml"
    text = outline.read_text()
    assert old in text
    outline.write_text(text.replace(old, new))
    return folder


def test_heading_not_found_is_located(tmp_path):
    folder = _broken(tmp_path, '"Introduction by A. Editor"', '"Introduction by B. Editor"')
    with pytest.raises(PipelineError) as error:
        _segment_folder(folder)
    assert (
        "letters/segment.toml [segment.units[1].heading]: "
        "heading 'Introduction by B. Editor' not found in order"
        in str(error.value)
    )


def test_heading_out_of_order_is_reported(tmp_path):
    folder = _broken(tmp_path, 'heading = "Letter 2: Trotsky to Serge (in Russian)"',
                     'heading = "1 The Chapter"')
    with pytest.raises(PipelineError, match="it occurs only before"):
        _segment_folder(folder)


def test_skipped_level_and_unknown_type_are_errors(tmp_path):
    with pytest.raises(PipelineError, match="a level was skipped"):
        _segment_folder(_broken(tmp_path / "a", "level = 2, type = \"introduction\"",
                                "level = 3, type = \"introduction\""))
    with pytest.raises(PipelineError, match="'pamphlet' is not allowed"):
        _segment_folder(_broken(tmp_path / "b", '"introduction"', '"pamphlet"'))


# --- the real sources ---------------------------------------------------------------

def _units(seg):
    return {u.document_id: u for u in seg.units}


def _containing(seg, prefix):
    """The deepest unit whose own text holds the paragraph starting with ``prefix``."""
    hits = [u for u in seg.units if f"\n\n{prefix}" in "\n\n" + seg.own_text(u)]
    assert len(hits) == 1, (prefix, [u.document_id for u in hits])
    return hits[0].document_id


def test_units_give_back_the_cleaned_text(segmented, cleaned):
    for source_id, seg in segmented.items():
        assert "".join(seg.own_text(u) for u in seg.units) == cleaned[source_id].text, source_id
        starts = [u.start for u in seg.units]
        assert starts == sorted(starts)
        ids = [u.document_id for u in seg.units]
        assert len(ids) == len(set(ids))
        for unit in seg.units[1:]:
            parent = _units(seg)[unit.parent_id]
            assert parent.start <= unit.start and unit.end <= parent.end


def test_intro_chapters_and_sections(segmented):
    seg = segmented["intro"]
    chapters = [u.title for u in seg.units if u.type == "chapter"]
    assert chapters == [
        "From prison to power", "Permanent Revolution", "Bread, Peace and Land", "The Civil War",
        "The rise of Stalin", "The Revolution Betrayed", "Trotsky and the World Revolution",
        "The struggle against Fascism", "The Fourth International", "The Transitional Programme"]
    assert sum(1 for u in seg.units if u.type == "section") == 48
    units = _units(seg)
    # A heading that occurs twice is two units.
    twice = [u for u in seg.units if u.title == "The Transitional Programme"]
    assert [u.type for u in twice] == ["chapter", "section"]
    assert units["intro-ch11-sec-02"].title == "The Transitional Programme"
    assert units["intro-ch02-sec-02"].title == "Prison and Exile"
    assert seg.own_text(units["intro-ch02-sec-02"]).startswith(
        "Prison and Exile\n\nThe authorities were too scared")


def test_intro_traps_are_not_headings(segmented):
    seg = segmented["intro"]
    assert _containing(seg, "But events were about to push Trotsky") == "intro-ch02-sec-01"
    assert _containing(seg, "“In a revolution, greater energy is equivalent") == "intro-ch05-sec-01"
    assert _containing(seg, "Trotsky explained how:") == "intro-ch07-sec-01"
    assert _containing(seg, "The call fell on deaf ears.") == "intro-ch09-sec-04"


def test_articles_sections_and_front_matter(segmented):
    nelson = segmented["nelson"]
    assert nelson.units[0].author_id == "tim-nelson"
    assert [u.title for u in nelson.units[1:]] == [
        "THE BEGINNING AND ROOTS OF THE DIFFERENCES",
        "THE TERROR: THE KRONSTADT REVOLT, WAR COMMUNISM AND THE CHEKA",
        "TROTSKY AND DEMOCRACY IN THE COMMUNIST PARTY", "SERGE AND THE FOURTH INTERNATIONAL",
        "THE POUM, CENTRISM AND THE FOURTH INTERNATIONAL", "THE LEGACY OF TROTSKYISM"]
    jacobins = segmented["jacobins"]
    units = _units(jacobins)
    assert units["jacobins"].author_id == "mark-hoskisson" and units["jacobins"].date == "2010"
    assert [units[i].type for i in ("jacobins-front-01", "jacobins-front-02")] == ["front", "front"]
    assert jacobins.own_text(units["jacobins-front-01"]).startswith("This article, which appeared")
    assert _containing(jacobins, "In other words, if 1924 was the year of Thermidor") \
        == "jacobins-sec-02"
    assert _containing(jacobins, "As Victor Serge commented:") == "jacobins-sec-03"
    assert _containing(nelson, "Tim Nelson: Trotsky and Serge") == "nelson"
    review = segmented["review"]
    assert [u.type for u in review.units] == ["review"]


def test_papers_front_and_back_matter(segmented):
    units = _units(segmented["papers"])
    level_one = [u.document_id for u in segmented["papers"].units if u.parent_id == "papers"]
    assert level_one == [
        "papers-cover", "papers-title-page", "papers-imprint", "papers-contents",
        "papers-dedication", "papers-preface", "papers-acknowledgements", "papers-glossary",
        "papers-chronology", "papers-introduction", "papers-ch01", "papers-ch02", "papers-ch03",
        "papers-ch04", "papers-ch05", "papers-notes", "papers-bibliography", "papers-index"]
    intro = units["papers-introduction"]
    assert (intro.type, intro.author_id, intro.date, intro.place_id) == \
        ("introduction", "cotterill", "1993-11", "london")
    assert [units[f"papers-notes-ch0{i}"].parent_id for i in range(1, 6)] == ["papers-notes"] * 5
    assert units["papers-notes-ch02"].title == "Chapter 2: The Correspondence"
    assert [u.title for u in segmented["papers"].units if u.parent_id == "papers-bibliography"] \
        == ["Primary Sources", "Secondary Sources"]


def test_papers_chapters_introductions_and_documents(segmented):
    seg = segmented["papers"]
    units = _units(seg)
    authors = {"papers-ch01-intro": "spencer", "papers-ch02-intro": "cotterill",
               "papers-ch03-intro": "cotterill", "papers-ch04-intro": "weissman",
               "papers-ch05-intro": "spencer"}
    for intro_id, author in authors.items():
        assert units[intro_id].type == "introduction" and units[intro_id].author_id == author
        assert units[intro_id].parent_id == intro_id.removesuffix("-intro")
    assert [u.title for u in seg.children(units["papers-ch01-intro"])][:3] == \
        ["Prewar Anarchism", "War", "Spain"]
    michel = units["papers-ch01-letter-01"]
    assert (michel.type, michel.title, michel.author_id, michel.date, michel.place_id) == \
        ("letter", "Victor Serge, Letter to Comrade Michel", "serge", "1921-05-29", "petrograd")
    nin = units["papers-ch03-doc-03"]
    assert nin.author_id == "trotsky" and nin.date == "1937-08-08"
    assert units["papers-ch01-extract-02"].title == \
        "Victor Serge, 'The Tragic Face of Revolution'. Extract from La Vie ouvrière"


def test_papers_correspondence(segmented):
    seg = segmented["papers"]
    units = _units(seg)
    letters = seg.children(units["papers-ch02-correspondence"])
    assert [u.document_id for u in letters] == \
        ["papers-letter-prefatory"] + [f"papers-letter-{n}" for n in range(1, 42)]
    assert [u.n for u in letters] == list(range(0, 42))
    assert all(u.type == "letter" for u in letters)
    assert (
        units["papers-letter-16"].title
        == "Letter 16: Serge to Konrad Knudsen (postcard–in Russian)"
    )
    assert (units["papers-letter-16"].date, units["papers-letter-16"].author_id) == (
        "1936-06-06",
        "serge",
    )
    assert units["papers-letter-3"].date == "1936-04-25"
    # Enclosures and appendices belong to their letter.
    for letter, title in (
        ("papers-letter-14", "Supplement to the remarks I made on Ciliga's letter"),
        ("papers-letter-18", "Questions"),
        ("papers-letter-24", "Appendix to letter 24: extract from 'A New Revolutionary Upturn?'"),
    ):
        [enclosure] = [u for u in seg.children(units[letter]) if u.type == "enclosure"]
        assert enclosure.title == title
    # Signatures and addresses stay inside their letter.
    assert seg.own_text(units["papers-letter-1"]).endswith(
        "Victor Serge\n\nAddress: Poste Restante, Central Post Office, Brussels,\n\n"
        "V. Kibalchich or c/o Charles Plisnier,⁹⁰ 18 Pl.\n\nLouis Morihan, Brussels.\n\n")


def test_papers_traps_are_not_headings(segmented):
    seg = segmented["papers"]
    unit = _units(seg)[_containing(seg, "Victor Serge, who, it would seem, is trying")]
    assert unit.type in ("introduction", "section", "document", "extract")
    assert not unit.title.startswith("Victor Serge, who")
    # In the chapters, no unit opens on a short paragraph ending in ':' (a lead-in to a
    # quotation); the bibliography's own headings ("Works by Trotsky:") do end so.
    for u in seg.units[1:]:
        if u.document_id.startswith("papers-ch"):
            assert not (len(u.heading) < 80 and strip(u.heading).endswith(":")), u.document_id
    heads = {strip(u.heading) for u in seg.units}
    assert "Victor Serge" not in heads and "LD" not in heads


def strip(text):
    return conventions.strip_marks(text)


# --- the tree API ------------------------------------------------------------------------

def test_tree_api_agrees_with_the_parent_ids(segmented):
    """parent, ancestors, children, descendants and subtree follow the units' parent_id;
    of_type keeps reading order; unit_at finds the unit whose own text holds an offset."""
    for seg in segmented.values():
        by_id = {u.document_id: u for u in seg.units}
        top = seg.units[0]
        assert seg.parent(top) is None and seg.ancestors(top) == []
        for unit in seg.units:
            chain, up = [], unit
            while up.parent_id:
                up = by_id[up.parent_id]
                chain.append(up)
            assert seg.ancestors(unit) == chain
            assert seg.parent(unit) == (chain[0] if chain else None)
            assert seg.children(unit) == [u for u in seg.units if u.parent_id == unit.document_id]
            below = [u for u in seg.units if unit in seg.ancestors(u)]
            assert seg.descendants(unit) == below, unit.document_id
            assert seg.subtree(unit) == [unit, *below]
            if unit.own_end > unit.start:
                assert seg.unit_at(unit.start) is unit
                assert seg.unit_at(unit.own_end - 1) is unit
        assert seg.of_type("chapter") == [u for u in seg.units if u.type == "chapter"]


def test_body_span_leaves_out_the_printed_heading(segmented):
    """A unit with a heading opens at the paragraph that prints it; body_span starts after
    that paragraph. A unit without one (the top unit) keeps all its own text."""
    papers = segmented["papers"]
    checked = 0
    for unit in papers.units:
        start, end = papers.body_span(unit)
        assert unit.start <= start <= end == unit.own_end
        if unit.heading:
            printed = papers.text[unit.start:start].strip()
            assert strip(printed).startswith(strip(unit.heading).removesuffix("...").rstrip())
            assert "\n\n" not in printed        # one paragraph, never more
            checked += 1
        else:
            assert start == unit.start
    assert checked > 100
