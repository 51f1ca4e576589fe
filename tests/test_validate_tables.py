"""The package's own table schemas read without frictionless (``validate._OwnField``): the
same fields as frictionless makes of them, frictionless's own verdict on every cell the
quick tests do not accept, frictionless's verdict on any other schema. Nothing here is
timed.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sergetrotsky import validate
from sergetrotsky.validate import validate_paths

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = sorted((ROOT / "schema" / "tables").glob("*.json"))
PROPERTIES = ("missing_values", "true_values", "false_values", "bare_number", "float_number",
              "decimal_char", "group_char", "delimiter", "item_type")
ODD_CELLS = ["", " ", "0", "1", "-0", "00", "-1", "+5", "1.", ".5", "1.0", "1,0", "1e3",
             "NaN", "Infinity", "-90", "-90.0001", "90", "90.5", "180", "-180.1", " 7", "7 ",
             "٣", "²", "١٩٣٦", "abc", "1936", "0000", "9999", "19365", " 1936", "true", "TRUE",
             "True", "false", "FALSE", "yes", "a;b", ";", "\n", "1936-02-30", "printedX",
             "xprinted", "letter ", "Letter"]


def _columns(name: str, dist: Path) -> dict[str, list[str]]:
    table = dist / "data" / f"{name}.csv"
    rows = list(csv.reader(table.open(encoding="utf-8", newline="")))
    return {label: [row[i] for row in rows[1:]] for i, label in enumerate(rows[0])}


def test_own_schemas_are_read_as_frictionless_reads_them(dist):
    """Each schema of schema/tables/ is accepted by frictionless; read without it, its
    fields have the same name, type, format, constraints and declared properties, the
    same quick tests, and frictionless's cell reader."""
    compared = 0
    for path in SCHEMAS:
        schema = json.loads(path.read_text(encoding="utf-8"))
        theirs = validate._frictionless_schema(schema).fields     # raises if not accepted
        ours = validate._table_fields(schema)
        assert all(isinstance(f, validate._OwnField) for f in ours), path.name
        assert len(ours) == len(theirs)
        columns = _columns(path.stem, dist)
        for own, field in zip(ours, theirs, strict=True):
            assert (own.name, own.type, own.format, own.constraints) == \
                (field.name, field.type, field.format, field.constraints), path.name
            assert [own.has_defined(p) for p in PROPERTIES] == \
                [field.has_defined(p) for p in PROPERTIES], (path.name, own.name)
            quick_own = validate._quick_test(own, schema)
            quick_theirs = validate._quick_test(field, schema)
            assert (quick_own is None) == (quick_theirs is None), (path.name, own.name)
            read_own, read_theirs = own.create_cell_reader(), field.create_cell_reader()
            for cell in {*columns.get(own.name, ()), *ODD_CELLS}:
                assert repr(read_own(cell)) == repr(read_theirs(cell))   # NaN != NaN
                if quick_own is not None:
                    assert quick_own(cell) == quick_theirs(cell)   # type: ignore[misc]
                compared += 1
    assert compared > 1000


def test_quick_tests_accept_only_what_frictionless_accepts_in_every_type(dist):
    """The fast path never accepts a cell frictionless's own reader rejects (a cell it
    does not accept goes to that reader, which gives the verdict), in every type:
    strings, numbers, booleans, years and lists."""
    types = set()
    tested = 0
    for path in SCHEMAS:
        schema = json.loads(path.read_text(encoding="utf-8"))
        columns = _columns(path.stem, dist)
        for field in validate._frictionless_schema(schema).fields:
            quick = validate._quick_test(field, schema)
            if quick is None:
                continue
            read = field.create_cell_reader()
            enum = [str(v) for v in (field.constraints or {}).get("enum", [])]
            for cell in {*columns.get(field.name, ()), *ODD_CELLS, *enum}:
                if quick(cell):
                    assert not read(cell)[1], (path.name, field.name, cell)
                    types.add(field.type)
                    tested += 1
    assert {"string", "integer", "number", "boolean", "year", "list"} <= types
    assert tested > 1000


def test_another_schema_gets_frictionless_verdict(dist, tmp_path):
    """A table schema that is not one of the package's own (here a type misspelt) is
    given to frictionless, which says why it cannot be used."""
    folder = tmp_path / "dist"
    shutil.copytree(dist, folder)
    path = folder / "schema" / "places.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["fields"][-1]["type"] = "numbr"
    path.write_text(json.dumps(schema), encoding="utf-8")
    with pytest.raises(ValueError, match="numbr"):
        validate._table_fields(schema)
    problems = [p for p in validate_paths([folder]) if p.file.endswith("places.csv")]
    assert [p.code for p in problems] == ["E010", "W071"]     # W071: checks skipped
    assert problems[0].message.startswith("the table's schema cannot be used: ")
    assert "numbr" in problems[0].message


def test_the_dataset_is_validated_without_importing_frictionless(dist):
    """Every cell of the published dataset passes its quick test, so frictionless (0.3 s
    of import and schema checks) is never loaded; a bad cell still gets its verdict."""
    script = ("import sys; from sergetrotsky.validate import validate_paths; "
              "problems = validate_paths([sys.argv[1]]); "
              "print(len(problems), 'frictionless' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script, str(dist)], capture_output=True,
                         text=True, check=True)
    assert run.stdout.split() == ["0", "False"]


def test_a_bad_cell_of_an_own_table_gets_frictionless_verdict(dist, tmp_path):
    folder = tmp_path / "dist"
    shutil.copytree(dist, folder)
    table = folder / "data" / "places.csv"
    rows = list(csv.reader(table.open(encoding="utf-8", newline="")))
    at = rows[0].index("latitude")
    row = next(i for i, r in enumerate(rows) if i and r[at])
    rows[row][at] = "91"
    with table.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(rows)
    problems = [p for p in validate_paths([folder]) if p.code == "E010" and p.row]
    assert [(p.row, p.field) for p in problems] == [(row + 1, "latitude")]
    assert 'constraint "maximum" is "90"' in problems[0].message
