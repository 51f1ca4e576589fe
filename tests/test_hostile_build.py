"""Hostile inputs to `sergetrotsky build`, one folder each under tests/hostile/build/.

Each ``case.toml`` says how to damage a copy of ``sources/`` (or what to put where the
dataset would go) and which coded line the build must print. A contributor adds a case
without writing Python:

```toml
description = "what the case is"
code = "E103"                      # the code the build must report (docs/validation-codes.md)
file = "review/source.toml"        # the file it must name (relative to the sources copy)
line_of = 'hard_wrapped = "no"'    # ... at the line holding this text (or: line = 12)
message = "must be true or false"  # optional: words the message must contain
out = "dist"                       # optional --out, relative to a scratch folder;
                                   # "{sources}" is the sources copy

[[edit]]                           # replace text (it must occur) in a file of the copy
file = "review/source.toml"
replace = "hard_wrapped = true"
with = 'hard_wrapped = "no"'
```

Other mutations: ``[[append]]`` (file, text), ``[[write]]`` (file, text), ``[[delete]]``
(file), ``[[symlink]]`` (file, target), and ``[[out_write]]`` (file, text: a file in the
scratch folder, before the build). Files under a ``sources/`` folder beside ``case.toml``
replace (or add to) those of the copy, path for path, before the mutations. Every case must
exit 1 with no traceback, and leave
every file, in the sources copy and the scratch folder, as it was.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from sergetrotsky.cli import main
from sergetrotsky.errors import BUILD_CODES

from .conftest import SOURCES

CASES = sorted((Path(__file__).parent / "hostile" / "build").glob("*/case.toml"))


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder`` (a symlink as its target), lock files aside: taking
    the output folder's lock creates one, and it is all a refused build may leave."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.name.endswith(".lock"):
            continue
        if path.is_symlink():
            found[rel] = f"-> {path.readlink()}"
        elif path.is_file():
            found[rel] = path.read_bytes()
        else:
            found[rel] = "dir"
    return found


def _damage(case: dict, sources: Path, scratch: Path, replacements: Path) -> None:
    if replacements.is_dir():
        shutil.copytree(replacements, sources, dirs_exist_ok=True)
    for edit in case.get("edit", []):
        path = sources / edit["file"]
        text = path.read_text(encoding="utf-8")
        assert edit["replace"] in text, f"{edit['file']} does not contain {edit['replace']!r}"
        path.write_text(text.replace(edit["replace"], edit["with"], 1), encoding="utf-8")
    for append in case.get("append", []):
        with (sources / append["file"]).open("a", encoding="utf-8") as f:
            f.write(append["text"])
    for write in case.get("write", []):
        (sources / write["file"]).parent.mkdir(parents=True, exist_ok=True)
        (sources / write["file"]).write_text(write["text"], encoding="utf-8")
    for delete in case.get("delete", []):
        (sources / delete["file"]).unlink()
    for link in case.get("symlink", []):
        (sources / link["file"]).symlink_to(link["target"])
    for write in case.get("out_write", []):
        (scratch / write["file"]).parent.mkdir(parents=True, exist_ok=True)
        (scratch / write["file"]).write_text(write["text"], encoding="utf-8")


def test_there_are_cases_and_each_names_a_known_code():
    assert CASES
    for case_file in CASES:
        case = tomllib.loads(case_file.read_text(encoding="utf-8"))
        assert case["code"] in BUILD_CODES, case_file
        assert case.get("description"), case_file


@pytest.mark.parametrize("case_file", CASES, ids=lambda p: p.parent.name)
def test_hostile_build_case(case_file, tmp_path, build_cache):
    # build_cache: the sources the case leaves alone are taken from the run's cache, as a
    # contributor's build takes them from theirs; the damaged ones are built again.
    case = tomllib.loads(case_file.read_text(encoding="utf-8"))
    sources, scratch = tmp_path / "sources", tmp_path / "scratch"
    shutil.copytree(SOURCES, sources, symlinks=True)
    scratch.mkdir()
    _damage(case, sources, scratch, case_file.parent / "sources")
    out = case.get("out", "dist").replace("{sources}", str(sources))
    out_path = Path(out) if Path(out).is_absolute() else scratch / out
    before = _snapshot(tmp_path)

    result = CliRunner().invoke(main, ["build", "--sources", str(sources), "--out",
                                       str(out_path), "--jobs", "1"])

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    code = case["code"]
    mine = [line for line in errors if line.startswith(f"error: {code} ")]
    assert mine, f"{code} not reported; got:\n{result.output}"
    if "file" in case:
        named = sources / case["file"]
        where = str(named)
        if "line_of" in case:
            lines = named.read_text(encoding="utf-8").splitlines()
            where += f":{next(i for i, line in enumerate(lines, 1) if case['line_of'] in line)}"
        elif "line" in case:
            where += f":{case['line']}"
        assert any(line.startswith(f"error: {code} {where}") for line in mine), \
            f"expected at {where}:\n{result.output}"
    else:
        assert any(line.startswith(f"error: {code} {out_path}") for line in mine), result.output
    if "message" in case:
        assert any(case["message"] in line for line in mine), result.output
    # Nothing was written or changed: not the sources, not the scratch folder.
    assert _snapshot(tmp_path) == before
