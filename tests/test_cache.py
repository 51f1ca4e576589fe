"""The build cache (pipeline/cache.py): a cached build gives the bytes of a cold one, an
edit to one source recomputes that source only, and nothing stale is ever read. Nothing
here is timed."""

from __future__ import annotations

import pickle
import shutil

import pytest
from click.testing import CliRunner
from sergetrotsky import build, publish
from sergetrotsky import cache as build_cache
from sergetrotsky.cli import main

from .conftest import SOURCES, edited

STAGES = ("vocabulary", "text", "letters", "mentions", "documents", "rows", "texts",
          "tei")


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def filled(seeded_cache):
    """A cache folder filled by one build of the real sources from an empty cache, with
    what that build reused and its result (conftest's ``seeded_cache``, made once per
    run). A test that reads or changes it works on a copy."""
    return seeded_cache.folder, seeded_cache.reused, seeded_cache.result


def _copy_of(cache, tmp_path):
    shutil.copytree(cache, tmp_path / "cache")
    return tmp_path / "cache"


def test_a_cached_build_gives_the_bytes_of_a_cold_one(built, filled, tmp_path):
    """A build from the filled cache reads every entry and gives the files of the build
    that filled it (the session's build, whose files are a ``--no-cache`` build's: the
    CLI test below)."""
    _, reused, _ = filled
    assert reused == []                             # an empty cache: everything computed
    again = build_cache.BuildCache(_copy_of(filled[0], tmp_path))
    second = build.assemble(SOURCES, jobs=2, cache=again)
    ids = [p.name for p in sorted(SOURCES.iterdir()) if p.is_dir() and p.name[0] not in "._"]
    assert sorted(again.reused) == sorted([*((stage, i) for stage in STAGES for i in ids),
                                           ("registers", build_cache.CORPUS_ENTRY)])
    assert second.files == built.files
    assert second.summary == built.summary
    assert (second.locks, second.warnings) == (built.locks, built.warnings)
    # the name index's compiled pattern, unread (no mentions were made), is kept
    assert list((again.folder / "patterns").glob("*.pickle"))


def test_a_copy_of_the_sources_elsewhere_reads_every_entry(built, copied, tmp_path):
    """No key and no entry holds the sources' path: a copy of the sources in another
    folder takes every entry from a cache filled by a build of the originals, and gives
    the dataset, summary and warnings of the originals, the hyphen locks at the copy."""
    sources = copied[0]
    again = build_cache.BuildCache(_copy_of(copied[1], tmp_path))
    cached = build.assemble(sources, cache=again)
    ids = [p.name for p in sorted(sources.iterdir()) if p.is_dir() and p.name[0] not in "._"]
    assert sorted(again.reused) == sorted([*((stage, i) for stage in STAGES for i in ids),
                                           ("registers", build_cache.CORPUS_ENTRY)])
    assert cached.files == built.files
    assert cached.summary == built.summary
    assert cached.locks == {sources / path.relative_to(SOURCES): data
                            for path, data in built.locks.items()}
    assert cached.warnings == [w.replace(str(SOURCES), str(sources)) for w in built.warnings]


def test_a_comment_in_a_source_toml_changes_nothing(built, copied, tmp_path):
    """A source is keyed by its metadata as loaded: a comment added to its source.toml
    leaves every entry valid, and the files those of the sources without it."""
    sources = copied[0]
    _copy_of(copied[1], tmp_path)
    folder = sorted(p for p in sources.iterdir() if p.is_dir() and p.name[0] not in "._")[-1]
    with edited(folder / "source.toml"):
        with (folder / "source.toml").open("a", encoding="utf-8") as out:
            out.write("\n# an edit that changes the file, not the dataset\n")
        again = build_cache.BuildCache(tmp_path / "cache")
        cached = build.assemble(sources, cache=again)
        ids = [p.name for p in sorted(sources.iterdir())
               if p.is_dir() and p.name[0] not in "._"]
        assert sorted(again.reused) == sorted([*((stage, i) for stage in STAGES for i in ids),
                                               ("registers", build_cache.CORPUS_ENTRY)])
        assert cached.files == built.files


def test_an_edit_to_one_source_recomputes_that_source_only(copied, tmp_path):
    """An edit to a source's metadata as loaded (the title of review) or to one of its
    other files (a comment in the letters decisions of papers, which the letters step
    reads itself): those sources are built again, with the registers; the others are
    reused, and the files are a cold build's."""
    sources = copied[0]
    _copy_of(copied[1], tmp_path)
    metadata = sources / "review" / "source.toml"
    with edited(metadata, sources / "papers" / "letters.toml"):
        text = metadata.read_text(encoding="utf-8")
        assert '\ntitle = "[Review of' in text
        metadata.write_text(text.replace('\ntitle = "[Review of', '\ntitle = "[A review of'),
                            encoding="utf-8")
        with (sources / "papers" / "letters.toml").open("a", encoding="utf-8") as out:
            out.write("\n# a comment\n")
        again = build_cache.BuildCache(tmp_path / "cache")
        cached = build.assemble(sources, cache=again)
        reused_ids = {source_id for _, source_id in again.reused}
        assert {"review", "papers", build_cache.CORPUS_ENTRY}.isdisjoint(reused_ids)
        assert reused_ids == {p.name for p in sources.iterdir()
                              if p.is_dir() and p.name[0] not in "._"} - {"review", "papers"}
        assert cached.files == build.assemble(sources).files     # the cold build
        # the entries of the old state of the edited sources are gone, one per stage is left
        for stage in STAGES:
            for source_id in ("review", "papers"):
                assert len(list((tmp_path / "cache" / stage).glob(f"{source_id}.*.pickle"))) == 1
        assert len(list((tmp_path / "cache" / "registers").glob("*.pickle"))) == 1


def test_a_changed_vocabulary_count_invalidates_the_texts_that_read_it(filled, tmp_path):
    """A cleaned text depends on the corpus vocabulary through the words its hyphen rule
    looked up: when one of their counts changes, the text is cleaned again."""
    _copy_of(filled[0], tmp_path)
    texts = {p.name.split(".")[0]: p for p in (tmp_path / "cache" / "text").glob("*.pickle")}
    # a text entry: what each per-source stage made, by stage; the clean stage's is
    # (cleaned text, the vocabulary words it read with their counts)
    readers = {i: pickle.loads(p.read_bytes())["clean"][1] for i, p in texts.items()}
    reader = next(i for i, reads in sorted(readers.items()) if reads)
    word = sorted(readers[reader])[0]
    # another source's vocabulary entry now counts that word once more
    entries = {p.name.split(".")[0]: p
               for p in (tmp_path / "cache" / "vocabulary").glob("*.pickle")}
    other = next(p for i, p in sorted(entries.items()) if i != reader)
    counts = pickle.loads(other.read_bytes())
    counts[word] += 1
    other.write_bytes(pickle.dumps(counts))
    again = build_cache.BuildCache(tmp_path / "cache")
    build.assemble(SOURCES, cache=again)
    assert ("vocabulary", other.name.split(".")[0]) in again.reused
    assert ("text", reader) not in again.reused
    new_reads = pickle.loads(next((tmp_path / "cache" / "text").glob(f"{reader}.*.pickle"))
                             .read_bytes())["clean"][1]
    assert new_reads[word] == readers[reader][word] + 1


def test_a_changed_pipeline_or_a_broken_entry_is_never_read(built, filled, tmp_path,
                                                            monkeypatch):
    _copy_of(filled[0], tmp_path)
    for entry in (tmp_path / "cache" / "tei").glob("*.pickle"):
        entry.write_bytes(entry.read_bytes()[:20])               # truncated
    broken = build_cache.BuildCache(tmp_path / "cache")
    assert build.assemble(SOURCES, cache=broken).files == built.files
    assert not [stage for stage, _ in broken.reused if stage == "tei"]
    assert [stage for stage, _ in broken.reused if stage == "text"]
    monkeypatch.setattr(build_cache, "code_digest", lambda: "another pipeline")
    changed = build_cache.BuildCache(tmp_path / "cache")
    assert build.assemble(SOURCES, cache=changed).files == built.files
    assert changed.reused == []


def test_the_cli_caches_in_the_folder_named_and_no_cache_writes_nothing(filled, tmp_path,
                                                                        monkeypatch):
    """The folder named by the environment is the cache: with --no-cache nothing in it is
    read or written; without, a build reads its entries and writes the missing ones
    (here review's, removed from a filled cache), and the files are the cold build's,
    which are those of the build that filled the cache from empty."""
    folder = _copy_of(filled[0], tmp_path)
    for entry in folder.glob("*/review.*.pickle"):
        entry.unlink()
    assert (folder / "CACHEDIR.TAG").is_file() and not list(folder.glob("tei/review.*"))
    before = _tree(folder)
    monkeypatch.setenv(build_cache.CACHE_ENV, str(folder))
    runner = CliRunner()
    result = runner.invoke(main, ["build", "--sources", str(SOURCES), "--out",
                                  str(tmp_path / "cold"), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert _tree(folder) == before
    assert _tree(tmp_path / "cold") == {**filled[2].files,
                                        publish.MARKER: publish.MARKER_TEXT.encode()}
    result = runner.invoke(main, ["build", "--sources", str(SOURCES), "--out",
                                  str(tmp_path / "cached")])
    assert result.exit_code == 0, result.output
    assert len(list(folder.glob("tei/review.*.pickle"))) == 1
    assert _tree(tmp_path / "cached") == _tree(tmp_path / "cold")


def test_the_default_cache_is_in_the_repository_holding_the_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(build_cache.CACHE_ENV, raising=False)
    assert build_cache.default_folder(SOURCES) == SOURCES.parent / ".cache" / "sergetrotsky"
    assert build_cache.default_folder(tmp_path) is None     # outside a repository: none
    monkeypatch.setenv(build_cache.CACHE_ENV, str(tmp_path / "c"))
    assert build_cache.default_folder(SOURCES) == tmp_path / "c"


FINGERPRINTED = """
import sys
from dataclasses import dataclass
from pathlib import Path
from sergetrotsky.cache import fingerprint

@dataclass
class Entry:
    name: str
    forms: set
    where: tuple

values = [
    {"persons": [{"id": "serge", "forms": {"Serge", "Kibalchich", "Victor Serge"}}]},
    [Entry("nin", {"Nin", "Andrés Nin"}, (1, 2.5, None, True)), Path("a/b"), b"\\x00\\xff"],
    {("tuple", "key"): frozenset({"x", "y", "z"})},       # not JSON: walked
]
print(" ".join(fingerprint(v) for v in values))
"""


def test_fingerprints_are_the_same_in_every_process_and_tell_values_apart(tmp_path):
    """A cache key made in one process is the one made in another (sets hashed in another
    order), and a changed value gives another key."""
    import os
    import subprocess
    import sys

    script = tmp_path / "fingerprints.py"
    script.write_text(FINGERPRINTED, encoding="utf-8")
    runs = {subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "3")}
    assert len(runs) == 1
    digests = runs.pop().split()
    assert len(set(digests)) == 3
    fp = build_cache.fingerprint
    assert fp({"a": 1}) != fp({"a": 1.0}) != fp({"a": "1"}) != fp({"a": True})
    assert fp([{"x"}, "y"]) != fp([{"y"}, "x"])
    assert fp({(1, 2): {"a"}}) != fp({(1, 2): {"b"}})


def test_a_comment_in_a_segment_toml_changes_nothing_and_a_changed_outline_is_read(
        built, copied, tmp_path):
    """A source is keyed by its segment.toml as parsed (the outline and its declared
    letters: nothing else of the file is read, and a problem, which names a line, is never
    cached): a comment added to papers' leaves every entry valid and the files a cold
    build's; a unit's title changed there builds papers again, with the new title."""
    sources = copied[0]
    _copy_of(copied[1], tmp_path)
    outline = sources / "papers" / "segment.toml"
    ids = [p.name for p in sorted(sources.iterdir()) if p.is_dir() and p.name[0] not in "._"]
    with edited(outline):
        with outline.open("a", encoding="utf-8") as out:
            out.write("\n# an edit that changes the file, not the dataset\n")
        again = build_cache.BuildCache(tmp_path / "cache")
        cached = build.assemble(sources, cache=again)
        assert sorted(again.reused) == sorted([*((stage, i) for stage in STAGES for i in ids),
                                               ("registers", build_cache.CORPUS_ENTRY)])
        assert cached.files == built.files
        text = outline.read_text(encoding="utf-8")
        assert 'title = "[Cover]"' in text
        outline.write_text(text.replace('title = "[Cover]"', 'title = "[Front cover]"'),
                           encoding="utf-8")
        again = build_cache.BuildCache(tmp_path / "cache")
        changed = build.assemble(sources, cache=again)
        assert not [stage for stage, i in again.reused if i == "papers"]
        assert b"papers-cover,papers,papers,front,1,[Front cover]," \
            in changed.files["data/documents.csv"]
