"""A contributor's install: the wheel (built from the sdist, as `make dist` builds it)
installed with its dependencies into a fresh virtual environment, used from a folder outside the
checkout. Nothing of the checkout is importable there: only what the wheel carries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sergetrotsky.cache import CACHE_ENV

pytestmark = pytest.mark.e2e     # `make test-e2e` (pyproject.toml)

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"


@dataclass
class Install:
    wheel: Path
    sdist: Path
    venv: Path
    elsewhere: Path  # an empty folder outside the checkout, the cwd of every command
    # the installed tool's build cache, empty at first: its first build runs every stage
    # (a result read from a cache would not show what the wheel lacks), the next read it
    cache: Path

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a program of the virtual environment from outside the checkout."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env[CACHE_ENV] = str(self.cache)
        done = subprocess.run([str(self.venv / "bin" / str(args[0])), *map(str, args[1:])],
                              cwd=self.elsewhere, env=env, capture_output=True, text=True)
        if check and done.returncode != 0:
            pytest.fail(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done


def setup_step(*command: str | Path) -> None:
    """Run one step of the set-up; on failure, fail with what it printed."""
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")


def installer(python: Path) -> list[str]:
    """The command that installs into the environment of ``python``: uv's ``pip install``
    when the test extra has put uv here (a second or two), else pip's (about ten). Either
    resolves the wheel's dependencies from its metadata, from the package index."""
    try:
        from uv import find_uv_bin
        return [find_uv_bin(), "pip", "install", "--quiet", "--python", str(python)]
    except (ImportError, FileNotFoundError):
        return [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                "--no-compile"]


@pytest.fixture(scope="session")
def install(tmp_path_factory) -> Install:
    """Build the sdist and the wheel from it once per session (as `make dist` does);
    install the wheel with the pandas extra into a new virtual environment.

    The build backend is the one installed with the test extra (no isolated environment
    to download it into), and the new environment gets no pip of its own: the installer
    is run from here (both save seconds, neither changes what is built or installed)."""
    work = tmp_path_factory.mktemp("install")
    packages = work / "packages"
    setup_step(sys.executable, "-m", "build", "--no-isolation", "--outdir",
               packages, ROOT)
    (wheel,) = packages.glob("*.whl")
    (sdist,) = packages.glob("*.tar.gz")
    venv = work / "venv"
    setup_step(sys.executable, "-m", "venv", "--without-pip", venv)
    setup_step(*installer(venv / "bin" / "python"), f"{wheel}[pandas]")
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return Install(wheel=wheel, sdist=sdist, venv=venv, elsewhere=elsewhere,
                   cache=work / "cache")


def test_wheel_carries_the_schemas_and_installs_only_sergetrotsky(install):
    names = set(zipfile.ZipFile(install.wheel).namelist())
    schema_files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "schema").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
    assert {"schema/tables/letters.json", "schema/tei/serge-trotsky.rng",
            "schema/tei/serge-trotsky.sch", "schema/cmif/cmif.sch"} <= schema_files
    assert {f"sergetrotsky/{name}" for name in schema_files} <= names
    module_files = {p.name for p in (ROOT / "pipeline").glob("*.py")}
    assert {f"sergetrotsky/{name}" for name in module_files} <= names
    tops = {name.split("/")[0] for name in names}
    assert tops == {"sergetrotsky", f"{install.wheel.name.split('-py')[0]}.dist-info"}
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(install.wheel).read(top_level).decode().split() == ["sergetrotsky"]


def test_sdist_keeps_the_repository_layout(install):
    with tarfile.open(install.sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"pyproject.toml", "pipeline/cli.py", "pipeline/loader.py",
            "schema/tables/letters.json", "schema/tei/serge-trotsky.rng"} <= names
    assert not any(name.startswith(("tests/", "sources/", "dist/")) for name in names)


def test_validate_from_outside_the_checkout(install):
    done = install.run("sergetrotsky", "validate", DIST)
    assert done.stdout.strip().endswith(f"{DIST}: valid"), done.stdout


def test_build_from_outside_the_checkout_reproduces_dist(install, tmp_path):
    """The installed tool, its cache empty, runs every stage and writes the committed
    dataset."""
    out = tmp_path / "out"
    assert not install.cache.exists()
    install.run("sergetrotsky", "build", "--sources", ROOT / "sources", "--out", out)
    assert list(install.cache.glob("tei/*.pickle"))
    built = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(DIST).as_posix(): p for p in DIST.rglob("*") if p.is_file()}
    assert sorted(built) == sorted(committed)
    differing = [rel for rel in built if built[rel].read_bytes() != committed[rel].read_bytes()]
    assert differing == []


def test_import_name_is_sergetrotsky_only(install):
    done = install.run("python", "-c",
                       "import sys, sergetrotsky, sergetrotsky.cli; "
                       "print(sergetrotsky.__file__); print('pandas' in sys.modules)")
    location, pandas_imported = done.stdout.split()
    assert Path(location).is_relative_to(install.venv)
    assert pandas_imported == "False"  # the CLI and the import do not need the extra
    for name in ("pipeline", "schema"):
        done = install.run("python", "-c", f"import {name}", check=False)
        assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr, name


def test_python_dash_m_sergetrotsky(install):
    done = install.run("python", "-m", "sergetrotsky", "--help")
    for command in ("build", "validate", "release"):
        assert command in done.stdout


LOAD_BOTH = """
import json, sys
import sergetrotsky
from pandas.testing import assert_frame_equal
folder, archive = sergetrotsky.load(sys.argv[1]), sergetrotsky.load(sys.argv[2])
for name, frame in folder.tables.items():
    assert_frame_equal(frame, archive.tables[name])
letter_id = folder.letters.letter_id.iloc[0]
print(json.dumps({
    "dtypes": {c: str(t) for c, t in folder.letters.dtypes.items()},
    "tables": sorted(folder.tables),
    "tei": archive.tei_path(letter_id).read_bytes() == folder.tei_path(letter_id).read_bytes(),
    "text": archive.letter_text(letter_id) == folder.letter_text(letter_id),
}))
"""


def test_load_folder_and_release_zip(install, tmp_path):
    install.run("sergetrotsky", "release", "--sources", ROOT / "sources", "--dataset", DIST,
                "--out", tmp_path)
    (archive,) = tmp_path.glob("*.zip")
    done = install.run("python", "-c", LOAD_BOTH, DIST, archive)
    report = json.loads(done.stdout)
    descriptor = json.loads((DIST / "datapackage.json").read_text(encoding="utf-8"))
    assert report["tables"] == sorted(r["name"] for r in descriptor["resources"]
                                      if r["type"] == "table")
    assert report["dtypes"]["number"] == "Int64"
    assert report["dtypes"]["extract"] == "boolean"
    assert report["dtypes"]["form"] == "category"
    assert report["dtypes"]["date"] == "string"
    assert report["dtypes"]["date_parsed"].startswith("datetime64")
    assert report["tei"] and report["text"]
