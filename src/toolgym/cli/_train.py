"""``toolgym train prepare|trl|verl`` and ``toolgym loop``.

Every training setting's default is read from the configuration dataclasses (``TrlSettings``,
``Hyperparameters``, ``Tracking``, ``LoopConfig``); the shared hyperparameters and the trackers become options
of ``train trl``, ``train verl`` and ``loop`` through :func:`~toolgym.cli._config.settings_options`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ..io import Rejects, Run, RunRefused, sha256_of
from ..train.config import Hyperparameters, Tracking
from ..train.loop import LoopConfig
from ..train.trl_run import ALGOS, TrlSettings
from ._common import Threads, console, envs_source, fail, load_envs
from ._config import parse_set, settings_options
from ._hub import PrivateOpt, PushOpt, check_push, push_upload
from ._rollout import ToolFormatOpt
from ._run import Overwrite, distinct

train_app = typer.Typer(help="Train on the feedback: prepare data, then TRL (one machine) or verl (cluster).",
                        no_args_is_help=True)

@train_app.command("prepare")
def prepare_cmd(
    trajectories: Annotated[list[Path], typer.Option("--trajectories", help="Trajectory files (repeat for several).")],
    envs: Annotated[Path, typer.Option(help="The environments the trajectories ran in (a file, a `datasets` folder or a Hub dataset id).")],
    out: Annotated[Path, typer.Option(help="Data folder to write.")],
    pairs: Annotated[str, typer.Option(help="Preference pairs for DPO: none, step or trajectory.")] = "none",
    margin: Annotated[float, typer.Option(help="Pairs need a reward difference above this (ties dropped).")] = 1e-6,
    dedupe: Annotated[bool, typer.Option(help="Keep identical prompts once.")] = True,
    include_failed: Annotated[bool, typer.Option(help="Also cut failed episodes into prompts.")] = False,
    question_share: Annotated[float | None, typer.Option(help="Resample so question-turn prompts (where the calls are decided) make this share of the prompts, e.g. 0.5 (default: the paper's mix).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of --question-share's sampling.")] = 0,
    overwrite: Overwrite = False,
    layout: Annotated[str, typer.Option(help="Rows beside turns.jsonl: 'toolgym' (verl parquet and a TRL dataset, "
                                             "each prompt as the model saw it) or 'reference' (the paper's "
                                             "data_sample.py rows, for its own scripts).")] = "toolgym",
) -> None:
    """Cut trajectories into the paper's per-turn prompts (verl parquet, TRL dataset) and, optionally, DPO pairs.

    A rerun with the same inputs and options finds the data ready and does nothing."""
    from ..rollout import load_trajectories
    from ..train.data import preference_pairs, prefixes
    from ..train.layouts import write_data

    if pairs not in ("none", "step", "trajectory"):
        fail("--pairs must be none, step or trajectory")
    if layout not in ("toolgym", "reference"):
        fail("--layout must be toolgym or reference")
    if question_share is not None and not 0.0 < question_share < 1.0:
        fail(f"--question-share must be between 0 and 1 (exclusive), got {question_share}")
    for path in trajectories:
        if not path.exists():
            fail(f"{path} does not exist")
    envs = envs_source(envs)
    distinct({"--envs": envs, **{f"--trajectories {p}": p for p in trajectories}}, {"--out": out})
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file; give a folder")
    env_map = {e.id: e for e in load_envs(envs)}
    identity = {"trajectories": [[str(p), sha256_of(p)] for p in trajectories], "envs_sha256": sha256_of(envs),
                "pairs": pairs, "margin": margin, "dedupe": dedupe, "include_failed": include_failed, "layout": layout,
                "question_share": question_share, "seed": seed}
    owns = [out / "turns.jsonl", out / "verl", out / "trl", out / "reference", out / "pairs.jsonl"]
    try:
        with Run(out, kind="train-data", identity=identity, folder=True, overwrite=overwrite, owns=owns) as run:
            if run.complete:
                counts = run.previous.get("counts", {})
                console.print(f"{out} already holds this data (" + ", ".join(f"{k} {v}" for k, v in counts.items())
                              + "); nothing to do (--overwrite prepares it again)")
                return
            rejects = Rejects()
            runs = []
            for path in trajectories:  # the latest record of each episode: a retried failure counts once
                runs.extend(load_trajectories(path, on_error=rejects))
            prompts = list(prefixes(runs, env_map, dedupe=dedupe, skip_failed=not include_failed))
            if question_share is not None:
                from ..train.balance import question_share as reweigh

                prompts = reweigh(prompts, question_share, seed=seed)
            pair_list = preference_pairs(runs, env_map, level=pairs, margin=margin) if pairs != "none" else []
            counts = write_data(out, prompts, pair_list, layout=layout)
            run.save("complete", counts=counts, extra={"trajectories": [str(p) for p in trajectories],
                                                       "envs": str(envs)})
    except RunRefused as exc:
        fail(str(exc))
    console.print(f"{len(runs)} trajectories -> " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f" in [bold]{out}[/]")
    if rejects.records:
        console.print(f"[yellow]{rejects.records} unreadable trajectory line(s) skipped[/]")


#: Options of the shared hyperparameters whose flag is not ``--field-name``.
HPARAM_FLAGS = {"learning_rate": ("--learning-rate", "--lr"), "enable_thinking": ("--thinking/--no-thinking",)}
hparam_options = settings_options("hparams", Hyperparameters, HPARAM_FLAGS)
tracking_options = settings_options("tracking", Tracking)

_TRL = TrlSettings()  # the defaults of the TRL options below
_LOOP = LoopConfig(envs=Path("."), model="", out=Path("."))  # ... and of the loop's
AlgoOpt = Annotated[str, typer.Option(help=f"TRL algorithm: {', '.join(ALGOS)} (the loop: grpo or rloo).")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Completions per device step (a multiple of --num-generations).")]
GradAccum = Annotated[int, typer.Option("--grad-accum", help="Gradient accumulation steps.")]
MaxSteps = Annotated[int, typer.Option(help="Stop after this many steps (-1: --epochs decide; the loop: per iteration).")]
Epochs = Annotated[float, typer.Option(help="Epochs over the data.")]
RewardVariant = Annotated[str, typer.Option(help="Step reward: f1, precision, rate, product.")]
SaveSteps = Annotated[int, typer.Option(help="Checkpoint every N steps.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of training (and, in the loop, of the rollouts' sampling).")]
TrlSet = Annotated[list[str] | None, typer.Option("--set", help="Any TRL setting, key=value (value in YAML; repeat), e.g. "
                                                      "use_vllm=true, warmup_ratio=0.1, gradient_checkpointing=false, "
                                                      "bf16=true; wins over toolgym's.")]


def _trl_settings(*, algo: str, hparams: Hyperparameters, tracking: Tracking, set_: list[str] | None,
                 **given) -> TrlSettings:
    """The TRL settings of a command's options (one place for ``train trl`` and ``loop``)."""
    if algo not in ALGOS:
        fail(f"unknown --algo {algo!r}; use one of {', '.join(ALGOS)}")
    return TrlSettings(algo=algo, hparams=hparams, tracking=tracking, extra=parse_set(set_), **given)


@train_app.command("trl")
@hparam_options
@tracking_options
def trl_cmd(
    model: Annotated[str, typer.Option(help="Model name or path to start from.")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, final model, log, manifest).")],
    hparams: Hyperparameters,
    tracking: Tracking,
    data: Annotated[Path | None, typer.Option(help="Data folder from `toolgym train prepare`.")] = None,
    algo: AlgoOpt = _TRL.algo,
    episodes: Annotated[bool, typer.Option(help="GRPO on whole multi-turn episodes (needs --envs) instead of prefixes.")] = _TRL.episodes,
    envs: Annotated[Path | None, typer.Option(help="Environments, for --episodes (a file, a `datasets` folder or a Hub dataset id).")] = None,
    batch_size: BatchSize = _TRL.per_device_batch_size,
    grad_accum: GradAccum = _TRL.gradient_accumulation_steps,
    epochs: Epochs = _TRL.epochs,
    max_steps: MaxSteps = _TRL.max_steps,
    dpo_beta: Annotated[float, typer.Option(help="DPO beta.")] = _TRL.dpo_beta,
    reward_variant: RewardVariant = _TRL.reward_variant,
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters (peft) instead of all weights.")] = _TRL.lora,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = _TRL.lora_r,
    save_steps: SaveSteps = _TRL.save_steps,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N training rows.")] = _TRL.limit,
    seed: SeedOpt = _TRL.seed,
    set_: TrlSet = None,
    threads: Threads = None,
    overwrite: Overwrite = False,
    push_to_hub: PushOpt = None,
    hub_private: PrivateOpt = False,
) -> None:
    """Train with TRL on one machine: GRPO/RLOO on the paper's per-turn prompts with toolgym's step reward, DPO on
    preference pairs, or GRPO on whole episodes (--episodes). Defaults are the paper's (docs/training.md). Checkpoints
    go to --out; a rerun resumes, and a rerun of a finished run does nothing (a larger --max-steps continues it)."""
    from ..train.trl_run import run_trl

    if data is None and not episodes:
        fail("give --data (from `toolgym train prepare`), or --episodes with --envs")
    if data is not None and not data.exists():
        fail(f"--data {data} does not exist; make it with `toolgym train prepare`")
    envs = envs_source(envs)
    if episodes and envs is not None and not envs.exists():
        fail(f"--envs {envs} does not exist")
    distinct({"--data": data, "--envs": envs, "--model": Path(model) if Path(model).exists() else None},
             {"--out": out})
    check_push(push_to_hub)
    settings = _trl_settings(algo=algo, hparams=hparams, tracking=tracking, set_=set_, per_device_batch_size=batch_size,
                            gradient_accumulation_steps=grad_accum, epochs=epochs, max_steps=max_steps,
                            dpo_beta=dpo_beta, reward_variant=reward_variant, lora=lora, lora_r=lora_r,
                            save_steps=save_steps, limit=limit, seed=seed, episodes=episodes,
                            threads=threads)
    try:
        result = run_trl(settings.run(model=model, out=out, data=data, envs=envs), overwrite=overwrite)
    except ConfigError as exc:
        fail(str(exc))
    show_run(result, out, tracking=tracking, push_to_hub=push_to_hub, hub_private=hub_private)


def show_run(result, out: Path, *, tracking: Tracking | None = None, push_to_hub: str | None = None,
             hub_private: bool = False) -> None:
    """Steps, time, first and last loss, and where the final model is (every TRL run, SFT included)."""
    from ..train.logs import summarize

    if result.already_done:
        console.print(f"{out} already holds this run, finished after {result.steps} steps; nothing to do "
                      "(a larger --max-steps continues it, --overwrite trains again)")
        console.print(f"final model: [bold]{result.final}[/]")
        _push_model(result.final, push_to_hub, hub_private)
        return
    console.print(f"{result.steps} steps in {result.seconds:.1f}s" + (f" (resumed from {result.resumed_from})"
                                                                        if result.resumed_from else ""))
    s = summarize(result.log)
    if s.reward_first is not None:
        console.print(f"reward: first {s.reward_first:.4f}, last {s.reward_last:.4f}, mean {s.reward_mean:.4f}")
    if s.loss_first is not None:
        console.print(f"loss: first {s.loss_first:.4f}, last {s.loss_last:.4f}")
    if tracking is not None and tracking.report_to:
        console.print(f"metrics also reported to {', '.join(tracking.report_to)}"
                      + (f" (TensorBoard: tensorboard --logdir {out / 'runs'})" if "tensorboard" in tracking.report_to else ""))
    console.print(f"final model: [bold]{result.final}[/] (model card: {result.final / 'README.md'})")
    _push_model(result.final, push_to_hub, hub_private)


def _push_model(final: Path, repo_id: str | None, private: bool) -> None:
    if repo_id is None:
        return
    from ..publish import model_upload

    try:
        upload = model_upload(final, repo_id)
    except ConfigError as exc:
        fail(str(exc))
    push_upload(upload, private)


@hparam_options
@tracking_options
def loop_cmd(
    envs: Annotated[Path, typer.Option(help="Environments with a train and a test split (a file, a `datasets` folder or a Hub dataset id).")],
    model: Annotated[str, typer.Option(help="Model name or path to start from.")],
    out: Annotated[Path, typer.Option(help="Folder of the loop (one subfolder per iteration).")],
    hparams: Hyperparameters,
    tracking: Tracking,
    iterations: Annotated[int, typer.Option(min=0, help="Collect -> train -> evaluate rounds.")] = _LOOP.iterations,
    samples: Annotated[int, typer.Option(min=1, help="Rollouts per training environment per iteration.")] = _LOOP.samples,
    rollout_temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature of the collection rollouts (the paper's data_sample.py: 1.0); --temperature is the one inside training.")] = _LOOP.rollout_temperature,
    backend: Annotated[str, typer.Option(help="Local engine for rollouts: transformers or vllm.")] = _LOOP.backend,
    max_new_tokens: Annotated[int, typer.Option(help="Maximum new tokens per turn in rollouts.")] = _LOOP.max_new_tokens,
    max_turns: Annotated[int, typer.Option(help="Turn limit per episode.")] = _LOOP.max_turns,
    concurrency: Annotated[int, typer.Option(min=1, help="Episodes in flight at once in rollouts.")] = _LOOP.concurrency,
    train_limit: Annotated[int | None, typer.Option(min=1, help="Training environments per iteration.")] = _LOOP.train_limit,
    eval_limit: Annotated[int | None, typer.Option(min=1, help="Held-out environments to evaluate on.")] = _LOOP.eval_limit,
    algo: AlgoOpt = _TRL.algo,
    batch_size: BatchSize = _TRL.per_device_batch_size,
    grad_accum: GradAccum = _TRL.gradient_accumulation_steps,
    max_steps: MaxSteps = _TRL.max_steps,
    reward_variant: RewardVariant = _TRL.reward_variant,
    save_steps: SaveSteps = _TRL.save_steps,
    seed: SeedOpt = _TRL.seed,
    set_: TrlSet = None,
    max_failed_fraction: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Stop when more than this share of a rollout's episodes failed (the model never "
                               "answered).")] = _LOOP.max_failed_fraction,
    threads: Threads = None,
    gen_batch_size: Annotated[int | None, typer.Option(min=1, help="Prompts per generate call in rollouts (default: the backend's).")] = None,
    overwrite: Overwrite = False,
    tool_format: ToolFormatOpt = _LOOP.tool_format,
    strip_thinking: Annotated[bool, typer.Option("--strip-thinking/--keep-thinking", help="Read tool calls only after a <think> block (the paper parses the whole reply).")] = _LOOP.strip_thinking,
    malformed: Annotated[str, typer.Option(help="On an unreadable tool call: 'end' (the paper's) or 'feedback'.")] = _LOOP.malformed,
) -> None:
    """The paper's loop: roll out the current model, cut per-turn prompts, train (TRL), evaluate on the held-out
    split, repeat from the new checkpoint. Each evaluation is printed as it finishes. Resumable; writes summary.json
    (Solve-F1, step rewards and training reward per iteration) and solve_f1.png (the paper's Figure 5)."""
    from ..train.loop import REWARD_COLUMNS, run_loop, scenario_columns

    if backend not in ("transformers", "vllm"):
        fail("--backend must be transformers or vllm (the loop loads each new checkpoint locally)")
    if malformed not in ("end", "feedback"):
        fail("--malformed must be 'end' or 'feedback'")
    from ..parse import tool_format as find_format

    try:
        tool_format = find_format(tool_format).name
    except ConfigError as exc:
        fail(str(exc))
    if algo not in ("grpo", "rloo"):
        fail(f"--algo must be grpo or rloo in the loop (it trains on per-turn prompts), not {algo!r}")
    trl = _trl_settings(algo=algo, hparams=hparams, tracking=tracking, set_=set_, per_device_batch_size=batch_size,
                       gradient_accumulation_steps=grad_accum, max_steps=max_steps, reward_variant=reward_variant,
                       save_steps=save_steps, seed=seed)
    config = LoopConfig(envs=envs_source(envs), model=model, out=out, iterations=iterations, samples=samples,
                        rollout_temperature=rollout_temperature, backend=backend, max_new_tokens=max_new_tokens,
                        max_turns=max_turns, concurrency=concurrency, train_limit=train_limit, eval_limit=eval_limit,
                        max_failed_fraction=max_failed_fraction, tool_format=tool_format,
                        strip_thinking=strip_thinking, malformed=malformed, trl=trl,
                        threads=threads, gen_batch_size=gen_batch_size)

    def log(message: str) -> None:
        console.print(message if ": Solve-F1" in message else f"[dim]{message}[/]", highlight=False)

    try:
        summary = run_loop(config, log=log, overwrite=overwrite)
    except ConfigError as exc:
        fail(str(exc))
    rows = summary["iterations"]
    table = Table(title="Solve-F1 (%) and rewards per iteration", show_edge=False)
    groups = scenario_columns(rows)
    rewards = [k for k in REWARD_COLUMNS if any(k in r for r in rows)]
    table.add_column("iteration")
    for g in groups:
        table.add_column(g, justify="right")
    for k in rewards:
        table.add_column(REWARD_COLUMNS[k], justify="right")
    for r in rows:
        table.add_row(str(r["iteration"]), *[f"{r.get(g, float('nan')):.2f}" for g in groups],
                      *[f"{r[k]:.3f}" if k in r else "-" for k in rewards])
    console.print(table)
    console.print(f"summary: {out / 'summary.json'}, chart: {out / 'solve_f1.png'}")
