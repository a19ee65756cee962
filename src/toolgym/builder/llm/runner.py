"""Running an LLM or hybrid build: many environments in flight, written in index order, resumable.

The same file semantics as the procedural runner (:mod:`toolgym.builder.runner`, whose run and
writing code this reuses): environments are appended to ``out`` in index order, rejections (stage,
reason, detail) to ``<out>.rejects.jsonl``, the first ``test_per_scenario`` of each scenario form the
test split, and a rerun with the same options (prompts included) continues after the last environment
written; a rerun with other options is refused. Every
reply is cached on disk (``<out>.llm-cache`` unless told otherwise), so a rerun, or a resumed run
redoing the indices after the last one written, sends no request for what was asked before.

Environments are built concurrently on one asyncio loop (a window of ``2 * concurrency`` indices in
flight; the client caps requests at ``concurrency``) and handed over in index order. The manifest
records the rejections per stage (in the build statistics) and the tokens per stage: this run's, and
the sum over every run of this output.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...io import JsonlWriter, Run
from ...models import ReplyCache
from ...sandbox import Executor
from ..pipeline import Rejection, ShardResult, stats_row
from ..runner import BuildReport, Progress, _consume, open_run, rejects_path
from .client import LLMClient, merge_usage
from .config import LLMBuildConfig
from .deploy import SandboxGate
from .pipeline import Context, build_one
from .prompts import load_prompts


def _shard(made, index: int) -> ShardResult:
    out = ShardResult(attempted=1)
    if isinstance(made, Rejection):
        out.rejections.append(made)
    else:
        out.lines.append((index, made.scenario or "", made.model_dump_json()))
        out.rows.append(stats_row(made))
    return out


def _rejected(task: asyncio.Task) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None and isinstance(task.result(), Rejection)


class Speculation:
    """Which environments may send requests: environment ``i`` may, unless ``n`` environments would be
    written even if every earlier unfinished one succeeded. The earliest unfinished one always may (no
    deadlock); later ones wait, near the end of a build, until earlier ones are rejected. So nothing is
    paid for an index the build turns out not to need, and a rerun sends no request at all: past the last
    index it needs, no environment is ever allowed to miss the cache."""

    def __init__(self, state, n: int):
        self.state, self.n = state, n
        self.pending: dict[int, asyncio.Task] = {}
        self.stopped: int | None = None  # indices tried, when the run's budget ran out before n
        self._changed: asyncio.Condition | None = None

    def _may(self, index: int) -> bool:
        ahead = sum(1 for j, t in self.pending.items() if j < index and not _rejected(t))
        return self.state.written + ahead < self.n

    async def wait(self, index: int) -> None:
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            await self._changed.wait_for(lambda: self._may(index))

    async def changed(self, *_) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    def start(self, loop, index: int, coro) -> None:
        task = self.pending[index] = loop.create_task(coro)
        task.add_done_callback(lambda _: loop.create_task(self.changed()) if not loop.is_closed() else None)


def _results(ctx: Context, spec: Speculation, start: int, stop: int) -> Iterator[ShardResult]:
    """One result per index from ``start``, in order, until ``stop`` (the run's budget)."""
    loop = asyncio.new_event_loop()
    window = 2 * ctx.config.endpoint.concurrency
    pending, nxt = spec.pending, start
    try:
        while True:
            while nxt < stop and len(pending) < window:
                spec.start(loop, nxt, build_one(ctx, nxt))
                nxt += 1
            if not pending:
                spec.stopped = stop - start
                return
            index = min(pending)
            made = loop.run_until_complete(pending[index])  # still pending while awaited: it counts ahead
            del pending[index]
            yield _shard(made, index)
            loop.run_until_complete(spec.changed())  # what was written changed what may be asked
    finally:
        for task in pending.values():
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending.values(), return_exceptions=True))
        loop.run_until_complete(ctx.client.aclose())
        loop.close()
        ctx.sandbox.drain()  # a cancelled environment's sandbox run ends before the pool may be closed


def _executor(config: LLMBuildConfig):
    from ...sandbox import SandboxLimits, SandboxPool

    return SandboxPool(workers=config.sandbox_workers, limits=SandboxLimits(timeout_s=config.tool_timeout_s)).start()


def _world(config: LLMBuildConfig):
    if config.mode != "hybrid":
        return None
    from ..world import make_world

    return make_world(config.base.world, config.seed)


@dataclass
class _Build:
    """One run of a build: what its manifest is written from."""

    config: LLMBuildConfig
    out: Path
    n: int
    run: Run
    state: Any  # the procedural runner's resume state (written, last index, statistics)
    client: LLMClient
    info: dict[str, Any]
    earlier_usage: dict[str, Any]
    new: int = 0

    def manifest(self, seconds: float, stopped: int | None) -> BuildReport:
        stats, usage = self.state.stats, {k: v.to_dict() for k, v in sorted(self.client.usage.items())}
        last_run = {"new": self.new, "seconds": round(seconds, 3), "usage": usage, "cache_hits": self.client.cache.hits}
        if stopped is not None:
            last_run["stopped"] = f"budget: tried {stopped} indices"
        summary = stats.to_dict()
        self.run.save("complete" if stats.written >= self.n else "running",
                      counts={"written": stats.written, "rejected": stats.rejected},
                      extra={"wanted": self.n, "stats": summary, "last_run": last_run,
                             "llm": {**self.info, "usage": merge_usage(self.earlier_usage, usage)}})
        return BuildReport(self.out, stats.written, self.new, seconds, summary)


def build_llm(config: LLMBuildConfig, out: str | Path, n: int, *, executor: Executor | None = None,
              overwrite: bool = False, progress: Progress | None = None) -> BuildReport:
    """Build ``n`` verified environments into ``out`` with the LLM (or hybrid) builder, resuming a
    previous run of the same options. ``executor``: the sandbox (default: a pool started here). The
    manifest is written even when the run stops on an error, with the tokens it spent."""
    out = Path(out)
    t0 = time.perf_counter()
    prompts = load_prompts(config.prompts_dir)
    run, state = open_run(config.to_dict(prompts.digest), config.seed, out, overwrite)
    with run:
        earlier = run.previous or {}
        cache = ReplyCache(config.cache_dir or out.with_name(out.name + ".llm-cache"))
        info = {"model": config.endpoint.model, "base_url": config.endpoint.base_url, "cache": str(cache.dir),
                "prompts": prompts.digest}
        build = _Build(config, out, n, run, state, LLMClient(config, cache), info,
                       (earlier.get("llm") or {}).get("usage") or {})
        run.save("running", counts={"written": state.written}, extra={"wanted": n, "llm": info})
        own = executor is None
        executor = executor or _executor(config)
        spec = Speculation(state, n)
        try:
            if state.written >= n:
                asyncio.run(build.client.aclose())
            else:
                ctx = Context(config, prompts, build.client, SandboxGate(executor), _world(config), spec.wait)
                budget = config.budget or 10 * (n - state.written) + 20
                results = _results(ctx, spec, state.last_index + 1, state.last_index + 1 + budget)
                with JsonlWriter(rejects_path(out)) as rejects:
                    try:
                        build.new = _consume(config.base, results, state, n, run, rejects, progress)
                    finally:
                        results.close()
        finally:
            if own:
                executor.close()
            report = build.manifest(time.perf_counter() - t0, spec.stopped)
    return report
