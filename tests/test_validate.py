"""`sergetrotsky validate` on a dataset folder: the real dataset passes; one broken
copy per error code fails with that code, located."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.validate import CODES, validate_dataset


def _copy(dist, tmp_path):
    target = tmp_path / "dataset"
    shutil.copytree(dist, target)
    return target


def test_published_dataset_is_valid(dist):
    assert validate_dataset(dist) == []
    result = CliRunner().invoke(main, ["validate", str(dist)])
    assert result.exit_code == 0 and result.output.endswith(": valid\n")


def test_e001_not_a_dataset(tmp_path):
    [problem] = validate_dataset(tmp_path)
    assert problem.code == "E001"


def test_e002_descriptor_not_json(dist, tmp_path):
    folder = _copy(dist, tmp_path)
    (folder / "datapackage.json").write_text("{not json")
    [problem] = validate_dataset(folder)
    assert problem.code == "E002" and problem.file.endswith("datapackage.json")


def test_e010_schema_violation_is_located(dist, tmp_path):
    folder = _copy(dist, tmp_path)
    table = folder / "data" / "documents.csv"
    lines = table.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace(",introduction,", ",pamphlet,", 1)
    assert ",pamphlet," in lines[2]
    table.write_text("".join(lines), encoding="utf-8")
    problems = validate_dataset(folder)
    assert {p.code for p in problems} == {"E010"}
    assert any(p.row == 3 and p.field == "type" for p in problems)
    result = CliRunner().invoke(main, ["validate", str(folder), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["valid"] is False


def test_e020_missing_text_file(dist, tmp_path):
    folder = _copy(dist, tmp_path)
    (folder / "text" / "nelson" / "nelson-sec-01.txt").unlink()
    [problem] = validate_dataset(folder)
    assert (problem.code, problem.file, problem.field) == ("E020", "data/documents.csv", "text_path")
    assert "nelson-sec-01.txt" in problem.message


def test_every_code_is_documented():
    assert sorted(CODES) == ["E001", "E002", "E010", "E020"]
