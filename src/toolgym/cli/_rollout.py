"""``toolgym rollout``, ``eval`` and ``compare``."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import ConfigError
from ..evaluate import LABELS, METRICS, EvalReport, compare_rows, evaluate, load_report, plot_comparison
from ..io import Rejects, sha256_of
from ..models import (
    BACKENDS,
    DEFAULT_BASE_URL,
    Backend,
    BackendConfig,
    Endpoint,
    ErrorRates,
    Sampling,
    local_options,
    make_backend,
)
from ..parse import FORMAT_NAMES, tool_format
from ..rollout import EpisodeConfig, RolloutConfig, RolloutSummary, failure_reason, load_trajectories, rollout
from ..schema import Environment, Trajectory
from ._common import Threads, console, envs_source, fail, load_envs, progress
from ._report import answer_note, report_table
from ._run import DEFAULT_MAX_FAILED, MaxFailedOpt, Overwrite, distinct, failures_dominate
from ._verify import ExecutorOpt, TimeoutOpt, WorkersOpt, build_executor

# ---- options shared by rollout and eval ------------------------------------------------------------
Envs = Annotated[Path, typer.Option("--envs", help="Environments: .jsonl, .parquet, a `datasets` folder, or a dataset id on the Hugging Face Hub (owner/name[:split]).")]
BackendOpt = Annotated[str, typer.Option("--backend", help=f"Model backend: {', '.join(BACKENDS)}.")]
BaseUrl = Annotated[list[str] | None, typer.Option("--base-url", help=f"OpenAI-compatible server URL (repeat to share the load; default {DEFAULT_BASE_URL}).")]
Model = Annotated[str | None, typer.Option("--model", help="Model name (openai, vllm) or path/name (transformers).")]
Samples = Annotated[int, typer.Option(min=1, help="Episodes per environment.")]
Concurrency = Annotated[int, typer.Option(min=1, help="Episodes in flight at once.")]
MaxTurns = Annotated[int, typer.Option(min=1, help="Turn limit per episode.")]
Temperature = Annotated[float, typer.Option(min=0.0, help="Sampling temperature (0: greedy).")]
MaxTokens = Annotated[int, typer.Option(min=1, help="Maximum new tokens per turn.")]
Variant = Annotated[str, typer.Option("--reward-variant", help="Step reward: f1, precision, rate, product.")]
Malformed = Annotated[str, typer.Option(help="On an unreadable tool call: 'end' (the paper's data_sample.py and evaluation_self.py) or 'feedback' (tell the model, go on).")]
ToolFormatOpt = Annotated[str, typer.Option("--tool-format", help=f"How the model writes tool calls: {', '.join(FORMAT_NAMES)} (hermes: Qwen2.5/Qwen3; llama3: Llama 3.1; openai: the server's native calls).")]
StripThinking = Annotated[bool, typer.Option("--strip-thinking/--keep-thinking", help="Read tool calls only after a <think> block (the paper parses the whole reply).")]
Thinking = Annotated[bool | None, typer.Option("--thinking/--no-thinking", help="Reasoning mode for models that have it (Qwen3).")]
SystemPrompt = Annotated[str | None, typer.Option(help="A system prompt before the question.")]
ErrorRate = Annotated[list[str] | None, typer.Option("--error-rate", help="Scripted baseline: NAME=RATE for wrong_tool, wrong_argument, missing_call, malformed_call, early_answer.")]
Split = Annotated[str | None, typer.Option(help="Only environments whose metadata.split is this.")]
Limit = Annotated[int | None, typer.Option(min=1, help="Only the first N environments.")]
Seed = Annotated[int, typer.Option(help="Seed (sampling, scripted baseline).")]
GenBatch = Annotated[int | None, typer.Option(min=1, help="Local models: prompts per generate call (default: transformers 16, vllm 256).")]

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
    overwrite: bool = False
    tool_format: str = "hermes"
    strip_thinking: bool = False
    threads: int | None = None
    gen_batch_size: int | None = None


def backend_config(o: RunOptions) -> BackendConfig:
    """The backend the options ask for; every default not given on the command line is the library's."""
    return BackendConfig(o.backend, Endpoint(model=o.model or "", base_urls=tuple(o.base_url or ()),
                                             concurrency=o.concurrency),
                         Sampling(temperature=o.temperature, max_tokens=o.max_tokens, thinking=o.thinking, seed=o.seed),
                         errors=ErrorRates.parse(o.error_rate or []),
                         options=({"tool_format": o.tool_format} if o.backend == "scripted" else
                                  local_options(o.backend, threads=o.threads, batch_size=o.gen_batch_size)))


def build_backend(o: RunOptions) -> Backend:
    try:
        return make_backend(backend_config(o))
    except ConfigError as exc:
        fail(str(exc))


def _identity(o: RunOptions) -> dict:
    """What the command line adds to a rollout's identity (the engine adds backend, model, episode
    settings and the selected environments' ids): the environments file, its selection, and how the
    backend samples (the endpoint's transport settings decide nothing about the replies)."""
    c = backend_config(o)
    return {"envs_sha256": sha256_of(o.envs), "split": o.split, "limit": o.limit, "sampling": asdict(c.sampling),
            "errors": asdict(c.errors) if c.backend == "scripted" else None,
            # torch's thread count changes the speed, never the replies: a rerun may change --threads
            "options": {k: v for k, v in c.options.items() if k != "threads"}}


def run(o: RunOptions, out: Path, envs: list[Environment]) -> RolloutSummary:
    """Roll out into ``out`` (resuming a run of the same identity) with a progress bar; print what was done."""
    backend = build_backend(o)
    config = RolloutConfig(samples=o.samples, concurrency=o.concurrency, episode=EpisodeConfig(
        max_turns=o.max_turns, reward_variant=o.reward_variant, system_prompt=o.system_prompt,
        malformed=o.malformed, format=o.tool_format, strip_thinking=o.strip_thinking))
    executor = build_executor(o.executor, o.workers, o.timeout)
    stats = {"n": 0, "f1": 0.0, "failed": 0}
    try:
        with progress() as bar:
            task = bar.add_task("rollout", total=len(envs) * o.samples, status="")

            def start(planned: int, done: int) -> None:
                bar.update(task, total=planned, completed=done)

            def tick(t: Trajectory) -> None:
                stats["n"] += 1
                stats["f1"] += t.metrics.solve_f1
                stats["failed"] += t.status == "failed"
                bar.update(task, advance=1, status=f"Solve-F1 {100 * stats['f1'] / stats['n']:.1f} "
                                                   f"| failed {stats['failed']}")

            summary = rollout(envs, backend, out, config=config, executor=executor, on_trajectory=tick,
                              on_start=start, identity=_identity(o), overwrite=o.overwrite)
    except ConfigError as exc:  # another run's output, or a broken setup found on the way (a refused key)
        fail(str(exc))
    finally:
        executor.close()
    console.print(f"{summary.written} new trajectories ({summary.skipped} already done, {summary.failed} failed, "
                  f"{summary.truncated} truncated) in {summary.seconds:.1f}s -> [bold]{out}[/]")
    if summary.usage:
        console.print("usage: " + ", ".join(f"{k} {v:,}" for k, v in summary.usage.items()))
    return summary


def run_options(given: Mapping[str, Any]) -> RunOptions:
    """The options object of a command that rolls out (rollout, eval, bench), built in this one place by keyword
    from the command's parameters of the same names (``run_options(locals())``); it checks what typer cannot."""
    o = RunOptions(**{f.name: given[f.name] for f in fields(RunOptions) if f.name in given})
    if o.malformed not in ("feedback", "end"):
        fail("--malformed must be 'end' or 'feedback'")
    try:
        o.tool_format = tool_format(o.tool_format).name
    except ConfigError as exc:
        fail(str(exc))
    return o


def rollout_cmd(
    envs: Envs, out: Annotated[Path, typer.Option("--out", help="Trajectories (JSONL, appended; a rerun resumes).")],
    backend: BackendOpt = "openai", base_url: BaseUrl = None, model: Model = None, samples: Samples = 1,
    concurrency: Concurrency = 64, max_turns: MaxTurns = 20, temperature: Temperature = 0.0,
    max_tokens: MaxTokens = 1024, reward_variant: Variant = "f1", malformed: Malformed = "end",
    thinking: Thinking = None, system_prompt: SystemPrompt = None, error_rate: ErrorRate = None, split: Split = None,
    limit: Limit = None, seed: Seed = 0, executor: ExecutorOpt = "sandbox", workers: WorkersOpt = None,
    timeout: TimeoutOpt = 10.0, overwrite: Overwrite = False, max_failed_fraction: MaxFailedOpt = DEFAULT_MAX_FAILED,
    tool_format: ToolFormatOpt = "hermes", strip_thinking: StripThinking = False,
    threads: Threads = None, gen_batch_size: GenBatch = None,
) -> None:
    """Roll a model out in environments: many episodes at once, tools in the sandbox, every step scored.

    Each finished trajectory is appended to --out; rerunning the same command skips what is done and retries
    failed episodes. A rerun with other options is refused (--overwrite starts again)."""
    envs = envs_source(envs)
    o = run_options(locals())
    distinct({"--envs": envs}, {"--out": out})
    summary = run(o, out, load_envs(envs, split, limit))
    if failures_dominate(summary.failed_total, summary.planned, summary.kinds, summary.errors, max_failed_fraction,
                         out):
        raise typer.Exit(1)


def _read_trajectories(path: Path) -> list[Trajectory]:
    rejects = Rejects()
    out = load_trajectories(path, on_error=rejects)
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
    max_tokens: MaxTokens = 1024, reward_variant: Variant = "f1", malformed: Malformed = "end",
    thinking: Thinking = None, system_prompt: SystemPrompt = None, error_rate: ErrorRate = None, split: Split = None,
    limit: Limit = None, seed: Seed = 0, executor: ExecutorOpt = "sandbox", workers: WorkersOpt = None,
    timeout: TimeoutOpt = 10.0, overwrite: Overwrite = False, max_failed_fraction: MaxFailedOpt = DEFAULT_MAX_FAILED,
    tool_format: ToolFormatOpt = "hermes", strip_thinking: StripThinking = False,
    threads: Threads = None, gen_batch_size: GenBatch = None,
) -> None:
    """Solve-P, Solve-R, Solve-F1 and answer accuracy per scenario, with 95% bootstrap intervals.

    Give --trajectories to evaluate a finished rollout, or backend options to roll out and evaluate. Exits 1
    (without writing the report) when more than --max-failed-fraction of the episodes failed."""
    rollout_out = None
    envs = envs_source(envs)
    if trajectories is None:
        o = run_options(locals())
        rollout_out = (out.with_suffix(".trajectories.jsonl") if out else
                       Path("runs") / f"eval-{(model or backend).replace('/', '_')}.jsonl")
    elif not trajectories.exists():
        fail(f"{trajectories} does not exist")
    distinct({"--envs": envs, "--trajectories": trajectories}, {"--out": out, "the trajectories of --out": rollout_out})
    selected = load_envs(envs, split, limit)  # read once: the rollout and the evaluation use the same records
    if rollout_out is not None:
        run(o, rollout_out, selected)
        trajectories = rollout_out
    ts = _read_trajectories(trajectories)
    report = evaluate(ts, {e.id: e for e in selected}, name=name or trajectories.stem,
                      include_failed=not exclude_failed)
    if not report.groups and not report.counts["failed"]:
        fail("no trajectory matched an environment in --envs", 1)
    failed = [t for t in ts if t.status == "failed"]
    kinds, errors = Counter(t.failure for t in failed), Counter(failure_reason(t.error) for t in failed)
    if failures_dominate(report.counts["failed"], report.counts["episodes"], kinds, errors, max_failed_fraction,
                         trajectories):
        if out:
            console.print(f"{out} not written")
        raise typer.Exit(1)
    console.print(report_table(report))
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
        try:
            return load_report(path)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            fail(f"{path} is not an eval report ({type(exc).__name__}: {exc}); give a report from `toolgym eval "
                 "--out` or a trajectories file (.jsonl)")
    env_map = {e.id: e for e in load_envs(envs)} if envs else None
    return evaluate(_read_trajectories(path), env_map, name=path.stem)


def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Before: an eval report (.json) or trajectories (.jsonl).")],
    run_b: Annotated[Path, typer.Argument(help="After: an eval report (.json) or trajectories (.jsonl).")],
    envs: Annotated[Path | None, typer.Option(help="Environments, to recompute trajectory metrics (a file, a `datasets` folder or a Hub dataset id).")] = None,
    chart: Annotated[Path | None, typer.Option(help="Write a bar chart (PNG) here.")] = None,
    metric: Annotated[str, typer.Option(help="Metric of the chart.")] = "solve_f1",
) -> None:
    """The before/after table of every metric per scenario, and a bar chart."""
    if metric not in METRICS:
        fail(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    envs = envs_source(envs)
    distinct({"RUN_A": run_a, "RUN_B": run_b, "--envs": envs}, {"--chart": chart})
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
            cells.append("-" if math.isnan(x) or math.isnan(y) else
                         f"{100 * x:.2f}{a.mark(g, m)} -> {100 * y:.2f}{b.mark(g, m)} ({100 * d:+.2f})")
        table.add_row(g, *cells)
    table.caption = "\n".join([*(f"{r.name}: {n}" for r in (a, b) for n in r.notes()), answer_note()])
    table.caption_justify = "left"
    console.print(table)
    if chart:
        console.print(f"chart: {plot_comparison(a, b, chart, metric)}")

