"""package.py on the real dataset: letters.jsonl's notes are exactly those called in each
letter or its sub-units, and the CSV writer spells every cell type as the tables do."""

from __future__ import annotations

import csv
import json
import re

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


def test_word_counter_counts_each_unit_as_count_words_counts_its_slice(segmented):
    """documents.csv's words: each unit's count from the pieces between unit edges equals
    count_words on the unit's own slice, for every unit of every source; spans cutting a
    word (not a unit's) fall back to the slice and agree too."""
    from sergetrotsky.conventions import count_words

    for source_id, seg in segmented.items():
        spans = [(u.start, u.end) for u in seg.units]
        counter = package.WordCounter(seg.text, spans)
        for unit in seg.units:
            assert counter.count(unit.start, unit.end) == count_words(seg.text_of(unit)), \
                unit.document_id
        # spans that cut words: the first word of each unit split after its first letter
        cut = [(u.start, m.start() + 1) for u in seg.units[1:]
               if (m := re.search(r"\w\w", seg.text[u.start:u.end])) is not None]
        cut = [(start, start + offset) for start, offset in cut]
        counter = package.WordCounter(seg.text, spans + cut)
        for start, end in spans + cut:
            assert counter.count(start, end) == count_words(seg.text[start:end]), \
                (source_id, start, end)
