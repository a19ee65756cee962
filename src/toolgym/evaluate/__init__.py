"""Evaluation: the paper's metrics per scenario with bootstrap confidence intervals, and before/after
comparisons (table and bar chart)."""

from ._compare import compare_rows, plot_comparison, save_figure
from ._report import METRICS, EvalReport, MetricSummary, evaluate, load_report

__all__ = ["METRICS", "EvalReport", "MetricSummary", "compare_rows", "evaluate", "load_report", "plot_comparison", "save_figure"]
