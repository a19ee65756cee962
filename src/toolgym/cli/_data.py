"""``toolgym import``, ``export`` and ``inspect``."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.pretty import Pretty
from rich.syntax import Syntax
from rich.table import Table

from ..formats import EXPORT_FORMATS, IMPORT_FORMATS, export_file, import_file
from ..io import Rejects, gc_paused, read_environments
from ._common import console, counter_table, envs_source, fail, loading, rejects_summary
from ._run import distinct

FormatIn = Annotated[str, typer.Option("--format", "-f", help=f"Layout of IN: {', '.join(IMPORT_FORMATS)}.")]
FormatOut = Annotated[str, typer.Option("--format", "-f", help=f"Layout of OUT: {', '.join(EXPORT_FORMATS)}.")]


def import_cmd(
    src: Annotated[Path, typer.Argument(help="Input file (.jsonl or .parquet) or saved HF dataset folder.")],
    dst: Annotated[Path, typer.Argument(help="Output: .jsonl (default), .parquet, or a folder (HF dataset).")],
    format: FormatIn = "ftrl",
    rejects: Annotated[Path | None, typer.Option(help="Where rejected rows go (default OUT.rejects.jsonl).")] = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero if any row is rejected.")] = False,
    scoping: Annotated[str | None, typer.Option(
        help="How the imported tools are run: 'reference' (exactly the paper's call_function: exec inside a "
             "function; the default for --format ftrl) or 'module' (toolgym's sandbox; the default otherwise).")
    ] = None,
) -> None:
    """Convert external data (the paper's layout, verl parquet) into toolgym environment records.

    Good rows are imported; bad rows go, with their reasons, to a side file."""
    if not src.exists():
        fail(f"{src} does not exist")
    if format not in IMPORT_FORMATS:
        fail(f"unknown format {format!r}; use --format with one of {', '.join(IMPORT_FORMATS)}")
    distinct({"IN": src}, {"OUT": dst, "--rejects": rejects})
    if scoping not in (None, "module", "reference"):
        fail(f"unknown scoping {scoping!r}; use --scoping reference or --scoping module")
    with loading(src, f"importing {src.name}") as bar:
        report = import_file(format, src, dst, rejects_path=rejects, progress=bar, scoping=scoping)
    console.print(f"imported [bold]{report.written}[/] of {report.read} record(s) into [bold]{report.out}[/]")
    if report.scenarios:
        console.print(counter_table("by scenario", report.scenarios, "scenario"))
    _rejected(report, strict)


def _rejected(report, strict: bool) -> None:
    """What a conversion rejected, where its manifest is, and exit 1 under ``--strict`` if it rejected any."""
    rejects_summary(report.kinds, report.rejected, report.rejects)
    console.print(f"manifest: {report.manifest}")
    if strict and report.rejected:
        raise typer.Exit(1)


def export_cmd(
    src: Annotated[Path, typer.Argument(help="toolgym environments: .jsonl, .parquet, a `datasets` folder, or a dataset id on the Hub (owner/name[:split]).")],
    dst: Annotated[Path, typer.Argument(help="Output path (.jsonl or .parquet; verl needs .parquet).")],
    format: FormatOut = "ftrl",
    strict: Annotated[bool, typer.Option(help="Exit non-zero if any input record is invalid.")] = False,
) -> None:
    """Write environments in another layout: the paper's (ftrl), verl's RL parquet, or ours."""
    src = envs_source(src, "")
    if not src.exists():
        fail(f"{src} does not exist")
    if format not in EXPORT_FORMATS:
        fail(f"unknown format {format!r}; use --format with one of {', '.join(EXPORT_FORMATS)}")
    distinct({"IN": src}, {"OUT": dst})
    try:
        with loading(src, f"reading {src.name}") as bar:
            report = export_file(format, src, dst, progress=bar)
    except ValueError as exc:
        fail(str(exc))
    console.print(f"exported [bold]{report.written}[/] record(s) as {format} to [bold]{report.out}[/]")
    _rejected(report, strict)


def inspect_cmd(
    path: Annotated[Path, typer.Argument(help="Environments: .jsonl, .parquet, a `datasets` folder, or a dataset id on the Hub (owner/name[:split]).")],
    show: Annotated[int, typer.Option(min=0, help="Show this record (0-based position) in full.")] = 0,
    env_id: Annotated[str | None, typer.Option("--id", help="Show the record with this id instead.")] = None,
    code: Annotated[bool, typer.Option(help="Include the tools' code in the view.")] = False,
) -> None:
    """Counts per scenario and domain, tools per environment, and a readable view of one record."""
    path = envs_source(path, "")
    if not path.exists():
        fail(f"{path} does not exist")
    rejects = Rejects()
    scenarios: Counter = Counter()
    domains: Counter = Counter()
    n_tools, n_expected, n_turns = [], [], []
    chosen = None
    with loading(path) as bar, gc_paused():  # the loop keeps nothing: no garbage cycles to collect
        for i, env in enumerate(read_environments(path, on_error=rejects, progress=bar)):
            scenarios[env.scenario or "unknown"] += 1
            domains[env.metadata.domain or "unknown"] += 1
            n_tools.append(len(env.tools))
            n_expected.append(env.needed)
            n_turns.append(len(env.solution))
            if (env_id is not None and env.id == env_id) or (env_id is None and i == show):
                chosen = env
    total = len(n_tools)
    console.print(f"[bold]{path}[/]: {total} valid environment(s), {rejects.records} invalid")
    if total:
        summary = Table(show_edge=False)
        for col in ("per environment", "min", "mean", "max"):
            summary.add_column(col, justify="right" if col != "per environment" else "left")
        for name, values in (("tools", n_tools), ("expected items", n_expected), ("solution turns", n_turns)):
            summary.add_row(name, str(min(values)), f"{statistics.mean(values):.2f}", str(max(values)))
        console.print(summary)
        console.print(counter_table("by scenario", scenarios, "scenario"))
        console.print(counter_table("by domain", domains, "domain"))
    rejects_summary(rejects.kinds, rejects.records, None, rejects.errors)
    if chosen is None:
        if env_id is not None:
            fail(f"no valid record with id {env_id}", 1)
        return
    _show(chosen, code)


def _show(env, with_code: bool) -> None:
    from ..schema import tool_function

    lines = [f"[bold]id[/] {env.id}   [bold]scenario[/] {env.scenario}   [bold]domain[/] {env.metadata.domain}",
             f"[bold]question[/] {env.question}", f"[bold]answer[/] {env.answer}"]
    console.print(Panel("\n".join(lines), title="environment"))
    tools = Table(title="tools", show_edge=False)
    tools.add_column("name")
    tools.add_column("parameters")
    tools.add_column("expected")
    for t in env.tools:
        fn = tool_function(t)
        params = ", ".join(
            f"{k}{'' if k in fn.get('parameters', {}).get('required', []) else '?'}"
            for k in fn.get("parameters", {}).get("properties", {}))
        tools.add_row(fn.get("name", "?"), params, ", ".join(env.expected.get(fn.get("name"), [])))
    console.print(tools)
    console.print(Panel(Pretty([[c.model_dump() for c in turn] for turn in env.solution]), title="solution"))
    if with_code:
        for name, source in env.code.items():
            console.print(Panel(Syntax(source, "python", line_numbers=True), title=f"code: {name}"))
