"""Evaluation, the one aggregator of the paper's metrics: per scenario with bootstrap confidence
intervals (independent of the trajectories' order), the label and meaning of each metric, before/after
comparisons (table and bar chart), and the chart helpers every picture of the library is drawn and written
with (each one titled, every axis labelled, the labels in the PNG)."""

from ._charts import (
    AxisLabels,
    Chart,
    ChartLabels,
    bar_figure,
    chart_labels,
    curve_figure,
    figure_png,
    line_figure,
    pyplot,
    read_chart_labels,
    save_figure,
)
from ._compare import compare_rows, comparison_figure, plot_comparison
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
    "AxisLabels",
    "Chart",
    "ChartLabels",
    "EvalReport",
    "MetricSummary",
    "bar_figure",
    "bootstrap",
    "chart_labels",
    "compare_rows",
    "comparison_figure",
    "curve_figure",
    "evaluate",
    "evaluate_metrics",
    "figure_png",
    "line_figure",
    "load_report",
    "metric_summary",
    "plot_comparison",
    "pyplot",
    "read_chart_labels",
    "save_figure",
]
