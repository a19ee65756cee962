"""Evaluation, the one aggregator of the paper's metrics: per scenario with bootstrap confidence
intervals (independent of the trajectories' order), the label and meaning of each metric, and
before/after comparisons (table and bar chart)."""

from ._compare import compare_rows, plot_comparison, save_figure
from ._report import (
    LABELS,
    MEANINGS,
    METRICS,
    NO_CALL_MARK,
    EvalReport,
    MetricSummary,
    bootstrap,
    evaluate,
    evaluate_metrics,
    load_report,
    metric_summary,
)

__all__ = [
    "LABELS",
    "MEANINGS",
    "METRICS",
    "NO_CALL_MARK",
    "EvalReport",
    "MetricSummary",
    "bootstrap",
    "compare_rows",
    "evaluate",
    "evaluate_metrics",
    "load_report",
    "metric_summary",
    "plot_comparison",
    "save_figure",
]
