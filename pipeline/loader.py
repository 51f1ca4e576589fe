"""Load the published dataset into pandas: ``sergetrotsky.load(path)``.

Every table of the dataset's ``datapackage.json`` becomes a DataFrame typed from its
Frictionless table schema (the schema shipped *with the dataset*, not the tool's copy):

============================  ==================================================
schema                        pandas
============================  ==================================================
``integer``, ``year``         ``Int64`` (nullable)
``number``                    ``Float64`` (nullable)
``boolean``                   ``boolean`` (nullable)
``string`` with an ``enum``   ``category``, the categories in the schema's order
``string``                    ``string``
``list``                      Python lists of strings (``[]`` when the cell is empty)
============================  ==================================================

An empty cell is ``<NA>`` unless the field is required (or part of the primary key).
A string field holding ISO 8601 dates of any precision (its pattern is
``\\d{4}(-\\d{2}(-\\d{2})?)?``: ``1936``, ``1936-04``, ``1936-04-21``) stays as
written, and gets a companion column ``<field>_parsed`` (``date_parsed``,
``birth_parsed``…) placed right after it: a datetime where the date is complete to the
day, ``NaT`` where it is only a year or a month, so no precision is invented.

Foreign keys become joins (:meth:`Dataset.join`, :attr:`Dataset.letters_with_names`);
each letter's reading text and TEI file come from ``letters.jsonl`` and ``tei/letters/``.
A release zip is read in place; the only files ever written are the TEI files asked
for with :meth:`Dataset.tei_path`, extracted into a private temporary folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import weakref
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

try:
    import numpy as np
    import pandas as pd
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("sergetrotsky.load needs pandas: "
                      "pip install 'sergetrotsky[pandas]'") from None

#: The pattern of a string field that holds an ISO 8601 date of year, month or day precision.
ISO_PARTIAL_DATE = r"\d{4}(-\d{2}(-\d{2})?)?"
#: Suffix of the datetime column added beside each such field.
PARSED_SUFFIX = "_parsed"
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")
LETTERS_JSONL = "letters.jsonl"


class DatasetError(ValueError):
    """The path is not a readable dataset (no descriptor, a file missing or altered, a
    value that does not fit its schema, a path that leaves the dataset)."""


@dataclass(frozen=True)
class ForeignKey:
    """A single- or multi-field foreign key of a table, as its schema declares it."""

    table: str
    fields: tuple[str, ...]
    reference_table: str
    reference_fields: tuple[str, ...]


def load(path: str | Path, *, verify: bool = True) -> Dataset:
    """Load a dataset folder (the one holding ``datapackage.json``) or a release zip.

    With ``verify`` (the default) every file read is checked against the ``hash`` and
    ``bytes`` the descriptor records, so an altered or truncated download fails here.
    Raises :class:`DatasetError` when the path is not a readable dataset.
    """
    path = Path(path)
    if path.is_dir():
        reader: _Reader = _FolderReader(path)
    elif path.is_file() and zipfile.is_zipfile(path):
        reader = _ZipReader(path)
    else:
        raise DatasetError(f"{path}: neither a dataset folder nor a zip file")
    descriptor = json.loads(reader.read(_PackagePath("datapackage.json")).decode("utf-8"))
    files = {res.get("path"): res for res in descriptor.get("resources", [])}

    def read(rel: str) -> bytes:
        data = reader.read(_PackagePath(rel))
        if verify and rel in files:
            _verify(rel, data, files[rel])
        return data

    tables: dict[str, pd.DataFrame] = {}
    schemas: dict[str, dict[str, Any]] = {}
    for resource in descriptor.get("resources", []):
        if resource.get("type") != "table":
            continue
        name = resource["name"]
        schema = resource["schema"]
        if isinstance(schema, str):
            schema = json.loads(read(schema).decode("utf-8"))
        schemas[name] = schema
        tables[name] = _typed_table(name, resource, read(resource["path"]), schema)
    letters: dict[str, dict[str, Any]] = {}
    if LETTERS_JSONL in files:
        for line in read(LETTERS_JSONL).decode("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                letters[record["letter_id"]] = record
    return Dataset(path=path, descriptor=descriptor, tables=tables, schemas=schemas,
                   _letters=letters, _reader=reader)


@dataclass(eq=False, repr=False)
class Dataset:
    """The dataset in memory: ``tables`` by name (also as attributes, ``ds.letters``),
    their ``schemas``, the ``descriptor`` (``datapackage.json``), and the letters."""

    path: Path
    descriptor: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    schemas: dict[str, dict[str, Any]]
    _letters: dict[str, dict[str, Any]]
    _reader: _Reader

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}: {len(frame)} rows" for name, frame in self.tables.items())
        return f"Dataset({str(self.path)!r}, version {self.version!r}; {sizes})"

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables")
        if tables is not None and name in tables:
            return tables[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute or table {name!r}")

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *self.tables]

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the temporary folder of TEI files extracted from a zip (if any)."""
        self._reader.close()

    @property
    def version(self) -> str:
        """The dataset's version (semantic versioning), from ``datapackage.json``."""
        return str(self.descriptor.get("version", ""))

    def foreign_keys(self, table: str) -> list[ForeignKey]:
        """The foreign keys the schema of ``table`` declares (a self-reference names the
        table itself)."""
        keys = []
        for key in self._schema(table).get("foreignKeys", []):
            reference = key["reference"]
            keys.append(ForeignKey(table=table, fields=_names(key["fields"]),
                                   reference_table=reference.get("resource") or table,
                                   reference_fields=_names(reference["fields"])))
        return keys

    def join(self, table: str, via: Iterable[str] | None = None,
             columns: Iterable[str] | None = None) -> pd.DataFrame:
        """``table`` with columns of the rows its foreign keys point to.

        ``via`` names the key fields to follow (default: every single-field foreign
        key); ``columns`` the columns to bring from each referenced table (default: its
        ``name``, else its ``title``). Each new column is named after the key field
        without ``_id`` and the column brought: ``sender_id`` → ``sender_name``,
        ``place_id`` → ``place_name``, ``parent_id`` → ``parent_title``. It is placed
        right after the key; rows and their order are those of ``table``; a key that
        is empty gives ``<NA>``.
        """
        keys = [k for k in self.foreign_keys(table) if len(k.fields) == 1]
        if via is not None:
            wanted = list(via)
            known = {k.fields[0] for k in keys}
            unknown = [f for f in wanted if f not in known]
            if unknown:
                raise DatasetError(f"{table}: {', '.join(unknown)} is not a single-field "
                                   f"foreign key (keys: {', '.join(sorted(known))})")
            keys = [k for k in keys if k.fields[0] in wanted]
        frame = self.tables[table]
        for key in keys:
            referenced = self.tables[key.reference_table]
            brought = list(columns) if columns is not None else _label_columns(referenced)
            missing = [c for c in brought if c not in referenced.columns]
            if missing:
                raise DatasetError(f"{key.reference_table} has no column {', '.join(missing)}")
            if not brought:
                continue
            field_name, ref_field = key.fields[0], key.reference_fields[0]
            prefix = field_name.removesuffix("_id")
            names = {c: f"{prefix}_{c}" for c in brought}
            right = (referenced[[ref_field, *brought]]
                     .rename(columns={ref_field: "__key", **names}))
            merged = frame.merge(right, how="left", left_on=field_name, right_on="__key",
                                 validate="many_to_one", sort=False).drop(columns="__key")
            merged.index = frame.index
            order = list(frame.columns)
            at = order.index(field_name) + 1
            frame = merged[order[:at] + list(names.values()) + order[at:]]
        return frame

    @property
    def letters_with_names(self) -> pd.DataFrame:
        """``letters`` joined through every foreign key: the letter's title (from
        ``documents``), ``sender_name``, ``addressee_name`` (from ``persons``) and
        ``place_name`` (from ``places``)."""
        return self.join("letters")

    def letter(self, letter_id: str) -> dict[str, Any]:
        """The letter's record in ``letters.jsonl``: its row of ``letters``, its reading
        ``text`` and the ``notes`` called in it."""
        try:
            return self._letters[letter_id]
        except KeyError:
            raise DatasetError(f"no letter {letter_id!r} in {LETTERS_JSONL}") from None

    def letter_text(self, letter_id: str) -> str:
        """The letter's reading text (heading, opener, body, closer; note marks left out)."""
        return str(self.letter(letter_id)["text"])

    def tei_path(self, letter_id: str) -> Path:
        """A local path to the letter's own TEI file (``tei/letters/<letter_id>.xml``);
        from a zip, the file is extracted into a temporary folder removed by :meth:`close`."""
        return self._reader.local_path(_PackagePath(str(self.letter(letter_id)["tei_path"])))

    def _schema(self, table: str) -> dict[str, Any]:
        if table not in self.schemas:
            raise DatasetError(f"no table {table!r} (tables: {', '.join(self.schemas)})")
        return self.schemas[table]


def _names(fields: str | list[str]) -> tuple[str, ...]:
    """A key's fields: Frictionless allows one name as a string, or a list."""
    return (fields,) if isinstance(fields, str) else tuple(fields)


def _label_columns(frame: pd.DataFrame) -> list[str]:
    """The column that names a row, for a join's default."""
    for column in ("name", "title"):
        if column in frame.columns:
            return [column]
    return []


def _verify(rel: str, data: bytes, resource: dict[str, Any]) -> None:
    expected_bytes = resource.get("bytes")
    if expected_bytes is not None and len(data) != expected_bytes:
        raise DatasetError(f"{rel}: {len(data)} bytes, the descriptor says {expected_bytes}")
    expected_hash = resource.get("hash")
    if expected_hash:
        algorithm, _, digest = expected_hash.rpartition(":")
        actual = hashlib.new(algorithm or "md5", data).hexdigest()
        if actual != digest:
            raise DatasetError(f"{rel}: {algorithm or 'md5'} {actual} differs from the "
                               f"descriptor's {digest}; the file was altered")


# --- typing a table from its schema -------------------------------------------------

def _typed_table(name: str, resource: dict[str, Any], data: bytes,
                 schema: dict[str, Any]) -> pd.DataFrame:
    """The CSV bytes of a table as a DataFrame typed from its Frictionless schema."""
    dialect = resource.get("dialect") or {}
    raw = pd.read_csv(io.BytesIO(data), dtype=object, keep_default_na=False, na_filter=False,
                      encoding=resource.get("encoding", "utf-8"),
                      sep=dialect.get("delimiter", ","), quotechar=dialect.get("quoteChar", '"'))
    fields = schema["fields"]
    expected = [f["name"] for f in fields]
    if list(raw.columns) != expected:
        raise DatasetError(f"{resource['path']}: header {list(raw.columns)} does not match the "
                           f"schema's fields {expected}")
    missing_values = set(schema.get("missingValues", [""]))
    primary_key = schema.get("primaryKey", [])
    primary_key = {primary_key} if isinstance(primary_key, str) else set(primary_key)
    columns: dict[str, Any] = {}
    for spec in fields:
        column = spec["name"]
        values = list(raw[column])
        required = spec.get("constraints", {}).get("required", False) or column in primary_key
        where = f"{resource['path']}: field {column!r}"
        columns[column] = _typed_column(values, spec, missing_values, required, where)
        if _is_partial_date(spec):
            try:
                columns[column + PARSED_SUFFIX] = _dates([v if len(v) == 10 else None
                                                          for v in values])
            except ValueError as exc:
                raise DatasetError(f"{where}: {exc}") from None
    return pd.DataFrame(columns)


def _typed_column(values: list[str], spec: dict[str, Any], missing_values: set[str],
                  required: bool, where: str) -> Any:
    kind = spec.get("type", "string")
    absent = [v in missing_values and not (required and kind == "string") for v in values]
    try:
        if kind in ("integer", "year"):
            return pd.array([pd.NA if a else int(v)
                             for v, a in zip(values, absent, strict=True)], dtype="Int64")
        if kind == "number":
            return pd.array([pd.NA if a else float(v) for v, a in zip(values, absent, strict=True)],
                            dtype="Float64")
        if kind == "boolean":
            true = set(spec.get("trueValues", DEFAULT_TRUE))
            false = set(spec.get("falseValues", DEFAULT_FALSE))
            return pd.array([pd.NA if a else _boolean(v, true, false)
                             for v, a in zip(values, absent, strict=True)], dtype="boolean")
        if kind == "list":
            delimiter = spec.get("delimiter", ",")
            return pd.Series([[] if a else v.split(delimiter)
                              for v, a in zip(values, absent, strict=True)],
                             dtype=object)
        if kind == "date":
            return _dates([None if a else v for v, a in zip(values, absent, strict=True)])
    except ValueError as exc:
        raise DatasetError(f"{where} ({kind}): {exc}") from None
    strings = [pd.NA if a else v for v, a in zip(values, absent, strict=True)]
    allowed = spec.get("constraints", {}).get("enum")
    if allowed is not None:
        outside = sorted({v for v in strings if v is not pd.NA and v not in allowed})
        if outside:
            raise DatasetError(f"{where}: {', '.join(map(repr, outside))} not among "
                               f"{', '.join(allowed)}")
        return pd.Categorical(strings, categories=list(allowed))
    return pd.array(strings, dtype="string")


def _boolean(value: str, true: set[str], false: set[str]) -> bool:
    if value in true:
        return True
    if value in false:
        return False
    raise ValueError(f"{value!r} is neither true ({', '.join(sorted(true))}) "
                     f"nor false ({', '.join(sorted(false))})")


def _is_partial_date(spec: dict[str, Any]) -> bool:
    return (spec.get("type", "string") == "string"
            and spec.get("constraints", {}).get("pattern") == ISO_PARTIAL_DATE)


def _dates(values: list[str | None]) -> Any:
    """ISO dates (YYYY-MM-DD) as datetimes at second resolution, which reaches back to any
    year (nanoseconds stop at 1677); ``None`` gives NaT."""
    return pd.Series(np.array(values, dtype="datetime64[s]"))


# --- reading a folder or a zip, never outside it ----------------------------------

class _PackagePath:
    """A path inside the dataset, as the descriptor and tables write it: relative, with
    '/' separators and no '..'; anything else is refused before it is opened."""

    def __init__(self, rel: str) -> None:
        pure = PurePosixPath(rel)
        if (not rel or "\\" in rel or ":" in rel or pure.is_absolute()
                or any(part in ("..", "") for part in rel.split("/"))):
            raise DatasetError(f"{rel!r}: not a path inside the dataset")
        self.rel = pure.as_posix()

    def __str__(self) -> str:
        return self.rel


class _Reader:
    def read(self, rel: _PackagePath) -> bytes:
        raise NotImplementedError

    def local_path(self, rel: _PackagePath) -> Path:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""


class _FolderReader(_Reader):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def local_path(self, rel: _PackagePath) -> Path:
        path = (self.root / rel.rel).resolve()
        if not path.is_relative_to(self.root):  # a symbolic link pointing out
            raise DatasetError(f"{rel}: leads outside the dataset folder {self.root}")
        if not path.is_file():
            raise DatasetError(f"{self.root}: no file {rel}")
        return path

    def read(self, rel: _PackagePath) -> bytes:
        return self.local_path(rel).read_bytes()


class _ZipReader(_Reader):
    """A release zip: the dataset is the folder of its ``datapackage.json``."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        with zipfile.ZipFile(archive) as zf:
            self.names = set(zf.namelist())
        descriptors = sorted((n for n in self.names
                              if PurePosixPath(n).name == "datapackage.json"),
                             key=lambda n: (n.count("/"), n))
        if not descriptors:
            raise DatasetError(f"{archive}: no datapackage.json in the zip")
        root = PurePosixPath(descriptors[0]).parent.as_posix()
        self.prefix = "" if root == "." else str(_PackagePath(root)) + "/"
        self._extracted: Path | None = None
        self._cleanup: weakref.finalize | None = None

    def _member(self, rel: _PackagePath) -> str:
        member = self.prefix + rel.rel
        if member not in self.names:
            raise DatasetError(f"{self.archive}: no file {self.prefix}{rel}")
        return member

    def read(self, rel: _PackagePath) -> bytes:
        member = self._member(rel)
        with zipfile.ZipFile(self.archive) as zf:
            return zf.read(member)

    def local_path(self, rel: _PackagePath) -> Path:
        self._member(rel)   # fails early, with the archive's name, for a missing file
        if self._extracted is None:
            self._extracted = Path(tempfile.mkdtemp(prefix="sergetrotsky-"))
            # Removed on close() or when the Dataset is garbage-collected.
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._extracted, True)
        target = (self._extracted / rel.rel).resolve()
        if not target.is_relative_to(self._extracted.resolve()):
            raise DatasetError(f"{rel}: leads outside the extraction folder")
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read(rel))
        return target

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
        self._extracted = None
        self._cleanup = None
