"""A suite of benchmark reports for one model, and the combined before/after table of two suites
(markdown, and a PNG of paired bars with the 95% intervals)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..evaluate import MetricSummary, save_figure
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
    """Paired horizontal bars (before, after) per row, with the 95% intervals as error bars."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("charts need matplotlib: pip install 'toolgym[eval]'") from exc
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.4))
    height = 0.38
    for k, (name, color, pick) in enumerate(((before, "#9aa5b1", "before"), (after, "#2f6fdf", "after"))):
        ys = [i + (k - 0.5) * height for i in range(len(rows))]
        vals = [getattr(r, pick) for r in rows]
        means = [0.0 if v is None or v.n == 0 else 100 * v.mean for v in vals]
        err = [[0.0 if v is None or math.isnan(v.low) else max(0.0, 100 * (v.mean - v.low)) for v in vals],
               [0.0 if v is None or math.isnan(v.high) else max(0.0, 100 * (v.high - v.mean)) for v in vals]]
        ax.barh(ys, means, height, xerr=err, capsize=2, color=color, label=name)
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 105)
    ax.set_xlabel("score (%)")
    ax.legend(loc="lower right")
    ax.set_title(f"{before} vs {after}")
    return save_figure(fig, path)
