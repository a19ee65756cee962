"""Rolling a model out in many environments at once.

Episodes run concurrently (asyncio; ``concurrency`` in flight), their tool calls go to the sandbox in
shared batches, and each finished trajectory is appended to the output as one JSON line. A rerun with
the same output skips the (environment, sample) pairs already there, so a run killed at any moment
resumes without losing or duplicating a trajectory. A request that fails for good is recorded as a
``failed`` trajectory with its reason, and the run goes on; a broken setup (a
:class:`~toolgym.errors.ConfigError` from the backend: a refused key, a model the server does not
have) stops the run with that error, keeping every trajectory finished before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..io import JsonlWriter, iter_jsonl, write_manifest
from ..models import Backend, GenerationRequest, MicroBatcher
from ..sandbox import ExecRequest, ExecResult, Executor, default_pool
from ..schema import Environment, Trajectory
from ._env import EpisodeConfig, ToolEnv


@dataclass(frozen=True, slots=True)
class RolloutConfig:
    samples: int = 1
    concurrency: int = 64
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    tool_batch: int = 512
    tool_wait_s: float = 0.002


@dataclass
class RolloutSummary:
    planned: int = 0
    skipped: int = 0
    written: int = 0
    failed: int = 0
    truncated: int = 0
    f1_sum: float = 0.0
    seconds: float = 0.0
    usage: dict = field(default_factory=dict)

    @property
    def mean_f1(self) -> float:
        return self.f1_sum / self.written if self.written else 0.0


def finished_pairs(path: str | Path) -> set[tuple[str, int]]:
    """(env_id, sample) pairs already in a trajectory file (unreadable lines do not count)."""
    p = Path(path)
    if not p.exists():
        return set()
    done = set()
    for _, row in iter_jsonl(p, on_error=lambda *_: None):
        if isinstance(row, dict) and "env_id" in row:
            done.add((row["env_id"], int(row.get("sample", 0))))
    return done


async def run_rollouts(envs: Sequence[Environment], backend: Backend, out: str | Path, *,
                       config: RolloutConfig | None = None, executor: Executor | None = None,
                       on_trajectory: Callable[[Trajectory], None] | None = None) -> RolloutSummary:
    config = config or RolloutConfig()
    executor = executor or default_pool()
    done = finished_pairs(out)
    pairs = [(e, s) for e in envs for s in range(config.samples)]
    todo = [(e, s) for e, s in pairs if (e.id, s) not in done]
    summary = RolloutSummary(planned=len(pairs), skipped=len(pairs) - len(todo))
    t0 = time.perf_counter()

    async def run_tools(requests: list[ExecRequest]) -> list[ExecResult]:
        return await asyncio.to_thread(executor.run, requests)

    tools = MicroBatcher(run_tools, max_size=config.tool_batch, max_wait_s=config.tool_wait_s)
    queue: Iterable = iter(todo)
    with JsonlWriter(out) as writer:

        async def episode(env: Environment, sample: int) -> Trajectory:
            tenv = ToolEnv(env, executor, config.episode)
            tenv.reset(seed=sample)
            key = f"{env.id}#{sample}"
            error = None
            try:
                while True:
                    req = GenerationRequest(messages=list(tenv.messages), tools=env.tools, episode=key,
                                            turn=len(tenv.steps), env=env)
                    gen = (await backend.generate([req]))[0]
                    if gen.error:
                        error = gen.error
                        break
                    _, _, terminated, truncated, _ = await tenv.astep(gen, run_tools=tools.submit)
                    if terminated or truncated:
                        break
            except ConfigError:
                raise  # a broken setup (e.g. a refused API key) stops the run: no episode could succeed
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            finally:
                forget = getattr(backend, "forget", None)
                if forget is not None:
                    forget(key)
            return tenv.trajectory(sample=sample, model=backend.model, status="failed" if error else None,
                                   error=error)

        async def worker() -> None:
            for env, sample in queue:
                t = await episode(env, sample)
                writer.write(t)
                summary.written += 1
                summary.failed += t.status == "failed"
                summary.truncated += t.status == "truncated"
                summary.f1_sum += t.metrics.solve_f1
                if on_trajectory is not None:
                    on_trajectory(t)

        workers = [asyncio.ensure_future(worker()) for _ in range(max(1, min(config.concurrency, len(todo))))]
        try:
            await asyncio.gather(*workers)
        finally:  # one worker stopped the run: the others end before the output is closed
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    summary.seconds = time.perf_counter() - t0
    summary.usage = dict(getattr(backend, "usage", {}) or {})
    return summary


def rollout(envs: Sequence[Environment], backend: Backend, out: str | Path, *, config: RolloutConfig | None = None,
            executor: Executor | None = None, on_trajectory: Callable[[Trajectory], None] | None = None,
            manifest: dict | None = None) -> RolloutSummary:
    """Synchronous entry point: run, then write the manifest beside ``out``."""
    config = config or RolloutConfig()

    async def main() -> RolloutSummary:
        try:
            return await run_rollouts(envs, backend, out, config=config, executor=executor, on_trajectory=on_trajectory)
        finally:
            await backend.aclose()

    summary = asyncio.run(main())
    total = len(finished_pairs(out))
    write_manifest(out, kind="trajectories", config={**(manifest or {}), "samples": config.samples,
                                                      "concurrency": config.concurrency,
                                                      "episode": config.episode.__repr__()},
                   counts={"trajectories": total, "written_this_run": summary.written, "failed": summary.failed,
                           "truncated": summary.truncated, "skipped_already_done": summary.skipped},
                   extra={"backend": getattr(backend, "name", "?"), "model": getattr(backend, "model", None),
                          "usage": summary.usage, "seconds": round(summary.seconds, 3)})
    return summary
