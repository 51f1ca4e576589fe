"""`build --jobs N`: the per-source stages in N processes give the same dataset, the same
progress steps and the same errors as one process. Nothing here is timed."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from sergetrotsky import build
from sergetrotsky.cli import main
from sergetrotsky.errors import PipelineError

from .conftest import SOURCES


def test_two_jobs_give_the_same_bytes_and_steps_as_one(built, build_steps):
    """The session's build (one process) against a build in two."""
    steps: list[str] = []
    two = build.assemble(SOURCES, steps.append, jobs=2)
    assert built.files == two.files
    assert built.summary == two.summary
    assert build_steps == steps == ["clean", "segment", "notes", "letters", "package", "tei"]


def test_an_error_in_a_worker_is_the_error_of_a_one_process_build(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    outline = sources / "nelson" / "segment.toml"
    text = outline.read_text(encoding="utf-8")
    heading = text.split('heading = "', 1)[1].split('"', 1)[0]
    outline.write_text(text.replace(f'heading = "{heading}"', 'heading = "No such heading"', 1),
                       encoding="utf-8")
    errors = []
    for jobs in (1, 2):
        with pytest.raises(PipelineError) as caught:
            build.assemble(sources, jobs=jobs)
        errors.append(caught.value)
    assert str(errors[0]) == str(errors[1])
    assert errors[0].file == errors[1].file == str(outline)


@pytest.mark.usefixtures("build_cache")     # the CLI builds the sources from the run's cache
def test_cli_build_takes_jobs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["build", "--sources", str(SOURCES), "--out",
                                  str(tmp_path / "dist"), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["build", "--sources", str(SOURCES), "--jobs", "0"])
    assert result.exit_code == 2
