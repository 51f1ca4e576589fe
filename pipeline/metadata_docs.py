"""The reference of the source metadata formats, written from their JSON Schemas.

``docs/metadata.md`` documents every key of every TOML metadata file under ``sources/``
(``source.toml``, ``segment.toml``, ``letters.toml``, the registry files,
``dataset.toml``). It is generated from ``schema/sources/*.json``, the schemas the build
checks the files against, so that the documentation cannot drift from what the tool
accepts: a key's type, whether it is required, its allowed values and its description
all come from its schema. Regenerate it after changing a schema::

    make docs        # = .venv/bin/python -m sergetrotsky.metadata_docs > docs/metadata.md

``tests/test_metadata_docs.py`` fails while the committed file differs from
:func:`render`, or while a key has no description.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .resources import schema_bytes, schema_file

# The schemas in the order a contributor meets their files, with the file each describes.
SCHEMAS: tuple[tuple[str, str], ...] = (
    ("source", "sources/<id>/source.toml"),
    ("segment", "sources/<id>/segment.toml"),
    ("letters", "sources/<id>/letters.toml"),
    ("persons", "sources/_registry/persons.toml"),
    ("places", "sources/_registry/places.toml"),
    ("decisions", "sources/_registry/decisions.toml"),
    ("dataset", "sources/dataset.toml"),
)
# The placeholder of a table's keys that the contributor names (``[letter.letter-12]``);
# by the table's dotted path, else ``<key>``.
NAMED_KEYS = {"letter": "<id>", "place_forms": "<form>", "bibliographic.inferred": "<field>",
              "bibliographic.quoted": "<field>"}
REGENERATE = ".venv/bin/python -m sergetrotsky.metadata_docs > docs/metadata.md"
TOML_TYPES = {"string": "string", "integer": "integer", "number": "number (integer or float)",
              "boolean": "boolean", "object": "table", "array": "array"}
FORMATS = {"partial-date": "date `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, a real calendar day",
           "full-date": "date `YYYY-MM-DD`, a real calendar day"}


@dataclass(frozen=True)
class Key:
    """One key of a metadata file, as its schema defines it."""

    path: str           # dotted: ``clean.remove[].first_line``, ``letter.<id>.date``
    schema: dict[str, Any]
    required: str       # "yes", "no", or "with `key`" (dependentRequired)

    @property
    def description(self) -> str:
        return str(self.schema.get("description", "")).strip()


def load(name: str) -> dict[str, Any]:
    """The schema ``schema/sources/<name>.json``."""
    return json.loads(schema_bytes("sources", f"{name}.json").decode("utf-8"))


def schema_names() -> list[str]:
    """The names of every schema in ``schema/sources/`` (documented or not)."""
    return sorted(p.stem for p in schema_file("sources").glob("*.json"))


def keys(schema: dict[str, Any], prefix: str = "") -> Iterator[Key]:
    """Every key a table of this schema may hold, depth first in the schema's order:
    keys of sub-tables, of arrays of tables (``name[]``) and of tables whose keys the
    contributor chooses (``name.<id>``) included."""
    required = set(schema.get("required", []))
    needed_with: dict[str, list[str]] = {}
    for key, needs in schema.get("dependentRequired", {}).items():
        for need in needs:
            needed_with.setdefault(need, []).append(key)
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        if name in required:
            status = "yes"
        elif name in needed_with:
            status = "with " + ", ".join(f"`{k}`" for k in needed_with[name])
        else:
            status = "no"
        yield Key(path, sub, status)
        yield from _inside(sub, path)


def _inside(schema: dict[str, Any], path: str) -> Iterator[Key]:
    """The keys below a key: its table's, its array's tables', its named keys'."""
    if schema.get("type") == "object" or "properties" in schema:
        yield from keys(schema, path)
        named = schema.get("additionalProperties")
        if isinstance(named, dict):
            inner = f"{path}.{NAMED_KEYS.get(path, '<key>')}"
            yield Key(inner, named, "no")
            yield from _inside(named, inner)
    elif schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        items = schema["items"]
        if items.get("type") == "object" or "properties" in items:
            yield from _inside(items, f"{path}[]")


def type_of(schema: dict[str, Any]) -> str:
    """The key's type in TOML's words (``array of tables``, ``string``…)."""
    if "enum" in schema:
        kinds = sorted({type(v).__name__ for v in schema["enum"]})
        return "string" if kinds == ["str"] else " or ".join(kinds)
    wanted = schema.get("type", "")
    if isinstance(wanted, list):
        return " or ".join(TOML_TYPES.get(w) or w for w in wanted)
    if wanted == "array":
        items = schema.get("items", {})
        if items.get("type") == "object":
            return "array of tables"
        return f"array of {TOML_TYPES.get(items.get('type', ''), 'values')}s"
    return TOML_TYPES.get(wanted, wanted or "any")


def _constraints(schema: dict[str, Any]) -> list[str]:
    found = []
    if "enum" in schema:
        found.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    if "const" in schema:
        found.append(f"`{json.dumps(schema['const'])}`")
    if "format" in schema:
        found.append(FORMATS.get(schema["format"], f"format {schema['format']}"))
        if schema["format"] == "partial-date" and not schema.get("minLength"):
            found[-1] += "; empty: not known"
    if "pattern" in schema:
        found.append(f"matches `{schema['pattern']}`")
    if schema.get("minLength") == 1:
        found.append("not empty")
    elif "minLength" in schema:
        found.append(f"at least {schema['minLength']} characters")
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        found.append(f"{low} to {high}")
    elif low is not None:
        found.append(f"≥ {low}")
    elif high is not None:
        found.append(f"≤ {high}")
    if "minItems" in schema:
        found.append(f"at least {schema['minItems']} item{'s' * (schema['minItems'] != 1)}")
    return found


def values_of(schema: dict[str, Any]) -> str:
    """Allowed values, format and limits of a key (of each item, for an array of values)."""
    found = _constraints(schema)
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and items.get("type") != "object":
        found += [f"each: {c}" for c in _constraints(items)]
    if schema.get("additionalProperties") is False and (
            schema.get("type") == "object" or "properties" in schema):
        found.append("closed: no other keys")
    if isinstance(schema.get("additionalProperties"), dict) or (
            schema.get("type") == "object" and "properties" not in schema
            and schema.get("additionalProperties") is not False):
        found.append("keys named as the description says")
    names = schema.get("propertyNames", {})
    if "pattern" in names:
        found.append(f"keys match `{names['pattern']}`")
    return "; ".join(found)


def _cell(text: str) -> str:
    """Text fit for one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    """``docs/metadata.md``: per schema, the file it describes and a table of its keys."""
    out = [
        "# Source metadata reference",
        "",
        "<!-- Generated from schema/sources/*.json by `make docs` "
        f"(`{REGENERATE}`). Do not edit by hand: change the schema's descriptions and "
        "regenerate. -->",
        "",
        "Every key of every metadata file under `sources/`, generated from the JSON Schemas "
        "(`schema/sources/*.json`) that `sergetrotsky build` and `sergetrotsky validate "
        "sources/<id>` check the files against. A file that breaks its schema stops the "
        "build with one coded, located line per problem (`E100`–`E106` in "
        "[validation-codes.md](validation-codes.md)); an unknown key is an error, with the "
        "nearest known key suggested. How to use these keys is told in "
        "[CONTRIBUTING.md](../CONTRIBUTING.md).",
        "",
        "Reading the key paths: `clean.hard_wrapped` is the key `hard_wrapped` of the table "
        "`[clean]`; `clean.remove[].first_line` is a key of each table of the array "
        "`[[clean.remove]]`; `letter.<id>.date` is a key of a table whose name you choose "
        "(`[letter.letter-12]`). *Required* \"with `k`\" means: required when the key `k` "
        "is given.",
        "",
    ]
    for name, file in SCHEMAS:
        schema = load(name)
        out += [f"## `{file}`", "",
                f"Schema: `schema/sources/{name}.json`. {_cell(schema.get('description', ''))}",
                "", "| Key | Type | Required | Values | Description |",
                "|---|---|---|---|---|"]
        for key in keys(schema):
            out.append(f"| `{key.path}` | {_cell(type_of(key.schema))} | {key.required} | "
                       f"{_cell(values_of(key.schema))} | {_cell(key.description)} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    """Print ``docs/metadata.md`` (UTF-8, whatever the terminal's encoding)."""
    sys.stdout.buffer.write(render().encode("utf-8"))


if __name__ == "__main__":
    main()
