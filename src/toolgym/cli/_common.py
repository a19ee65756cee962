"""Shared pieces of the CLI: the console, error exits, summary tables."""

from __future__ import annotations

from collections import Counter
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
