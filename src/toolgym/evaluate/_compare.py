"""Before/after: a table of per-scenario metrics with deltas, and a grouped bar chart (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from ._charts import bar_figure, save_figure
from ._report import LABELS, EvalReport


def compare_rows(a: EvalReport, b: EvalReport, metric: str) -> list[tuple[str, float, float, float]]:
    """(scenario, A, B, B - A) for the scenarios both reports have, ``overall`` last."""
    groups = [g for g in a.order() if g in b.groups]
    return [(g, a.groups[g][metric].mean, b.groups[g][metric].mean,
             b.groups[g][metric].mean - a.groups[g][metric].mean) for g in groups]


def comparison_figure(a: EvalReport, b: EvalReport, metric: str = "solve_f1", names: tuple[str, str] | None = None):
    """Bars of ``metric`` per scenario for A and B, with the bootstrap intervals as error bars; a scenario
    only one report has is marked "no result" on the other's side."""
    groups = sorted(set(a.groups) | set(b.groups), key=lambda g: (g == "overall", g))
    label = LABELS.get(metric, metric)
    names = names or (a.name or "A", b.name or "B")
    if names[0] == names[1]:
        names = (f"{names[0]} (A)", f"{names[1]} (B)")
    return bar_figure(groups, {names[0]: [a.groups.get(g, {}).get(metric) for g in groups],
                               names[1]: [b.groups.get(g, {}).get(metric) for g in groups]},
                      title=f"{label} before and after", value_label=f"{label} (%)", category_label="scenario")


def plot_comparison(a: EvalReport, b: EvalReport, path: str | Path, metric: str = "solve_f1") -> Path:
    """:func:`comparison_figure` written to ``path`` as PNG."""
    return save_figure(comparison_figure(a, b, metric), path)
