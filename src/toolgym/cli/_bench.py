"""``toolgym bench``, ``bench-compare`` and ``contamination``: public benchmarks, our held-out set and
lm-eval for one model, the combined before/after table, and the n-gram leak check."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..bench import (
    BENCHMARKS,
    SUITES,
    BenchDataError,
    BenchReport,
    Suite,
    arun_benchmark,
    check_overlap,
    compare_suites,
    load_suite,
    make_benchmark,
    markdown_table,
    plot_rows,
)
from ..bench.contamination import overlap_to_dict
from ..errors import ConfigError
from ..io import atomic_write_text
from ..parse import tool_format as find_format
from ._common import Threads, console, envs_source, fail, load_envs, progress
from ._rollout import (
    BackendOpt,
    BaseUrl,
    Concurrency,
    GenBatch,
    MaxTokens,
    RunOptions,
    Split,
    Temperature,
    Thinking,
    backend_config,
    build_backend,
    run_options,
)
from ._run import Overwrite, by_failure_kind
from ._verify import ExecutorOpt, TimeoutOpt, WorkersOpt, build_executor


@dataclass
class DataOptions:
    """Where each benchmark's data is and how it is run (the options both bench and contamination use)."""

    envs: Path | None = None
    split: str | None = "test"
    bfcl_categories: str = "non_live"
    bfcl_handler: str = "qwen"
    per_category: int | None = None
    toolhop: Path | None = None
    toolhop_mode: str = "free"
    toolhop_think: str = "keep"
    toolhop_scoping: str = "reference"
    taubench: Path | None = None
    tau_info: Path | None = None
    tau_domain: str | None = None
    tau_split: str = "test"
    tau_trials: int = 1
    tau_max_steps: int = 30
    tau2_domains: str = "airline,retail,telecom"
    tau2_split: str | None = None
    tau2_max_steps: int = 200
    rotbench: Path | None = None
    rotbench_variant: str = "rotbench"
    rotbench_think: str = "keep"
    rotbench_lenient: bool = False
    workdir: Path | None = None
    tool_format: str = "hermes"


def _need(path: Path | None, flag: str, what: str) -> Path:
    if path is None:
        fail(f"{what} needs its data: give {flag} (see docs/evaluation.md for where to get it)")
    return path


@dataclass
class Helpers:
    """What some benchmarks take besides their data: the sandbox (ToolHop's tools) and the simulated user
    (tau-bench's simulator, tau2's user model)."""

    executor: Any = None
    user: Any = None
    user_backend: Any = None


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


#: How the command's options become each benchmark's constructor arguments, by the name the benchmark has
#: in the registry (``toolgym.bench.BENCHMARKS``, which makes it).
BENCH_ARGS: dict[str, Callable[[DataOptions, Helpers], dict[str, Any]]] = {
    "bfcl": lambda d, h: {"categories": d.bfcl_categories.split(","), "handler": d.bfcl_handler,
                          "per_category": d.per_category, "workdir": d.workdir},
    "toolhop": lambda d, h: {"path": _need(d.toolhop, "--toolhop", "ToolHop"), "executor": h.executor,
                             "mode": d.toolhop_mode, "think": d.toolhop_think,
                             "scoping": d.toolhop_scoping, "tool_format": d.tool_format},
    "taubench": lambda d, h: {"tasks": d.taubench, "info": _need(d.tau_info, "--tau-info", "tau-bench"),
                              "user": h.user, "domain": d.tau_domain, "split": d.tau_split, "trials": d.tau_trials,
                              "max_steps": d.tau_max_steps, "tool_format": d.tool_format},
    "tau2": lambda d, h: {"domains": _split(d.tau2_domains), "user": h.user_backend, "split": d.tau2_split,
                          "trials": d.tau_trials, "max_steps": d.tau2_max_steps,
                          "tool_format": d.tool_format},
    "rotbench": lambda d, h: {"path": _need(d.rotbench, "--rotbench", "RoTBench"), "variant": d.rotbench_variant,
                              "think": d.rotbench_think, "lenient": d.rotbench_lenient},
}


def make_bench(name: str, d: DataOptions, helpers: Helpers | None = None):
    """The benchmark of a registry name, from the data options."""
    if name not in BENCH_ARGS:
        fail(f"unknown benchmark {name!r}; use one of {', '.join(BENCHMARKS)}")
    return make_benchmark(name, **BENCH_ARGS[name](d, helpers or Helpers()))


def _suite_names(suite: str) -> list[str]:
    names = _split(suite)
    bad = [s for s in names if s not in SUITES]
    if bad or not names:
        fail(f"unknown suite entry {', '.join(bad) or '(none)'}; use a comma list of {', '.join(SUITES)} "
             "(toolgym bench --list shows them)")
    return names


def _cell(s) -> str:
    if s is None or s.n == 0 or math.isnan(s.mean):
        return "-"
    if math.isnan(s.low):
        return f"{100 * s.mean:.2f}"
    return f"{100 * s.mean:.2f} [{100 * s.low:.1f}, {100 * s.high:.1f}]"


def _report_table(rep: BenchReport) -> Table:
    table = Table(title=f"{rep.benchmark} ({rep.counts.get('items', rep.counts.get('tasks', 0))} items"
                  + (f", {rep.counts['failed']} failed" if rep.counts.get("failed") else "") + ")", show_edge=False)
    for col in ("group", "metric", "score [95% CI]", "n"):
        table.add_column(col, justify="left" if col in ("group", "metric") else "right")
    for group, metric in rep.headline:
        s = rep.value(group, metric)
        table.add_row(group, metric, _cell(s), str(s.n if s else 0),
                      style="bold" if group in ("overall", "leaderboard_overall") else None)
    return table


def list_suites() -> None:
    """``bench --list``: every suite entry, what it needs, whether it runs here; BFCL's categories."""
    from ..bench import catalog
    from ..bench.bfcl import GROUPS, HANDLERS, NETWORK, PAPER_HANDLER, memory_vector_missing

    table = Table(title="toolgym bench --suite", show_edge=False)
    for col in ("entry", "measures", "scored with", "data", "here"):
        table.add_column(col)
    for info in catalog():
        table.add_row(info.name, info.measures, info.scoring, info.data,
                      "[green]ready[/]" if info.unavailable is None else f"[yellow]{info.unavailable}[/]")
    console.print(table)
    console.print("BFCL categories (--bfcl-categories): " + ", ".join(GROUPS["all"]))
    console.print(f"  groups: {', '.join(GROUPS)} (all: every category that runs offline)")
    console.print(f"  not run: {', '.join(NETWORK)} ({next(iter(NETWORK.values()))})"
                  + (f"; {memory_vector_missing()}" if memory_vector_missing() else ""))
    console.print(f"  handlers (--bfcl-handler): {', '.join(HANDLERS)} (default {PAPER_HANDLER}, the paper's setting)")


def run_identity(name: str, d: DataOptions, o: RunOptions, users: UserOptions) -> dict[str, Any]:
    """What the command line adds to a benchmark run's identity (the runner adds benchmark, backend and
    model): the benchmark's options (data paths resolved), how the model samples, and for tau-bench and tau2
    the simulated user."""
    options = {}
    for key, value in BENCH_ARGS[name](d, Helpers()).items():
        if key in ("executor", "user"):
            continue  # helpers, not options
        options[key] = str(Path(value).resolve()) if isinstance(value, Path) else value
    ident = {"options": options, "sampling": asdict(backend_config(o).sampling)}
    if name in ("taubench", "tau2"):
        ident["user"] = {"backend": users.backend, "model": users.model, "temperature": users.temperature,
                         "max_tokens": users.max_tokens, "log": str(users.log) if users.log else None}
    return ident


async def _run_item_bench(bench, backend, out: Path, concurrency: int, limit: int | None,
                          identity: dict[str, Any], overwrite: bool) -> BenchReport:
    with progress() as bar:
        task = bar.add_task(bench.name, total=0, status="")
        score = {"n": 0, "sum": 0.0, "failed": 0}

        def start(total: int, done: int) -> None:
            bar.update(task, total=total, completed=done)

        def tick(r) -> None:
            score["n"] += 1
            score["sum"] += r.metrics.get(bench.metrics[0], 0.0)
            score["failed"] += r.status == "failed"
            bar.update(task, advance=1, status=f"{bench.metrics[0]} {100 * score['sum'] / score['n']:.1f} "
                                               f"| failed {score['failed']}")

        run = await arun_benchmark(bench, backend, out, concurrency=concurrency, limit=limit, on_start=start,
                                   on_result=tick, identity=identity, overwrite=overwrite)
    console.print(f"{bench.name}: {run.ran} run, {run.reused} already in {out}")
    if run.report.counts.get("failed"):
        console.print(f"[yellow]{bench.name}: {run.report.counts['failed']} item(s) failed ({by_failure_kind(run.report.failures) or 'no kind recorded'}); "
                      "they score 0 and run again when the command is repeated[/]")
    return run.report


async def _run_own(o: RunOptions, envs, backend, executor, out: Path) -> BenchReport:
    from ..bench.own import arun_own
    from ..rollout import EpisodeConfig, RolloutConfig

    config = RolloutConfig(concurrency=o.concurrency, episode=EpisodeConfig(
        max_turns=o.max_turns, malformed=o.malformed, format=o.tool_format, strip_thinking=o.strip_thinking))
    return await arun_own(envs, backend, out, config=config, executor=executor, overwrite=o.overwrite)


def _general(o: RunOptions, tasks: str | None, include: Path | None, limit: float | None, allow_code: bool) -> BenchReport:
    from ..bench.general import LmEvalModel, run_general

    spec = LmEvalModel(o.backend, o.model or "", (o.base_url or [None])[0])
    return run_general(spec, [t for t in (tasks or "").split(",") if t], include_path=str(include) if include else None,
                       limit=limit, allow_code=allow_code, name=o.model or "")


@dataclass
class UserOptions:
    """The simulated user of tau-bench and tau2 (or a recorded one)."""

    backend: str | None = None
    model: str | None = None
    base_url: str | None = None
    log: Path | None = None
    temperature: float = 0.0
    max_tokens: int = 512

    def backend_obj(self):
        """The user's model backend (``None`` without ``--tau-user-model``)."""
        from ..models import BackendConfig, Endpoint, Sampling, make_backend

        if self.model is None:
            return None
        config = BackendConfig(self.backend or "openai", Endpoint(model=self.model, base_urls=(
            (self.base_url,) if self.base_url else ()), flags="tau-user-"),
            Sampling(temperature=self.temperature, max_tokens=self.max_tokens))
        return make_backend(config)

    def simulator(self, backend):
        from ..bench import BackendUser, RecordedUser

        if self.log is not None:
            return RecordedUser(self.log)
        return BackendUser(backend) if backend is not None else None


def bench_cmd(
    model: Annotated[str | None, typer.Argument(help="The model: served name (openai, vllm) or path/name (transformers).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the suite entries, what each needs and whether it can run here.")] = False,
    suite: Annotated[str, typer.Option(help=f"Comma list of {', '.join(SUITES)}.")] = "bfcl,own",
    out: Annotated[Path, typer.Option(help="Folder for per-item results (resumable) and suite.json.")] = Path("runs/bench"),
    name: Annotated[str | None, typer.Option(help="Name of this run in tables (default: the model).")] = None,
    compare_to: Annotated[Path | None, typer.Option(help="A suite.json of the model before training: write the "
                                                         "combined table (compare.md, compare.png) in --out.")] = None,
    backend: BackendOpt = "openai", base_url: BaseUrl = None, concurrency: Concurrency = 32,
    temperature: Temperature = 0.0, max_tokens: MaxTokens = 1024, thinking: Thinking = None,
    max_turns: Annotated[int, typer.Option(help="Turn limit of own episodes.")] = 20,
    limit: Annotated[int | None, typer.Option(help="Only the first N items of each benchmark.")] = None,
    envs: Annotated[Path | None, typer.Option(help="own: the environments (held-out split; a file, a `datasets` folder or a Hub dataset id).")] = None,
    split: Split = "test",
    bfcl_categories: Annotated[str, typer.Option(help="BFCL categories or groups (non_live, live, multi_turn, memory, all).")] = "non_live",
    bfcl_handler: Annotated[str, typer.Option(help="BFCL: how replies are read, as BFCL's handler for the model family: "
                                                   "qwen (the paper's setting), openai (native tool calls), prompt.")] = "qwen",
    per_category: Annotated[int | None, typer.Option(help="BFCL: only the first N items of each category.")] = None,
    toolhop: Annotated[Path | None, typer.Option(help="ToolHop.json.")] = None,
    toolhop_mode: Annotated[str, typer.Option(help="ToolHop: free, mandatory or direct.")] = "free",
    toolhop_think: Annotated[str, typer.Option(help="ToolHop: 'keep' the reasoning in the scored reply (the paper's) or 'strip' it.")] = "keep",
    toolhop_scoping: Annotated[str, typer.Option(help="ToolHop: run the tools as the paper's call_function does "
                                                      "('reference', the default) or each source as a module "
                                                      "('module').")] = "reference",
    taubench: Annotated[Path | None, typer.Option(help="tau-bench tasks (the paper's .jsonl or a tasks_*.py); default: "
                                                       "each domain folder's tasks_<split>.py.")] = None,
    tau_info: Annotated[Path | None, typer.Option(help="tau-bench domain folders: tau-bench's tau_bench/envs or the "
                                                       "paper's Data/jsonl/raw/tau-bench.")] = None,
    tau_domain: Annotated[str | None, typer.Option(help="tau-bench: only this domain (retail, airline).")] = None,
    tau_split: Annotated[str, typer.Option(help="tau-bench: task split of the domain folders (test, train, dev).")] = "test",
    tau_trials: Annotated[int, typer.Option(help="tau-bench and tau2: trials per task (pass^k for k up to this).")] = 1,
    tau_max_steps: Annotated[int, typer.Option(help="tau-bench: agent steps per episode.")] = 30,
    tau_user_model: Annotated[str | None, typer.Option(help="tau-bench and tau2: the model playing the user.")] = None,
    tau_user_backend: Annotated[str | None, typer.Option(help="tau-bench and tau2: its backend (default openai).")] = None,
    tau_user_base_url: Annotated[str | None, typer.Option(help="tau-bench and tau2: its server.")] = None,
    tau_user_temperature: Annotated[float, typer.Option(help="tau-bench and tau2: its temperature (0: the paper's and "
                                                             "tau2's; tau-bench sends none, 1.0 on OpenAI).")] = 0.0,
    tau_user_max_tokens: Annotated[int, typer.Option(help="tau-bench and tau2: its token limit per turn (the paper's 512).")] = 512,
    tau_user_log: Annotated[Path | None, typer.Option(help="tau-bench: replay recorded user turns instead.")] = None,
    tau2_domains: Annotated[str, typer.Option(help="tau2: comma list of airline, retail, telecom, mock.")] = "airline,retail,telecom",
    tau2_split: Annotated[str | None, typer.Option(help="tau2: task split (default: tau2's 'base').")] = None,
    tau2_max_steps: Annotated[int, typer.Option(help="tau2: simulation steps (tau2's default 200).")] = 200,
    rotbench: Annotated[Path | None, typer.Option(help="RoTBench data file or folder.")] = None,
    rotbench_variant: Annotated[str, typer.Option(help="RoTBench metric: rotbench (its evaluate.py) or ftrl (the paper's script).")] = "rotbench",
    rotbench_think: Annotated[str, typer.Option(help="RoTBench: 'keep' the reasoning in the scored reply (both references do) or 'strip' it.")] = "keep",
    rotbench_lenient: Annotated[bool, typer.Option(help="RoTBench: read Action/Action Input leniently (not the references').")] = False,
    lm_eval_tasks: Annotated[str | None, typer.Option(help="general: lm-eval tasks (mmlu,bbh,gsm8k,...).")] = None,
    lm_eval_include: Annotated[Path | None, typer.Option(help="general: folder of local lm-eval task YAMLs.")] = None,
    lm_eval_limit: Annotated[float | None, typer.Option(help="general: items (or fraction) per task.")] = None,
    lm_eval_allow_code: Annotated[bool, typer.Option(help="general: let code tasks (humaneval, mbpp) run code.")] = False,
    executor: ExecutorOpt = "sandbox", workers: WorkersOpt = None, timeout: TimeoutOpt = 10.0,
    max_failed_fraction: Annotated[float, typer.Option(help="Exit with code 1 when more than this fraction of a "
                                                            "benchmark's items failed to run (the backend never "
                                                            "answered); finished items are kept.")] = 0.5,
    tool_format: Annotated[str, typer.Option("--tool-format", help="own, toolhop, taubench, tau2: how the model "
                                             "writes tool calls in its text (hermes: Qwen; llama3: Llama 3.1; "
                                             "openai; auto); native tool_calls are read whatever it is. BFCL "
                                             "reads replies as --bfcl-handler says; RoTBench scores the text.")] = "hermes",
    overwrite: Overwrite = False,
    model_option: Annotated[str | None, typer.Option("--model", help="The model, as rollout and eval take it "
                                                     "(the same as the MODEL argument).")] = None,
    threads: Threads = None, gen_batch_size: GenBatch = None,
) -> None:
    """Run a model on public benchmarks (bfcl, toolhop, taubench, tau2, rotbench), our held-out environments
    (own) and lm-eval tasks (general); print each report, save suite.json, and with --compare-to the
    combined before/after table. --list shows what can run."""
    if list_:
        list_suites()
        return
    if model is not None and model_option is not None and model != model_option:
        fail(f"two models given: {model} (argument) and {model_option} (--model); give one")
    model = model or model_option
    if model is None:
        fail("give the MODEL to evaluate (or --list to see the benchmarks)")
    names = _suite_names(suite)
    try:
        find_format(tool_format)
    except ConfigError as exc:
        fail(str(exc))
    if backend == "scripted" and names != ["own"]:
        fail("the scripted baseline follows toolgym environments' gold solutions; it can only run --suite own")
    envs = envs_source(envs)
    # own episodes: one sample each, no system prompt, the paper's reward; bench's --limit is per benchmark
    o = run_options({**locals(), "envs": envs or Path("."), "samples": 1, "reward_variant": "f1", "malformed": "end",
                     "system_prompt": None, "error_rate": None, "limit": None, "seed": 0})
    d = DataOptions(envs=envs, split=split, bfcl_categories=bfcl_categories, bfcl_handler=bfcl_handler,
                    per_category=per_category, toolhop=toolhop, toolhop_mode=toolhop_mode, toolhop_think=toolhop_think,
                    toolhop_scoping=toolhop_scoping, tool_format=find_format(tool_format).name,
                    taubench=taubench, tau_info=tau_info, tau_domain=tau_domain, tau_split=tau_split,
                    tau_trials=tau_trials, tau_max_steps=tau_max_steps, tau2_domains=tau2_domains, tau2_split=tau2_split,
                    tau2_max_steps=tau2_max_steps, rotbench=rotbench, rotbench_variant=rotbench_variant,
                    rotbench_think=rotbench_think, rotbench_lenient=rotbench_lenient, workdir=out / "bfcl_memory")
    users = UserOptions(tau_user_backend, tau_user_model, tau_user_base_url, tau_user_log, tau_user_temperature,
                        tau_user_max_tokens)
    result = Suite(name=name or model, model=model)
    if "general" in names:
        from ..bench.general import GeneralSkipped

        try:
            result.reports["general"] = _general(o, lm_eval_tasks, lm_eval_include, lm_eval_limit, lm_eval_allow_code)
        except GeneralSkipped as exc:
            result.skipped["general"] = str(exc)
            console.print(f"[yellow]general skipped:[/] {exc}")
    _run_suite(o, d, [n for n in names if n != "general"], result, out, limit, users)
    for rep in result.reports.values():
        console.print(_report_table(rep))
        for note in rep.notes:
            console.print(f"  [dim]{rep.benchmark}: {note}[/]")
    console.print(f"suite: {result.save(out / 'suite.json')}")
    if compare_to is not None:
        _write_compare(load_suite(compare_to), result, out / "compare.md", out / "compare.png")
    broken = [f"{n} ({r.counts['failed']} of {r.counts['items']})" for n, r in result.reports.items()
              if r.counts.get("items") and r.counts.get("failed", 0) > max_failed_fraction * r.counts["items"]]
    if broken:
        fail(f"items failed to run in {', '.join(broken)}: more than --max-failed-fraction {max_failed_fraction}; "
             "check the server, then run the same command again to retry them", code=1)


def _run_suite(o: RunOptions, d: DataOptions, names: list[str], result: Suite, out: Path, limit: int | None,
               users: UserOptions) -> None:
    if not names:
        return
    if "tau2" in names and users.model is None:
        fail("tau2 needs a simulated user: give --tau-user-model (and --tau-user-base-url)")
    ex = build_executor(o.executor, o.workers, o.timeout) if {"own", "toolhop"} & set(names) else None

    async def main() -> None:
        user_backend = users.backend_obj() if {"taubench", "tau2"} & set(names) else None
        backend = None
        try:  # data and options first: a mistake in them costs seconds, not a model load
            helpers = Helpers(ex, users.simulator(user_backend) if "taubench" in names else None, user_backend)
            benches = {n: make_bench(n, d, helpers) for n in names if n != "own"}
            envs = load_envs(_need(d.envs, "--envs", "own"), d.split, limit) if "own" in names else []
            backend = build_backend(o)
            for n in names:
                if n == "own":
                    result.reports[n] = await _run_own(o, envs, backend, ex, out / "own.trajectories.jsonl")
                else:
                    result.reports[n] = await _run_item_bench(benches[n], backend, out / f"{n}.jsonl",
                                                              o.concurrency, limit, run_identity(n, d, o, users),
                                                              o.overwrite)
        except BenchDataError as exc:
            fail(str(exc))
        finally:
            if backend is not None:
                await backend.aclose()
            if user_backend is not None:
                await user_backend.aclose()

    try:
        asyncio.run(main())
    except ConfigError as exc:  # a broken setup: a refused API key, a model the server does not have
        fail(str(exc))
    finally:
        if ex is not None:
            ex.close()


def _write_compare(before: Suite, after: Suite, md: Path, png: Path) -> None:
    rows = compare_suites(before, after)
    if not rows:
        fail("the two suites have no benchmark in common")
    text = markdown_table(rows, before.name, after.name)
    atomic_write_text(md, text)
    console.print(text, soft_wrap=True, markup=False, highlight=False)
    console.print(f"table: {md}\nchart: {plot_rows(rows, png, before.name, after.name)}")


def bench_compare_cmd(
    before: Annotated[Path, typer.Argument(help="suite.json (or one benchmark report) before training.")],
    after: Annotated[Path, typer.Argument(help="suite.json (or one benchmark report) after training.")],
    markdown: Annotated[Path, typer.Option(help="Write the markdown table here.")] = Path("runs/compare.md"),
    chart: Annotated[Path, typer.Option(help="Write the bar chart (PNG) here.")] = Path("runs/compare.png"),
) -> None:
    """The combined before/after table of two suites: every benchmark's headline scores, the change."""
    for p in (before, after):
        if not p.exists():
            fail(f"{p} does not exist")
    _write_compare(load_suite(before), load_suite(after), markdown, chart)


def _pct(k: int, total: int) -> str:
    return f"{k} ({100 * k / max(total, 1):.1f}%)"


def contamination_cmd(
    envs: Annotated[Path, typer.Argument(help="Built environments (.jsonl, .parquet, a `datasets` folder, or a dataset id on the Hub: owner/name[:split]).")],
    against: Annotated[str, typer.Option(help=f"Comma list of {', '.join(BENCHMARKS)}.")] = "bfcl",
    n: Annotated[int, typer.Option(help="n-gram length in words.")] = 8,
    out: Annotated[Path | None, typer.Option(help="Write the report (JSON) here.")] = None,
    show: Annotated[int, typer.Option(help="Example overlaps to keep per benchmark.")] = 5,
    bfcl_categories: Annotated[str, typer.Option(help="BFCL categories or groups.")] = "all",
    toolhop: Annotated[Path | None, typer.Option(help="ToolHop.json.")] = None,
    taubench: Annotated[Path | None, typer.Option(help="tau-bench tasks.")] = None,
    rotbench: Annotated[Path | None, typer.Option(help="RoTBench data file or folder.")] = None,
    tau2_domains: Annotated[str, typer.Option(help="tau2 domains.")] = "airline,retail,telecom",
) -> None:
    """n-gram overlap between environments (questions, tool documents) and benchmark items: how many
    items share an n-gram with some environment, how many questions are identical, examples."""
    env_list = load_envs(envs)
    d = DataOptions(bfcl_categories=bfcl_categories, toolhop=toolhop, taubench=taubench, rotbench=rotbench,
                    tau_info=Path("."), tau2_domains=tau2_domains)
    table = Table(title=f"overlap of {len(env_list)} environments ({n}-grams)", show_edge=False)
    for col in ("benchmark", "items", "question overlap", "tool-doc overlap", "identical questions", "any",
                "environments flagged"):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    report: dict[str, Any] = {"envs": str(envs), "n": n, "benchmarks": {}}
    for name in _split(against):
        if name not in BENCHMARKS:
            fail(f"unknown benchmark {name!r} in --against; use {', '.join(BENCHMARKS)}")
        try:
            o = check_overlap(env_list, make_bench(name, d), n=n, examples=show)
        except BenchDataError as exc:
            fail(str(exc))
        report["benchmarks"][name] = overlap_to_dict(o)
        table.add_row(name, str(o.items), _pct(o.question_overlap, o.items), _pct(o.tool_doc_overlap, o.items),
                      str(o.identical_questions), _pct(o.any_overlap, o.items), str(o.envs_flagged))
    console.print(table)
    for name, rep in report["benchmarks"].items():
        for h in rep["examples"]:
            console.print(f"  {name} {h['item']} ~ {h['env']} [{h['field']}]: \"{h['ngram']}\"")
    if out:
        atomic_write_text(out, json.dumps(report, indent=2) + "\n")
        console.print(f"report: {out}")
