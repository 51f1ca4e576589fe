"""Every ```python block of the READMEs runs as written, so that none can go stale.

README.md's blocks name `dist/…` paths: they run from the checkout's root. The
dataset's own README (dist/README.md, written by pipeline/docs.py) is read inside the
dataset folder: its blocks run from dist/. Each block runs alone, in a fresh
interpreter, as a reader would paste it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
READMES = {ROOT / "README.md": ROOT, ROOT / "dist" / "README.md": ROOT / "dist"}
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(readme: Path) -> list[str]:
    return BLOCK.findall(readme.read_text(encoding="utf-8"))


CASES = [pytest.param(readme, cwd, n, block, id=f"{readme.relative_to(ROOT)}-block{n + 1}")
         for readme, cwd in READMES.items()
         for n, block in enumerate(python_blocks(readme))]


@pytest.mark.e2e     # `make test-e2e` (pyproject.toml)
@pytest.mark.parametrize(("readme", "cwd", "n", "block"), CASES)
def test_python_block_runs(readme, cwd, n, block):
    done = subprocess.run([sys.executable, "-c", block], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"{readme.name} block {n + 1} failed:\n{done.stderr}"
    assert "Warning" not in done.stderr, done.stderr


@pytest.mark.parametrize("readme", list(READMES), ids=lambda p: str(p.relative_to(ROOT)))
def test_readme_shows_the_loader(readme):
    # The blocks above only guard what is there: both READMEs must show the loader.
    assert any("sergetrotsky.load(" in block for block in python_blocks(readme))


def test_ci_runs_the_readme_test_command_and_the_end_to_end_tests():
    """`make test` leaves the e2e tests out (pyproject.toml's marker); CI runs it and
    `make test-e2e`, so that every test runs there."""
    commands = [line.split() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert ["make", "test"] in [c[-2:] for c in commands]
    assert ["make", "test-e2e"] in [c[-2:] for c in commands]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert '$(PYTEST) -m "not e2e"' in makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "$(PYTEST) -m e2e" in makefile.split("\ntest-e2e:", 1)[1].split("\n\n", 1)[0]
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")
