"""docs/metadata.md is generated from schema/sources/*.json and every key is described."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sergetrotsky import metadata_docs
from sergetrotsky.resources import schema_bytes

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "metadata.md"


def _undescribed(schema: dict[str, Any], at: str = "") -> Iterator[str]:
    """Every key of a schema without a description, found by walking the JSON itself
    (not through metadata_docs, so that a key the generator skipped is still seen)."""
    for name, sub in schema.get("properties", {}).items():
        path = f"{at}.{name}" if at else name
        if not str(sub.get("description", "")).strip():
            yield path
        yield from _undescribed(sub, path)
    named = schema.get("additionalProperties")
    if isinstance(named, dict):
        if at and not str(named.get("description", "")).strip():
            yield f"{at}.<key>"
        yield from _undescribed(named, f"{at}.<key>")
    if isinstance(schema.get("items"), dict):
        yield from _undescribed(schema["items"], f"{at}[]")


def test_the_committed_reference_is_the_generated_one():
    assert DOC.read_text(encoding="utf-8") == metadata_docs.render(), (
        "docs/metadata.md is not the reference generated from schema/sources/*.json: "
        f"run `make docs` (or `{metadata_docs.REGENERATE}`) and commit it")


def test_every_key_of_every_schema_has_a_description():
    missing = {name: list(_undescribed(json.loads(schema_bytes("sources", f"{name}.json"))))
               for name in metadata_docs.schema_names()}
    assert not {k: v for k, v in missing.items() if v}, \
        f"keys without a description (add one in schema/sources/<name>.json): {missing}"


def test_every_schema_is_documented_with_the_file_it_describes():
    assert sorted(name for name, _ in metadata_docs.SCHEMAS) == metadata_docs.schema_names(), \
        "a schema of schema/sources/ is not documented: add it to metadata_docs.SCHEMAS"
    text = metadata_docs.render()
    for name, file in metadata_docs.SCHEMAS:
        assert f"## `{file}`\n\nSchema: `schema/sources/{name}.json`." in text


def test_every_key_is_a_row_with_its_type_requirement_and_values():
    """Each key the JSON holds is a row; nested tables, arrays of tables and named keys
    get dotted paths; the columns say what the schema says."""
    rows = {key.path: key for key in metadata_docs.keys(metadata_docs.load("source"))}
    schema = metadata_docs.load("source")
    clean = schema["properties"]["clean"]["properties"]
    assert set(clean["remove"]["items"]["properties"]) == {
        p.removeprefix("clean.remove[].") for p in rows if p.startswith("clean.remove[].")}
    first_line = rows["clean.remove[].first_line"]
    assert first_line.required == "yes" and rows["clean.remove[].why"].required == "no"
    assert metadata_docs.type_of(rows["clean.remove"].schema) == "array of tables"
    assert "`boilerplate`, `page-furniture`" in metadata_docs.values_of(
        rows["clean.remove[].reason"].schema)
    assert rows["bibliographic.inferred.<field>"].description

    letters = {key.path: key for key in metadata_docs.keys(metadata_docs.load("letters"))}
    assert "letter.<id>.date" in letters
    # dependentRequired: date_cert is required when date is given
    assert letters["letter.<id>.date_cert"].required == "with `date`"
    text = metadata_docs.render()
    row = next(line for line in text.splitlines() if line.startswith("| `letter.<id>.date` |"))
    assert "a real calendar day" in row and letters["letter.<id>.date"].description in row


def test_a_pipe_in_a_description_does_not_break_its_table_row():
    key = metadata_docs.Key("x", {"type": "string", "description": "a | b"}, "no")
    cells = metadata_docs._cell(key.description)
    assert cells == "a \\| b"
    rows = [line for line in metadata_docs.render().splitlines() if line.startswith("| `")]
    assert rows
    for row in rows:   # five cells: six unescaped pipes
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row


def test_the_module_prints_the_reference():
    out = subprocess.run([sys.executable, "-m", "sergetrotsky.metadata_docs"],
                         capture_output=True, check=True, cwd="/")
    assert out.stdout.decode("utf-8") == metadata_docs.render()


def test_contributing_and_the_schema_readme_point_to_the_reference():
    assert "docs/metadata.md" in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "docs/metadata.md" in (ROOT / "schema" / "sources" / "README.md").read_text(
        encoding="utf-8")
