"""Before/after: a table of per-scenario metrics with deltas, and a grouped bar chart (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ._report import LABELS, EvalReport


def compare_rows(a: EvalReport, b: EvalReport, metric: str) -> list[tuple[str, float, float, float]]:
    """(scenario, A, B, B - A) for the scenarios both reports have, ``overall`` last."""
    groups = [g for g in a.order() if g in b.groups]
    return [(g, a.groups[g][metric].mean, b.groups[g][metric].mean,
             b.groups[g][metric].mean - a.groups[g][metric].mean) for g in groups]


def plot_comparison(a: EvalReport, b: EvalReport, path: str | Path, metric: str = "solve_f1") -> Path:
    """Bars of ``metric`` per scenario for A and B, with the bootstrap intervals as error bars."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("charts need matplotlib: pip install 'toolgym[eval]'") from exc
    groups = [g for g in a.order() if g in b.groups]
    fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 2, 4))
    width = 0.38
    for k, (report, color) in enumerate(((a, "#9aa5b1"), (b, "#2f6fdf"))):
        xs = [i + (k - 0.5) * width for i in range(len(groups))]
        s = [report.groups[g][metric] for g in groups]
        means = [100 * x.mean for x in s]
        err = [[100 * (x.mean - x.low) for x in s], [100 * (x.high - x.mean) for x in s]]
        ax.bar(xs, means, width, yerr=err, capsize=3, label=report.name or ("A" if k == 0 else "B"), color=color)
    ax.set_xticks(range(len(groups)), [g.replace("_", "\n") for g in groups])
    ax.set_ylabel(f"{LABELS.get(metric, metric)} (%)")
    ax.set_ylim(0, 105)
    ax.legend()
    ax.set_title(f"{LABELS.get(metric, metric)} before and after")
    return save_figure(fig, path)


def save_figure(fig, path: str | Path) -> Path:
    """Lay out, write as PNG (the folder made if needed) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
