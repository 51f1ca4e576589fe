"""The source metadata: its JSON Schemas (schema/sources/), the located, coded problems they
give, and the catalogue of the build's codes (docs/validation-codes.md, section "Build")."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sergetrotsky import build, contribution
from sergetrotsky.errors import BUILD_CODES, BuildFailed, PipelineError
from sergetrotsky.resources import schema_bytes, table_schema
from sergetrotsky.sources import (
    DatasetMeta,
    discover,
    field_name,
    key_lines,
    load_dataset,
    load_source,
    schema_problems,
    toml_line,
)

from .conftest import ROOT, SOURCES

SCHEMAS = ("source", "segment", "letters", "persons", "places", "dataset")
HOSTILE = ROOT / "tests" / "hostile" / "build"
# Codes whose failing case is a test of tests/test_publish.py (they need a lock held, a
# process killed or a monkeypatched bug), not a folder of tests/hostile/build/.
TESTED_IN_PUBLISH = {"E203": "test_a_conservation_failure_is_coded",
                     "E503": "test_a_second_build_into_a_locked_folder_stops_with_a_message",
                     "E505": "test_release_of_a_stale_dataset_is_coded",
                     "W500": "test_a_kill_between_the_two_renames_is_repaired_by_the_next_build"}


def _schema(name):
    return json.loads(schema_bytes("sources", f"{name}.json"))


@pytest.mark.parametrize("name", SCHEMAS)
def test_schemas_are_draft_2020_12_and_closed(name):
    schema = _schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)

    def tables(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield node
            for value in node.values():
                yield from tables(value)
        elif isinstance(node, list):
            for value in node:
                yield from tables(value)
    assert all(t.get("additionalProperties") is False for t in tables(schema))


def test_real_metadata_passes_every_schema():
    files = [(p, "source") for p in SOURCES.glob("*/source.toml")]
    files += [(p, "segment") for p in SOURCES.glob("*/segment.toml")]
    files += [(p, "letters") for p in SOURCES.glob("*/letters.toml")]
    files += [(SOURCES / "_registry" / "persons.toml", "persons"),
              (SOURCES / "_registry" / "places.toml", "places"),
              (SOURCES / "dataset.toml", "dataset")]
    for path, name in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert schema_problems(path, data, name) == [], path


def test_closed_lists_are_those_of_the_table_schemas():
    def enum(table, field):
        return next(f for f in table_schema(table)["fields"]
                    if f["name"] == field)["constraints"]["enum"]
    source, segment, letters = _schema("source"), _schema("segment"), _schema("letters")
    units = segment["properties"]["segment"]["properties"]["units"]["items"]["properties"]
    assert units["type"]["enum"] == enum("documents", "type")
    assert segment["properties"]["segment"]["properties"]["top_type"]["enum"] == \
        enum("documents", "type")
    bib = source["properties"]["bibliographic"]["properties"]
    assert bib["kind"]["enum"] == enum("sources", "kind")
    assert bib["origin"]["enum"] == enum("sources", "origin")
    entry = letters["properties"]["letter"]["additionalProperties"]["properties"]
    assert entry["form"]["enum"] == enum("letters", "form")
    assert entry["date_cert"]["enum"] == enum("letters", "date_cert")


def _papers(tmp_path, old, new, file="source.toml"):
    folder = tmp_path / "papers"
    shutil.copytree(SOURCES / "papers", folder)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder, path


def _line(path, text):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("old, new, code, field, words", [
    ("hard_wrapped = false", 'hard_wrapped = "no"', "E103", "clean.hard_wrapped",
     "must be true or false, not a string ('no')"),
    ("count = 2", 'count = "two"', "E103", "clean.emendations[0].count", "must be an integer"),
    ('short_title = "The Serge–Trotsky Papers"', 'short_title = ["x"]', "E103",
     "bibliographic.short_title", "must be a string"),
    ('hyphen_keep = ["policy-implementer"]', 'hyphen_kep = ["policy-implementer"]', "E102",
     "clean.hyphen_kep", "unknown key 'hyphen_kep' (did you mean hyphen_keep?)"),
    ('origin = "ebook"', 'origin = "e-book"', "E104", "bibliographic.origin", "'e-book'"),
    ('date = "1994"', 'date = "1994-02-29"', "E105", "bibliographic.date", "not a calendar date"),
    ('reason = "page-furniture"', 'reason = "furniture"', "E104", "clean.remove[0].reason",
     "one of: boilerplate, page-furniture"),
])
def test_a_wrong_value_in_source_toml_is_one_coded_located_problem(tmp_path, old, new, code,
                                                                    field, words):
    folder, path = _papers(tmp_path, old, new)
    with pytest.raises(BuildFailed) as failed:
        load_source(folder)
    [problem] = failed.value.problems
    assert (problem.code, problem.file, problem.field) == (code, str(path), field)
    assert problem.line == _line(path, new)
    assert words in problem.message


def test_a_calendar_date_in_letters_toml_is_checked(tmp_path):
    folder, path = _papers(tmp_path, 'date = "1936-05-27"', 'date = "1936-05-32"', "letters.toml")
    with pytest.raises(BuildFailed) as failed:
        load_source(folder)
    [problem] = failed.value.problems
    assert problem.render() == (f"E105 {path}:{_line(path, '1936-05-32')} field "
                                "letter.letter-12.date: '1936-05-32' is not a calendar date "
                                "(YYYY, YYYY-MM or YYYY-MM-DD)")


def test_a_toml_date_is_read_as_its_iso_text(tmp_path):
    folder, _ = _papers(tmp_path, 'date = "1936-05-27"', "date = 1936-05-27", "letters.toml")
    load_source(folder)   # no problem: the loaders read a TOML date as text anyway


def test_leap_days_and_partial_dates():
    from sergetrotsky.sources import _partial_date
    assert all(map(_partial_date, ["", "1936", "1936-02", "1936-02-29", "2000-02-29"]))
    assert not any(map(_partial_date, ["1937-02-29", "1900-02-29", "1936-13", "1936-00",
                                       "1936-05-32", "36-05-01", "1936-5-1", "May 1936"]))


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    for source, old, new in [("nelson", 'kind = "article"', 'kind = "pamphlet"'),
                             ("review", "hard_wrapped = true", 'hard_wrapped = "no"')]:
        path = sources / source / "source.toml"
        path.write_text(path.read_text().replace(old, new))
    persons = sources / "_registry" / "persons.toml"
    persons.write_text(persons.read_text().replace('birth = "1879"', "birth = 1879"))
    with pytest.raises(BuildFailed) as failed:
        build.assemble(sources)
    assert failed.value.stage == "metadata"
    assert sorted((p.code, Path(p.file).parent.name) for p in failed.value.problems) == [
        ("E103", "_registry"), ("E103", "review"), ("E104", "nelson")]


def test_key_lines_follow_tables_arrays_and_inline_tables():
    text = ('top = 1\n[a]\nb = "x # not a comment"\n[[a.list]]\nc = 2\n[[a.list]]\nc = 3\n'
            'items = [\n  "one",  # "two" in a comment\n  "two",\n]\n'
            'units = [\n  { level = 1, heading = "H" },\n  { level = 2, type = "t" },\n]\n'
            '[letter.letter-12]\n"quoted key" = "v"\n')
    lines = key_lines(text)
    assert lines[("top",)] == 1 and lines[("a", "b")] == 3
    assert lines[("a", "list", 1, "c")] == 7
    assert lines[("a", "list", 1, "items", 1)] == 10
    assert lines[("a", "list", 1, "units", 1, "type")] == 14
    assert lines[("letter", "letter-12", "quoted key")] == 17
    assert toml_line(text, ("a", "list", 0, "missing")) == 4   # the nearest parent
    assert field_name(("clean", "remove", 2, "first_line")) == "clean.remove[2].first_line"


def test_dataset_toml_is_a_typed_record():
    meta = load_dataset(SOURCES)
    assert isinstance(meta, DatasetMeta)
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta.version) and meta["version"] == meta.version
    assert meta.licenses and all(isinstance(lic, dict) for lic in meta.licenses)


def test_an_original_that_is_a_symlink_inside_the_folder_is_refused(tmp_path):
    folder = tmp_path / "nelson"
    shutil.copytree(SOURCES / "nelson", folder)
    original = folder / "000_35bd3e80a8952862.txt"
    (folder / "copy.txt").write_bytes(original.read_bytes())
    original.unlink()
    original.symlink_to("copy.txt")
    with pytest.raises(BuildFailed) as failed:
        load_source(folder)
    assert [(p.code, p.field) for p in failed.value.problems] == [("E107", "original")]


# --- the catalogue -----------------------------------------------------------------------

def test_every_build_code_is_documented_with_its_sentence():
    doc = (ROOT / "docs" / "validation-codes.md").read_text(encoding="utf-8")
    build = doc.split("\n## Build", 1)[1]
    rows = re.findall(r"^\| `([EW]\d{3})` \| (error|warning) \| (.*?) \|", build, flags=re.M)
    assert [code for code, _, _ in rows] == list(BUILD_CODES)
    for code, severity, sentence in rows:
        assert sentence == BUILD_CODES[code]
        assert severity == ("warning" if code[0] == "W" else "error")
        assert re.fullmatch(r"[EW][1-5]\d\d", code)


def test_every_code_the_pipeline_raises_is_in_the_catalogue():
    used = set()
    for module in (ROOT / "pipeline").glob("*.py"):
        if module.name not in ("validate.py", "errors.py"):   # validate has its own catalogue
            used |= set(re.findall(r'"([EW]\d{3})"', module.read_text(encoding="utf-8")))
    # the contribution check's own codes (E6xx/W6xx) have their catalogue in contribution.py
    assert used - set(contribution.CODES) == set(BUILD_CODES)   # and each is raised somewhere


def test_every_build_code_has_a_failing_case():
    hostile = {tomllib.loads(p.read_text(encoding="utf-8"))["code"]
               for p in HOSTILE.glob("*/case.toml")}
    publish_tests = (ROOT / "tests" / "test_publish.py").read_text(encoding="utf-8")
    for code, test in TESTED_IN_PUBLISH.items():
        assert f"def {test}(" in publish_tests and code in publish_tests
    assert hostile | set(TESTED_IN_PUBLISH) == set(BUILD_CODES)


def test_a_pipeline_error_survives_a_worker_process():
    import pickle
    error = PipelineError("m", file="f.toml", line=3, field="k", code="E300")
    assert pickle.loads(pickle.dumps(error)) == error
    failed = pickle.loads(pickle.dumps(BuildFailed("clean", [error])))
    assert failed.stage == "clean" and failed.problems == [error]


def test_the_real_sources_load(sources):
    assert discover(SOURCES) == sources
