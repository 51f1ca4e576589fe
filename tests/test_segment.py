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
