"""Load sources: each folder under ``sources/`` is one source, its name the source id.

A folder holds the original file, byte for byte as received, and ``source.toml``
with the bibliographic record and every editorial decision the pipeline needs.
Nothing about a particular source lives in code.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PipelineError

KINDS = ("book", "article", "review", "letter", "letters")
ORIGINS = ("web page", "ebook", "PDF extract", "manuscript", "typescript")
SOURCE_ID = re.compile(r"^[a-z][a-z0-9-]*$")
ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
REQUIRED = ("title", "kind", "origin", "language", "rights")


@dataclass(frozen=True)
class Source:
    """One source: its id, its original text and its metadata as written in TOML."""

    source_id: str
    folder: Path
    original_file: str
    original_bytes: bytes
    bibliographic: dict[str, Any]
    clean: dict[str, Any]
    segment: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def original(self) -> str:
        """The original text, decoded (validated as UTF-8 when loaded)."""
        return self.original_bytes.decode("utf-8")

    @property
    def sha256(self) -> str:
        """Checksum of the original file: the record of provenance."""
        return hashlib.sha256(self.original_bytes).hexdigest()

    @property
    def metadata_path(self) -> Path:
        return self.folder / "source.toml"

    @property
    def outline_path(self) -> Path:
        """Where the segmentation outline is written: segment.toml, else source.toml."""
        separate = self.folder / "segment.toml"
        return separate if separate.is_file() else self.metadata_path


def _fail(source_toml: Path, message: str, field_name: str = "") -> PipelineError:
    return PipelineError(message, file=str(source_toml), field=field_name)


def toml_error(path: Path, exc: tomllib.TOMLDecodeError) -> PipelineError:
    """A TOML syntax error located at its line (tomllib puts it only in the message)."""
    found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
    if found:
        return PipelineError(f"invalid TOML: {message} (column {found.group(2)})", file=str(path),
                             line=int(found.group(1)))
    return PipelineError(f"invalid TOML: {message}", file=str(path))


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; encoding and syntax errors become located PipelineErrors."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PipelineError(f"not UTF-8 ({exc.reason} at byte {exc.start})",
                            file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(path, exc) from None


def load_source(folder: Path) -> Source:
    """Read one source folder; raise a located PipelineError if anything is wrong."""
    source_id = folder.name
    meta_path = folder / "source.toml"
    if not SOURCE_ID.match(source_id):
        raise PipelineError(
            f"folder name {source_id!r} is not a valid source id (lowercase letters, digits, '-')",
            file=str(folder),
        )
    if not meta_path.is_file():
        raise PipelineError("missing source.toml", file=str(folder))
    meta = read_toml(meta_path)

    original_file = meta.get("original")
    if not isinstance(original_file, str) or not original_file:
        raise _fail(meta_path, "must name the original file", "original")
    original_path = folder / original_file
    if not original_path.is_file():
        raise _fail(meta_path, f"original file {original_file!r} not found", "original")
    data = original_path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PipelineError(
            f"original is not UTF-8 ({exc.reason} at byte {exc.start})", file=str(original_path)
        ) from None

    bib = meta.get("bibliographic")
    if not isinstance(bib, dict):
        raise _fail(meta_path, "missing [bibliographic] table", "bibliographic")
    for name in REQUIRED:
        if not bib.get(name):
            raise _fail(meta_path, "required field is missing or empty", f"bibliographic.{name}")
    if bib["kind"] not in KINDS:
        raise _fail(meta_path, f"must be one of {', '.join(KINDS)}", "bibliographic.kind")
    if bib["origin"] not in ORIGINS:
        raise _fail(meta_path, f"must be one of {', '.join(ORIGINS)}", "bibliographic.origin")
    if bib.get("date") and not ISO_DATE.match(str(bib["date"])):
        raise _fail(meta_path, "must be an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)",
                    "bibliographic.date")
    clean = meta.get("clean", {})
    if not isinstance(clean, dict):
        raise _fail(meta_path, "must be a table", "clean")
    segment = meta.get("segment", {})
    outline_path = folder / "segment.toml"
    if outline_path.is_file():
        # The outline may live in its own file, to keep source.toml short.
        if segment:
            raise _fail(meta_path, "[segment] given both here and in segment.toml", "segment")
        segment = read_toml(outline_path).get("segment", {})
    known = {"original", "bibliographic", "clean", "segment"}
    return Source(
        source_id=source_id,
        folder=folder,
        original_file=original_file,
        original_bytes=data,
        bibliographic=bib,
        clean=clean,
        segment=segment,
        extra={k: v for k, v in meta.items() if k not in known},
    )


def discover(sources_dir: Path) -> list[Source]:
    """Load every source folder under ``sources_dir``, sorted by source id."""
    if not sources_dir.is_dir():
        raise PipelineError("sources folder not found", file=str(sources_dir))
    # Folders starting with '_' hold shared authority files (persons, places), not sources.
    folders = sorted(p for p in sources_dir.iterdir()
                     if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise PipelineError("no source folders found", file=str(sources_dir))
    return [load_source(p) for p in folders]


def find(sources: list[Source], source_id: str) -> Source:
    """Return the source with this id, or a PipelineError listing the known ids."""
    for source in sources:
        if source.source_id == source_id:
            return source
    known = ", ".join(s.source_id for s in sources)
    raise PipelineError(f"unknown source {source_id!r} (known: {known})")
