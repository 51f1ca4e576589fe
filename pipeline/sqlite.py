"""The dataset as one SQLite database, read from a dataset folder alone.

Every table of ``datapackage.json`` becomes a SQL table with typed columns, its
primary key, unique constraints and foreign keys (from its Table Schema); the units'
reading texts (``text_path`` of each document, letters included) go into ``texts``,
and ``texts``, ``notes`` get FTS5 full-text indexes (``texts_fts``, ``notes_fts``,
external-content tables that Datasette detects). A view ``correspondence`` joins
the letters with their persons and places. The file is written atomically and is
byte-identical for the same dataset.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PipelineError

SQL_TYPES = {"integer": "INTEGER", "number": "REAL", "boolean": "INTEGER", "year": "INTEGER"}
TEXT_TABLE = "texts"


@dataclass
class Table:
    """One table of a dataset: its resource name, Table Schema and typed rows."""

    name: str
    path: str
    schema: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fields(self) -> list[dict[str, Any]]:
        return self.schema["fields"]

    @property
    def primary_key(self) -> list[str]:
        key = self.schema.get("primaryKey") or []
        return [key] if isinstance(key, str) else list(key)

    def foreign_keys(self) -> list[tuple[list[str], str, list[str]]]:
        """(fields, referenced resource, referenced fields); '' names the table itself."""
        out = []
        for fk in self.schema.get("foreignKeys") or []:
            fields = fk["fields"] if isinstance(fk["fields"], list) else [fk["fields"]]
            ref = fk["reference"]
            ref_fields = ref["fields"] if isinstance(ref["fields"], list) else [ref["fields"]]
            out.append((fields, ref.get("resource") or self.name, ref_fields))
        return out


@dataclass
class Dataset:
    """A dataset folder read through its descriptor: tables, typed; nothing else parsed."""

    root: Path
    descriptor: dict[str, Any]
    tables: dict[str, Table]

    def file(self, relative: str) -> Path:
        return self.root / relative

    def rows(self, name: str) -> list[dict[str, Any]]:
        """The rows of a table, or [] when the dataset has no such table."""
        table = self.tables.get(name)
        return table.rows if table else []


def read_dataset(dataset_dir: Path) -> Dataset:
    """Read ``datapackage.json`` and every table resource, typed by its schema.

    Missing values (the schema's ``missingValues``, by default the empty string)
    become None; integers, numbers, years and booleans become Python values.
    """
    descriptor_path = dataset_dir / "datapackage.json"
    if not descriptor_path.is_file():
        raise PipelineError("not a dataset folder (no datapackage.json)", file=str(dataset_dir))
    try:
        descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PipelineError(f"invalid JSON: {exc.msg}", file=str(descriptor_path),
                            line=exc.lineno) from None
    tables: dict[str, Table] = {}
    for resource in descriptor.get("resources", []):
        if resource.get("type") != "table" and "schema" not in resource:
            continue
        schema = resource["schema"]
        if isinstance(schema, str):
            schema_path = dataset_dir / schema
            if not schema_path.is_file():
                raise PipelineError(f"table schema of '{resource['name']}' is missing",
                                    file=str(schema_path))
            schema = json.loads(schema_path.read_text(encoding="utf-8"))
        table = Table(resource["name"], resource["path"], schema)
        table.rows = _read_rows(dataset_dir / resource["path"], table)
        tables[table.name] = table
    return Dataset(dataset_dir, descriptor, tables)


def _read_rows(path: Path, table: Table) -> list[dict[str, Any]]:
    if not path.is_file():
        raise PipelineError(f"table '{table.name}' is missing", file=str(path))
    missing = set(table.schema.get("missingValues", [""]))
    types = {f["name"]: f.get("type", "string") for f in table.fields}
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for raw in reader:
            line = reader.line_num
            row: dict[str, Any] = {}
            for name, kind in types.items():
                value = raw.get(name)
                if value is None or value in missing:
                    row[name] = None
                    continue
                try:
                    row[name] = _typed(value, kind)
                except ValueError:
                    raise PipelineError(f"not a valid {kind}: {value!r}", file=str(path),
                                        line=line, field=name) from None
            rows.append(row)
    return rows


def _typed(value: str, kind: str) -> Any:
    if kind in ("integer", "year"):
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        if value not in ("true", "false", "True", "False", "1", "0"):
            raise ValueError(value)
        return value in ("true", "True", "1")
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create_table(table: Table) -> str:
    lines = []
    for f in table.fields:
        constraints = f.get("constraints", {})
        column = f"{_quote(f['name'])} {SQL_TYPES.get(f.get('type', 'string'), 'TEXT')}"
        if constraints.get("required") or f["name"] in table.primary_key:
            column += " NOT NULL"
        if constraints.get("unique") and table.primary_key != [f["name"]]:
            column += " UNIQUE"
        if f.get("type") == "boolean":
            column += f" CHECK ({_quote(f['name'])} IN (0, 1))"
        lines.append(column)
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(map(_quote, table.primary_key))})")
    for fields, resource, ref_fields in table.foreign_keys():
        lines.append(f"FOREIGN KEY ({', '.join(map(_quote, fields))}) REFERENCES "
                     f"{_quote(resource)} ({', '.join(map(_quote, ref_fields))})")
    return f"CREATE TABLE {_quote(table.name)} (\n  " + ",\n  ".join(lines) + "\n)"


def write_database(dataset_dir: Path, out_file: Path) -> dict[str, int]:
    """Write the dataset at DATASET_DIR as a SQLite database OUT_FILE; return row counts.

    Foreign keys are checked after loading (``PRAGMA foreign_key_check``); a dangling
    key is a PipelineError naming the table and row, and nothing is written.
    """
    dataset = read_dataset(dataset_dir)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=".sqlite-", dir=out_file.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        counts = _fill(dataset, tmp)
        os.replace(tmp, out_file)
    finally:
        if tmp.exists():
            tmp.unlink()
    return counts


def _fill(dataset: Dataset, path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA page_size = 4096")
        db.execute("PRAGMA journal_mode = OFF")
        counts: dict[str, int] = {}
        with db:
            for table in dataset.tables.values():
                db.execute(_create_table(table))
                names = [f["name"] for f in table.fields]
                sql = (f"INSERT INTO {_quote(table.name)} ({', '.join(map(_quote, names))}) "
                       f"VALUES ({', '.join('?' for _ in names)})")
                db.executemany(sql, ([row[n] for n in names] for row in table.rows))
                counts[table.name] = len(table.rows)
            counts[TEXT_TABLE] = _add_texts(db, dataset)
            _add_search(db, dataset)
            _add_views(db, dataset)
            _add_metadata(db, dataset)
        problems = db.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            table, rowid, parent, _ = problems[0]
            raise PipelineError(f"{len(problems)} foreign key(s) without a target "
                                f"(first: row {rowid} of '{table}' → '{parent}')",
                                file=str(dataset.root / "datapackage.json"))
    finally:
        db.close()
    return counts


def _add_texts(db: sqlite3.Connection, dataset: Dataset) -> int:
    """The reading text of every unit (its sub-units included), from its text_path."""
    if "documents" not in dataset.tables:
        return 0
    db.execute(f"CREATE TABLE {TEXT_TABLE} (\n  document_id TEXT NOT NULL PRIMARY KEY,\n"
               "  title TEXT,\n  text TEXT NOT NULL,\n"
               '  FOREIGN KEY (document_id) REFERENCES "documents" ("document_id")\n)')
    rows = []
    for doc in dataset.rows("documents"):
        path = dataset.file(doc["text_path"])
        if not path.is_file():
            raise PipelineError("text of a unit is missing", file=str(path),
                                field=f"documents.text_path [{doc['document_id']}]")
        rows.append((doc["document_id"], doc.get("title"), path.read_text(encoding="utf-8")))
    db.executemany(f"INSERT INTO {TEXT_TABLE} VALUES (?, ?, ?)", rows)
    return len(rows)


def _add_search(db: sqlite3.Connection, dataset: Dataset) -> None:
    """FTS5 indexes over the texts and the notes (diacritics folded: 'Andres' finds 'Andrés')."""
    tokenizer = "tokenize = 'unicode61 remove_diacritics 2'"
    if "documents" in dataset.tables:
        db.execute(
            f'CREATE VIRTUAL TABLE texts_fts USING fts5(title, text, content="texts", {tokenizer})'
        )
        db.execute(
            "INSERT INTO texts_fts (rowid, title, text) SELECT rowid, title, text FROM texts"
        )
    if "notes" in dataset.tables:
        db.execute(f'CREATE VIRTUAL TABLE notes_fts USING fts5(text, content="notes", {tokenizer})')
        db.execute("INSERT INTO notes_fts (rowid, text) SELECT rowid, text FROM notes")


def _add_views(db: sqlite3.Connection, dataset: Dataset) -> None:
    if not {"letters", "persons"} <= dataset.tables.keys():
        return
    place_join = ('LEFT JOIN "places" p ON p.place_id = l.place_id'
                  if "places" in dataset.tables else "")
    place = "p.name" if place_join else "l.place_as_written"
    db.execute(f"""CREATE VIEW correspondence AS
SELECT l.letter_id, l.number, l.date, l.date_as_written, s.name AS sender,
       a.name AS addressee, {place} AS place, l.form, l.language, l.incipit
FROM "letters" l
JOIN "persons" s ON s.person_id = l.sender_id
JOIN "persons" a ON a.person_id = l.addressee_id
{place_join}""")


def _add_metadata(db: sqlite3.Connection, dataset: Dataset) -> None:
    """The dataset's name, title, version and licence, so the file says what it is."""
    d = dataset.descriptor
    licence = "; ".join(x.get("name", "") for x in d.get("licenses", []))
    db.execute("CREATE TABLE dataset (key TEXT NOT NULL PRIMARY KEY, value TEXT)")
    db.executemany("INSERT INTO dataset VALUES (?, ?)",
                   [("name", d.get("name")), ("title", d.get("title")),
                    ("version", d.get("version")), ("created", d.get("created")),
                    ("licence", licence), ("description", d.get("description"))])
