"""``toolgym report RUN_DIR``: one self-contained HTML page for a whole run.

It gathers what the run folder holds -- a loop's iterations (``iter-K/report.json``, the evaluation and
training trajectories, training logs ``iter-K/train/log.jsonl``), evaluation reports (``*.json``) with their
trajectories (``*.trajectories.jsonl``), a single TRL run's ``log.jsonl``, a weight analysis
(``weights.csv``) -- plus the build statistics of the environments (their manifest). The page shows the
evaluation per run and scenario, every episode's transcript (a filterable list; a transcript is built when
it is opened), the training curves and the weight-change heatmap. Runs are named by their model (a loop's
by iteration); every chart is titled and labelled. Plots are embedded as PNG data, styles and script
inline: the page needs no network.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..evaluate import (
    LABELS,
    MEANINGS,
    METRICS,
    EvalReport,
    bar_figure,
    comparison_figure,
    curve_figure,
    line_figure,
    load_report,
)
from ..io import iter_jsonl, read_manifest, read_trajectories
from ._page import CSS, JS, STAT_TITLES, chart, esc, json_script, muted, table, title_of
from ._transcripts import TEXT_LIMIT, Source, pack
from .weights import Change, heatmap_figure, read_csv


@dataclass
class _Run:
    """One evaluated run as the page names it."""

    label: str
    model: str
    report: EvalReport
    trajectories: Path | None


def _quiet(*_: Any) -> None:  # unreadable lines are counted where it matters (transcripts), not raised
    return None


def _manifest(path: Path) -> dict[str, Any]:
    try:
        return read_manifest(path) or {}
    except (OSError, ValueError):
        return {}


def _model_of(trajectories: Path | None) -> str:
    """The model a trajectory file names: its manifest's, else its first record's."""
    if trajectories is None or not trajectories.exists():
        return ""
    model = (_manifest(trajectories).get("config") or {}).get("model")
    if model:
        return str(model)
    return next((t.model for t in read_trajectories(trajectories, on_error=_quiet) if t.model), "") or ""


def _short(model: str, run: Path) -> str:
    """A model as the page shows it: a checkpoint inside the run folder by its path there."""
    if not Path(model).is_absolute():
        return model
    try:
        return str(Path(model).resolve().relative_to(run.resolve()))
    except (ValueError, OSError):
        return model


def _is_report(path: Path) -> bool:
    try:
        return "groups" in json.loads(path.read_text())
    except (ValueError, OSError, UnicodeDecodeError):
        return False


def _loop_models(run: Path) -> dict[int, str]:
    if not (run / "progress.jsonl").exists():
        return {}
    return {r["iteration"]: str(r.get("model") or "") for _, r in iter_jsonl(run / "progress.jsonl", on_error=_quiet)
            if isinstance(r, dict) and r.get("stage") == "eval" and isinstance(r.get("iteration"), int)}


def find_runs(run: Path) -> tuple[list[_Run], bool]:
    """The evaluated runs of a folder, first to last, and whether it is a loop's output."""
    iters = sorted(run.glob("iter-*/report.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if iters:
        models = _loop_models(run)
        out = []
        for p in iters:
            k = int(p.parent.name.split("-")[1])
            traj = p.parent / "eval.jsonl"
            report = load_report(p)
            model = models.get(k) or report.model or _model_of(traj)
            out.append(_Run(f"iteration {k}", _short(model, run), report, traj if traj.exists() else None))
        return out, True
    # loose reports in the order they were written (the first one is "before")
    paths = sorted((p for p in run.glob("*.json") if not p.name.endswith(".manifest.json") and _is_report(p)),
                   key=lambda p: p.stat().st_mtime)
    out = []
    for p in paths:
        report = load_report(p)
        traj = p.with_suffix(".trajectories.jsonl")
        traj = traj if traj.exists() else None
        model = report.model or _model_of(traj)
        # a name that is only a file's stem says less than the model
        default = report.name in {p.stem, f"{p.stem}.trajectories", ""}
        label = (model or p.stem) if default else report.name
        out.append(_Run(label, _short(model, run), report, traj))
    seen: dict[str, int] = {}
    for r in out:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r, p in zip(out, paths):
        if seen[r.label] > 1:  # the same model twice: tell them apart by the file
            r.label = f"{r.label} ({p.stem})"
    return out, False


def _eval_section(runs: list[_Run], loop: bool) -> str:
    if not runs:
        return muted("No evaluation reports in this run.")
    rows = []
    for r in runs:
        c = r.report.counts
        rows.append([r.label, r.model or "-", c.get("episodes", c.get("trajectories", 0)), c.get("failed", 0),
                     c.get("truncated", 0)] + [_cell(r.report, "overall", m) for m in METRICS])
    out = ['<h3>Runs (all scenarios)</h3>', table(["run", "model", "episodes", "failed", "truncated"]
                                                   + [LABELS[m] for m in METRICS], rows, numeric={2, 3, 4, 5, 6, 7, 8})]
    notes = sorted({f"{r.label}: {n}" for r in runs for n in r.report.notes()})
    out += [muted(esc(n)) for n in notes]
    charts = []
    groups = sorted({g for r in runs for g in r.report.groups}, key=lambda g: (g == "overall", g))
    if len(runs) >= 2 and groups:
        cats = [r.label.replace("iteration ", "") if loop else r.label for r in runs]
        series = {g: [100 * r.report.groups[g]["solve_f1"].mean if g in r.report.groups else None for r in runs]
                  for g in groups}
        charts.append(chart(line_figure(cats, series, title="Solve-F1 per " + ("iteration" if loop else "run"),
                                        xlabel="iteration (0: the starting model)" if loop else "run",
                                        ylabel="Solve-F1 (%)"), wide=True))
        charts.append(chart(comparison_figure(runs[0].report, runs[-1].report, names=(runs[0].label, runs[-1].label))))
    last = runs[-1]
    if last.report.groups:
        charts.append(chart(bar_figure(groups, {LABELS[m]: [last.report.groups.get(g, {}).get(m) for g in groups]
                                               for m in METRICS},
                                       title=f"Every metric per scenario: {last.label}", value_label="score (%)",
                                       category_label="scenario")))
    out.append('<div class="charts">' + "".join(charts) + "</div>")
    detail = [[r.label, g, r.report.groups[g]["solve_f1"].n] + [_cell(r.report, g, m) for m in METRICS]
              for r in runs for g in r.report.order()]
    out.append(f"<details><summary><strong>Per scenario</strong> ({len(detail)} rows)</summary>"
               + table(["run", "scenario", "trajectories"] + [LABELS[m] for m in METRICS], detail,
                       numeric={2, 3, 4, 5, 6}) + "</details>")
    out.append('<dl class="meanings">' + "".join(f"<dt>{esc(LABELS[m])}</dt><dd>{esc(MEANINGS[m])}</dd>"
                                                   for m in METRICS) + "</dl>")
    return "".join(out)


def _cell(report: EvalReport, group: str, metric: str) -> tuple[str, float] | str:
    s = report.groups.get(group, {}).get(metric)
    return (report.cell(group, metric), s.mean) if s is not None and s.n else "-"


def _sources(run: Path, runs: list[_Run], loop: bool, extra: Sequence[Path]) -> list[Source]:
    """Trajectory files to show: each run's evaluation, a loop's training rollouts, any other trajectory file
    in the folder (by its manifest) and those given."""
    out: list[Source] = []
    seen: set[Path] = set()

    def add(label: str, path: Path, model: str = "") -> None:
        if path.exists() and path.resolve() not in seen:
            seen.add(path.resolve())
            out.append(Source(label, path, model))

    for r in runs:
        if r.trajectories is not None:
            add(f"{r.label} · evaluation" if loop else r.label, r.trajectories, r.model)
    if loop:
        for p in sorted(run.glob("iter-*/trajectories.jsonl"), key=lambda p: int(p.parent.name.split("-")[1])):
            add(f"iteration {p.parent.name.split('-')[1]} · training rollouts", p)
    for p in sorted([*run.glob("*.jsonl"), *run.glob("*/*.jsonl")]):
        if _manifest(p).get("kind") == "trajectories":
            add(str(p.relative_to(run)), p)
    for p in extra:
        add(str(p), Path(p))
    return out


def _episodes_section(sources: list[Source], max_episodes: int | None) -> str:
    if not sources:
        return muted("No trajectories in this run (an evaluation's <code>*.trajectories.jsonl</code>, a loop's "
                     "<code>iter-K/eval.jsonl</code>, or <code>--trajectories FILE</code>).")
    data = pack(sources, max_episodes)
    notes = []
    for s in data.sources:
        if s.shown < s.total:
            notes.append(f"{esc(s.label)}: the first {s.shown:,} of {s.total:,} episodes are shown "
                         f"(<code>--max-episodes</code> shows more).")
        if s.unreadable:
            notes.append(f"{esc(s.label)}: {s.unreadable:,} line(s) of {esc(s.path)} are not trajectories and are "
                         "left out.")
    if data.truncated_texts:
        notes.append(f"{data.truncated_texts:,} text(s) longer than {TEXT_LIMIT:,} characters are cut; each says how "
                     "much is not shown.")
    src_opts = "".join(f'<option value="{i}">{esc(s.label)} ({s.shown:,})</option>' for i, s in enumerate(data.sources))
    sc_opts = "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in data.scenarios)
    outcomes = [("", "any outcome"), ("solved", "every item solved"), ("partial", "some items solved"),
                ("none", "no item solved"), ("right", "answer right"), ("wrong", "answer wrong"),
                ("nocall", "made no tool call"), ("malformed", "a malformed call"), ("toolerror", "a tool error"),
                ("truncated", "truncated (turn limit)"), ("failed", "failed (no reply)")]
    sorts = [("file", "file order"), ("f1", "Solve-F1, lowest first"), ("-f1", "Solve-F1, highest first"),
             ("reward", "reward, lowest first"), ("-reward", "reward, highest first"), ("-turns", "most turns first")]
    controls = (
        '<div class="filters"><input type="search" id="ep-q" placeholder="Search questions, replies, tool calls and '
        'outputs, environment ids" aria-label="search episodes">'
        f'<select id="ep-src" aria-label="run"><option value="">every run</option>{src_opts}</select>'
        f'<select id="ep-sc" aria-label="scenario"><option value="">every scenario</option>{sc_opts}</select>'
        '<select id="ep-out" aria-label="outcome">' + "".join(f'<option value="{v}">{t}</option>' for v, t in outcomes)
        + '</select><select id="ep-sort" aria-label="order">'
        + "".join(f'<option value="{v}">{t}</option>' for v, t in sorts) + "</select></div>")
    return ("".join(muted(n) for n in notes) + muted(
        "Click an episode to read it: the question, each turn's reply with its tool calls and what the tools "
        "returned, and the step reward of each turn; each opened episode has a link to itself.")
        + controls + '<p class="count" id="ep-count"></p><div id="ep-list"></div>'
        '<div class="more"><button type="button" id="ep-more" hidden>Show more</button></div>'
        + json_script("episodes-data", data.to_json()))


#: training-log keys worth a curve: (key, title, y-axis label); TRL's names
_CURVES = (
    ("loss", "Training loss", "loss"),
    ("reward", "Reward (mean over completions, band: 1 std)", "reward"),
    ("kl", "KL divergence to the reference model", "KL"),
    ("entropy", "Entropy of the policy", "entropy (nats per token)"),
    ("completions/mean_length", "Completion length", "tokens (mean)"),
    ("mean_token_accuracy", "Token accuracy", "accuracy"),
    ("grad_norm", "Gradient norm", "norm"),
    ("learning_rate", "Learning rate", "learning rate"),
)


def _logs(run: Path, loop: bool) -> list[tuple[str, Path]]:
    if loop:
        found = sorted(run.glob("iter-*/train/log.jsonl"), key=lambda p: int(p.parent.parent.name.split("-")[1]))
        return [(f"iteration {p.parent.parent.name.split('-')[1]}", p) for p in found]
    found = sorted(run.glob("log.jsonl")) or sorted(run.glob("*/log.jsonl"))
    return [(str(p.parent.relative_to(run)) if p.parent != run else run.name, p) for p in found]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _training_section(run: Path, loop: bool) -> str:
    logs = _logs(run, loop)
    if not logs:
        return muted("No training logs in this run.")
    rows_of = {label: [r for _, r in iter_jsonl(p, on_error=_quiet) if isinstance(r, dict)] for label, p in logs}
    charts = []
    for key, title, ylabel in _CURVES:
        series, bands = {}, {}
        for label, rows in rows_of.items():
            pts = [(r.get("step", i), r[key]) for i, r in enumerate(rows) if _number(r.get(key))]
            if pts:
                series[label] = pts
            if key == "reward":
                bands[label] = [(r.get("step", i), r[key] - r["reward_std"], r[key] + r["reward_std"])
                                for i, r in enumerate(rows) if _number(r.get(key)) and _number(r.get("reward_std"))]
        if series:
            charts.append(chart(curve_figure(series, bands=bands, title=title, xlabel="training step", ylabel=ylabel)))
    # each reward function's mean equals "reward" when there is one function: drawn only when there are several
    for label, rows in rows_of.items():
        funcs = sorted({k.split("/")[1] for r in rows for k in r if k.startswith("rewards/") and k.endswith("/mean")})
        if len(funcs) > 1 or (funcs and not any(_number(r.get("reward")) for r in rows)):
            series = {f: [(r.get("step", i), r[f"rewards/{f}/mean"]) for i, r in enumerate(rows)
                          if _number(r.get(f"rewards/{f}/mean"))] for f in funcs}
            charts.append(chart(curve_figure(series, title=f"Reward per reward function ({label})",
                                             xlabel="training step", ylabel="reward (mean)")))
    if not charts:
        return muted("The training logs hold no curves.")
    where = ", ".join(f"<code>{esc(p.relative_to(run))}</code>" for _, p in logs)
    return muted(f"From {where}.") + '<div class="charts">' + "".join(charts) + "</div>"


def _weights_section(changes: list[Change] | None) -> str:
    if not changes:
        return muted("No weight analysis (run <code>toolgym analyse weights BASE TRAINED --out RUN_DIR</code>).")
    top = sorted(changes, key=lambda c: -c.relative)[:12]
    return (chart(heatmap_figure(changes)) + "<h3>Largest changes</h3>"
            + table(["layer", "module", "relative change"],
                    [["-" if c.layer is None else c.layer, c.module, (f"{c.relative:.3e}", c.relative)] for c in top],
                    numeric={0, 2}))


def _build_section(stats: dict[str, Any]) -> str:
    """The build statistics: figures, one table per count, a table per matrix (complexity per strategy);
    rejection reasons wrap instead of widening the page."""
    if not stats:
        return muted("No build statistics (give <code>--envs</code> with a manifest beside it).")
    parts = []
    scalars = [[title_of(k), v] for k, v in stats.items() if not isinstance(v, dict)]
    if scalars:
        parts.append("<div><h3>Figures</h3>" + table(["figure", "value"], scalars) + "</div>")

    def counts(key: str, value: dict[str, Any], span: bool = False) -> str:
        heading = title_of(key)
        column = heading.split(" per ")[-1] if " per " in heading else "figure"
        kind = "count" if all(isinstance(v, int) for v in value.values()) else "value"
        cls = ' class="span"' if span else ""
        return (f"<div{cls}><h3>{esc(heading)}</h3>"
                + table([column, kind], [[STAT_TITLES.get(k, k), v] for k, v in value.items()]) + "</div>")

    for key, value in stats.items():
        if not isinstance(value, dict) or not any(value.values()):
            continue
        inner = [v for v in value.values() if isinstance(v, dict)]
        if inner and len(inner) == len(value) and len({tuple(sorted(v)) for v in inner}) == 1:
            cols = sorted({c for v in inner for c in v})
            parts.append(f"<div><h3>{esc(title_of(key))}</h3>"
                         + table([title_of(key).split(" per ")[-1], *cols], [[k] + [v.get(c, "") for c in cols]
                                                                              for k, v in value.items()]) + "</div>")
        elif inner:  # several count tables under one key (rejections by stage, by reason, ...)
            for sub, v in value.items():
                if isinstance(v, dict) and v:
                    parts.append(counts(sub, v, span=any(len(str(k)) > 40 for k in v)))
        else:
            parts.append(counts(key, value))
    return '<div class="grid">' + "".join(parts) + "</div>"


def build_report(run: str | Path, out: str | Path | None = None, *, envs: str | Path | None = None,
                 changes: list[Change] | None = None, title: str | None = None,
                 trajectories: Sequence[str | Path] = (), max_episodes: int | None = 1000) -> Path:
    """Write the page for ``run`` (default ``RUN/report.html``). ``trajectories`` adds trajectory files to
    the episodes; ``max_episodes`` caps the episodes shown per file (``None``: all)."""
    from .. import __version__

    run = Path(run)
    out = Path(out) if out else run / "report.html"
    if changes is None and (run / "weights.csv").exists():
        changes = read_csv(run / "weights.csv")
    manifest = _manifest(Path(envs)) if envs else {}
    runs, loop = find_runs(run)
    sections = [
        ("evaluation", "Evaluation", _eval_section(runs, loop)),
        ("episodes", "Episodes", _episodes_section(_sources(run, runs, loop, [Path(p) for p in trajectories]),
                                                   max_episodes)),
        ("training", "Training", _training_section(run, loop)),
        ("weights", "Where the model changed", _weights_section(changes)),
        ("build", "Build", _build_section(manifest.get("stats") or manifest.get("counts") or {})),
    ]
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    name = title or run.name
    nav = "".join(f'<a href="#{key}">{esc(h)}</a>' for key, h, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{esc(h)}</h2>{content}</section>' for key, h, content in sections)
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(name)} - toolgym report</title><style>{CSS}</style></head><body>"
            f'<header class="top"><h1>{esc(name)}</h1><p>{esc(run)} · generated {when} by toolgym {__version__}</p>'
            f"<nav>{nav}</nav></header><main>{body}</main><script>{JS}</script></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
