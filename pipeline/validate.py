"""``sergetrotsky validate``: check a dataset folder, TEI files, or folders of TEI files.

What is checked, for each path given:

- a **dataset folder** (it has ``datapackage.json``): the package and every table
  (frictionless, against the schemas the package names), every file path the tables
  point at, every TEI file under ``tei/`` (see below), ``cmif.xml`` (against the CMIF
  schemas in ``schema/cmif/``), and the cross-checks no single file can make: ids
  unique across the dataset, every unit of ``documents.csv`` present in its TEI file,
  ``person:``/``place:`` references present in ``persons.csv``/``places.csv``, pointers
  into other files (``../papers.xml#papers-ch02-n150``, ``../originals/…``) resolved;
- a **TEI file**: read safely, then ``schema/tei/serge-trotsky.rng`` (RELAX NG, the
  source-file or the letter-file shape) and ``serge-trotsky.sch`` (ISO Schematron);
- a **folder of TEI files**: every ``*.xml`` under it, as single TEI files.

XML is read without ever expanding an entity or loading a DTD: a document whose DOCTYPE
declares entities is refused unread (E033). Validation never writes anything.

Every problem is a :class:`Problem` with a code of :data:`CODES` (``E…`` errors, ``W…``
warnings; documented in ``docs/validation-codes.md``), a file and a line and column, or
a table row and field. :func:`validate_paths` is the entry point; the CLI renders.
"""

from __future__ import annotations

import codecs
import copy
import csv
import hashlib
import io
import json
import os
import re
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Iterable, Iterator

from frictionless import FrictionlessException, Resource
from lxml import etree, isoschematron

from . import cmif
from .errors import PipelineError
from .resources import schema_file

CODES = {
    # paths and the data package
    "E001": "The path is neither a dataset folder (with datapackage.json), a TEI file, "
            "nor a folder holding TEI files.",
    "E002": "datapackage.json is not valid JSON, or not a data package descriptor.",
    "E003": "The path does not exist or cannot be read.",
    # tables
    "E010": "A table or the package breaks its schema: a type, a constraint, a primary or "
            "foreign key, or the hash or size of a file.",
    "E011": "A table's header does not match its schema: a column is missing, extra, "
            "misnamed or out of order.",
    "E020": "A path in a table points at a file the dataset does not have, or outside it.",
    # reading XML
    "E030": "The XML file is empty.",
    "E031": "The XML file is not UTF-8 (a byte that is not UTF-8, or another declared "
            "encoding).",
    "E032": "The XML file is not well-formed XML.",
    "E033": "The XML file has a DOCTYPE that declares entities or names an external DTD: "
            "it is refused unread, since either could read local files or expand without "
            "bound.",
    # one TEI file
    "E040": "The TEI file breaks the dataset's TEI model (schema/tei/serge-trotsky.rng).",
    "E041": "A pointer starting with # (@target or @corresp) names no xml:id in its file.",
    "E042": "An xml:id is used more than once in one file.",
    "E043": "A correspDesc does not have exactly one sent and one received correspAction.",
    "E044": "A correspAction names no person (no persName).",
    "E045": "A note call (ref type=\"note\") points at an element that is not a note.",
    "E046": "A letter file's correspDesc and its letter's div point at different units.",
    "W040": "An endnote is called from nowhere in its file: the book prints no mark for "
            "it, or the call is missing.",
    "W041": "A correspondent in a correspDesc has no ref to persons.csv.",
    # across the dataset
    "E050": "An xml:id is used in two TEI files of the dataset; ids are unique across it.",
    "E051": "A unit of documents.csv (or a letter of letters.csv) is not in the TEI file "
            "its tei_path names.",
    "E052": "A person: or place: reference names an id that persons.csv or places.csv "
            "does not have.",
    "E053": "A pointer to another file of the dataset (../papers.xml#id, ../originals/…) "
            "does not resolve.",
    # CMIF
    "E060": "cmif.xml breaks the CMIF schema (schema/cmif/cmi-customization.rng).",
    "E061": "cmif.xml breaks a rule of the CMIF Schematron (schema/cmif/cmif.sch).",
    "W060": "A CMIF schema is not available, so cmif.xml was checked only as safe, "
            "well-formed XML.",
    "W061": "cmif.xml does not follow a recommendation of the CMIF Schematron "
            "(schema/cmif/cmif.sch).",
}

TEI_RNG = schema_file("tei", "serge-trotsky.rng")
TEI_SCH = schema_file("tei", "serge-trotsky.sch")
CMIF_RNG = schema_file("cmif", "cmi-customization.rng")
CMIF_SCH = schema_file("cmif", "cmif.sch")

TEI_NS = "http://www.tei-c.org/ns/1.0"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
RNG_NS = "http://relaxng.org/ns/structure/1.0"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
PATH_FIELDS = ("text_path", "original_path", "tei_path")
LABEL_ERRORS = {"missing-label", "extra-label", "incorrect-label", "blank-label",
                "duplicate-label"}
POINTER_ATTRIBUTES = ("target", "corresp", "ref")
AUTHORITY_TABLES = {"person": "data/persons.csv", "place": "data/places.csv"}
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
ENCODING_DECLARATION = re.compile(rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
EXTERNAL_DTD = re.compile(r"<!DOCTYPE\s+[^\s\[>]+\s+(?:SYSTEM|PUBLIC)\b")
SCHEMATRON_CODE = re.compile(r"\[([EW]\d{3,4})\]\s*(.*)", re.S)
# libxml2's RELAX NG messages that name the element at fault, and the ones that only
# echo another error (dropped when the file has any other message)
FAULTY_ELEMENT = re.compile(r"^Element (\w+) failed to validate|for element (\w+)$")
CASCADE = re.compile(r"^(Expecting an element \w+, got nothing|Element \w+ has extra content: "
                     r"\w+|Error validating value ?)$")


@dataclass(frozen=True)
class Problem:
    """One located problem: in an XML file (line, column) or in a table (row, field)."""

    code: str
    file: str
    message: str
    line: int | None = None
    column: int | None = None
    row: int | None = None
    field: str = ""

    @property
    def severity(self) -> str:
        return "warning" if self.code.startswith("W") else "error"

    def location(self) -> str:
        if self.row is not None:
            return f"{self.file} row {self.row}" + (f" field {self.field}" if self.field else "")
        where = self.file
        if self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column else "")
        return where + (f" field {self.field}" if self.field else "")

    def render(self) -> str:
        """``CODE file:line:column: message`` or ``CODE file row N field F: message``."""
        return f"{self.code} {self.location()}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"severity": self.severity, **asdict(self)}


def has_errors(problems: Iterable[Problem]) -> bool:
    """True when any problem is an error (warnings alone leave a dataset valid)."""
    return any(p.severity == "error" for p in problems)


def summary(paths: Iterable[Path | str], problems: list[Problem]) -> str:
    """The last line of the text report."""
    where = ", ".join(str(p) for p in paths)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    counted = f"{warnings} warning(s)" if warnings else ""
    if not errors:
        return f"{where}: valid" + (f" ({counted})" if counted else "")
    return f"{where}: invalid, {errors} error(s)" + (f", {counted}" if counted else "")


def report_json(paths: Iterable[Path | str], problems: list[Problem]) -> str:
    """The report for CI: validity, counts, and every problem with its location."""
    errors = sum(p.severity == "error" for p in problems)
    return json.dumps({"paths": [str(p) for p in paths], "valid": not errors,
                       "errors": errors, "warnings": len(problems) - errors,
                       "problems": [p.as_dict() for p in problems]},
                      indent=2, ensure_ascii=False)


# --- entry points ---------------------------------------------------------------------------

def validate_paths(paths: Iterable[Path | str]) -> list[Problem]:
    """Every problem in every path (a dataset folder, a TEI file, a folder of TEI files)."""
    problems: list[Problem] = []
    for path in paths:
        problems += validate_path(Path(path))
    return problems


def validate_path(path: Path) -> list[Problem]:
    """Every problem in one path, whatever it is."""
    if not path.exists():
        return [Problem("E003", str(path), "no such file or folder")]
    if path.is_dir():
        if (path / "datapackage.json").exists():
            return validate_dataset(path)
        files = sorted(p for p in path.rglob("*.xml") if p.is_file())
        if not files:
            return [Problem("E001", str(path), "no datapackage.json and no .xml file in "
                                               "this folder")]
        return [p for f in files for p in validate_xml_file(f)]
    if path.name == "datapackage.json":
        return validate_dataset(path.parent)
    if path.suffix.lower() == ".xml":
        return validate_xml_file(path)
    return [Problem("E001", str(path), "not a .xml file nor a dataset folder")]


def validate_xml_file(path: Path, display: str | None = None) -> list[Problem]:
    """A single XML file: ``cmif.xml`` against the CMIF schemas, any other as TEI (the
    letter-file shape when it has a correspDesc, the source-file shape otherwise)."""
    display = display or str(path)
    if path.name == "cmif.xml":
        return _check_cmif(path, display)
    return _check_tei(path, display, shape=None)[1]


def validate_dataset(folder: Path) -> list[Problem]:
    """Every problem found in a dataset folder; an empty list when it is valid."""
    if not (folder / "datapackage.json").is_file():
        return [Problem("E001", str(folder), "no datapackage.json in this folder")]
    problems = _check_tables(folder)
    trees: dict[str, etree._ElementTree] = {}
    tei_dir = folder / "tei"
    # source files (the homes of the ids) first, so that a clash is reported in the copy
    found_files = [p.relative_to(folder).as_posix() for p in tei_dir.rglob("*.xml")] \
        if tei_dir.is_dir() else []
    for rel in sorted(found_files, key=lambda r: (r.startswith("tei/letters/"), r)):
        path = folder / rel
        shape = "letter" if rel.startswith("tei/letters/") else "source"
        tree, found = _check_tei(path, _show(folder, rel), shape)
        problems += found
        if tree is not None:
            trees[rel] = tree
    if (folder / "cmif.xml").is_file():
        problems += _check_cmif(folder / "cmif.xml", _show(folder, "cmif.xml"))
    problems += _cross_check(folder, trees)
    documented = _documented_unmarked_notes(folder)
    return [p for p in problems
            if not (p.code == "W040" and any(f"note {n} " in p.message for n in documented))]


def _documented_unmarked_notes(folder: Path) -> set[str]:
    """Notes the dataset itself lists as printed without a mark (note_anomalies.csv): the
    book's own anomaly, already reported, so no W040 for them."""
    unmarked = {(r.get("chapter_id", ""), r.get("n", ""))
                for _, r in _rows(folder / "data" / "note_anomalies.csv")
                if r.get("kind") == "note_without_mark"}
    return {r.get("note_id", "") for _, r in _rows(folder / "data" / "notes.csv")
            if (r.get("chapter_id", ""), r.get("n", "")) in unmarked}


def _show(folder: Path, rel: str) -> str:
    """A dataset file as the user can open it: the folder as given, then the file."""
    return os.path.join(str(folder), *rel.split("/"))


# --- the data package and its tables ---------------------------------------------------------

def _inside(folder: Path, rel: str) -> bool:
    """True if ``rel`` is a relative local path that stays inside ``folder``."""
    if not rel or URL_SCHEME.match(rel) or rel.startswith(("/", "\\")) or "\\" in rel:
        return False
    return ".." not in Path(rel).parts


def _check_tables(folder: Path) -> list[Problem]:
    descriptor = folder / "datapackage.json"
    shown = _show(folder, "datapackage.json")
    try:
        resources = json.loads(descriptor.read_text(encoding="utf-8"))["resources"]
        if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
            raise ValueError("'resources' is not a list of resources")
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        detail = f"no {exc} key" if isinstance(exc, KeyError) else str(exc)
        return [Problem("E002", shown, f"datapackage.json cannot be read: {detail}")]
    # Never let a descriptor make the validator read outside the dataset or the network.
    unsafe = [Problem("E010", shown, f"resource {i} ({r.get('name', '?')}): {key} {r[key]!r} "
                                     "is not a relative path inside the dataset")
              for i, r in enumerate(resources) for key in ("path", "schema")
              if isinstance(r.get(key), str) and not _inside(folder, r[key])]
    unsafe += [Problem("E010", shown, f"resource {i} ({r.get('name', '?')}) has no path")
               for i, r in enumerate(resources) if not isinstance(r.get("path"), str)]
    if unsafe:
        return unsafe
    problems: list[Problem] = []
    schemas: dict[str, dict] = {}
    for resource in resources:
        if resource.get("type") == "table" or "schema" in resource:
            found, schema = _check_table(folder, resource)
            problems += found
            if schema is not None:
                schemas[resource.get("name", "")] = schema
        else:
            problems += _check_file(folder, resource)
    problems += _check_foreign_keys(folder, resources, schemas)
    for resource in resources:
        for row_number, row in _rows(folder / resource["path"]):
            for name in PATH_FIELDS:
                value = row.get(name) or ""
                if not value:
                    continue
                if not _inside(folder, value):
                    problems.append(Problem("E020", _show(folder, resource["path"]),
                                            f"{value!r} is not a path inside the dataset",
                                            row=row_number, field=name))
                elif not (folder / value).is_file():
                    problems.append(Problem("E020", _show(folder, resource["path"]),
                                            f"{value!r} is not in the dataset",
                                            row=row_number, field=name))
    return problems


def _check_table(folder: Path, resource: dict) -> tuple[list[Problem], dict | None]:
    """One table against its schema (types, constraints, primary key, hash, bytes).

    Foreign keys are left to ``_check_foreign_keys``: frictionless re-reads the referenced
    table for every key of every resource, which was most of the time of a validation."""
    shown = _show(folder, resource["path"])
    schema = resource.get("schema")
    try:
        if isinstance(schema, str):         # a path (checked to stay inside the dataset)
            schema = json.loads((folder / schema).read_text(encoding="utf-8"))
        if not isinstance(schema, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        where = resource["schema"] if isinstance(resource["schema"], str) else "datapackage.json"
        return [Problem("E010", _show(folder, where),
                        f"table schema cannot be read: {exc}")], None
    descriptor = dict(resource, schema={k: v for k, v in schema.items() if k != "foreignKeys"})
    try:
        report = Resource(descriptor, basepath=str(folder)).validate()
    except FrictionlessException as exc:
        return [Problem("E010", shown, f"not a valid table resource: {exc}")], None
    problems = []
    for task in report.tasks:
        for error in task.errors:
            field = getattr(error, "field_name", "") or getattr(error, "label", "") or ""
            if error.type in LABEL_ERRORS:
                problems.append(Problem("E011", shown, error.message, row=1, field=field))
            else:
                problems.append(Problem("E010", shown, error.message,
                                        row=getattr(error, "row_number", None), field=field))
    problems += [Problem("E010", shown, error.message) for error in report.errors]
    return problems, schema


def _check_file(folder: Path, resource: dict) -> list[Problem]:
    """A resource that is not a table (TEI, CMIF, JSON Lines): its ``bytes`` and ``hash``."""
    shown = _show(folder, resource["path"])
    try:
        data = (folder / resource["path"]).read_bytes()
    except OSError:
        return [Problem("E020", shown, "the resource's file is not in the dataset")]
    problems = []
    if "bytes" in resource and resource["bytes"] != len(data):
        problems.append(Problem("E010", shown, f"the file has {len(data)} bytes, the "
                                               f"descriptor says {resource['bytes']}"))
    expected = str(resource.get("hash", ""))
    if expected and expected.removeprefix("sha256:") != hashlib.sha256(data).hexdigest():
        problems.append(Problem("E010", shown, "the file does not match the descriptor's "
                                               "hash (sha256)"))
    return problems


def _as_list(value: object) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])   # type: ignore[call-overload]


def _check_foreign_keys(folder: Path, resources: list[dict],
                        schemas: dict[str, dict]) -> list[Problem]:
    """Every foreign key of every table, each table read once."""
    paths = {r.get("name", ""): r["path"] for r in resources}
    tables: dict[str, list[tuple[int, dict[str, str]]]] = {}

    def rows(name: str) -> list[tuple[int, dict[str, str]]]:
        if name not in tables:
            tables[name] = list(_rows(folder / paths[name])) if name in paths else []
        return tables[name]

    problems = []
    for name, schema in schemas.items():
        for key in schema.get("foreignKeys", []):
            fields = _as_list(key.get("fields"))
            reference = key.get("reference", {})
            target = reference.get("resource") or name      # "" is the table itself
            target_fields = _as_list(reference.get("fields"))
            if target not in paths:
                problems.append(Problem("E010", _show(folder, paths[name]),
                                        f"foreign key {fields} refers to resource "
                                        f"{target!r}, which the data package does not have"))
                continue
            known = {tuple(r.get(f, "") for f in target_fields) for _, r in rows(target)}
            for row_number, row in rows(name):
                values = tuple(row.get(f, "") for f in fields)
                if all(v == "" for v in values) or values in known:
                    continue
                problems.append(Problem(
                    "E010", _show(folder, paths[name]),
                    f"foreign key violation: {', '.join(values)!r} is not a "
                    f"{'/'.join(target_fields)} of {target}", row=row_number,
                    field=",".join(fields)))
    return problems


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a CSV file with their row numbers (the header is row 1); nothing when
    it cannot be read (frictionless reports why)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            yield from enumerate(csv.DictReader(handle), start=2)
    except (OSError, UnicodeDecodeError, csv.Error):
        return


# --- reading XML safely -----------------------------------------------------------------------

def _parser(recover: bool = False) -> etree.XMLParser:
    """No entity is substituted, no DTD loaded, nothing fetched, sizes bounded.

    Not ``collect_ids=False``: with lxml 6.1 and libxml2 2.14 that option makes the parser
    load a DOCTYPE's external subset, even a local file (a test guards this)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, dtd_validation=False, attribute_defaults=False,
                           recover=recover)


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def read_xml(path: Path, display: str | None = None
             ) -> tuple[etree._ElementTree | None, list[Problem]]:
    """Parse an XML file safely: the tree, or None and the problem that stopped it.

    Refused before parsing: an empty file (E030), bytes that are not UTF-8 or another
    declared encoding (E031), a DOCTYPE declaring entities (E033). Then parsed with
    entities, DTDs and the network off (E032 when it is not well-formed).
    """
    shown = display or str(path)
    if not path.is_file():   # a device or a pipe named *.xml could be read for ever
        return None, [Problem("E003", shown, "not a regular file")]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem("E003", shown, f"cannot be read: {exc.strerror}")]
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    if not body.strip():
        return None, [Problem("E030", shown, "the file is empty")]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, [Problem("E031", shown, "the file is UTF-16; save it as UTF-8", 1, 1)]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(body)
        line, column = _line_column(data, offset)
        return None, [Problem("E031", shown, f"byte 0x{data[offset]:02X} is not UTF-8; save "
                                             "the file as UTF-8", line, column)]
    declared = ENCODING_DECLARATION.match(body)
    if declared and declared[1].lower() not in (b"utf-8", b"utf8"):
        return None, [Problem("E031", shown, f"the XML declaration says encoding="
                                             f"\"{declared[1].decode()}\"; the dataset's XML "
                                             "is UTF-8", 1, 1)]
    if "<!DOCTYPE" in text and "<!ENTITY" in text:
        line, column = _line_column(data, data.index(b"<!ENTITY"))
        return None, [Problem("E033", shown, "the DOCTYPE declares entities: refused unread "
                                             "(no entity is expanded, no file or URL fetched)",
                              line, column)]
    external = EXTERNAL_DTD.search(text)
    if external:
        line, column = _line_column(data, data.index(b"<!DOCTYPE"))
        return None, [Problem("E033", shown, "the DOCTYPE names an external DTD: refused "
                                             "unread (no DTD is loaded; TEI files need no "
                                             "DOCTYPE)", line, column)]
    parser = _parser()
    try:
        tree = etree.parse(io.BytesIO(data), parser)
    except etree.XMLSyntaxError as exc:
        # the parser's own log (the exception's holds the thread's other recent errors too)
        fatal = [e for e in parser.error_log if e.type_name != "DTD_ID_REDEFINED"]
        if fatal or not len(parser.error_log):
            first = fatal[0] if fatal else None
            line, column = (first.line, first.column) if first else (exc.position or (0, 0))
            message = first.message if first else (exc.msg or "not well-formed")
            message = re.sub(r", line \d+, column \d+$", "", message.strip())
            return None, [Problem("E032", shown, message, line or None, column or None)]
        # Only xml:ids used twice: well-formed XML, which the Schematron reports (E042).
        tree = etree.parse(io.BytesIO(data), _parser(recover=True))
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):   # belt and braces
        return None, [Problem("E033", shown, "the DOCTYPE declares entities: refused", 1, 1)]
    return tree, []


# --- schemas (compiled once per run) ---------------------------------------------------------

def _load_schema_tree(path: Path) -> etree._ElementTree:
    try:
        return etree.parse(str(path), _parser())
    except (OSError, etree.XMLSyntaxError) as exc:
        raise PipelineError(f"cannot read the schema: {exc}", file=str(path)) from exc


def _grammar_starting_at(defines: list[str]) -> etree.RelaxNG:
    """``serge-trotsky.rng`` with its start replaced by a choice of ``defines``."""
    grammar = _load_schema_tree(TEI_RNG)
    start = grammar.getroot().find(f"{{{RNG_NS}}}start")
    if start is None:
        raise PipelineError("the grammar has no <start>", file=str(TEI_RNG))
    for child in list(start):
        start.remove(child)
    choice = etree.SubElement(start, f"{{{RNG_NS}}}choice")
    for name in defines:
        etree.SubElement(choice, f"{{{RNG_NS}}}ref", name=name)
    try:
        return etree.RelaxNG(grammar)
    except etree.RelaxNGParseError as exc:
        raise PipelineError(f"the grammar does not compile: {exc}", file=str(TEI_RNG)) from exc


@cache
def tei_grammar(shape: str) -> etree.RelaxNG:
    """``serge-trotsky.rng`` with its start narrowed to one shape ('source' or 'letter'),
    so that a file is checked against the one model it must follow."""
    return _grammar_starting_at([f"{shape}.file"])


@cache
def _element_grammar(name: str) -> etree.RelaxNG | None:
    """A grammar whose start is every define that is one ``name`` element, or None."""
    grammar = _load_schema_tree(TEI_RNG)
    defines = [d.get("name") for d in grammar.getroot().iter(f"{{{RNG_NS}}}define")
               if [c.get("name") for c in d if c.tag == f"{{{RNG_NS}}}element"] == [name]
               and all(c.tag != f"{{{RNG_NS}}}ref" for c in d)]
    return _grammar_starting_at(defines) if defines else None


def _culprits(tree: etree._ElementTree, name: str, line: int | None) -> list[etree._Element]:
    """The innermost ``name`` elements (on ``line``, when libxml2 gives it) that break
    their own definition: their start tags show the values at fault."""
    grammar = _element_grammar(name)
    candidates = [e for e in tree.iter(f"{{{TEI_NS}}}{name}") if not line or e.sourceline == line]
    if grammar is None:
        return candidates[:1] if line else []
    failing = [e for e in candidates
               if not grammar.validate(etree.ElementTree(copy.deepcopy(e)))]
    inner = set(failing)
    for element in failing:
        inner.difference_update(element.iterancestors())
    return [e for e in failing if e in inner]


def _start_tag(element: etree._Element) -> str:
    """The element's start tag as written, for a message."""
    names = {XML_ID: "xml:id", "{http://www.w3.org/XML/1998/namespace}lang": "xml:lang"}
    attributes = "".join(f' {names.get(k, etree.QName(k).localname)}="{v}"'
                         for k, v in element.attrib.items())
    return f"<{etree.QName(element).localname}{attributes}>"


@cache
def tei_schematron() -> isoschematron.Schematron:
    try:
        return isoschematron.Schematron(_load_schema_tree(TEI_SCH), store_report=True)
    except etree.SchematronParseError as exc:
        raise PipelineError(f"the Schematron does not compile: {exc}", file=str(TEI_SCH)) \
            from exc


@cache
def cmif_grammar() -> etree.RelaxNG | None:
    if not CMIF_RNG.is_file():
        return None
    try:
        return etree.RelaxNG(_load_schema_tree(CMIF_RNG))
    except etree.RelaxNGParseError as exc:
        raise PipelineError(f"the CMIF grammar does not compile: {exc}", file=str(CMIF_RNG)) \
            from exc


@cache
def cmif_schematron() -> isoschematron.Schematron | None:
    """correspSearch's ``cmif.sch`` (XSLT 2.0), rewritten for lxml by the CMIF stage."""
    if not CMIF_SCH.is_file():
        return None
    try:
        return cmif.schematron(CMIF_SCH.read_bytes())
    except (ValueError, etree.LxmlError) as exc:
        raise PipelineError(f"the CMIF Schematron does not compile: {exc}", file=str(CMIF_SCH)) \
            from exc


# --- one TEI file ------------------------------------------------------------------------------

def _shape_of(tree: etree._ElementTree) -> str:
    desc = tree.getroot().find(f"{{{TEI_NS}}}teiHeader/{{{TEI_NS}}}profileDesc/"
                               f"{{{TEI_NS}}}correspDesc")
    return "source" if desc is None else "letter"


def _rng_problems(grammar: etree.RelaxNG, tree: etree._ElementTree, code: str,
                  shown: str) -> list[Problem]:
    if grammar.validate(tree):
        return []
    entries = []
    for entry in grammar.error_log:
        if (entry.line, entry.message) not in entries:
            entries.append((entry.line, entry.message.strip()))
    if any(not CASCADE.match(message) for _, message in entries):
        entries = [(line, message) for line, message in entries if not CASCADE.match(message)]
    problems = []
    for line, message in entries:
        faulty = FAULTY_ELEMENT.search(message) if code == "E040" else None
        name = (faulty[1] or faulty[2]) if faulty else ""
        at = _culprits(tree, name, line) if name else []
        for element in at:
            problems.append(Problem(code, shown, f"{message}: {_start_tag(element)}",
                                    element.sourceline))
        if not at:
            problems.append(Problem(code, shown, message, line or None))
    return problems


def _schematron_problems(validator: isoschematron.Schematron, tree: etree._ElementTree,
                         shown: str, default: str, warning: str) -> list[Problem]:
    """Failed assertions as problems: the code from the message when it starts with one of
    ours (``[E041] …``), else ``default`` (or ``warning`` for role="warning")."""
    validator.validate(tree)
    report = validator.validation_report
    problems = []
    for found in report.iter(f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report"):
        text = " ".join("".join(found.itertext()).split())
        m = SCHEMATRON_CODE.match(text)
        if m and m[1] in CODES:
            code, message = m[1], m[2]
        else:
            code = warning if found.get("role") in ("warning", "info") else default
            message = text
        problems.append(Problem(code, shown, message, _svrl_line(tree, found.get("location"))))
    return problems


def _svrl_line(tree: etree._ElementTree, location: str | None) -> int | None:
    """The line of the node an SVRL location (an XPath) names."""
    if not location:
        return None
    try:
        found = tree.xpath(location)
    except etree.XPathError:
        return None
    node = found[0] if isinstance(found, list) and found else None
    if node is not None and not isinstance(node, etree._Element):
        node = getattr(node, "getparent", lambda: None)()
    return getattr(node, "sourceline", None)


def _check_tei(path: Path, shown: str, shape: str | None
               ) -> tuple[etree._ElementTree | None, list[Problem]]:
    tree, problems = read_xml(path, shown)
    if tree is None:
        return None, problems
    problems += _rng_problems(tei_grammar(shape or _shape_of(tree)), tree, "E040", shown)
    problems += _schematron_problems(tei_schematron(), tree, shown, "E040", "E040")
    return tree, problems


def _check_cmif(path: Path, shown: str) -> list[Problem]:
    tree, problems = read_xml(path, shown)
    if tree is None:
        return problems
    grammar = cmif_grammar()
    if grammar is None:
        problems.append(Problem("W060", shown, f"{CMIF_RNG.name} is not in schema/cmif/"))
    else:
        problems += _rng_problems(grammar, tree, "E060", shown)
    validator = cmif_schematron()
    if validator is None:
        problems.append(Problem("W060", shown, f"{CMIF_SCH.name} cannot be run"))
    else:
        # its own codes ([E0001] …) stay in the message; ours say error or warning
        problems += _schematron_problems(validator, tree, shown, "E061", "W061")
    return problems


# --- across the dataset -----------------------------------------------------------------------

def _first_column(path: Path) -> set[str] | None:
    """The keys of a table (its first column), or None when it cannot be read."""
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return {row[0] for row in list(csv.reader(handle))[1:] if row}
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _cross_check(folder: Path, trees: dict[str, etree._ElementTree]) -> list[Problem]:
    """Ids unique across files, units in their TEI files, references and pointers."""
    problems: list[Problem] = []
    ids: dict[str, dict[str, etree._Element]] = {}
    first_use: dict[str, tuple[str, int | None]] = {}
    for rel, tree in trees.items():
        ids[rel] = {}
        for element in tree.iter(etree.Element):
            value = element.get(XML_ID)
            if value is None:
                continue
            ids[rel].setdefault(value, element)
            if value in first_use and first_use[value][0] != rel:
                other, line = first_use[value]
                problems.append(Problem("E050", _show(folder, rel),
                                        f"xml:id=\"{value}\" is also used in "
                                        f"{_show(folder, other)}:{line}", element.sourceline))
            first_use.setdefault(value, (rel, element.sourceline))
    for table, key in (("data/documents.csv", "document_id"), ("data/letters.csv", "letter_id")):
        for row_number, row in _rows(folder / table):
            unit, tei_path = row.get(key) or "", row.get("tei_path") or ""
            if not unit or tei_path not in trees:
                continue     # no TEI, or a missing or broken file (reported as E020, E03x)
            if key == "document_id" and unit not in ids[tei_path]:
                problems.append(Problem("E051", _show(folder, table),
                                        f"{tei_path} has no element with xml:id=\"{unit}\"",
                                        row=row_number, field="tei_path"))
            elif key == "letter_id":
                body = trees[tei_path].getroot().find(f"{{{TEI_NS}}}text/{{{TEI_NS}}}body")
                points = [d.get("corresp", "") for d in (body if body is not None else [])]
                if not any(p.endswith(f"#{unit}") for p in points):
                    problems.append(Problem("E051", _show(folder, table),
                                            f"{tei_path} is not the letter {unit} (its letter "
                                            f"points at {', '.join(points) or 'nothing'})",
                                            row=row_number, field="tei_path"))
    keys = {prefix: _first_column(folder / table) for prefix, table in AUTHORITY_TABLES.items()}
    for rel, tree in trees.items():
        problems += _pointer_problems(folder, rel, tree, ids, keys)
    return problems


def _pointer_problems(folder: Path, rel: str, tree: etree._ElementTree,
                      ids: dict[str, dict[str, etree._Element]],
                      keys: dict[str, set[str] | None]) -> list[Problem]:
    problems: list[Problem] = []
    shown = _show(folder, rel)
    base = rel.rsplit("/", 1)[0]
    for element in tree.iter(etree.Element):
        pointers = [(name, element.get(name)) for name in POINTER_ATTRIBUTES
                    if element.get(name)]
        if etree.QName(element).localname == "prefixDef" and element.get("replacementPattern"):
            pointers.append(("replacementPattern",
                             element.get("replacementPattern").split("#", 1)[0]))
        for name, value in pointers:
            problem = _resolve(folder, base, element, value, ids, keys)
            if problem:
                code, message = problem
                problems.append(Problem(code, shown, f"{name}=\"{value}\": {message}",
                                        element.sourceline))
    return problems


def _resolve(folder: Path, base: str, element: etree._Element, value: str,
             ids: dict[str, dict[str, etree._Element]], keys: dict[str, set[str] | None]
             ) -> tuple[str, str] | None:
    """Why a pointer does not resolve (code, message), or None when it does (or is not
    ours to check: a #fragment is the Schematron's, an http: URL the world's)."""
    if value.startswith("#"):
        return None
    prefix = value.split(":", 1)[0]
    if prefix in AUTHORITY_TABLES and ":" in value:
        known = keys[prefix]
        key = value.split(":", 1)[1]
        if known is not None and key not in known:
            return "E052", f"{key!r} is not in {AUTHORITY_TABLES[prefix]}"
        return None
    if URL_SCHEME.match(value):
        return None
    file_part, _, fragment = value.partition("#")
    target = os.path.normpath(os.path.join(base, file_part)).replace(os.sep, "/")
    if target == ".." or target.startswith("../") or os.path.isabs(file_part):
        return "E053", "points outside the dataset"
    if not (folder / target).is_file():
        return "E053", f"{target} is not in the dataset"
    if not fragment:
        return None
    if target in ids:
        found = ids[target].get(fragment)
        if found is None:
            return "E053", f"{target} has no xml:id=\"{fragment}\""
        if element.get("type") == "note" and etree.QName(element).localname == "ref" \
                and etree.QName(found).localname != "note":
            return "E045", f"points at a <{etree.QName(found).localname}>, not a <note>"
    elif target.endswith(".csv"):
        known = _first_column(folder / target)
        if known is not None and fragment not in known:
            return "E053", f"{target} has no row {fragment!r}"
    return None
