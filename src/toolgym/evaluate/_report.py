"""Solve-P, Solve-R, Solve-F1 (the paper's definitions) and answer accuracy, per scenario and overall,
each with a percentile bootstrap confidence interval over trajectories."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..reward import replay_messages
from ..schema import Environment, Trajectory

METRICS = ("solve_precision", "solve_rate", "solve_f1", "answer_accuracy")
LABELS = {"solve_precision": "Solve-P", "solve_rate": "Solve-R", "solve_f1": "Solve-F1", "answer_accuracy": "Answer acc."}


@dataclass(frozen=True, slots=True)
class MetricSummary:
    mean: float
    low: float
    high: float
    n: int


@dataclass
class EvalReport:
    """``groups[scenario][metric]`` (``overall`` included); counts of failed/truncated episodes."""

    groups: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "counts": self.counts,
                "groups": {g: {m: asdict(s) for m, s in ms.items()} for g, ms in self.groups.items()}}

    def save(self, path: str | Path) -> None:
        from ..io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def order(self) -> list[str]:
        return sorted(self.groups, key=lambda g: (g == "overall", g))


def load_report(path: str | Path) -> EvalReport:
    data = json.loads(Path(path).read_text())
    groups = {g: {m: MetricSummary(**s) for m, s in ms.items()} for g, ms in data["groups"].items()}
    return EvalReport(groups=groups, counts=data.get("counts", {}), name=data.get("name") or Path(path).stem)


def bootstrap(values: list[float], *, resamples: int = 1000, level: float = 0.95, rng: random.Random) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    lo = means[int((1 - level) / 2 * (resamples - 1))]
    hi = means[int((1 + level) / 2 * (resamples - 1))]
    return lo, hi


def _summary(values: list[float], resamples: int, rng: random.Random) -> MetricSummary:
    if not values:
        return MetricSummary(float("nan"), float("nan"), float("nan"), 0)
    lo, hi = bootstrap(values, resamples=resamples, rng=rng)
    return MetricSummary(sum(values) / len(values), lo, hi, len(values))


def evaluate(trajectories: Iterable[Trajectory], envs: Mapping[str, Environment] | None = None, *,
             resamples: int = 1000, seed: int = 0, name: str = "", include_failed: bool = True) -> EvalReport:
    """Aggregate trajectories. With ``envs`` the metrics are recomputed from the messages against each
    environment (a check that the stored metrics are right); trajectories of unknown environments are
    then left out and counted. Failed episodes (a request that failed for good) count with what they
    achieved before failing, unless ``include_failed`` is false; either way their number is reported."""
    rows: dict[str, dict[str, list[float]]] = {}
    counts = {"trajectories": 0, "failed": 0, "truncated": 0, "unknown_env": 0}
    for t in trajectories:
        metrics, scenario = t.metrics, t.scenario
        if envs is not None:
            env = envs.get(t.env_id)
            if env is None:
                counts["unknown_env"] += 1
                continue
            scenario = env.scenario
            metrics = replay_messages(t.messages, env.expected, env.answer)
        counts["failed"] += t.status == "failed"
        if t.status == "failed" and not include_failed:
            continue
        counts["trajectories"] += 1
        counts["truncated"] += t.status == "truncated"
        values = {"solve_precision": metrics.solve_precision, "solve_rate": metrics.solve_rate,
                  "solve_f1": metrics.solve_f1}
        for group in (scenario or "unknown", "overall"):
            g = rows.setdefault(group, {m: [] for m in METRICS})
            for m, v in values.items():
                g[m].append(v)
            if metrics.answer_correct is not None:
                g["answer_accuracy"].append(float(metrics.answer_correct))
    rng = random.Random(seed)
    groups = {g: {m: _summary(vs, resamples, rng) for m, vs in ms.items()} for g, ms in rows.items()}
    return EvalReport(groups=groups, counts=counts, name=name)
