"""Running a build: every builder feeds one ordered, resumable sink.

A :class:`Builder` -- procedural, LLM or hybrid, chosen by name through :data:`BUILDERS` -- says what
decides its output (``identity``) and yields, from the index after the last one written, one result per
range of consecutive indices in index order (``shards``): verified environments as JSON lines and the
rejections. :func:`run_build` is the sink every builder writes through: the output is a
:class:`~toolgym.io.Run` whose identity is the builder's, so a rerun with the same configuration continues
after the last environment written (the output is append-only), a rerun with another is refused
(``overwrite`` starts again), and two builds of one output cannot run at once. It writes the first ``n``
verified environments, the first ``test_per_scenario`` of each scenario in the test split, rejections (stage,
kind, reason) to ``<out>.rejects.jsonl``, and a manifest with the build statistics and what the builder adds
(an LLM's tokens), also when the run stops on an error.

Every procedural environment is a function of (seed, index), and its shards are consumed in index order,
so the output is byte-identical whatever ``workers`` is, or whether Ray ran it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigError
from ..io import JsonlWriter, Line, Run, atomic_write_text
from ..registry import lookup
from .config import BuildConfig
from .pipeline import Rejection, ShardResult, build_shard, world_for
from .stats import BuildStats

#: Builders by name (``toolgym build --builder``), as ``module:factory``; a factory takes the build
#: configuration and the builder's own options and returns a :class:`Builder`.
BUILDERS = {"procedural": "toolgym.builder.runner:ProceduralBuilder",
            "llm": "toolgym.builder.llm.runner:llm_builder",
            "hybrid": "toolgym.builder.llm.runner:hybrid_builder"}
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


@dataclass
class BuildState:
    """One run of a build as the sink sees it: the output, what the run wants, the manifest an earlier run
    left (``None`` for a new output) and what the output holds so far (read back when a build resumes)."""

    out: Path
    wanted: int
    previous: Mapping[str, Any] | None = None
    last_index: int = -1
    written: int = 0
    new: int = 0  # written by this run
    tests: Counter = field(default_factory=Counter)
    stats: BuildStats = field(default_factory=BuildStats)


@runtime_checkable
class Builder(Protocol):
    """A source of environments by index, written by :func:`run_build`.

    ``config``: the options every builder shares (seed, scenario mix, test split per scenario).
    ``identity()``: what decides the output (a resume with another identity is refused).
    ``shards(state)``: results of consecutive indices from ``state.last_index + 1``, in index order, until
    the sink stops asking (or the builder's budget is spent); the sink closes the iterator, which releases
    what the builder started (processes, a sandbox, an event loop). ``state.wanted`` and ``state.written``
    say how many are still needed.
    ``manifest(state)``: what the builder adds to the manifest (entries of ``last_run`` are merged into the
    sink's own); called when the run starts and when it ends."""

    name: str
    config: BuildConfig

    def identity(self) -> dict[str, Any]: ...

    def shards(self, state: BuildState) -> Iterator[ShardResult]: ...

    def manifest(self, state: BuildState) -> dict[str, Any]: ...


def make_builder(name: str, config: BuildConfig, **options: Any) -> Builder:
    """The builder registered as ``name`` in :data:`BUILDERS`, made from the build configuration and its
    own options (``workers``, ``ray_address`` for ``procedural``; the LLM's settings for ``llm`` and
    ``hybrid``, see :class:`~toolgym.builder.llm.LLMBuildConfig`)."""
    return lookup(BUILDERS, name, what="builder", flag="--builder")(config, **options)


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


class ProceduralBuilder:
    """The paper's five stages over a seeded world, shards verified in the sandbox, spread over ``workers``
    local processes or the Ray cluster at ``ray_address``."""

    name = "procedural"

    def __init__(self, config: BuildConfig, *, workers: int = 1, ray_address: str | None = None):
        self.config, self.workers, self.ray_address = config, workers, ray_address

    def identity(self) -> dict[str, Any]:
        return self.config.to_dict()

    def shards(self, state: BuildState) -> Iterator[ShardResult]:
        start = state.last_index + 1
        if self.ray_address:
            return _ray(self.config, start, self.ray_address, self.workers)
        return _local(self.config, start, self.workers)

    def manifest(self, state: BuildState) -> dict[str, Any]:
        return {}


# ---- the sink --------------------------------------------------------------------------------------------

def _read_back(state: BuildState) -> None:
    """What an earlier run of the same identity wrote: the last index, the statistics, and the rejections
    before that index (the later ones are redone, so they are dropped from the rejects file)."""
    from ..schema import Environment
    from .pipeline import stats_row

    with open(state.out, encoding="utf-8") as f:
        for line in f:
            env = Environment.model_validate_json(line)
            state.stats.add(stats_row(env))
            state.tests[env.scenario] += env.metadata.split == "test"
            state.last_index = env.metadata.extra["index"]
            state.written += 1
    rejects = rejects_path(state.out)
    kept = []
    if rejects.exists():
        for line in rejects.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["index"] < state.last_index:
                kept.append(line)
                state.stats.reject(Rejection.from_dict(r))
    atomic_write_text(rejects, "".join(k + "\n" for k in kept))


def run_build(builder: Builder, out: str | Path, n: int, *, overwrite: bool = False,
              progress: Progress | None = None) -> BuildReport:
    """Write ``n`` verified environments of ``builder`` into ``out`` (JSONL), resuming a previous run of the
    same identity. The manifest is written when the run starts and when it ends, also on an error."""
    out = Path(out)
    t0 = time.perf_counter()
    with Run(out, kind="build", identity=builder.identity(), overwrite=overwrite, owns=[rejects_path(out)],
             seed=builder.config.seed) as run:
        state = BuildState(out, n, run.previous)
        if run.resumed:
            _read_back(state)

        def save() -> BuildReport:
            seconds = time.perf_counter() - t0
            stats, extra = state.stats.to_dict(), dict(builder.manifest(state))
            last_run = {"new": state.new, "seconds": round(seconds, 3), **extra.pop("last_run", {})}
            run.save("complete" if state.written >= n else "running",
                     counts={"written": state.written, "rejected": state.stats.rejected},
                     extra={"builder": builder.name, "wanted": n, "stats": stats, "last_run": last_run, **extra})
            return BuildReport(out, state.written, state.new, seconds, stats)

        save()
        try:
            if state.written < n:
                shards = builder.shards(state)
                with JsonlWriter(rejects_path(out)) as rejects:
                    try:
                        _consume(builder.config, shards, state, run, rejects, progress)
                    finally:
                        shards.close()
        finally:
            report = save()
    return report


def build(config: BuildConfig, out: str | Path, n: int, *, workers: int = 1, ray_address: str | None = None,
          overwrite: bool = False, progress: Progress | None = None) -> BuildReport:
    """Build ``n`` verified environments into ``out`` (JSONL) with the procedural builder, resuming a
    previous run if there is one."""
    return run_build(ProceduralBuilder(config, workers=workers, ray_address=ray_address), out, n,
                     overwrite=overwrite, progress=progress)


def _consume(config: BuildConfig, shards: Iterator[ShardResult], state: BuildState, run: Run,
             rejects: JsonlWriter, progress: Progress | None) -> None:
    """Write shard results in index order until ``state.wanted`` environments are written."""
    stats, n = state.stats, state.wanted
    for shard in shards:
        pending = sorted([(r.index, 1, r) for r in shard.rejections] +
                         [(i, 0, (s, line, row)) for (i, s, line), row in zip(shard.lines, shard.rows)],
                         key=lambda x: x[0])
        for _index, kind, item in pending:
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
            state.new += 1
            if state.written >= n:
                break
        if progress:
            progress(state.written, n, stats.rejected)
        if state.written >= n:
            break
