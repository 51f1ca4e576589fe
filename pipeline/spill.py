"""Each source's bulky results kept on disk during a build, so that the build's memory
does not grow with the corpus (issue 18).

A source's original and outline, its cleaned text, unit tree, notes, letters and mentions,
and its share of the large tables are written to a temporary folder (``Spill``) as soon
as they are made, and read back when a step asks for them: the build
holds one source's at a time (``Spill`` keeps the last source read), plus the small
corpus-wide results (registers, counts). The folder is made beside the build's staging
folder (or in the system's temporary folder, ``TMPDIR``) and removed when the build
ends, however it ends (a SIGKILL aside: the next build into the same output removes it).
"""

from __future__ import annotations

import contextlib
import pickle
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload


class _Spilled:
    def __repr__(self) -> str:
        return "SPILLED"

    def __reduce__(self) -> str:
        return "SPILLED"


# The value a spilled field holds in memory: "read it from the spill".
SPILLED: Any = _Spilled()


class Spill:
    """A folder of pickles, one per (source id, field); the fields of one source (the
    last one read) are kept in memory, so that a step reading several fields of a source
    reads each once. Picklable (a worker process writes its sources' fields itself)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._resident_id: str | None = None
        self._resident: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": self.folder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["folder"])  # type: ignore[misc]

    def _path(self, source_id: str, name: str) -> Path:
        return self.folder / f"{source_id}.{name}.pickle"

    def save(self, source_id: str, name: str, value: Any) -> None:
        """Write one field of a source (not kept in memory)."""
        with self._path(source_id, name).open("wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        if source_id == self._resident_id:
            self._resident.pop(name, None)

    def load(self, source_id: str, name: str) -> Any:
        """One field of a source, read back (the previous source's are let go)."""
        if source_id != self._resident_id:
            self._resident_id, self._resident = source_id, {}
        if name not in self._resident:
            with self._path(source_id, name).open("rb") as handle:
                self._resident[name] = pickle.load(handle)
        return self._resident[name]

    def read(self, source_id: str, name: str) -> Any:
        """One field of a source, read back and not kept (rows read once in a pass)."""
        if source_id == self._resident_id and name in self._resident:
            return self._resident[name]
        with self._path(source_id, name).open("rb") as handle:
            return pickle.load(handle)

    def release(self) -> None:
        """Let the source kept in memory go."""
        self._resident_id, self._resident = None, {}


class OnDisk:
    """A dataclass field kept in a ``Spill`` once its object has one (its ``spill``
    attribute): setting it writes the value there, reading it reads it back. Without a
    spill it is a plain field. No default (unless ``default`` is given: an immutable
    value)."""

    def __init__(self, *default: Any) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            if self.default:
                return self.default[0]
            raise AttributeError(self.name)     # a dataclass field without a default
        value = obj.__dict__[self.name]
        if value is SPILLED:
            return obj.spill.load(obj.source_id, self.name)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        spill = obj.__dict__.get("spill")
        if spill is not None and value is not SPILLED:
            spill.save(obj.source_id, self.name, value)
            value = SPILLED
        obj.__dict__[self.name] = value


class Fields(Mapping[str, Any]):
    """One field of each of ``builds`` by source id, read when asked for (never all held
    at once: a step that walks it holds one source's at a time)."""

    def __init__(self, builds: Sequence[Any], name: str) -> None:
        self._builds = {b.source_id: b for b in builds}
        self._name = name

    def __getitem__(self, source_id: str) -> Any:
        return getattr(self._builds[source_id], self._name)

    def __contains__(self, source_id: object) -> bool:     # without reading the field
        return source_id in self._builds

    def __iter__(self) -> Iterator[str]:
        return iter(self._builds)

    def __len__(self) -> int:
        return len(self._builds)


class Parts(Sequence[Any]):
    """A table's rows, part by part (each source's): kept in a ``Spill`` under ``name``
    and read back each time they are iterated, so that only their count is held;
    without a spill, the parts are held."""

    def __init__(self, spill: Spill | None, name: str) -> None:
        self._spill, self._name = spill, name
        # source id -> its rows, in the order added (None: the rows are in the spill)
        self._parts: dict[str, list[Any] | None] = {}
        self._count = 0

    def add(self, source_id: str, rows: list[Any]) -> None:
        """The next part: a source's rows."""
        self._count += len(rows)
        if self._spill is not None:
            self._spill.save(source_id, self._name, rows)
        self._parts[source_id] = rows if self._spill is None else None

    def __len__(self) -> int:
        return self._count

    def part(self, source_id: str) -> list[Any]:
        """One source's rows."""
        held = self._parts[source_id]
        if held is not None:
            return held
        assert self._spill is not None
        rows: list[Any] = self._spill.read(source_id, self._name)
        return rows

    def __iter__(self) -> Iterator[Any]:
        for source_id in self._parts:
            yield from self.part(source_id)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return list(self)[index]


@contextlib.contextmanager
def spill_folder(beside: Path | None = None) -> Iterator[Spill]:
    """A temporary ``Spill`` for one build (``with spill_folder() as spill``): in the
    system's temporary folder, or beside ``beside`` (the build's staging folder) and
    named after it, so that the output folder's clean-up removes what a killed build
    left (publish.OutputFolder.remove_leftovers)."""
    prefix, where = ("sergetrotsky-build-", None) if beside is None \
        else (f"{beside.name}-spill-", beside.parent)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=where,
                                     ignore_cleanup_errors=True) as folder:
        yield Spill(Path(folder))

