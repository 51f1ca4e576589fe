"""`sergetrotsky validate`: one failing case per code of the catalogue (as Standard Ebooks
tests each lint code), hostile XML refused, the fixtures and the real dataset valid
against our schemas and tei_all, the command's output and exit codes.

Most cases are one small edit of a minimal valid dataset (tests/fixtures/validate/dataset:
a source file, a letter file, cmif.xml and four tables, in the shape of the real
dataset); the raw bytes that must never reach the parser are files of their own
(tests/fixtures/validate/broken/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files as package_files
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from sergetrotsky import validate
from sergetrotsky.cli import main
from sergetrotsky.validate import CODES, has_errors, validate_dataset, validate_paths

from .test_hostile import hostile_codes

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "validate"
DATASET = FIXTURES / "dataset"
BROKEN = FIXTURES / "broken"
SOURCE_FILE = DATASET / "tei" / "mini.xml"
LETTER_FILE = DATASET / "tei" / "letters" / "mini-letter-01.xml"
LETTER = "tei/letters/mini-letter-01.xml"
RNG = "{http://relaxng.org/ns/structure/1.0}"
SCH = "{http://purl.oclc.org/dsdl/schematron}"
PASSWD_CONTENT = re.compile(r"root:.*:0:0:")


@dataclass(frozen=True)
class Edit:
    """One edit of the minimal dataset that must raise one code."""

    file: str
    old: str
    new: str
    at: str | None = None        # text on the line (or row) reported; None: `new`; "": no line
    reported: str | None = None  # the file the problem is reported in; None: `file`


EDITS = {
    "E002": Edit("datapackage.json", '"name": "mini",', '"name": "mini"', at=""),
    "E010": Edit("data/documents.csv", "mini-ch01,mini,mini,chapter,",
                 "mini-ch01,mini,mini,pamphlet,"),
    "E011": Edit("data/places.csv", "place_id,name,country", "place_id,name,kountry"),
    "E020": Edit("data/documents.csv", "text/mini/mini-notes.txt",
                 "text/mini/mini-endnotes.txt"),
    "E040": Edit("tei/mini.xml", '<div type="chapter"', '<div type="pamphlet"'),
    "E041": Edit("tei/mini.xml", 'target="#mini-n1"', 'target="#mini-n9"'),
    "E042": Edit("tei/mini.xml", '<bibl xml:id="mini-original">', '<bibl xml:id="mini-ch01">',
                 at='<div type="chapter" xml:id="mini-ch01"'),
    "E043": Edit(LETTER, '<correspAction type="received">', '<correspAction type="sent">',
                 at="<correspDesc"),
    "E044": Edit(LETTER, '<persName ref="person:trotsky">Leon Trotsky</persName>',
                 '<placeName ref="place:brussels">Brussels</placeName>',
                 at='<correspAction type="received">'),
    "E045": Edit("tei/mini.xml", 'target="#mini-n1"', 'target="#mini-ch01"'),
    "E046": Edit(LETTER, '<correspDesc n="1" corresp="../mini.xml#mini-letter-01">',
                 '<correspDesc n="1" corresp="../mini.xml#mini-ch01">'),
    "W040": Edit("tei/mini.xml", '<ref type="note" target="#mini-n1" n="1">1</ref>',
                 '<hi rend="superscript">1</hi>', at='<note xml:id="mini-n1"'),
    "W041": Edit(LETTER, '<persName ref="person:trotsky">', "<persName>"),
    "E050": Edit(LETTER, "<bibl>", '<bibl xml:id="mini-original">'),
    "E051": Edit("tei/mini.xml", 'xml:id="mini-notes"', 'xml:id="mini-endnotes"',
                 at="mini-notes,mini,mini,notes", reported="data/documents.csv"),
    "E052": Edit(LETTER, 'ref="person:trotsky"', 'ref="person:trotski"'),
    "E053": Edit(LETTER, '<ptr target="../mini.xml#mini-letter-01"/>',
                 '<ptr target="../mini.xml#mini-letter-99"/>'),
    "E060": Edit("cmif.xml", '<date when="1936-04-22">', '<date when="1936-04-22" type="posted">'),
    "E061": Edit("cmif.xml", 'source="#bibl-55b15ecd-b1b9-5347-b7b3-e4b66b81407c"',
                 'source="#bibl-00000000-0000-0000-0000-000000000000"', at=""),
    "W061": Edit("cmif.xml", "bibl-55b15ecd-b1b9-5347-b7b3-e4b66b81407c", "mini-book"),
}
# Raw files, validated on their own: (file, line) of the problem.
BROKEN_FILES = {
    "E030": ("E030-empty.xml", None),
    "E031": ("E031-latin1.xml", 3),
    "E032": ("E032-not-well-formed.xml", 5),
    "E033": ("E033-billion-laughs.xml", 4),
}
# Codes whose case needs more than an edit: tested by the functions named here.
SPECIAL = {"E001": "test_e001_not_a_dataset_nor_tei",
           "E003": "test_e003_missing_path",
           "W060": "test_w060_cmif_schema_missing_is_a_warning"}
# Codes whose failing cases are folders of tests/hostile/validate/ (run by test_hostile.py).
HOSTILE = hostile_codes() - set(EDITS) - set(BROKEN_FILES) - set(SPECIAL)


def _line_of(text: str, needle: str) -> int:
    assert needle in text, needle
    return text[:text.index(needle)].count("\n") + 1


def _dataset(tmp_path: Path) -> Path:
    target = tmp_path / "dataset"
    shutil.copytree(DATASET, target)
    return target


def _edited(tmp_path: Path, edit: Edit) -> Path:
    folder = _dataset(tmp_path)
    path = folder / edit.file
    text = path.read_text(encoding="utf-8")
    assert edit.old in text, f"the fixture has changed: {edit.old!r} is not in {edit.file}"
    path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    return folder




# --- the catalogue --------------------------------------------------------------------------

def test_every_code_has_a_failing_case():
    assert sorted({*EDITS, *BROKEN_FILES, *SPECIAL, *HOSTILE}) == sorted(CODES)
    assert not set(EDITS) & set(BROKEN_FILES) and not set(SPECIAL) & (
        set(EDITS) | set(BROKEN_FILES)
    )
    for name in SPECIAL.values():
        assert callable(globals()[name])


def test_every_code_is_documented_once():
    doc = (ROOT / "docs" / "validation-codes.md").read_text(encoding="utf-8")
    doc = doc.split("\n## Build")[0]   # the build's codes: tests/test_sources.py
    rows = re.findall(r"^\| `([EW]\d{3})` \| (error|warning) \| (.*?) \|", doc, flags=re.M)
    assert sorted(code for code, _, _ in rows) == sorted(CODES)
    assert len(rows) == len(set(rows))
    for code, severity, sentence in rows:   # one catalogue: the same sentence in both
        assert sentence == CODES[code] and severity == ("warning" if code[0] == "W" else "error")


def test_schematron_codes_are_in_the_catalogue_with_their_severity():
    schema = etree.parse(str(validate.TEI_SCH))
    asserts = list(schema.iter(f"{SCH}assert", f"{SCH}report"))
    assert asserts
    for node in asserts:
        text = "".join(node.itertext()).strip()
        m = re.match(r"\[([EW]\d{3})\] ", text)
        assert m and m[1] in CODES, text
        assert (node.get("role") == "warning") == m[1].startswith("W"), text
    assert schema.getroot().get("queryBinding") == "xslt"


# --- one case per code ----------------------------------------------------------------------

def test_minimal_dataset_is_valid():
    assert validate_dataset(DATASET) == []


@pytest.mark.parametrize("code", sorted(EDITS))
def test_each_edit_raises_its_code(code, tmp_path):
    edit = EDITS[code]
    folder = _edited(tmp_path, edit)
    problems = validate_paths([folder])
    found = [p for p in problems if p.code == code]
    assert found, f"{code} not reported; got {[p.render() for p in problems]}"
    reported = edit.reported or edit.file
    assert all(p.file == str(folder / reported) for p in found)
    if edit.at != "":
        expected = _line_of((folder / reported).read_text(encoding="utf-8"), edit.at or edit.new)
        assert any(expected in (p.line, p.row) for p in found), [p.render() for p in found]
    # errors make the dataset invalid; a warning alone does not
    assert has_errors(problems) == code.startswith("E"), [p.render() for p in problems]


@pytest.mark.parametrize("code", sorted(BROKEN_FILES))
def test_each_broken_file_raises_its_code(code):
    name, line = BROKEN_FILES[code]
    [problem] = validate_paths([BROKEN / name])
    assert (problem.code, problem.line) == (code, line)
    assert problem.file == str(BROKEN / name)


def test_e031_another_declared_encoding():
    [problem] = validate_paths([BROKEN / "E031-declared.xml"])
    assert problem.code == "E031" and "ISO-8859-1" in problem.message


def test_e032_reports_line_and_column():
    [problem] = validate_paths([BROKEN / "E032-not-well-formed.xml"])
    assert (problem.line, problem.column) == (5, 10)
    assert problem.render().startswith(f"E032 {BROKEN / 'E032-not-well-formed.xml'}:5:10: ")


def test_e001_not_a_dataset_nor_tei(tmp_path):
    (tmp_path / "notes.txt").write_text("not XML")
    [problem] = validate_paths([tmp_path])
    assert problem.code == "E001"
    [problem] = validate_paths([tmp_path / "notes.txt"])
    assert problem.code == "E001"


def test_e003_missing_path(tmp_path):
    [problem] = validate_paths([tmp_path / "missing"])
    assert problem.code == "E003" and problem.file == str(tmp_path / "missing")


def test_w060_cmif_schema_missing_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "CMIF_RNG", tmp_path / "cmi-customization.rng")
    validate.cmif_grammar.cache_clear()
    try:
        problems = validate_paths([DATASET])
        result = CliRunner().invoke(main, ["validate", str(DATASET)])
    finally:
        validate.cmif_grammar.cache_clear()
    assert [p.code for p in problems] == ["W060"]
    assert result.exit_code == 0 and "W060" in result.output


def test_e045_note_call_into_another_file(tmp_path):
    folder = _edited(tmp_path, Edit(LETTER, 'target="../mini.xml#mini-n2"',
                                    'target="../mini.xml#mini-ch01"'))
    assert [p.code for p in validate_paths([folder])] == ["E045"]


def test_e020_path_outside_the_dataset(tmp_path):
    folder = _edited(tmp_path, Edit("data/documents.csv", "text/mini/mini-notes.txt",
                                    "../../../etc/passwd"))
    [problem] = validate_paths([folder])
    assert problem.code == "E020" and "not a path inside the dataset" in problem.message


# --- hostile input ----------------------------------------------------------------------------

def test_billion_laughs_is_refused_quickly():
    start = time.perf_counter()
    [problem] = validate_paths([BROKEN / "E033-billion-laughs.xml"])
    assert time.perf_counter() - start < 1
    assert problem.code == "E033" and "lol" not in problem.message


def test_system_entity_is_refused_and_never_read():
    path = BROKEN / "E033-system-entity.xml"
    [problem] = validate_paths([path])
    assert (problem.code, problem.line) == ("E033", 4)
    for fmt in ("text", "json"):
        result = CliRunner().invoke(main, ["validate", str(path), "--format", fmt])
        assert result.exit_code == 1
        assert not PASSWD_CONTENT.search(result.output)
        assert "E033" in result.output


def test_the_parser_alone_expands_nothing():
    """Behind the DOCTYPE check, the parser itself neither reads files nor expands."""
    for name in ("E033-system-entity.xml", "E033-billion-laughs.xml"):
        start = time.perf_counter()
        try:
            tree = etree.parse(str(BROKEN / name), validate._parser())
        except etree.XMLSyntaxError as exc:   # libxml2's own amplification limit
            assert "amplification" in str(exc)
        else:
            serialised = etree.tostring(tree, encoding="unicode")
            assert not PASSWD_CONTENT.search(serialised)
            assert len(serialised) < 5000
        assert time.perf_counter() - start < 1


def test_external_dtd_is_refused_and_the_parser_never_loads_it():
    path = BROKEN / "E033-external-dtd.xml"
    [problem] = validate_paths([path])
    assert (problem.code, problem.line) == ("E033", 3)
    # The parser alone does not load it either (lxml's collect_ids=False would: see _parser).
    parser = validate._parser()
    tree = etree.parse(str(path), parser)
    assert tree.getroot().tag.endswith("TEI")
    assert not any("external subset" in e.message for e in parser.error_log)


def test_duplicate_ids_are_e042_not_a_parse_error(tmp_path):
    path = tmp_path / "dup.xml"
    path.write_text(SOURCE_FILE.read_text(encoding="utf-8").replace(
        'xml:id="mini-n2"', 'xml:id="mini-n1"'), encoding="utf-8")
    problems = validate_paths([path])
    assert "E042" in {p.code for p in problems} and "E032" not in {p.code for p in problems}


def test_descriptor_cannot_point_outside_the_dataset(tmp_path):
    folder = _edited(tmp_path, Edit("datapackage.json", '"path": "data/persons.csv"',
                                    '"path": "/etc/passwd"'))
    problems = validate_paths([folder])
    assert "E073" in {p.code for p in problems}
    assert not any(PASSWD_CONTENT.search(p.message) for p in problems)


def test_non_utf8_table_is_one_problem_and_one_note(tmp_path):
    folder = _dataset(tmp_path)
    (folder / "data" / "places.csv").write_bytes(
        b"place_id,name,country\nbruxelles,Bruxelles \xe9,BE\n"
    )
    problems = validate_paths([folder])
    assert [p.code for p in problems] == ["E074", "W071"]
    assert problems[0].message.startswith("line 2: byte 0xE9 is not utf-8")
    assert "foreign key letters.place_id -> places.place_id" in problems[1].message


def test_validation_writes_nothing(tmp_path):
    folder = _edited(tmp_path, EDITS["E040"])
    def snapshot():
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")}
    before = snapshot()
    validate_paths([folder, folder / "tei", folder / "tei" / "mini.xml"])
    CliRunner().invoke(main, ["validate", str(folder), "--format", "json"])
    assert snapshot() == before


# --- our schemas: in step with the tables, valid TEI ------------------------------------------

def _define(grammar: etree._ElementTree, name: str) -> etree._Element:
    [define] = [d for d in grammar.iter(f"{RNG}define") if d.get("name") == name]
    return define


def _values(node: etree._Element) -> list[str]:
    return [v.text for v in node.iter(f"{RNG}value")]


def _table_field(table: str, field: str) -> dict:
    schema = json.loads((ROOT / "schema" / "tables" / f"{table}.json").read_text())
    [found] = [f for f in schema["fields"] if f["name"] == field]
    return found["constraints"]


def test_closed_lists_are_the_tables_own():
    grammar = etree.parse(str(validate.TEI_RNG))
    assert _values(_define(grammar, "div.type")) == _table_field("documents", "type")["enum"]
    term = next(e for e in grammar.iter(f"{RNG}element") if e.get("name") == "term")
    assert _values(term.find(f"{RNG}choice")) == _table_field("letters", "form")["enum"]
    note_type = next(a for a in _define(grammar, "note").iter(f"{RNG}attribute")
                     if a.get("name") == "type")
    assert _values(note_type) == _table_field("notes", "kind")["enum"]
    pattern = _define(grammar, "data.id").findtext(f"{RNG}data/{RNG}param")
    assert pattern.replace("\\-", "-") == _table_field("documents", "document_id")["pattern"]
    assert set(_table_field("letters", "date_cert")["enum"]) <= set(
        _values(_define(grammar, "att.cert")))


def test_fixtures_are_valid_against_our_schemas_and_tei_all(tei_all):
    for path in (SOURCE_FILE, LETTER_FILE):
        assert validate.validate_xml_file(path) == [], path
        tree = etree.parse(str(path))
        assert tei_all.validate(tree), (path, str(tei_all.error_log))
    # and against the grammar as jing would run it (its start: either shape)
    whole = etree.RelaxNG(etree.parse(str(validate.TEI_RNG)))
    assert all(whole.validate(etree.parse(str(p))) for p in (SOURCE_FILE, LETTER_FILE))


def test_folder_of_tei_files_and_several_paths():
    assert validate_paths([DATASET / "tei", SOURCE_FILE, LETTER_FILE]) == []
    assert validate_paths([DATASET / "datapackage.json"]) == []


def test_schemas_are_compiled_once_per_run():
    validate_paths([DATASET])
    before = validate.tei_grammar.cache_info().misses, validate.tei_schematron.cache_info().misses
    validate_paths([DATASET, DATASET / "tei"])
    after = validate.tei_grammar.cache_info().misses, validate.tei_schematron.cache_info().misses
    assert before == after


# --- the command --------------------------------------------------------------------------------

def test_cli_valid_invalid_and_usage_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(DATASET)])
    assert result.exit_code == 0 and result.output == f"{DATASET}: valid\n"
    folder = _edited(tmp_path, EDITS["E041"])
    result = runner.invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"E041 {folder / 'tei' / 'mini.xml'}:")
    assert lines[-1] == f"{folder}: invalid, 1 error(s), 1 warning(s)"
    assert runner.invoke(main, ["validate", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(main, ["validate"]).exit_code == 2
    assert runner.invoke(main, ["validate", str(DATASET), "--format", "xml"]).exit_code == 2


def test_cli_json_report(tmp_path):
    folder = _edited(tmp_path, EDITS["E010"])
    result = CliRunner().invoke(main, ["validate", str(folder), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["valid"], report["errors"], report["warnings"]) == (False, 1, 0)
    [problem] = report["problems"]
    assert problem["code"] == "E010" and problem["severity"] == "error"
    assert (problem["row"], problem["field"]) == (3, "type")
    result = CliRunner().invoke(main, ["validate", str(DATASET), "--format", "json"])
    assert json.loads(result.output)["valid"] is True and result.exit_code == 0


# --- the real dataset ----------------------------------------------------------------------------

def test_published_dataset_is_valid(dist):
    problems = validate_dataset(dist)
    assert problems == [], "\n".join(p.render() for p in problems)     # nor any warning
    result = CliRunner().invoke(main, ["validate", str(dist)])
    assert result.exit_code == 0




def _copy_of(dist: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    shutil.copytree(dist, folder)
    return folder


def test_foreign_key_violation_is_located_by_row_and_field(dist, tmp_path):
    folder = _copy_of(dist, tmp_path)
    letters = folder / "data" / "letters.csv"
    lines = letters.read_text(encoding="utf-8").split("\n")
    assert ",serge,kneller," in lines[1]
    lines[1] = lines[1].replace(",serge,kneller,", ",serge,nobody,")
    letters.write_text("\n".join(lines), encoding="utf-8")
    problems = validate_dataset(folder)
    located = [(p.code, p.row, p.field) for p in problems if "foreign key" in p.message]
    assert located == [("E010", 2, "addressee_id")]


def test_w040_only_for_notes_the_dataset_does_not_list_as_unmarked(dist, tmp_path):
    folder = _copy_of(dist, tmp_path)
    assert not [p for p in validate_dataset(folder) if p.code == "W040"]
    anomalies = folder / "data" / "note_anomalies.csv"
    kept = [line for line in anomalies.read_text(encoding="utf-8").split("\n")
            if "note_without_mark" not in line]
    anomalies.write_text("\n".join(kept), encoding="utf-8")
    warned = [p.message for p in validate_dataset(folder) if p.code == "W040"]
    assert len(warned) == 2 and "papers-ch01-n37" in warned[0] and \
        "papers-ch02-n236" in warned[1]


# --- dates, as strictly as tei_all -------------------------------------------------------------

DATE_VALUES = ["1936", "1936-04", "1936-04-22", "1936-02-29", "1936-02-30", "1937-02-29",
               "1900-02-29", "2000-02-29", "1936-13", "1936-00", "1936-04-31", "1936-04-00",
               "1936-4-22", "36-04-22", "0000", "-0044-03-15", "12345-01-01", "01936",
               "1936-04-22Z", "1936-04-22+02:00", "1936-04-22+15:00", "--04-22", "--02-29",
               "--02-30", "--13", "---31", "---32", "10:30:00", "24:00:00", "24:30:00",
               "1936-04-22T10:30:00", "1936-04-22T25:00:00", "1936-04-22T10:61:00",
               "April 1936", "", " 1936", "1936-04-22 ", "1936-W16"]


@pytest.fixture(scope="module")
def tei_all_when():
    """tei_all's own definition of @when (att.datable.w3c), compiled alone."""
    grammar = etree.parse(str(package_files("schemas") / "tei_all.rng"))
    [define] = [d for d in grammar.iter(f"{RNG}define")
                if d.get("name") == "att.datable.w3c.attribute.when"]
    attribute = next(define.iter(f"{RNG}attribute"))
    root = etree.fromstring(
        '<grammar xmlns="http://relaxng.org/ns/structure/1.0" datatypeLibrary='
        '"http://www.w3.org/2001/XMLSchema-datatypes"><start><element name="date"/>'
        '</start></grammar>')
    root.find(f"{RNG}start/{RNG}element").append(attribute)
    return etree.RelaxNG(root)


@pytest.mark.parametrize("value", DATE_VALUES)
def test_tei_dates_are_checked_as_tei_all_checks_them(value, tei_all_when):
    element = etree.Element("date", when=value)
    assert tei_all_when.validate(etree.ElementTree(element)) == \
        (validate.w3c_date_error(value) == ""), validate.w3c_date_error(value)


def test_tei_date_attributes_on_any_element_but_not_citing_ranges(tmp_path):
    path = tmp_path / "mini.xml"
    text = SOURCE_FILE.read_text(encoding="utf-8")
    assert '<date when="1936-05">' in text
    path.write_text(text.replace('<date when="1936-05">',
                                 '<date notBefore="1936-02-30" notAfter="1936-13">'),
                    encoding="utf-8")
    found = [p for p in validate_paths([path]) if p.code == "E075"]
    assert sorted(p.message.split(":")[0] for p in found) == [
        '<date notAfter="1936-13">', '<date notBefore="1936-02-30">']
    assert {p.line for p in found} == {_line_of(text, '<date when="1936-05">')}
    tree = etree.fromstring('<TEI xmlns="http://www.tei-c.org/ns/1.0"><biblScope from="12" '
                            'to="xv"/><event from="1936-02-30" to="1936"/></TEI>')
    found = validate._date_problems(etree.ElementTree(tree), "x.xml")
    assert [p.message for p in found] == ['<event from="1936-02-30">: there is no day 30 in '
                                          'February']


@pytest.mark.parametrize("value,why", [("1936", ""), ("1936-02", ""), ("1936-02-29", ""),
                                       ("1936-02-30", "there is no day 30 in February"),
                                       ("1937-02-29", "1937 is not a leap year"),
                                       ("1936-13", "there is no month 13"),
                                       ("1936-04-31", "there is no day 31 in April")])
def test_table_dates_partial_or_calendar_valid(value, why):
    assert validate.table_date_error(value).startswith(why) and \
        bool(validate.table_date_error(value)) == bool(why)


# --- what validate will not read -------------------------------------------------------------

def test_validate_dataset_never_opens_outside_its_folder(tmp_path, monkeypatch):
    """Every file validate opens is a regular file inside the dataset (no link on its way)."""
    folder = _dataset(tmp_path)
    opened = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        opened.append(Path(path))
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(validate.os, "open", spy)
    (folder / "data" / "persons.csv").unlink()
    (folder / "data" / "persons.csv").symlink_to("/etc/passwd")
    problems = validate_paths([folder])
    assert {p.code for p in problems} == {"E070", "W071"}
    assert opened and all(p.resolve().is_relative_to(folder.resolve()) and not p.is_symlink()
                          for p in opened)
    assert folder / "data" / "persons.csv" not in opened


def test_report_keeps_at_most_n_per_code_and_counts_all(tmp_path):
    folder = _dataset(tmp_path)
    with (folder / "data" / "places.csv").open("a", encoding="utf-8") as handle:
        for n in range(30):
            handle.write(f"p{n},Place,xx\n")
    report = validate.validate_report([folder], max_per_code=5)
    assert [p.code for p in report.problems] == ["E010"] * 5
    assert (report.errors, report.omitted) == (30, {"E010": 25})
    assert validate.summary([folder], report) == f"{folder}: invalid, 30 error(s)"
    data = json.loads(validate.report_json([folder], report))
    assert (data["errors"], data["omitted"], len(data["problems"])) == (30, {"E010": 25}, 5)
    assert len(validate.validate_report([folder]).problems) == 30


# --- tables: read as frictionless reads cells -------------------------------------------------

JUNK = [5, None, True, "x", [], {}, [5], {"a": 1}, "http://127.0.0.1:9/x", "/etc/passwd"]


def _nodes(data: object, at: tuple = ()) -> Iterator[tuple]:
    yield at
    children = data.items() if isinstance(data, dict) else \
        enumerate(data) if isinstance(data, list) else []
    for key, value in children:
        yield from _nodes(value, (*at, key))


def test_any_junk_in_the_descriptor_is_reported_never_raised(tmp_path, monkeypatch):
    """Every value of datapackage.json replaced in turn by junk (wrong types, URLs, paths
    outside): validate reports, it never raises nor opens a connection."""
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "getaddrinfo", _no_network)
    folder = _dataset(tmp_path)
    shutil.rmtree(folder / "tei")
    (folder / "cmif.xml").unlink()
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    nodes = list(_nodes(descriptor))[1:]
    assert len(nodes) > 100
    for at in nodes:
        parent = descriptor
        for key in at[:-1]:
            parent = parent[key]
        before = parent[at[-1]]
        for junk in JUNK:
            # set in the descriptor itself and put back after (a copy for each is slower)
            parent[at[-1]] = junk
            (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
            problems = validate_paths([folder])
            assert all(isinstance(p, validate.Problem) for p in problems)
            assert not any(PASSWD_CONTENT.search(p.message) for p in problems)
        parent[at[-1]] = before


def _no_network(*args, **kwargs):
    raise AssertionError(f"validate tried to use the network: {args!r}")


def test_folder_of_tei_files_refuses_links_and_fifos(tmp_path):
    shutil.copy(SOURCE_FILE, tmp_path / "mini.xml")
    (tmp_path / "passwd.xml").symlink_to("/etc/passwd")
    (tmp_path / "letters").symlink_to(LETTER_FILE.parent)
    os.mkfifo(tmp_path / "pipe.xml")
    problems = validate_paths([tmp_path])
    assert sorted((p.code, Path(p.file).name) for p in problems) == [
        ("E070", "letters"), ("E070", "passwd.xml"), ("E071", "pipe.xml")]
    assert not any(PASSWD_CONTENT.search(p.message) for p in problems)
    [problem] = validate_paths([tmp_path / "pipe.xml"])     # named alone: still not opened
    assert problem.code == "E071"


def test_lean_schematron_reports_what_the_stock_one_does():
    """tei_schematron() drops fired-rule elements and a stray walk per pattern: on files
    that break its rules (a dangling pointer, an id used twice, a note call into a non-note,
    an uncalled note) it reports the same failed assertions, at the same places, as lxml's
    stock compilation of the same Schematron, and no fired-rule."""
    from lxml import isoschematron
    stock = isoschematron.Schematron(validate._load_schema_tree(validate.TEI_SCH),
                                     store_report=True)
    text = SOURCE_FILE.read_text(encoding="utf-8")
    broken = (text.replace('target="#mini-n1"', 'target="#nowhere"', 1)
                  .replace('xml:id="mini-ch01"', 'xml:id="mini"', 1)
                  .replace('target="#mini-n2"', 'target="#mini-original"', 1))
    assert broken != text
    svrl = "{http://purl.oclc.org/dsdl/svrl}"
    for data in (text.encode("utf-8"), broken.encode("utf-8"), LETTER_FILE.read_bytes()):
        tree, problems = validate.parse_xml(data, "test.xml")
        assert tree is not None and not problems
        stock.validate(tree)
        expected = [(e.get("location"), e.get("role"), "".join(e.itertext()).split())
                    for e in stock.validation_report.iter(f"{svrl}failed-assert")]
        lean = validate.tei_schematron()(tree)
        assert [(e.get("location"), e.get("role"), "".join(e.itertext()).split())
                for e in lean.iter(f"{svrl}failed-assert")] == expected
        assert next(lean.iter(f"{svrl}fired-rule"), None) is None
    codes = {m[1] for m in re.finditer(r"\[(E04\d|W04\d)\]", " ".join(
        "".join(e.itertext()) for e in validate.tei_schematron()(
            validate.parse_xml(broken.encode("utf-8"), "test.xml")[0]).iter(
            f"{svrl}failed-assert")))}
    assert {"E041", "E042", "E045"} <= codes
