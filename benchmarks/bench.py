"""Benchmark the build: time per stage (median of several runs), peak memory, and cost
per MB as the corpus grows (the sources copied N times under new ids).

Run with `make bench`. Figures are printed, never asserted: tests do not time things.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from pipeline import clean, package, publish, segment  # noqa: E402
from pipeline.sources import discover  # noqa: E402

console = Console()


def stage_times(sources_dir: Path) -> dict[str, float]:
    """Seconds spent in each stage for one build of ``sources_dir``."""
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    sources = discover(sources_dir)
    times["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cleaned = clean.clean_all(sources)
    for result in cleaned.values():
        result.conservation()
    times["clean + conservation"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in sources:
        segment.segment(s, cleaned[s.source_id])
    times["segment"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = publish.assemble(sources_dir)
    times["full assemble (all stages)"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        publish.write_atomically(result.files, Path(tmp) / "dist")
        times["write"] = time.perf_counter() - t0
    return times


def peak_memory_mb(sources_dir: Path) -> float:
    """Peak resident memory of a whole `build` in a fresh process."""
    code = ("import resource, sys, tempfile; from pathlib import Path; "
            "from pipeline import publish; r = publish.assemble(Path(sys.argv[1])); "
            "publish.write_atomically(r.files, Path(tempfile.mkdtemp()) / 'dist'); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, str(sources_dir)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def copies(sources_dir: Path, n: int, target: Path) -> Path:
    """The sources copied ``n`` times under new ids (``papers``, ``papers-c2``, ...)."""
    for folder in sources_dir.iterdir():
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            for i in range(1, n + 1):
                shutil.copytree(folder, target / (folder.name if i == 1 else f"{folder.name}-c{i}"))
        elif folder.is_dir():
            shutil.copytree(folder, target / folder.name)
        else:
            shutil.copy(folder, target / folder.name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--growth", default="1,5,10")
    args = parser.parse_args()
    sources_dir = ROOT / "sources"
    runs = [stage_times(sources_dir) for _ in range(args.runs)]
    table = Table(title=f"build stages, median of {args.runs} runs")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage in runs[0]:
        table.add_row(stage, f"{statistics.median(r[stage] for r in runs):.3f}")
    console.print(table)

    megabytes = sum(p.stat().st_size for p in sources_dir.glob("*/*.txt")) / 1e6
    growth = Table(title="growth: sources copied N times")
    for column in ("N", "MB", "seconds", "s/MB", "peak MB"):
        growth.add_column(column, justify="right")
    figures = {}
    for n in (int(x) for x in args.growth.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            copied = copies(sources_dir, n, Path(tmp) / "sources")
            t0 = time.perf_counter()
            publish.assemble(copied)
            seconds = time.perf_counter() - t0
            peak = peak_memory_mb(copied)
        figures[n] = seconds
        growth.add_row(str(n), f"{megabytes * n:.2f}", f"{seconds:.2f}",
                       f"{seconds / (megabytes * n):.2f}", f"{peak:.0f}")
    console.print(growth)
    if 1 in figures and 10 in figures:
        console.print(f"10 copies / 1 copy: {figures[10] / figures[1]:.1f}x (linear would be 10x)")

    with tempfile.TemporaryDirectory() as tmp:
        result = publish.assemble(sources_dir)
        dist = Path(tmp) / "dist"
        publish.write_atomically(result.files, dist)
        t0 = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "frictionless"), "validate",
                        str(dist / "datapackage.json")], capture_output=True, check=False)
        console.print(f"frictionless validate (outside validator) on the dataset: "
                      f"{time.perf_counter() - t0:.2f} s")
    console.print(json.dumps({"machine": f"{__import__('os').cpu_count()} cores"}))


if __name__ == "__main__":
    main()
