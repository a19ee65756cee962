"""Running a benchmark: many items at once, each result appended to a JSONL file as it finishes.

The output is a :class:`~toolgym.io.Run` of kind ``bench``: append-only and resumable, a rerun with the
same ``out`` skips the items whose latest record is ``ok`` and tries the ``failed`` ones again (a failed
item is one that could not be run: its backend never answered, say). Its identity -- the benchmark, the
backend and model, and what the caller adds (the benchmark's options, the sampling settings) -- is
checked on resume, so results of two models or two configurations are never mixed in one file: another
identity is refused with a message naming ``--overwrite``. A results file written before runs recorded
their identity (``<out>.meta.json`` beside it) is still read by :func:`load_results`, but not resumed.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, FailureKind, SandboxUnavailable
from ..io import Run, RunRefused, iter_jsonl
from ._base import BackendFailed, BenchDataError, Benchmark, ItemResult

if TYPE_CHECKING:
    from ..models import Backend
    from ._report import BenchReport

KIND = "bench"


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


def _item_key(row: Mapping[str, Any]) -> str | None:
    key = row.get("id")
    return key if isinstance(key, str) and "metrics" in row else None


def _older_results(out: Path) -> Path | None:
    """The ``<out>.meta.json`` of a results file written before runs had a manifest, if ``out`` is one."""
    meta = out.with_name(out.name + ".meta.json")
    manifest = out.with_name(out.name + ".manifest.json")
    return meta if meta.exists() and out.exists() and not manifest.exists() else None


def bench_run(bench: Benchmark, backend: Backend, out: Path, *, identity: Mapping[str, Any] | None = None,
              overwrite: bool = False) -> Run:
    """The run of ``bench`` with ``backend`` into ``out`` (not opened yet)."""
    meta = _older_results(out)
    if meta is not None and not overwrite:
        try:
            old = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        raise RunRefused(f"{out} holds results of {old.get('benchmark', '?')} with model {old.get('model', '?')!r} "
                         "written before runs recorded their configuration: they can still be read (bench-compare, "
                         "reports) but not resumed; give another --out, or --overwrite to run them again")
    ident = {"benchmark": bench.name, "backend": getattr(backend, "name", type(backend).__name__),
             "model": backend.model, **(identity or {})}
    return Run(out, kind=KIND, identity=ident, key=_item_key, done=lambda r: r.get("status") == "ok",
               overwrite=overwrite, owns=[out.with_name(out.name + ".meta.json")])


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
                         on_start: Callable[[int, int], None] | None = None,
                         identity: Mapping[str, Any] | None = None, overwrite: bool = False) -> BenchRun:
    """Run every item of ``bench`` (the first ``limit``) not already done in ``out``; return the report
    over all selected items. ``identity``: what the caller adds to the run's identity (the benchmark's
    options, sampling settings); a resume with another is refused, ``overwrite`` starts again.
    ``on_start(total, done)`` and ``on_result(result)`` drive a progress bar."""
    out = Path(out)
    items = bench.items()
    if limit is not None:
        items = items[:limit]
    if not items:
        raise BenchDataError(f"{bench.name}: no items to run")
    with bench_run(bench, backend, out, identity=identity, overwrite=overwrite) as run:
        latest = load_results(out) if run.resumed else {}
        todo = [it for it in items if not run.is_done(it.id)]
        if on_start:
            on_start(len(items), len(items) - len(todo))
        sem = asyncio.Semaphore(max(1, concurrency))

        async def one(item):
            async with sem:
                result = await _one(bench, item, backend)
            run.write(result.to_json(), key=item.id, done=result.status == "ok")
            latest[item.id] = result
            if on_result:
                on_result(result)

        try:
            await asyncio.gather(*(one(it) for it in todo))
        finally:  # also when a broken setup stopped the run: the manifest says what is there
            results = [latest[it.id] for it in items if it.id in latest]
            failed = Counter(str(r.failure) for r in results if r.failure)
            run.save("complete" if len(results) == len(items) and not failed else "incomplete",
                     counts={"items": len(items), "done": len(results) - sum(failed.values()),
                             "failed": sum(failed.values()), "not_run": len(items) - len(results),
                             "run_this_time": len(todo)},
                     extra={"failures_by_kind": dict(failed.most_common())})
    report = bench.report(results, model=backend.model)
    return BenchRun(report=report, results=results, ran=len(todo), reused=len(items) - len(todo))


def run_benchmark(bench: Benchmark, backend: Backend, out: str | Path, **kwargs) -> BenchRun:
    """Synchronous :func:`arun_benchmark` (its own event loop)."""
    return asyncio.run(arun_benchmark(bench, backend, out, **kwargs))
