"""``toolgym model init``: a small model from scratch, for smoke runs, teaching and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import console, fail, load_envs

model_app = typer.Typer(help="Models made here: a small model from scratch for smoke runs, teaching and tests.",
                        no_args_is_help=True)


@model_app.command("init")
def init_cmd(
    envs: Annotated[Path, typer.Option(help="Environments whose text trains the tokenizer (their train split).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (loadable by path by every backend and trainer).")],
    size: Annotated[str, typer.Option(help="tiny, nano, micro, small or base (see docs/training.md).")] = "micro",
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary (before the template's fixed strings and tags).")] = 4096,
    hidden_size: Annotated[int | None, typer.Option(help="Override the size's hidden size.")] = None,
    layers: Annotated[int | None, typer.Option(help="Override the size's layer count.")] = None,
    heads: Annotated[int | None, typer.Option(help="Override the size's attention heads.")] = None,
    kv_heads: Annotated[int | None, typer.Option(help="Override the size's key/value heads.")] = None,
    intermediate_size: Annotated[int | None, typer.Option(help="Override the size's MLP width.")] = None,
    split: Annotated[str | None, typer.Option(help="Only environments of this split (default: train; 'all' for every one).")] = "train",
    template: Annotated[Path | None, typer.Option(help="A chat template file (default: the real Qwen2.5 template from trl).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the weights.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a model already in --out.")] = False,
) -> None:
    """Train a BPE tokenizer on the environments' text (the chat template's fixed strings and the tool tags as single
    tokens) and write a Qwen2-architecture model with random weights and the real Qwen2.5 chat template."""
    from ..train.starter import model_init

    if template is not None and not template.exists():
        fail(f"--template {template} does not exist")
    chosen = load_envs(envs, None if split == "all" else split)
    try:
        report = model_init(chosen, out, size=size, vocab_size=vocab_size, seed=seed, overwrite=overwrite,
                            template=template.read_text() if template else None,
                            overrides={"hidden_size": hidden_size, "num_hidden_layers": layers,
                                       "num_attention_heads": heads, "num_key_value_heads": kv_heads,
                                       "intermediate_size": intermediate_size})
    except ConfigError as exc:
        fail(str(exc))
    s = report.shape
    console.print(f"{report.size} model: {report.parameters:,} parameters (hidden {s.hidden_size}, {s.num_hidden_layers} "
                  f"layers, {s.num_attention_heads} heads / {s.num_key_value_heads} key-value, MLP {s.intermediate_size}); "
                  f"vocabulary {report.vocab_size:,} from {report.environments:,} environments "
                  f"({report.fixed_strings} template strings as single tokens) in {report.seconds:.1f}s")
    console.print(f"model folder: [bold]{out}[/] -- random weights: train it first, e.g. "
                  f"`toolgym train sft --model {out} --envs {envs} --out runs/sft --lr 1e-3 --threads 1`")
