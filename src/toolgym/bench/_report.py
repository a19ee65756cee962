"""A benchmark's aggregated result: each metric per category (and overall) with a bootstrap interval,
plus the rows a before/after table shows for it (``headline``). Plain data, saved as JSON."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from ..evaluate import MetricSummary, metric_summary
from ._base import ItemResult


@dataclass
class BenchReport:
    """``groups[group][metric]``: a category of the benchmark, a summary row the benchmark defines
    (e.g. BFCL's ``non_live``), or ``overall``. ``headline`` lists the ``(group, metric)`` pairs shown in
    the combined before/after table; ``counts`` says how many items ran and how many failed, ``failures``
    the failed ones by :class:`~toolgym.errors.FailureKind`."""

    benchmark: str
    model: str = ""
    groups: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    headline: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "model": self.model, "counts": self.counts,
                "failures": self.failures, "notes": self.notes,
                "headline": [list(h) for h in self.headline],
                "groups": {g: {m: asdict(s) for m, s in ms.items()} for g, ms in self.groups.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchReport:
        groups = {g: {m: MetricSummary(**s) for m, s in ms.items()} for g, ms in data.get("groups", {}).items()}
        return cls(benchmark=data["benchmark"], model=data.get("model", ""), groups=groups,
                   headline=[tuple(h) for h in data.get("headline", [])], counts=data.get("counts", {}),
                   notes=list(data.get("notes", [])), failures=dict(data.get("failures") or {}))

    def save(self, path: str | Path) -> Path:
        from ..io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)

    def value(self, group: str, metric: str) -> MetricSummary | None:
        return self.groups.get(group, {}).get(metric)


def load_bench_report(path: str | Path) -> BenchReport:
    return BenchReport.from_dict(json.loads(Path(path).read_text()))


def summary_of(values: list[float], rng: random.Random, resamples: int = 1000) -> MetricSummary:
    """Mean and percentile-bootstrap 95% interval of per-item scores."""
    return metric_summary(values, resamples=resamples, rng=rng)


def combine_means(parts: list[MetricSummary], weighted: bool) -> MetricSummary:
    """A summary row over categories: the mean of the category means (``weighted=False``, BFCL's
    "unweighted accuracy") or the item-weighted mean. The interval is the same combination of the
    category intervals (conservative: it treats the categories as perfectly correlated)."""
    parts = [p for p in parts if p.n > 0]
    if not parts:
        return MetricSummary(math.nan, math.nan, math.nan, 0)
    weights = [p.n if weighted else 1 for p in parts]
    total = sum(weights)

    def mix(attr: str) -> float:
        return sum(w * getattr(p, attr) for w, p in zip(weights, parts)) / total

    return MetricSummary(mix("mean"), mix("low"), mix("high"), sum(p.n for p in parts))


def summarize(benchmark: str, results: Iterable[ItemResult], metrics: tuple[str, ...], *, model: str = "",
              groups_of: Callable[[ItemResult], list[str]] | None = None, seed: int = 0) -> BenchReport:
    """Per-group means with bootstrap intervals; every item also counts in ``overall``. A failed item
    (the backend never answered) scores 0 on every metric, as a benchmark's own scripts count it."""
    rows: dict[str, dict[str, list[float]]] = {}
    counts = {"items": 0, "failed": 0}
    failures: Counter = Counter()
    for r in results:
        counts["items"] += 1
        counts["failed"] += r.status == "failed"
        if r.status == "failed":
            failures[str(r.failure)] += 1
        for g in [*(groups_of(r) if groups_of else [r.category]), "overall"]:
            bucket = rows.setdefault(g, {m: [] for m in metrics})
            for m in metrics:
                bucket[m].append(float(r.metrics.get(m, 0.0)))
    rng = random.Random(seed)
    order = sorted(rows, key=lambda g: (g == "overall", g))
    groups = {g: {m: summary_of(rows[g][m], rng) for m in metrics} for g in order}
    return BenchReport(benchmark=benchmark, model=model, groups=groups, counts=counts,
                       headline=[("overall", m) for m in metrics], failures=dict(failures.most_common()))


def trial_of(item_id: str) -> tuple[str, int]:
    """``(task, trial)`` of an item id: trials after the first are ``<task>@<trial>``."""
    task, _, trial = item_id.rpartition("@")
    return (task, int(trial)) if task and trial.isdigit() else (item_id, 0)


def add_pass_hat_k(rep: BenchReport, results: list[ItemResult], metric: str = "reward", seed: int = 0) -> int:
    """Add tau-bench's pass^k (k = 1..trials) per category and overall to ``rep`` and make them the
    headline: a task with ``c`` successes (reward 1 within 1e-6) out of ``n`` trials scores
    ``C(c, k) / C(n, k)``; the mean over tasks, with a bootstrap interval over tasks. Returns ``n``."""
    n = max((trial_of(r.id)[1] for r in results), default=0) + 1
    per_task: dict[str, dict[str, int]] = {}
    for r in results:
        task = trial_of(r.id)[0]
        won = int(abs(float(r.metrics.get(metric, 0.0)) - 1.0) <= 1e-6)
        per_task.setdefault(r.category, {})[task] = per_task.get(r.category, {}).get(task, 0) + won
    rng = random.Random(seed)
    groups = [*sorted(per_task), "overall"]
    for group in groups:
        counts = [c for ts in per_task.values() for c in ts.values()] if group == "overall" else list(per_task[group].values())
        for k in range(1, n + 1):
            rep.groups.setdefault(group, {})[f"pass^{k}"] = summary_of([comb(c, k) / comb(n, k) for c in counts], rng)
    rep.headline = [(g, f"pass^{k}") for g in groups for k in range(1, n + 1)]
    if n > 1:
        rep.notes.append(f"{n} trials per task; pass^k as tau-bench defines it (C(c,k)/C(n,k), averaged over tasks)")
    return n
