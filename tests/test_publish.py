"""Building the dataset: a valid data package, atomic writes, reproducible bytes,
one clear line (never a traceback) for a user's mistake."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil

from click.testing import CliRunner
from frictionless import Package, validate

from sergetrotsky import publish
from sergetrotsky.cli import main

from .conftest import ROOT, SOURCES


def _table(built, name):
    return list(csv.DictReader(io.StringIO(built.files[f"data/{name}.csv"].decode("utf-8"))))


def test_datapackage_is_valid_under_frictionless(dist):
    report = validate(str(dist / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    package = Package(str(dist / "datapackage.json"))
    assert {r.name for r in package.resources} >= {"sources", "documents", "removals"}


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


def test_two_builds_give_identical_bytes():
    first, second = publish.assemble(SOURCES), publish.assemble(SOURCES)
    assert first.files == second.files


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
    (out / "marker.txt").write_text("old dataset")
    toml = sources / "nelson" / "source.toml"
    toml.write_text(toml.read_text().replace('kind = "article"', 'kind = "pamphlet"'))
    result = CliRunner().invoke(main, ["build", "--sources", str(sources), "--out", str(out)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "nelson/source.toml [bibliographic.kind]: must be one of " in result.output
    assert (out / "marker.txt").read_text() == "old dataset"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dist")] == []


def test_user_errors_are_one_line_and_exit_non_zero(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["clean", "no-such-source", "--sources", str(SOURCES)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: unknown source 'no-such-source' (known: ")
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


def test_release_archive_with_verified_checksums(dist, tmp_path):
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
    # A second release of the same dataset is byte-identical.
    first = archive.read_bytes()
    CliRunner().invoke(main, ["release", "--sources", str(SOURCES), "--dataset", str(dist),
                              "--out", str(tmp_path / "release")])
    assert archive.read_bytes() == first


def test_a_copied_source_folder_is_another_source(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    shutil.copytree(sources / "nelson", sources / "nelson-copy")
    result = publish.assemble(sources)
    rows = _table(result, "documents")
    copy_ids = [r["document_id"] for r in rows if r["source_id"] == "nelson-copy"]
    assert copy_ids[:2] == ["nelson-copy", "nelson-copy-sec-01"]
    assert len({r["document_id"] for r in rows}) == len(rows)


def test_source_text_is_the_cleaned_text_and_unit_texts_leave_notes_out(built, cleaned):
    """text/<id>.txt is the cleaned text exactly (the conservation record); the unit files
    are reading texts: note marks and the author's notes printed in the text left out."""
    from sergetrotsky.segment import NOTE_MARK
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
