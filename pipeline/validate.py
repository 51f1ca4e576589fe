"""``sergetrotsky validate``: check a dataset folder, TEI files, or folders of TEI files.

What is checked, for each path given:

- a **dataset folder** (it has ``datapackage.json``): the package and every table
  (against the schemas the package names: types and constraints as frictionless reads
  them, keys, hashes, calendar dates), every file path the tables point at, every TEI
  file under ``tei/`` (see below), ``cmif.xml`` (against the CMIF schemas in
  ``schema/cmif/``), and the cross-checks no single file can make: ids unique across the
  dataset, every unit of ``documents.csv`` present in its TEI file, ``person:``/``place:``
  references present in ``persons.csv``/``places.csv``, pointers into other files
  (``../papers.xml#papers-ch02-n150``, ``../originals/…``) resolved;
- a **TEI file**: read safely, then ``schema/tei/serge-trotsky.rng`` (RELAX NG, the
  source-file or the letter-file shape) and ``serge-trotsky.sch`` (ISO Schematron: its
  assertions made in one walk of the tree, :func:`_tei_rule_problems`), and its dates
  (``@when``, ``@notBefore``, ``@notAfter``, ``@from``, ``@to``) as W3C dates;
- a **folder of TEI files**: every ``*.xml`` under it, as single TEI files.

What is read: only the dataset's own regular files. Inside a dataset nothing is followed or
opened that is a symbolic link, a FIFO, a device or a socket (E070, E071), nothing larger
than :data:`MAX_FILE_BYTES` (:data:`MAX_XML_BYTES` for XML, :data:`MAX_JSON_BYTES` for JSON,
which are parsed in memory; E072), nothing a descriptor names by URL, absolute path or
``..`` (E073). Nothing is fetched: frictionless is only given field descriptors to read
cells, never a resource, a package or a path. XML is read without ever expanding an entity
or loading a DTD: a document whose DOCTYPE declares entities is refused unread (E033).
Tables are read as streams, row by row. Validation never writes anything.

Every problem is a :class:`Problem` with a code of :data:`CODES` (``E…`` errors, ``W…``
warnings; documented in ``docs/validation-codes.md``), a file and a line and column, or
a table row and field. :func:`validate_report` is the entry point (the CLI renders it);
:func:`validate_paths` returns its problems as a list.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import gc
import hashlib
import io
import json
import os
import re
import stat
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from lxml import etree, isoschematron

if TYPE_CHECKING:  # frictionless is imported where a table is read (it takes 0.1 s)
    from decimal import Decimal

    from frictionless import Schema

from . import cmif
from .conventions import TEI_NS, XML_ID
from .errors import PipelineError
from .resources import schema_file

MIB = 1024 * 1024
# The largest file validate opens (a table is streamed, so this bounds time, not memory),
# and the largest files parsed whole: XML (RELAX NG needs the whole tree, about 7 times
# the file's size in memory: a 100 MB TEI file peaks near 700 MB) and JSON.
MAX_FILE_BYTES = 1024 * MIB
MAX_XML_BYTES = 256 * MIB
MAX_JSON_BYTES = 64 * MIB
# From this size on, a TEI file's RELAX NG validation runs in a thread beside the rest.
CONCURRENT_RNG_BYTES = 1 * MIB
# The longest cell a table may have, in characters: a row is held in memory while it is
# checked (frictionless lifts the csv module's own limit for the whole process).
MAX_CELL_CHARS = 1024 * 1024
# Lines printed per code unless --max-errors says otherwise (0: every line).
MAX_PER_CODE = 20

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
    "E031": "The XML file is not UTF-8 (a byte that is not UTF-8, another declared "
            "encoding, or UTF-16 with or without a byte-order mark).",
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
    # what validate reads, and how
    "E070": "A path inside the dataset is a symbolic link: validate never follows one, so "
            "the file it points at is not read.",
    "E071": "A path inside the dataset is not a regular file (a FIFO, a device, a socket, "
            "or a folder where a file belongs): it is refused unopened.",
    "E072": "A file is larger than validate reads: 1024 MiB for a table or another file, "
            "256 MiB for XML and 64 MiB for JSON (parsed whole).",
    "E073": "datapackage.json names a resource's path, schema, dialect or profile by URL, "
            "absolute path or a path leaving the dataset: refused, never fetched nor read.",
    "E074": "A table cannot be read: it is empty, not in its encoding (UTF-8), or not CSV; "
            "the checks that depend on it are skipped (W071).",
    "E075": "A date is not a date of the calendar or not ISO 8601 (W3C): an ISO date in a "
            "table, or @when, @notBefore, @notAfter, @from or @to in an XML file "
            "(1936-02-30, 1936-13).",
    "W070": "A table starts with a UTF-8 byte-order mark (as spreadsheets save \"CSV "
            "UTF-8\"): it is read without it.",
    "W071": "Checks that depend on a table that cannot be read (foreign keys into or out of "
            "it, person: and place: references) were skipped.",
}

TEI_RNG = schema_file("tei", "serge-trotsky.rng")
TEI_SCH = schema_file("tei", "serge-trotsky.sch")
CMIF_RNG = schema_file("cmif", "cmi-customization.rng")
CMIF_SCH = schema_file("cmif", "cmif.sch")

RNG_NS = "http://relaxng.org/ns/structure/1.0"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
PATH_FIELDS = ("text_path", "original_path", "tei_path")
POINTER_ATTRIBUTES = ("target", "corresp", "ref")
_POINTING = frozenset({*POINTER_ATTRIBUTES, "replacementPattern"})
AUTHORITY_TABLES = {"person": "data/persons.csv", "place": "data/places.csv"}
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
ENCODING_DECLARATION = re.compile(r"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
EXTERNAL_DTD = re.compile(r"<!DOCTYPE\s+[^\s\[>]+\s+(?:SYSTEM|PUBLIC)\b")
SCHEMATRON_CODE = re.compile(r"\[([EW]\d{3,4})\]\s*(.*)", re.S)
# libxml2's RELAX NG messages that name the element at fault, and the ones that only
# echo another error (dropped when the file has any other message)
FAULTY_ELEMENT = re.compile(r"^Element (\w+) failed to validate|for element (\w+)$")
CASCADE = re.compile(r"^(Expecting an element \w+, got nothing|Element \w+ has extra content: "
                     r"\w+|Error validating value ?)$")
# Profiles a descriptor may name: the standard ones, which nothing needs to fetch.
STANDARD_PROFILE = re.compile(r"https://datapackage\.org/profiles/[0-9.]+/[a-z]+\.json|"
                              r"(tabular-)?data-(package|resource)|table-schema|"
                              r"https://specs\.frictionlessdata\.io/schemas/[a-z-]+\.json")
# TEI's att.datable.w3c (teidata.temporal.w3c in tei_all: xsd:date, gYear, gYearMonth,
# gMonth, gMonthDay, gDay, time, dateTime). @from and @to are not dates on the elements
# of att.citing and on these pointers (tei_all's own exceptions).
DATE_ATTRIBUTES = ("when", "notBefore", "notAfter", "from", "to")
NOT_DATABLE_RANGE = {"biblScope", "citedRange", "rt", "span", "locus", "app", "arc"}
_TZ = r"(Z|[+-](\d\d):(\d\d))?"
_YEAR = r"(-?(?:[1-9]\d{4,}|\d{4}))"
W3C_FORMS = [re.compile(p) for p in (
    rf"{_YEAR}-(\d\d)-(\d\d){_TZ}",                                  # date
    rf"{_YEAR}-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?{_TZ}",      # dateTime
    rf"{_YEAR}-(\d\d)(){_TZ}",                                       # gYearMonth
    rf"{_YEAR}()(){_TZ}",                                            # gYear
    rf"--(\d\d)-(\d\d){_TZ}",                                        # gMonthDay
    rf"--(\d\d)(){_TZ}",                                             # gMonth
    rf"---()(\d\d){_TZ}",                                            # gDay
    rf"(\d\d):(\d\d):(\d\d)(\.\d+)?{_TZ}",                           # time
)]
TABLE_DATE = re.compile(r"(\d{4})(?:-(\d\d)(?:-(\d\d))?)?")
# Cells the quick tests accept for a number and a boolean field (frictionless's defaults)
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
BOOLEAN_CELLS = frozenset({"true", "True", "TRUE", "1", "false", "False", "FALSE", "0"})


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


class Refused(Exception):
    """A file validate will not open (a link, not a regular file, too large)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class Report:
    """The problems found, at most ``limit`` kept per code (None: all), and how many
    there were of each code in all, so that output and memory stay bounded."""

    limit: int | None = None
    problems: list[Problem] = dataclass_field(default_factory=list)
    counts: Counter = dataclass_field(default_factory=Counter)

    def add(self, problem: Problem) -> None:
        self.counts[problem.code] += 1
        if self.limit is None or self.counts[problem.code] <= self.limit:
            self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.counts.items() if code.startswith("E"))

    @property
    def warnings(self) -> int:
        return sum(n for code, n in self.counts.items() if code.startswith("W"))

    @property
    def omitted(self) -> dict[str, int]:
        """Per code, how many problems were found but not kept."""
        if self.limit is None:
            return {}
        return {code: n - self.limit for code, n in sorted(self.counts.items())
                if n > self.limit}


def has_errors(problems: Iterable[Problem] | Report) -> bool:
    """True when any problem is an error (warnings alone leave a dataset valid)."""
    if isinstance(problems, Report):
        return problems.errors > 0
    return any(p.severity == "error" for p in problems)


def summary(paths: Iterable[Path | str], problems: list[Problem] | Report) -> str:
    """The last line of the text report."""
    where = ", ".join(str(p) for p in paths)
    report = problems if isinstance(problems, Report) else _report_of(problems)
    errors, warnings = report.errors, report.warnings
    counted = f"{warnings} warning(s)" if warnings else ""
    if not errors:
        return f"{where}: valid" + (f" ({counted})" if counted else "")
    return f"{where}: invalid, {errors} error(s)" + (f", {counted}" if counted else "")


def omitted_lines(report: Report) -> list[str]:
    """One line per code whose problems were not all printed."""
    return [f"{code}: {n} more not shown (--max-errors 0 shows every line)"
            for code, n in report.omitted.items()]


def report_json(paths: Iterable[Path | str], problems: list[Problem] | Report) -> str:
    """The report for CI: validity, counts, the problems kept with their locations, and
    per code how many were left out (``omitted``)."""
    report = problems if isinstance(problems, Report) else _report_of(problems)
    return json.dumps({"paths": [str(p) for p in paths], "valid": not report.errors,
                       "errors": report.errors, "warnings": report.warnings,
                       "problems": [p.as_dict() for p in report.problems],
                       "omitted": report.omitted},
                      indent=2, ensure_ascii=False)


def _report_of(problems: Iterable[Problem]) -> Report:
    report = Report()
    report.extend(problems)
    return report


# --- entry points ---------------------------------------------------------------------------

def validate_report(paths: Iterable[Path | str], max_per_code: int | None = None) -> Report:
    """Every problem in every path (a dataset folder, a TEI file, a folder of TEI files),
    keeping at most ``max_per_code`` of each code (None: all) and counting the rest."""
    report = Report(limit=max_per_code)
    for path in paths:
        _validate_path(Path(path), report)
    return report


def validate_paths(paths: Iterable[Path | str]) -> list[Problem]:
    """Every problem in every path, as a list."""
    return validate_report(paths).problems


def validate_path(path: Path) -> list[Problem]:
    """Every problem in one path, whatever it is."""
    return validate_report([path]).problems


def _validate_path(path: Path, report: Report) -> None:
    if not os.path.lexists(path):
        report.add(Problem("E003", str(path), "no such file or folder"))
    elif path.is_dir():
        if os.path.lexists(path / "datapackage.json"):
            _DatasetCheck(path, report).run()
            return
        refused = Report()
        files = _xml_files_under(path, str(path), refused)
        report.extend(refused.problems)
        if not files and not refused.problems:
            report.add(Problem("E001", str(path), "no datapackage.json and no .xml file in "
                                                  "this folder"))
        for file in files:
            report.extend(validate_xml_file(file))
    elif path.name == "datapackage.json":
        _DatasetCheck(path.parent, report).run()
    elif path.suffix.lower() == ".xml":
        report.extend(validate_xml_file(path))
    else:
        report.add(Problem("E001", str(path), "not a .xml file nor a dataset folder"))


def _xml_files_under(top: Path, shown_top: str, report: Report) -> list[Path]:
    """The regular ``*.xml`` files under ``top``, links and special files reported (and
    never followed or opened)."""
    found = []
    for directory, folders, files in os.walk(top, followlinks=False):
        base = Path(directory)
        for name in sorted(folders + files):
            path = base / name
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            shown = os.path.join(shown_top, os.path.relpath(path, top))
            if stat.S_ISLNK(mode):
                report.add(_link_problem(shown, path))
            elif name.lower().endswith(".xml") and not stat.S_ISDIR(mode):
                if stat.S_ISREG(mode):
                    found.append(path)
                else:
                    report.add(_special_problem(shown, mode))
        folders.sort()
    return sorted(found)


def validate_xml_file(path: Path, display: str | None = None) -> list[Problem]:
    """A single XML file: ``cmif.xml`` against the CMIF schemas, any other as TEI (the
    letter-file shape when it has a correspDesc, the source-file shape otherwise)."""
    display = display or str(path)
    try:
        data = _read_file(path, display, MAX_XML_BYTES)
    except Refused as refused:
        return [refused.problem]
    if path.name == "cmif.xml":
        return _check_cmif(data, display)
    tree, problems = _check_tei(data, display, shape=None)
    if large_trees_kept is not None and tree is not None and len(data) >= CONCURRENT_RNG_BYTES:
        large_trees_kept[:] = [tree]      # (the one before is freed: one tree at a time)
    return problems


# Set to a list by the console script (cli.run), which ends its process with os._exit once
# its report is written: the tree of the last large file is kept there instead of being
# freed, since freeing a 100 MB file's tree, and glibc's consolidating the freed blocks at
# exit, took longer than its RELAX NG. None (the default, and for every library call): freed.
large_trees_kept: list[etree._ElementTree] | None = None


def validate_dataset(folder: Path) -> list[Problem]:
    """Every problem found in a dataset folder; an empty list when it is valid."""
    report = Report()
    _DatasetCheck(folder, report).run()
    return report.problems


def _show(folder: Path, rel: str) -> str:
    """A dataset file as the user can open it: the folder as given, then the file."""
    return os.path.join(str(folder), *rel.split("/"))


# --- reading only the dataset's own regular files -------------------------------------------

def _inside(folder: Path, rel: str) -> bool:
    """True if ``rel`` is a relative local path that stays inside ``folder``."""
    if not rel or URL_SCHEME.match(rel) or rel.startswith(("/", "\\")) or "\\" in rel:
        return False
    return ".." not in Path(rel).parts and "\x00" not in rel


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def _link_problem(shown: str, path: Path, row: int | None = None, field: str = "",
                  line: int | None = None) -> Problem:
    try:
        target = f" (to {os.readlink(path)!r})"
    except OSError:
        target = ""
    return Problem("E070", shown, f"{path.name} is a symbolic link{target}: not followed, "
                                  "not read", line=line, row=row, field=field)


def _special_problem(shown: str, mode: int, row: int | None = None, field: str = "",
                     line: int | None = None) -> Problem:
    return Problem("E071", shown, f"is {_kind(mode)}, not a regular file: refused unopened",
                   line=line, row=row, field=field)


def _lstat_inside(folder: Path, rel: str, shown: str, row: int | None = None,
                  field: str = "", line: int | None = None) -> os.stat_result | None:
    """The status of the regular file ``folder/rel``, every component checked with lstat
    (so no link is followed anywhere on the way); None when it does not exist; raises
    :class:`Refused` for a link or a file that is not regular."""
    current = folder
    parts = rel.split("/")
    for index, part in enumerate(parts):
        current = current / part
        try:
            status = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise Refused(Problem("E003", shown, f"cannot be read: {exc.strerror}",
                                  line=line, row=row, field=field)) from exc
        if stat.S_ISLNK(status.st_mode):
            where = _show(folder, "/".join(parts[:index + 1]))
            problem = _link_problem(shown, current, row, field, line)
            if where != shown:
                problem = Problem("E070", shown, f"{where} is a symbolic link: not followed",
                                  line=line, row=row, field=field)
            raise Refused(problem)
        if index < len(parts) - 1 and not stat.S_ISDIR(status.st_mode):
            return None
    if not stat.S_ISREG(status.st_mode):
        raise Refused(_special_problem(shown, status.st_mode, row, field, line))
    return status


def _open_checked(path: Path, status: os.stat_result, shown: str, limit: int) -> BinaryIO:
    """Open a file already checked as regular: never blocks (O_NONBLOCK), never follows
    a link put there since (O_NOFOLLOW), and must still be the file that was checked."""
    if status.st_size > limit:
        raise Refused(Problem("E072", shown, f"{status.st_size} bytes: larger than the "
                                             f"{limit // MIB} MiB validate reads"))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise Refused(Problem("E003", shown, f"cannot be read: {exc.strerror}")) from exc
    opened = os.fstat(descriptor)
    if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != \
            (status.st_dev, status.st_ino) or opened.st_size > limit:
        os.close(descriptor)
        raise Refused(Problem("E071", shown, "the file changed while it was being opened"))
    return os.fdopen(descriptor, "rb")


def _open_inside(folder: Path, rel: str, shown: str, limit: int = MAX_FILE_BYTES
                 ) -> BinaryIO | None:
    """The dataset's own regular file ``rel``, opened for reading; None when missing."""
    status = _lstat_inside(folder, rel, shown)
    if status is None:
        return None
    return _open_checked(folder / rel, status, shown, limit)


def _read_file(path: Path, shown: str, limit: int) -> bytes:
    """A file the user named (a link they gave is theirs to give): it must be regular."""
    try:
        status = os.stat(path)
    except OSError as exc:
        raise Refused(Problem("E003", shown, f"cannot be read: {exc.strerror}")) from exc
    if not stat.S_ISREG(status.st_mode):
        raise Refused(_special_problem(shown, status.st_mode))
    with _open_checked(Path(os.path.realpath(path)), status, shown, limit) as handle:
        return handle.read(limit + 1)


def _read_inside(folder: Path, rel: str, shown: str, limit: int) -> bytes | None:
    handle = _open_inside(folder, rel, shown, limit)
    if handle is None:
        return None
    with handle:
        return handle.read(limit + 1)


class _Counting(io.RawIOBase):
    """A file read through: its bytes counted and hashed (sha256) on the way."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.size, self.sha256 = raw, 0, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        read = self.raw.readinto(buffer)   # type: ignore[attr-defined]
        if read:
            self.sha256.update(memoryview(buffer)[:read])
            self.size += read
        return read

    def close(self) -> None:
        self.raw.close()
        super().close()


# --- dates ------------------------------------------------------------------------------------

def _calendar_error(year: int, month: int | None, day: int | None) -> str:
    """Why year-month-day is not in the (proleptic Gregorian) calendar, or ""."""
    if month is not None and not 1 <= month <= 12:
        return f"there is no month {month:02d}"
    if day is None:
        return ""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    last = 31 if month is None else \
        (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= last:
        if month == 2 and day == 29:
            return f"{year} is not a leap year: February {year} has 28 days"
        return f"there is no day {day:02d} in " + \
            (calendar.month_name[month] if month else "any month")
    return ""


def w3c_date_error(value: str) -> str:
    """Why ``value`` is not a TEI W3C date (teidata.temporal.w3c as tei_all has it), or
    "" when it is one: xsd:date, dateTime, gYearMonth, gYear, gMonthDay, gMonth, gDay or
    time, with the calendar checked (no 1936-02-30, no month 13). Spaces around the
    value are allowed, as XML Schema collapses them."""
    value = value.strip(" \t\r\n")
    for index, form in enumerate(W3C_FORMS):
        m = form.fullmatch(value)
        if not m:
            continue
        groups = m.groups()
        if index <= 3:                       # forms with a year
            year = int(groups[0])
            if year == 0:
                return "there is no year 0000 in XML Schema dates"
            month = int(groups[1]) if groups[1] else None
            day = int(groups[2]) if groups[2] else None
            why = _calendar_error(year, month, day)
            if index == 1 and not why:
                why = _clock_error(*groups[3:6])
            tz = groups[-3:]
        elif index <= 6:                     # --MM-DD, --MM, ---DD
            month = int(groups[0]) if groups[0] else None
            day = int(groups[1]) if groups[1] else None
            why = _calendar_error(2000, month, day)   # a leap year: --02-29 exists
            tz = groups[-3:]
        else:
            why = _clock_error(*groups[:3])
            tz = groups[-3:]
        if not why and tz[0] not in (None, "Z") and (int(tz[1]) > 14 or int(tz[2]) > 59
                                                     or (int(tz[1]) == 14 and int(tz[2]))):
            why = f"{tz[0]} is not a time zone"
        return why
    return "not an ISO 8601 date (YYYY, YYYY-MM, YYYY-MM-DD, or another W3C form)"


def _clock_error(hours: str, minutes: str, seconds: str) -> str:
    h, m, s = int(hours), int(minutes), int(seconds)
    if (h, m, s) == (24, 0, 0) or (h < 24 and m < 60 and s < 60):
        return ""
    return f"{hours}:{minutes}:{seconds} is not a time of day"


def _date_problems(tree: etree._ElementTree, shown: str) -> list[Problem]:
    """E075 for each date attribute of the tree that is not a calendar date."""
    problems: list[Problem] = []
    for element in tree.iter(etree.Element):
        _element_date_problems(element, shown, problems)
    return problems


def _element_date_problems(element: etree._Element, shown: str,
                           problems: list[Problem]) -> None:
    """E075 for each date attribute of one element that is not a calendar date."""
    get = element.get
    for attribute in DATE_ATTRIBUTES:
        value = get(attribute)
        if value is None:
            continue
        name = etree.QName(element).localname   # only for the few dated elements
        if attribute in ("from", "to") and name in NOT_DATABLE_RANGE:
            continue
        why = w3c_date_error(value)
        if why:
            problems.append(Problem("E075", shown, f"<{name} {attribute}=\"{value}\">: "
                                                   f"{why}", element.sourceline))


def table_date_error(value: str) -> str:
    """Why an ISO date of a table (YYYY, YYYY-MM, YYYY-MM-DD) is not in the calendar."""
    m = TABLE_DATE.fullmatch(value)
    if not m:
        return ""      # the field's pattern says what else is allowed
    year, month, day = (int(g) if g else None for g in m.groups())
    if year == 0:
        return "there is no year 0000"
    return _calendar_error(year, month, day)   # type: ignore[arg-type]


# --- a dataset folder ----------------------------------------------------------------------------

class _Unreadable(Exception):
    """A table that cannot be read as CSV in its encoding (the message says where)."""


@dataclass
class _Table:
    """A table resource as the descriptor declares it."""

    name: str
    rel: str
    shown: str
    resource: dict
    encoding: str
    dialect: dict
    schema: dict
    fields: list          # frictionless Field objects, in column order

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def _as_list(value: object) -> list[str]:
    """A descriptor's field name or list of names as a list (anything else: empty)."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _foreign_keys(schema: dict) -> list[dict]:
    """A table schema's foreign keys (anything malformed left out: frictionless is not
    given them, and the keys that can be read are checked)."""
    keys = schema.get("foreignKeys")
    return [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []


def _reference(key: dict, table: str) -> tuple[str, tuple[str, ...]]:
    """The resource (``""``: the table itself) and fields a foreign key points at."""
    reference = key.get("reference")
    reference = reference if isinstance(reference, dict) else {}
    target = reference.get("resource") or table
    return (target if isinstance(target, str) else json.dumps(target),
            tuple(_as_list(reference.get("fields"))))


def _cell(text: str) -> str:
    """A cell for a message: quoted, and cut when long."""
    return json.dumps(text if len(text) <= 80 else text[:77] + "…", ensure_ascii=False)


def _fields_descriptor(schema: dict) -> dict:
    """What frictionless is given of a table schema: the field descriptors (no
    ``$schema``, nothing a profile could make it fetch) and the missing values."""
    if not isinstance(schema.get("fields"), list):
        raise ValueError("the table schema has no list of fields")
    for number, field in enumerate(schema["fields"], start=1):
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            raise ValueError(f"field {number} of the table schema is not an object with a name")
    fields = [{k: v for k, v in f.items() if not k.startswith("$")} for f in schema["fields"]]
    descriptor: dict = {"fields": fields}
    if isinstance(schema.get("missingValues"), list):
        descriptor["missingValues"] = schema["missingValues"]
    return descriptor


def _frictionless_schema(schema: dict) -> Schema:
    """The fields of a table schema as frictionless reads cells (see _fields_descriptor)."""
    return _frictionless_schema_of(_canonical(_fields_descriptor(schema)))


@lru_cache(maxsize=64)
def _frictionless_schema_of(canonical_descriptor: str) -> Schema:
    """frictionless's schema for a fields descriptor (canonical JSON), made once per
    process: frictionless checks a descriptor against its profile as it reads it (1 ms a
    table), and validate only reads the schema's fields and their cell readers."""
    from frictionless import Schema
    try:
        return Schema.from_descriptor(json.loads(canonical_descriptor))
    except (TypeError, AttributeError, KeyError) as exc:   # frictionless on odd values
        raise ValueError(f"frictionless cannot read the table schema ({exc})") from exc


@cache
def _own_fields_descriptors() -> frozenset[str]:
    """The package's own table schemas (schema/tables/), as frictionless is given them
    (canonical JSON): frictionless accepts each of them (a test checks it)."""
    folder = schema_file("tables")
    return frozenset(_canonical(_fields_descriptor(json.loads(path.read_bytes())))
                     for path in sorted(folder.glob("*.json")))


def _canonical(descriptor: dict) -> str:
    return json.dumps(descriptor, sort_keys=True, ensure_ascii=False)


class _OwnSchema:
    """One of the package's own table schemas, as a dataset declares it: frictionless is
    imported (0.2 s) and made to check the schema again (0.1 s) only if a cell needs its
    reader (one the quick test does not accept)."""

    def __init__(self, descriptor: dict):
        self.descriptor = descriptor
        self.fields = [_OwnField(field, self) for field in descriptor["fields"]]
        self._frictionless: Schema | None = None

    def frictionless(self) -> Schema:
        if self._frictionless is None:
            from frictionless import Schema
            self._frictionless = Schema.from_descriptor(self.descriptor)
        return self._frictionless


class _OwnField:
    """A field of an :class:`_OwnSchema`: what validate reads of a frictionless field
    (the same values: a test compares them), and frictionless's own cell reader."""

    def __init__(self, descriptor: dict, schema: _OwnSchema):
        self.descriptor, self.schema = descriptor, schema
        self.name: str = descriptor["name"]
        self.type: str = descriptor.get("type", "any")
        self.format: str = descriptor.get("format", "default")
        self.constraints: dict = descriptor.get("constraints", {})

    def has_defined(self, name: str) -> bool:
        """Whether the descriptor sets the property (frictionless's snake_case name)."""
        head, *rest = name.split("_")
        return head + "".join(word.title() for word in rest) in self.descriptor

    def to_descriptor(self) -> dict:
        return self.descriptor

    def create_cell_reader(self):
        return self.schema.frictionless().get_field(self.name).create_cell_reader()


def _table_fields(schema: dict) -> list:
    """The fields of a table schema: frictionless's, or for one of the package's own
    schemas the same values without frictionless (ValueError: the schema cannot be used,
    with frictionless's reason)."""
    descriptor = _fields_descriptor(schema)
    if _canonical(descriptor) in _own_fields_descriptors():
        return _OwnSchema(descriptor).fields
    from frictionless import FrictionlessException
    try:
        return list(_frictionless_schema(schema).fields)
    except FrictionlessException as exc:
        raise ValueError(str(exc)) from exc


DIALECT_KEYS = {"delimiter": "delimiter", "quoteChar": "quotechar", "doubleQuote": "doublequote",
                "escapeChar": "escapechar", "skipInitialSpace": "skipinitialspace"}


class _KeyHashes:
    """The keys of a table as 64-bit hashes in arrays, 8 bytes a row whatever the keys'
    width (a set of the keys themselves took some 300 bytes a row). Duplicated hashes are
    found at the end, a bucket at a time; their keys are then confirmed, and their rows
    found, by a second pass, made only when there are some."""

    def __init__(self) -> None:
        # made as first needed: a small table's keys fill a few of the 256
        self.buckets: defaultdict[int, array[int]] = defaultdict(lambda: array("q"))

    def add(self, hashed: int) -> None:
        self.buckets[hashed & 255].append(hashed)

    def repeated(self) -> set[int]:
        """The hashes added more than once."""
        found: set[int] = set()
        for bucket in self.buckets.values():
            distinct = set(bucket)
            if len(distinct) != len(bucket):
                seen: set[int] = set()
                for hashed in bucket:
                    if hashed in seen:
                        found.add(hashed)
                    seen.add(hashed)
        return found


class _DatasetCheck:
    """Every check of one dataset folder, its problems added to a report as found."""

    def __init__(self, folder: Path, report: Report):
        self.folder, self.report = folder, report
        self.refused: set[str] = set()             # files (as shown) already refused
        self.tables: dict[str, _Table] = {}
        self.unreadable: dict[str, str] = {}       # resource name -> path, not read
        self.resource_paths: dict[str, str] = {}
        self.needed: dict[str, set[tuple[str, ...]]] = {}
        self.keys: dict[tuple[str, tuple[str, ...]], set[tuple[str, ...]]] = {}
        self.first_columns: dict[str, set[str] | None] = {}
        self.skipped: dict[str, set[str]] = {}     # unreadable table -> checks skipped
        self.deferred: dict[str, list[tuple]] = {}  # foreign keys checked after the tables
        self.target_problems: dict[str, tuple[str, str] | tuple[()] | None] = {}

    def add(self, problem: Problem) -> None:
        self.report.add(problem)

    def refuse(self, refused: Refused) -> None:
        """Report a refused file once, however many checks wanted it."""
        if refused.problem.file not in self.refused:
            self.refused.add(refused.problem.file)
            self.add(refused.problem)

    def show(self, rel: str) -> str:
        return _show(self.folder, rel)

    def run(self) -> None:
        before = csv.field_size_limit(MAX_CELL_CHARS)
        try:
            self.check_all()
        finally:
            csv.field_size_limit(before)

    def check_all(self) -> None:
        resources = self.descriptor()
        if resources is not None:
            self.check_resources(resources)
            self.check_foreign_keys()
        documented = self.documented_unmarked_notes()
        trees = self.check_tei(documented)
        if os.path.lexists(self.folder / "cmif.xml"):
            shown = self.show("cmif.xml")
            try:
                data = _read_inside(self.folder, "cmif.xml", shown, MAX_XML_BYTES)
            except Refused as refused:
                self.refuse(refused)
            else:
                if data is not None:
                    self.report.extend(_check_cmif(data, shown))
        self.cross_check(trees)
        for name, rel in self.unreadable.items():
            skipped = sorted(self.skipped.get(name, ()))
            if skipped:
                self.add(Problem("W071", self.show(rel), "not read, so these checks were "
                                                         "skipped: " + "; ".join(skipped)))

    # --- the descriptor -------------------------------------------------------------------

    def descriptor(self) -> list[dict] | None:
        shown = self.show("datapackage.json")
        try:
            data = _read_inside(self.folder, "datapackage.json", shown, MAX_JSON_BYTES)
        except Refused as refused:
            self.refuse(refused)
            return None
        try:
            if data is None:
                raise ValueError("no datapackage.json in this folder")
            descriptor = json.loads(data.decode("utf-8-sig"))
            resources = descriptor["resources"]
            if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
                raise ValueError("'resources' is not a list of resources")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            detail = f"no {exc} key" if isinstance(exc, KeyError) else str(exc)
            self.add(Problem("E002", shown, f"datapackage.json cannot be read: {detail}"))
            return None
        for where, value in _profiles(descriptor, "package"):
            self.add(Problem("E073", shown, f"{where} {value!r} is not a standard profile: "
                                            "refused, never fetched"))
        return resources

    def unsafe_references(self, index: int, resource: dict) -> list[str]:
        """Why each reference of a resource would leave the dataset: a ``path`` (one or a
        list), a ``schema`` or a ``dialect`` given as a URL, an absolute path or with ``..``;
        a profile that is not a standard one."""
        label = f"resource {index} ({resource.get('name', '?')})"
        references = []
        path = resource.get("path")
        references += [("path", p) for p in (path if isinstance(path, list) else [path])
                       if isinstance(p, str)]
        references += [(key, resource[key]) for key in ("schema", "dialect")
                       if isinstance(resource.get(key), str)]
        found = []
        for key, value in references:
            if not _inside(self.folder, value):
                kind = "a URL" if re.match(r"[A-Za-z][A-Za-z0-9+.-]+:", value) else \
                    "not a relative path inside the dataset"
                found.append(f"{label}: {key} {value!r} is {kind}: refused, never fetched "
                             "nor read")
        profiles = _profiles(resource, "resource")
        for key in ("schema", "dialect"):
            if isinstance(resource.get(key), dict):
                profiles += _profiles(resource[key], key)
        found += [f"{label}: {where} {value!r} is not a standard profile: refused, never "
                  "fetched" for where, value in profiles]
        return found

    def check_resources(self, resources: list[dict]) -> None:
        shown = self.show("datapackage.json")
        safe = []
        for index, resource in enumerate(resources):
            name = str(resource.get("name", f"resource {index}"))
            unsafe = self.unsafe_references(index, resource)
            for message in unsafe:
                self.add(Problem("E073", shown, message))
            path = resource.get("path")
            if unsafe:
                self.unreadable[name] = path if isinstance(path, str) and \
                    _inside(self.folder, path) else "datapackage.json"
                continue
            if not isinstance(path, str):
                self.add(Problem("E010", shown, f"resource {index} ({name}) has no single "
                                                "path to a file of the dataset"))
                self.unreadable[name] = "datapackage.json"
                continue
            self.resource_paths[name] = path
            safe.append(resource)
        for resource in safe:
            name = str(resource.get("name", ""))
            if resource.get("type") == "table" or "schema" in resource:
                table = self.table_of(resource)
                if table is None:
                    self.unreadable[name] = resource["path"]
                else:
                    self.tables[name] = table
            else:
                self.check_file(resource)
        for table in self.tables.values():          # which keys the checks will need
            for key in _foreign_keys(table.schema):
                target, target_fields = _reference(key, table.name)
                self.needed.setdefault(target, set()).add(target_fields)
            if table.rel in AUTHORITY_TABLES.values() and table.names:
                self.needed.setdefault(table.name, set()).add((table.names[0],))
        for table in _targets_first(self.tables):
            self.scan(table)

    def table_of(self, resource: dict) -> _Table | None:
        """The table a resource declares, or None (reported) when its schema or dialect
        cannot be read."""
        rel = resource["path"]
        shown = self.show(rel)
        schema, dialect = resource.get("schema"), resource.get("dialect") or {}
        try:
            if isinstance(schema, str):
                schema = self.json_inside(schema)
            if isinstance(dialect, str):
                dialect = self.json_inside(dialect)
            if not isinstance(schema, dict):
                raise ValueError("the table schema is not a JSON object")
            if not isinstance(dialect, dict):
                raise ValueError("the dialect is not a JSON object")
            fields = _table_fields(schema)
        except Refused as refused:
            self.refuse(refused)
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            self.add(Problem("E010", shown, f"the table's schema cannot be used: {exc}"))
            return None
        encoding = str(resource.get("encoding") or "utf-8")
        try:
            codecs.lookup(encoding)
        except LookupError:
            self.add(Problem("E074", shown, f"unknown encoding {encoding!r}"))
            return None
        fmt = str(resource.get("format") or "csv").lower()
        if fmt not in ("csv", "tsv"):
            self.add(Problem("E074", shown, f"format {fmt!r}: validate reads CSV tables"))
            return None
        options: dict[str, Any] = {"delimiter": "\t"} if fmt == "tsv" else {}
        options.update({ours: dialect[theirs] for theirs, ours in DIALECT_KEYS.items()
                        if theirs in dialect})
        try:
            csv.reader([], **options)
        except (TypeError, csv.Error) as exc:
            self.add(Problem("E010", shown, f"the table's dialect cannot be used: {exc}"))
            return None
        return _Table(str(resource.get("name", "")), rel, shown, resource, encoding, options,
                      schema, fields)

    def json_inside(self, rel: str) -> object:
        data = _read_inside(self.folder, rel, self.show(rel), MAX_JSON_BYTES)
        if data is None:
            raise ValueError(f"{rel} is not in the dataset")
        return json.loads(data.decode("utf-8-sig"))

    def check_file(self, resource: dict) -> None:
        """A resource that is not a table (TEI, CMIF, JSON Lines): its ``bytes`` and
        ``hash``, read in blocks."""
        rel = resource["path"]
        shown = self.show(rel)
        try:
            handle = _open_inside(self.folder, rel, shown)
        except Refused as refused:
            self.refuse(refused)
            return
        if handle is None:
            self.add(Problem("E020", shown, "the resource's file is not in the dataset"))
            return
        counting = _Counting(handle)
        with counting:
            while counting.read(1 << 20):
                pass
        self.check_hash(resource, shown, counting)

    def check_hash(self, resource: dict, shown: str, counting: _Counting) -> None:
        if "bytes" in resource and resource["bytes"] != counting.size:
            self.add(Problem("E010", shown, f"the file has {counting.size} bytes, the "
                                            f"descriptor says {resource['bytes']}"))
        expected = str(resource.get("hash", ""))
        if expected and expected.removeprefix("sha256:") != counting.sha256.hexdigest():
            self.add(Problem("E010", shown, "the file does not match the descriptor's hash "
                                            "(sha256): it was changed after the build; its "
                                            "content is checked all the same"))

    # --- reading a table --------------------------------------------------------------------

    def rows(self, table: _Table, raw: BinaryIO | io.RawIOBase,
             warn: bool) -> Iterator[tuple[int, list[str]]]:
        """The rows of a table (the header is row 1), decoded as a stream."""
        # A file opened "rb" is typed BinaryIO but is a buffered raw stream at run time.
        buffered = io.BufferedReader(raw, 1 << 16)   # type: ignore[type-var]
        encoding = table.encoding
        if codecs.lookup(encoding).name == "utf-8" and buffered.peek(3)[:3] == codecs.BOM_UTF8:
            encoding = "utf-8-sig"
            if warn:
                self.add(Problem("W070", table.shown, "the table starts with a UTF-8 "
                                                      "byte-order mark; it is read without it",
                                 row=1))
        text = io.TextIOWrapper(buffered, encoding=encoding, newline="")
        csv.field_size_limit(MAX_CELL_CHARS)   # again: importing a frictionless plugin lifts it
        reader = csv.reader(text, **table.dialect)
        try:
            yield from enumerate(reader, start=1)
        except UnicodeDecodeError as exc:
            line, byte = _first_undecodable(self.folder, table)
            where = f"line {line}: byte 0x{byte:02X}" if line else \
                f"byte 0x{exc.object[exc.start]:02X}"
            raise _Unreadable(f"{where} is not {table.encoding}; save the table as "
                              f"{table.encoding}") from exc
        except csv.Error as exc:
            raise _Unreadable(f"line {reader.line_num}: not CSV ({exc})") from exc

    def scan(self, table: _Table) -> None:
        """Read a table once: header, every cell against its field, unique and primary
        keys, calendar dates, paths, hash and size; keep the keys other checks need."""
        foreign = self.foreign_key_checks(table)
        try:
            handle = _open_inside(self.folder, table.rel, table.shown)
        except Refused as refused:
            self.refuse(refused)
            self.unreadable[table.name] = table.rel
            return
        if handle is None:
            self.add(Problem("E020", table.shown, "the resource's file is not in the dataset"))
            self.unreadable[table.name] = table.rel
            return
        counting = _Counting(handle)
        names = table.names
        width = len(names)
        position = {name: i for i, name in enumerate(names)}
        collect: dict[tuple[str, ...], set[Any]] = {
            fields: set() for fields in self.needed.get(table.name, ())
            if all(f in position for f in fields)}
        collecting = [(s, [position[f] for f in fields]) for fields, s in collect.items()]
        checks = []
        for i, field in enumerate(table.fields):
            constraints = field.constraints or {}
            pattern = str(constraints.get("pattern", ""))
            is_date = field.type == "string" and pattern.startswith(("\\d{4}", "[0-9]{4}"))
            if field.type != "string" or constraints or is_date:
                checks.append((i, field.name, _quick_test(field, table.schema),
                               _cell_reader(field), is_date))
        primary = _as_list(table.schema.get("primaryKey"))
        primary_at = [position[f] for f in primary if f in position]
        unique_at = [i for i, f in enumerate(table.fields)
                     if (f.constraints or {}).get("unique") and [f.name] != primary]
        key_hashes = {at: _KeyHashes() for at in ([-1] if primary_at else []) + unique_at}
        paths = [(i, name) for i, name in enumerate(names) if name in PATH_FIELDS]
        path_cache: dict[str, tuple[str, str] | None] = {}
        add = self.add
        try:
            with counting:
                rows = self.rows(table, counting, warn=True)
                header = next(rows, None)
                if header is None or not any(c.strip() for c in header[1]):
                    raise _Unreadable("the table is empty: no header row")
                self.check_header(table, header[1])
                for number, cells in rows:
                    if not cells:
                        add(Problem("E010", table.shown, "blank row", row=number))
                        continue
                    if len(cells) != width:
                        add(Problem("E010", table.shown, f"the row has {len(cells)} cells, the "
                                                         f"header {width}", row=number))
                        if len(cells) < width:
                            cells = cells + [""] * (width - len(cells))
                    for i, name, quick, read, is_date in checks:
                        cell = cells[i]
                        notes = None if quick is not None and quick(cell) else read(cell)[1]
                        if notes:
                            add(Problem("E010", table.shown, _cell_message(cell, notes),
                                        row=number, field=name))
                        elif is_date and cell:
                            why = table_date_error(cell)
                            if why:
                                add(Problem("E075", table.shown, f"{_cell(cell)}: {why}",
                                            row=number, field=name))
                    if primary_at:
                        key_hashes[-1].add(hash(tuple([cells[i] for i in primary_at])))
                    for i in unique_at:
                        if cells[i] != "":
                            key_hashes[i].add(hash((cells[i],)))
                    for at, keys, fields, target, target_fields in foreign:
                        values = tuple([cells[i] for i in at])
                        if values not in keys and any(values):
                            add(self.foreign_key_problem(table, number, values, fields, target,
                                                         target_fields))
                    for i, name in paths:
                        value = cells[i]
                        if value:
                            if value not in path_cache:
                                if len(path_cache) > 10000:
                                    path_cache.clear()
                                path_cache[value] = self.path_problem(value)
                            found = path_cache[value]
                            if found:
                                add(Problem(found[0], table.shown, found[1], row=number,
                                            field=name))
                    for keys, at in collecting:
                        keys.add(tuple(cells[i] for i in at))
        except _Unreadable as exc:
            add(Problem("E074", table.shown, str(exc)))
            self.unreadable[table.name] = table.rel
            return
        suspects = {at: hashes.repeated() for at, hashes in key_hashes.items()}
        del key_hashes
        if any(suspects.values()):
            self.duplicates(table, primary, primary_at, suspects)
        self.check_hash(table.resource, table.shown, counting)
        for fields, keys in collect.items():
            self.keys[(table.name, fields)] = keys

    def duplicates(self, table: _Table, primary: list[str], primary_at: list[int],
                   suspects: dict[int, set[int]]) -> None:
        """The rows whose key (primary key: -1, or a unique field's index) repeats an
        earlier row's, found among the suspects of the first pass."""
        first: dict[tuple[int, tuple[str, ...]], int] = {}
        width = len(table.names)
        for number, cells in self.reread(table):
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            for at, hashed_keys in suspects.items():
                key = tuple(cells[i] for i in primary_at) if at < 0 else (cells[at],)
                if not hashed_keys or hash(key) not in hashed_keys:
                    continue
                earlier = first.setdefault((at, key), number)
                if earlier == number:
                    continue
                if at < 0:
                    self.add(Problem("E010", table.shown, f"the primary key "
                                     f"({', '.join(primary)}) {', '.join(key)!r} is "
                                     f"also row {earlier}'s", row=number,
                                     field=",".join(primary)))
                else:
                    self.add(Problem("E010", table.shown, f"{_cell(key[0])} is also "
                                     f"in row {earlier}; the field is unique",
                                     row=number, field=table.names[at]))

    def reread(self, table: _Table) -> Iterator[tuple[int, list[str]]]:
        """A second pass over a table's rows, header skipped. A table that cannot be read
        now yields nothing more: it was read, and any problem reported, a moment ago."""
        try:
            handle = _open_inside(self.folder, table.rel, table.shown)
            if handle is None:
                return
            with handle:
                rows = self.rows(table, handle, warn=False)
                next(rows, None)
                yield from rows
        except (Refused, _Unreadable):
            return

    def check_header(self, table: _Table, header: list[str]) -> None:
        names = table.names
        if header == names:
            return
        for i in range(max(len(header), len(names))):
            label = header[i] if i < len(header) else None
            name = names[i] if i < len(names) else None
            if label == name:
                continue
            if name is None:
                message = f"column {i + 1} {_cell(label or '')} is not in the schema"
            elif label is None:
                message = f"column {i + 1} {_cell(name)} is missing"
            elif label == "":
                message = f"column {i + 1} has no name; the schema names it {_cell(name)}"
            else:
                message = f"column {i + 1} is {_cell(label)}; the schema has {_cell(name)} there"
            self.add(Problem("E011", table.shown, message, row=1, field=name or label or ""))

    def path_problem(self, value: str) -> tuple[str, str] | None:
        """Why a path of a table is not one of the dataset's files, or None."""
        if not _inside(self.folder, value):
            return "E020", f"{value!r} is not a path inside the dataset"
        try:
            status = _lstat_inside(self.folder, value, self.show(value))
        except Refused as refused:
            return refused.problem.code, f"{value!r}: {refused.problem.message}"
        if status is None:
            return "E020", f"{value!r} is not in the dataset"
        return None

    # --- foreign keys ---------------------------------------------------------------------------

    def foreign_key_checks(self, table: _Table) -> list[tuple]:
        """The foreign keys of a table to check while it is first read: those whose
        target was read before it. The others (a table pointing at itself, or at a table
        read after it) are kept for :meth:`check_foreign_keys`."""
        known = set(self.resource_paths) | set(self.unreadable)
        now, later = [], []
        for key in _foreign_keys(table.schema):
            fields = _as_list(key.get("fields"))
            target, target_fields = _reference(key, table.name)
            if target not in known:
                self.add(Problem("E010", table.shown, f"foreign key {fields} refers to "
                                 f"resource {target!r}, which the data package does not "
                                 "have"))
                continue
            at = [table.names.index(f) for f in fields if f in table.names]
            target_table = self.tables.get(target)
            if len(at) != len(fields) or (target_table is not None and not all(
                    f in target_table.names for f in target_fields)) or not fields:
                self.add(Problem("E010", table.shown, f"foreign key {fields} names fields "
                                 f"that {table.name} or {target} does not have"))
                continue
            spec = (at, fields, target, target_fields)
            if target != table.name and (target, target_fields) in self.keys:
                now.append((at, self.keys[(target, target_fields)], fields, target,
                            target_fields))
            else:
                later.append(spec)
        self.deferred[table.name] = later
        return now

    @staticmethod
    def foreign_key_problem(table: _Table, number: int, values: tuple[str, ...],
                            fields: list[str], target: str,
                            target_fields: tuple[str, ...]) -> Problem:
        return Problem("E010", table.shown, f"foreign key violation: {', '.join(values)!r} "
                       f"is not a {'/'.join(target_fields)} of {target}", row=number,
                       field=",".join(fields))

    def check_foreign_keys(self) -> None:
        """The foreign keys not checked while their table was read: a second pass over
        the tables that point at themselves or at a table read after them."""
        for table in self.tables.values():
            checks = []
            for at, fields, target, target_fields in self.deferred.get(table.name, []):
                if table.name in self.unreadable or target in self.unreadable:
                    for name in {table.name, target} & set(self.unreadable):
                        self.skipped.setdefault(name, set()).add(
                            f"foreign key {table.name}.{','.join(fields)} -> "
                            f"{target}.{','.join(target_fields)}")
                elif (target, target_fields) in self.keys:
                    checks.append((at, self.keys[(target, target_fields)], fields, target,
                                   target_fields))
            if not checks:
                continue
            for number, cells in self.reread(table):
                for at, keys, fields, target, target_fields in checks:
                    values = tuple(cells[i] if i < len(cells) else "" for i in at)
                    if values not in keys and any(values):
                        self.add(self.foreign_key_problem(table, number, values, fields,
                                                          target, target_fields))

    # --- tables read for the cross-checks ------------------------------------------------------

    def dict_rows(self, rel: str) -> Iterator[tuple[int, dict[str, str]]]:
        """The rows of a table of the dataset as dicts; nothing when it is not a readable
        table (reported by the table checks)."""
        if rel in self.unreadable.values():
            return
        table = next((t for t in self.tables.values() if t.rel == rel), None)
        if table is None:
            table = _Table(rel, rel, self.show(rel), {}, "utf-8", {}, {}, [])
        try:
            handle = _open_inside(self.folder, rel, self.show(rel))
        except Refused:
            return
        if handle is None:
            return
        with handle:
            rows = self.rows(table, handle, warn=False)
            try:
                header = next(rows, None)
                if header is None:
                    return
                labels = header[1]
                for number, cells in rows:
                    yield number, dict(zip(labels, cells, strict=False))
            except _Unreadable:
                return

    def first_column(self, rel: str) -> set[str] | None:
        """The keys of a table (its first column), or None when it cannot be read."""
        if rel not in self.first_columns:
            if rel in self.unreadable.values() or not rel.endswith(".csv"):
                self.first_columns[rel] = None
            else:
                table = next((t for t in self.tables.values() if t.rel == rel), None)
                kept = self.keys.get((table.name, (table.names[0],))) if table and \
                    table.names else None
                self.first_columns[rel] = {k[0] for k in kept} if kept is not None else \
                    {next(iter(row.values()), "") for _, row in self.dict_rows(rel)}
        return self.first_columns[rel]

    def documented_unmarked_notes(self) -> set[str]:
        """Notes the dataset itself lists as printed without a mark (note_anomalies.csv):
        the book's own anomaly, already reported, so no W040 for them."""
        unmarked = {(r.get("chapter_id", ""), r.get("n", ""))
                    for _, r in self.dict_rows("data/note_anomalies.csv")
                    if r.get("kind") == "note_without_mark"}
        if not unmarked:
            return set()
        return {r.get("note_id", "") for _, r in self.dict_rows("data/notes.csv")
                if (r.get("chapter_id", ""), r.get("n", "")) in unmarked}

    # --- TEI files and the cross-checks -----------------------------------------------------

    def check_tei(self, documented: set[str]) -> dict[str, etree._ElementTree]:
        trees: dict[str, etree._ElementTree] = {}
        tei_dir = self.folder / "tei"
        try:
            mode = os.lstat(tei_dir).st_mode
        except OSError:
            return trees
        if stat.S_ISLNK(mode):
            self.refuse(Refused(_link_problem(self.show("tei"), tei_dir)))
        if not stat.S_ISDIR(mode):
            return trees
        walked = Report()
        files = _xml_files_under(tei_dir, self.show("tei"), walked)
        for problem in walked.problems:
            self.refuse(Refused(problem))
        found = [p.relative_to(self.folder).as_posix() for p in files]
        # source files (the homes of the ids) first, so that a clash is reported in the copy
        for rel in sorted(found, key=lambda r: (r.startswith("tei/letters/"), r)):
            shown = self.show(rel)
            try:
                data = _read_inside(self.folder, rel, shown, MAX_XML_BYTES)
            except Refused as refused:
                self.refuse(refused)
                continue
            if data is None:
                continue
            shape = "letter" if rel.startswith("tei/letters/") else "source"
            tree, problems = _check_tei(data, shown, shape)
            self.report.extend(p for p in problems if not (
                p.code == "W040" and any(f"note {n} " in p.message for n in documented)))
            if tree is not None:
                trees[rel] = tree
        return trees

    def cross_check(self, trees: dict[str, etree._ElementTree]) -> None:
        """Ids unique across files, units in their TEI files, references and pointers."""
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
                    self.add(Problem("E050", self.show(rel), f"xml:id=\"{value}\" is also "
                                     f"used in {self.show(other)}:{line}", element.sourceline))
                first_use.setdefault(value, (rel, element.sourceline))
        for table, key in (("data/documents.csv", "document_id"),
                           ("data/letters.csv", "letter_id")):
            if not trees:
                break
            name = next((n for n, r in self.unreadable.items() if r == table), None)
            if name is not None:
                self.skipped.setdefault(name, set()).add("its units in their TEI files")
            for row_number, row in self.dict_rows(table):
                unit, tei_path = row.get(key) or "", row.get("tei_path") or ""
                if not unit or tei_path not in trees:
                    continue     # no TEI, or a missing or broken file (reported as E020, E03x)
                if key == "document_id" and unit not in ids[tei_path]:
                    self.add(Problem("E051", self.show(table), f"{tei_path} has no element "
                                     f"with xml:id=\"{unit}\"", row=row_number, field="tei_path"))
                elif key == "letter_id":
                    body = trees[tei_path].getroot().find(f"{{{TEI_NS}}}text/{{{TEI_NS}}}body")
                    points = [d.get("corresp", "") for d in (body if body is not None else [])]
                    if not any(p.endswith(f"#{unit}") for p in points):
                        self.add(Problem("E051", self.show(table), f"{tei_path} is not the "
                                         f"letter {unit} (its letter points at "
                                         f"{', '.join(points) or 'nothing'})", row=row_number,
                                         field="tei_path"))
        keys = {prefix: self.first_column(table) for prefix, table in AUTHORITY_TABLES.items()}
        for prefix, table in AUTHORITY_TABLES.items():
            name = next((n for n, r in self.unreadable.items() if r == table), None)
            if name is not None and trees:
                self.skipped.setdefault(name, set()).add(f"{prefix}: references in TEI files")
        for rel, tree in trees.items():
            self.pointer_problems(rel, tree, ids, keys)

    def pointer_problems(self, rel: str, tree: etree._ElementTree,
                         ids: dict[str, dict[str, etree._Element]],
                         keys: dict[str, set[str] | None]) -> None:
        shown = self.show(rel)
        base = rel.rsplit("/", 1)[0]
        for element in tree.iter(etree.Element):
            attributes = element.items()      # one call: most elements have none of them
            if not attributes:
                continue
            found = {name: value for name, value in attributes if name in _POINTING}
            if not found:
                continue
            pointers = [(name, found[name]) for name in POINTER_ATTRIBUTES if found.get(name)]
            if found.get("replacementPattern") and (
                    element.tag == "prefixDef" or element.tag.endswith("}prefixDef")):
                pointers.append(("replacementPattern",
                                 found["replacementPattern"].split("#", 1)[0]))
            for name, value in pointers:
                problem = self.resolve(base, element, value, ids, keys)
                if problem:
                    code, message = problem
                    self.add(Problem(code, shown, f"{name}=\"{value}\": {message}",
                                     element.sourceline))

    def resolve(self, base: str, element: etree._Element, value: str,
                ids: dict[str, dict[str, etree._Element]], keys: dict[str, set[str] | None]
                ) -> tuple[str, str] | None:
        """Why a pointer does not resolve (code, message), or None when it does (or is not
        ours to check: a #fragment is the Schematron's, an http: URL the world's, never
        fetched)."""
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
        if target not in self.target_problems:       # the same few files, pointed at often
            self.target_problems[target] = self.target_problem(target)
        problem = self.target_problems[target]
        if problem is not None:
            return problem or None
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
            known = self.first_column(target)
            if known is not None and fragment not in known:
                return "E053", f"{target} has no row {fragment!r}"
        return None


    def target_problem(self, target: str) -> tuple[str, str] | tuple[()] | None:
        """Why a file a pointer names cannot be pointed at; () when the file is refused
        (reported once, as itself); None when it is there."""
        try:
            status = _lstat_inside(self.folder, target, self.show(target))
        except Refused as refused:
            if self.show(target) in self.refused:
                return ()            # the file itself is reported refused, once
            return refused.problem.code, refused.problem.message
        if status is None:
            return "E053", f"{target} is not in the dataset"
        return None


def _targets_first(tables: dict[str, _Table]) -> list[_Table]:
    """The tables in an order where a table comes after those its foreign keys point at
    (as far as they do not point at each other), so that most keys are checked inline."""
    ordered: list[_Table] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in visiting or name not in tables or tables[name] in ordered:
            return
        visiting.add(name)
        for key in _foreign_keys(tables[name].schema):
            visit(_reference(key, name)[0])
        ordered.append(tables[name])

    for name in tables:
        visit(name)
    return ordered


def _profiles(descriptor: dict, where: str) -> list[tuple[str, str]]:
    """The profiles (``$schema``, ``profile``) of a descriptor that are not standard."""
    return [(f"{where} {key}", value) for key in ("$schema", "profile")
            for value in [descriptor.get(key)]
            if value is not None and not (isinstance(value, str) and
                                          STANDARD_PROFILE.fullmatch(value))]


def _quick_test(field, schema: dict):
    """A fast test for the common fields (strings with required, enum, pattern or length;
    plain integers with bounds) that accepts only cells frictionless's reader accepts,
    with its own semantics; a cell it does not accept goes to the reader, which says why.
    None when the field has no such test."""
    constraints = dict(field.constraints or {})
    missing = set(schema.get("missingValues", [""])) if isinstance(
        schema.get("missingValues", [""]), list) else {""}
    if field.has_defined("missing_values") or field.format not in (None, "default"):
        return None
    required = bool(constraints.pop("required", False))
    constraints.pop("unique", None)    # a property of the column, never of a cell (scan)
    try:
        if field.type == "string" and set(constraints) <= {"enum", "pattern", "minLength",
                                                            "maxLength"}:
            enum = set(constraints["enum"]) if "enum" in constraints else None
            pattern = re.compile(f"^{constraints['pattern']}$").match \
                if "pattern" in constraints else None
            shortest = int(constraints.get("minLength", 0))
            longest = int(constraints["maxLength"]) if "maxLength" in constraints else None

            def quick_string(cell: str) -> bool:
                if cell in missing:
                    return not required
                return (enum is None or cell in enum) and (pattern is None or bool(
                    pattern(cell))) and shortest <= len(cell) and (longest is None or
                                                                   len(cell) <= longest)
            return quick_string
        if field.type == "integer" and set(constraints) <= {"minimum", "maximum"}:
            low = int(constraints["minimum"]) if "minimum" in constraints else None
            high = int(constraints["maximum"]) if "maximum" in constraints else None

            def quick_integer(cell: str) -> bool:
                if cell in missing:
                    return not required
                if not (cell.isascii() and cell.isdigit()):
                    return False
                value = int(cell)
                return (low is None or value >= low) and (high is None or value <= high)
            return quick_integer
        if field.type == "number" and set(constraints) <= {"minimum", "maximum"} and not any(
                field.has_defined(n) for n in ("bare_number", "float_number", "decimal_char",
                                               "group_char")):
            # frictionless reads a number as a Decimal, and a bound as it reads a value
            from decimal import Decimal  # (here: only tables have numbers)
            least, most = (_decimal_bound(constraints.get(n)) for n in ("minimum", "maximum"))

            def quick_number(cell: str) -> bool:
                if cell in missing:
                    return not required
                if not PLAIN_NUMBER.fullmatch(cell):
                    return False
                value = Decimal(cell)
                return (least is None or value >= least) and (most is None or value <= most)
            return quick_number
        if field.type == "boolean" and not constraints and not field.has_defined(
                "true_values") and not field.has_defined("false_values"):
            values = BOOLEAN_CELLS

            def quick_boolean(cell: str) -> bool:
                return not required if cell in missing else cell in values
            return quick_boolean
        if field.type == "year" and not constraints:
            def quick_year(cell: str) -> bool:
                if cell in missing:
                    return not required
                return len(cell) == 4 and cell.isascii() and cell.isdigit()
            return quick_year
        if field.type == "list" and not constraints and \
                field.to_descriptor().get("itemType", "string") == "string":
            def quick_list(cell: str) -> bool:      # string items: every cell is a list
                return not required if cell in missing else True
            return quick_list
    except (TypeError, ValueError, re.error, ArithmeticError):
        return None
    return None


def _decimal_bound(bound: object) -> int | Decimal | None:
    """A number field's bound as frictionless compares it (an int, a float as a Decimal)."""
    if bound is None:
        return None
    from decimal import Decimal
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        raise TypeError("not a number")
    return bound if isinstance(bound, int) else Decimal(str(bound))


def _cell_reader(field):
    """The field's cell reader, made when first called (for one of the package's own
    schemas, that is when frictionless is first needed)."""
    reader = None

    def read(cell: str):
        nonlocal reader
        if reader is None:
            reader = field.create_cell_reader()
        return reader(cell)
    return read


def _cell_message(cell: str, notes: Mapping[str, str]) -> str:
    """frictionless's verdict on a cell, as one sentence."""
    if "type" in notes:
        declared = re.search(r'"([^"]+)"', notes["type"])
        return f"the cell {_cell(cell)} is not of type " + \
            (declared[1] if declared else notes["type"])
    return f"the cell {_cell(cell)} does not conform to a constraint: " + \
        "; ".join(notes.values())


def _first_undecodable(folder: Path, table: _Table) -> tuple[int, int]:
    """The line and value of a table's first byte its encoding cannot decode, read in
    bounded blocks; (0, 0) when not found."""
    try:
        handle = _open_inside(folder, table.rel, table.shown)
    except Refused:
        return 0, 0
    if handle is None:
        return 0, 0
    decoder = codecs.getincrementaldecoder(table.encoding)()
    line = 1
    with handle:
        while True:
            block = handle.readline(1 << 16)
            if not block:
                return 0, 0
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return line, block[min(exc.start, len(block) - 1)] if exc.start < len(block) \
                    else block[-1]
            line += block.endswith(b"\n")


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
    """Read and parse an XML file safely (it must be a regular file, at most
    :data:`MAX_XML_BYTES`): the tree, or None and the problem that stopped it."""
    shown = display or str(path)
    try:
        data = _read_file(path, shown, MAX_XML_BYTES)
    except Refused as refused:
        return None, [refused.problem]
    return parse_xml(data, shown)


def parse_xml(data: bytes, shown: str) -> tuple[etree._ElementTree | None, list[Problem]]:
    """Parse the bytes of an XML file safely: the tree, or None and the problem.

    Refused before parsing: an empty file (E030), bytes that are not UTF-8, UTF-16 or
    UTF-32 with or without a byte-order mark, or another declared encoding (E031), a
    DOCTYPE declaring entities or naming an external DTD (E033). Then parsed with
    entities, DTDs and the network off (E032 when it is not well-formed).
    """
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    if not body or body.isspace():          # (body.strip() would copy the file)
        return None, [Problem("E030", shown, "the file is empty")]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, [Problem("E031", shown, "the file is UTF-16; save it as UTF-8", 1, 1)]
    if b"\x00" in body[:4]:
        # '<?' in UTF-16 or UTF-32 without a byte-order mark: a parser would guess the
        # encoding from these bytes; the dataset's XML is UTF-8, so it is refused.
        return None, [Problem("E031", shown, "the file is UTF-16 or UTF-32 (NUL bytes between "
                                             "its first characters); save it as UTF-8", 1, 1)]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(body)
        line, column = _line_column(data, offset)
        return None, [Problem("E031", shown, f"byte 0x{data[offset]:02X} is not UTF-8; save "
                                             "the file as UTF-8", line, column)]
    declared = ENCODING_DECLARATION.match(text)
    if declared and declared[1].lower() not in ("utf-8", "utf8"):
        return None, [Problem("E031", shown, f"the XML declaration says encoding="
                                             f"\"{declared[1]}\"; the dataset's XML is UTF-8",
                              1, 1)]
    # (no "<!DOCTYPE" in the bytes: none in the text, which they encode; the bytes are
    # searched faster)
    doctype = b"<!DOCTYPE" in body
    if doctype and "<!ENTITY" in text:
        line, column = _line_column(data, data.index(b"<!ENTITY"))
        return None, [Problem("E033", shown, "the DOCTYPE declares entities: refused unread "
                                             "(no entity is expanded, no file or URL fetched)",
                              line, column)]
    external = EXTERNAL_DTD.search(text) if doctype else None
    if external:
        line, column = _line_column(data, data.index(b"<!DOCTYPE"))
        return None, [Problem("E033", shown, "the DOCTYPE names an external DTD: refused "
                                             "unread (no DTD is loaded; TEI files need no "
                                             "DOCTYPE)", line, column)]
    # the decoded copy (twice the file) is not held while parsing (nor by the match)
    del text, body, declared
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


def _grammar_starting_at(defines: list[str], without_patterns: bool = False
                         ) -> etree.RelaxNG:
    """``serge-trotsky.rng`` with its start replaced by a choice of ``defines`` (and, with
    ``without_patterns``, its ``<param name="pattern">`` taken out)."""
    grammar = _load_schema_tree(TEI_RNG)
    if without_patterns:
        for param in list(grammar.iter(f"{{{RNG_NS}}}param")):
            if param.get("name") == "pattern":
                param.getparent().remove(param)
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
    # (a define that is one element and nothing else: a start may not be a zeroOrMore)
    defines = [d.get("name") for d in grammar.getroot().iter(f"{{{RNG_NS}}}define")
               if [(c.tag, c.get("name")) for c in d if isinstance(c.tag, str)
                   and c.tag.startswith(f"{{{RNG_NS}}}")] == [(f"{{{RNG_NS}}}element", name)]]
    return _grammar_starting_at(defines) if defines else None


def _culprits(tree: etree._ElementTree, name: str, line: int | None) -> list[etree._Element]:
    """The innermost ``name`` elements (on ``line``, when libxml2 gives it) that break
    their own definition: their start tags show the values at fault."""
    grammar = _element_grammar(name)
    candidates = [e for e in tree.iter(f"{{{TEI_NS}}}{name}") if not line or e.sourceline == line]
    if grammar is None:
        return candidates[:1] if line else []
    # Innermost first: an element with a failing descendant is not reported, so it is not
    # checked (on a large file, where libxml2 gives no line, the outer ones are most of
    # the file). Each is validated in place: lxml validates an element as the root of a
    # document that shares its children, as a copy would be.
    failing: list[etree._Element] = []
    outer: set[etree._Element] = set()
    for element in reversed(candidates):
        if element not in outer and not grammar.validate(element):
            failing.append(element)
            outer.update(element.iterancestors())
    return failing[::-1]


def _start_tag(element: etree._Element) -> str:
    """The element's start tag as written, for a message."""
    names = {XML_ID: "xml:id", "{http://www.w3.org/XML/1998/namespace}lang": "xml:lang"}
    attributes = "".join(f' {names.get(k, etree.QName(k).localname)}="{v}"'
                         for k, v in element.attrib.items())
    return f"<{etree.QName(element).localname}{attributes}>"


# --- a large file's RELAX NG: the grammar without its patterns, and the patterns here -------
#
# libxml2 checks a <param name="pattern"> by compiling its regular expression again for
# every value it checks (relaxng.c, xmlRelaxNGSchemaFacetCheck: a new facet per value):
# 1.5 s of the 2.7 s RELAX NG took on a 100 MB file. A large file is checked against the
# grammar with its patterns taken out, in a thread, while each value a pattern applies to
# is matched here, each pattern compiled once. Only the verdict "valid" is taken from this:
# taking patterns out only widens the language, and every value is matched against every
# pattern the grammar gives that attribute (or the text) of an element of that name, so a
# file that passes both is valid against the grammar. When either fails, or a value is one
# this check cannot judge exactly, the grammar itself is run and its messages are reported:
# the output is the grammar's in every case.

# Regular-expression syntax that means the same to XML Schema and to Python's re, or that
# Python reads more strictly (\S: Python's whitespace is wider): literals, escaped
# metacharacters, classes of literals and ranges, groups, alternatives, quantifiers. A
# pattern with anything else (., \d, \w, \s, \p{…}, class subtraction) is not checked
# here and the grammar keeps it.
_SAFE_REGEX = re.compile(r"(?:\\[-.*+?()\[\]{}|\\$^S]"
                         r"|\[\^?(?:[^\]\\\[]|\\[-.*+?()\[\]{}|\\$^])+\]"
                         r"|[()|*+?]|\{\d+(?:,\d*)?\}"
                         r"|[^.^$\\\[\]{}()|*+?])*")
_XML_SPACE_RUN = re.compile(r"[ \t\n\r]{2,}|[\t\n\r]|^ | $")


@dataclass(frozen=True)
class _PatternCheck:
    """The patterns the grammar gives one attribute (``target``, a Clark name) or, when
    ``target`` is None, the text of an element, in one definition of the element. ``fixed``:
    the attributes with one allowed value that the definition requires; an element whose
    attributes differ cannot be matched by it. ``spaceless``: no pattern can match any
    whitespace, so a value that matches has none for its datatype to change."""
    fixed: tuple[tuple[str, str], ...]
    target: str | None
    patterns: tuple[re.Pattern[str], ...]
    spaceless: bool


class _Unsupported(Exception):
    """The grammar has a construct the pattern table cannot key exactly."""


def _rng_name(node: etree._Element, attribute: bool) -> str:
    """The Clark name an ``element`` or ``attribute`` pattern names (RELAX NG 4.8 and 4.10:
    an attribute without a prefix or its own ``ns`` is in no namespace)."""
    name = node.get("name")
    if name is None:
        raise _Unsupported("a name class")
    if ":" in name:
        prefix, local = name.split(":", 1)
        uri = ("http://www.w3.org/XML/1998/namespace" if prefix == "xml"
               else node.nsmap.get(prefix))
        if uri is None:
            raise _Unsupported(f"prefix {prefix}")
        return f"{{{uri}}}{local}"
    if attribute:
        return f"{{{node.get('ns')}}}{name}" if node.get("ns") else name
    for holder in (node, *node.iterancestors()):
        if holder.get("ns") is not None:
            return f"{{{holder.get('ns')}}}{name}" if holder.get("ns") else name
    return name


def _patterns_in(node: etree._Element, defines: dict[str, etree._Element],
                 target: str | None, found: list[tuple[str | None, list[str]]],
                 seen: frozenset[str]) -> None:
    """The pattern lists of the ``data`` below ``node`` that belong to the element being
    read (not to the elements nested in it), with the attribute each is the value of."""
    for child in node:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{RNG_NS}}}"):
            continue                                       # annotations
        kind = child.tag[len(RNG_NS) + 2:]
        if kind == "element":
            continue                                       # keyed under its own name
        if kind == "attribute":
            _patterns_in(child, defines, _rng_name(child, attribute=True), found, seen)
        elif kind == "ref":
            name = child.get("name", "")
            if name not in defines:
                raise _Unsupported(f"ref {name}")
            if name not in seen:
                _patterns_in(defines[name], defines, target, found, seen | {name})
        elif kind == "data":
            patterns = [p.text or "" for p in child.iterchildren(f"{{{RNG_NS}}}param")
                        if p.get("name") == "pattern"]
            if any(not _SAFE_REGEX.fullmatch(p) for p in patterns):
                raise _Unsupported("a pattern read differently by Python")
            if patterns:
                found.append((target, patterns))
            for excepted in child.iterchildren(f"{{{RNG_NS}}}except"):
                _no_patterns_in(excepted, defines, seen)
        elif kind == "list":               # (patterns on its tokens, not on the value)
            _no_patterns_in(child, defines, seen)
        elif kind in ("parentRef", "externalRef", "grammar", "include"):
            raise _Unsupported(kind)
        else:
            _patterns_in(child, defines, target, found, seen)


def _no_patterns_in(node: etree._Element, defines: dict[str, etree._Element],
                    seen: frozenset[str]) -> None:
    """Raise _Unsupported when a pattern is below ``node`` (a list, an except)."""
    found: list[tuple[str | None, list[str]]] = []
    _patterns_in(node, defines, None, found, seen)
    if found:
        raise _Unsupported("a pattern in a list or an except")


def _fixed_attributes(element: etree._Element) -> tuple[tuple[str, str], ...]:
    """The attributes an ``element`` pattern requires with one token value (its direct
    children only: others may be optional)."""
    fixed = []
    for attribute in element.iterchildren(f"{{{RNG_NS}}}attribute"):
        values = [c for c in attribute if isinstance(c.tag, str)
                  and c.tag.startswith(f"{{{RNG_NS}}}")]
        if len(values) == 1 and values[0].tag == f"{{{RNG_NS}}}value" and \
                values[0].get("type") is None and attribute.get("name"):
            fixed.append((_rng_name(attribute, attribute=True), " ".join(values[0].text.split())
                          if values[0].text else ""))
    return tuple(fixed)


def pattern_checks(grammar: etree._ElementTree
                   ) -> dict[str, tuple[_PatternCheck, ...]] | None:
    """Every pattern of a RELAX NG grammar, by the name (Clark notation) of the element it
    applies to; None when the grammar has a construct the table cannot key exactly."""
    root = grammar.getroot()
    defines = {d.get("name", ""): d for d in root.iter(f"{{{RNG_NS}}}define")}
    if any(d.get("combine") for d in defines.values()):
        return None
    checks: dict[str, tuple[_PatternCheck, ...]] = {}
    try:
        for element in root.iter(f"{{{RNG_NS}}}element"):
            found: list[tuple[str | None, list[str]]] = []
            _patterns_in(element, defines, None, found, frozenset())
            name = _rng_name(element, attribute=False)
            fixed = _fixed_attributes(element)
            for target, patterns in found:
                check = _PatternCheck(fixed, target, tuple(re.compile(p) for p in patterns),
                                      not any(re.search(r"[ \t\n\r]|\[\^", p)
                                              for p in patterns))
                if check not in checks.get(name, ()):
                    checks[name] = (*checks.get(name, ()), check)
    except _Unsupported:
        return None
    return checks


class _PatternTable:
    """:func:`pattern_checks` arranged for the walk: for each element name, its checks
    grouped by their ``fixed`` attributes, each naming the list (``bucket``) its values are
    gathered in (a set: each distinct value is matched once, at the end)."""

    def __init__(self, checks: dict[str, tuple[_PatternCheck, ...]]) -> None:
        kinds: dict[tuple[tuple[re.Pattern[str], ...], bool], int] = {}
        self.by_tag: dict[str, tuple[tuple[tuple[tuple[str, str], ...],
                                           tuple[tuple[str | None, int], ...]], ...]] = {}
        for tag, rows in checks.items():
            groups: dict[tuple[tuple[str, str], ...], list[tuple[str | None, int]]] = {}
            for check in rows:
                bucket = kinds.setdefault((check.patterns, check.spaceless), len(kinds))
                groups.setdefault(check.fixed, []).append((check.target, bucket))
            self.by_tag[tag] = tuple((fixed, tuple(targets)) for fixed, targets in groups.items())
        self.kinds = tuple(kinds)

    def buckets(self) -> list[set[str]]:
        """Empty sets, one per bucket, for one walk."""
        return [set() for _ in self.kinds]

    def hold(self, buckets: list[set[str]]) -> bool:
        """True when every value gathered matches its patterns as the grammar would; False
        when one does not, or has whitespace its datatype would change."""
        for (patterns, spaceless), values in zip(self.kinds, buckets, strict=True):
            for value in values:
                if not spaceless and _XML_SPACE_RUN.search(value):
                    return False
                for pattern in patterns:
                    if not pattern.fullmatch(value):
                        return False
        return True


def _gather_values(element: etree._Element, groups: tuple, buckets: list[set[str]]) -> bool:
    """Add the values of ``element`` that patterns apply to to their buckets (``groups``:
    the element's row of :attr:`_PatternTable.by_tag`); False when its text cannot be
    judged here (split by a comment or a processing instruction)."""
    for fixed, targets in groups:
        if fixed and any(" ".join(element.get(name, "\0").split()) != value
                         for name, value in fixed):
            continue                      # this definition cannot be the element's
        for target, bucket in targets:
            if target is None:
                if len(element):
                    return False          # (child elements fail the grammar)
                buckets[bucket].add(element.text or "")
            else:
                value = element.get(target)
                if value is not None:
                    buckets[bucket].add(value)
    return True


@cache
def _pattern_free_grammar(shape: str) -> tuple[etree.RelaxNG, _PatternTable] | None:
    """The shape's grammar without its patterns and the table of its patterns, or None
    when the table cannot be made (then the grammar itself is run)."""
    checks = pattern_checks(_load_schema_tree(TEI_RNG))
    if checks is None:
        return None
    return _grammar_starting_at([f"{shape}.file"], without_patterns=True), _PatternTable(checks)


@cache
def tei_schematron() -> etree.XSLT:
    """Our Schematron compiled to the XSLT that writes its SVRL report, made lean: no
    ``fired-rule`` element per matching node (the report of a 100 MB file held 600,000 of
    them; only failed assertions are read), and without the skeleton's stray
    ``apply-templates`` in each ``active-pattern``, a walk of the whole document per pattern
    that outputs nothing. The assertions and their results are the same."""
    try:
        compiled = isoschematron.Schematron(
            _load_schema_tree(TEI_SCH), store_xslt=True,
            compile_params={"generate-fired-rule": "'false'"}).validator_xslt
    except etree.SchematronParseError as exc:
        raise PipelineError(f"the Schematron does not compile: {exc}", file=str(TEI_SCH)) \
            from exc
    xsl = "{http://www.w3.org/1999/XSL/Transform}"
    for pattern in compiled.iter(f"{{{SVRL_NS}}}active-pattern"):
        for walk in pattern.findall(f"{xsl}apply-templates"):
            if walk.get("select") is None and walk.get("mode") is None:
                pattern.remove(walk)
    return etree.XSLT(compiled)


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
                  shown: str, valid: bool | None = None) -> list[Problem]:
    """The grammar's errors as problems (``valid``: the result of ``grammar.validate(tree)``
    when it has been run already)."""
    if grammar.validate(tree) if valid is None else valid:
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


def _schematron_problems(validator: isoschematron.Schematron | etree.XSLT,
                         tree: etree._ElementTree, shown: str, default: str, warning: str
                         ) -> list[Problem]:
    """Failed assertions as problems: the code from the message when it starts with one of
    ours (``[E041] …``), else ``default`` (or ``warning`` for role="warning")."""
    if isinstance(validator, etree.XSLT):
        report = validator(tree)
    else:
        validator.validate(tree)
        report = validator.validation_report
    return [_assertion_problem("".join(found.itertext()), found.get("role"), shown,
                               _svrl_line(tree, found.get("location")), default, warning)
            for found in report.iter(f"{{{SVRL_NS}}}failed-assert",
                                     f"{{{SVRL_NS}}}successful-report")]


def _assertion_problem(text: str, role: str | None, shown: str, line: int | None,
                       default: str, warning: str) -> Problem:
    """A failed assertion's text as a problem: the code from the text when it starts with
    one of ours (``[E041] …``), else ``default`` (``warning`` for role="warning")."""
    text = " ".join(text.split())
    m = SCHEMATRON_CODE.match(text)
    if m and m[1] in CODES:
        return Problem(m[1], shown, m[2], line)
    return Problem(warning if role in ("warning", "info") else default, shown, text, line)


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


# --- serge-trotsky.sch in one walk --------------------------------------------------------------

# The serge-trotsky.sch that _tei_rule_problems implements (the sha256 of the file).
# Compiled to XSLT, the Schematron walks a file once per pattern, and builds its keys in
# further walks: 7 s on a 100 MB file. _tei_rule_problems makes the same assertions, with
# the same messages, at the same elements, in one walk (0.75 s, the dates included). The .sch
# stays the definition: when the file is not this one, validate runs its compiled XSLT
# instead, and a test fails until the function is brought level with the file; another
# runs both on the dataset's files and on broken ones and finds the same problems.
TEI_SCH_SHA256 = "44449d79f88424e6badd4791074c8e2c2d472c19f6e700ecc23cedd2250aea3e"
_TEI = f"{{{TEI_NS}}}"
_NOTE, _REF, _DIV = _TEI + "note", _TEI + "ref", _TEI + "div"
_CORRESP_DESC, _CORRESP_ACTION, _PERS_NAME = (_TEI + "correspDesc", _TEI + "correspAction",
                                              _TEI + "persName")
_DATED = frozenset(DATE_ATTRIBUTES)


@cache
def _one_walk_is_the_schematron() -> bool:
    """True when serge-trotsky.sch is the file _tei_rule_problems implements."""
    return hashlib.sha256(TEI_SCH.read_bytes()).hexdigest() == TEI_SCH_SHA256


def _xpath_name(element: etree._Element) -> str:
    """XPath's name(): the element's name as the document writes it (with its prefix)."""
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else local


def _in_notes_div(element: etree._Element) -> bool:
    """``ancestor::tei:div[1][@type = 'notes']``: the nearest div around it is the notes."""
    parent = element.getparent()        # (iterancestors(tag) costs 9 µs a call)
    while parent is not None:
        if parent.tag == _DIV:
            return parent.get("type") == "notes"
        parent = parent.getparent()
    return False


def _tei_rule_problems(tree: etree._ElementTree, shown: str
                       ) -> tuple[list[Problem], list[Problem]]:
    """The failed assertions of serge-trotsky.sch, as its compiled XSLT reports them and in
    its order (pattern by pattern, each in document order), and the E075 date problems,
    from one walk over the elements (see :func:`_walk_tei_rules`)."""
    rules, dates, _ = _tei_rules_and_patterns(tree, shown, None)
    return rules, dates


def _tei_rules_and_patterns(tree: etree._ElementTree, shown: str,
                            patterns: _PatternTable | None
                            ) -> tuple[list[Problem], list[Problem], bool]:
    """:func:`_tei_rule_problems`, and in the same walk whether every value the grammar's
    ``patterns`` apply to matches them (see :func:`_pattern_free_grammar`)."""
    # The walk makes a list per element and keeps some, which sets off the cyclic garbage
    # collector thousands of times on a large file (a tenth of the walk); it makes no
    # cycles, so the collector is paused while it runs.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _walk_tei_rules(tree, shown, patterns)
    finally:
        if collecting:
            gc.enable()


def _walk_tei_rules(tree: etree._ElementTree, shown: str, patterns: _PatternTable | None
                    ) -> tuple[list[Problem], list[Problem], bool]:
    """Each block below is one pattern of the .sch, under its rule's context; the XPath of
    each test is quoted beside the code that makes it. With ``patterns``, also whether
    every value they apply to matches them."""
    held = True
    by_tag = patterns.by_tag if patterns is not None else None
    buckets = patterns.buckets() if patterns is not None else []
    ids: dict[str, etree._Element] = {}   # key('ids'): xml:id -> its first element
    note_ids: set[str] = set()            # the ids of key('ids') held by a tei:note
    calls: set[str] = set()       # key('note-calls'): substring(@target, 2) of note calls
    pointers: list[tuple[etree._Element, str | None, str | None]] = []
    registers: list[tuple[etree._Element, str]] = []
    repeated: list[tuple[etree._Element, str]] = []
    notes: list[tuple[etree._Element, bool]] = []
    dated: list[etree._Element] = []
    for element in tree.iter(etree.Element):
        if by_tag is not None:
            groups = by_tag.get(element.tag)
            if groups is not None and not _gather_values(element, groups, buckets):
                held, by_tag = False, None
        attributes = element.items()
        if not attributes:
            continue
        xml_id = target = corresp = None
        is_dated = False
        for name, value in attributes:
            if name == "ref":
                # tei:*[starts-with(@ref, '#')]; ids are only ever added, so a pointer to an
                # id already seen holds and only the others are kept (in a book most point
                # back, at its standOff; one with its own id is kept, and holds at the end)
                if value.startswith("#") and value[1:].split(" ", 1)[0] not in ids and \
                        element.tag.startswith(_TEI):
                    registers.append((element, value))
            elif name == XML_ID:
                xml_id = value
            elif name == "target":
                target = value
            elif name == "corresp":
                corresp = value
            elif name in _DATED:
                is_dated = True
        if xml_id is None and target is None and corresp is None and not is_dated:
            continue                     # (a name's ref: most elements with attributes)
        if is_dated:
            dated.append(element)
        tag = element.tag if xml_id is not None or target is not None else ""
        if xml_id is not None:                                   # *[@xml:id]
            if xml_id in ids:
                repeated.append((element, xml_id))
            else:
                ids[xml_id] = element
            if tag == _NOTE:
                note_ids.add(xml_id)
            if tag == _NOTE and _in_notes_div(element):
                # tei:note[@xml:id][ancestor::tei:div[1][@type = 'notes']]
                notes.append((element, False))
        local_target = target is not None and target.startswith("#")
        if tag == _REF and local_target and element.get("type") == "note":
            # tei:ref[@type = 'note'][starts-with(@target, '#')]
            calls.add(target[1:])                                # type: ignore[index]
            notes.append((element, True))
        # tei:*[starts-with(@target, '#') or starts-with(@corresp, '#')], kept as @ref above
        if (local_target and target[1:] not in ids) or (           # type: ignore[index]
                corresp is not None and corresp.startswith("#") and corresp[1:] not in ids):
            if element.tag.startswith(_TEI):
                pointers.append((element, target, corresp))

    failed: list[tuple[str, str | None, etree._Element]] = []   # text, role, context
    # pattern pointers
    for element, target, corresp in pointers:
        for name, value in (("target", target), ("corresp", corresp)):
            # not(starts-with(@NAME, '#')) or key('ids', substring(@NAME, 2))
            if value is not None and value.startswith("#") and value[1:] not in ids:
                failed.append((f'[E041] {name}="{value}" on <{_xpath_name(element)}> points '
                               "at no xml:id in this file.", None, element))
    # pattern register-pointers
    for element, ref in registers:
        # key('ids', substring-before(concat(substring(@ref, 2), ' '), ' '))
        if ref[1:].split(" ", 1)[0] not in ids:
            failed.append((f'[E041] ref="{ref}" on <{_xpath_name(element)}> points at no '
                           "xml:id in this file.", None, element))
    # pattern ids: generate-id(key('ids', @xml:id)[1]) = generate-id(.)
    for element, xml_id in repeated:
        failed.append((f'[E042] xml:id="{xml_id}" is already used by an earlier element of '
                       "this file; ids must be unique.", None, element))
    # pattern correspondence (no tei:persName context without a tei:correspAction)
    if next(tree.iter(_CORRESP_DESC, _CORRESP_ACTION), None) is not None:
        failed += _correspondence_failures(tree)
    # pattern notes
    for element, is_call in notes:
        if is_call:
            # not(key('ids', substring(@target, 2)))
            #   or key('ids', substring(@target, 2))/self::tei:note
            target = element.get("target", "")
            found = ids.get(target[1:])
            if found is not None and target[1:] not in note_ids:
                failed.append((f'[E045] the note call {target} (n="{element.get("n", "")}") '
                               f"points at a <{etree.QName(found).localname}>, not a "
                               "<note>.", None, element))
        else:
            xml_id = element.get(XML_ID, "")
            if xml_id not in calls:                              # key('note-calls', @xml:id)
                failed.append((f'[W040] note {xml_id} (n="{element.get("n", "")}") is called '
                               "from nowhere in this file: the book prints no mark for it (see "
                               "data/note_anomalies.csv) or the call is missing.", "warning",
                               element))
    dates: list[Problem] = []
    for element in dated:
        _element_date_problems(element, shown, dates)
    return [_assertion_problem(text, role, shown, element.sourceline, "E040", "E040")
            for text, role, element in failed], dates, \
        held and (patterns is None or patterns.hold(buckets))


def _correspondence_failures(tree: etree._ElementTree
                             ) -> list[tuple[str, str | None, etree._Element]]:
    """The pattern correspondence of serge-trotsky.sch: its three rules, in document order."""
    failed: list[tuple[str, str | None, etree._Element]] = []
    root = tree.getroot()
    # /tei:TEI/tei:text/tei:body/tei:div/@corresp, in document order
    units = [div.get("corresp") for text in root.iterchildren(_TEI + "text")
             for body in text.iterchildren(_TEI + "body")
             for div in body.iterchildren(_DIV) if div.get("corresp") is not None] \
        if root.tag == _TEI + "TEI" else []
    for element in tree.iter(_CORRESP_DESC, _CORRESP_ACTION, _PERS_NAME):
        if element.tag == _CORRESP_DESC:                         # tei:correspDesc
            for kind in ("sent", "received"):
                # count(tei:correspAction[@type = 'KIND']) = 1
                count = sum(1 for action in element.iterchildren(_CORRESP_ACTION)
                            if action.get("type") == kind)
                if count != 1:
                    failed.append((f'[E043] correspDesc needs exactly one <correspAction '
                                   f'type="{kind}"> (it has {count}).', None, element))
            # not(@corresp) or not(/tei:TEI/tei:text/tei:body/tei:div/@corresp)
            #   or @corresp = /tei:TEI/tei:text/tei:body/tei:div/@corresp
            corresp = element.get("corresp")
            if corresp is not None and units and corresp not in units:
                failed.append((f'[E046] correspDesc corresp="{corresp}" and the letter\'s div '
                               f'corresp="{units[0]}" point at different units.', None, element))
        elif element.tag == _CORRESP_ACTION:                     # tei:correspAction
            if element.find(_PERS_NAME) is None:                 # tei:persName
                failed.append((f'[E044] <correspAction type="{element.get("type", "")}"> names '
                               "no person: add a persName (<persName>Unknown</persName> when "
                               "the text does not say).", None, element))
        else:                                                    # tei:correspAction/tei:persName
            parent = element.getparent()
            if parent is None or parent.tag != _CORRESP_ACTION:
                continue
            if element.get("ref") is not None:                   # @ref
                continue
            name = str(element.xpath("normalize-space(.)"))     # or normalize-space(.) = 'Unknown'
            if name != "Unknown":
                failed.append((f'[W041] the correspondent "{name}" has no ref="person:…": add '
                               "the person to sources/_registry/persons.toml and link them.",
                               "warning", element))
    return failed


def _check_tei(data: bytes, shown: str, shape: str | None
               ) -> tuple[etree._ElementTree | None, list[Problem]]:
    tree, problems = parse_xml(data, shown)
    if tree is None:
        return None, problems
    shape = shape or _shape_of(tree)
    grammar = tei_grammar(shape)
    if not _one_walk_is_the_schematron():
        problems += _rng_problems(grammar, tree, "E040", shown)
        problems += _schematron_problems(tei_schematron(), tree, shown, "E040", "E040")
        problems += _date_problems(tree, shown)
    elif len(data) < CONCURRENT_RNG_BYTES or (loose := _pattern_free_grammar(shape)) is None:
        problems += _rng_problems(grammar, tree, "E040", shown)
        rules, dates = _tei_rule_problems(tree, shown)
        problems += rules + dates
    else:
        # libxml2 validates without the GIL: RELAX NG on another core while the walk runs
        # here. Both only read the tree; the error log is the grammar's, read afterwards.
        # The grammar without its patterns there, its patterns matched in the walk (see
        # _pattern_free_grammar); unless both pass, the grammar itself runs, for its
        # verdict and its messages (there too when the first fails).
        from concurrent.futures import ThreadPoolExecutor
        relaxed, table = loose
        with ThreadPoolExecutor(1) as pool:
            valid = pool.submit(_relaxed_then_whole, relaxed, grammar, tree)
            rules, dates, held = _tei_rules_and_patterns(tree, shown, table)
            verdict = valid.result()
        problems += _rng_problems(grammar, tree, "E040", shown,
                                  None if verdict and not held else verdict)
        problems += rules + dates
    return tree, problems


def _relaxed_then_whole(relaxed: etree.RelaxNG, grammar: etree.RelaxNG,
                        tree: etree._ElementTree) -> bool:
    """True when ``tree`` passes the grammar without its patterns (``relaxed``; its patterns
    are still to be matched); else False, after running the whole ``grammar``, whose error
    log then holds the messages."""
    if relaxed.validate(tree):
        return True
    grammar.validate(tree)
    return False


def _check_cmif(data: bytes, shown: str) -> list[Problem]:
    tree, problems = parse_xml(data, shown)
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
    problems += _date_problems(tree, shown)
    return problems
