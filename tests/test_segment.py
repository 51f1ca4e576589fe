"""The segment stage: a golden case, the outline's error reporting, then the real
sources (every unit once, the right parents, titles and authors; the traps)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline import clean, segment
from pipeline.errors import PipelineError
from pipeline.sources import load_source

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
    letter = seg.own_text(units["book-letter-1"])
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
    assert "letters/segment.toml [segment.units[1].heading]: heading 'Introduction by B. Editor' not found in order" \
        in str(error.value)


def test_heading_out_of_order_is_reported(tmp_path):
    folder = _broken(tmp_path, 'heading = "Letter 2: Trotsky to Serge (in Russian)"',
                     'heading = "1 The Chapter"')
    with pytest.raises(PipelineError, match="it occurs only before"):
        _segment_folder(folder)


def test_skipped_level_and_unknown_type_are_errors(tmp_path):
    with pytest.raises(PipelineError, match="a level was skipped"):
        _segment_folder(_broken(tmp_path / "a", "level = 2, type = \"introduction\"",
                                "level = 3, type = \"introduction\""))
    with pytest.raises(PipelineError, match="unknown unit type 'pamphlet'"):
        _segment_folder(_broken(tmp_path / "b", '"introduction"', '"pamphlet"'))


# --- the real sources ---------------------------------------------------------------

@pytest.fixture(scope="module")
def segmented(sources, cleaned):
    return {s.source_id: segment.segment(s, cleaned[s.source_id]) for s in sources}


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
