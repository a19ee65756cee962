"""Training on one machine with TRL: GRPO and RLOO on the paper's per-turn prompts with toolgym's step
reward, DPO on preference pairs; optional LoRA (peft), checkpoints and resume.

The defaults follow the paper's settings where TRL has them (learning rate 1e-6, 16 samples per prompt,
KL coefficient 0.001, entropy coefficient 0.001, temperature 1.0); ``docs/training.md`` maps each one.
torch, transformers, trl and peft are imported only when a run starts (the ``train`` extra).

The run folder is a :class:`~toolgym.io.Run` whose identity is the configuration without its extent
(``max_steps``, ``epochs``): a rerun of a finished run with the same extent does nothing, a longer one
continues from the last checkpoint, an interrupted one resumes, and a rerun with other settings is
refused (``overwrite`` starts again). The data is read and checked before any model is loaded.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..io import JsonlWriter, Run, iter_jsonl
from ..models import model_source, pretrained
from .layouts import dpo_rows, read_pairs, read_turns, trl_rows

Algo = Literal["grpo", "rloo", "dpo"]
ALGOS = ("grpo", "rloo", "dpo")


@dataclass
class TrlRunConfig:
    algo: Algo
    model: str
    data: Path
    out: Path
    learning_rate: float = 1e-6
    num_generations: int = 16  # samples per prompt (GRPO, RLOO)
    per_device_batch_size: int = 16  # completions per device step; a multiple of num_generations
    gradient_accumulation_steps: int = 1
    max_completion_length: int = 1024
    temperature: float = 1.0
    beta: float = 0.001  # KL coefficient (GRPO/RLOO); DPO's beta is dpo_beta
    entropy_coef: float = 0.001  # GRPO only
    dpo_beta: float = 0.1
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
    enable_thinking: bool | None = None
    bf16: bool | None = None  # None: when a GPU supports it
    limit: int | None = None  # only the first N training rows
    episodes: bool = False  # GRPO on whole multi-turn episodes (TRL environment_factory) instead of prefixes
    envs: Path | None = None  # the environments, for episodes
    max_turns: int = 20  # episodes: tool-calling rounds per episode
    extra: dict[str, Any] = field(default_factory=dict)  # more TRL config fields, by name

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["data"], d["out"], d["envs"] = str(self.data), str(self.out), str(self.envs) if self.envs else None
        return d

    def identity(self) -> dict[str, Any]:
        """What a resumed run must match: everything but where it is written and how long it trains."""
        return {k: v for k, v in self.to_dict().items() if k not in EXTENT and k != "out"}

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


def _common_args(c: TrlRunConfig, use_bf16: bool) -> dict[str, Any]:
    return dict(output_dir=str(c.out), learning_rate=c.learning_rate, num_train_epochs=c.epochs, max_steps=c.max_steps,
                per_device_train_batch_size=c.per_device_batch_size,
                gradient_accumulation_steps=c.gradient_accumulation_steps, logging_steps=c.logging_steps,
                save_steps=c.save_steps, save_total_limit=c.save_total_limit, seed=c.seed, bf16=use_bf16,
                report_to=[], disable_tqdm=False, remove_unused_columns=False)


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
    if c.episodes:
        from ..io import read_environments

        if c.algo != "grpo":
            raise ConfigError("whole-episode training (--episodes) is available with --algo grpo")
        if c.envs is None:
            raise ConfigError("whole-episode training needs the environments: give --envs")
        if not Path(c.envs).exists():
            raise ConfigError(f"--envs {c.envs} does not exist")
        envs = [e for e in read_environments(c.envs) if (e.metadata.split or "train") == "train"]
        if not envs:
            raise ConfigError(f"no training environments (metadata.split == 'train') in {c.envs}")
        return envs[: c.limit] if c.limit else envs
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
    :func:`training_data` unless given)."""
    _need_train_extra()
    import torch
    from datasets import Dataset

    data = training_data(c) if data is None else data
    if model is None or tokenizer is None:
        model, tokenizer = load_model(c.model, c.bf16)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    use_bf16 = bool(c.bf16) if c.bf16 is not None else (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    template = {"enable_thinking": c.enable_thinking} if c.enable_thinking is not None else {}
    common = _common_args(c, use_bf16)
    if c.algo == "dpo":
        from trl import DPOConfig, DPOTrainer

        rows = dpo_rows(data, tokenizer, template)
        args = DPOConfig(**common, beta=c.dpo_beta, **c.extra)
        return DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                          peft_config=_peft_config(c))
    if c.episodes:
        return _episode_trainer(c, model, tokenizer, common, data)
    from ..reward.trl import make_reward_func

    rows = trl_rows(data, tokenizer, template)
    online = dict(num_generations=c.num_generations, max_completion_length=c.max_completion_length,
                  temperature=c.temperature, beta=c.beta)
    reward = make_reward_func(c.reward_variant)
    if c.algo == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        args = GRPOConfig(**common, **online, entropy_coef=c.entropy_coef, **c.extra)
        trainer_cls = GRPOTrainer
    else:
        from trl import RLOOConfig, RLOOTrainer

        args = RLOOConfig(**common, **online, **c.extra)
        trainer_cls = RLOOTrainer
    return trainer_cls(model=model, reward_funcs=[reward], args=args, train_dataset=Dataset.from_list(rows),
                       processing_class=tokenizer, peft_config=_peft_config(c))


def _episode_trainer(c: TrlRunConfig, model, tokenizer, common: dict[str, Any], envs: list[Any]):
    """GRPO over whole episodes: TRL's tool-calling loop, toolgym environments as its environments."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from .trl_env import environment_factories, episode_reward, episode_rows

    args = GRPOConfig(**common, num_generations=c.num_generations, max_completion_length=c.max_completion_length,
                      temperature=c.temperature, beta=c.beta, entropy_coef=c.entropy_coef,
                      max_tool_calling_iterations=c.max_turns, **c.extra)
    return GRPOTrainer(model=model, reward_funcs=[episode_reward], args=args,
                       train_dataset=Dataset.from_list(episode_rows(envs)), processing_class=tokenizer,
                       environment_factory=environment_factories(envs), peft_config=_peft_config(c))


def run_trl(c: TrlRunConfig, model=None, tokenizer=None, *, overwrite: bool = False) -> TrlRunResult:
    """Train, resuming from the last checkpoint in ``c.out`` if an earlier run of the same configuration
    left one; save the final model (LoRA adapters merged) to ``c.out / "final"``; write the training log
    and the manifest. A finished run of the same configuration and extent is not trained again (the
    result says ``already_done``). Raises :class:`~toolgym.io.RunRefused` if ``c.out`` holds a run of
    other settings (``overwrite`` deletes its checkpoints, final model and log first)."""
    c.out = Path(c.out)
    data = training_data(c)
    with Run(c.out, kind="trl-run", identity=c.identity(), folder=True, overwrite=overwrite, seed=c.seed,
             owns=[c.out / "checkpoint-*", c.out / "final", c.out / "log.jsonl"]) as run:
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
