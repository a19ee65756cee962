"""``toolgym report RUN_DIR``: one self-contained HTML page for a whole run.

It gathers what the run folder holds -- a loop's iterations (``iter-K/report.json``, training logs
``iter-K/train/log.jsonl``), a single TRL run's ``log.jsonl``, evaluation reports (``*.json``), a weight
analysis (``weights.csv``) -- plus the build statistics of the environments (their manifest) and draws
the evaluation per scenario and iteration, the training curves and the weight-change heatmap. Plots are
embedded as PNG data, styles inline; the only script sorts tables by a click on a header.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
from pathlib import Path
from typing import Any

from ..evaluate import LABELS, METRICS, EvalReport, load_report, plot_comparison
from ..io import iter_jsonl, read_manifest
from .weights import Change, heatmap, read_csv

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d232b;
line-height:1.45;padding:0 1rem}h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #e3e7ec;
padding-bottom:.3rem}.muted{color:#667}table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{border:1px solid #d9dee4;padding:.3rem .6rem;text-align:right}th{background:#f3f5f8;cursor:pointer}
td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #e3e7ec;margin:.5rem 0}
.grid{display:flex;flex-wrap:wrap;gap:1.5rem}.grid>div{flex:1 1 300px}code{background:#f3f5f8;padding:0 .2rem}
"""
_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.asc !== 'true';
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.dataset.asc = asc;
  });
});
document.body.dataset.rendered = 'yes';
"""


def _png(fig_or_path) -> str:
    if isinstance(fig_or_path, (str, Path)):
        data = Path(fig_or_path).read_bytes()
    else:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig_or_path.savefig(buf, format="png", dpi=110)
        plt.close(fig_or_path)
        data = buf.getvalue()
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _counts_tables(stats: dict[str, Any]) -> str:
    parts = []
    scalars = [[k, v] for k, v in stats.items() if not isinstance(v, dict)]
    if scalars:
        parts.append(_table(["figure", "value"], scalars))
    for key, value in stats.items():
        if not isinstance(value, dict) or not any(value.values()):
            continue
        if value and all(isinstance(v, dict) for v in value.values()):
            cols = sorted({c for v in value.values() for c in v})
            parts.append(f"<h3>{html.escape(key)}</h3>" + _table([key] + cols, [[k] + [v.get(c, "") for c in cols]
                                                                                 for k, v in value.items()]))
        else:
            parts.append(f"<h3>{html.escape(key)}</h3>" + _table([key, "count"], [[k, v] for k, v in value.items()]))
    return '<div class="grid">' + "".join(f"<div>{p}</div>" for p in parts) + "</div>"


def _reports(run: Path) -> list[EvalReport]:
    iters = sorted(run.glob("iter-*/report.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    # loose reports are shown in the order they were written (the first one is "before")
    paths = iters or sorted((p for p in run.glob("*.json") if _is_report(p)), key=lambda p: p.stat().st_mtime)
    out = []
    for p in paths:
        r = load_report(p)
        if iters:
            r.name = p.parent.name
        out.append(r)
    return out


def _is_report(path: Path) -> bool:
    try:
        return "groups" in json.loads(path.read_text())
    except (ValueError, OSError):
        return False


def _eval_section(reports: list[EvalReport], folder: Path) -> str:
    if not reports:
        return '<p class="muted">No evaluation reports in this run.</p>'
    groups = sorted({g for r in reports for g in r.groups}, key=lambda g: (g == "overall", g))
    rows = []
    for r in reports:
        for m in METRICS:
            rows.append([r.name, LABELS[m]] + [r.cell(g, m) for g in groups])
    out = _table(["run", "metric"] + groups, rows)
    notes = sorted({f"{r.name}: {n}" for r in reports for n in r.notes()})
    out += "".join(f'<p class="muted">{html.escape(n)}</p>' for n in notes)
    if len(reports) >= 2:
        chart = plot_comparison(reports[0], reports[-1], folder / "_report_compare.png")
        out += _png(chart)
        chart.unlink()
        out += _png(_curve([(r.name, {g: 100 * r.groups[g]["solve_f1"].mean for g in r.groups}) for r in reports],
                           "Solve-F1 (%)", "Solve-F1 per run"))
    return out


def _curve(points: list[tuple[str, dict[str, float]]], ylabel: str, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    series = sorted({k for _, d in points for k in d}, key=lambda g: (g == "overall", g))
    for s in series:
        xs = [i for i, (_, d) in enumerate(points) if s in d]
        ax.plot(xs, [points[i][1][s] for i in xs], marker="o", label=s, linewidth=2.4 if s == "overall" else 1.2)
    ax.set_xticks(range(len(points)), [n for n, _ in points], rotation=20)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _training_section(run: Path) -> str:
    logs = sorted(run.glob("iter-*/train/log.jsonl")) or sorted(run.glob("log.jsonl")) or sorted(run.glob("*/log.jsonl"))
    if not logs:
        return '<p class="muted">No training logs in this run.</p>'
    out = []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for log in logs:
        rows = [r for _, r in iter_jsonl(log, on_error=lambda *_: None) if "step" in r or "loss" in r]
        keys = [k for k in ("loss", "reward", "rewards/toolgym_f1/mean", "kl", "entropy") if any(k in r for r in rows)]
        if not keys:
            continue
        fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
        for ax, k in zip(axes[0], keys):
            pts = [(r.get("step", i), r[k]) for i, r in enumerate(rows) if isinstance(r.get(k), (int, float))]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".")
            ax.set_title(k, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
        fig.suptitle(str(log.relative_to(run)), fontsize=9)
        fig.tight_layout()
        out.append(_png(fig))
    return "".join(out) or '<p class="muted">The training logs hold no curves.</p>'


def _weights_section(changes: list[Change] | None, folder: Path) -> str:
    if not changes:
        return '<p class="muted">No weight analysis (run <code>toolgym analyse weights BASE TRAINED --out RUN_DIR</code>).</p>'
    path = heatmap(changes, folder / "_report_heatmap.png")
    img = _png(path)
    path.unlink()
    top = sorted(changes, key=lambda c: -c.relative)[:12]
    return img + _table(["layer", "module", "relative change"],
                        [["-" if c.layer is None else c.layer, c.module, f"{c.relative:.3e}"] for c in top])


def build_report(run: str | Path, out: str | Path | None = None, *, envs: str | Path | None = None,
                 changes: list[Change] | None = None, title: str | None = None) -> Path:
    from .. import __version__

    run = Path(run)
    out = Path(out) if out else run / "report.html"
    if changes is None and (run / "weights.csv").exists():
        changes = read_csv(run / "weights.csv")
    manifest = read_manifest(envs) if envs else None
    build = _counts_tables(manifest.get("stats") or manifest.get("counts") or {}) if manifest else \
        '<p class="muted">No build statistics (give <code>--envs</code> with a manifest beside it).</p>'
    sections = [
        ("Build", build),
        ("Evaluation", _eval_section(_reports(run), out.parent)),
        ("Training", _training_section(run)),
        ("Where the model changed", _weights_section(changes, out.parent)),
    ]
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(f"<section><h2>{html.escape(h)}</h2>{content}</section>" for h, content in sections)
    page = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title or run.name)}"
            f" - toolgym report</title><style>{_CSS}</style></head><body><h1>{html.escape(title or run.name)}</h1>"
            f"<p class=\"muted\">{html.escape(str(run))} · generated {when} by toolgym {__version__}</p>{body}"
            f"<script>{_JS}</script></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
