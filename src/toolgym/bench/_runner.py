"""Running a benchmark: many items at once, each result appended to a JSONL file as it finishes.

The output is append-only and resumable: a rerun with the same ``out`` skips the items whose latest
record is ``ok`` and tries the ``failed`` ones again (a failed item is one whose backend never answered).
``<out>.meta.json`` records the benchmark and model of the run, so results of two different models are
never mixed in one file by accident.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, FailureKind, SandboxUnavailable
from ..io import JsonlWriter, atomic_write_text, iter_jsonl
from ._base import BackendFailed, BenchDataError, Benchmark, ItemResult

if TYPE_CHECKING:
    from ..models import Backend
    from ._report import BenchReport


@dataclass
class BenchRun:
    """What a run did: the report over every selected item, the per-item results, and how many items
    were run now versus found already done in ``out``."""

    report: BenchReport
    results: list[ItemResult]
    ran: int
    reused: int


def load_results(path: str | Path) -> dict[str, ItemResult]:
    """The latest record of every item in a results file (later lines win; unreadable lines are skipped)."""
    p = Path(path)
    latest: dict[str, ItemResult] = {}
    if not p.exists():
        return latest
    for _, row in iter_jsonl(p, on_error=lambda *_: None):
        if isinstance(row, dict) and "id" in row and "metrics" in row:
            latest[row["id"]] = ItemResult.from_json(row)
    return latest


def _check_meta(out: Path, meta: dict) -> None:
    path = out.with_name(out.name + ".meta.json")
    if path.exists() and out.exists():
        old = json.loads(path.read_text())
        if old.get("benchmark") != meta["benchmark"] or old.get("model") != meta["model"]:
            raise BenchDataError(f"{out} holds results of {old.get('benchmark')} with model {old.get('model')!r}; "
                                 f"give another --out for {meta['benchmark']} with {meta['model']!r}")
    atomic_write_text(path, json.dumps(meta, indent=2) + "\n")


async def _one(bench: Benchmark, item, backend: Backend) -> ItemResult:
    try:
        return await bench.run_item(item, backend)
    except BackendFailed as exc:
        error, kind = f"backend failed: {exc}", FailureKind.BACKEND
    except ConfigError:
        raise  # a broken setup stops the run instead of failing every item
    except SandboxUnavailable as exc:
        error, kind = f"{type(exc).__name__}: {exc}", FailureKind.SANDBOX
    except BenchDataError as exc:
        error, kind = str(exc), FailureKind.DATA
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3).splitlines()[-3:]}"
        kind = FailureKind.INTERNAL
    return ItemResult(item.id, item.category, {m: 0.0 for m in bench.metrics}, status="failed", error=error,
                      error_kind=kind)


async def arun_benchmark(bench: Benchmark, backend: Backend, out: str | Path, *, concurrency: int = 16,
                         limit: int | None = None, on_result: Callable[[ItemResult], None] | None = None,
                         on_start: Callable[[int, int], None] | None = None) -> BenchRun:
    """Run every item of ``bench`` (the first ``limit``) not already done in ``out``; return the report
    over all selected items. ``on_start(total, done)`` and ``on_result(result)`` drive a progress bar."""
    out = Path(out)
    items = bench.items()
    if limit is not None:
        items = items[:limit]
    if not items:
        raise BenchDataError(f"{bench.name}: no items to run")
    _check_meta(out, {"benchmark": bench.name, "model": backend.model})
    latest = load_results(out)
    todo = [it for it in items if it.id not in latest or latest[it.id].status != "ok"]
    if on_start:
        on_start(len(items), len(items) - len(todo))
    sem = asyncio.Semaphore(max(1, concurrency))
    with JsonlWriter(out) as writer:
        async def run(item):
            async with sem:
                result = await _one(bench, item, backend)
            writer.write(result.to_json())
            latest[item.id] = result
            if on_result:
                on_result(result)

        await asyncio.gather(*(run(it) for it in todo))
    results = [latest[it.id] for it in items]
    report = bench.report(results, model=backend.model)
    return BenchRun(report=report, results=results, ran=len(todo), reused=len(items) - len(todo))


def run_benchmark(bench: Benchmark, backend: Backend, out: str | Path, **kwargs) -> BenchRun:
    """Synchronous :func:`arun_benchmark` (its own event loop)."""
    return asyncio.run(arun_benchmark(bench, backend, out, **kwargs))
