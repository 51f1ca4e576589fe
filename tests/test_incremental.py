"""Incremental builds (issue 18): an edit to one source's text rebuilds that source's
share only and gives a cold build's bytes; metadata files found valid before are not
checked again, and a changed one is, with the same coded and located problems. Nothing
here is timed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sergetrotsky import build, mentions, notes, sources
from sergetrotsky import cache as build_cache
from sergetrotsky.errors import BuildFailed

from .conftest import SOURCES, edited

# The per-source stages of the cache (tests/test_cache.py), each source's entry reused or not
STAGES = ("vocabulary", "text", "letters", "mentions", "documents", "rows", "texts",
          "tei")


@pytest.fixture(scope="module")
def cold_after_a_word(copied):
    """A cold build of the copy with one word of papers changed (``_change_a_word``), for
    the tests that build the same edit from the cache."""
    folder = copied[0]
    with edited(_original(folder, "papers")):
        _change_a_word(_original(folder, "papers"))
        return build.assemble(folder)


def _source_ids(folder):
    return {p.name for p in folder.iterdir() if p.is_dir() and p.name[0] not in "._"}


def test_a_word_changed_in_papers_rebuilds_papers_only_and_gives_a_cold_builds_bytes(
        copied, cold_after_a_word, tmp_path, monkeypatch):
    """A contributor's correction: one word of papers' original made longer, early in the
    text, so that every later offset of papers moves, and with them the registers'
    evidence passages in papers (``document_id@offset``). The other sources' entries are
    all reused (their mentions and TEI do not read the evidence); papers' TEI is made in
    a forked child while the tables are made; the files are a cold build's. No --jobs
    given, as the command is mostly run: with two cores, a build from a filled cache forks
    its children (``build._built_before``)."""
    folder, cache, first = copied
    shutil.copytree(cache, tmp_path / "cache")
    forked = _spy_forks(monkeypatch)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with edited(_original(folder, "papers")):
        _change_a_word(_original(folder, "papers"))
        store = build_cache.BuildCache(tmp_path / "cache")
        cached = build.assemble(folder, cache=store, jobs=None)
    cold = cold_after_a_word
    assert cached.files == cold.files
    assert (cached.summary, cached.locks, cached.warnings) == \
        (cold.summary, cold.locks, cold.warnings)
    # the evidence moved: the registers are not the first build's
    registers = ("data/places.csv", "data/organisations.csv", "data/persons.csv")
    assert [cold.files[path] for path in registers] != [first.files[path] for path in registers]
    others = _source_ids(folder) - {"papers"}
    assert {(stage, i) for stage in STAGES for i in others} <= set(store.reused)
    assert not [stage for stage, i in store.reused if i == "papers"]
    # papers' vocabulary counted in a child while its text was cleaned with its counts of
    # the build before (the words the cleaning read count the same); its letters,
    # mentions and TEI made ahead, in one child, while the registers were built: the
    # registers' names are unchanged, its results were taken
    assert forked == [("_vocabulary", "papers"), ("_ahead", "papers")]
    # (from an empty cache, or with one core, the default is one process)
    assert not build._built_before(build_cache.BuildCache(tmp_path / "empty"))
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not build._built_before(store)
    # the name index's compiled pattern the child read is kept for the next build, and
    # papers' text entries, which the child wrote, are there for it
    assert list((tmp_path / "cache" / "patterns").glob("*.pickle"))
    for stage in ("vocabulary", "text"):
        assert len(list((tmp_path / "cache" / stage).glob("papers.*.pickle"))) == 1


def test_results_made_ahead_with_other_registers_are_not_taken(copied, cold_after_a_word,
                                                              tmp_path, monkeypatch):
    """The child of build._begin_ahead works from the previous build's registers: when
    they differ from this build's in what the mentions and the TEI read (here a person's
    name changed in the cached entry), its results are left and papers' TEI is made
    from this build's registers: the files are a cold build's."""
    import pickle

    folder, cache, _ = copied
    shutil.copytree(cache, tmp_path / "cache")
    entry = next((tmp_path / "cache" / "registers").glob("*.pickle"))
    index_rows, persons, places, organisations = pickle.loads(entry.read_bytes())
    persons[0] = {**persons[0], "name": persons[0]["name"] + " Jr."}
    entry.write_bytes(pickle.dumps((index_rows, persons, places, organisations)))
    forked = _spy_forks(monkeypatch)
    with edited(_original(folder, "papers")):
        _change_a_word(_original(folder, "papers"))
        cached = build.assemble(folder, cache=build_cache.BuildCache(tmp_path / "cache"),
                                jobs=2)
    assert cached.files == cold_after_a_word.files
    assert forked == [("_vocabulary", "papers"), ("_ahead", "papers"), ("_encode_tei", "papers")]


@pytest.mark.e2e     # the script as a program: `make test-e2e` (pyproject.toml)
def test_the_script_ends_a_build_after_an_edit_with_everything_written(copied, tmp_path):
    """The ``sergetrotsky`` script ends a build with os._exit (``cli._leave``): after a
    word changed in papers (children make its vocabulary, mentions and TEI, and write cache
    entries), its output, exit code, dataset and cache are those of ``python -m
    sergetrotsky``, which ends as usual, from a copy of the same cache."""
    folder, cache, _ = copied
    out = tmp_path / "dist"
    runs = {}
    with edited(_original(folder, "papers")):
        _change_a_word(_original(folder, "papers"))
        for name, command in (("script", [str(Path(sys.executable).parent / "sergetrotsky")]),
                              ("module", [sys.executable, "-m", "sergetrotsky"])):
            own = tmp_path / f"cache-{name}"
            shutil.copytree(cache, own)
            done = subprocess.run([*command, "build", "--sources", str(folder), "--out",
                                   str(out), "--jobs", "2"], capture_output=True, text=True,
                                  env={**os.environ, build_cache.CACHE_ENV: str(own)})
            runs[name] = (done.returncode, done.stdout, done.stderr,
                          {p.relative_to(out).as_posix(): p.read_bytes()
                           for p in sorted(out.rglob("*")) if p.is_file()},
                          sorted(p.relative_to(own).as_posix() for p in own.rglob("*")))
    assert runs["script"][0] == 0, runs["script"][2]
    assert "wrote" in runs["script"][1]
    assert runs["script"] == runs["module"]


def _original(folder, source_id):
    return folder / source_id / sources.load_source(folder / source_id).original_file


def _change_a_word(original):
    """One word of an original made longer, early in the text (every later offset moves)."""
    text = original.read_text(encoding="utf-8")
    at = text.index(" the ", len(text) // 10)
    original.write_text(text[:at] + " thee " + text[at + len(" the "):], encoding="utf-8")


def _spy_forks(monkeypatch):
    """The children build._Forked starts: (what it runs, the source it is for)."""
    forked = []

    class Spied(build._Forked):
        def __init__(self, function, *args, **options):
            source = next(getattr(a, "source_id", None) for a in args
                          if getattr(a, "source_id", None))
            function_run = getattr(function, "function", function)   # (a _Guarded one's)
            forked.append((function_run.__name__, source))
            super().__init__(function, *args, **options)

    monkeypatch.setattr(build, "_Forked", Spied)
    return forked


def test_a_child_that_gives_no_result_is_replaced_by_the_call_here():
    """``_Forked``: a child killed before it answers (here it kills itself) costs the
    call being made in this process, never a missing or wrong result."""
    parent = os.getpid()

    def answer(x):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return x * 2

    assert build._Forked(answer, 21).result() == 42
    assert build._Forked(lambda: os.getpid()).result() != parent   # made in the child


def _schemas_checked(monkeypatch) -> list[str]:
    """The names of the metadata schemas this process checks a file against, as they are
    checked (sources._validator spied on)."""
    checked: list[str] = []
    real = sources._validator

    def spied(name):
        checked.append(name)
        return real(name)

    monkeypatch.setattr(sources, "_validator", spied)
    return checked


def test_metadata_found_valid_is_not_checked_again_and_a_changed_file_is(copied, tmp_path,
                                                                         monkeypatch):
    """The cache records the metadata files found valid (their bytes with their schema's)
    and as parsed: a build with nothing changed runs no schema check and parses none of
    them again; an edit that breaks a file is
    reported as a cold build reports it (code, file, line, field), and the file is still
    checked in the next build (only valid files are recorded)."""
    folder, cache, _ = copied
    shutil.copytree(cache, tmp_path / "cache")
    checked = _schemas_checked(monkeypatch)
    parsed = []
    parse = sources.tomllib.loads
    monkeypatch.setattr(sources.tomllib, "loads", lambda text: parsed.append(text) or parse(text))
    build.assemble(folder, cache=build_cache.BuildCache(tmp_path / "cache"))
    assert checked == []
    metadata = [p.read_text(encoding="utf-8") for p in folder.glob("*/*.toml")
                if p.name in ("source.toml", "segment.toml", "persons.toml", "places.toml")]
    assert metadata and not [text for text in parsed if text in metadata]
    persons = folder / "_registry" / "persons.toml"
    with edited(persons):
        text = persons.read_text(encoding="utf-8")
        first_entry = text.index("[[person]]")
        line = text.count("\n", 0, first_entry) + 2
        persons.write_text(text[:first_entry] + "[[person]]\nsurname = 'X'\n"
                           + text[first_entry + len("[[person]]\n"):], encoding="utf-8")
        problems = []
        for store in (build_cache.BuildCache(tmp_path / "cache"), None,
                      build_cache.BuildCache(tmp_path / "cache")):
            with pytest.raises(BuildFailed) as failed:
                build.assemble(folder, cache=store)
            problems.append([p.render() for p in failed.value.problems])
    assert problems[0] == problems[1] == problems[2]          # cached, cold, cached again
    assert any(r.startswith(f"E102 {persons}:{line} ") and "surname" in r
               for r in problems[0])
    assert checked.count("persons") == 3
    checked.clear()
    build.assemble(folder, cache=build_cache.BuildCache(tmp_path / "cache"))
    assert checked == []            # the file as it was: recorded valid before the edit


def test_the_units_at_an_offset_are_found_by_bisection_as_by_the_loop():
    """mentions._Spans (the innermost unit and whether the offset is skipped, by
    bisection) answers as the loop over every unit does, at every bound of every unit of
    every real source, one character either side, and at each letter's dateline."""
    corpus = build.build_corpus(SOURCES, build.load_metadata(SOURCES))
    for b in corpus.builds:
        seg, units = b.segmented, b.segmented.units
        skipped = [(u.start, u.end) for u in units if u.type in mentions.SKIPPED_UNIT_TYPES]
        skipped += [(start, end) for start, end, _ in mentions.dateline_places(seg.text,
                                                                              b.letters)]
        spans = mentions._Spans(units, skipped)
        offsets = {o + d for u in units for o in (u.start, u.end) for d in (-1, 0, 1)}
        offsets |= {o for span in skipped for o in span} | {-1, len(seg.text) + 1}
        for offset in sorted(offsets):
            assert spans.innermost(offset) is mentions._innermost(units, offset), offset
            assert spans.skipped(offset) == any(s <= offset < e for s, e in skipped), offset


def test_the_reading_texts_found_by_bisection_are_those_of_the_loop(sources, segmented):
    """notes.reading_texts (the cuts inside each unit found by bisection) gives each unit
    of every real source the reading text of notes.reading_text with every cut."""
    for source in sources:
        seg = segmented[source.source_id]
        cuts = notes.reading_cuts(seg.text, notes.extract_notes(source, seg))
        spans = [(u.start, u.end) for u in seg.units]
        assert list(notes.reading_texts(seg.text, spans, cuts)) == \
            [notes.reading_text(seg.text, start, end, cuts) for start, end in spans]


def test_a_pattern_compiled_from_the_cache_finds_what_re_compile_finds(segmented, tmp_path):
    """build._compiled: the name index's pattern of the real registers, compiled once
    (its program put in the cache) and then from the cache, finds every match re.compile
    finds in every real text; a broken entry is compiled the plain way."""
    import pickle
    import re

    from sergetrotsky.names import NameIndex

    corpus = build.build_corpus(SOURCES, build.load_metadata(SOURCES))
    index = NameIndex(corpus.persons, corpus.places, corpus.organisations,
                      corpus.decisions.family_names, corpus.decisions.form_owners)
    source, made_of = index.pattern_source, "\n".join(sorted(index.searched))
    made = []

    def make():
        made.append(source)
        return source

    first = build._compiled(build_cache.BuildCache(tmp_path / "cache"), made_of, make)
    entries = list((tmp_path / "cache" / "patterns").glob("*.pickle"))
    assert len(entries) == 1 and len(pickle.loads(entries[0].read_bytes())[1][1]) > 1000
    again = build._compiled(build_cache.BuildCache(tmp_path / "cache"), made_of, make)
    assert len(made) == 1                        # the second: text and program from the cache
    entries[0].write_bytes(pickle.dumps((source, (0, [1, 2, 3], 0, {}, (None,)))))
    broken = build._compiled(build_cache.BuildCache(tmp_path / "cache"), made_of, make)
    plain = re.compile(source)
    found = 0
    for seg in segmented.values():
        spans = [m.span() for m in plain.finditer(seg.text)]
        found += len(spans)
        for pattern in (first, again, broken):
            assert [m.span() for m in pattern.finditer(seg.text)] == spans
    assert found


def test_a_mention_pickles_to_itself():
    """mentions.Mention is pickled as the call that makes it (the cache holds thousands):
    every field comes back, the dateline flag too."""
    import pickle

    found = [mentions.Mention("papers", "papers-letter-1", "place", "mexico-city", 120,
                              "Mexico", in_dateline=True),
             mentions.Mention("papers", "papers-letter-1", "person", "serge", 7, "Serge")]
    assert pickle.loads(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)) == found
    assert [m.in_dateline for m in pickle.loads(pickle.dumps(found))] == [True, False]


def test_a_tei_made_in_a_child_fails_the_build_as_in_its_turn(copied, tmp_path, monkeypatch):
    """The edited source's TEI, made in a child, is taken when the descriptor needs it
    (the CMIF is made meanwhile): when both fail, the build reports the TEI's problem
    (E450, stage tei), as a build in one process, which made them in turn, does."""
    from sergetrotsky.errors import PipelineError

    folder, cache, _ = copied
    for jobs in (1, 2):
        shutil.copytree(cache, tmp_path / f"cache{jobs}")

    def broken_tei(made, *args):
        raise PipelineError("a TEI that cannot be made", file=str(made.source.folder))

    def broken_cmif(*args):     # a generator, as cmif_chunks: it fails as it is written
        raise PipelineError("a CMIF that cannot be made", file="dataset.toml")
        yield b""

    monkeypatch.setattr(build, "_encode_tei", broken_tei)
    monkeypatch.setattr(build.cmif, "cmif_chunks", broken_cmif)
    failures = []
    with edited(_original(folder, "papers")):
        _change_a_word(_original(folder, "papers"))
        for jobs in (2, 1):
            with pytest.raises(BuildFailed) as failed:
                build.assemble(folder, cache=build_cache.BuildCache(tmp_path / f"cache{jobs}"),
                               jobs=jobs)
            failures.append((failed.value.stage, [p.render() for p in failed.value.problems]))
    assert failures[0] == failures[1]
    assert failures[0][0] == "tei" and failures[0][1][0].startswith("E450 ")


def test_a_changed_segment_toml_is_checked_in_a_child_while_the_stages_run(copied, tmp_path,
                                                                           monkeypatch):
    """With workers and the cache, a metadata file changed since it was found valid (a
    comment added to nelson's segment.toml) is checked against its schema in a child
    while the per-source stages run here: this process checks nothing, the files are a
    cold build's, and the next build takes the file as recorded valid."""
    folder, cache, _ = copied
    shutil.copytree(cache, tmp_path / "cache")
    checked = _schemas_checked(monkeypatch)
    outline = folder / "nelson" / "segment.toml"
    with edited(outline):
        with outline.open("a", encoding="utf-8") as out:
            out.write("\n# an edit\n")
        cached = build.assemble(folder, cache=build_cache.BuildCache(tmp_path / "cache"),
                                jobs=2)
        assert checked == []                # the check ran in the child
        # a comment: the files of the build before the edit (a cold one's, test_cache)
        assert cached.files == copied[2].files
        checked.clear()
        build.assemble(folder, cache=build_cache.BuildCache(tmp_path / "cache"), jobs=1)
        assert checked == []                # recorded valid by the build before


@pytest.mark.parametrize("broken", [
    ('top_type = "article"', 'top_type = "article"\nsurname = "x"'),      # an unknown key
    ('units = [', 'units = "none"\nunits_were = ['),                       # not a list
])
def test_a_segment_toml_that_breaks_its_schema_is_reported_as_ever(copied, tmp_path, broken):
    """A changed segment.toml checked meanwhile (workers and the cache) that breaks its
    schema: the build stops at the metadata stage with the problems a build in one
    process without the cache reports (code, file, line, field), whatever the stages
    made of the broken outline meanwhile, and writes no cache entry from it."""
    folder, cache, _ = copied
    shutil.copytree(cache, tmp_path / "cache")
    before = sorted(p.name for p in (tmp_path / "cache").rglob("*.pickle"))
    outline = folder / "nelson" / "segment.toml"
    with edited(outline):
        text = outline.read_text(encoding="utf-8")
        assert broken[0] in text
        outline.write_text(text.replace(broken[0], broken[1], 1), encoding="utf-8")
        reports = []
        for jobs, store in ((2, build_cache.BuildCache(tmp_path / "cache")), (1, None)):
            with pytest.raises(BuildFailed) as failed:
                build.assemble(folder, cache=store, jobs=jobs)
            reports.append((failed.value.stage, [p.render() for p in failed.value.problems]))
    assert reports[0] == reports[1]
    assert reports[0][0] == "metadata"
    assert all(r.startswith(("E101 ", "E102 ", "E103 ")) and str(outline) in r
               for r in reports[0][1])
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.pickle")) == before


def test_no_process_to_fork_costs_the_call_being_made_here(monkeypatch):
    """``_Forked`` where the system gives no process (os.fork fails): the result is the
    call made here, and a stream sends nothing (its results are made here by the
    caller)."""
    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(build.os, "fork", no_fork)
    assert build._Forked(lambda x: x + 1, 41).result() == 42
    streamed = build._Forked(lambda: iter([1, 2]), stream=True)
    assert streamed.next() == (False, None)
    streamed.cancel()


def test_a_text_cleaned_with_counts_that_were_not_the_corpus_is_cleaned_again(
        copied, tmp_path, monkeypatch):
    """After an edit to a source, its vocabulary is counted in a child while its text is
    cleaned with its counts of the build before: when one of those counts, for a word
    the cleaning reads (a source whose line-end hyphens look words up), is not this
    build's (here made one more in the entry), the text is cleaned again with this
    build's counts; the files are a build's in one process (which counts first)."""
    import pickle

    folder, cache, _ = copied
    for jobs in (1, 2):
        shutil.copytree(cache, tmp_path / f"cache{jobs}")
    texts = {p.name.split(".")[0]: p for p in (tmp_path / "cache2" / "text").glob("*.pickle")}
    readers = {i: pickle.loads(p.read_bytes())["clean"][1] for i, p in texts.items()}
    reader = next(i for i, reads in sorted(readers.items()) if reads)
    word = sorted(readers[reader])[0]
    previous = next((tmp_path / "cache2" / "vocabulary").glob(f"{reader}.*.pickle"))
    counts = pickle.loads(previous.read_bytes())
    counts[word] += 1
    previous.write_bytes(pickle.dumps(counts))
    made: list[str] = []
    texts_made = build._texts

    def counted_texts(*args):
        made.append("texts")
        return texts_made(*args)

    monkeypatch.setattr(build, "_texts", counted_texts)
    forked = _spy_forks(monkeypatch)
    results = {}
    with edited(_original(folder, reader)):
        _change_a_word(_original(folder, reader))
        for jobs in (2, 1):
            results[jobs] = build.assemble(
                folder, cache=build_cache.BuildCache(tmp_path / f"cache{jobs}"), jobs=jobs)
    assert forked[0] == ("_vocabulary", reader)
    assert len(made) == 3          # with workers: guessed, then again; in one process: once
    assert results[2].files == results[1].files
    assert results[2].summary == results[1].summary


def test_the_words_in_lower_case_found_by_piece_are_those_of_the_whole_text(segmented):
    """The name index reads the words a text writes in lower case; found piece by piece
    (between unit edges where a blank is on either side), each piece's taken from an
    earlier count where the piece is the same, they are those of the whole text, also
    after a word of one piece is changed."""
    from sergetrotsky import names

    def whole(text):
        return {w for w in set(names.WORDS.findall(text)) if w.islower()}

    for seg in segmented.values():
        edges = [edge for u in seg.units for edge in (u.start, u.end)]
        made: dict = {}
        assert names.lowercase_words(seg.text, edges, {}, made) == whole(seg.text)
        at = seg.text.index(" the ", len(seg.text) // 3)
        changed = seg.text[:at] + " thee " + seg.text[at + 5:]
        shifted = [edge + (edge > at) for edge in edges]
        again: dict = {}
        assert names.lowercase_words(changed, shifted, made, again) == whole(changed)
        assert "thee" in whole(changed) and len(set(again) - set(made)) <= 2
