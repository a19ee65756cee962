"""Every chart toolgym draws, and the one way it is written.

:func:`save_figure` (to a file) and :func:`figure_png` (to bytes, for the HTML report) refuse a chart that
does not say what it shows -- a figure without a title, a plot axis without a label, a colour bar without
one -- and write the labels into the PNG (``Title``, ``Description`` and a JSON ``toolgym:chart`` entry), so
a test or a reader can check them without looking (:func:`read_chart_labels`). The whole figure is kept:
legends and colour-bar labels outside the axes are never clipped.

The drawing helpers cover what the library plots: values per category as lines (Solve-F1 per iteration or
run; series with equal values are drawn once and named together, so no line hides another), numeric
curves (training logs) and paired bars with their confidence intervals, where a missing value is marked
"no result" instead of being drawn as a bar of height 0.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._report import MetricSummary

#: colours of the series (colour-blind friendly), markers and dashes cycled with them, so series
#: stay apart in print too
_COLOURS = ("#2f6fdf", "#e8741c", "#2a9d5b", "#c0392b", "#8e44ad", "#7f8c8d", "#b8860b", "#17becf")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DASHES = ("-", "--", "-.", ":")
_PNG_KEY = "toolgym:chart"
_DPI = 120


@dataclass(frozen=True, slots=True)
class AxisLabels:
    title: str
    xlabel: str
    ylabel: str


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """What a chart says it shows: its title and, per plot (colour bars included), the axis labels."""

    title: str
    axes: tuple[AxisLabels, ...]

    def to_json(self) -> str:
        return json.dumps({"title": self.title, "axes": [asdict(a) for a in self.axes]}, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> ChartLabels:
        data = json.loads(text)
        return cls(data["title"], tuple(AxisLabels(**a) for a in data["axes"]))

    @property
    def alt(self) -> str:
        """A one-line description for an ``<img alt>``."""
        plots = [a for a in self.axes if a.xlabel]
        parts = [f"{a.ylabel} by {a.xlabel}" for a in plots]
        return f"{self.title}: {'; '.join(dict.fromkeys(parts))}" if parts else self.title


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart drawn to PNG bytes, with its labels."""

    png: bytes
    labels: ChartLabels


def pyplot():
    """matplotlib's pyplot on the file-only backend, or a :class:`ConfigError` naming the extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("charts need matplotlib: pip install 'toolgym[eval]'") from exc
    return plt


def chart_labels(fig) -> ChartLabels:
    """The labels of ``fig``; a ``ValueError`` naming what is missing if the chart does not say what it
    shows (a title, on the figure or on every plot; both axis labels of every plot; a colour bar's label)."""
    suptitle = fig.get_suptitle()
    axes, missing = [], []
    for i, ax in enumerate(a for a in fig.axes if a.get_visible()):
        labels = AxisLabels(ax.get_title(), ax.get_xlabel(), ax.get_ylabel())
        if ax.get_label() == "<colorbar>":  # the label runs along the bar; the other side has no ticks
            if not (labels.ylabel or labels.xlabel):
                missing.append(f"the colour bar (plot {i}) has no label")
        else:
            if not labels.xlabel:
                missing.append(f"plot {i} has no x-axis label")
            if not labels.ylabel:
                missing.append(f"plot {i} has no y-axis label")
            if not (labels.title or suptitle):
                missing.append(f"plot {i} has no title")
        axes.append(labels)
    if not axes:
        missing.append("the figure has no plot")
    if missing:
        raise ValueError("a chart must say what it shows: " + "; ".join(missing))
    title = suptitle or next(a.title for a in axes if a.title)
    return ChartLabels(title, tuple(axes))


def _png(fig) -> Chart:
    labels = chart_labels(fig)
    plt = pyplot()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=0.15,
                    metadata={"Title": labels.title, "Description": labels.alt, _PNG_KEY: labels.to_json()})
    finally:
        plt.close(fig)
    return Chart(buf.getvalue(), labels)


def figure_png(fig) -> Chart:
    """Draw and close ``fig``: its PNG bytes (labels in the metadata) and its labels."""
    return _png(fig)


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (the folder made if needed; labels in the metadata) and close it."""
    chart = _png(fig)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(chart.png)
    return out


def read_chart_labels(png: bytes | str | Path) -> ChartLabels | None:
    """The labels a chart written here carries (``None`` for a PNG written elsewhere)."""
    from PIL import Image

    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        text = getattr(image, "text", {}).get(_PNG_KEY)
    return ChartLabels.from_json(text) if text else None


def _style(i: int) -> dict[str, Any]:
    return {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i % len(_MARKERS)],
            "linestyle": _DASHES[(i // len(_COLOURS)) % len(_DASHES)]}


def _merge_equal(series: Mapping[str, Sequence[float | None]]) -> list[tuple[str, list[float | None]]]:
    """Series with the same values drawn once, named together (else the last one drawn hides the others)."""
    merged: dict[tuple, list[str]] = {}
    for name, values in series.items():
        key = tuple(None if v is None or (isinstance(v, float) and math.isnan(v)) else round(v, 9) for v in values)
        merged.setdefault(key, []).append(name)
    out = []
    for key, names in merged.items():
        label = names[0] if len(names) == 1 else f"{', '.join(names)} (equal)"
        out.append((label, list(key)))
    return out


def line_figure(categories: Sequence[str], series: Mapping[str, Sequence[float | None]], *, title: str,
                xlabel: str, ylabel: str, percent: bool = True, emphasise: str = "overall"):
    """One line per series over categorical x values (iterations, runs); ``None`` is a missing point.
    With ``percent`` the y axis spans 0-100 whatever the values (a flat 0 is drawn as 0, not zoomed in on),
    and each point of ``emphasise`` is labelled with its value."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    xs = list(range(len(categories)))
    for i, (label, values) in enumerate(_merge_equal(series)):
        pts = [(x, v) for x, v in zip(xs, values) if v is not None]
        if not pts:
            continue
        bold = label == emphasise or label.startswith(f"{emphasise},") or f", {emphasise}" in label
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, linewidth=2.6 if bold else 1.4,
                markersize=7 if bold else 5, zorder=3 if bold else 2, **_style(i))
        if bold:
            for x, v in pts:
                ax.annotate(f"{v:.1f}", (x, v), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_xticks(xs, list(categories), rotation=15 if max(map(len, categories), default=0) > 12 else 0)
    if percent:
        ax.set_ylim(-3, 105)
    ax.margins(x=0.08)
    ax.grid(axis="y", alpha=0.3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def curve_figure(series: Mapping[str, Sequence[tuple[float, float]]], *, title: str, xlabel: str, ylabel: str,
                 bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None):
    """Numeric curves (x, y) per series, with optional shaded bands (x, low, high) of the same names."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    many = sum(1 for pts in series.values() if pts) > 1
    for i, (name, pts) in enumerate(series.items()):
        if not pts:
            continue
        style = _style(i)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, color=style["color"],
                linestyle=style["linestyle"], marker="." if len(pts) <= 60 else None, linewidth=1.6)
        band = (bands or {}).get(name)
        if band:
            ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band],
                            color=style["color"], alpha=0.15, linewidth=0)
    ax.grid(alpha=0.3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if many:
        ax.legend(fontsize=8, frameon=False)
    return fig


def _present(s: MetricSummary | None) -> bool:
    return s is not None and s.n > 0 and not math.isnan(s.mean)


def bar_figure(categories: Sequence[str], series: Mapping[str, Sequence[MetricSummary | None]], *, title: str,
               value_label: str, category_label: str, horizontal: bool = False):
    """Grouped bars in percent (one colour per series) with the bootstrap intervals as error bars. A missing
    value (``None``, or nothing measured) draws no bar but the words "no result", so it cannot be read as 0."""
    plt = pyplot()
    n = max(len(series), 1)
    bars = n * len(categories)
    size = (8.2, 0.3 * bars + 1.6) if horizontal else (min(10.0, max(5.5, 0.4 * bars + 2.4)), 4.2)
    fig, ax = plt.subplots(figsize=size)
    width = 0.8 / n
    missing = False
    for k, (name, values) in enumerate(series.items()):
        pos = [i + (k - (n - 1) / 2) * width for i in range(len(categories))]
        shown = [(p, v) for p, v in zip(pos, values) if _present(v)]
        means = [100 * v.mean for _, v in shown]
        err = [[0.0 if math.isnan(v.low) else max(0.0, 100 * (v.mean - v.low)) for _, v in shown],
               [0.0 if math.isnan(v.high) else max(0.0, 100 * (v.high - v.mean)) for _, v in shown]]
        draw = ax.barh if horizontal else ax.bar
        kw = {"xerr": err} if horizontal else {"yerr": err}
        # two series are before/after: grey, then blue
        colour = ("#9aa5b1", "#2f6fdf")[k] if n == 2 else _COLOURS[k % len(_COLOURS)]
        draw([p for p, _ in shown], means, width, capsize=2, color=colour, label=name, **kw)
        for (p, v), mean, up in zip(shown, means, err[1]):
            if bars > 12 and mean > 0:  # crowded: only a real 0 is written out (it has no bar to see)
                continue
            if horizontal:
                ax.text(mean + up + 0.8, p, f"{mean:.1f}", va="center", ha="left", fontsize=7)
            else:
                ax.text(p, mean + up + 0.8, f"{mean:.1f}", va="bottom", ha="center", fontsize=7)
        for p, v in zip(pos, values):
            if not _present(v):
                missing = True
                if horizontal:
                    ax.text(1, p, "no result", va="center", ha="left", fontsize=7, color="#8a1c1c", style="italic")
                else:
                    ax.text(p, 1, "no result", va="bottom", ha="center", fontsize=7, color="#8a1c1c",
                            style="italic", rotation=90)
    ticks = list(range(len(categories)))
    if horizontal:
        ax.set_yticks(ticks, list(categories), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 110)
        ax.set_xlabel(value_label)
        ax.set_ylabel(category_label)
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xticks(ticks, [c.replace("_", "\n") for c in categories])
        ax.set_ylim(0, 110)
        ax.set_ylabel(value_label)
        ax.set_xlabel(category_label)
        ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title + ("\n(no result: not measured, not a score of 0)" if missing else ""),
                 fontsize=None if not missing else 10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig
