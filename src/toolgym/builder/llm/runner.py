"""The LLM and hybrid builders as a :class:`~toolgym.builder.Builder`: many environments in flight,
handed to the build's one sink (:func:`~toolgym.builder.runner.run_build`) in index order.

The sink gives the file semantics every builder shares: environments appended to ``out`` in index order,
rejections (stage, kind, reason, detail) to ``<out>.rejects.jsonl``, the first ``test_per_scenario`` of
each scenario in the test split, and a rerun with the same options (prompts included) continuing after the
last environment written; a rerun with other options is refused. Every
reply is cached on disk (``<out>.llm-cache`` unless told otherwise), so a rerun, or a resumed run
redoing the indices after the last one written, sends no request for what was asked before.

Environments are built concurrently on one asyncio loop (a window of ``2 * concurrency`` indices in
flight; the client caps requests at ``concurrency``) and handed over in index order. The manifest
records the rejections per stage (in the build statistics) and the tokens per stage: this run's, and
the sum over every run of this output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...models import ReplyCache
from ...sandbox import Executor
from ..config import BuildConfig
from ..pipeline import Rejection, ShardResult, stats_row
from ..runner import BuildReport, BuildState, Progress, run_build
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

    def __init__(self, state: BuildState, n: int):
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


class LLMBuilder:
    """The LLM-driven (``config.mode == "llm"``) or hybrid builder as a :class:`~toolgym.builder.Builder`.
    ``executor``: the sandbox (default: a pool started when the first environment is asked for, closed when
    the sink stops). The prompts are read here, so a bad ``--prompts`` folder stops before the output is
    touched."""

    def __init__(self, config: LLMBuildConfig, *, executor: Executor | None = None):
        self.llm, self.config, self.name = config, config.base, config.mode
        self.prompts = load_prompts(config.prompts_dir)
        self.executor = executor
        self._client: LLMClient | None = None
        self._stopped: int | None = None  # indices tried, when the run's budget ran out before n

    def identity(self) -> dict[str, Any]:
        return self.llm.to_dict(self.prompts.digest)

    def client(self, out: Path) -> LLMClient:
        """The client of this run, its replies cached in ``cache_dir`` (default: ``<out>.llm-cache``)."""
        if self._client is None:
            cache = ReplyCache(self.llm.cache_dir or out.with_name(out.name + ".llm-cache"))
            self._client = LLMClient(self.llm, cache)
        return self._client

    def shards(self, state: BuildState) -> Iterator[ShardResult]:
        client = self.client(state.out)
        executor = self.executor or _executor(self.llm)
        spec = Speculation(state, state.wanted)
        try:
            ctx = Context(self.llm, self.prompts, client, SandboxGate(executor), _world(self.llm), spec.wait)
            start = state.last_index + 1
            budget = self.llm.budget or 10 * (state.wanted - state.written) + 20
            yield from _results(ctx, spec, start, start + budget)
        finally:
            self._stopped = spec.stopped
            if self.executor is None:
                executor.close()

    def manifest(self, state: BuildState) -> dict[str, Any]:
        client = self.client(state.out)
        earlier = ((state.previous or {}).get("llm") or {}).get("usage") or {}
        usage = {k: v.to_dict() for k, v in sorted(client.usage.items())}
        last_run: dict[str, Any] = {"usage": usage, "cache_hits": client.cache.hits}
        if self._stopped is not None:
            last_run["stopped"] = f"budget: tried {self._stopped} indices"
        info = {"model": self.llm.endpoint.model, "base_url": self.llm.endpoint.base_url,
                "cache": str(client.cache.dir), "prompts": self.prompts.digest}
        return {"llm": {**info, "usage": merge_usage(earlier, usage)}, "last_run": last_run}


def llm_builder(config: BuildConfig, **options: Any) -> LLMBuilder:
    """``--builder llm``: the five stages by the model; ``options`` are :class:`LLMBuildConfig`'s fields."""
    executor = options.pop("executor", None)
    return LLMBuilder(LLMBuildConfig(mode="llm", base=config, **options), executor=executor)


def hybrid_builder(config: BuildConfig, **options: Any) -> LLMBuilder:
    """``--builder hybrid``: the procedural skeleton, its surface by the model."""
    executor = options.pop("executor", None)
    return LLMBuilder(LLMBuildConfig(mode="hybrid", base=config, **options), executor=executor)


def build_llm(config: LLMBuildConfig, out: str | Path, n: int, *, executor: Executor | None = None,
              overwrite: bool = False, progress: Progress | None = None) -> BuildReport:
    """Build ``n`` verified environments into ``out`` with the LLM (or hybrid) builder, resuming a
    previous run of the same options. ``executor``: the sandbox (default: a pool started here). The
    manifest is written even when the run stops on an error, with the tokens it spent."""
    return run_build(LLMBuilder(config, executor=executor), out, n, overwrite=overwrite, progress=progress)
