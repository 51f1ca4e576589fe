"""The TEI of each unit's own content through the build cache (tei.UnitParts, issue 18):
an edit to one letter encodes that letter's unit again and parses the others' elements,
and a change to the registers that moves a unit's references encodes that unit again;
the files are those the encoding gives without the cache. Nothing here is timed."""

from __future__ import annotations

import csv
import io
import pickle
import shutil

from sergetrotsky import build, package, sources, tei
from sergetrotsky import cache as build_cache

from .conftest import edited


def _encoding_spied(monkeypatch):
    """The units whose own content is encoded (not parsed from the cache), by source, and
    each source's TEI files as made with the cache and as made without it, from the same
    inputs."""
    encoded: list[str] = []
    made: dict[str, tuple[dict[str, bytes], dict[str, bytes]]] = {}
    builds = {}
    own_content, encode = tei._own_content, build._encode_tei

    def spied_own_content(div, ctx, unit):
        encoded.append(unit.document_id)
        own_content(div, ctx, unit)

    def spied_encode(made_build, *args):
        files, parts = encode(made_build, *args)
        assert parts is not None            # (a build with the cache)
        spied = len(encoded)
        without = encode(made_build, *args[:-1], None)[0]
        del encoded[spied:]                 # (every unit, without the cache)
        made[made_build.source_id] = (files, without)
        builds[made_build.source_id] = made_build
        return files, parts

    monkeypatch.setattr(tei, "_own_content", spied_own_content)
    monkeypatch.setattr(build, "_encode_tei", spied_encode)
    return encoded, made, builds


def _rows(result, table):
    return list(csv.DictReader(io.StringIO(result.files[f"data/{table}.csv"].decode())))


def test_an_edit_inside_one_letter_encodes_that_letter_only(copied, tmp_path, monkeypatch):
    """One word of a letter of papers changed (made longer: the offsets after it move):
    papers' TEI is made again, that letter's own content encoded, every other unit's
    parsed from the cache; the files are those made without the cache."""
    folder, cache, first = copied
    shutil.copytree(cache, tmp_path / "cache")
    letters = {row["letter_id"] for row in _rows(first, "letters")}
    units = [row for row in _rows(first, "documents") if row["source_id"] == "papers"]
    parents = {row["parent_id"] for row in units}
    # a letter without sub-units, whose reading text holds a line of words printed once in
    # the original, with " the " in it
    original = folder / "papers" / sources.load_source(folder / "papers").original_file
    text = original.read_text(encoding="utf-8")
    chosen = None
    for row in units:
        if row["document_id"] not in letters or row["document_id"] in parents:
            continue
        reading = first.files[f"text/papers/{row['document_id']}.txt"].decode()
        for line in reading.splitlines()[3:]:
            if " the " in line and len(line) > 60 and text.count(line) == 1:
                chosen = row["document_id"], line
                break
        if chosen:
            break
    assert chosen is not None
    letter_id, line = chosen
    encoded, made, builds = _encoding_spied(monkeypatch)
    with edited(original):
        original.write_text(text.replace(line, line.replace(" the ", " thee ", 1)),
                            encoding="utf-8")
        result = build.assemble(folder, cache=build_cache.BuildCache(tmp_path / "cache"),
                                jobs=1)
    assert list(made) == ["papers"]
    assert encoded == [letter_id]
    files, without = made["papers"]
    assert files == without
    assert b" thee " in files[f"tei/letters/{letter_id}.xml"]
    # the documents rows, their words taken from the earlier build's count of each piece
    # of text but the letter's, are those counted anew
    papers = builds["papers"]
    counted = package.document_rows(papers.segmented, {x.letter_id: x for x in papers.letters})
    rows = [row for row in _rows(result, "documents") if row["source_id"] == "papers"]
    assert [row["words"] for row in rows] == [str(row["words"]) for row in counted]
    assert list((tmp_path / "cache" / "word-counts").glob("papers.*.pickle"))


def test_a_register_change_that_moves_a_units_references_encodes_that_unit(
        copied, tmp_path, monkeypatch):
    """A person mentioned in papers, in units that are no letter's sender or addressee,
    given another id in the cached registers (as a change to the registers would): the
    units whose own text mentions the person are encoded again, not served from the
    cache with the old reference; the files are those made without the cache."""
    folder, cache, first = copied
    shutil.copytree(cache, tmp_path / "cache")
    correspondents = {row[key] for row in _rows(first, "letters")
                      for key in ("sender_id", "addressee_id")}
    mentions = [row for row in _rows(first, "mentions") if row["entity_type"] == "person"]
    where: dict[str, set[tuple[str, str]]] = {}
    for row in mentions:
        where.setdefault(row["entity_id"], set()).add((row["source_id"], row["document_id"]))
    authors = {row["author_id"] for row in _rows(first, "documents")}
    person, units = next((p, found) for p, found in sorted(where.items())
                         if p not in correspondents | authors and len(found) == 2
                         and {s for s, _ in found} == {"papers"})
    entry = next((tmp_path / "cache" / "registers").glob("*.pickle"))
    index_rows, persons, places, organisations = pickle.loads(entry.read_bytes())
    persons = [{**row, "person_id": f"{person}-renamed"} if row["person_id"] == person
               else row for row in persons]
    entry.write_bytes(pickle.dumps((index_rows, persons, places, organisations)))
    encoded, made, _ = _encoding_spied(monkeypatch)
    build.assemble(folder, cache=build_cache.BuildCache(tmp_path / "cache"), jobs=1)
    assert encoded and set(encoded) <= {document_id for _, document_id in units}
    files, without = made["papers"]
    assert files == without
    home = files["tei/papers.xml"]
    assert f"papers-person-{person}-renamed".encode() in home
    assert f'"#papers-person-{person}"'.encode() not in home
