"""The clean stage: golden cases, then checks on the real sources that a wrong
cleaner would fail (hyphens, page order, boilerplate, note marks, conservation)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from sergetrotsky import clean
from sergetrotsky.errors import PipelineError
from sergetrotsky.sources import load_source

from .conftest import SEEDS

GOLDEN = Path(__file__).parent / "golden" / "clean"


def _log_tsv(result: clean.CleanedSource) -> str:
    lines = ["original_line\treason\tremoved\tinserted"]
    lines += [f"{e.original_line}\t{e.reason}\t{e.removed!r}\t{e.inserted!r}" for e in result.log()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir()))
def test_golden(case):
    folder = GOLDEN / case
    result = clean.clean(load_source(folder))
    assert result.text == (folder / "expected.txt").read_text(encoding="utf-8")
    assert _log_tsv(result) == (folder / "expected-log.tsv").read_text(encoding="utf-8")
    assert clean.restore(result) == result.original


def test_sources_are_byte_identical_copies_of_the_seeds(sources):
    if not SEEDS.is_dir():
        pytest.skip("shared/seeds not beside the checkout")
    # The seeds only: a contributed source has an original that is not a seed.
    seeds = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in SEEDS.iterdir()}
    copies = {s.original_file: s.sha256 for s in sources if s.original_file in seeds}
    assert copies == seeds


def test_conservation_holds_for_every_source(cleaned):
    for source_id, result in cleaned.items():
        figures = result.conservation()
        assert figures.restored, source_id
        assert figures.unaccounted == 0, source_id
        removed = sum(len(e.removed) for e in result.log())
        inserted = sum(len(e.inserted) for e in result.log())
        assert figures.chars_in - removed + inserted == figures.chars_out == len(result.text)


def test_log_locates_edits_in_the_original(cleaned, sources):
    for source in sources:
        original = source.original
        for entry in cleaned[source.source_id].log():
            at = original[entry.original_offset:entry.original_offset + len(entry.removed)]
            if entry.pass_name == "remove":
                assert at == entry.removed, (source.source_id, entry)
            elif entry.reason == "emendation":
                # An emended word may span a joined line end; it starts where logged.
                assert at[:2] == entry.removed[:2], (source.source_id, entry)
            line_start = original.rfind("\n", 0, entry.original_offset) + 1
            assert original.count("\n", 0, line_start) + 1 == entry.original_line


def test_nelson_web_boilerplate_removed(cleaned):
    text = cleaned["nelson"].text
    assert text.startswith("Tim Nelson: Trotsky and Serge\n\nLeon Trotsky and Victor Serge")
    for teaser in ("John Riddell", "Bedroom Tax", "Financial Appeal", "Submit to Delicious"):
        assert teaser not in text
    assert "THE LEGACY OF TROTSKYISM" in text


def test_intro_blurb_and_links_removed(cleaned):
    text = cleaned["intro"].text
    assert text.startswith("Trotsky: an introduction\n\nSince the dawn of civilisation")
    assert "Click" not in text and "Watson v Trotskyists" not in text
    assert text.endswith("out from other trends in the working class movement.\n")


def test_jacobins_keeps_its_front_matter(cleaned):
    text = cleaned["jacobins"].text
    assert text.startswith("The Red Jacobins: Thermidor and the Russian Revolution in 1921\n\n"
                           "This article, which appeared in the self-titled magazine")
    assert "\n\nOriginal PR Introduction:\n\n" in text


def test_review_pages_back_in_reading_order(cleaned):
    review = cleaned["review"]
    assert sorted(review.page_order) == list(range(1, 38))
    text = review.text
    assert text.startswith("Most anarchists come across Victor Serge (1889–1947) at some stage,")
    # Junctions between pages read continuously once the pages are in order.
    for junction in (
        "while the capitalists did not have enough strength to. Stalinism, similarly, was "
        "possible because the working class was exhausted",
        "but these are nowhere near getting to the root of the problem nor comparable to",
        "Anarchists, in contrast, have recognised the bourgeois nature of Jacobinism from the "
        "start, with Kropotkin wondering",
    ):
        assert junction in text
    assert text.rstrip().endswith("socialism will remain marginal – and rightly so.")
    assert not any(line.startswith(" ") for line in text.splitlines())


def test_review_hyphens_joined_and_compounds_kept(cleaned):
    text = cleaned["review"].text
    for joined in ("reflect the standard Trotskyist narrative", "called by his followers, as Lenin",
                   "centralised and hierarchical, for", "had a bureaucracy from the beginning"):
        assert joined in text
    for compound in (
        "the Zinoviev-Kamenev-Stalin triumvirate",
        "a great many ex-officers would serve",
        "the theory of single-party government",
        "self-serving Memoirs",
    ):
        assert compound in text
    assert "-\n" not in text
    assert "1882–1962" in text


def test_review_run_together_words_are_logged_emendations(cleaned):
    review = cleaned["review"]
    assert "thiswork" not in review.text and "the closest this work has" in review.text
    emended = {(e.sic, e.corr) for e in review.emendations}
    assert ("thiswork", "this work") in emended
    for e in review.emendations:
        assert review.text[e.start:e.end] == e.corr
    # The author's own spelling is never corrected.
    assert "Trotkyists" in review.text


def test_papers_cover_duplicate_removed_front_matter_kept(cleaned):
    text = cleaned["papers"].text
    assert (
        text.count("Correspondence and Other Writings between Victor Serge and Leon Trotsky") == 1
    )
    assert "First published 1994 by Pluto Press" in text
    assert "\n\nContents\n\n" in text


def test_papers_split_paragraphs_rejoined_datelines_kept(cleaned):
    text = cleaned["papers"].text
    assert (
        "your arrival here, along with Sirolle,²⁹ strikes me as nothing short of providential."
        in text
    )
    assert (
        "I have no intention of exaggerating. Chiefs impose themselves on me, I have no desire"
        in text
    )
    assert "Petrograd,\n\nMay 29, 1921\n\nDear Comrade Michel,²⁸" in text


def test_papers_note_marks_and_italics_kept(cleaned, sources):
    text = cleaned["papers"].text
    original = next(s for s in sources if s.source_id == "papers").original
    assert "Victor Serge, Letter to Comrade Michel²⁷" in text
    assert "*La Vie ouvri" in text
    marks = set("⁰¹²³⁴⁵⁶⁷⁸⁹*")
    log = cleaned["papers"].log()
    # Only whole removed blocks (the publisher's advertisements) take marks with them.
    for entry in log:
        if marks & set(entry.removed):
            assert entry.reason == "boilerplate", entry
    removed = sum(1 for e in log for c in e.removed if c in marks)
    assert sum(1 for c in text if c in marks) + removed == sum(1 for c in original if c in marks)
    assert text.endswith("Zomora, Alcala, ref1\n") and "Published by Pluto Press" not in text


# --- errors a contributor can make ---------------------------------------------------

def _clean_edited(tmp_path: Path, old: str, new: str, case: str = "pdf-pages"):
    """Clean a copy of a golden case whose source.toml has ``old`` replaced by ``new``."""
    folder = tmp_path / case
    shutil.copytree(GOLDEN / case, folder)
    toml = folder / "source.toml"
    assert old in toml.read_text()
    toml.write_text(toml.read_text().replace(old, new))
    return clean.clean(load_source(folder))


def test_page_order_must_use_every_page_once(tmp_path):
    with pytest.raises(PipelineError) as error:
        _clean_edited(tmp_path, "order = [2, 1]", "order = [2, 2]")
    assert "clean.pages.order" in str(error.value) and "missing [1]" in str(error.value)


def test_stale_override_is_an_error(tmp_path):
    with pytest.raises(PipelineError, match="never applied.*non-sense"):
        _clean_edited(tmp_path, '["self-serving"]', '["self-serving", "non-sense"]')


@pytest.mark.parametrize("key, printed", [("hyphen_keep", "the self-serving editor"),
                                          ("hyphen_join", "the selfserving editor"),
                                          ("hyphen_suspended", "the self- serving editor")])
def test_a_listed_hyphen_overrides_the_corpus(tmp_path, key, printed):
    """"self-|serving" at a line end, listed under each key of [clean], is kept, joined or
    left as a suspended hyphen (a space, as in "pre- and post-war"); a kept or joined
    hyphen names the list as its basis in the log."""
    result = _clean_edited(tmp_path, 'hyphen_keep = ["self-serving"]', f'{key} = ["self-serving"]')
    assert printed in result.text
    basis = [e.detail for e in result.log() if "self" in e.detail]
    assert basis == ([] if key == "hyphen_suspended" else
                     [f"self-{'|' if key == 'hyphen_join' else ''}serving "
                      f"{'joined' if key == 'hyphen_join' else 'kept as compound'} "
                      "(listed in source.toml)"])


def test_emendation_count_is_checked(tmp_path):
    with pytest.raises(PipelineError, match="'thatwork' occurs 0 time"):
        _clean_edited(tmp_path, 'sic = "thiswork"', 'sic = "thatwork"')


def test_boilerplate_line_not_found_is_located(tmp_path):
    with pytest.raises(PipelineError) as error:
        _clean_edited(tmp_path, '"Teaser two"', '"Teaser three"', "web-page")
    assert str(error.value).endswith("[clean.remove[0].last_line]: last_line 'Teaser three' "
                                     "not found after first_line")


# --- layout traces: a wider gap between paragraphs of running text is recorded ----------

def test_intro_lost_subheadings_are_recorded_not_erased(cleaned, sources):
    """In "Bread, Peace and Land" three double blank lines fall where the text turns to
    food, to the war and to the land: each is logged as a layout trace (not as mere
    spacing), located in the original, and found again in the cleaned text."""
    result = cleaned["intro"]
    (intro,) = [s for s in sources if s.source_id == "intro"]
    original_lines = intro.original.split("\n")
    chapter = result.text.index("\n\nBread, Peace and Land\n\n")
    end = result.text.index("\n\nThe Civil War\n\n")
    inside = [p for p in result.layout_traces() if chapter < p < end]
    turns = ["The war and the ruinous policies of the Tsar and Kerensky",
             "The Bolsheviks acted to end Russia’s suffering in the bloody imperialist war",
             "The promise of peace, land and bread was honoured"]
    assert [result.text[p:p + len(t)] for p, t in zip(inside, turns, strict=True)] == turns
    assert len(inside) == 3
    traces = [e for e in result.log() if e.detail == clean.LAYOUT_TRACE]
    for turn in turns:
        (line,) = [n for n, text in enumerate(original_lines, start=1) if text.startswith(turn)]
        assert original_lines[line - 2] == original_lines[line - 3] == ""   # two blank lines
        assert any(e.original_line in (line - 2, line - 1) and e.removed == "\n"
                   and e.reason == "whitespace" for e in traces), turn
    assert clean.restore(result) == result.original


def test_blank_lines_around_headings_are_spacing_not_traces(cleaned):
    """A wider gap after a heading or on a title page is spacing ("extra blank line")."""
    papers = cleaned["papers"]
    spacing = [e for e in papers.log() if e.detail == "extra blank line"]
    traces = [e for e in papers.log() if e.detail == clean.LAYOUT_TRACE]
    assert spacing and traces
    lines = papers.original.split("\n")
    for entry in traces:   # the lines around every trace are running text
        before = next(t for t in reversed(lines[:entry.original_line - 1]) if t.strip())
        after = next(t for t in lines[entry.original_line:] if t.strip())
        assert len(before) >= clean.RUNNING_LINE and len(after) >= clean.RUNNING_LINE
    contents = lines.index("Contents")
    assert any(e.original_line in (contents + 2, contents + 3) for e in spacing)
    assert not any(e.original_line in (contents + 2, contents + 3) for e in traces)


def test_layout_traces_are_milestones_in_tei(built, cleaned):
    """Each trace between two paragraphs of a unit is a milestone in the source's TEI."""
    from lxml import etree
    ns = {"t": "http://www.tei-c.org/ns/1.0"}
    tree = etree.fromstring(built.files["tei/intro.xml"])
    milestones = tree.findall(".//t:milestone[@type='layout-trace']", ns)
    following = ["".join(m.getnext().itertext())[:40] for m in milestones]
    assert following[:3] == ["The war and the ruinous policies of the ",
                             "The Bolsheviks acted to end Russia’s suf",
                             "The promise of peace, land and bread was"]
    assert all(m.get("unit") == "section" for m in milestones)
    assert len(milestones) == len(cleaned["intro"].layout_traces())


def test_layout_traces_table_rows(built, sources, cleaned):
    """One row per trace: in the unit it divides, located in the original and in the
    cleaned text; the three of "Bread, Peace and Land" in that chapter."""
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(built.files["data/layout_traces.csv"].decode())))
    documents = {r["document_id"]: r for r in csv.DictReader(
        io.StringIO(built.files["data/documents.csv"].decode()))}
    by_source = {s.source_id: s for s in sources}
    for row in rows:
        text = cleaned[row["source_id"]].text
        offset, line = int(row["text_offset"]), int(row["original_line"])
        assert text[offset:].startswith(row["after"]) and \
            text[:offset].rstrip().endswith(row["before"])
        original = by_source[row["source_id"]].original.split("\n")
        assert original[line - 1].strip() == "" and original[line - 2].strip() == ""
        assert documents[row["document_id"]]["source_id"] == row["source_id"]
    intro = [r for r in rows if r["source_id"] == "intro"]
    chapter = [r for r in intro if documents[r["document_id"]]["title"] == "Bread, Peace and Land"]
    assert [r["after"][:20] for r in chapter] == ["The war and the ruin", "The Bolsheviks acted",
                                                  "The promise of peace"]
    assert all(r["blank_lines"] == "2" for r in chapter)
    assert sum(len(cleaned[s].layout_traces()) for s in cleaned) == len(rows)


def test_literal_matches_and_sentence_ends_find_what_the_patterns_find(sources):
    """The cleaner's shortcuts on every real original: each emendation's sic and each
    run-in heading found by str.find then the whole pattern
    (``conventions.literal_matches``) are the pattern's finditer; a line ends a sentence
    by the stop-and-closers test exactly when the pattern it replaces says so."""
    import re

    from sergetrotsky.conventions import literal_matches

    sentence_end = re.compile(r"[.!?:;][\"'”’)\]]*$")
    tried = 0
    for source in sources:
        text = source.original
        patterns = [(item["sic"], re.compile(rf"(?<![^\W_]){re.escape(item['sic'])}(?![^\W_])"))
                    for item in source.clean.get("emendations", [])]
        patterns += [(heading + " ", re.compile(rf"(?:^|(?<=\n\n)){re.escape(heading)}( )"))
                     for heading in source.clean.get("run_in_headings", [])]
        patterns += [(word, re.compile(rf"(?<![^\W_]){word}(?![^\W_])")) for word in ("the", "a")]
        for literal, pattern in patterns:
            expected = [m.span() for m in pattern.finditer(text)]
            assert [m.span() for m in literal_matches(pattern, literal, text)] == expected
            tried += bool(expected)
        for line in text.splitlines():
            assert clean._ends_sentence(line) == bool(sentence_end.search(line)), line
        for line in ('"', ")", "", "end.)", "end.)x", "no stop\"", "stop?’”"):
            assert clean._ends_sentence(line) == bool(sentence_end.search(line)), line
    assert tried > 10
