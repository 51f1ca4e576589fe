"""Hostile inputs for `sergetrotsky validate`, one folder per case, no Python needed to add
one: ``tests/hostile/validate/<case>/case.toml`` says what to do to a copy of a base
dataset and which codes the command must report (format: tests/hostile/README.md).

Each case is run through the command line on a copy in a temporary folder, with the
network cut (any connection or name lookup fails the case); cases that make a FIFO run
in a separate process with a time limit, so that a hang fails instead of blocking.
(``tests/hostile/build/`` is for the build's cases and their own harness.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from sergetrotsky.cli import main

HERE = Path(__file__).resolve().parent
CASES = HERE / "hostile" / "validate"
FIXTURE = HERE / "fixtures" / "validate" / "dataset"
CASE_KEYS = {"about", "base", "validate", "args", "edit", "write", "recode", "truncate",
             "remove", "append", "json", "symlink", "fifo", "sparse", "expect"}
EXPECT_KEYS = {"codes", "counts", "exit", "present", "absent", "max_lines_per_code",
               "max_seconds"}
LINE_CODE = re.compile(r"^([EW]\d{3}) ")


def load_cases() -> dict[str, dict]:
    cases = {}
    for folder in sorted(p for p in CASES.iterdir() if p.is_dir()):
        with (folder / "case.toml").open("rb") as handle:
            cases[folder.name] = tomllib.load(handle)
    return cases


ALL = load_cases()


def hostile_codes() -> set[str]:
    """Every code some hostile case expects (test_validate counts them as covered)."""
    return {code for case in ALL.values() for code in case["expect"]["codes"]}


def _json_path(data: object, at: str) -> tuple[object, str | int]:
    *parents, last = [int(p) if p.isdigit() else p for p in at.split(".")]
    for part in parents:
        data = data[part]   # type: ignore[index]
    return data, last


def prepare(case: dict, target: Path, dist: Path | None) -> None:
    """Copy the base dataset to ``target`` and apply the case's changes, in the order of
    the keys below."""
    base = {"fixture": FIXTURE, "dist": dist}[case.get("base", "fixture")]
    assert base is not None
    shutil.copytree(base, target, symlinks=True)
    for edit in case.get("edit", []):
        path = target / edit["file"]
        text = path.read_text(encoding="utf-8")
        assert edit["old"] in text, f"{edit['old']!r} is not in {edit['file']}"
        path.write_text(text.replace(edit["old"], edit["new"], edit.get("count", -1)),
                        encoding="utf-8")
    for item in case.get("json", []):
        path = target / item.get("file", "datapackage.json")
        data = json.loads(path.read_text(encoding="utf-8"))
        parent, key = _json_path(data, item["at"])
        parent[key] = item["value"]   # type: ignore[index]
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    for name, text in case.get("write", {}).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text, encoding="utf-8")
    for item in case.get("append", []):
        with (target / item["file"]).open("a", encoding="utf-8", newline="") as handle:
            for n in range(item.get("times", 1)):
                handle.write(item["text"].replace("{n}", str(n)))
    for name, encoding in case.get("recode", {}).items():
        path = target / name
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding, "replace"))
    for name in case.get("truncate", []):
        (target / name).write_bytes(b"")
    for name, mib in case.get("sparse", {}).items():
        with (target / name).open("r+b") as handle:
            handle.truncate(mib * 1024 * 1024)     # a hole: no disk used, nothing written
    for name in case.get("remove", []):
        path = target / name
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for name, points_to in case.get("symlink", {}).items():
        path = target / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
        os.symlink(points_to, path)
    for name in case.get("fifo", []):
        path = target / name
        if os.path.lexists(path):
            path.unlink()
        os.mkfifo(path)


def no_network(*args, **kwargs):
    raise AssertionError(f"validate tried to use the network: {args!r}")


# A FIFO case's two runs, in one process of their own: the network cut there too.
IN_A_PROCESS = """import json, socket, sys
def cut(*a, **k): raise SystemExit('validate tried to use the network')
socket.socket.connect = socket.getaddrinfo = socket.create_connection = cut
from click.testing import CliRunner
from sergetrotsky.cli import main
runs = {}
for fmt, args in json.loads(sys.argv[1]).items():
    result = CliRunner().invoke(main, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    runs[fmt] = [result.exit_code, result.stdout]
print(json.dumps(runs))
"""


def run(case: dict, folder: Path, monkeypatch) -> dict[str, tuple[int, str]]:
    """The command's exit code and output, by format (json, then text)."""
    formats = {}
    for fmt in ("json", "text"):
        args = ["validate", str(folder / case.get("validate", ".")), "--format", fmt]
        formats[fmt] = args + (case.get("args", []) if fmt == "text" else ["--max-errors", "0"])
    if case.get("fifo"):
        # its own process (both runs in it), with a time limit: a hang fails the case
        done = subprocess.run([sys.executable, "-c", IN_A_PROCESS, json.dumps(formats)],
                              capture_output=True, text=True,
                              timeout=case["expect"].get("max_seconds", 30))
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 0, done.stderr
        return {fmt: (code, output) for fmt, (code, output) in json.loads(done.stdout).items()}
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    runs = {}
    for fmt, args in formats.items():
        result = CliRunner().invoke(main, args)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        runs[fmt] = (result.exit_code, result.output)
    return runs


@pytest.mark.parametrize("name", sorted(ALL))
def test_hostile_case(name, tmp_path, monkeypatch, request):
    case = ALL[name]
    assert set(case) <= CASE_KEYS, f"unknown keys {set(case) - CASE_KEYS} in {name}/case.toml"
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"unknown keys {set(expect) - EXPECT_KEYS}"
    if (case.get("fifo") and not hasattr(os, "mkfifo")) or \
            (case.get("symlink") and not hasattr(os, "symlink")):
        pytest.skip("this system cannot make FIFOs or symbolic links")
    dist = request.getfixturevalue("dist") if case.get("base") == "dist" else None
    folder = tmp_path / "dataset"
    prepare(case, folder, dist)

    start = time.perf_counter()
    runs = run(case, folder, monkeypatch)
    assert time.perf_counter() - start < expect.get("max_seconds", 30)   # the two runs
    code, output = runs["json"]
    report = json.loads(output)
    counts: dict[str, int] = {}
    for problem in report["problems"]:
        counts[problem["code"]] = counts.get(problem["code"], 0) + 1
    shown = "\n".join(f"{p['code']} {p['file']} {p['line'] or p['row'] or ''} {p['message']}"
                      for p in report["problems"][:40])
    assert sorted(counts) == sorted(expect["codes"]), f"{case['about']}\n{shown}"
    for code_name, number in expect.get("counts", {}).items():
        assert counts.get(code_name, 0) == number, f"{code_name}: {case['about']}\n{shown}"
    assert code == expect.get("exit", 1 if any(c[0] == "E" for c in expect["codes"]) else 0)
    for problem in report["problems"]:           # every problem located in the copy
        assert problem["file"].startswith(str(folder)), problem

    code, text = runs["text"]
    for needle in expect.get("absent", []):
        assert needle not in output and needle not in text, needle
    for needle in expect.get("present", []):
        assert needle in text, f"{needle!r} not in the output:\n{text[:3000]}"
    if "max_lines_per_code" in expect:
        per_code: dict[str, int] = {}
        for line in text.splitlines():
            m = LINE_CODE.match(line)
            if m:
                per_code[m[1]] = per_code.get(m[1], 0) + 1
        assert max(per_code.values()) <= expect["max_lines_per_code"], per_code
