"""Shared fixtures: the real sources, cleaned once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import clean, publish
from pipeline.sources import discover

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
