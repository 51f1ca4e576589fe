"""Writing and releasing the dataset: the output folder, written atomically.

The build (pipeline/build.py) makes the dataset's files; this module writes them to a
temporary folder beside the target and swaps it in only when everything succeeded: a
failed build leaves the previous dataset untouched. The output folder is guarded by
``OutputFolder``: see its docstring. ``differences`` compares a build with a dataset
folder (``build --check``); ``release`` zips one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; builds into one folder are then not serialised
    fcntl = None  # type: ignore[assignment]

from .errors import PipelineError

# --- the output folder ------------------------------------------------------------------------

# What the build puts in every dataset it writes, and how it recognises one it may replace:
# a file of its own (not datapackage.json, which any Frictionless package has). It is one of
# the dataset's files, so `build --check` and the committed dist/ include it.
MARKER = ".sergetrotsky-build"
MARKER_TEXT = ("This folder is the output of `sergetrotsky build`, which replaces it whole.\n"
               "Keep nothing else here: the next build removes it.\n")
# Test hook: SIGKILL this process at a named step of the swap (see tests/test_publish.py).
CRASH_AT = "SERGETROTSKY_CRASH_AT"


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_AT) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def repository_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding pyproject.toml or .git."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
            return folder
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputFolder:
    """The folder ``build`` writes, guarded (use as a context manager, then ``write``).

    - Only a folder that is absent, empty, or holds ``MARKER`` (a dataset this tool wrote)
      is written; a file, or a folder with anything else, is refused (E500, E501) and left
      untouched. It may not be, hold or lie inside the sources folder, nor be or hold the
      repository (E502).
    - An exclusive lock (``.<name>.lock`` beside it, flock) makes a second build into the
      same folder stop with E503 instead of colliding.
    - The new dataset is written to ``.<name>.new-*`` beside it and swapped in: on Linux by
      one atomic exchange of the two folders (the target is never missing); elsewhere, or
      where the filesystem cannot exchange, by two renames through ``.<name>.old``. A build
      killed between those renames leaves the old dataset as ``.<name>.old``; the next
      build puts it back first (W500). Leftovers of killed builds are removed.
    - Folders get the umask's permissions (not mkdtemp's 0700).
    """

    def __init__(self, out_dir: Path, sources_dir: Path | None = None,
                 notice: Callable[[PipelineError], None] = lambda warning: None) -> None:
        self.requested = out_dir
        self.target = Path(os.path.abspath(out_dir))
        if self.target.is_symlink():
            self.target = self.target.resolve()
        self.sources_dir = sources_dir
        self.notice = notice
        self.backup = self.target.parent / f".{self.target.name}.old"
        self._lock_fd: int | None = None
        self._staged: StagedFiles | None = None

    # -- checks -----------------------------------------------------------------------------

    def _refuse(self, code: str, message: str) -> PipelineError:
        return PipelineError(message, file=str(self.requested), code=code)

    def check_place(self) -> None:
        """E502 unless the folder keeps clear of the sources folder and the repository."""
        target = self.target.resolve()
        roots = {repository_root(Path.cwd().resolve())}
        if self.sources_dir is not None:
            roots.add(repository_root(self.sources_dir.resolve()))
        for root in sorted(filter(None, roots)):
            if root.is_relative_to(target):
                raise self._refuse("E502", f"is or holds the repository {root}; "
                                           "choose another --out (the default is dist)")
        if self.sources_dir is not None:
            sources = self.sources_dir.resolve()
            if target.is_relative_to(sources) or sources.is_relative_to(target):
                raise self._refuse("E502", f"is, holds or lies inside the sources folder "
                                           f"{self.sources_dir}; choose another --out")

    def check_contents(self) -> None:
        """E500/E501 unless the folder is absent, empty, or a dataset this tool wrote."""
        target = self.target
        if target.exists() or target.is_symlink():
            if not target.is_dir():
                raise self._refuse("E500", "is an existing file, not a folder; choose a folder "
                                           "(it is left untouched)")
            marker = target / MARKER
            try:
                with os.scandir(target) as listing:
                    entries = next(listing, None)
            except OSError as exc:
                raise self._refuse("E504", f"cannot be read: {exc.strerror}") from None
            if entries is not None and not (marker.is_file() and not marker.is_symlink()):
                raise self._refuse("E501", f"holds files this tool did not write (no {MARKER}); "
                                           "choose a new or empty folder (nothing was touched; "
                                           "a dataset built before this check existed must be "
                                           "removed once by hand)")

    # -- lock, repair, leftovers ------------------------------------------------------------

    def __enter__(self) -> OutputFolder:
        self.check_place()
        if not self.backup.is_dir():  # a half-finished swap is repaired under the lock
            self.check_contents()
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.target.parent / f".{self.target.name}.lock"
            self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror}") from None
        try:
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise self._refuse("E503", "another build is writing this folder (it holds "
                                       f"{lock_path.name}); wait for it to finish") from None
        try:
            self.repair()
            self.check_contents()
            self.remove_leftovers()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._staged is not None:      # a build that stopped before its commit
            shutil.rmtree(self._staged.folder, ignore_errors=True)
            self._staged = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock
            self._lock_fd = None

    def repair(self) -> bool:
        """Put back the old dataset a build killed mid-swap left aside; True if it did."""
        if self.backup.is_dir() and not (self.target.exists() or self.target.is_symlink()):
            self.backup.rename(self.target)
            self.notice(PipelineError(f"a build was killed while replacing this folder; the "
                                      f"previous dataset was put back from {self.backup.name}",
                                      file=str(self.requested), code="W500"))
            return True
        return False

    def remove_leftovers(self) -> None:
        """Remove the temporary folders of killed builds (named by this class, beside the
        target): ``.<name>.new-*``, ``.<name>.old`` (once the target exists)."""
        parent, name = self.target.parent, self.target.name
        for entry in parent.iterdir():
            ours = entry.name.startswith((f".{name}.new-", f".{name}.old-")) \
                or entry.name == f".{name}.old"
            if ours and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)

    # -- writing ----------------------------------------------------------------------------

    def write(self, files: dict[str, bytes]) -> None:
        """Write ``files`` to a new folder and swap it in for the target."""
        if self._lock_fd is None:
            raise RuntimeError("OutputFolder.write outside its `with` block")
        staging: Path | None = None
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.new-",
                                            dir=self.target.parent))
            staging.chmod(0o777 & ~_umask())
            staged = StagedFiles(staging, self._refuse, self._previous())
            for rel, data in sorted(files.items()):
                staged[rel] = data
            _crash_point("staged")
            self._swap(staging)
            staging = None
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def stage(self) -> StagedFiles:
        """A new staging folder beside the target, as a mapping that writes each file as
        it is given (``assemble(files=...)``); ``commit`` swaps it in. Left uncommitted,
        it is removed when the ``with`` block ends."""
        if self._lock_fd is None:
            raise RuntimeError("OutputFolder.stage outside its `with` block")
        try:
            folder = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.new-",
                                           dir=self.target.parent))
            folder.chmod(0o777 & ~_umask())
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        self._staged = StagedFiles(folder, self._refuse, self._previous())
        return self._staged

    def _previous(self) -> Path | None:
        """The dataset being replaced (checked to be this tool's), whose unchanged files
        the new one links to instead of writing them again."""
        target = self.target
        return target if target.is_dir() and (target / MARKER).is_file() else None

    def commit(self, staged: StagedFiles) -> None:
        """Swap a staging folder from ``stage`` in for the target."""
        try:
            _crash_point("staged")
            self._swap(staged.folder)
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        self._staged = None

    def _swap(self, staging: Path) -> None:
        if not self.target.exists():
            staging.rename(self.target)
            return
        if _exchange(staging, self.target):
            _crash_point("exchanged")
            shutil.rmtree(staging)  # now the old dataset
            return
        self.target.rename(self.backup)
        _crash_point("old-moved")
        staging.rename(self.target)
        _crash_point("new-moved")
        shutil.rmtree(self.backup)


class StagedFiles(MutableMapping[str, bytes]):
    """The dataset's files in a staging folder: each file is written when it is set
    (memory does not hold the dataset) and read back when it is asked for (the
    descriptor's hashes); the names are kept."""

    def __init__(self, folder: Path, refuse: Callable[[str, str], PipelineError],
                 previous: Path | None = None) -> None:
        self.folder = folder
        self._refuse = refuse
        self._names: set[str] = set()
        self._folders: set[Path] = {folder}     # made already: no mkdir per file
        self._previous = previous
        self._mode = 0o666 & ~_umask()

    def __setitem__(self, rel: str, data: bytes) -> None:
        def write(path: Path) -> None:
            if not self._link_unchanged(rel, data, path):
                path.write_bytes(data)
        self._write(rel, write)

    def write_chunks(self, rel: str, chunks: Iterable[bytes]) -> None:
        """Write a file from its parts as they are made (a large table is never held
        whole); the result is the file ``self[rel] = b"".join(chunks)`` writes."""
        def write(path: Path) -> None:
            with path.open("wb") as out:
                out.writelines(chunks)
        self._write(rel, write)

    def _write(self, rel: str, write: Callable[[Path], None]) -> None:
        """``write`` the file ``rel`` in the folder, its folders made first (E504: it
        cannot be written)."""
        path = self.folder / rel
        try:
            if path.parent not in self._folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._folders.add(path.parent)
            write(path)
        except OSError as exc:
            raise self._refuse("E504", f"cannot be written: {exc.strerror or exc}") from None
        self._names.add(rel)

    def _link_unchanged(self, rel: str, data: bytes, path: Path) -> bool:
        """Link ``path`` to the previous dataset's file when that holds these very bytes:
        on some filesystems making a new file costs far more than a link (0.27 s against
        0.02 s of system time for the 333 files of the five sources' dataset). Only a
        plain file of this tool's mode and no other link is taken (its bytes compared),
        so the new dataset shares nothing with anything but the dataset it replaces,
        which is deleted after the swap; where linking fails, the file is written."""
        if self._previous is None:
            return False
        old = self._previous / rel
        try:
            facts = old.lstat()
            if not stat.S_ISREG(facts.st_mode) or facts.st_nlink != 1 \
                    or stat.S_IMODE(facts.st_mode) != self._mode \
                    or facts.st_size != len(data) or old.read_bytes() != data:
                return False
            os.link(old, path)
        except OSError:
            return False
        return True

    def __getitem__(self, rel: str) -> bytes:
        if rel not in self._names:
            raise KeyError(rel)
        return (self.folder / rel).read_bytes()

    def facts(self, rel: str) -> dict[str, Any]:
        """A file's ``hash`` and ``bytes`` as a Data Package resource records them, read
        in parts (``package.file_facts`` of its bytes)."""
        if rel not in self._names:
            raise KeyError(rel)
        digest, size = hashlib.sha256(), 0
        with (self.folder / rel).open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return {"hash": "sha256:" + digest.hexdigest(), "bytes": size}

    def __delitem__(self, rel: str) -> None:
        self._names.remove(rel)
        (self.folder / rel).unlink()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, rel: object) -> bool:
        return rel in self._names


RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where
    the system or filesystem cannot, so the caller falls back to two renames."""
    if sys.platform != "linux" or os.environ.get("SERGETROTSKY_NO_EXCHANGE"):
        return False
    import ctypes

    try:    # the process's own symbols hold libc's (no ctypes.util, which starts ldconfig)
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def write_chunks(files: MutableMapping[str, bytes], rel: str, chunks: Iterable[bytes]) -> None:
    """A file made in parts written to ``files``: streamed into a staging folder
    (``StagedFiles.write_chunks``), else joined."""
    if isinstance(files, StagedFiles):
        files.write_chunks(rel, chunks)
    else:
        files[rel] = b"".join(chunks)


def write_atomically(files: dict[str, bytes], out_dir: Path, sources_dir: Path | None = None,
                     notice: Callable[[PipelineError], None] = lambda warning: None) -> None:
    """Write the dataset to a temporary folder, then swap it in for ``out_dir`` (guarded:
    see ``OutputFolder``)."""
    with OutputFolder(out_dir, sources_dir, notice) as out:
        out.write(files)


def differences(files: Mapping[str, bytes], out_dir: Path) -> list[str]:
    """Files that differ between a fresh build and an existing dataset folder."""
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()} \
        if out_dir.is_dir() else set()
    changed = [f"missing: {rel}" for rel in sorted(set(files) - present)]
    changed += [f"not built: {rel}" for rel in sorted(present - set(files))]
    changed += [f"differs: {rel}" for rel in sorted(set(files) & present)
                if (out_dir / rel).read_bytes() != files[rel]]
    return changed


def release(dataset_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """A versioned zip of a dataset folder, the same as a SQLite file, and SHA256SUMS.

    The zip is reproducible: entries sorted, timestamps set to the release date.
    The dataset must be the output of the current build (checked by the caller).
    """
    import zipfile

    descriptor_path = dataset_dir / "datapackage.json"
    if not descriptor_path.is_file():
        raise PipelineError("not a dataset folder (no datapackage.json)", file=str(dataset_dir),
                            code="E505")
    descriptor = json.loads(descriptor_path.read_text(encoding="utf-8"))
    name, version = descriptor["name"], descriptor["version"]
    year, month, day = (int(x) for x in descriptor["created"][:10].split("-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{name}-{version}.zip"
    files = sorted(p for p in dataset_dir.rglob("*") if p.is_file())
    sums = []
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            rel = path.relative_to(dataset_dir).as_posix()
            info = zipfile.ZipInfo(f"{name}-{version}/{rel}", date_time=(year, month, day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = path.read_bytes()
            zf.writestr(info, data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}-{version}/{rel}")
    sums.append(f"{hashlib.sha256(archive.read_bytes()).hexdigest()}  {archive.name}")
    from .sqlite import write_database  # the same dataset as one SQLite file
    database = out_dir / f"{name}-{version}.sqlite"
    write_database(dataset_dir, database)
    sums.append(f"{hashlib.sha256(database.read_bytes()).hexdigest()}  {database.name}")
    checksums = out_dir / "SHA256SUMS"
    checksums.write_text("\n".join(sums) + "\n", encoding="utf-8")
    return archive, checksums
