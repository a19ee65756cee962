"""``toolgym train prepare|trl|verl`` and ``toolgym loop``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ..io import Rejects, Run, RunRefused, sha256_of
from ._common import console, fail, load_envs
from ._run import Overwrite, distinct

train_app = typer.Typer(help="Train on the feedback: prepare data, then TRL (one machine) or verl (cluster).",
                        no_args_is_help=True)

@train_app.command("prepare")
def prepare_cmd(
    trajectories: Annotated[list[Path], typer.Option("--trajectories", help="Trajectory files (repeat for several).")],
    envs: Annotated[Path, typer.Option(help="The environments the trajectories ran in.")],
    out: Annotated[Path, typer.Option(help="Data folder to write.")],
    pairs: Annotated[str, typer.Option(help="Preference pairs for DPO: none, step or trajectory.")] = "none",
    margin: Annotated[float, typer.Option(help="Pairs need a reward difference above this (ties dropped).")] = 1e-6,
    dedupe: Annotated[bool, typer.Option(help="Keep identical prompts once.")] = True,
    include_failed: Annotated[bool, typer.Option(help="Also cut failed episodes into prompts.")] = False,
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
    for path in trajectories:
        if not path.exists():
            fail(f"{path} does not exist")
    distinct({"--envs": envs, **{f"--trajectories {p}": p for p in trajectories}}, {"--out": out})
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file; give a folder")
    env_map = {e.id: e for e in load_envs(envs)}
    identity = {"trajectories": [[str(p), sha256_of(p)] for p in trajectories], "envs_sha256": sha256_of(envs),
                "pairs": pairs, "margin": margin, "dedupe": dedupe, "include_failed": include_failed, "layout": layout}
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
            pair_list = preference_pairs(runs, env_map, level=pairs, margin=margin) if pairs != "none" else []
            counts = write_data(out, prompts, pair_list, layout=layout)
            run.save("complete", counts=counts, extra={"trajectories": [str(p) for p in trajectories],
                                                       "envs": str(envs)})
    except RunRefused as exc:
        fail(str(exc))
    console.print(f"{len(runs)} trajectories -> " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f" in [bold]{out}[/]")
    if rejects.records:
        console.print(f"[yellow]{rejects.records} unreadable trajectory line(s) skipped[/]")


@train_app.command("trl")
def trl_cmd(
    model: Annotated[str, typer.Option(help="Model name or path to start from.")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, final model, log, manifest).")],
    data: Annotated[Path | None, typer.Option(help="Data folder from `toolgym train prepare`.")] = None,
    algo: Annotated[str, typer.Option(help="grpo, rloo or dpo.")] = "grpo",
    episodes: Annotated[bool, typer.Option(help="GRPO on whole multi-turn episodes (needs --envs) instead of prefixes.")] = False,
    envs: Annotated[Path | None, typer.Option(help="Environments, for --episodes.")] = None,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate (paper: 1e-6).")] = 1e-6,
    num_generations: Annotated[int, typer.Option(help="Samples per prompt (paper: 16).")] = 16,
    batch_size: Annotated[int, typer.Option(help="Completions per device step (a multiple of --num-generations).")] = 16,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps.")] = 1,
    max_completion_length: Annotated[int, typer.Option(help="Maximum response length in tokens.")] = 1024,
    epochs: Annotated[float, typer.Option(help="Epochs over the data.")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps (-1: epochs decide).")] = -1,
    beta: Annotated[float, typer.Option(help="KL coefficient (paper: 0.001); DPO uses --dpo-beta.")] = 0.001,
    dpo_beta: Annotated[float, typer.Option(help="DPO beta.")] = 0.1,
    reward_variant: Annotated[str, typer.Option(help="Step reward: f1, precision, rate, product.")] = "f1",
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters (peft) instead of all weights.")] = False,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 50,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help="Qwen3 reasoning mode in prompts.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N training rows.")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    overwrite: Overwrite = False,
) -> None:
    """Train with TRL on one machine: GRPO/RLOO on the paper's per-turn prompts with toolgym's step reward, DPO on
    preference pairs, or GRPO on whole episodes (--episodes). Checkpoints go to --out; a rerun resumes, and a rerun
    of a finished run does nothing (a larger --max-steps continues it)."""
    from ..train.trl_run import ALGOS, TrlRunConfig, run_trl

    if algo not in ALGOS:
        fail(f"unknown --algo {algo!r}; use one of {', '.join(ALGOS)}")
    if data is None and not episodes:
        fail("give --data (from `toolgym train prepare`), or --episodes with --envs")
    if data is not None and not data.exists():
        fail(f"--data {data} does not exist; make it with `toolgym train prepare`")
    if episodes and envs is not None and not envs.exists():
        fail(f"--envs {envs} does not exist")
    distinct({"--data": data, "--envs": envs, "--model": Path(model) if Path(model).exists() else None},
             {"--out": out})
    config = TrlRunConfig(algo=algo, model=model, data=data or Path("."), out=out, learning_rate=lr,
                          num_generations=num_generations, per_device_batch_size=batch_size,
                          gradient_accumulation_steps=grad_accum, max_completion_length=max_completion_length,
                          epochs=epochs, max_steps=max_steps, beta=beta, dpo_beta=dpo_beta,
                          reward_variant=reward_variant, lora=lora, lora_r=lora_r, save_steps=save_steps,
                          enable_thinking=thinking, limit=limit, seed=seed, episodes=episodes, envs=envs)
    try:
        result = run_trl(config, overwrite=overwrite)
    except ConfigError as exc:
        fail(str(exc))
    if result.already_done:
        console.print(f"{out} already holds this run, finished after {result.steps} steps; nothing to do "
                      "(a larger --max-steps continues it, --overwrite trains again)")
        console.print(f"final model: [bold]{result.final}[/]")
        return
    losses = [row["loss"] for row in result.log if "loss" in row]
    console.print(f"{result.steps} steps in {result.seconds:.1f}s" + (f" (resumed from {result.resumed_from})"
                                                                        if result.resumed_from else ""))
    if losses:
        console.print(f"loss: first {losses[0]:.4f}, last {losses[-1]:.4f}")
    console.print(f"final model: [bold]{result.final}[/]")


def loop_cmd(
    envs: Annotated[Path, typer.Option(help="Environments with a train and a test split.")],
    model: Annotated[str, typer.Option(help="Model name or path to start from.")],
    out: Annotated[Path, typer.Option(help="Folder of the loop (one subfolder per iteration).")],
    iterations: Annotated[int, typer.Option(min=0, help="Collect -> train -> evaluate rounds.")] = 3,
    samples: Annotated[int, typer.Option(min=1, help="Rollouts per training environment per iteration.")] = 4,
    backend: Annotated[str, typer.Option(help="Local engine for rollouts: transformers or vllm.")] = "transformers",
    max_new_tokens: Annotated[int, typer.Option(help="Maximum new tokens per turn in rollouts.")] = 1024,
    max_turns: Annotated[int, typer.Option(help="Turn limit per episode.")] = 20,
    train_limit: Annotated[int | None, typer.Option(min=1, help="Training environments per iteration.")] = None,
    eval_limit: Annotated[int | None, typer.Option(min=1, help="Held-out environments to evaluate on.")] = None,
    algo: Annotated[str, typer.Option(help="TRL algorithm: grpo or rloo.")] = "grpo",
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 1e-6,
    num_generations: Annotated[int, typer.Option(help="Samples per prompt in training.")] = 16,
    batch_size: Annotated[int, typer.Option(help="Completions per device step.")] = 16,
    max_steps: Annotated[int, typer.Option(help="Training steps per iteration (-1: one epoch).")] = -1,
    max_completion_length: Annotated[int, typer.Option(help="Maximum response length in training.")] = 1024,
    max_failed_fraction: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Stop when more than this share of a rollout's episodes failed (the model never "
                               "answered).")] = 0.1,
    overwrite: Overwrite = False,
    tool_format: Annotated[str, typer.Option("--tool-format", help="How the model writes tool calls: hermes (Qwen2.5/Qwen3) or llama3 (Llama 3.1).")] = "hermes",
    strip_thinking: Annotated[bool, typer.Option("--strip-thinking/--keep-thinking", help="Read tool calls only after a <think> block (the paper parses the whole reply).")] = False,
    malformed: Annotated[str, typer.Option(help="On an unreadable tool call: 'end' (the paper's) or 'feedback'.")] = "end",
) -> None:
    """The paper's loop: roll out the current model, cut per-turn prompts, train (TRL), evaluate on the held-out
    split, repeat from the new checkpoint. Resumable; writes summary.json and solve_f1.png (the paper's Figure 5)."""
    from ..train.loop import LoopConfig, run_loop

    if backend not in ("transformers", "vllm"):
        fail("--backend must be transformers or vllm (the loop loads each new checkpoint locally)")
    if malformed not in ("end", "feedback"):
        fail("--malformed must be 'end' or 'feedback'")
    from ..parse import tool_format as find_format

    try:
        tool_format = find_format(tool_format).name
    except ConfigError as exc:
        fail(str(exc))
    config = LoopConfig(envs=envs, model=model, out=out, iterations=iterations, samples=samples, backend=backend,
                        max_new_tokens=max_new_tokens, max_turns=max_turns, train_limit=train_limit,
                        eval_limit=eval_limit, max_failed_fraction=max_failed_fraction, tool_format=tool_format,
                        strip_thinking=strip_thinking, malformed=malformed,
                        trl={"algo": algo, "learning_rate": lr, "num_generations": num_generations,
                             "per_device_batch_size": batch_size, "max_steps": max_steps,
                             "max_completion_length": max_completion_length})
    try:
        summary = run_loop(config, log=lambda msg: console.print(f"[dim]{msg}[/]"), overwrite=overwrite)
    except ConfigError as exc:
        fail(str(exc))
    table = Table(title="Solve-F1 per iteration", show_edge=False)
    rows = summary["iterations"]
    groups = sorted({g for r in rows for g in r if g not in ("iteration", "model")}, key=lambda g: (g == "overall", g))
    table.add_column("iteration")
    for g in groups:
        table.add_column(g, justify="right")
    for r in rows:
        table.add_row(str(r["iteration"]), *[f"{r.get(g, float('nan')):.2f}" for g in groups])
    console.print(table)
    console.print(f"summary: {out / 'summary.json'}, chart: {out / 'solve_f1.png'}")
