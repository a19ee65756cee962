"""``own``: the held-out toolgym environments (the paper's own test set), rolled out with the rollout
engine and scored with :mod:`toolgym.evaluate` (Solve-P, Solve-R, Solve-F1, answer accuracy per
scenario), reported as a :class:`BenchReport` so it sits in the same before/after table as the public
benchmarks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..evaluate import EvalReport, evaluate
from ..io import Rejects
from ..rollout import RolloutConfig, load_trajectories, run_rollouts
from ._report import BenchReport

if TYPE_CHECKING:
    from ..models import Backend
    from ..sandbox import Executor
    from ..schema import Environment, Trajectory


def from_eval_report(rep: EvalReport, model: str = "") -> BenchReport:
    """An :class:`EvalReport` as a benchmark report; the headline is the paper's Table 1 row (Solve-F1,
    Solve-P, Solve-R overall) and Solve-F1 per scenario."""
    headline = [("overall", m) for m in ("solve_f1", "solve_precision", "solve_rate")]
    headline += [(g, "solve_f1") for g in rep.order() if g != "overall"]
    counts = {"items": rep.counts.get("trajectories", 0), "failed": rep.counts.get("failed", 0)}
    return BenchReport("own", model, groups={g: dict(ms) for g, ms in rep.groups.items()},
                       headline=[h for h in headline if h[0] in rep.groups], counts=counts)


async def arun_own(envs: Sequence[Environment], backend: Backend, out: str | Path, *,
                   config: RolloutConfig | None = None, executor: Executor | None = None,
                   on_trajectory: Callable[[Trajectory], None] | None = None, overwrite: bool = False) -> BenchReport:
    """Roll out (resumable: trajectories already in ``out`` are kept; ``overwrite`` starts again) and
    evaluate against ``envs``."""
    await run_rollouts(envs, backend, out, config=config or RolloutConfig(), executor=executor,
                       on_trajectory=on_trajectory, overwrite=overwrite)
    rejects = Rejects()
    ids = {e.id for e in envs}
    trajectories = [t for t in load_trajectories(Path(out), on_error=rejects) if t.env_id in ids]
    rep = from_eval_report(evaluate(trajectories, {e.id: e for e in envs}, name="own"), backend.model)
    rep.failures = dict(Counter(str(t.failure) for t in trajectories if t.failure).most_common())
    return rep
