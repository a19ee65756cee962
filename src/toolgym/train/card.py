"""The model card of a TRL run's final model: the facts of :class:`~toolgym.train.trl_run.TrlRunConfig` --
the base model, the data (and the environments it was prepared from), the algorithm, the reward and the main
hyperparameters -- as a :class:`~toolgym.publish.ModelCardInfo`. TRL's own card names the base model only
when it is a Hub id and the data never ("fine-tuned version of None"), so toolgym writes its own."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..publish import ModelCardInfo, source_name

if TYPE_CHECKING:
    from .trl_run import TrlRunConfig

_REWARDS = {"f1": "the step reward of the paper (F1 of the expected items solved by the step's calls)",
            "precision": "the step reward, precision variant", "rate": "the step reward, solve-rate variant",
            "product": "the step reward, precision x solve-rate variant"}


def _prepared_from(data: Path) -> str | None:
    """The environments a `toolgym train prepare` folder was made from (its manifest, ``manifest.json``)."""
    try:
        manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    envs = manifest.get("envs") if isinstance(manifest, dict) else None
    return source_name(envs) if envs else None


def trl_card(c: TrlRunConfig, *, rows: int, steps: int) -> ModelCardInfo:
    """The card of a finished TRL run of ``c`` (``rows`` training rows, ``steps`` optimizer steps)."""
    import trl

    hp = asdict(c.hparams) | {"max_completion_length": c.hparams.response_length(c.episodes)}
    if c.algo == "dpo":  # DPO samples nothing and has no KL term of its own: its beta is --dpo-beta
        hp = {k: hp[k] for k in ("learning_rate", "weight_decay", "lr_scheduler_type", "warmup_ratio",
                                 "max_grad_norm")} | {"dpo_beta": c.dpo_beta}
    hyper: dict[str, Any] = {
        **hp, "per_device_batch_size": c.per_device_batch_size,
        "gradient_accumulation_steps": c.gradient_accumulation_steps, "epochs": c.epochs, "max_steps": c.max_steps,
        "seed": c.seed,
    }
    if c.lora:
        hyper.update(lora_r=c.lora_r, lora_alpha=c.lora_alpha, lora_target_modules=c.lora_target_modules)
    if c.episodes:
        hyper["max_turns"] = c.max_turns
    hyper.update({f"set {k}": v for k, v in c.extra.items()})
    data = c.envs if c.episodes else c.data
    if c.episodes:
        reward = "whole-episode reward of the environments (toolgym)"
    elif c.algo == "dpo":
        reward = None
    else:
        reward = _REWARDS.get(c.reward_variant, c.reward_variant)
    return ModelCardInfo(
        base_model=c.model, data=source_name(data) or "unknown",
        data_from=None if c.episodes or data is None else _prepared_from(Path(data)),
        algorithm=c.algo.upper() + (" on whole episodes" if c.episodes else "") + (" with LoRA" if c.lora else ""),
        trainer=f"TRL {trl.__version__}", hyperparameters=hyper, reward=reward, rows=rows, steps=steps)
