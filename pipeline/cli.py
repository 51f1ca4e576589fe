"""The ``sergetrotsky`` command line: parse options, call a stage, render, set the exit code.

Exit codes: 0 success, 1 the data is wrong (failed build or validation), 2 usage errors.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__
from .errors import BuildFailed, PipelineError

# Start-up: each command imports what it uses (rich, lxml, frictionless and the stages
# take most of a second together; `--help` needs none of them). See README, "Performance".


class _LazyConsole:
    """A rich Console made when first used (importing rich takes about 50 ms)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def get(self) -> Any:
        """The Console itself (for rich objects that take one)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


def escape(text: str) -> str:
    """rich's markup escape, imported when used."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


console = _LazyConsole(highlight=False)
err_console = _LazyConsole(stderr=True, highlight=False)
SOURCES = click.option("--sources", "sources_dir", type=click.Path(path_type=Path),
                       default=Path("sources"), show_default=True,
                       help="Folder of source folders.")


def _problem_line(problem: PipelineError) -> str:
    """``CODE file:line field F: message``, its severity in colour."""
    from .sources import locate

    label = "[yellow]warning:[/]" if problem.code.startswith("W") else "[bold red]error:[/]"
    return f"{label} {escape(locate(problem).render())}"


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a PipelineError (or a stage's BuildFailed) into one located, coded line per
    problem on stderr and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BuildFailed as failed:
            for problem in failed.problems:
                err_console.print(_problem_line(problem), soft_wrap=True)
            err_console.print(f"stopped after the {failed.stage} stage: "
                              f"{len(failed.problems)} problem(s)", soft_wrap=True)
            sys.exit(1)
        except PipelineError as exc:
            err_console.print(_problem_line(exc), soft_wrap=True)
            sys.exit(1)
    return wrapper


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM ends the build as an exception would: the worker pool is stopped, the
    temporary folder removed and the lock released on the way out."""
    raise SystemExit(128 + signum)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sergetrotsky")
def main() -> None:
    """Build and check the Serge–Trotsky Papers dataset."""


NO_CACHE = click.option(
    "--no-cache", "no_cache", is_flag=True,
    help="Neither read nor write the build cache (.cache/sergetrotsky in the repository, "
         "or $SERGETROTSKY_CACHE_DIR; see README, \"Performance\").")


def _build_cache(sources_dir: Path, no_cache: bool) -> Any:
    """The build cache of this sources folder (a cache.BuildCache), or None."""
    if no_cache:
        return None
    from . import cache as build_cache

    folder = build_cache.default_folder(sources_dir)
    return build_cache.BuildCache(folder) if folder is not None else None


@main.command()
@SOURCES
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("dist"),
              show_default=True, help="Dataset folder to write.")
@click.option("--check", is_flag=True,
              help="Rebuild in memory and fail if OUT differs (nothing is written).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              metavar="N", show_default="the number of cores for sources over 4 MB or "
              "with a cache an earlier build filled, else 1",
              help="Processes for the per-source stages (the output is the same for any N).")
@NO_CACHE
@user_errors
def build(sources_dir: Path, out_dir: Path, check: bool, jobs: int | None,
          no_cache: bool) -> None:
    """Run every stage and write the dataset to OUT atomically.

    OUT must be absent, empty, or a dataset this command wrote (it holds
    .sergetrotsky-build); anything else is refused untouched. See README, "Building".
    """
    from . import publish
    from .build import assemble

    # A build makes millions of small objects and few reference cycles: with the default
    # threshold (700 allocations) the collector ran hundreds of times, 5% of a build after
    # an edit. It still runs, a thirtieth as often.
    gc.set_threshold(20_000, 20, 50)
    cache = _build_cache(sources_dir, no_cache)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The output folder is checked and locked before the (long) build, not after it.
    guard = contextlib.nullcontext() if check else publish.OutputFolder(
        out_dir, sources_dir, notice=lambda w: err_console.print(_problem_line(w), soft_wrap=True))
    try:
        with guard as out, _progress() as bar:
            task = bar.add_task("loading sources", total=None)
            # the files go to the staging folder as they are made (memory: README, Performance)
            staged = out.stage() if out is not None else None
            result = assemble(sources_dir, functools.partial(_step, bar, task),
                              jobs=jobs, cache=cache, files=staged)
            if out is not None and staged is not None:
                bar.update(task, description="writing")
                out.commit(staged)
                _write_locks(result.locks)
    finally:
        signal.signal(signal.SIGTERM, previous)
    _render_summary(result.summary)
    for warning in result.warnings:
        err_console.print(escape(warning), soft_wrap=True)
    if check:
        changed = publish.differences(result.files, out_dir)
        changed += [f"not recorded: {path}" for path, data in sorted(result.locks.items())
                    if not data and path.exists()
                    or data and (not path.is_file() or path.read_bytes() != data)]
        if changed:
            for line in changed:
                err_console.print(f"  {escape(line)}", soft_wrap=True)
            err_console.print(f"[bold red]error:[/] {out_dir} is not the output of this build "
                              f"({len(changed)} file(s)); run `make build` and commit it")
            sys.exit(1)
        console.print(f"{out_dir} is up to date ({len(result.files)} files)")
    else:
        console.print(f"wrote {len(result.files)} files to {out_dir}")
    _leave(0)       # (the script does not free the build's results: see _leave)


def _step(bar: Any, task: int, step: str) -> None:
    """The build's progress: the step named on the display. From the TEI on, the build
    waits on the child making an edited source's TEI (pipeline/build.py): the summary's
    modules are imported meanwhile (rich: 0.03 s), rather than after the build."""
    bar.update(task, description=step)
    if step == "tei":
        from rich.table import Table  # noqa: F401

        console.get()


def _progress() -> Any:
    """A spinner naming the build's step, on a terminal; elsewhere rich's transient display
    shows nothing, and running it (rich imported, 0.03 s) would only delay the build, so
    a stand-in takes the updates."""
    if not sys.stderr.isatty() or not err_console.is_terminal:
        return _NoProgress()
    from rich.progress import Progress, SpinnerColumn, TextColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console.get(),
                    transient=True)


class _NoProgress:
    """The progress display's calls, doing nothing."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None) -> int:
        return 0

    def update(self, task: int, description: str) -> None:
        pass


def _write_locks(locks: dict[Path, bytes]) -> None:
    """Record the hyphen decisions beside each source's metadata (a lock left with no
    decision is removed)."""
    for path, data in sorted(locks.items()):
        if not data:
            path.unlink(missing_ok=True)
        elif not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            console.print(f"recorded the hyphen decisions in {path}")


def _render_summary(summary: list[dict[str, Any]]) -> None:
    """Tables with a row per source (so that any number of sources fits a terminal):
    where the characters went, the units and notes, and the removals by reason."""
    from rich import box
    from rich.table import Table as RichTable

    def table(title: str, columns: list[str]) -> RichTable:
        made = RichTable(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        made.add_column("source", overflow="fold")
        for name in columns:
            made.add_column(name, justify="right")
        return made

    characters = table("Build summary: where every character went",
                       ["in", "published", "removed", "inserted", "unaccounted"])
    units = table("Units and notes", ["units", "notes", "notes untied", "note anomalies",
                                      "cross-refs"])
    reasons = RichTable(title="Characters removed, by reason", title_justify="left",
                        box=box.SIMPLE_HEAD)
    reasons.add_column("source", overflow="fold")
    reasons.add_column("removed", overflow="fold")
    for row in summary:
        characters.add_row(row["source_id"], *(str(v) for v in (
            row["chars_in"], row["chars_published"], sum(row["removed"].values()),
            sum(row["inserted"].values()), row["unaccounted"])))
        units.add_row(row["source_id"], *(str(v) for v in (
            row["units"], row["notes"], row["notes_untied"], row["note_anomalies"],
            row["references"])))
        reasons.add_row(row["source_id"], ", ".join(
            f"{reason} {count}" for reason, count in row["removed"].items() if count))
    for rendered in (characters, units, reasons):
        console.print(rendered)
    console.print("Notes untied: not tied to a mark. Every removed or inserted character is "
                  "logged with its reason in data/removals.csv; note anomalies are listed in "
                  "data/note_anomalies.csv.", style="dim")


@main.command("clean")
@click.argument("source_id")
@SOURCES
@click.option("--log", "show_log", is_flag=True, help="Print the removal log instead.")
@user_errors
def clean_command(source_id: str, sources_dir: Path, show_log: bool) -> None:
    """Print a source's cleaned text (or its removal log)."""
    from . import clean as clean_stage
    from .sources import discover

    result = clean_stage.clean_one(discover(sources_dir), source_id)
    if show_log:
        for e in result.log():
            click.echo(f"{e.original_line}\t{e.reason}\t{e.removed!r}\t{e.inserted!r}\t{e.detail}")
    else:
        click.echo(result.text, nl=False)


@main.command("segment")
@click.argument("source_id")
@SOURCES
@user_errors
def segment_command(source_id: str, sources_dir: Path) -> None:
    """Print a source's unit tree: type, id, title, words."""
    from rich.tree import Tree

    from . import clean as clean_stage
    from . import segment as segment_stage
    from .sources import discover, find

    sources = discover(sources_dir)
    seg = segment_stage.segment(find(sources, source_id), clean_stage.clean_one(sources, source_id))
    nodes: dict[str, Tree] = {}
    root: Tree | None = None
    for unit in seg.units:
        words = segment_stage.count_words(seg.text_of(unit))
        label = (f"[bold]{unit.type}[/] [cyan]{unit.document_id}[/] {unit.title}"
                 f" [dim]({words} words)[/]")
        if unit.parent_id:
            nodes[unit.document_id] = nodes[unit.parent_id].add(label)
        else:
            root = nodes[unit.document_id] = Tree(label)
    console.print(root)


@main.command()
@SOURCES
@click.option("--dataset", "dataset_dir", type=click.Path(path_type=Path), default=Path("dist"),
              show_default=True, help="Dataset folder to release.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for the zip and SHA256SUMS.")
@NO_CACHE
@user_errors
def release(sources_dir: Path, dataset_dir: Path, out_dir: Path, no_cache: bool) -> None:
    """Zip the dataset (versioned) with a SHA256SUMS file, after checking it is current."""
    from . import publish
    from .build import assemble

    # The check rebuilds; the cache gives the bytes of a cold build (tests/test_cache.py).
    result = assemble(sources_dir, cache=_build_cache(sources_dir, no_cache))
    changed = publish.differences(result.files, dataset_dir)
    if changed:
        raise PipelineError(f"{len(changed)} file(s) differ from a fresh build "
                            f"(first: {changed[0]}); run `make build` first", file=str(dataset_dir),
                            code="E505")
    archive, checksums = publish.release(dataset_dir, out_dir)
    console.print(f"wrote {archive} and {checksums}")


def _max_per_code() -> int:
    """validate.MAX_PER_CODE, read when the option is not given (not at start-up)."""
    from .validate import MAX_PER_CODE

    return MAX_PER_CODE


@main.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, exists=True))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--max-errors", "max_errors", type=click.IntRange(min=0),
              default=lambda: _max_per_code(), show_default="20", metavar="N",
              help="Lines printed per code; the rest are counted. 0 prints every line.")
@user_errors
def validate(paths: tuple[Path, ...], output_format: str, max_errors: int) -> None:
    """Check dataset folders, TEI files or folders of TEI files, or a source folder
    (sources/<id>, recognised by its source.toml) before it is contributed.

    One line per problem (CODE file:line:column: message; codes in
    docs/validation-codes.md), at most N per code. Exit 0 when valid (warnings alone do
    not fail), 1 when not. Reads only the dataset's own regular files: no link, FIFO or
    device, nothing outside the folder, nothing from the network.
    """
    from . import validate as validate_stage

    # contribution imports the build's stages: only for a folder that may be a source
    maybe_sources = [p for p in paths if (p / "source.toml").is_file()]
    if maybe_sources:
        from . import contribution
    folders = [p for p in maybe_sources if contribution.is_source_folder(p)]
    if folders:   # a contribution: sources/<id>, checked with its corpus, nothing written
        _validate_sources(folders, [p for p in paths if p not in folders], output_format)
        return
    if _LEAVE_AT_ONCE:
        validate_stage.large_trees_kept = []
    report = validate_stage.validate_report(paths, max_per_code=max_errors or None)
    if output_format == "json":
        click.echo(validate_stage.report_json(paths, report))
    else:
        for problem in report.problems:
            click.echo(problem.render())
        for line in validate_stage.omitted_lines(report):
            click.echo(line)
        click.echo(validate_stage.summary(paths, report))
    _leave(1 if validate_stage.has_errors(report) else 0)


# --- the console script (a large file's validate ends without freeing its tree) --------------

_LEAVE_AT_ONCE = False      # True in the `sergetrotsky` script (run), never in a library call


def run() -> None:
    """The ``sergetrotsky`` console script: :func:`main`, where ``validate`` ends the process
    as soon as its report is written (see :func:`_leave`)."""
    global _LEAVE_AT_ONCE
    _LEAVE_AT_ONCE = True
    main()


def _leave(code: int) -> NoReturn:
    """Exit with ``code``. In the console script, once stdout and stderr are flushed, with
    os._exit: nothing is left to do but free memory, and freeing a 100 MB file's tree took
    longer than its RELAX NG (validate keeps it, see validate.large_trees_kept); freeing a
    build's results, 5% of a build after an edit. Only where everything is written and
    closed: the build's workers, children and temporary folders are done with by then."""
    if _LEAVE_AT_ONCE:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            sys.exit(code)          # (a closed pipe: Python's own exit reports it)
        os._exit(code)
    sys.exit(code)



# --- conversion defects (issue 14) ---------------------------------------------------------

@main.command("defects")
@SOURCES
@user_errors
def defects_command(sources_dir: Path) -> None:
    """List candidate conversion defects not yet emended nor reviewed (exit 1 if any)."""
    from . import clean as clean_stage
    from . import defects
    from .sources import discover

    sources = discover(sources_dir)
    found = defects.candidates(sources, clean_stage.clean_all(sources))
    for candidate in found:
        click.echo(str(candidate))
    click.echo(f"{len(found)} candidate(s): repair each by an emendation in the source's "
               "source.toml, or list it in [defects] kept" if found else "no candidates")
    sys.exit(1 if found else 0)


@main.command("sqlite")
@click.option("--dataset", "dataset_dir", type=click.Path(path_type=Path), default=Path("dist"),
              show_default=True, help="Dataset folder to read.")
@click.option("--out", "out_file", type=click.Path(path_type=Path), required=True,
              help="SQLite file to write (replaced atomically).")
@user_errors
def sqlite_command(dataset_dir: Path, out_file: Path) -> None:
    """Write the dataset as a SQLite database with keys and FTS5 full-text indexes."""
    from . import sqlite as sqlite_stage  # imported here to keep the CLI's start-up light

    counts = sqlite_stage.write_database(dataset_dir, out_file)
    console.print(f"wrote {out_file}: {len(counts)} tables, {sum(counts.values())} rows")


@main.command("site")
@click.option("--dataset", "dataset_dir", type=click.Path(path_type=Path), default=Path("dist"),
              show_default=True, help="Dataset folder to read (the site uses nothing else).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("site"),
              show_default=True, help="Folder for the static site (replaced atomically).")
@user_errors
def site_command(dataset_dir: Path, out_dir: Path) -> None:
    """Build the reading edition: a static web site with registers and search."""
    from . import site as site_stage  # imported here to keep the CLI's start-up light

    summary = site_stage.build_site(dataset_dir, out_dir)
    console.print(f"wrote {summary.pages} pages ({summary.letters} letters, "
                  f"{summary.units} text pages) and {summary.files} files to {out_dir}; "
                  f"serve it with: python -m http.server -d {out_dir}")


def _validate_sources(folders: list[Path], rest: list[Path], output_format: str) -> None:
    """Check source folders (a dry build with their corpus) and any other paths given."""
    from . import contribution
    from . import validate as validate_stage

    reports = contribution.check_sources(folders)
    problems = validate_stage.validate_paths(rest) if rest else []
    findings = [f for r in reports for f in r.findings]
    errors = sum(f.severity == "error" for f in findings) + \
        sum(p.severity == "error" for p in problems)
    warnings = len(findings) + len(problems) - errors
    if output_format == "json":
        click.echo(json.dumps({
            "paths": [str(p) for p in (*folders, *rest)], "valid": not errors,
            "errors": errors, "warnings": warnings,
            "figures": {str(r.folder): r.figures for r in reports},
            "problems": [f.as_dict() for f in findings] + [p.as_dict() for p in problems]},
            indent=2, ensure_ascii=False))
    else:
        for report in reports:
            click.echo(f"{report.folder}:")
            for line in report.figures:
                click.echo(f"  {line}")
        for finding in findings:
            click.echo(finding.render())
        for problem in problems:
            click.echo(problem.render())
        where = ", ".join(str(p) for p in (*folders, *rest))
        verdict = "valid" if not errors else f"invalid, {errors} error(s)"
        click.echo(f"{where}: {verdict}" + (f", {warnings} warning(s)" if warnings else "")
                   + " (nothing written)")
    sys.exit(1 if errors else 0)
