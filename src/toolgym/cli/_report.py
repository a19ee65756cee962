"""The table of the paper's metrics that eval, compare and score print, with what it must say under it
(calls never made, failed episodes, what answer accuracy means)."""

from __future__ import annotations

from rich.table import Table

from ..evaluate import LABELS, MEANINGS, METRICS, EvalReport


def answer_note() -> str:
    return f"{LABELS['answer_accuracy']}: {MEANINGS['answer_accuracy']}."


def report_table(report: EvalReport, title: str | None = None) -> Table:
    """Every metric per scenario with its 95% interval; under it, the marks' meaning and the notes."""
    table = Table(title=title or report.name or "evaluation", show_edge=False,
                  caption="\n".join([*report.notes(), answer_note()]), caption_justify="left")
    table.add_column("scenario")
    table.add_column("n", justify="right")
    for m in METRICS:
        table.add_column(f"{LABELS[m]} [95% CI]", justify="right")
    for g in report.order():
        table.add_row(g, str(report.groups[g]["solve_f1"].n), *[report.cell(g, m) for m in METRICS])
    return table
