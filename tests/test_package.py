"""package.py on the real dataset: letters.jsonl's notes are exactly those called in each
letter or its sub-units, and the CSV writer spells every cell type as the tables do."""

from __future__ import annotations

import csv
import json

from sergetrotsky import package


def _csv_rows(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_letters_jsonl_holds_the_notes_called_in_each_letter_and_its_sub_units(dist):
    parent = {d["document_id"]: d["parent_id"] for d in _csv_rows(dist / "data/documents.csv")}
    notes = _csv_rows(dist / "data/notes.csv")

    def ancestors(document_id):
        while document_id:
            yield document_id
            document_id = parent.get(document_id, "")

    records = [json.loads(line) for line in (dist / "letters.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert records
    for record in records:
        expected = [{"note_id": n["note_id"], "n": n["n"], "text": n["text"]}
                    for n in notes if record["letter_id"] in ancestors(n["ref_document_id"])]
        got = [{**n, "n": "" if n["n"] is None else str(n["n"])} for n in record["notes"]]
        assert got == expected, record["letter_id"]


def test_csv_bytes_writes_the_letters_table_from_its_typed_rows(dist):
    """letters.jsonl holds each letter's row with its types (lists, booleans, nulls): the
    CSV writer gives back the published letters.csv byte for byte."""
    rows = []
    for line in (dist / "letters.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        del record["text"], record["notes"]
        rows.append(record)
    assert any(isinstance(v, bool) for row in rows for v in row.values())
    assert any(isinstance(v, list) for row in rows for v in row.values())
    table = package.Table("letters", rows, "Letters")
    assert package.csv_bytes(table) == (dist / "data/letters.csv").read_bytes()
