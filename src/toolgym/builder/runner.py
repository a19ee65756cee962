"""Running a build: shards over local processes or Ray, in index order, resumable, with a manifest.

Every environment is a function of (seed, index), and shards are consumed in index order, so the
output is byte-identical whatever ``workers`` is, or whether Ray ran it. The build writes the first
``n`` verified environments; rejections (stage, reason) go to ``<out>.rejects.jsonl``. The output is
a :class:`~toolgym.io.Run` whose identity is the build configuration: a rerun with the same
configuration continues after the last environment written (the output is append-only), a rerun with
another is refused (``overwrite`` starts again), and two builds of one output cannot run at once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import JsonlWriter, Line, Run, atomic_write_text
from .config import BuildConfig
from .pipeline import Rejection, ShardResult, build_shard, world_for
from .stats import BuildStats

#: Builders by name (``toolgym build --builder``), as ``module:function``. The LLM-driven and hybrid
#: builders share one function (their config says which); see :mod:`toolgym.builder.llm`.
BUILDERS = {"procedural": "toolgym.builder.runner:build", "llm": "toolgym.builder.llm.runner:build_llm",
            "hybrid": "toolgym.builder.llm.runner:build_llm"}
SHARD = 250  # indices per task: big enough to batch sandbox calls, small enough to spread the work
Progress = Callable[[int, int, int], None]  # (written, wanted, rejected)


@dataclass
class BuildReport:
    out: Path
    written: int
    new: int  # written by this run (the rest was there already)
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.new / self.seconds if self.seconds > 0 else 0.0


def rejects_path(out: Path) -> Path:
    return out.with_name(out.name + ".rejects.jsonl")


# ---- where shards run ----------------------------------------------------------------------------------

_POOL: tuple[int, object] | None = None  # (pid, pool): a forked worker must not use its parent's pool


def _local_pool():
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        from ..sandbox import SandboxPool

        _POOL = (os.getpid(), SandboxPool(workers=1).start())
    return _POOL[1]


def _task(args: tuple[BuildConfig, int, int]) -> ShardResult:
    config, start, stop = args
    return build_shard(config, start, stop, _local_pool())


def _default_signals() -> None:
    """A forked worker ends on SIGTERM (how the pool stops it), whatever handler its parent installed: a
    library's handler that does not exit (one is installed by importing bfcl-eval) hangs the pool."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business


def _ranges(start: int) -> Iterator[tuple[int, int]]:
    while True:
        yield start, start + SHARD
        start += SHARD


def _local(config: BuildConfig, start: int, workers: int) -> Iterator[ShardResult]:
    """Shard results in index order; a window of tasks in flight keeps every process busy."""
    if workers <= 1:
        for a, b in _ranges(start):
            yield _task((config, a, b))
        return
    world_for(config)  # built once here; forked workers inherit it
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_default_signals) as pool:
        window: deque = deque()
        ranges = _ranges(start)
        for _ in range(workers * 2):
            a, b = next(ranges)
            window.append(pool.apply_async(_task, ((config, a, b),)))
        while True:
            result = window.popleft().get()
            a, b = next(ranges)
            window.append(pool.apply_async(_task, ((config, a, b),)))
            yield result


def _ray(config: BuildConfig, start: int, address: str, workers: int) -> Iterator[ShardResult]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'toolgym[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 include_dashboard=False, log_to_driver=False)

    @ray.remote
    class ShardBuilder:  # one warm sandbox per actor
        def build(self, config, a, b):
            return _task((config, a, b))

    actors = [ShardBuilder.remote() for _ in range(max(1, workers))]
    window: deque = deque()
    ranges = _ranges(start)
    for i in range(len(actors) * 2):
        a, b = next(ranges)
        window.append(actors[i % len(actors)].build.remote(config, a, b))
    i = 0
    while True:
        result = ray.get(window.popleft())
        a, b = next(ranges)
        window.append(actors[i % len(actors)].build.remote(config, a, b))
        i += 1
        yield result


# ---- resuming --------------------------------------------------------------------------------------------

@dataclass
class _State:
    last_index: int = -1
    written: int = 0
    tests: Counter = field(default_factory=Counter)
    stats: BuildStats = field(default_factory=BuildStats)


def open_run(identity: dict[str, Any], seed: int | None, out: Path, overwrite: bool) -> tuple[Run, _State]:
    """Open ``out`` as a build run (lock; identity checked, or the output cleared with ``overwrite``) and
    read back what an earlier run of the same identity wrote: the last index, the statistics, and the
    rejections before that index (the later ones are redone)."""
    run = Run(out, kind="build", identity=identity, overwrite=overwrite, owns=[rejects_path(out)], seed=seed).open()
    try:
        return run, _read_back(out) if run.resumed else _State()
    except BaseException:
        run.close()
        raise


def _read_back(out: Path) -> _State:
    from ..schema import Environment
    from .pipeline import stats_row

    state = _State()
    rejects = rejects_path(out)
    with open(out, encoding="utf-8") as f:
        for line in f:
            env = Environment.model_validate_json(line)
            row = stats_row(env)
            state.stats.add(row)
            state.tests[env.scenario] += env.metadata.split == "test"
            state.last_index = env.metadata.extra["index"]
            state.written += 1
    kept = []
    if rejects.exists():
        for line in rejects.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["index"] < state.last_index:
                kept.append(line)
                state.stats.reject(Rejection.from_dict(r))
    atomic_write_text(rejects, "".join(k + "\n" for k in kept))
    return state


# ---- the build -------------------------------------------------------------------------------------------

def build(config: BuildConfig, out: str | Path, n: int, *, workers: int = 1, ray_address: str | None = None,
          overwrite: bool = False, progress: Progress | None = None) -> BuildReport:
    """Build ``n`` verified environments into ``out`` (JSONL), resuming a previous run if there is one."""
    out = Path(out)
    t0 = time.perf_counter()
    run, state = open_run(config.to_dict(), config.seed, out, overwrite)
    with run:
        stats = state.stats
        run.save("running", counts={"written": state.written}, extra={"wanted": n})
        new = 0
        if state.written < n:
            shards = (_ray(config, state.last_index + 1, ray_address, workers) if ray_address
                      else _local(config, state.last_index + 1, workers))
            with JsonlWriter(rejects_path(out)) as rejects:
                try:
                    new = _consume(config, shards, state, n, run, rejects, progress)
                finally:
                    shards.close()
        seconds = time.perf_counter() - t0
        summary = stats.to_dict()
        run.save("complete" if stats.written >= n else "running",
                 counts={"written": stats.written, "rejected": stats.rejected},
                 extra={"wanted": n, "stats": summary, "last_run": {"new": new, "seconds": round(seconds, 3)}})
    return BuildReport(out, stats.written, new, seconds, summary)


def _consume(config: BuildConfig, shards: Iterator[ShardResult], state: _State, n: int, run: Run,
             rejects: JsonlWriter, progress: Progress | None) -> int:
    """Write shard results in order until ``n`` environments are written; returns how many were new."""
    stats, new = state.stats, 0
    for shard in shards:
        pending = sorted([(r.index, 1, r) for r in shard.rejections] +
                         [(i, 0, (s, line, row)) for (i, s, line), row in zip(shard.lines, shard.rows)],
                         key=lambda x: x[0])
        for index, kind, item in pending:
            if kind == 1:
                rejects.write(item.to_dict())
                stats.reject(item)
                continue
            scenario, line, row = item
            if state.tests[scenario] < config.test_per_scenario:
                state.tests[scenario] += 1
                head, _, tail = line.rpartition('"split":"train"')
                line, row = head + '"split":"test"' + tail, {**row, "split": "test"}
            run.write(Line(line))
            stats.add(row)
            state.written += 1
            new += 1
            if state.written >= n:
                break
        if progress:
            progress(state.written, n, stats.rejected)
        if state.written >= n:
            break
    return new
