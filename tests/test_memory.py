"""The build's memory does not grow with the corpus (issue 18): each source's bulky
results (cleaned text, unit tree, notes, letters, mentions, original, outline) are kept
on disk between the steps that read them (pipeline/spill.py), each source's files go to
the staging folder as they are made, tables are written in parts, and the pool is given
work only a little ahead of the results taken. Nothing here is timed or measured in
bytes: the tests check where things are, and that they are the same things."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from sergetrotsky import build, cmif, package, publish, tei
from sergetrotsky.spill import SPILLED

from .conftest import SOURCES

BULKY = ("cleaned", "segmented", "notes", "letters", "mentions")


def _dump(value: object) -> bytes:
    """A result's bytes: a dataclass by its fields (as tests/test_build.py compares)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    return pickle.dumps(value)


@pytest.fixture(scope="module")
def plain():
    """The corpus built with everything in memory (no spill)."""
    return build.build_corpus(SOURCES, build.load_metadata(SOURCES))


def _assert_spilled_as_made(corpus, plain) -> None:
    """A spilled corpus (its build's results on disk while the build runs): no source's
    text in it, and what it reads back is what the held corpus (``plain``) made."""
    assert [b.source_id for b in corpus.builds] == [b.source_id for b in plain.builds]
    for spilled, held in zip(corpus.builds, plain.builds, strict=True):
        for name in BULKY:     # on disk, not in the build ...
            assert spilled.__dict__[name] is SPILLED, (spilled.source_id, name)
            # ... and read back as made (letters and mentions by their equality: their
            # pickles may differ in what they share once read back)
            if name in ("letters", "mentions"):
                assert getattr(spilled, name) == getattr(held, name), name
            else:
                assert _dump(getattr(spilled, name)) == _dump(getattr(held, name)), name
        for name in ("original_bytes", "segment"):     # the source's own bulk
            assert spilled.source.__dict__[name] is SPILLED, (spilled.source_id, name)
            assert getattr(spilled.source, name) == getattr(held.source, name)
        assert spilled.source.sha256 == held.source.sha256
    # the big per-source tables are kept per source in the spill, not as rows
    for name in ("documents", "removals", "layout_traces", "index_terms"):
        rows = corpus.table(name).rows
        assert not isinstance(rows, list)
        assert list(rows) == list(plain.table(name).rows)
        assert len(rows) == len(plain.table(name).rows)


def test_a_spilled_build_holds_no_source_text_and_stages_each_source_tei_in_turn(
        plain, built, tmp_path, monkeypatch):
    """A build with one process of the sources as a large corpus is built: the corpus it
    exports holds no source's text, and reads back what was made (``plain``); a source's
    TEI file is in the staging folder when the next source's TEI is made (it is not held
    until the end), and the tables are there already; the spill folder is beside the
    staging folder while the build runs, and gone after it (a killed build's is removed
    by the next build into the folder). The files are the session build's
    (``test_a_spilled_build_gives_the_bytes_of_a_held_one`` with two processes)."""
    export = build.export
    exported = []

    def look_and_export(corpus, *args, **kwargs):
        _assert_spilled_as_made(corpus, plain)
        exported.append(corpus.builds[0].source_id)
        return export(corpus, *args, **kwargs)

    monkeypatch.setattr(build, "export", look_and_export)
    encode = tei.encode_source
    seen: list[tuple[str, list[str], bool]] = []
    spills: list[list[str]] = []

    def encode_and_look(ctx, *args, **kwargs):
        staged_tei = staged.folder / "tei"
        present = sorted(p.name for p in staged_tei.glob("*.xml")) if staged_tei.is_dir() else []
        seen.append((ctx.source.source_id, present,
                     (staged.folder / "data" / "documents.csv").is_file()))
        spills.append([p.name for p in tmp_path.glob(f"{staged.folder.name}-spill-*")])
        return encode(ctx, *args, **kwargs)

    monkeypatch.setattr(tei, "encode_source", encode_and_look)
    monkeypatch.setattr(build, "SPILL_ABOVE", 0)    # the spill as for a large corpus
    with publish.OutputFolder(tmp_path / "dist", SOURCES) as out:
        staged = out.stage()
        result = build.assemble(SOURCES, jobs=1, files=staged)
        _assert_built(result, staged, built)
        out.commit(staged)
    assert exported
    assert len(seen) >= 2
    for i, (source_id, present, tables) in enumerate(seen):
        assert present == sorted(f"{s}.xml" for s, _, _ in seen[:i]), source_id
        assert tables
    assert (tmp_path / "dist" / package.tei_path(seen[-1][0])).is_file()
    assert all(len(names) == 1 for names in spills)
    assert not [p for p in tmp_path.iterdir() if "-spill-" in p.name]
    # what a build killed mid-way leaves is removed by the next one
    left = tmp_path / spills[0][0]
    left.mkdir()
    (left / "papers.cleaned.pickle").write_bytes(b"")
    with publish.OutputFolder(tmp_path / "dist", SOURCES):
        assert not left.exists()


def _assert_built(result, staged, built):
    """A build's summary and staged files are the session build's."""
    assert result.summary == built.summary
    assert sorted(staged) == sorted(built.files)
    assert [rel for rel in staged if staged[rel] != built.files[rel]] == []


def test_a_spilled_build_gives_the_bytes_of_a_held_one(built, tmp_path, monkeypatch):
    """The sources built as a large corpus is (its sources' results on disk, the files
    staged in parts), in two processes: the bytes of the session's build (which holds
    everything when the sources are under ``SPILL_ABOVE``). With one process: above."""
    monkeypatch.setattr(build, "SPILL_ABOVE", 0)
    with publish.OutputFolder(tmp_path / "dist", SOURCES) as out:
        staged = out.stage()
        _assert_built(build.assemble(SOURCES, jobs=2, files=staged), staged, built)


def test_the_pool_takes_work_two_tasks_per_worker_ahead_of_the_results():
    taken: list[int] = []

    def items():
        for i in range(12):
            taken.append(i)
            yield -i

    pool = build._Pool(2)
    try:
        results = pool.map(abs, items())
        first = next(results)
        assert len(taken) == 4          # two per worker given out, no more
        rest = list(results)
    finally:
        pool.release()
    assert [first, *rest] == list(range(12))


def test_tables_written_in_parts_are_the_tables(plain, built, tmp_path, monkeypatch):
    """Each table made in parts of a few rows (so that most tables are several parts),
    written into a staging folder part by part: the files of the build, with the hash and
    size the descriptor records."""
    monkeypatch.setattr(package, "CSV_CHUNK_ROWS", 7)
    with publish.OutputFolder(tmp_path / "dist", SOURCES) as out:
        staged = out.stage()
        parted = 0
        for table in plain.tables:
            chunks = list(package.csv_chunks(table))
            parted += len(chunks) > 1
            assert b"".join(chunks) == built.files[table.path]
            staged.write_chunks(table.path, iter(chunks))
            assert staged[table.path] == built.files[table.path]
            assert staged.facts(table.path) == package.file_facts(built.files[table.path])
    assert parted


def test_cmif_written_letter_by_letter_is_the_cmif_file(plain, built):
    """cmif.xml in parts (one per letter, each made as it is written) is the file as
    one tree writes it."""
    args = (plain.letter_rows, plain.persons, plain.places, plain.table("sources").rows,
            plain.meta)
    chunks = list(cmif.cmif_chunks(*args))
    assert len(chunks) == len(plain.letter_rows) + 2
    assert b"".join(chunks) == cmif.cmif_xml(*args) == built.files["cmif.xml"]
