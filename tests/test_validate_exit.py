"""The ``sergetrotsky`` script ends ``validate`` with os._exit once its report is written,
keeping a large file's tree rather than freeing it (``cli.run``, ``cli._leave``). Its output
and exit code are those of ``python -m sergetrotsky`` (which ends as usual), on a valid and
on a broken large file, as text and as JSON, to a pipe and to a file; a call in the same
process (Click's runner, a library call) keeps no tree and exits as usual.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sergetrotsky import cli, validate

SCRIPT = Path(sys.executable).parent / "sergetrotsky"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "validate" / "dataset" / "tei" / "mini.xml"
BROKEN = ('<div type="chapter"', '<div type="pamphlet"')


def _large(folder: Path, broken: bool) -> Path:
    """The fixture, broken or not, made large (a comment after its root) so that validate
    checks it as a large file."""
    text = FIXTURE.read_text(encoding="utf-8")
    assert BROKEN[0] in text
    if broken:
        text = text.replace(*BROKEN, 1)
    path = folder / ("broken.xml" if broken else "valid.xml")
    path.write_text(text + "<!-- " + "x" * validate.CONCURRENT_RNG_BYTES + " -->\n",
                    encoding="utf-8")
    return path


@pytest.mark.e2e     # the script as a program: `make test-e2e` (pyproject.toml)
@pytest.mark.parametrize("broken", [False, True])
@pytest.mark.parametrize("options", [[], ["--format", "json"]])
def test_the_script_writes_what_python_m_writes(tmp_path, broken, options):
    path = _large(tmp_path, broken)
    script = subprocess.run([str(SCRIPT), "validate", *options, str(path)],
                            capture_output=True, text=True)
    module = subprocess.run([sys.executable, "-m", "sergetrotsky", "validate", *options,
                             str(path)], capture_output=True, text=True)
    assert (script.returncode, script.stdout, script.stderr) == \
        (module.returncode, module.stdout, module.stderr)
    assert script.returncode == (1 if broken else 0)
    assert ("E040" in script.stdout) == broken
    if not options:
        assert script.stdout.rstrip("\n").splitlines()[-1].startswith(f"{path}: ")


@pytest.mark.e2e     # the script as a program: `make test-e2e` (pyproject.toml)
def test_the_script_writes_it_all_to_a_file(tmp_path):
    path = _large(tmp_path, broken=True)
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        done = subprocess.run([str(SCRIPT), "validate", "--max-errors", "0", str(path)],
                              stdout=handle, stderr=subprocess.PIPE, text=True)
    module = subprocess.run([sys.executable, "-m", "sergetrotsky", "validate", "--max-errors",
                             "0", str(path)], capture_output=True, text=True)
    assert done.returncode == 1 and not done.stderr
    assert out.read_text() == module.stdout and "E040" in module.stdout


def test_in_the_same_process_nothing_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "large_trees_kept", None)
    path = _large(tmp_path, broken=True)
    result = CliRunner().invoke(cli.main, ["validate", str(path)])
    assert result.exit_code == 1 and "E040" in result.output
    assert validate.large_trees_kept is None and not cli._LEAVE_AT_ONCE
    assert validate.validate_paths([path])
    assert validate.large_trees_kept is None


def test_one_large_tree_is_kept_at_a_time(tmp_path, monkeypatch):
    """In the console script, a folder of large files holds one tree at a time."""
    kept: list = []
    monkeypatch.setattr(validate, "large_trees_kept", kept)
    _large(tmp_path, broken=False)
    _large(tmp_path, broken=True)
    problems = validate.validate_paths([tmp_path])
    assert {p.file for p in problems if p.code == "E040"} == {str(tmp_path / "broken.xml")}
    assert len(kept) == 1 and kept[0].getroot().tag.endswith("TEI")
