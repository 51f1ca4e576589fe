"""Building the dataset: a valid data package, atomic writes, reproducible bytes,
one clear line (never a traceback) for a user's mistake."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sergetrotsky import build, publish
from sergetrotsky.cache import BuildCache
from sergetrotsky.cli import main
from sergetrotsky.errors import BuildFailed

from .conftest import ROOT, SOURCES


def _table(built, name):
    return list(csv.DictReader(io.StringIO(built.files[f"data/{name}.csv"].decode("utf-8"))))


def test_datapackage_is_valid_under_frictionless(dist):
    """Every table of the built dataset, the letters and organisations among them: types,
    enums, patterns, primary and foreign keys (to documents, persons, places, sources)
    all hold under frictionless."""
    from frictionless import Package, validate  # here: importing it takes a worker 0.1 s

    report = validate(str(dist / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    package = Package(str(dist / "datapackage.json"))
    assert {r.name for r in package.resources} >= {"sources", "documents", "removals",
                                                   "letters", "organisations"}


def test_sources_table_lists_every_source_with_checksums(built, sources):
    rows = {r["source_id"]: r for r in _table(built, "sources")}
    assert sorted(rows) == sorted(s.source_id for s in sources)
    assert {"intro", "jacobins", "nelson", "papers", "review"} <= set(rows)
    for s in sources:
        row = rows[s.source_id]
        published = built.files[row["original_path"]]
        assert hashlib.sha256(published).hexdigest() == row["sha256"] == s.sha256
        assert published == (SOURCES / s.source_id / s.original_file).read_bytes()
        text = built.files[row["text_path"]].decode("utf-8")
        assert len(text) == int(row["chars_published"])
        assert int(row["chars_in"]) - int(row["chars_removed"]) + int(row["chars_inserted"]) \
            == int(row["chars_published"])
    assert rows["review"]["authors"] == "" and "authors" in rows["review"]["unknown"]
    assert rows["papers"]["editors"] == "D.J. Cotterill"


def test_resources_carry_hash_and_bytes(built):
    descriptor = json.loads(built.files["datapackage.json"])
    assert descriptor["$schema"].endswith("/2.0/datapackage.json")
    for resource in descriptor["resources"]:
        data = built.files[resource["path"]]
        assert resource["bytes"] == len(data)
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        if resource["type"] == "table":
            assert resource["schema"] in built.files
        else:       # TEI, CMIF and JSON Lines files
            assert resource["path"].startswith("tei/") or resource["path"] in (
                "cmif.xml", "letters.jsonl")
    tei_files = {p for p in built.files if p.startswith("tei/")}
    assert tei_files == {r["path"] for r in descriptor["resources"]
                         if r["path"].startswith("tei/")}


def test_removals_table_accounts_for_every_removed_character(built):
    rows = _table(built, "removals")
    sources = {r["source_id"]: r for r in _table(built, "sources")}
    for source_id, row in sources.items():
        removed = sum(len(r["removed"]) for r in rows if r["source_id"] == source_id)
        assert removed == int(row["chars_removed"])


@pytest.mark.usefixtures("build_cache")     # the CLI builds the sources from the run's cache
def test_cli_build_writes_and_check_detects_staleness(tmp_path):
    out = tmp_path / "dist"
    runner = CliRunner()
    result = runner.invoke(main, ["build", "--sources", str(SOURCES), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "unaccounted" in result.output
    result = runner.invoke(main, ["build", "--sources", str(SOURCES), "--out", str(out), "--check"])
    assert result.exit_code == 0, result.output
    (out / "data" / "persons.csv").write_text("stale\n")
    result = runner.invoke(main, ["build", "--sources", str(SOURCES), "--out", str(out), "--check"])
    assert result.exit_code == 1
    assert "differs: data/persons.csv" in result.output


def test_failed_build_leaves_the_old_dataset_intact(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    out = tmp_path / "dist"
    out.mkdir()
    (out / publish.MARKER).write_text(publish.MARKER_TEXT)
    (out / "marker.txt").write_text("old dataset")
    toml = sources / "nelson" / "source.toml"
    toml.write_text(toml.read_text().replace('kind = "article"', 'kind = "pamphlet"'))
    result = CliRunner().invoke(main, ["build", "--sources", str(sources), "--out", str(out)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    line = toml.read_text().splitlines().index('kind = "pamphlet"') + 1
    assert f"E104 {toml}:{line} field bibliographic.kind: 'pamphlet' is not allowed; one of: " \
        "book, article, review" in result.output
    assert (out / "marker.txt").read_text() == "old dataset"
    # Only the lock file (kept: removing a lock file is a race) remains beside it.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dist")] in \
        ([], [".dist.lock"])


def test_user_errors_are_one_line_and_exit_non_zero(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["clean", "no-such-source", "--sources", str(SOURCES)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: E109 unknown source 'no-such-source' (known: ")
    known = lines[0].split("(known: ", 1)[1].rstrip(")").split(", ")
    assert {"intro", "jacobins", "nelson", "papers", "review"} <= set(known)
    broken = tmp_path / "sources" / "broken"
    broken.mkdir(parents=True)
    (broken / "source.toml").write_text("original = \n")
    result = runner.invoke(main, ["build", "--sources", str(tmp_path / "sources"),
                                  "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "source.toml:1: invalid TOML" in result.output
    assert not (tmp_path / "out").exists()


def test_clean_command_prints_the_cleaned_text():
    result = CliRunner().invoke(main, ["clean", "nelson", "--sources", str(SOURCES)])
    assert result.exit_code == 0
    assert result.output.startswith("Tim Nelson: Trotsky and Serge\n")


def test_committed_dist_is_the_output_of_the_build(built):
    assert publish.differences(built.files, ROOT / "dist") == []


@pytest.mark.usefixtures("build_cache")     # the CLI builds the sources from the run's cache
def test_release_archive_with_verified_checksums(dist, released, tmp_path):
    import zipfile

    result = CliRunner().invoke(main, ["release", "--sources", str(SOURCES), "--dataset",
                                       str(dist), "--out", str(tmp_path / "release")])
    assert result.exit_code == 0, result.output
    version = json.loads((dist / "datapackage.json").read_bytes())["version"]
    archive = tmp_path / "release" / f"serge-trotsky-papers-{version}.zip"
    sums = dict(reversed(line.split("  ", 1)) for line in
                (tmp_path / "release" / "SHA256SUMS").read_text().splitlines())
    assert sums[archive.name] == hashlib.sha256(archive.read_bytes()).hexdigest()
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert f"serge-trotsky-papers-{version}/datapackage.json" in names
        for name in names:
            assert hashlib.sha256(zf.read(name)).hexdigest() == sums[name]
            assert (dist / name.split("/", 1)[1]).read_bytes() == zf.read(name)
    assert len(names) == sum(1 for p in dist.rglob("*") if p.is_file())
    # Another release of the same dataset (the session's, made at another time, in
    # another folder, perhaps in another process) is byte-identical.
    assert released.archive.read_bytes() == archive.read_bytes()
    assert released.database.read_bytes() == archive.with_suffix(".sqlite").read_bytes()


def test_a_copied_source_folder_is_another_source(tmp_path, build_cache):
    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    shutil.copytree(sources / "nelson", sources / "nelson-copy")
    result = build.assemble(sources, cache=BuildCache(build_cache))
    rows = _table(result, "documents")
    copy_ids = [r["document_id"] for r in rows if r["source_id"] == "nelson-copy"]
    assert copy_ids[:2] == ["nelson-copy", "nelson-copy-sec-01"]
    assert len({r["document_id"] for r in rows}) == len(rows)


def test_source_text_is_the_cleaned_text_and_unit_texts_leave_notes_out(built, cleaned):
    """text/<id>.txt is the cleaned text exactly (the conservation record); the unit files
    are reading texts: note marks and the author's notes printed in the text left out."""
    from sergetrotsky.conventions import NOTE_MARK
    for source_id, result in cleaned.items():
        assert built.files[f"text/{source_id}.txt"].decode("utf-8") == result.text
    units = {p: d.decode("utf-8") for p, d in built.files.items()
             if p.startswith("text/") and p.count("/") == 2}
    assert len(units) == len(_table(built, "documents"))
    assert not [p for p, t in units.items() if NOTE_MARK.search(t)]
    letter_12 = units["text/papers/papers-letter-12.txt"]
    assert "Brussels, May 27, 1934\n\nDear Leon Davidovich," in letter_12
    assert "Brussels, May 27, 1934¹⁵⁰" in built.files["text/papers.txt"].decode("utf-8")
    letter_17 = units["text/papers/papers-letter-17.txt"]
    assert "L Trotsky\n\nPS Have just received" in letter_17 and "A monthly" not in letter_17
    author_notes = [r["text"] for r in _table(built, "notes") if r["kind"] == "author"]
    assert "A monthly" in author_notes


def test_letters_jsonl_has_every_letter_with_text_and_notes(built):
    lines = built.files["letters.jsonl"].decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    rows = _table(built, "letters")
    assert [r["letter_id"] for r in records] == [r["letter_id"] for r in rows]
    fields = [f["name"] for f in json.loads(built.files["schema/letters.json"])["fields"]]
    assert all(list(r)[:len(fields)] == fields and list(r)[len(fields):] == ["text", "notes"]
               for r in records)
    letter_12 = next(r for r in records if r["letter_id"] == "papers-letter-12")
    assert letter_12["date"] == "1936-05-27" and letter_12["date_as_written"] == "May 27, 1934"
    assert letter_12["text"] == built.files["text/papers/papers-letter-12.txt"].decode("utf-8")
    note_150 = next(n for n in letter_12["notes"] if n["n"] == 150)
    assert note_150["note_id"] == "papers-ch02-n150" and "1936" in note_150["text"]
    # every note called in a letter (or its headnote, text section, enclosure) is listed
    # with it, and only those
    notes = _table(built, "notes")
    parent = {d["document_id"]: d["parent_id"] for d in _table(built, "documents")}
    letter_ids = {r["letter_id"] for r in rows}
    home = {d: d if d in letter_ids else parent[d] for d in parent
            if d in letter_ids or parent[d] in letter_ids}
    called = sorted(n["note_id"] for n in notes if n["ref_document_id"] in home)
    assert len([n for n in notes if n["ref_document_id"] in home]) > \
        len([n for n in notes if n["ref_document_id"] in letter_ids])
    assert sorted(n["note_id"] for r in records for n in r["notes"]) == called


# --- the output folder: what build will and will not touch ------------------------------------

SMALL = {publish.MARKER: publish.MARKER_TEXT.encode(), "data/a.csv": b"new\n"}


def _build(*args):
    return CliRunner().invoke(main, ["build", "--sources", str(SOURCES), "--jobs", "1", *args])


def _old_dataset(out):
    out.mkdir(parents=True)
    (out / publish.MARKER).write_text(publish.MARKER_TEXT)
    (out / "data").mkdir()
    (out / "data" / "a.csv").write_text("old\n")


def test_out_may_not_be_or_hold_the_repository(tmp_path):
    for out in (ROOT, ROOT.parent):
        result = _build("--out", str(out))
        assert result.exit_code == 1
        assert result.output.startswith(f"error: E502 {out}: is or holds the repository")
        assert not (out.parent / f".{out.name}.lock").exists()
    assert (ROOT / "pyproject.toml").is_file() and (ROOT / "dist" / publish.MARKER).is_file()


def test_an_existing_file_as_out_is_refused_untouched(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = _build("--out", str(notes))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.splitlines()[0] == (f"error: E500 {notes}: is an existing file, not a "
                                             "folder; choose a folder (it is left untouched)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert notes.read_text() == "my notes\n"


def test_an_empty_folder_and_a_dataset_of_ours_are_written(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    publish.write_atomically(SMALL, out)
    assert (out / "data" / "a.csv").read_bytes() == b"new\n"
    (out / "data" / "stale.csv").write_text("from an older build\n")
    publish.write_atomically({**SMALL, "data/a.csv": b"newer\n"}, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        [publish.MARKER, "data/a.csv"]
    assert (out / "data" / "a.csv").read_bytes() == b"newer\n"


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_the_output_gets_the_umask_permissions(tmp_path, mask):
    old = os.umask(mask)
    try:
        publish.write_atomically(SMALL, tmp_path / "out")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~mask
    assert (tmp_path / "out" / "data").stat().st_mode & 0o777 == 0o777 & ~mask
    assert (tmp_path / "out" / "data" / "a.csv").stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_second_build_into_a_locked_folder_stops_with_a_message(tmp_path):
    out = tmp_path / "dist"
    _old_dataset(out)
    with open(tmp_path / ".dist.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = _build("--out", str(out))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: E503 {out}: another build is writing this folder (it holds .dist.lock); wait "
        "for it to finish"]
    assert (out / "data" / "a.csv").read_text() == "old\n"
    publish.write_atomically(SMALL, out)          # the lock is free again
    assert (out / "data" / "a.csv").read_text() == "new\n"


def _killed_write(out, step, exchange=True):
    """Write SMALL into ``out`` in a child process that SIGKILLs itself at ``step``."""
    env = {**os.environ, publish.CRASH_AT: step}
    if not exchange:
        env["SERGETROTSKY_NO_EXCHANGE"] = "1"
    code = ("import sys; from pathlib import Path; from sergetrotsky import publish; "
            f"publish.write_atomically({SMALL!r}, Path(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, str(out)], env=env)
    assert done.returncode == -signal.SIGKILL


def test_a_kill_between_the_two_renames_is_repaired_by_the_next_build(tmp_path):
    out = tmp_path / "dist"
    _old_dataset(out)
    _killed_write(out, "old-moved", exchange=False)
    assert not out.exists()                                   # the gap of two renames...
    assert (tmp_path / ".dist.old" / "data" / "a.csv").read_text() == "old\n"
    notices = []
    with publish.OutputFolder(out, notice=notices.append) as folder:  # ...repaired at once
        assert (out / "data" / "a.csv").read_text() == "old\n"
        assert [n.code for n in notices] == ["W500"]
        folder.write(SMALL)
    assert (out / "data" / "a.csv").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dist.lock", "dist"]


@pytest.mark.usefixtures("build_cache")     # the CLI builds the sources from the run's cache
def test_with_an_atomic_exchange_the_target_is_never_missing(tmp_path):
    out = tmp_path / "dist"
    _old_dataset(out)
    _killed_write(out, "exchanged")
    assert (out / "data" / "a.csv").read_text() == "new\n"
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".dist.new-")]
    assert len(leftovers) == 1 and (leftovers[0] / "data" / "a.csv").read_text() == "old\n"
    result = _build("--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dist.lock", "dist"]


def test_leftovers_of_a_build_killed_while_writing_are_removed(tmp_path):
    out = tmp_path / "dist"
    _old_dataset(out)
    _killed_write(out, "staged")
    assert (out / "data" / "a.csv").read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dist.new-")]
    publish.write_atomically(SMALL, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dist.lock", "dist"]


def _children(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.e2e     # the command's process, signalled: `make test-e2e` (pyproject.toml)
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_their_parent(tmp_path, sig):
    build = subprocess.Popen([sys.executable, "-m", "sergetrotsky", "build", "--sources",
                              str(SOURCES), "--out", str(tmp_path / "dist"), "--jobs", "2",
                              "--no-cache"],    # a cached build may need no worker
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    workers = []
    while len(workers) < 2 and time.monotonic() < deadline and build.poll() is None:
        workers = _children(build.pid)
        time.sleep(0.02)
    assert len(workers) == 2, "the build never started its two workers"
    build.send_signal(sig)
    build.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)]
    # Killed before the swap (nearly always), or after it on a slow machine: never half.
    assert not (tmp_path / "dist").exists() or (tmp_path / "dist" / "datapackage.json").is_file()


def test_a_conservation_failure_is_coded(monkeypatch):
    from sergetrotsky import clean
    real = clean.CleanedSource.conservation

    def leaky(self):   # three characters of nelson neither published nor logged
        figures = real(self)
        return replace(figures, chars_out=figures.chars_out + 3) \
            if self.source_id == "nelson" else figures
    monkeypatch.setattr(clean.CleanedSource, "conservation", leaky)
    with pytest.raises(BuildFailed) as failed:
        build.assemble(SOURCES)
    assert [(p.code, Path(p.file).parent.name) for p in failed.value.problems] == \
        [("E203", "nelson")]


@pytest.mark.usefixtures("build_cache")     # the CLI builds the sources from the run's cache
def test_release_of_a_stale_dataset_is_coded(tmp_path):
    stale = tmp_path / "stale"
    _old_dataset(stale)
    result = CliRunner().invoke(main, ["release", "--sources", str(SOURCES), "--dataset",
                                       str(stale), "--out", str(tmp_path / "release")])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: E505 {stale}: ")
    assert not (tmp_path / "release").exists()


def test_a_rebuild_links_the_unchanged_files_of_the_dataset_it_replaces(built, tmp_path):
    """A file with the same bytes as the replaced dataset's is a link to it (no new file
    made); a changed file, and a file someone else links to, are written anew; the
    dataset is the build's either way and, once swapped in, shares no file with anything."""
    out = tmp_path / "dist"
    publish.write_atomically(dict(built.files), out)
    kept, changed, shared = "datapackage.json", "README.md", "CITATION.cff"
    inode = {rel: (out / rel).stat().st_ino for rel in (kept, changed, shared)}
    os.link(out / shared, tmp_path / "elsewhere.cff")         # a link outside the dataset
    files = dict(built.files)
    files[changed] = files[changed] + b"\n"
    publish.write_atomically(files, out)
    assert (out / kept).stat().st_ino == inode[kept]
    assert (out / changed).stat().st_ino != inode[changed]
    assert (out / shared).stat().st_ino != inode[shared]
    assert (tmp_path / "elsewhere.cff").read_bytes() == built.files[shared]
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data, rel
        assert (out / rel).stat().st_nlink == 1, rel
