"""``toolgym rollout``, ``eval`` and ``compare``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ..evaluate import METRICS, EvalReport, compare_rows, evaluate, load_report, plot_comparison
from ..evaluate._report import LABELS
from ..io import Rejects, read_trajectories
from ..models import (
    BACKENDS,
    DEFAULT_BASE_URL,
    Backend,
    BackendConfig,
    Endpoint,
    ErrorRates,
    Sampling,
    make_backend,
)
from ..rollout import EpisodeConfig, RolloutConfig, finished_pairs, rollout
from ..schema import Trajectory
from ._common import console, fail, load_envs, progress
from ._verify import ExecutorOpt, TimeoutOpt, WorkersOpt, build_executor

# ---- options shared by rollout and eval ------------------------------------------------------------
Envs = Annotated[Path, typer.Option("--envs", help="Environments (.jsonl, .parquet or HF folder).")]
BackendOpt = Annotated[str, typer.Option("--backend", help=f"Model backend: {', '.join(BACKENDS)}.")]
BaseUrl = Annotated[list[str] | None, typer.Option("--base-url", help=f"OpenAI-compatible server URL (repeat to share the load; default {DEFAULT_BASE_URL}).")]
Model = Annotated[str | None, typer.Option("--model", help="Model name (openai, vllm) or path/name (transformers).")]
Samples = Annotated[int, typer.Option(help="Episodes per environment.")]
Concurrency = Annotated[int, typer.Option(help="Episodes in flight at once.")]
MaxTurns = Annotated[int, typer.Option(help="Turn limit per episode.")]
Temperature = Annotated[float, typer.Option(help="Sampling temperature (0: greedy).")]
MaxTokens = Annotated[int, typer.Option(help="Maximum new tokens per turn.")]
Variant = Annotated[str, typer.Option("--reward-variant", help="Step reward: f1, precision, rate, product.")]
Malformed = Annotated[str, typer.Option(help="On an unreadable tool call: 'feedback' (tell the model, go on) or 'end' (the paper's script).")]
Thinking = Annotated[bool | None, typer.Option("--thinking/--no-thinking", help="Reasoning mode for models that have it (Qwen3).")]
SystemPrompt = Annotated[str | None, typer.Option(help="A system prompt before the question.")]
ErrorRate = Annotated[list[str] | None, typer.Option("--error-rate", help="Scripted baseline: NAME=RATE for wrong_tool, wrong_argument, missing_call, malformed_call, early_answer.")]
Split = Annotated[str | None, typer.Option(help="Only environments whose metadata.split is this.")]
Limit = Annotated[int | None, typer.Option(help="Only the first N environments.")]
Seed = Annotated[int, typer.Option(help="Seed (sampling, scripted baseline).")]


@dataclass
class RunOptions:
    envs: Path
    backend: str
    base_url: list[str] | None
    model: str | None
    samples: int
    concurrency: int
    max_turns: int
    temperature: float
    max_tokens: int
    reward_variant: str
    malformed: str
    thinking: bool | None
    system_prompt: str | None
    error_rate: list[str] | None
    split: str | None
    limit: int | None
    seed: int
    executor: str
    workers: int | None
    timeout: float


def backend_config(o: RunOptions) -> BackendConfig:
    """The backend the options ask for; every default not given on the command line is the library's."""
    return BackendConfig(o.backend, Endpoint(model=o.model or "", base_urls=tuple(o.base_url or ()),
                                             concurrency=o.concurrency),
                         Sampling(temperature=o.temperature, max_tokens=o.max_tokens, thinking=o.thinking, seed=o.seed),
                         errors=ErrorRates.parse(o.error_rate or []))


def build_backend(o: RunOptions) -> Backend:
    try:
        return make_backend(backend_config(o))
    except ConfigError as exc:
        fail(str(exc))


def run(o: RunOptions, out: Path) -> None:
    if o.malformed not in ("feedback", "end"):
        fail("--malformed must be 'feedback' or 'end'")
    envs = load_envs(o.envs, o.split, o.limit)
    backend = build_backend(o)
    config = RolloutConfig(samples=o.samples, concurrency=o.concurrency, episode=EpisodeConfig(
        max_turns=o.max_turns, reward_variant=o.reward_variant, system_prompt=o.system_prompt,
        malformed=o.malformed))
    executor = build_executor(o.executor, o.workers, o.timeout)
    stats = {"n": 0, "f1": 0.0, "failed": 0}
    try:
        with progress() as bar:
            task = bar.add_task("rollout", total=len(envs) * o.samples, status="")
            already = len({p for p in finished_pairs(out) if p[0] in {e.id for e in envs} and p[1] < o.samples})
            bar.update(task, completed=already)

            def tick(t: Trajectory) -> None:
                stats["n"] += 1
                stats["f1"] += t.metrics.solve_f1
                stats["failed"] += t.status == "failed"
                bar.update(task, advance=1, status=f"Solve-F1 {100 * stats['f1'] / stats['n']:.1f} "
                                                   f"| failed {stats['failed']}")

            summary = rollout(envs, backend, out, config=config, executor=executor, on_trajectory=tick,
                              manifest={"envs": str(o.envs), "backend": o.backend, "model": backend.model,
                                        "temperature": o.temperature, "max_tokens": o.max_tokens, "seed": o.seed})
    except ConfigError as exc:  # a broken setup found on the way (a refused key, a model the server lacks)
        fail(str(exc))
    finally:
        executor.close()
    console.print(f"{summary.written} new trajectories ({summary.skipped} already done, {summary.failed} failed, "
                  f"{summary.truncated} truncated) in {summary.seconds:.1f}s -> [bold]{out}[/]")
    if summary.usage:
        console.print("usage: " + ", ".join(f"{k} {v:,}" for k, v in summary.usage.items()))


def rollout_cmd(
    envs: Envs, out: Annotated[Path, typer.Option("--out", help="Trajectories (JSONL, appended; a rerun resumes).")],
    backend: BackendOpt = "openai", base_url: BaseUrl = None, model: Model = None, samples: Samples = 1,
    concurrency: Concurrency = 64, max_turns: MaxTurns = 20, temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 1024, reward_variant: Variant = "f1", malformed: Malformed = "feedback",
    thinking: Thinking = None, system_prompt: SystemPrompt = None, error_rate: ErrorRate = None, split: Split = None,
    limit: Limit = None, seed: Seed = 0, executor: ExecutorOpt = "sandbox", workers: WorkersOpt = None,
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Roll a model out in environments: many episodes at once, tools in the sandbox, every step scored.

    Each finished trajectory is appended to --out; rerunning the same command skips what is done."""
    run(RunOptions(envs, backend, base_url, model, samples, concurrency, max_turns, temperature, max_tokens,
                   reward_variant, malformed, thinking, system_prompt, error_rate, split, limit, seed, executor,
                   workers, timeout), out)


def _report_table(report: EvalReport) -> Table:
    table = Table(title=report.name or "evaluation", show_edge=False)
    table.add_column("scenario")
    table.add_column("n", justify="right")
    for m in METRICS:
        table.add_column(f"{LABELS[m]} [95% CI]", justify="right")
    for g in report.order():
        s = report.groups[g]
        cells = []
        for m in METRICS:
            x = s[m]
            cells.append("-" if x.n == 0 else f"{100 * x.mean:.2f} [{100 * x.low:.1f}, {100 * x.high:.1f}]")
        table.add_row(g, str(s["solve_f1"].n), *cells)
    return table


def _read_trajectories(path: Path) -> list[Trajectory]:
    rejects = Rejects()
    out = list(read_trajectories(path, on_error=rejects))
    if rejects.records:
        console.print(f"[yellow]{rejects.records} unreadable trajectory line(s) in {path} skipped[/]")
    return out


def eval_cmd(
    envs: Envs,
    trajectories: Annotated[Path | None, typer.Option(help="Trajectories to evaluate; without it, roll out first.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the report (JSON) here.")] = None,
    name: Annotated[str | None, typer.Option(help="Name of this run in tables and charts.")] = None,
    exclude_failed: Annotated[bool, typer.Option(help="Leave failed episodes out of the metrics.")] = False,
    backend: BackendOpt = "openai", base_url: BaseUrl = None, model: Model = None, samples: Samples = 1,
    concurrency: Concurrency = 64, max_turns: MaxTurns = 20, temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 1024, reward_variant: Variant = "f1", malformed: Malformed = "feedback",
    thinking: Thinking = None, system_prompt: SystemPrompt = None, error_rate: ErrorRate = None, split: Split = None,
    limit: Limit = None, seed: Seed = 0, executor: ExecutorOpt = "sandbox", workers: WorkersOpt = None,
    timeout: TimeoutOpt = 10.0,
) -> None:
    """Solve-P, Solve-R, Solve-F1 and answer accuracy per scenario, with 95% bootstrap intervals.

    Give --trajectories to evaluate a finished rollout, or backend options to roll out and evaluate."""
    if trajectories is None:
        o = RunOptions(envs, backend, base_url, model, samples, concurrency, max_turns, temperature, max_tokens,
                       reward_variant, malformed, thinking, system_prompt, error_rate, split, limit, seed, executor,
                       workers, timeout)
        trajectories = (out.with_suffix(".trajectories.jsonl") if out else
                        Path("runs") / f"eval-{(model or backend).replace('/', '_')}.jsonl")
        run(o, trajectories)
    elif not trajectories.exists():
        fail(f"{trajectories} does not exist")
    env_map = {e.id: e for e in load_envs(envs, split)}
    report = evaluate(_read_trajectories(trajectories), env_map, name=name or trajectories.stem,
                      include_failed=not exclude_failed)
    if not report.groups:
        fail("no trajectory matched an environment in --envs", 1)
    console.print(_report_table(report))
    c = report.counts
    console.print(f"{c['trajectories']} trajectories ({c['failed']} failed, {c['truncated']} truncated"
                  + (f", {c['unknown_env']} of unknown environments" if c["unknown_env"] else "") + ")")
    if out:
        report.save(out)
        console.print(f"report: {out}")


def _load_any(path: Path, envs: Path | None) -> EvalReport:
    if not path.exists():
        fail(f"{path} does not exist")
    if path.suffix == ".json":
        return load_report(path)
    env_map = {e.id: e for e in load_envs(envs)} if envs else None
    return evaluate(_read_trajectories(path), env_map, name=path.stem)


def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Before: an eval report (.json) or trajectories (.jsonl).")],
    run_b: Annotated[Path, typer.Argument(help="After: an eval report (.json) or trajectories (.jsonl).")],
    envs: Annotated[Path | None, typer.Option(help="Environments, to recompute trajectory metrics.")] = None,
    chart: Annotated[Path | None, typer.Option(help="Write a bar chart (PNG) here.")] = None,
    metric: Annotated[str, typer.Option(help="Metric of the chart.")] = "solve_f1",
) -> None:
    """The before/after table of every metric per scenario, and a bar chart."""
    if metric not in METRICS:
        fail(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    a, b = _load_any(run_a, envs), _load_any(run_b, envs)
    table = Table(title=f"{a.name} -> {b.name}", show_edge=False)
    table.add_column("scenario")
    for m in METRICS:
        table.add_column(LABELS[m], justify="right")
    rows = {m: compare_rows(a, b, m) for m in METRICS}
    for i, (g, *_rest) in enumerate(rows["solve_f1"]):
        cells = []
        for m in METRICS:
            _, x, y, d = rows[m][i]
            cells.append("-" if math.isnan(x) or math.isnan(y) else f"{100 * x:.2f} -> {100 * y:.2f} ({100 * d:+.2f})")
        table.add_row(g, *cells)
    console.print(table)
    if chart:
        console.print(f"chart: {plot_comparison(a, b, chart, metric)}")

