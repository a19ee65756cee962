"""Shared pieces of the CLI: the console, error exits, summary tables, loading environments."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..errors import ConfigError, DataFileError
from ..io import Rejects, dataset_id, fetch_dataset, gc_paused, read_environments
from ..schema import Environment

#: torch's CPU threads, on every command that runs a local model (on a busy machine, 1 can beat 2 by far).
Threads = Annotated[int | None, typer.Option(help="torch's CPU threads for a local model (default: one per core; "
                                                  "a small model on a busy machine: 1).")]

console = Console()
err_console = Console(stderr=True)
_debug = False  # ``toolgym --debug``: errors show their traceback


def set_debug(on: bool) -> None:
    global _debug
    _debug = on


def debug_traceback() -> None:
    """With ``--debug``, print the traceback of the exception being handled (if any)."""
    if _debug and sys.exc_info()[0] is not None:
        err_console.print_exception(show_locals=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` (one line, naming the fix) and exit with ``code`` (2: the setup or the input is
    wrong). Called while an exception is handled, ``--debug`` prints its traceback first."""
    debug_traceback()
    # escaped: messages name extras (pip install 'toolgym[train]') that rich would read as style tags
    err_console.print(f"[bold red]error:[/] {escape(message)}")
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


def rejects_summary(kinds: Counter, rejected: int, path: str | None, errors: list | None = None,
                    show: int = 3) -> None:
    """How many records were rejected, by kind, where the reasons are, and the first ``show`` of ``errors``
    (each names file, line and field)."""
    if not rejected:
        return
    console.print(f"[yellow]{rejected} record(s) rejected[/]" + (f", reasons in [bold]{path}[/]" if path else ""))
    console.print(counter_table("rejections by kind", kinds, "kind"))
    for e in (errors or [])[:show]:
        console.print(f"  [red]invalid[/] {e}", highlight=False)


class LoadProgress:
    """A ``progress(done, total)`` callback for the readers that shows a bar only once a load has taken
    more than ``after`` seconds: a quick load prints nothing, a slow one never looks like a hang."""

    def __init__(self, label: str, after: float = 1.0):
        self.label, self.after = label, after
        self.started = time.monotonic()
        self._shown = 0.0
        self._bar: Progress | None = None
        self._task = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.started < self.after or (now - self._shown < 0.1 and done < total):
            return
        self._shown = now
        if self._bar is None:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=max(total, 1))
        self._bar.update(self._task, completed=done, total=max(total, 1))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@contextmanager
def loading(path: Path, label: str | None = None) -> Iterator[LoadProgress]:
    """A :class:`LoadProgress` for reading ``path``; a file that cannot be read is a clean error (exit 2)."""
    bar = LoadProgress(label or f"loading {path.name}")
    try:
        yield bar
    except DataFileError as exc:
        bar.close()
        fail(str(exc))
    finally:
        bar.close()


def envs_source(path: Path | None, flag: str = "--envs") -> Path | None:
    """A local path for an option that names environments: ``path`` itself, or, for a dataset id on the
    Hugging Face Hub (``owner/name`` or ``owner/name:split``, not a local path), the local ``datasets``
    folder it was loaded into (:func:`toolgym.io.fetch_dataset`). A dataset that cannot be loaded is a clean
    error (exit 2). Calling it again on its own result returns that result."""
    if path is None:
        return None
    hub = dataset_id(path)
    if hub is None:
        return path
    try:
        with console.status(f"loading {hub} from the Hugging Face Hub"):
            folder = fetch_dataset(hub)
    except (DataFileError, ConfigError) as exc:
        fail(f"{flag} {exc}".strip())
    err_console.print(f"{flag} {hub}: the Hub dataset, saved in {folder}".strip(), highlight=False)
    return folder


def load_envs(path: Path, split: str | None = None, limit: int | None = None) -> list[Environment]:
    """The valid environments of a file, a ``datasets`` folder or a dataset id on the Hub (invalid ones
    counted, shown and skipped); a clean error if there are none. Only the records of ``split`` are read,
    and reading stops after the first ``limit`` of them."""
    if limit is not None and limit < 0:
        fail(f"--limit must be 0 or more, got {limit}")
    path = envs_source(path)
    if not path.exists():
        fail(f"{path} does not exist")
    rejects = Rejects()
    envs: list[Environment] = []
    with loading(path) as bar, gc_paused():
        if limit != 0:
            for env in read_environments(path, on_error=rejects, split=split, progress=bar):
                envs.append(env)
                if limit is not None and len(envs) >= limit:
                    break
    rejects_summary(rejects.kinds, rejects.records, None, rejects.errors)
    if not envs:
        fail(f"no environments in {path}" + (f" with split {split!r}" if split else ""))
    return envs
