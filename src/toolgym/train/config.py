"""The training settings every trainer shares, written once: :class:`Hyperparameters` (the RL hyperparameters,
under TRL's names, with the paper's values as defaults) and :class:`Tracking` (where training metrics are
reported). ``TrlRunConfig``, ``VerlRunConfig`` and ``LoopConfig`` compose them, so a learning rate is
``hparams.learning_rate`` in all three; each trainer maps the block onto its own keys (TRL's config fields,
verl's Hydra keys) in one function.

The defaults are the paper's verl run: its scripts (``Scripts/FTRL-GRPO-Qwen25.sh`` and the five others)
on its fork's ``Code/verl/trainer/config/ppo_trainer.yaml`` (bytedance/FTRL). ``docs/training.md`` lists each
setting with the file and line it comes from. Nothing here imports a training library.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

#: verl's policy-loss aggregations (``actor.loss_agg_mode``); the paper's fork uses ``seq-mean-token-mean``.
LOSS_AGGREGATIONS = ("seq-mean-token-mean", "token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")
#: The same aggregation in TRL's GRPO (``loss_type``), where TRL has one; see :func:`trl_loss_type`.
TRL_LOSS_TYPES = {
    "seq-mean-token-mean": "grpo",  # each sequence's token mean, then the mean over sequences
    "token-mean": "dapo",  # the mean over every token of the batch (verl 0.9: the global batch, as DAPO)
    "seq-mean-token-sum-norm": "dr_grpo",  # token sums over sequences, divided by the response budget
}
#: Learning-rate schedules both trainers have (verl's ``optim.lr_scheduler_type``, TRL's ``lr_scheduler_type``).
LR_SCHEDULERS = ("constant", "cosine")
#: Where training metrics can go besides the console (TRL's ``report_to``; verl's ``trainer.logger``).
REPORTERS = {"tensorboard": "tensorboard", "wandb": "wandb", "trackio": "trackio"}  # name -> package it needs


def _help(default: Any, text: str) -> Any:
    """A dataclass field with a help text (shown by the command line, which makes one option per field)."""
    return field(default=default, metadata={"help": text})


@dataclass
class Hyperparameters:
    """The RL hyperparameters TRL, verl and the loop share, under one name each (TRL's, where TRL has the
    setting). Defaults: the paper's verl run."""

    learning_rate: float = _help(1e-6, "Learning rate (the paper's 1e-6).")
    num_generations: int = _help(16, "Responses sampled per prompt (the paper's 16).")
    temperature: float = _help(0.7, "Sampling temperature of the responses trained on (the paper's verl "
                                    "rollouts: 0.7).")
    beta: float = _help(0.001, "KL coefficient, the KL to the reference model as a loss (the paper's 0.001).")
    entropy_coef: float = _help(0.001, "Entropy bonus coefficient (the paper's 0.001).")
    max_completion_length: int | None = _help(None, "Most tokens per response (default: the paper's 1024; "
                                                    "4096 for whole episodes).")
    loss_aggregation: str = _help("seq-mean-token-mean", "How token losses make the loss: "
                                  + ", ".join(LOSS_AGGREGATIONS) + " (the paper's seq-mean-token-mean).")
    weight_decay: float = _help(0.01, "AdamW weight decay (the paper's 0.01).")
    lr_scheduler_type: str = _help("constant", "Learning-rate schedule: " + ", ".join(LR_SCHEDULERS)
                                   + " (the paper's constant).")
    warmup_ratio: float = _help(0.0, "Share of the steps with a linear warm-up (the paper's 0).")
    max_grad_norm: float = _help(1.0, "Gradient clipping norm (the paper's 1.0).")
    epsilon: float = _help(0.2, "PPO clip range of the policy ratio (the paper's 0.2).")
    enable_thinking: bool | None = _help(False, "Reasoning mode of the chat template (Qwen3; the paper's runs: "
                                                "off, on for its reasoning runs).")

    def __post_init__(self) -> None:
        if self.loss_aggregation not in LOSS_AGGREGATIONS:
            raise ConfigError(f"--loss-aggregation must be one of {', '.join(LOSS_AGGREGATIONS)}, "
                              f"not {self.loss_aggregation!r}")
        if self.lr_scheduler_type not in LR_SCHEDULERS:
            raise ConfigError(f"--lr-scheduler-type must be one of {', '.join(LR_SCHEDULERS)}, "
                              f"not {self.lr_scheduler_type!r}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"--warmup-ratio is a share of the steps in [0, 1), not {self.warmup_ratio}")
        if self.num_generations < 1:
            raise ConfigError(f"--num-generations must be at least 1, not {self.num_generations}")
        if self.temperature < 0:
            raise ConfigError(f"--temperature must be >= 0, not {self.temperature}")
        if self.max_completion_length is not None and self.max_completion_length < 1:
            raise ConfigError(f"--max-completion-length must be at least 1, not {self.max_completion_length}")

    def response_length(self, episodes: bool = False) -> int:
        """The response budget in tokens: the paper's 1024 for one reply, 4096 for a whole episode (all its
        replies and tool outputs share it), unless set."""
        if self.max_completion_length is not None:
            return self.max_completion_length
        return 4096 if episodes else 1024

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trl_loss_type(aggregation: str) -> str:
    """TRL's GRPO ``loss_type`` that aggregates token losses as verl's ``loss_agg_mode`` does; a
    :class:`~toolgym.errors.ConfigError` where TRL has none (``seq-mean-token-sum``)."""
    try:
        return TRL_LOSS_TYPES[aggregation]
    except KeyError:
        raise ConfigError(f"TRL has no loss that aggregates as {aggregation!r}; use --loss-aggregation with one of "
                          f"{', '.join(TRL_LOSS_TYPES)} for TRL, or train with verl") from None


@dataclass
class Tracking:
    """Where a run reports its metrics besides the console, as TRL's ``report_to``/``run_name``/``project``
    (verl: ``trainer.logger``, ``experiment_name``, ``project_name``). TensorBoard writes event files into the
    run folder and needs no network."""

    report_to: list[str] = field(default_factory=list, metadata={
        "help": "Also report metrics to: " + ", ".join(REPORTERS) + " (repeat, or a comma list; default: the "
                "console only)."})
    run_name: str | None = _help(None, "Name of the run in the trackers (default: from the run folder or model).")
    project: str = _help("toolgym", "Project of the run in wandb, trackio and verl's trackers.")

    def __post_init__(self) -> None:
        names = [n.strip() for item in self.report_to for n in str(item).split(",") if n.strip()]
        names = [] if names in (["none"], ["console"]) else [n for n in names if n != "console"]
        unknown = [n for n in names if n not in REPORTERS]
        if unknown:
            raise ConfigError(f"--report-to takes {', '.join(REPORTERS)}, not {', '.join(unknown)}")
        self.report_to = list(dict.fromkeys(names))

    def check_installed(self) -> None:
        """Each tracker's package must be importable (none is a dependency of toolgym): say which to install."""
        for name in self.report_to:
            package = REPORTERS[name]
            if importlib.util.find_spec(package) is None:
                raise ConfigError(f"--report-to {name} needs the {package} package: pip install {package} "
                                  f"(or leave {name} out of --report-to)")

