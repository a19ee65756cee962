"""Training logs a person can read: one tidy line per logged step (the reward under the name of what it is, KL,
entropy, response length, loss, learning rate) instead of TRL's raw dictionary, and the summary of a run's
log (first, last and mean reward and loss) that the CLI and the loop report.

TRL logs each reward function under ``rewards/<name>/mean``; toolgym's functions are named for what they
compute (``toolgym_f1`` and the other step rewards, ``toolgym_episode_f1`` for whole episodes), so the line
says "step reward" or "Solve-F1" rather than "reward". transformers is imported only by
:func:`install_step_lines`, which a trainer calls.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EPISODE_REWARD = "toolgym_episode_f1"  # the name of toolgym.train.trl_env.episode_reward

# (log key, label, format) in the order of the line
_COLUMNS = (
    ("kl", "KL", "{:.4g}"),
    ("entropy", "entropy", "{:.3f}"),
    ("completions/mean_length", "length", "{:.1f}"),
    ("rewards/margins", "margin", "{:.3f}"),  # DPO
    ("rewards/accuracies", "pref. acc.", "{:.2f}"),  # DPO
    ("loss", "loss", "{:.4g}"),
    ("grad_norm", "grad", "{:.3g}"),
    ("learning_rate", "lr", "{:.2e}"),
)


def reward_label(function_name: str) -> str:
    """What a reward function's number is, for people."""
    if function_name == EPISODE_REWARD:
        return "Solve-F1"
    if function_name.startswith("toolgym_"):
        return "step reward" if function_name == "toolgym_f1" else f"step reward ({function_name[8:]})"
    return function_name


def _rewards(row: Mapping[str, Any]) -> list[tuple[str, float, float | None]]:
    """(label, mean, std) of each reward function the row logs; the total ``reward`` when there are several
    functions or none is named."""
    names = [k[len("rewards/"):-len("/mean")] for k in row if k.startswith("rewards/") and k.endswith("/mean")]
    out = [(reward_label(n), row[f"rewards/{n}/mean"], row.get(f"rewards/{n}/std")) for n in names]
    if "reward" in row and len(names) != 1:
        out.insert(0, ("reward", row["reward"], row.get("reward_std")))
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def step_line(row: Mapping[str, Any], step: int | None = None, max_steps: int | None = None) -> str | None:
    """One line for a logged training step (``None`` for rows that are not a step, such as the run's final
    totals)."""
    if "train_runtime" in row or not any(k in row for k in ("loss", "reward")):
        return None
    step = row.get("step", step)
    parts = [f"step {step}" + (f"/{max_steps}" if max_steps and max_steps > 0 else "")] if step is not None else []
    for label, mean, std in _rewards(row):
        if _number(mean):
            parts.append(f"{label} {mean:.3f}" + (f" ±{std:.3f}" if _number(std) else ""))
    parts += [f"{label} {fmt.format(row[key])}" for key, label, fmt in _COLUMNS if _number(row.get(key))]
    return " · ".join(parts)


@dataclass(frozen=True)
class LogSummary:
    """A training log at a glance: steps logged, and the reward and loss at the first and last of them."""

    steps: int
    reward_first: float | None = None
    reward_last: float | None = None
    reward_mean: float | None = None
    loss_first: float | None = None
    loss_last: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def summarize(log: Iterable[Mapping[str, Any]]) -> LogSummary:
    rows = [r for r in log if "train_runtime" not in r and ("loss" in r or "reward" in r)]
    rewards = [r["reward"] for r in rows if _number(r.get("reward"))]
    losses = [r["loss"] for r in rows if _number(r.get("loss"))]
    return LogSummary(
        steps=len(rows),
        reward_first=rewards[0] if rewards else None, reward_last=rewards[-1] if rewards else None,
        reward_mean=sum(rewards) / len(rewards) if rewards else None,
        loss_first=losses[0] if losses else None, loss_last=losses[-1] if losses else None,
    )


def install_step_lines(trainer: Any) -> None:
    """Replace the trainer's printing of raw log dictionaries by :func:`step_line` (keeping its progress bar
    when it has one: the lines go above it)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class StepLines(ProgressCallback):
        def __init__(self, bar: bool):
            super().__init__()
            self.bar = bar
            self.current_step = 0

        def on_train_begin(self, args, state, control, **kwargs):
            if self.bar:
                super().on_train_begin(args, state, control, **kwargs)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar and self.training_bar is not None:
                super().on_step_end(args, state, control, **kwargs)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar and self.training_bar is not None:
                super().on_train_end(args, state, control, **kwargs)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero:
                return
            line = step_line(logs or {}, state.global_step, state.max_steps)
            if line is None:
                return
            if self.training_bar is not None:
                self.training_bar.write(line)
            else:
                print(line, file=sys.stdout, flush=True)

    had_bar = trainer.pop_callback(ProgressCallback) is not None
    had_printer = trainer.pop_callback(PrinterCallback) is not None
    if had_bar or had_printer:
        trainer.add_callback(StepLines(bar=had_bar))
