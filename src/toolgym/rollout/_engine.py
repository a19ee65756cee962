"""Rolling a model out in many environments at once.

Episodes run concurrently (asyncio; ``concurrency`` in flight), their tool calls go to the sandbox in
shared batches, and each finished trajectory is appended to the output as one JSON line.

The output is a :class:`~toolgym.io.Run` whose identity is everything that decides its trajectories:
the backend and model, the environments (a digest of their ids, in order), the samples per environment,
the episode settings and what the caller adds (sampling settings, seed). A rerun of the same identity
skips the (environment, sample) episodes already done, so a run killed at any moment resumes without
losing or duplicating a finished trajectory; a rerun of another identity is refused (``overwrite``
starts again). A request that fails for good is recorded as a ``failed`` trajectory with its reason,
the run goes on, and the next run of the output tries that episode again (its new line replaces the
failed one: :func:`load_trajectories` reads the latest record of each episode). A broken setup (a
:class:`~toolgym.errors.ConfigError` from the backend: a refused key, a model the server does not have)
stops the run with that error, keeping every trajectory finished before it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, FailureKind, SandboxUnavailable
from ..io import Run, digest, latest, read_trajectories
from ..io.jsonl import ErrorSink
from ..models import Backend, GenerationRequest, MicroBatcher
from ..sandbox import ExecRequest, ExecResult, Executor, default_pool
from ..schema import Environment, Trajectory
from ._env import EpisodeConfig, ToolEnv

KIND = "trajectories"


@dataclass(frozen=True, slots=True)
class RolloutConfig:
    samples: int = 1
    concurrency: int = 64
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    tool_batch: int = 512
    tool_wait_s: float = 0.002


@dataclass
class RolloutSummary:
    """What a rollout did. ``failed`` counts this call's failed episodes (a backend that never
    answered: infrastructure, not the model), ``kinds`` them by :class:`~toolgym.errors.FailureKind`,
    ``errors`` by message; ``failed_total`` counts the
    planned episodes not done in the output: their latest record is a failure, or a broken setup stopped
    the run before them (a rerun does them)."""

    planned: int = 0
    skipped: int = 0
    written: int = 0
    failed: int = 0
    truncated: int = 0
    f1_sum: float = 0.0
    seconds: float = 0.0
    usage: dict = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    failed_total: int = 0

    @property
    def mean_f1(self) -> float:
        return self.f1_sum / self.written if self.written else 0.0

    @property
    def failed_fraction(self) -> float:
        """The share of the planned episodes that failed (0 for an empty run)."""
        return self.failed_total / self.planned if self.planned else 0.0


def episode_key(row: Mapping[str, Any]) -> tuple[str, int] | None:
    """The (environment id, sample) an output line records, or None for a line that is no trajectory."""
    env_id = row.get("env_id")
    sample = row.get("sample", 0)
    if not isinstance(env_id, str) or not isinstance(sample, int):
        return None
    return env_id, sample


def _ok(row: Mapping[str, Any]) -> bool:
    return row.get("status") != "failed"


def failure_reason(error: str | None, width: int = 160) -> str:
    """A failure reason short enough to count and print."""
    text = " ".join((error or "unknown error").split())
    return text if len(text) <= width else text[: width - 3] + "..."


def load_trajectories(path: str | Path, on_error: ErrorSink | None = None) -> list[Trajectory]:
    """The trajectories of a rollout output: the latest record of each (environment, sample), so an
    episode that failed and was done again by a resumed run counts once, with its new result."""
    return latest(read_trajectories(path, on_error=on_error), key=lambda t: (t.env_id, t.sample))


def rollout_identity(envs: Sequence[Environment], backend: Backend, config: RolloutConfig,
                     extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What decides a rollout's trajectories (concurrency and batching do not: results do not depend on
    scheduling). ``extra``: what the caller knows that the engine does not (sampling settings, seed,
    the environments file's digest)."""
    return {"backend": getattr(backend, "name", type(backend).__name__), "model": getattr(backend, "model", None),
            "environments": digest(e.id for e in envs), "environment_count": len(envs), "samples": config.samples,
            "episode": asdict(config.episode), **(extra or {})}


async def run_rollouts(envs: Sequence[Environment], backend: Backend, out: str | Path, *,
                       config: RolloutConfig | None = None, executor: Executor | None = None,
                       on_trajectory: Callable[[Trajectory], None] | None = None,
                       on_start: Callable[[int, int], None] | None = None,
                       identity: Mapping[str, Any] | None = None, overwrite: bool = False) -> RolloutSummary:
    """Run every (environment, sample) episode not already done in ``out``; write the manifest.
    ``on_start(planned, done)`` and ``on_trajectory(t)`` drive a progress bar. Raises
    :class:`~toolgym.io.RunRefused` if ``out`` holds another identity's run or another run is writing it."""
    config = config or RolloutConfig()
    executor = executor or default_pool()
    with Run(out, kind=KIND, identity=rollout_identity(envs, backend, config, identity), key=episode_key,
             done=_ok, overwrite=overwrite) as run:
        pairs = [(e, s) for e in envs for s in range(config.samples)]
        todo = [(e, s) for e, s in pairs if not run.is_done((e.id, s))]
        summary = RolloutSummary(planned=len(pairs), skipped=len(pairs) - len(todo))
        if on_start is not None:
            on_start(summary.planned, summary.skipped)
        t0 = time.perf_counter()
        try:
            await _episodes(todo, backend, executor, config, run, summary, on_trajectory)
        finally:  # also when a broken setup stopped the run: the manifest says what is there
            summary.seconds = time.perf_counter() - t0
            summary.usage = dict(getattr(backend, "usage", {}) or {})
            state = run.keys
            summary.failed_total = sum(1 for e, s in pairs if not state.get((e.id, s), False))
            missing = sum(1 for e, s in pairs if (e.id, s) not in state)
            run.save("complete" if summary.failed_total == 0 else "incomplete",
                     counts={"trajectories": len(state), "planned": summary.planned, "failed": summary.failed_total,
                             "not_run": missing, "written_this_run": summary.written,
                             "failed_this_run": summary.failed, "truncated_this_run": summary.truncated,
                             "skipped_already_done": summary.skipped},
                     extra={"backend": getattr(backend, "name", "?"), "model": getattr(backend, "model", None),
                            "concurrency": config.concurrency, "usage": summary.usage,
                            "failures_by_kind": {str(k): n for k, n in summary.kinds.most_common()},
                            "errors": dict(summary.errors.most_common(10)), "seconds": round(summary.seconds, 3)})
    return summary


async def _episodes(todo: list[tuple[Environment, int]], backend: Backend, executor: Executor, config: RolloutConfig,
                    run: Run, summary: RolloutSummary, on_trajectory: Callable[[Trajectory], None] | None) -> None:
    async def run_tools(requests: list[ExecRequest]) -> list[ExecResult]:
        return await asyncio.to_thread(executor.run, requests)

    tools = MicroBatcher(run_tools, max_size=config.tool_batch, max_wait_s=config.tool_wait_s)
    queue: Iterable = iter(todo)

    async def episode(env: Environment, sample: int) -> Trajectory:
        tenv = ToolEnv(env, executor, config.episode)
        tenv.reset(seed=sample)
        key = f"{env.id}#{sample}"
        error, kind = None, FailureKind.BACKEND  # an exception before the step is the backend's
        try:
            while True:
                req = GenerationRequest(messages=list(tenv.messages), tools=env.tools, episode=key,
                                        turn=len(tenv.steps), env=env)
                kind = FailureKind.BACKEND
                gen = (await backend.generate([req]))[0]
                if gen.error:
                    error = gen.error
                    break
                kind = FailureKind.INTERNAL
                _, _, terminated, truncated, _ = await tenv.astep(gen, run_tools=tools.submit)
                if terminated or truncated:
                    break
        except ConfigError:
            raise  # a broken setup (e.g. a refused API key) stops the run: no episode could succeed
        except SandboxUnavailable as exc:
            error, kind = f"{type(exc).__name__}: {exc}", FailureKind.SANDBOX
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            forget = getattr(backend, "forget", None)
            if forget is not None:
                forget(key)
        if error is None:
            return tenv.trajectory(sample=sample, model=backend.model)
        return tenv.trajectory(sample=sample, model=backend.model, status="failed", error=error, error_kind=kind)

    async def worker() -> None:
        for env, sample in queue:
            t = await episode(env, sample)
            run.write(t, key=(t.env_id, t.sample), done=t.status != "failed")
            summary.written += 1
            if t.status == "failed":
                summary.failed += 1
                summary.kinds[t.failure] += 1
                summary.errors[failure_reason(t.error)] += 1
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


def rollout(envs: Sequence[Environment], backend: Backend, out: str | Path, *, config: RolloutConfig | None = None,
            executor: Executor | None = None, on_trajectory: Callable[[Trajectory], None] | None = None,
            on_start: Callable[[int, int], None] | None = None, identity: Mapping[str, Any] | None = None,
            overwrite: bool = False) -> RolloutSummary:
    """Synchronous :func:`run_rollouts` (its own event loop; the backend is closed at the end)."""

    async def main() -> RolloutSummary:
        try:
            return await run_rollouts(envs, backend, out, config=config, executor=executor,
                                      on_trajectory=on_trajectory, on_start=on_start, identity=identity,
                                      overwrite=overwrite)
        finally:
            await backend.aclose()

    return asyncio.run(main())
