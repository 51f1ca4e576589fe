"""sergetrotsky.load on the committed dataset (dist/) and on its release zip: every
column typed from the dataset's own schemas, checked value by value against the CSV
as the csv module reads it."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import sergetrotsky
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"


# sergetrotsky.loader and pandas are imported by the tests that use them, not at the top:
# importing them takes 0.3 s, which a worker that runs none of these tests saves.
def _dataset_error() -> type[Exception]:
    from sergetrotsky.loader import DatasetError
    return DatasetError


def raw_rows(table: str) -> list[dict[str, str]]:
    with open(DIST / "data" / f"{table}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def schema_of(table: str) -> dict:
    return json.loads((DIST / "schema" / f"{table}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dataset():
    return sergetrotsky.load(DIST)


def table_names() -> list[str]:
    descriptor = json.loads((DIST / "datapackage.json").read_text(encoding="utf-8"))
    return [r["name"] for r in descriptor["resources"] if r["type"] == "table"]


@pytest.mark.parametrize("table", table_names())
def test_every_column_is_typed_from_the_schema(dataset, table):
    import pandas as pd
    frame, schema, rows = dataset.tables[table], schema_of(table), raw_rows(table)
    assert len(frame) == len(rows)
    primary_key = set(schema.get("primaryKey", []))
    for spec in schema["fields"]:
        name, kind = spec["name"], spec["type"]
        constraints = spec.get("constraints", {})
        required = constraints.get("required", False) or name in primary_key
        column, raw = frame[name], [row[name] for row in rows]
        if kind in ("integer", "year"):
            assert str(column.dtype) == "Int64", name
            expected = [pd.NA if v == "" else int(v) for v in raw]
        elif kind == "number":
            assert str(column.dtype) == "Float64", name
            expected = [pd.NA if v == "" else float(v) for v in raw]
        elif kind == "boolean":
            assert str(column.dtype) == "boolean", name
            expected = [pd.NA if v == "" else v == "true" for v in raw]
        elif kind == "list":
            expected = [v.split(spec.get("delimiter", ",")) if v else [] for v in raw]
        elif "enum" in constraints:
            assert isinstance(column.dtype, pd.CategoricalDtype), name
            assert list(column.cat.categories) == constraints["enum"], name
            expected = [pd.NA if v == "" else v for v in raw]
        else:
            assert isinstance(column.dtype, pd.StringDtype), name
            expected = [pd.NA if v == "" and not required else v for v in raw]
        actual = column.tolist()
        assert [None if x is pd.NA or x is None or x != x else x for x in actual] == \
            [None if x is pd.NA else x for x in expected], name


def test_partial_dates_stay_text_with_a_parsed_column_where_complete(dataset):
    import pandas as pd
    from sergetrotsky import loader
    checked = 0
    for table in table_names():
        frame = dataset.tables[table]
        for spec in schema_of(table)["fields"]:
            if spec.get("constraints", {}).get("pattern") != r"\d{4}(-\d{2}(-\d{2})?)?":
                continue
            parsed = frame[spec["name"] + loader.PARSED_SUFFIX]
            assert pd.api.types.is_datetime64_any_dtype(parsed)
            columns = list(frame.columns)
            assert columns.index(parsed.name) == columns.index(spec["name"]) + 1
            for text, when in zip(frame[spec["name"]], parsed, strict=True):
                if text is not pd.NA and len(text) == 10:
                    assert when.strftime("%Y-%m-%d") == text
                    checked += 1
                else:
                    assert pd.isna(when), (table, text)
    assert checked > 0
    # A date printed only to the year stays a year: letters and chronology keep "1917"-like text.
    years = dataset.chronology[dataset.chronology.precision == "year"]
    assert (years.date.str.len() == 4).all() and years.date_parsed.isna().all()


def test_prefatory_letter_joined_to_its_correspondents_and_place(dataset):
    import pandas as pd
    # The book heads it "Prefatory letter: Serge to Sedov", written from Brussels.
    persons = {row["person_id"]: row["name"] for row in raw_rows("persons")}
    places = {row["place_id"]: row["name"] for row in raw_rows("places")}
    joined = dataset.letters_with_names
    assert len(joined) == len(dataset.letters)
    assert joined.letter_id.tolist() == dataset.letters.letter_id.tolist()
    row = joined.set_index("letter_id").loc["papers-letter-prefatory"]
    assert row.letter_title == "Prefatory letter: Serge to Sedov (in French)"
    assert row.sender_name == persons[row.sender_id] == "Victor Serge"
    assert "Sedov" in row.addressee_name and row.addressee_name == persons[row.addressee_id]
    assert row.place_name == places[row.place_id] == "Brussels"
    for letter in joined.itertuples():
        assert letter.sender_name == persons[letter.sender_id]
        assert letter.addressee_name == persons[letter.addressee_id]
        if letter.place_id is pd.NA:
            assert letter.place_name is pd.NA


def test_join_follows_self_references_and_named_keys(dataset):
    import pandas as pd
    documents = dataset.join("documents", via=["parent_id"])
    titles = dict(zip(dataset.documents.document_id, dataset.documents.title, strict=True))
    for document in documents.itertuples():
        if document.parent_id is not pd.NA:
            assert document.parent_title == titles[document.parent_id]
    assert "source_title" not in documents.columns
    with pytest.raises(_dataset_error(), match="not a single-field foreign key"):
        dataset.join("letters", via=["incipit"])


def test_letter_text_and_tei_from_letters_jsonl(dataset):
    records = [json.loads(line) for line in
               (DIST / "letters.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["letter_id"] for r in records] == dataset.letters.letter_id.tolist()
    for record in records:
        assert dataset.letter_text(record["letter_id"]) == record["text"]
    path = dataset.tei_path("papers-letter-prefatory")
    assert path == (DIST / "tei" / "letters" / "papers-letter-prefatory.xml").resolve()
    root = etree.parse(str(path)).getroot()
    assert root.tag == "{http://www.tei-c.org/ns/1.0}TEI"
    with pytest.raises(_dataset_error(), match="no letter"):
        dataset.letter_text("papers-letter-none")


def test_release_zip_gives_the_same_dataset(released):
    """The zip loads as the dataset folder it was released from."""
    from pandas.testing import assert_frame_equal
    dataset, archive = sergetrotsky.load(released.dataset), released.archive
    with sergetrotsky.load(archive) as zipped:
        assert list(zipped.tables) == list(dataset.tables)
        for name, frame in dataset.tables.items():
            assert_frame_equal(zipped.tables[name], frame, obj=name)
        letter_id = "papers-letter-prefatory"
        assert zipped.letter_text(letter_id) == dataset.letter_text(letter_id)
        extracted = zipped.tei_path(letter_id)
        assert extracted.read_bytes() == dataset.tei_path(letter_id).read_bytes()
        assert not extracted.is_relative_to(released.dataset.resolve())
    assert not extracted.exists()  # the temporary folder went with the dataset


def copy_dataset(tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(DIST, copy)
    return copy


def test_altered_file_is_refused(tmp_path):
    copy = copy_dataset(tmp_path)
    path = copy / "data" / "places.csv"
    path.write_bytes(path.read_bytes().replace(b"Brussels", b"BRUSSELS"))  # same length
    with pytest.raises(_dataset_error(), match="data/places.csv: sha256 .* the file was altered"):
        sergetrotsky.load(copy)
    assert sergetrotsky.load(copy, verify=False).places.name.str.contains("BRUSSELS").any()


def test_value_outside_its_enum_is_refused(tmp_path):
    copy = copy_dataset(tmp_path)
    path = copy / "data" / "letters.csv"
    path.write_bytes(path.read_bytes().replace(b",letter,false,", b",epistle,false,", 1))
    with pytest.raises(_dataset_error(), match="letters.csv: field 'form': 'epistle' not among"):
        sergetrotsky.load(copy, verify=False)


def test_paths_leaving_the_dataset_are_refused(tmp_path, released):
    # A letters.jsonl whose tei_path climbs out of the dataset, in a folder and in a zip.
    copy = copy_dataset(tmp_path)
    jsonl = copy / "letters.jsonl"
    jsonl.write_text(jsonl.read_text(encoding="utf-8").replace(
        '"tei_path": "tei/letters/', '"tei_path": "../../tei/letters/'), encoding="utf-8")
    with pytest.raises(_dataset_error(), match="not a path inside the dataset"):
        sergetrotsky.load(copy, verify=False).tei_path("papers-letter-prefatory")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(released.archive) as source, zipfile.ZipFile(evil, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/letters.jsonl"):
                data = data.replace(b'"tei_path": "tei/', b'"tei_path": "/etc/')
            info.compress_type = zipfile.ZIP_STORED    # not compressed again: faster
            target.writestr(info, data)
    with pytest.raises(_dataset_error(), match="not a path inside the dataset"):
        sergetrotsky.load(evil, verify=False).tei_path("papers-letter-prefatory")


def test_not_a_dataset(tmp_path):
    with pytest.raises(_dataset_error(), match="no file datapackage.json"):
        sergetrotsky.load(tmp_path)
    with pytest.raises(_dataset_error(), match="neither a dataset folder nor a zip"):
        sergetrotsky.load(tmp_path / "nothing-here")
