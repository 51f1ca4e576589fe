"""Load sources: each folder under ``sources/`` is one source, its name the source id.

A folder holds the original file, byte for byte as received, and ``source.toml``
with the bibliographic record and every editorial decision the pipeline needs.
Nothing about a particular source lives in code.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import difflib
import hashlib
import json
import os
import pickle
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BuildFailed, PipelineError
from .resources import schema_bytes

if TYPE_CHECKING:   # jsonschema is imported when a file is checked (start-up: README)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SOURCE_ID = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Source:
    """One source: its id, its original text and its metadata as written in TOML."""

    source_id: str
    folder: Path
    original_file: str
    original_bytes: bytes
    bibliographic: dict[str, Any]
    clean: dict[str, Any]
    segment: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def original(self) -> str:
        """The original text, decoded (validated as UTF-8 when loaded)."""
        return self.original_bytes.decode("utf-8")

    @property
    def sha256(self) -> str:
        """Checksum of the original file: the record of provenance."""
        return hashlib.sha256(self.original_bytes).hexdigest()

    @property
    def metadata_path(self) -> Path:
        return self.folder / "source.toml"

    @property
    def outline_path(self) -> Path:
        """Where the segmentation outline is written: segment.toml, else source.toml."""
        separate = self.folder / "segment.toml"
        return separate if separate.is_file() else self.metadata_path


def _fail(source_toml: Path, message: str, field_name: str = "",
          code: str = "E106") -> PipelineError:
    return PipelineError(message, file=str(source_toml), field=field_name, code=code)


def toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> PipelineError:
    """A TOML syntax error located at its line (tomllib puts it only in the message)."""
    found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
    if found:
        return PipelineError(f"invalid TOML: {message} (column {found.group(2)})", file=str(path),
                             line=int(found.group(1)), code="E100")
    return PipelineError(f"invalid TOML: {message}", file=str(path), code="E100")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; encoding and syntax errors become located PipelineErrors. In a
    ``validated_before`` block, a file parsed before (the same bytes) is not parsed again."""
    digest = None
    if _record is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if (parsed := _record[0].parsed.get(digest) or _record[1].parsed.get(digest)) \
                is not None:
            _record[1].parsed[digest] = parsed
            return pickle.loads(parsed)     # a fresh copy: a caller may change its data
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PipelineError(f"not UTF-8 ({exc.reason} at byte {exc.start})",
                            file=str(path), code="E100") from None
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(path, exc) from None
    if digest is not None and _record is not None:
        _record[1].parsed[digest] = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    return data


# --- the metadata schemas (schema/sources/*.json) ------------------------------------------

TYPE_NAMES = {"boolean": "true or false", "string": "a string (in quotes)", "integer": "an integer",
              "number": "a number", "array": "a list [...]", "object": "a table",
              "null": "nothing"}
# JSON Schema keyword -> code: the diagnostics catalogue of docs/validation-codes.md.
KEYWORD_CODES = {"required": "E101", "dependentRequired": "E101", "additionalProperties": "E102",
                 "type": "E103", "enum": "E104", "const": "E104", "format": "E105"}
# Characters an XML 1.0 document cannot hold: C0 controls other than tab, LF and CR.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _partial_date(value: object) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date; empty means 'not known'."""
    if not isinstance(value, str) or value == "":
        return True
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if not m:
        return False
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _full_date(value: object) -> bool:
    return not isinstance(value, str) or (len(value) == 10 and _partial_date(value)
                                          and value != "")


@cache
def _validator(name: str) -> Draft202012Validator:
    # Our own shipped schemas: no check_schema here (tests/test_sources.py checks them);
    # compiled once per process.
    from jsonschema import Draft202012Validator, FormatChecker

    formats = FormatChecker()
    formats.checks("partial-date")(_partial_date)
    formats.checks("full-date")(_full_date)
    schema = json.loads(_schema_bytes(name).decode("utf-8"))
    return Draft202012Validator(schema, format_checker=formats)


@cache
def _schema_bytes(name: str) -> bytes:
    return schema_bytes("sources", f"{name}.json")


def _plain(data: Any) -> Any:
    """TOML dates as their ISO text (what the loaders read them as), recursively."""
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, (datetime.date, datetime.time)):
        return data.isoformat()
    return data


def _type_of(value: Any) -> str:
    for json_type, name in (("boolean", bool), ("integer", int), ("number", float),
                            ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, name):
            return TYPE_NAMES[json_type].removesuffix(" (in quotes)")
    return type(value).__name__


def _explain(error: ValidationError) -> Iterator[tuple[str, list[str | int], str]]:
    """(code, path of the key at fault, message) for one schema error."""
    path: list[str | int] = list(error.absolute_path)
    code = KEYWORD_CODES.get(str(error.validator), "E106")
    # jsonschema types these as possibly unset; an error from a validator always has them.
    schema: Any = error.schema
    rule: Any = error.validator_value
    value: Any = error.instance
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        for key in sorted(set(value) - set(known)):
            near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]}?)" if near else \
                (f" (known keys: {', '.join(known)})" if known else "")
            yield code, path + [key], f"unknown key {key!r}{hint}"
        return
    if error.validator == "required":
        for key in rule:
            if key not in value:
                yield code, path, f"required key {key!r} is missing"
        return
    if error.validator == "dependentRequired":
        for key, needs in rule.items():
            for need in needs:
                if key in value and need not in value:
                    yield code, path + [key], f"{key} needs {need} beside it"
        return
    if error.validator == "type":
        types: list[str] = rule if isinstance(rule, list) else [rule]
        names = " or ".join(TYPE_NAMES.get(w, w) for w in types)
        yield code, path, f"must be {names}, not {_type_of(value)} ({value!r:.60})"
        return
    if error.validator == "enum":
        yield code, path, (f"{value!r:.60} is not allowed; one of: "
                           + ", ".join(str(v) for v in rule))
        return
    if error.validator == "format":
        form = "YYYY-MM-DD" if rule == "full-date" else "YYYY, YYYY-MM or YYYY-MM-DD"
        yield code, path, f"{value!r} is not a calendar date ({form})"
        return
    if error.validator == "minLength" and value == "":
        yield code, path, "must not be empty"
        return
    if error.validator == "pattern":
        yield code, path, f"{value!r:.60} does not have the expected form " \
            f"({schema.get('description') or rule})"
        return
    yield code, path, error.message


def schema_problems(path: Path, data: dict[str, Any], name: str) -> list[PipelineError]:
    """Every way ``data`` (read from ``path``) breaks ``schema/sources/<name>.json``,
    each coded and located at its line in the TOML file (none for a file found valid
    before: :func:`validated_before`)."""
    digest = None
    if _record is not None:
        digest = _valid_digest(name, path.read_bytes())
        if digest in _record[0].valid:
            _record[1].valid.add(digest)
            return []
        if _deferred is not None:       # checked elsewhere meanwhile (checks_deferred)
            _deferred.append((path, data, name, digest))
            return []
    text = path.read_text(encoding="utf-8")
    problems = [PipelineError(f"holds the character U+{ord(bad):04X}, which XML cannot carry",
                              file=str(path), line=toml_line(text, at), field=field_name(at),
                              code="E106")
                for at, bad in _forbidden_characters(data, [])]
    for error in sorted(_validator(name).iter_errors(data),
                        key=lambda e: [str(p) for p in e.absolute_path]):
        for code, at, message in _explain(error):
            problems.append(PipelineError(message, file=str(path), line=toml_line(text, at),
                                          field=field_name(at), code=code))
    if digest is not None and not problems and _record is not None:
        _record[1].valid.add(digest)
    return problems


# --- metadata files found valid before (the build cache's record) --------------------------

@dataclass
class MetadataRecord:
    """What builds found of metadata files, by digest: which were valid against their
    schema (:func:`_valid_digest`: their bytes and their schema's), and each one's data
    as parsed (pickled, by the digest of its bytes)."""

    valid: set[str] = field(default_factory=set)
    parsed: dict[str, bytes] = field(default_factory=dict)


# While a ``validated_before`` block runs: (the record it was given, the one it makes)
_record: tuple[MetadataRecord, MetadataRecord] | None = None


def _valid_digest(name: str, raw: bytes) -> str:
    """What a file's validity follows from: its bytes and its schema's (with the pipeline's
    code and the validator's release, which the record is kept under)."""
    digest = hashlib.sha256(name.encode() + b"\0" + _schema_bytes(name) + b"\0")
    digest.update(raw)
    return digest.hexdigest()


def validator_release() -> str | None:
    """The installed jsonschema's distribution folder name (its version), found without
    importing it (the import takes longer than a cached build's other start-up); None if
    it cannot be told."""
    spec = find_spec("jsonschema")
    if spec is None or not spec.origin:
        return None
    site = Path(spec.origin).parent.parent
    try:
        found = [n for n in os.listdir(site)
                 if n.startswith("jsonschema-") and n.endswith(".dist-info")]
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


# While a ``checks_deferred`` block runs: the checks it left, (path, data, schema, digest)
_deferred: list[tuple[Path, dict[str, Any], str, str]] | None = None


@contextlib.contextmanager
def checks_deferred() -> Iterator[list[tuple[Path, dict[str, Any], str, str]]]:
    """Within the block (and a ``validated_before`` one), a file not recorded valid is
    taken as valid for now and its check left in the list yielded: the caller runs them
    (``deferred_checks_pass``, in another process) and, if any fails, loads the metadata
    again without this block, which reports the problems as ever."""
    global _deferred
    previous, _deferred = _deferred, []
    try:
        yield _deferred
    finally:
        _deferred = previous


def deferred_checks_pass(checks: list[tuple[Path, dict[str, Any], str, str]]) -> bool:
    """Whether every check left by ``checks_deferred`` finds no problem."""
    return not any(schema_problems(path, data, name) for path, data, name, _ in checks)


def record_valid(checks: list[tuple[Path, dict[str, Any], str, str]]) -> None:
    """Record the files of checks that passed as valid (in the ``validated_before`` block)."""
    if _record is not None:
        _record[1].valid.update(digest for _, _, _, digest in checks)


@contextlib.contextmanager
def validated_before(record: MetadataRecord) -> Iterator[MetadataRecord]:
    """Within the block, a metadata file whose digest (its bytes and its schema's:
    :func:`_valid_digest`) is in the ``record`` is taken as valid, unchecked, and a TOML
    file whose bytes were parsed is not parsed again: the build keeps the record in its
    cache, under the pipeline's code, Python's version and the validator's release. Any
    other file is parsed and checked in full, with the same coded, located problems.
    Yields the record of the block (the files read in it, valid or parsed), to keep."""
    global _record
    previous, _record = _record, (record, MetadataRecord())
    try:
        yield _record[1]
    finally:
        _record = previous


def _forbidden_characters(data: Any, at: list[str | int]
                          ) -> Iterator[tuple[list[str | int], str]]:
    """(path, character) of every key or string value holding a character XML cannot carry:
    metadata ends up in TEI and CMIF files."""
    if isinstance(data, dict):
        for key, value in data.items():
            if bad := XML_FORBIDDEN.search(key):
                yield at + [key], bad.group()
            yield from _forbidden_characters(value, at + [key])
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _forbidden_characters(value, at + [i])
    elif isinstance(data, str) and (bad := XML_FORBIDDEN.search(data)):
        yield at, bad.group()


def read_checked(path: Path, name: str) -> dict[str, Any]:
    """Read a TOML file and check it against its schema; raise every problem at once."""
    data = _plain(read_toml(path))
    problems = schema_problems(path, data, name)
    if problems:
        raise BuildFailed("metadata", problems)
    return data


# --- finding a key's line in a TOML file ----------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')
_KEY = re.compile(r'^("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_.\- ]+?)\s*=\s*(.*)$')


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'")
                 for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', key.strip()))


def _strings(text: str) -> list[str]:
    """The string literals of a line, before its comment."""
    found = []
    for token in re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|#.*', text):
        if token.startswith("#"):
            break
        found.append(token)
    return found


def _balance(text: str) -> int:
    bare = _STRING.sub("", text).split("#", 1)[0]
    return bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The line of each key, table and array element of a TOML text (a small scan, not a
    parser: tomllib gives no positions). Arrays of inline tables written one per line,
    and headers of tables and arrays of tables, are followed."""
    lines: dict[tuple[str | int, ...], int] = {}
    prefix: tuple[str | int, ...] = ()
    counters: dict[tuple[str | int, ...], int] = {}
    array: tuple[str | int, ...] | None = None
    index, depth = -1, 0
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if array is not None:
            if depth == 1 and (s.startswith("{") or s[0] in "\"'-+0123456789tf"):
                starts = [s] if s.startswith("{") else _strings(s) or [s]
                for _ in starts:
                    index += 1
                    lines.setdefault(array + (index,), n)
                if s.startswith("{"):
                    for key in re.findall(r'(?:^\{|,)\s*([A-Za-z0-9_-]+|"[^"]*")\s*=', s):
                        lines.setdefault(array + (index, key.strip('"')), n)
            depth += _balance(s)
            if depth <= 0:
                array = None
            continue
        if m := re.match(r"^\[\[\s*(.+?)\s*\]\]", s):
            key = _dotted(m[1])
            counters[key] = counters.get(key, -1) + 1
            prefix = key + (counters[key],)
            lines.setdefault(key, n)
            lines.setdefault(prefix, n)
        elif m := re.match(r"^\[\s*(.+?)\s*\]", s):
            prefix = _dotted(m[1])
            lines.setdefault(prefix, n)
        elif m := _KEY.match(s):
            key = prefix + _dotted(m[1])
            lines.setdefault(key, n)
            if m[2].startswith("[") and _balance(m[2]) > 0:
                array, index, depth = key, -1, _balance(m[2])
    return lines


def toml_line(text: str, path: list[str | int] | tuple[str | int, ...]) -> int | None:
    """The line of the key at ``path`` in a TOML text, else of its nearest parent found."""
    lines = key_lines(text)
    at = tuple(path)
    while at:
        if at in lines:
            return lines[at]
        at = at[:-1]
    return None


def field_name(path: list[str | int] | tuple[str | int, ...]) -> str:
    """``clean.remove[2].first_line`` for the path ``("clean", "remove", 2, "first_line")``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def locate(error: PipelineError) -> PipelineError:
    """Give an error about a TOML file the line of its field, when it has none yet."""
    if error.line is None and error.field and error.file.endswith(".toml"):
        path = Path(error.file)
        if path.is_file():
            parts: list[str | int] = [int(p[1:-1]) if p.startswith("[") else p
                                      for p in re.findall(r"\[\d+\]|[^.\[\]]+", error.field)]
            try:
                error.line = toml_line(path.read_text(encoding="utf-8"), parts)
            except (OSError, UnicodeDecodeError):
                pass
    return error


# --- loading ---------------------------------------------------------------------------------

def _original(folder: Path, meta_path: Path, name: str) -> tuple[bytes, list[PipelineError]]:
    """The original's bytes, if it is a regular file inside the folder and fit to publish."""
    candidate = folder / name
    where = "original"
    if "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        return b"", [_fail(meta_path, f"{name!r} is not a file name in the source folder (no "
                           "folder part, no leading dot)", where, "E107")]
    if candidate.is_symlink():
        return b"", [_fail(meta_path, f"{name!r} is a symbolic link; the original must be a "
                           "file of the source folder", where, "E107")]
    if not candidate.resolve().is_relative_to(folder.resolve()):
        return b"", [_fail(meta_path, f"{name!r} lies outside the source folder", where, "E107")]
    if not candidate.is_file():
        return b"", [_fail(meta_path, f"original file {name!r} not found", where, "E107")]
    data = candidate.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return b"", [PipelineError(f"not UTF-8 ({exc.reason} at byte {exc.start})",
                                   file=str(candidate), line=line, code="E108")]
    bad = XML_FORBIDDEN.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        return b"", [PipelineError(f"holds the character U+{ord(bad.group()):04X}, which XML "
                                   "cannot carry: remove it from a copy, or ask how to record it",
                                   file=str(candidate), line=line, code="E108")]
    return data, []


def load_source(folder: Path) -> Source:
    """Read one source folder; raise every problem of its metadata at once (BuildFailed)."""
    source_id = folder.name
    meta_path = folder / "source.toml"
    if not SOURCE_ID.match(source_id):
        raise PipelineError(
            f"folder name {source_id!r} is not a valid source id (lowercase letters, digits, '-')",
            file=str(folder), code="E109")
    if not meta_path.is_file():
        raise PipelineError("missing source.toml", file=str(folder), code="E109")
    meta = _plain(read_toml(meta_path))
    problems = schema_problems(meta_path, meta, "source")
    segment = meta.get("segment", {})
    outline_path = folder / "segment.toml"
    if outline_path.is_file():
        # The outline may live in its own file, to keep source.toml short.
        outline = _plain(read_toml(outline_path))
        problems += schema_problems(outline_path, outline, "segment")
        if segment:
            problems.append(_fail(meta_path, "[segment] given both here and in segment.toml",
                                  "segment", "E109"))
        segment = outline.get("segment", {})
    letters_path = folder / "letters.toml"
    if letters_path.is_file():
        problems += schema_problems(letters_path, _plain(read_toml(letters_path)), "letters")
    data = b""
    original_file = meta.get("original")
    if isinstance(original_file, str) and original_file:
        data, bad = _original(folder, meta_path, original_file)
        problems += bad
    if problems:
        raise BuildFailed("metadata", problems)
    known = {"original", "bibliographic", "clean", "segment"}
    return Source(
        source_id=source_id,
        folder=folder,
        original_file=original_file,
        original_bytes=data,
        bibliographic=meta["bibliographic"],
        clean=meta.get("clean", {}),
        segment=segment,
        extra={k: v for k, v in meta.items() if k not in known},
    )


def discover(sources_dir: Path, keep: Callable[[Source], Source] = lambda source: source
             ) -> list[Source]:
    """Load every source folder under ``sources_dir``, sorted by source id; each source
    as ``keep`` gives it back once loaded (the build keeps its original on disk).

    Every problem of every folder is raised at once (BuildFailed, stage "metadata")."""
    if not sources_dir.is_dir():
        raise PipelineError("sources folder not found", file=str(sources_dir), code="E109")
    # Folders starting with '_' hold shared authority files (persons, places), not sources.
    folders = sorted(p for p in sources_dir.iterdir()
                     if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise PipelineError("no source folders found", file=str(sources_dir), code="E109")
    sources, problems = [], []
    for folder in folders:
        if folder.is_symlink():  # its files would be read, and published, from elsewhere
            problems.append(PipelineError("is a symbolic link; a source folder must be a "
                                          "folder of the sources", file=str(folder),
                                          code="E109"))
            continue
        try:
            sources.append(keep(load_source(folder)))
        except BuildFailed as failed:
            problems += failed.problems
        except PipelineError as error:
            problems.append(error)
    if problems:
        raise BuildFailed("metadata", problems)
    return sources


@dataclass(frozen=True)
class DatasetMeta:
    """``sources/dataset.toml``, checked against ``schema/sources/dataset.json``.

    Stages still read it as a mapping (``meta["version"]``); the fields are the keys.
    """

    name: str
    title: str
    version: str
    released: str
    licenses: tuple[dict[str, str], ...]
    homepage: str = ""
    description: str = ""
    contributors: tuple[dict[str, Any], ...] = ()
    base_url: str = ""   # where the dataset is published (absolute URLs in cmif.xml)

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        value = getattr(self, key)
        return list(value) if isinstance(value, tuple) else value

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self.__dataclass_fields__ else default


def load_dataset(sources_dir: Path) -> DatasetMeta:
    """``sources/dataset.toml``: name, version, release date, licences (all problems at once)."""
    path = sources_dir / "dataset.toml"
    if not path.is_file():
        raise PipelineError("dataset metadata missing", file=str(path), code="E109")
    meta = read_checked(path, "dataset")
    return DatasetMeta(meta["name"], meta["title"], meta["version"], meta["released"],
                       tuple(meta["licenses"]), meta.get("homepage", ""),
                       meta.get("description", ""), tuple(meta.get("contributors", [])),
                       meta.get("base_url", ""))


def find(sources: list[Source], source_id: str) -> Source:
    """Return the source with this id, or a PipelineError listing the known ids."""
    for source in sources:
        if source.source_id == source_id:
            return source
    known = ", ".join(s.source_id for s in sources)
    raise PipelineError(f"unknown source {source_id!r} (known: {known})", code="E109")
