"""A suite of benchmark reports for one model, and the combined before/after table of two suites
(markdown, and a PNG of paired bars with the 95% intervals)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..evaluate import MetricSummary, bar_figure, save_figure
from ._report import BenchReport


@dataclass
class Suite:
    """Every benchmark report of one model (``name`` labels it in tables: "base", "GRPO", ...)."""

    name: str
    model: str = ""
    reports: dict[str, BenchReport] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "skipped": self.skipped,
                "reports": {k: r.to_dict() for k, r in self.reports.items()}}

    def save(self, path: str | Path) -> Path:
        from ..io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)


def load_suite(path: str | Path) -> Suite:
    data = json.loads(Path(path).read_text())
    if "reports" not in data:  # a single benchmark report
        rep = BenchReport.from_dict(data)
        return Suite(name=Path(path).stem, model=rep.model, reports={rep.benchmark: rep})
    return Suite(name=data.get("name") or Path(path).stem, model=data.get("model", ""),
                 reports={k: BenchReport.from_dict(v) for k, v in data["reports"].items()},
                 skipped=data.get("skipped", {}))


@dataclass(frozen=True)
class Row:
    benchmark: str
    group: str
    metric: str
    before: MetricSummary | None
    after: MetricSummary | None

    @property
    def label(self) -> str:
        return f"{self.benchmark} {self.group} {self.metric}"

    @property
    def delta(self) -> float:
        if self.before is None or self.after is None:
            return math.nan
        return self.after.mean - self.before.mean


def compare_suites(before: Suite, after: Suite) -> list[Row]:
    """One row per headline ``(group, metric)`` of every benchmark either suite has, in their order."""
    rows = []
    for bench in [*before.reports, *(b for b in after.reports if b not in before.reports)]:
        a, b = before.reports.get(bench), after.reports.get(bench)
        heads = list((b or a).headline) + [h for h in (a.headline if a and b else []) if h not in b.headline]
        for group, metric in heads:
            rows.append(Row(bench, group, metric, a.value(group, metric) if a else None,
                            b.value(group, metric) if b else None))
    return rows


def _pct(s: MetricSummary | None) -> str:
    if s is None or s.n == 0 or math.isnan(s.mean):
        return "-"
    if math.isnan(s.low):
        return f"{100 * s.mean:.2f}"
    return f"{100 * s.mean:.2f} [{100 * s.low:.1f}, {100 * s.high:.1f}]"


def markdown_table(rows: list[Row], before: str, after: str) -> str:
    """The table as GitHub markdown: scores in percent with 95% intervals, and the change."""
    lines = [f"| benchmark | group | metric | {before} | {after} | change |", "|---|---|---|---:|---:|---:|"]
    for r in rows:
        d = "-" if math.isnan(r.delta) else f"{100 * r.delta:+.2f}"
        lines.append(f"| {r.benchmark} | {r.group} | {r.metric} | {_pct(r.before)} | {_pct(r.after)} | {d} |")
    return "\n".join(lines) + "\n"


def plot_rows(rows: list[Row], path: str | Path, before: str, after: str) -> Path:
    """Paired horizontal bars (before, after) per row, with the 95% intervals as error bars; a score one
    suite lacks is marked "no result", not drawn as 0."""
    fig = bar_figure([r.label for r in rows], {before: [r.before for r in rows], after: [r.after for r in rows]},
                     title=f"{before} vs {after}", value_label="score (%)",
                     category_label="benchmark, group, metric", horizontal=True)
    return save_figure(fig, path)
