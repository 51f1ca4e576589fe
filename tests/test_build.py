"""The stage graph of pipeline/build.py runs one way: a corpus-wide step sets results of
its own and changes none that a stage before it made; the exporters change nothing."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from sergetrotsky import build

from .conftest import SOURCES

NOT_RESULTS = {"pool", "cached", "sources_dir", "meta"}


def _dump(value: object) -> bytes:
    """A result's bytes: a dataclass by its fields (lazily cached lookups, such as the
    unit tree's index, are not part of a result)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    return pickle.dumps(value)


def _state(corpus: build.Corpus) -> dict[str, bytes]:
    """Each result the graph holds, by name: the corpus's fields and each source's."""
    found = {f.name: _dump(getattr(corpus, f.name))
             for f in dataclasses.fields(corpus) if f.name not in NOT_RESULTS}
    for b in corpus.builds:
        for f in dataclasses.fields(b):
            found[f"{b.source_id}.{f.name}"] = _dump(getattr(b, f.name))
    found.pop("builds")   # the sum of the per-source fields above
    return found


@pytest.fixture(scope="module")
def stepped():
    """The corpus built step by step: (corpus, state before the steps, the names of the
    results each step changed, in order)."""
    corpus = build.build_corpus(SOURCES, build.load_metadata(SOURCES), steps=())
    start = before = _state(corpus)
    changed = []
    for _, step in build.CORPUS_STEPS:
        step(corpus)
        after = _state(corpus)
        changed.append((step.__name__, {k for k in after if after[k] != before[k]}))
        before = after
    return corpus, start, changed


def test_no_corpus_step_changes_a_result_made_before_it(stepped):
    _, _, changed = stepped
    owner: dict[str, str] = {}
    for step, names in changed:
        for name in sorted(names):
            assert name not in owner, f"{step} changed {name}, set by {owner[name]}"
            owner[name] = step
    # the per-source stages' results are never touched by the corpus-wide steps
    per_source = {f.name for f in dataclasses.fields(build.SourceBuild)} \
        - {"letters", "mentions"}
    assert not [n for n in owner if n.split(".")[-1] in per_source]
    # the letters step sets the letters of a source that has some (papers)
    assert owner["papers.letters"] == "_read_letters"
    assert owner["persons"] == owner["places"] == "_build_registers"


def test_the_exporters_change_nothing_and_make_the_dataset(stepped, built):
    corpus, _, _ = stepped
    before = _state(corpus)
    files: dict[str, bytes] = {}
    build.export(corpus, files)
    assert _state(corpus) == before
    assert files == dict(built.files)


def test_a_letters_document_row_takes_the_letters_date_and_place_when_made(stepped):
    """The documents exporter makes a letter's row with the letters step's date and place
    (papers-letter-12: the printed date, corrected by the book's notes)."""
    corpus, _, _ = stepped
    papers = next(b for b in corpus.builds if b.source_id == "papers")
    rows = {r["document_id"]: r for r in build._source_document_rows(papers)}
    assert papers.letters
    for letter in papers.letters:
        assert (rows[letter.letter_id]["date"], rows[letter.letter_id]["place_id"]) \
            == (letter.date, letter.place_id)
    unit = next(u for u in papers.segmented.units if u.document_id == "papers-letter-12")
    assert rows["papers-letter-12"]["date"] == "1936-05-27" != unit.date
