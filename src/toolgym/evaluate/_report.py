"""Solve-P, Solve-R, Solve-F1 (the paper's definitions) and answer accuracy, per scenario and overall,
each with a percentile bootstrap confidence interval over trajectories. The one aggregator of the
library: every table of these metrics (eval, compare, score, the demo, the HTML report) comes from here.

A report does not depend on the order of its trajectories: means are exactly rounded sums, and each
(group, metric) is resampled from its sorted values with a generator seeded by the seed and the names,
so a run killed and resumed (whose lines come in another order) gives the same report as one that was not.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..reward import replay_messages
from ..schema import Environment, Trajectory, TrajectoryMetrics

METRICS = ("solve_precision", "solve_rate", "solve_f1", "answer_accuracy")
LABELS = {"solve_precision": "Solve-P", "solve_rate": "Solve-R", "solve_f1": "Solve-F1", "answer_accuracy": "Answer acc."}
MEANINGS = {
    "solve_precision": "expected items solved per tool call (1 when no call was made, the paper's convention)",
    "solve_rate": "expected items solved per item needed",
    "solve_f1": "2 * solved / (calls + needed)",
    "answer_accuracy": "the final reply contains the gold answer (normalised); it checks the reply, not how it was "
                       "reached, and an episode that ended without a final reply counts as wrong",
}
NO_CALL_MARK = "\u2020"  # marks a Solve-P that is 100 only because no call was made


@dataclass(frozen=True, slots=True)
class MetricSummary:
    mean: float
    low: float
    high: float
    n: int


@dataclass
class EvalReport:
    """``groups[scenario][metric]`` (``overall`` included); counts of failed/truncated episodes;
    ``calls[group]`` the tool calls made and ``no_call[group]`` the trajectories that made none; ``model`` the
    model the trajectories name (several joined by ", "; empty when they name none)."""

    groups: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    name: str = ""
    calls: dict[str, int] = field(default_factory=dict)
    no_call: dict[str, int] = field(default_factory=dict)
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "counts": self.counts, "calls": self.calls, "no_call": self.no_call,
                "groups": {g: {m: asdict(s) for m, s in ms.items()} for g, ms in self.groups.items()}}

    def save(self, path: str | Path) -> None:
        from ..io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def order(self) -> list[str]:
        return sorted(self.groups, key=lambda g: (g == "overall", g))

    def made_no_calls(self, group: str = "overall") -> bool:
        """Whether the trajectories of ``group`` made no tool call at all (their Solve-P is 100 by the
        paper's convention, which says nothing about the model)."""
        return self.calls.get(group) == 0 and self.groups.get(group, {}).get("solve_f1", _EMPTY).n > 0

    def mark(self, group: str, metric: str) -> str:
        """:data:`NO_CALL_MARK` for a Solve-P that is 100 only because no call was made, else ``""``."""
        return NO_CALL_MARK if metric == "solve_precision" and self.made_no_calls(group) else ""

    def cell(self, group: str, metric: str, *, interval: bool = True) -> str:
        """``mean [low, high]`` in percent, marked when it means nothing (see :meth:`mark`); ``-`` if empty."""
        s = self.groups.get(group, {}).get(metric)
        if s is None or s.n == 0:
            return "-"
        text = f"{100 * s.mean:.2f}{self.mark(group, metric)}"
        return f"{text} [{100 * s.low:.1f}, {100 * s.high:.1f}]" if interval else text

    def notes(self) -> list[str]:
        """What a table of this report must say under it: calls that were never made, failed episodes."""
        out = []
        if any(self.made_no_calls(g) for g in self.groups):
            out.append(f"{NO_CALL_MARK} no tool call was made: Solve-P is 100 by the paper's convention, not a result")
        elif self.no_call.get("overall"):
            n = self.groups["overall"]["solve_f1"].n
            out.append(f"{self.no_call['overall']} of {n} trajectories made no tool call; Solve-P counts each as 100 "
                       "(the paper's convention)")
        failed = self.counts.get("failed", 0)
        if failed:
            left_out = self.counts.get("episodes", 0) - self.counts.get("trajectories", 0) >= failed
            out.append(f"{failed} failed episode(s) (the model never answered) "
                       + ("left out" if left_out else "count with what they did before failing"))
        return out

    @property
    def failed_fraction(self) -> float:
        """The share of the episodes that failed (infrastructure: the backend never answered)."""
        episodes = self.counts.get("episodes", self.counts.get("trajectories", 0))
        return self.counts.get("failed", 0) / episodes if episodes else 0.0


_EMPTY = MetricSummary(math.nan, math.nan, math.nan, 0)


def load_report(path: str | Path) -> EvalReport:
    data = json.loads(Path(path).read_text())
    groups = {g: {m: MetricSummary(**s) for m, s in ms.items()} for g, ms in data["groups"].items()}
    return EvalReport(groups=groups, counts=data.get("counts", {}), name=data.get("name") or Path(path).stem,
                      calls=data.get("calls", {}), no_call=data.get("no_call", {}), model=data.get("model") or "")


def bootstrap(values: list[float], *, resamples: int = 1000, level: float = 0.95,
              rng: random.Random) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values``. The values are resampled in sorted
    order, so the interval does not depend on the order they were given in."""
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    n = len(ordered)
    means = sorted(math.fsum(rng.choices(ordered, k=n)) / n for _ in range(resamples))
    lo = means[int((1 - level) / 2 * (resamples - 1))]
    hi = means[int((1 + level) / 2 * (resamples - 1))]
    return lo, hi


def metric_summary(values: list[float], *, resamples: int = 1000, rng: random.Random) -> MetricSummary:
    """Mean (exactly rounded) and bootstrap interval of per-trajectory (or per-item) scores."""
    if not values:
        return _EMPTY
    lo, hi = bootstrap(values, resamples=resamples, rng=rng)
    return MetricSummary(math.fsum(values) / len(values), lo, hi, len(values))


def _report(rows: Iterable[tuple[str | None, TrajectoryMetrics]], counts: dict[str, int], *, resamples: int,
            seed: int, name: str) -> EvalReport:
    values: dict[str, dict[str, list[float]]] = {}
    calls: dict[str, int] = {}
    no_call: dict[str, int] = {}
    for scenario, m in rows:
        for group in (scenario or "unknown", "overall"):
            g = values.setdefault(group, {k: [] for k in METRICS})
            g["solve_precision"].append(m.solve_precision)
            g["solve_rate"].append(m.solve_rate)
            g["solve_f1"].append(m.solve_f1)
            if m.answer_correct is not None:
                g["answer_accuracy"].append(float(m.answer_correct))
            calls[group] = calls.get(group, 0) + m.calls
            no_call[group] = no_call.get(group, 0) + (m.calls == 0)
    groups = {}
    for group in sorted(values, key=lambda g: (g == "overall", g)):
        # one generator per (group, metric): a group's interval does not depend on which groups exist
        groups[group] = {m: metric_summary(vs, resamples=resamples, rng=random.Random(f"{seed}:{group}:{m}"))
                         for m, vs in values[group].items()}
    return EvalReport(groups=groups, counts=counts, name=name, calls=calls, no_call=no_call)


def evaluate_metrics(items: Iterable[tuple[str | None, TrajectoryMetrics]], *, resamples: int = 1000, seed: int = 0,
                     name: str = "") -> EvalReport:
    """Aggregate already-scored trajectories given as ``(scenario, metrics)`` (the reference scripts'
    output, a scripted baseline's episodes)."""
    rows = list(items)
    return _report(rows, {"episodes": len(rows), "trajectories": len(rows), "failed": 0, "truncated": 0,
                          "unknown_env": 0},
                   resamples=resamples, seed=seed, name=name)


def evaluate(trajectories: Iterable[Trajectory], envs: Mapping[str, Environment] | None = None, *,
             resamples: int = 1000, seed: int = 0, name: str = "", include_failed: bool = True) -> EvalReport:
    """Aggregate trajectories. With ``envs`` the metrics are recomputed from the messages against each
    environment (a check that the stored metrics are right); trajectories of unknown environments are
    then left out and counted. Failed episodes (a request that failed for good) count with what they
    achieved before failing, unless ``include_failed`` is false; either way their number is reported."""
    rows: list[tuple[str | None, TrajectoryMetrics]] = []
    counts = {"episodes": 0, "trajectories": 0, "failed": 0, "truncated": 0, "unknown_env": 0}
    models: dict[str, None] = {}
    for t in trajectories:
        if t.model:
            models[t.model] = None
        metrics, scenario = t.metrics, t.scenario
        if envs is not None:
            env = envs.get(t.env_id)
            if env is None:
                counts["unknown_env"] += 1
                continue
            scenario = env.scenario
            replayed = replay_messages(t.messages, env.expected, env.answer)
            # a failed episode's answer is wrong whatever its last message says (as when it was run)
            metrics = replayed if t.status != "failed" else replayed.model_copy(
                update={"answer_correct": False if env.answer is not None else None})
        counts["episodes"] += 1
        counts["failed"] += t.status == "failed"
        if t.status == "failed" and not include_failed:
            continue
        counts["trajectories"] += 1
        counts["truncated"] += t.status == "truncated"
        rows.append((scenario, metrics))
    report = _report(rows, counts, resamples=resamples, seed=seed, name=name)
    report.model = ", ".join(models)
    return report
