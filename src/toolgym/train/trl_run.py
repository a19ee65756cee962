"""Training on one machine with TRL: GRPO and RLOO on the paper's per-turn prompts with toolgym's step
reward, DPO on preference pairs; optional LoRA (peft), checkpoints and resume.

:class:`TrlRunConfig` is :class:`TrlSettings` (how to train: the shared :class:`~toolgym.train.config.
Hyperparameters` with the paper's values, where metrics are reported, TRL's batch and checkpoint settings)
plus where: the model, the data and the run folder. :func:`trainer_args` maps it onto TRL's config object,
``extra`` (``--set``) on top, before any model is loaded. ``docs/training.md`` lists each setting against
the paper's verl run and says which TRL can match. torch, transformers, trl and peft are imported only when
a run starts (the ``train`` extra).

The run folder is a :class:`~toolgym.io.Run` whose identity is the configuration without its extent
(``max_steps``, ``epochs``) and without where metrics are reported: a rerun of a finished run with the same
extent does nothing, a longer one continues from the last checkpoint, an interrupted one resumes, and a
rerun with other settings is refused (``overwrite`` starts again). The data is read and checked before any
model is loaded.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..io import JsonlWriter, Run, iter_jsonl
from ..models import model_source, pretrained
from ..publish import save_model_card, write_model_card
from .card import trl_card
from .config import Hyperparameters, Tracking, trl_loss_type
from .layouts import dpo_rows, read_pairs, read_turns, trl_rows
from .logs import install_step_lines

Algo = Literal["grpo", "rloo", "dpo", "sft"]
ALGOS = ("grpo", "rloo", "dpo", "sft")


@dataclass(kw_only=True)
class TrlSettings:
    """How a TRL run trains: everything but the model it starts from, its data and its folder (which the
    loop gives each iteration)."""

    algo: Algo = "grpo"
    hparams: Hyperparameters = field(default_factory=Hyperparameters)
    tracking: Tracking = field(default_factory=Tracking)
    per_device_batch_size: int = 16  # completions per device step; a multiple of num_generations
    gradient_accumulation_steps: int = 1
    dpo_beta: float = 0.1  # DPO's beta (hparams.beta is the KL coefficient of GRPO/RLOO)
    epochs: float = 1.0
    max_steps: int = -1
    reward_variant: str = "f1"
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_target_modules: str | list[str] = "all-linear"
    save_steps: int = 50
    save_total_limit: int | None = 3
    logging_steps: int = 1
    seed: int = 0
    limit: int | None = None  # only the first N training rows
    episodes: bool = False  # GRPO on whole multi-turn episodes (TRL environment_factory) instead of prefixes
    max_turns: int = 20  # episodes: tool-calling rounds per episode
    max_length: int | None = None  # sft: sequences longer than this (tokens) are left out, counted
    sft_loss: str = "replies"  # sft: loss on the assistant replies, or on "all" tokens (language modelling)
    threads: int | None = None  # torch's CPU threads (None: torch's default); speed only, not part of the identity
    extra: dict[str, Any] = field(default_factory=dict)  # more TRL config fields by name (--set); they win

    def run(self, *, model: str, out: Path, data: Path | None = None, envs: Path | None = None) -> TrlRunConfig:
        """A run of these settings: ``model`` trained on ``data`` (or ``envs``, for episodes) into ``out``."""
        mine = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(TrlSettings)}
        return TrlRunConfig(**mine, model=model, out=Path(out), data=data, envs=envs)


@dataclass(kw_only=True)
class TrlRunConfig(TrlSettings):
    model: str
    out: Path
    data: Path | None = None  # the folder of `toolgym train prepare`
    envs: Path | None = None  # the environments, for episodes

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(out=str(self.out), data=str(self.data) if self.data else None,
                 envs=str(self.envs) if self.envs else None)
        return d

    def identity(self) -> dict[str, Any]:
        """What a resumed run must match: everything but where it is written, how long it trains, where
        its metrics are reported and how many CPU threads it uses."""
        return {k: v for k, v in self.to_dict().items() if k not in (*EXTENT, "out", "tracking", "threads")}

    def extent(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in EXTENT}


EXTENT = ("max_steps", "epochs")  # how long a run trains: a longer rerun continues a finished one


@dataclass
class TrlRunResult:
    out: Path
    final: Path
    steps: int
    log: list[dict[str, Any]]
    seconds: float
    resumed_from: str | None = None
    already_done: bool = False  # a finished run of the same configuration was found: nothing was trained


def _need_train_extra():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import trl  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"training with TRL needs the 'train' extra: pip install 'toolgym[train]' ({exc})") from exc


def load_model(name: str, bf16: bool | None = None):
    """A causal LM and its tokenizer (left padding, a pad token) by name or path; a model that cannot be
    loaded here is a one-line ``ConfigError`` naming ``--model``, before anything heavy is loaded."""
    model_source(name)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = pretrained(AutoTokenizer, name)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    use_bf16 = bf16 if bf16 is not None else (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    model = pretrained(AutoModelForCausalLM, name, dtype=torch.bfloat16 if use_bf16 else torch.float32)
    return model, tokenizer


def last_checkpoint(out: Path) -> str | None:
    checkpoints = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1)
    return str(checkpoints[-1]) if checkpoints else None


def _config_class(c: TrlRunConfig):
    from trl import DPOConfig, GRPOConfig, RLOOConfig, SFTConfig

    return {"grpo": GRPOConfig, "rloo": RLOOConfig, "dpo": DPOConfig, "sft": SFTConfig}[c.algo]


def trl_settings(c: TrlRunConfig) -> dict[str, Any]:
    """TRL's config fields for the run, by name: the shared hyperparameters mapped onto TRL's fields, the
    run's own settings, then ``extra`` (``--set``), which wins. ``bf16`` is left to :func:`trainer_args`."""
    import transformers

    hp = c.hparams
    s: dict[str, Any] = {
        "output_dir": str(c.out), "learning_rate": hp.learning_rate, "weight_decay": hp.weight_decay,
        "lr_scheduler_type": hp.lr_scheduler_type, "max_grad_norm": hp.max_grad_norm, "num_train_epochs": c.epochs,
        "max_steps": c.max_steps, "per_device_train_batch_size": c.per_device_batch_size,
        "gradient_accumulation_steps": c.gradient_accumulation_steps, "logging_steps": c.logging_steps,
        "save_steps": c.save_steps, "save_total_limit": c.save_total_limit, "seed": c.seed,
        "report_to": list(c.tracking.report_to) or "none", "run_name": c.tracking.run_name or c.out.name,
        "project": c.tracking.project, "disable_tqdm": False, "remove_unused_columns": False,
    }
    if hp.warmup_ratio:  # transformers 5 takes a ratio as a float warmup_steps; 4.x has warmup_ratio
        s["warmup_steps" if int(transformers.__version__.split(".")[0]) >= 5 else "warmup_ratio"] = hp.warmup_ratio
    if c.algo == "dpo":
        s["beta"] = c.dpo_beta
    elif c.algo == "sft":  # the rows are tokenized already; too long ones were left out (max_length)
        s["max_length"] = None
    else:
        s.update(num_generations=hp.num_generations, max_completion_length=hp.response_length(c.episodes),
                 temperature=hp.temperature, beta=hp.beta, epsilon=hp.epsilon)
    if c.algo == "grpo":  # RLOO's loss is one per sequence (its log-probability): nothing to aggregate
        s.update(entropy_coef=hp.entropy_coef, loss_type=trl_loss_type(hp.loss_aggregation))
        if c.episodes:
            s["max_tool_calling_iterations"] = c.max_turns
    if hp.enable_thinking is not None:  # how TRL itself renders conversations (whole episodes)
        s["chat_template_kwargs"] = {"enable_thinking": hp.enable_thinking}
    return {**s, **c.extra}


_OPTIONAL = ("project", "chat_template_kwargs")  # left out where the installed TRL/transformers lacks them


def trainer_args(c: TrlRunConfig):
    """TRL's config object for the run (:func:`trl_settings`); a setting TRL does not have, or a value it
    refuses, is a :class:`~toolgym.errors.ConfigError` that names ``--set``. bf16 is on where the GPU
    supports it unless ``--set bf16=...`` says otherwise."""
    import torch

    cls = _config_class(c)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(c.extra) - known)
    if unknown:
        raise ConfigError(f"--set {unknown[0]}=...: TRL's {cls.__name__} has no setting {unknown[0]!r}")
    settings = {k: v for k, v in trl_settings(c).items() if k in known or k not in _OPTIONAL}
    settings.setdefault("bf16", torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    try:
        return cls(**settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"TRL refused the settings: {exc} (check the --set values)") from exc


def _peft_config(c: TrlRunConfig):
    if not c.lora:
        return None
    try:
        from peft import LoraConfig
    except ImportError as exc:
        raise ConfigError("--lora needs peft: pip install 'toolgym[train]'") from exc
    return LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, target_modules=c.lora_target_modules, task_type="CAUSAL_LM")


def training_data(c: TrlRunConfig) -> list[Any]:
    """The rows a run trains on (preference pairs, per-turn prompts, or environments for whole episodes),
    read and checked before any model is loaded: a mistake in the data costs seconds, not a download."""
    if c.algo not in ALGOS:
        raise ConfigError(f"unknown algorithm {c.algo!r}; use one of {', '.join(ALGOS)}")
    if c.algo == "sft":
        from .sft import sft_data

        return sft_data(c)
    if c.episodes:
        from ..io import read_environments

        if c.algo != "grpo":
            raise ConfigError("whole-episode training (--episodes) is available with --algo grpo")
        if c.envs is None:
            raise ConfigError("whole-episode training needs the environments: give --envs")
        if not Path(c.envs).exists():
            raise ConfigError(f"--envs {c.envs} does not exist")
        envs = [e for e in read_environments(c.envs) if e.split == "train"]
        if not envs:
            raise ConfigError(f"no training environments (metadata.split == 'train') in {c.envs}")
        return envs[: c.limit] if c.limit else envs
    if c.data is None:
        raise ConfigError("give --data (from `toolgym train prepare`), or --episodes with --envs")
    if not Path(c.data).exists():
        raise ConfigError(f"--data {c.data} does not exist; make it with `toolgym train prepare`")
    if c.algo == "dpo":
        pairs = read_pairs(c.data)
        if not pairs:
            raise ConfigError(f"no preference pairs in {c.data}; prepare them with `toolgym train prepare --pairs step`")
        return pairs[: c.limit] if c.limit else pairs
    prompts = read_turns(c.data, split="train")
    if not prompts:
        raise ConfigError(f"no training prompts in {c.data}; prepare them with `toolgym train prepare`")
    return prompts[: c.limit] if c.limit else prompts


def build_trainer(c: TrlRunConfig, model=None, tokenizer=None, data: list[Any] | None = None):
    """The TRL trainer for ``c`` (model and tokenizer loaded by name unless given; ``data`` read by
    :func:`training_data` unless given). The settings are checked first, then the model is loaded."""
    _need_train_extra()
    from datasets import Dataset

    from ..models import set_threads

    set_threads(c.threads)
    data = training_data(c) if data is None else data
    c.tracking.check_installed()
    args = trainer_args(c)
    if model is None or tokenizer is None:
        model, tokenizer = load_model(c.model, args.bf16)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    thinking = c.hparams.enable_thinking
    template = {"enable_thinking": thinking} if thinking is not None else {}
    if c.algo == "dpo":
        from trl import DPOTrainer

        trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(dpo_rows(data, tokenizer, template)),
                             processing_class=tokenizer, peft_config=_peft_config(c))
    elif c.algo == "sft":
        from .sft import sft_trainer

        trainer = sft_trainer(c, model, tokenizer, args, template, data)
    elif c.episodes:
        from trl import GRPOTrainer

        from .trl_env import environment_factories, episode_reward, episode_rows

        trainer = GRPOTrainer(model=model, reward_funcs=[episode_reward], args=args,
                              train_dataset=Dataset.from_list(episode_rows(data)), processing_class=tokenizer,
                              environment_factory=environment_factories(data), peft_config=_peft_config(c))
    else:
        from trl import GRPOTrainer, RLOOTrainer

        from ..reward.trl import make_reward_func

        trainer_cls = GRPOTrainer if c.algo == "grpo" else RLOOTrainer
        trainer = trainer_cls(model=model, reward_funcs=[make_reward_func(c.reward_variant)], args=args,
                              train_dataset=Dataset.from_list(trl_rows(data, tokenizer, template)),
                              processing_class=tokenizer, peft_config=_peft_config(c))
    install_step_lines(trainer)
    return trainer


def run_trl(c: TrlRunConfig, model=None, tokenizer=None, *, overwrite: bool = False) -> TrlRunResult:
    """Train, resuming from the last checkpoint in ``c.out`` if an earlier run of the same configuration
    left one; save the final model (LoRA adapters merged) with its model card to ``c.out / "final"``; write the training log
    and the manifest. A finished run of the same configuration and extent is not trained again (the
    result says ``already_done``). Raises :class:`~toolgym.io.RunRefused` if ``c.out`` holds a run of
    other settings (``overwrite`` deletes its checkpoints, final model, log and TensorBoard events first)."""
    c.out = Path(c.out)
    data = training_data(c)
    with Run(c.out, kind="trl-run", identity=c.identity(), folder=True, overwrite=overwrite, seed=c.seed,
             owns=[c.out / "checkpoint-*", c.out / "final", c.out / "log.jsonl", c.out / "runs"]) as run:
        done = run.previous or {}
        if run.complete and done.get("extent") == c.extent() and (c.out / "final").exists():
            log = [row for _, row in iter_jsonl(c.out / "log.jsonl")] if (c.out / "log.jsonl").exists() else []
            return TrlRunResult(c.out, c.out / "final", int(done.get("steps", 0)), log, 0.0, done.get("resumed_from"),
                                already_done=True)
        trainer = build_trainer(c, model, tokenizer, data)
        checkpoint = last_checkpoint(c.out) if run.resumed else None
        run.save("running", extra={"extent": c.extent(), "resumed_from": checkpoint})
        t0 = time.perf_counter()
        trainer.train(resume_from_checkpoint=checkpoint)
        seconds = time.perf_counter() - t0
        final = c.out / "final"
        model = trainer.model
        if hasattr(model, "merge_and_unload"):
            model = model.merge_and_unload()
        model.save_pretrained(str(final))
        trainer.processing_class.save_pretrained(str(final))
        card = trl_card(c, rows=len(data), steps=trainer.state.global_step)
        save_model_card(final, card)
        if (c.out / "README.md").exists():  # TRL's draft beside the checkpoints names neither model nor data
            write_model_card(c.out, card, name=f"{c.out.name}/final", load=final)
        log = list(trainer.state.log_history)
        log_path = c.out / "log.jsonl"
        if log_path.exists():
            log_path.unlink()
        with JsonlWriter(log_path) as w:
            for row in log:
                w.write(row)
        run.save("complete", counts={"rows": len(data)},
                 extra={"extent": c.extent(), "steps": trainer.state.global_step, "seconds": seconds,
                        "resumed_from": checkpoint, "final": str(final), "pid": os.getpid()})
    return TrlRunResult(c.out, final, trainer.state.global_step, log, seconds, checkpoint)
