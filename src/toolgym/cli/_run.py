"""Shared pieces of the commands that write a resumable run (rollout, eval, train, loop, import, verify,
score): refusing an output that is one of the inputs, the ``--overwrite`` and ``--max-failed-fraction``
options, and the gate that makes a run whose episodes mostly failed exit non-zero."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..errors import FailureKind
from ..io import RunRefused, check_outputs
from ._common import console, err_console, fail

DEFAULT_MAX_FAILED = 0.1
MaxFailedOpt = Annotated[float, typer.Option(
    "--max-failed-fraction", min=0.0, max=1.0,
    help="Exit non-zero when more than this share of the episodes failed (the model never answered: a server "
         "down, a wrong URL). Finished episodes are kept either way; a rerun retries the failed ones.")]
Overwrite = Annotated[bool, typer.Option(help="Start --out again (delete what an earlier run wrote) instead of "
                                              "resuming it; needed when it was written with other options.")]


def distinct(inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
    """Exit 2 with one line if an output path is one of the input paths (writing it would destroy it)."""
    try:
        check_outputs(inputs, outputs)
    except RunRefused as exc:
        fail(str(exc))


def by_failure_kind(counts: Mapping[str, int]) -> str:
    """Failures counted by :class:`~toolgym.errors.FailureKind`, in words: ``2 backend (the model never
    answered), 1 internal (an error in the code around the model)``."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return ", ".join(f"{n} {kind} ({FailureKind(kind).meaning})" for kind, n in ordered)


def failures_dominate(failed: int, episodes: int, kinds: Counter | None, errors: Counter | None,
                      max_fraction: float, kept: Path | None) -> bool:
    """Say on the console how many episodes failed, of which kind and why; True (after an error line naming
    the fix) when they are more than ``max_fraction`` of ``episodes``. ``kinds`` counts the failures by
    :class:`~toolgym.errors.FailureKind`, ``errors`` by message."""
    if not failed:
        return False
    by_kind = by_failure_kind(kinds or {})
    reasons = "; ".join(f"{reason} ({n}x)" for reason, n in (errors or Counter()).most_common(3))
    console.print(f"[yellow]{failed} of {episodes} episode(s) failed" + (f": {by_kind}" if by_kind else "")
                  + (f" ({escape(reasons)})" if reasons else "") + "[/]")
    if failed <= max_fraction * episodes:
        return False
    where = f"; the finished episodes are kept in {kept}" if kept else ""
    err_console.print(f"[bold red]error:[/] {failed} of {episodes} episodes failed, more than --max-failed-fraction "
                      f"{max_fraction:g}: this is no result{where}. Fix the backend and rerun the same command "
                      "(it retries only the failed episodes), or raise --max-failed-fraction.")
    return True
