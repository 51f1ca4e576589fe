"""The Serge–Trotsky Papers pipeline: clean → segment → encode → package → validate → publish.

For researchers, :func:`load` reads the published dataset into pandas. pandas is an
optional extra (``pip install 'sergetrotsky[pandas]'``) imported only when ``load`` is
called, so the command line and ``import sergetrotsky`` never need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .loader import Dataset

__version__ = "0.1.0"
__all__ = ["__version__", "load", "Dataset", "DatasetError"]


def load(path: str | Path, *, verify: bool = True) -> Dataset:
    """Load a dataset folder or a release zip: every table as a typed pandas DataFrame,
    foreign keys as joins, each letter's text and TEI file (see :mod:`sergetrotsky.loader`)."""
    from .loader import load as load_dataset

    return load_dataset(path, verify=verify)


def __getattr__(name: str) -> object:
    """``sergetrotsky.Dataset`` and ``sergetrotsky.DatasetError``, imported (with pandas)
    only when asked for."""
    if name in ("Dataset", "DatasetError"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
