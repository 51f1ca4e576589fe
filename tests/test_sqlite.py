"""The dataset as SQLite: keys from the table schemas, typed columns, FTS5, real questions."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import sqlite3

import pytest
from click.testing import CliRunner
from sergetrotsky.cli import main
from sergetrotsky.errors import PipelineError
from sergetrotsky.sqlite import write_database


@pytest.fixture(scope="module")
def database(dist, tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "dataset.sqlite"
    write_database(dist, path)
    db = sqlite3.connect(path)
    yield db
    db.close()


def _csv(dist, name):
    with (dist / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _resources(dist):
    descriptor = json.loads((dist / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        if resource.get("type") == "table":
            yield (
                resource["name"],
                json.loads((dist / resource["schema"]).read_text(encoding="utf-8")),
            )


def test_fts5_is_available_in_this_python():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")


def test_every_table_with_its_rows_keys_and_types(dist, database):
    for name, schema in _resources(dist):
        rows = _csv(dist, name)
        assert database.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == len(rows), name
        columns = {row[1]: row for row in database.execute(f'PRAGMA table_info("{name}")')}
        assert list(columns) == [f["name"] for f in schema["fields"]]
        key = (
            schema["primaryKey"]
            if isinstance(schema["primaryKey"], list)
            else [schema["primaryKey"]]
        )
        assert [c for c, info in sorted(columns.items(), key=lambda kv: kv[1][5]) if info[5]] == key
        for f in schema["fields"]:
            expected = {"integer": "INTEGER", "number": "REAL", "boolean": "INTEGER",
                        "year": "INTEGER"}.get(f["type"], "TEXT")
            assert columns[f["name"]][2] == expected, (name, f["name"])
        declared = {(tuple(fk["fields"]), fk["reference"]["resource"] or name)
                    for fk in schema.get("foreignKeys", [])}
        found: dict[int, tuple[list[str], str]] = {}
        for fk in database.execute(f'PRAGMA foreign_key_list("{name}")'):
            found.setdefault(fk[0], ([], fk[2]))[0].append(fk[3])
        assert {(tuple(cols), table) for cols, table in found.values()} == declared, name
    assert database.execute("PRAGMA foreign_key_check").fetchall() == []


def test_values_are_typed_and_empty_cells_are_null(database):
    number, extract = database.execute(
        "SELECT number, extract FROM letters WHERE letter_id = 'papers-letter-12'").fetchone()
    assert (number, extract) == (12, 0)
    parent = database.execute(
        "SELECT parent_id FROM documents WHERE document_id = 'papers'").fetchone()[0]
    assert parent is None


def test_the_letters_serge_sent_in_1936(dist, database):
    answer = [row[0] for row in database.execute("""
        SELECT l.letter_id FROM letters l JOIN persons p ON p.person_id = l.sender_id
        WHERE p.name = 'Victor Serge' AND l.date BETWEEN '1936' AND '1936-12-31'
        ORDER BY l.date, l.number""")]
    persons = {r["person_id"]: r["name"] for r in _csv(dist, "persons")}
    expected = sorted(
        (
            r
            for r in _csv(dist, "letters")
            if persons[r["sender_id"]] == "Victor Serge" and r["date"].startswith("1936")
        ),
        key=lambda r: (r["date"], int(r["number"] or 0)),
    )
    assert answer == [r["letter_id"] for r in expected]
    # The papers: Serge's first letter to Trotsky, from Brussels on 22 April 1936.
    assert "papers-letter-1" in answer and "papers-letter-2" not in answer  # 2 is Trotsky's
    view = database.execute("SELECT sender, addressee, place FROM correspondence "
                            "WHERE letter_id = 'papers-letter-1'").fetchone()
    assert view == ("Victor Serge", "Leon Trotsky", "Brussels")


def test_the_notes_that_mention_nin(dist, database):
    answer = {row[0] for row in database.execute("""
        SELECT n.note_id FROM notes_fts f JOIN notes n ON n.rowid = f.rowid
        WHERE notes_fts MATCH 'Nin'""")}
    expected = {r["note_id"] for r in _csv(dist, "notes")
                if re.search(r"(?<![^\W_])Nin(?![^\W_])", r["text"], re.IGNORECASE)}
    assert answer == expected
    assert "papers-ch02-n173" in answer  # 'Andreu (Andrès in Castilian) Nin Perez ...'


def test_letters_that_mention_a_person_by_any_of_their_registered_forms(dist, database):
    forms = database.execute("SELECT forms FROM persons WHERE person_id = 'sedov'").fetchone()[0]
    query = " OR ".join('"' + form.replace('"', "") + '"' for form in forms.split(";"))
    answer = {row[0] for row in database.execute("""
        SELECT l.letter_id FROM letters l
        JOIN texts t ON t.document_id = l.letter_id
        JOIN texts_fts ON texts_fts.rowid = t.rowid
        WHERE texts_fts MATCH ?""", (query,))}
    words = [re.findall(r"[^\W_]+", form.lower()) for form in forms.split(";")]
    expected = set()
    for row in _csv(dist, "documents"):
        if row["type"] != "letter":
            continue
        text = re.findall(r"[^\W_]+", (dist / row["text_path"]).read_text(encoding="utf-8").lower())
        joined = " " + " ".join(text) + " "
        if any(f" {' '.join(w)} " in joined for w in words):
            expected.add(row["document_id"])
    assert answer == expected
    assert "papers-letter-prefatory" in answer  # 'Dear Comrade Lev Lvovich,'


def test_reading_texts_are_the_unit_files(dist, database):
    for row in _csv(dist, "documents")[:20]:
        text = database.execute("SELECT text FROM texts WHERE document_id = ?",
                                (row["document_id"],)).fetchone()[0]
        assert text == (dist / row["text_path"]).read_text(encoding="utf-8")


def test_the_same_dataset_gives_the_same_bytes(dist, tmp_path):
    write_database(dist, tmp_path / "a.sqlite")
    write_database(dist, tmp_path / "b.sqlite")
    assert (tmp_path / "a.sqlite").read_bytes() == (tmp_path / "b.sqlite").read_bytes()


def test_release_ships_the_database_with_its_checksum(released):
    dist, database, sums = released.dataset, released.database, released.checksums
    lines = dict(reversed(line.split("  ", 1)) for line in sums.read_text().splitlines())
    assert lines[database.name] == hashlib.sha256(database.read_bytes()).hexdigest()
    db = sqlite3.connect(database)
    version = json.loads((dist / "datapackage.json").read_text(encoding="utf-8"))["version"]
    assert db.execute("SELECT value FROM dataset WHERE key = 'version'").fetchone()[0] == version
    assert database.name.endswith(f"-{version}.sqlite")


def test_cli_writes_the_database(dist, tmp_path):
    out = tmp_path / "x.sqlite"
    result = CliRunner().invoke(main, ["sqlite", "--dataset", str(dist), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sqlite3.connect(out).execute("SELECT count(*) FROM letters").fetchone()[0] == \
        len(_csv(dist, "letters"))


def test_a_dangling_foreign_key_is_one_located_error_and_no_file(dist, tmp_path):
    broken = tmp_path / "dataset"
    shutil.copytree(dist, broken)
    path = broken / "data" / "letters.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace(",serge,trotsky,", ",nobody,trotsky,", 1),
        encoding="utf-8",
    )
    out = tmp_path / "out.sqlite"
    with pytest.raises(PipelineError, match="foreign key"):
        write_database(broken, out)
    assert not out.exists() and list(tmp_path.glob(".sqlite-*")) == []
    result = CliRunner().invoke(main, ["sqlite", "--dataset", str(broken), "--out", str(out)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "letters" in result.output


def test_a_bad_integer_names_its_file_row_and_field(dist, tmp_path):
    broken = tmp_path / "dataset"
    shutil.copytree(dist, broken)
    path = broken / "data" / "letters.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if line.startswith("papers-letter-1,"))
    lines[row] = lines[row].replace("papers-letter-1,1,", "papers-letter-1,one,", 1)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(PipelineError) as raised:
        write_database(broken, tmp_path / "out.sqlite")
    assert str(raised.value).startswith(f"{path}:{row + 1} [number]: not a valid integer")
