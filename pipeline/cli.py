"""The ``sergetrotsky`` command line: parse options, call a stage, render, set the exit code.

Exit codes: 0 success, 1 the data is wrong (failed build or validation), 2 usage errors.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table as RichTable
from rich.tree import Tree

from . import __version__
from . import contribution
from . import clean as clean_stage
from . import publish, segment as segment_stage, validate as validate_stage
from .errors import PipelineError
from .sources import discover, find

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
SOURCES = click.option("--sources", "sources_dir", type=click.Path(path_type=Path),
                       default=Path("sources"), show_default=True,
                       help="Folder of source folders.")


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a PipelineError into one located line on stderr and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PipelineError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            sys.exit(1)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sergetrotsky")
def main() -> None:
    """Build and check the Serge–Trotsky Papers dataset."""


@main.command()
@SOURCES
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("dist"),
              show_default=True, help="Dataset folder to write.")
@click.option("--check", is_flag=True,
              help="Rebuild in memory and fail if OUT differs (nothing is written).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              metavar="N", show_default="the number of cores",
              help="Processes for the per-source stages (the output is the same for any N).")
@user_errors
def build(sources_dir: Path, out_dir: Path, check: bool, jobs: int) -> None:
    """Run every stage and write the dataset to OUT atomically."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console,
                  transient=True) as bar:
        task = bar.add_task("loading sources", total=None)
        result = publish.assemble(sources_dir, lambda step: bar.update(task, description=step),
                                  jobs=jobs)
        if not check:
            bar.update(task, description="writing")
            publish.write_atomically(result.files, out_dir)
            _write_locks(result.locks)
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
    sources = discover(sources_dir)
    seg = segment_stage.segment(find(sources, source_id), clean_stage.clean_one(sources, source_id))
    nodes: dict[str, Tree] = {}
    root: Tree | None = None
    for unit in seg.units:
        words = segment_stage.count_words(seg.text_of(unit))
        label = f"[bold]{unit.type}[/] [cyan]{unit.document_id}[/] {unit.title} [dim]({words} words)[/]"
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
@user_errors
def release(sources_dir: Path, dataset_dir: Path, out_dir: Path) -> None:
    """Zip the dataset (versioned) with a SHA256SUMS file, after checking it is current."""
    result = publish.assemble(sources_dir)
    changed = publish.differences(result.files, dataset_dir)
    if changed:
        raise PipelineError(f"{len(changed)} file(s) differ from a fresh build "
                            f"(first: {changed[0]}); run `make build` first", file=str(dataset_dir))
    archive, checksums = publish.release(dataset_dir, out_dir)
    console.print(f"wrote {archive} and {checksums}")


@main.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(path_type=Path, exists=True))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@user_errors
def validate(paths: tuple[Path, ...], output_format: str) -> None:
    """Check dataset folders, TEI files or folders of TEI files, or a source folder
    (sources/<id>, recognised by its source.toml) before it is contributed.

    One line per problem (CODE file:line:column: message; codes in
    docs/validation-codes.md). Exit 0 when valid (warnings alone do not fail), 1 when not.
    """
    folders = [p for p in paths if contribution.is_source_folder(p)]
    if folders:   # a contribution: sources/<id>, checked with its corpus, nothing written
        _validate_sources(folders, [p for p in paths if p not in folders], output_format)
        return
    problems = validate_stage.validate_paths(paths)
    if output_format == "json":
        click.echo(validate_stage.report_json(paths, problems))
    else:
        for problem in problems:
            click.echo(problem.render())
        click.echo(validate_stage.summary(paths, problems))
    sys.exit(1 if validate_stage.has_errors(problems) else 0)


def _validate_sources(folders: list[Path], rest: list[Path], output_format: str) -> None:
    """Check source folders (a dry build with their corpus) and any other paths given."""
    reports = [contribution.check_source(folder) for folder in folders]
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
