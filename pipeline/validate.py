"""Validate a published dataset folder: the data package and its tables (through
frictionless, against the schemas the datapackage names), and every file path the
tables point at. Problems are located and coded; the catalogue is ``CODES``.

This is the first part of ``sergetrotsky validate``; TEI checks come with the TEI stage.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from frictionless import Package

CODES = {
    "E001": "the path is not a dataset folder (no datapackage.json)",
    "E002": "datapackage.json is not valid JSON",
    "E010": "a table or the package breaks its schema (type, constraint, key, checksum)",
    "E020": "a path in a table points at a file the dataset does not have",
}
PATH_FIELDS = ("text_path", "original_path", "tei_path")


@dataclass(frozen=True)
class Problem:
    """One located problem."""

    code: str
    file: str
    row: int | None
    field: str
    message: str

    def line(self) -> str:
        where = self.file + (f":{self.row}" if self.row is not None else "")
        where += f" [{self.field}]" if self.field else ""
        return f"{self.code} {where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def validate_dataset(folder: Path) -> list[Problem]:
    """Every problem found in a dataset folder; an empty list when it is valid."""
    descriptor = folder / "datapackage.json"
    if not descriptor.is_file():
        return [Problem("E001", str(folder), None, "", CODES["E001"])]
    try:
        resources = json.loads(descriptor.read_text(encoding="utf-8"))["resources"]
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        return [Problem("E002", str(descriptor), None, "", f"{CODES['E002']}: {exc}")]
    problems: list[Problem] = []
    report = Package(str(descriptor)).validate()
    for task in report.tasks:
        for error in task.errors:
            row = getattr(error, "row_number", None)
            problems.append(Problem("E010", task.place, row, getattr(error, "field_name", ""),
                                    error.message))
    for error in report.errors:
        problems.append(Problem("E010", str(descriptor), None, "", error.message))
    for resource in resources:
        path = folder / resource["path"]
        if not path.is_file():
            continue  # reported by frictionless
        with path.open(encoding="utf-8", newline="") as handle:
            for row_number, row in enumerate(csv.DictReader(handle), start=2):
                for name in PATH_FIELDS:
                    if row.get(name) and not (folder / row[name]).is_file():
                        problems.append(Problem("E020", resource["path"], row_number, name,
                                                f"{row[name]!r} is not in the dataset"))
    return problems
