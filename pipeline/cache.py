"""The build cache: each source's results kept between builds, so that an edit to one
source rebuilds only that source's share of the per-source work.

An entry is a pickle under ``<cache folder>/<stage>/<source id>.<key>.pickle``. Its key
is a SHA-256 of everything the result depends on:

- the pipeline: its version, the bytes of every one of its Python files, the Python and
  lxml versions (:func:`code_digest`), so that a changed pipeline never reads a result
  of the old one;
- the source: the source as loaded (``source.toml`` as read, so that a comment or a
  blank line changes nothing; its folder by name only), its ``segment.toml`` as parsed
  (likewise), and the name and bytes of every other file in its folder (original,
  ``letters.toml``, the hyphen lock);
- the corpus-wide metadata: every file of the sources folder outside the source folders
  (``_registry/*.toml``, ``dataset.toml``);
- for a later stage, the key of the stage it follows and a :func:`fingerprint` of the
  corpus-wide values it takes (the registers, the bibliography's titles, ...).

No key holds the sources folder's path, and no entry holds a path (a result that names
a file, a problem, is never cached): a copy of the sources elsewhere, or a checkout in
another folder sharing ``$SERGETROTSKY_CACHE_DIR``, reads the same entries
(``tests/test_cache.py``).

Three stages keep pieces (``tei-parts``: each unit's own TEI elements; ``word-counts``
and ``name-words``: each piece of text's word count and words in lower case): one entry
per source, keyed by the pipeline's code alone, a dict whose own keys are what each
piece is made of in full (a unit's view, its offsets from the unit's start; a piece's
text): after an edit only the pieces it changed are made again (pipeline/build.py).

The cleaned text depends on the corpus vocabulary only through the words the hyphen
rule looks up: the entry records those words and their counts, and it is used only when
the current vocabulary gives each of them the same count (:class:`RecordedVocabulary`).

Where the cache lives (:func:`default_folder`): ``$SERGETROTSKY_CACHE_DIR`` if set,
else ``.cache/sergetrotsky/`` in the repository holding the sources folder (ignored by
git, so ``git clean -X`` or ``-x`` removes it and plain ``git clean`` keeps it), else
nowhere (no cache). ``build --no-cache`` neither reads nor writes it. A cached build
writes the same bytes as a cold one (``tests/test_cache.py``). An entry that cannot be
read is treated as missing; entries are written atomically; after a build each stage
keeps one entry per source (the one this build used). A corpus-wide step's entry (the
registers) is kept under the id ``CORPUS_ENTRY``, its key made of every source's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__

CACHE_ENV = "SERGETROTSKY_CACHE_DIR"
# The id of a corpus-wide step's entry (a source id never starts with "_")
CORPUS_ENTRY = "_corpus"
TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
       "# The build cache of sergetrotsky (https://bford.info/cachedir/): safe to delete.\n")


@cache
def code_digest() -> str:
    """The pipeline as it runs: its version, every Python file of the package, Python's
    and lxml's versions (a result pickled by one pipeline is never read by another)."""
    from lxml import etree

    digest = hashlib.sha256(f"{__version__}|{sys.version}|{etree.LXML_VERSION}".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def folder_digest(folder: Path, skip: Iterable[Path] = ()) -> str:
    """The names and bytes of every file under ``folder`` (but the folders in ``skip``),
    named relative to ``folder``: where the folder is does not count."""
    skipped = {p.resolve() for p in skip}
    digest = hashlib.sha256(b"folder\0")
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if (Path(root) / d).resolve() not in skipped)
        for name in sorted(files):
            path = Path(root) / name
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(value: Any) -> str:
    """A SHA-256 of a value built of dicts, lists, tuples, sets, dataclasses, paths and
    scalars, the same in every process (sets are sorted: their order is not).

    The value is written as JSON by the json module's C encoder (a dataclass as a dict of
    its fields under its class name, a set as its items' fingerprints sorted, a path or
    bytes tagged), ten times faster than walking it in Python; a value JSON cannot hold
    (a dict keyed by tuples, an object of another kind) is walked by :func:`_feed`."""
    try:
        text = json.dumps(value, default=_plain, ensure_ascii=False, check_circular=False,
                          separators=(",", ":"))
    except (TypeError, ValueError):
        digest = hashlib.sha256(b"walked\0")
        _feed(digest, value)
        return digest.hexdigest()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _plain(value: Any) -> Any:
    """What JSON writes for a dataclass, a set, a path or bytes (tagged by a key that
    names the kind); anything else cannot be written (TypeError: walked instead)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@": type(value).__qualname__,
                **{f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    if isinstance(value, (set, frozenset)):
        return {"<set>": sorted(fingerprint(item) for item in value)}
    if isinstance(value, Path):
        return {"<path>": str(value)}
    if isinstance(value, bytes):
        return {"<bytes>": hashlib.sha256(value).hexdigest()}
    raise TypeError(type(value).__qualname__)


def _feed(digest: Any, value: Any) -> None:
    if value is None or isinstance(value, (str, int, float, bool, bytes, Path)):
        digest.update(f"{type(value).__name__}:{value!r}\0".encode())
    elif isinstance(value, dict):
        digest.update(b"{")
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[" if isinstance(value, list) else b"(")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(value, (set, frozenset)):
        digest.update(b"<")
        for item in sorted(fingerprint(item) for item in value):
            digest.update(item.encode())
        digest.update(b">")
    elif dataclasses.is_dataclass(value):
        digest.update(f"@{type(value).__qualname__}(".encode())
        for f in dataclasses.fields(value):
            digest.update(f.name.encode() + b"=")
            _feed(digest, getattr(value, f.name))
        digest.update(b")")
    else:
        # Anything else must say what it is in full; a repr with an address would make
        # every key new (a miss, never a stale hit).
        digest.update(f"{type(value).__qualname__}:{value!r}\0".encode())


def files_digest(folder: Path, skip: Iterable[str] = ()) -> str:
    """The names and bytes of every file under ``folder`` but those of its own files
    named in ``skip``."""
    skipped = {folder / name for name in skip}
    digest = hashlib.sha256(b"files\0")
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path not in skipped:
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(*parts: str) -> str:
    """The key made of other keys and digests."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def default_folder(sources_dir: Path) -> Path | None:
    """``$SERGETROTSKY_CACHE_DIR``, else ``.cache/sergetrotsky`` in the repository holding
    ``sources_dir``, else None (no cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    for folder in (sources_dir.resolve(), *sources_dir.resolve().parents):
        if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
            return folder / ".cache" / "sergetrotsky"
    return None


class RecordedVocabulary:
    """The corpus vocabulary as the cleaner reads it, each word looked up recorded with
    its count: a cleaned text stays valid while those counts stay the same."""

    def __init__(self, counts: Any) -> None:
        self.counts = counts
        self.reads: dict[str, int] = {}

    def __getitem__(self, word: str) -> int:
        count = self.counts[word]
        self.reads[word] = count
        return count


class BuildCache:
    """The cache folder: ``get`` and ``put`` entries by stage, source id and key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[Path] = set()
        self.reused: list[tuple[str, str]] = []    # (stage, source id) taken from the cache

    def _path(self, stage: str, source_id: str, entry_key: str) -> Path:
        return self.folder / stage / f"{source_id}.{entry_key}.pickle"

    def entries(self, stage: str, source_id: str) -> list[Path]:
        """The entry files of a source's stage, whatever their key (a build keeps one per
        source and stage: the one it used)."""
        return list((self.folder / stage).glob(f"{source_id}.*.pickle"))

    def get(self, stage: str, source_id: str, entry_key: str) -> Any | None:
        """The entry, or None if it is absent or cannot be read."""
        path = self._path(stage, source_id, entry_key)
        try:
            with path.open("rb") as handle:
                value = pickle.load(handle)
        except Exception:     # absent, truncated, or written by another pickle: a miss
            return None
        self.used.add(path)
        return value

    def put(self, stage: str, source_id: str, entry_key: str, value: Any) -> None:
        """Write an entry atomically (a build that cannot write the cache still builds)."""
        path = self._path(stage, source_id, entry_key)
        try:
            if not self.folder.is_dir():
                self.folder.mkdir(parents=True, exist_ok=True)
                (self.folder / "CACHEDIR.TAG").write_text(TAG, encoding="utf-8")
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".", dir=path.parent)
            with os.fdopen(handle, "wb") as out:
                pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except OSError:
            return
        self.used.add(path)

    def prune(self, source_ids: Iterable[str]) -> None:
        """Remove the entries of these sources this build did not use."""
        ids = set(source_ids)
        if not self.folder.is_dir():
            return
        for stage in self.folder.iterdir():
            if not stage.is_dir():
                continue
            for path in stage.glob("*.pickle"):
                if path.name.split(".", 1)[0] in ids and path not in self.used:
                    path.unlink(missing_ok=True)
