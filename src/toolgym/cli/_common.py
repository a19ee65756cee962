"""Shared pieces of the CLI: the console, error exits, summary tables, loading environments."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..io import Rejects, read_environments
from ..schema import Environment

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=False)


def counter_table(title: str, counts: Counter, key_name: str = "value") -> Table:
    table = Table(title=title, show_edge=False)
    table.add_column(key_name)
    table.add_column("count", justify="right")
    for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        table.add_row(str(key), str(n))
    return table


def rejects_summary(kinds: Counter, rejected: int, path: str | None) -> None:
    if not rejected:
        return
    console.print(f"[yellow]{rejected} record(s) rejected[/]" + (f", reasons in [bold]{path}[/]" if path else ""))
    console.print(counter_table("rejections by kind", kinds, "kind"))


def load_envs(path: Path, split: str | None = None, limit: int | None = None) -> list[Environment]:
    """The valid environments of a file (invalid ones counted and skipped); a clean error if there are none."""
    if not path.exists():
        fail(f"{path} does not exist")
    rejects = Rejects()
    envs = [e for e in read_environments(path, on_error=rejects) if split is None or e.metadata.split == split]
    if rejects.records:
        console.print(f"[yellow]{rejects.records} invalid environment(s) in {path} skipped[/]")
    if limit is not None:
        envs = envs[:limit]
    if not envs:
        fail(f"no environments in {path}" + (f" with split {split!r}" if split else ""))
    return envs
