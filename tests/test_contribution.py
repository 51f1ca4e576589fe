"""Contributions end to end: a new source folder (the test sample under tests/contrib/) and
a copy of an existing source under a new id go through the whole build and the dataset
validator with no change outside sources/, and leave every other source's published text
byte-identical."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sergetrotsky.cli import main

from .conftest import ROOT, SOURCES

CONTRIB = Path(__file__).resolve().parent / "contrib"
SAMPLE = "sample-review"
COPY = "copy-of-review"   # a copy of an existing source under a new id


def _rows(folder: Path, table: str) -> list[dict[str, str]]:
    text = (folder / "data" / f"{table}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def contributed(tmp_path_factory):
    """sources/ plus the sample contribution and a copy of the review, built and written."""
    work = tmp_path_factory.mktemp("contribution")
    sources = work / "sources"
    shutil.copytree(SOURCES, sources)
    shutil.copytree(CONTRIB / SAMPLE, sources / SAMPLE, dirs_exist_ok=True)
    shutil.copytree(SOURCES / "review", sources / COPY)
    out = work / "dist"
    result = CliRunner().invoke(main, ["build", "--sources", str(sources), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return sources, out, result.output


def test_a_contribution_builds_and_validates(contributed):
    sources, out, _ = contributed
    result = CliRunner().invoke(main, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    ids = {r["source_id"] for r in _rows(out, "sources")}
    assert {SAMPLE, COPY} <= ids
    text = (out / "text" / f"{SAMPLE}.txt").read_text(encoding="utf-8")
    # the page furniture is gone, logged; the line-end hyphens resolved
    assert "Skip to main content" not in text and "Share this" not in text
    assert "relies on the Internet for a date" in text and "the letters were written" in text
    removed = [r for r in _rows(out, "removals") if r["source_id"] == SAMPLE]
    assert any("Skip to main content" in r["removed"] for r in removed)
    copy = (out / "text" / f"{COPY}.txt").read_bytes()
    assert copy == (ROOT / "dist" / "text" / "review.txt").read_bytes()


def test_adding_sources_leaves_the_published_texts_byte_identical(contributed):
    sources, out, _ = contributed
    for folder in sorted(p for p in SOURCES.iterdir() if (p / "source.toml").is_file()):
        name = f"{folder.name}.txt"
        assert (out / "text" / name).read_bytes() == (ROOT / "dist" / "text" / name).read_bytes(), \
            name


def test_the_build_summary_has_a_row_per_source_that_fits_80_columns(contributed):
    sources, _, output = contributed
    assert max(len(line) for line in output.splitlines()) <= 80
    ids = sorted(p.name for p in sources.iterdir() if (p / "source.toml").is_file())
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if "unaccounted" in line)
    assert lines[at].split() == ["source", "in", "published", "removed", "inserted",
                                 "unaccounted"]
    body = lines[at + 2:next(i for i in range(at + 2, len(lines)) if not lines[i].strip())]
    rows = {line.split()[0]: line.split() for line in body}
    assert sorted(rows) == ids
    assert all(row[-1] == "0" for row in rows.values())      # unaccounted
