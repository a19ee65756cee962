"""``toolgym train sft``: supervised fine-tuning on gold trajectories or on a rollout's successful ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import Threads, console, fail, load_envs
from ._run import Overwrite, distinct
from ._train import show_run


def sft_cmd(
    model: Annotated[str, typer.Option(help="Model name or path to start from.")],
    envs: Annotated[Path, typer.Option(help="Environments (their tools; the gold solutions when no --trajectories).")],
    out: Annotated[Path, typer.Option(help="Run folder (the SFT data, checkpoints, final model, log, manifest).")],
    trajectories: Annotated[list[Path] | None, typer.Option("--trajectories", help="Rollouts to take the successful episodes from (repeat for several); without it, the gold solutions.")] = None,
    min_f1: Annotated[float, typer.Option(help="With --trajectories: keep episodes with at least this Solve-F1.")] = 1.0,
    split: Annotated[str, typer.Option(help="Only environments of this split ('all' for every one).")] = "train",
    limit: Annotated[int | None, typer.Option(help="Only the first N environments.")] = None,
    lr: Annotated[float, typer.Option("--learning-rate", "--lr", help="Learning rate (a pretrained 7B model: 1e-5; a `model init` model: 1e-3).")] = 1e-5,
    epochs: Annotated[float, typer.Option(help="Epochs over the data.")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps (-1: epochs decide).")] = -1,
    batch_size: Annotated[int, typer.Option(help="Sequences per device step.")] = 8,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps.")] = 1,
    max_length: Annotated[int, typer.Option(help="Longest sequence in tokens; longer conversations are left out (counted).")] = 8192,
    loss: Annotated[str, typer.Option(help="Loss on the assistant 'replies', or on 'all' tokens (a model from scratch learning the text it reads).")] = "replies",
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters (peft) instead of all weights.")] = False,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 50,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help="Qwen3 reasoning mode in the rendered conversations.")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    threads: Threads = None,
    overwrite: Overwrite = False,
) -> None:
    """Supervised fine-tuning (TRL's SFTTrainer) on the gold trajectories of the environments, or on the successful
    trajectories of rollouts (rejection-sampling fine-tuning). Each conversation is tokenized exactly as the rollout
    tokenizes it; the loss falls on the assistant replies only. Checkpoints go to --out; a rerun resumes, a rerun of a
    finished run does nothing (a larger --max-steps continues it), and a rerun with other settings is refused."""
    from ..sandbox import default_pool
    from ..train.config import Hyperparameters
    from ..train.sft import prepare_sft, read_sft_data, sft_rows
    from ..train.trl_run import TrlRunConfig, run_trl

    if loss not in ("replies", "all"):
        fail(f"--loss must be replies or all, not {loss!r}")
    for p in trajectories or []:
        if not p.exists():
            fail(f"--trajectories {p} does not exist")
    distinct({"--envs": envs, "--model": Path(model) if Path(model).exists() else None,
              **{f"--trajectories {p}": p for p in trajectories or []}}, {"--out": out})
    chosen = load_envs(envs, None if split == "all" else split, limit)
    try:
        data = prepare_sft(out, chosen, trajectories=trajectories or [], min_f1=min_f1,
                           executor=None if trajectories else default_pool(), overwrite=overwrite)
    except ConfigError as exc:
        fail(str(exc))
    what = "gold trajectories" if data.source == "gold" else f"successful trajectories (Solve-F1 >= {min_f1})"
    console.print(f"{data.trajectories} {what} of {data.candidates} -> [bold]{data.path}[/]")
    if not data.trajectories:
        fail("nothing to train on" + (f": no trajectory reached --min-f1 {min_f1}" if trajectories else ""), 1)
    config = TrlRunConfig(algo="sft", model=model, data=data.path, out=out, envs=envs,
                          hparams=Hyperparameters(learning_rate=lr, enable_thinking=thinking),
                          epochs=epochs, max_steps=max_steps, per_device_batch_size=batch_size,
                          gradient_accumulation_steps=grad_accum, max_length=max_length, lora=lora, lora_r=lora_r,
                          save_steps=save_steps, seed=seed, threads=threads, sft_loss=loss)
    try:
        rows = sft_rows(read_sft_data(data.path), {e.id: e for e in chosen}, _tokenizer(model), max_length=max_length,
                        loss=loss,
                        template_kwargs={"enable_thinking": thinking} if thinking is not None else None)
        tokens = sum(len(e.input_ids) for e in rows.examples)
        trained = sum(sum(e.assistant_masks) for e in rows.examples)
        console.print(f"{len(rows.examples)} sequences, {tokens:,} tokens, {trained:,} of them trained"
                      + (" (the replies)" if loss == "replies" else "")
                      + ("; left out: " + ", ".join(f"{n} {why}" for why, n in rows.skipped.items())
                         if rows.skipped else ""))
        result = run_trl(config, overwrite=overwrite)
    except ConfigError as exc:
        fail(str(exc))
    show_run(result, out)


def _tokenizer(model: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model)
