"""TRL entry point: reward functions with TRL's signature ``(prompts, completions, **columns) -> list[float]``.

The dataset rows carry the columns of toolgym's TRL rows (``toolgym.formats.trl``): ``codes`` and
``unsolved_set`` (JSON strings or dicts), ``solve_rate``, ``answer``; TRL passes them to the reward as
keyword arguments and ``toolgym.formats.trl_turns`` reads them into one
:class:`~toolgym.schema.TurnState` per completion. All tool calls of a batch run in one sandbox round.
Completions are read as the rollout read the replies: in the row's ``tool_format``/``strip_thinking``
columns, else the reward's own ``format``/``strip_thinking``, else the paper's ``hermes``.

:class:`StepReward` is a class, not a closure, so that TRL can send it to another process (its own reward
functions are classes for that reason). Each variant also exists at module level, for TRL's command line::

    trl grpo ... --reward_funcs toolgym.reward.trl.step_reward_f1

    from toolgym.reward.trl import StepReward
    trainer = GRPOTrainer(model=..., reward_funcs=[StepReward("f1")], train_dataset=ds, ...)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolgym.formats import trl_turns
from toolgym.parse import tool_format
from toolgym.reward import check_variant, score_batch, worker_executor
from toolgym.sandbox import Executor


class StepReward:
    """A TRL reward function computing the paper's step reward (``variant``: f1, precision, rate, product).

    Tool calls run in ``executor``, by default this process's worker executor (the process-wide sandbox
    pool, or what ``TOOLGYM_EXECUTOR`` names). An explicit executor object stays in its process: such a
    reward refuses to be pickled rather than run somewhere else unseen."""

    def __init__(self, variant: str = "f1", *, executor: Executor | None = None, format: str | None = None,
                 strip_thinking: bool | None = None):
        self.variant = check_variant(variant)
        self.executor = executor
        self.format = tool_format(format).name if format is not None else None
        self.strip_thinking = strip_thinking
        self.__name__ = f"toolgym_{variant}"  # TRL logs each reward under its function's name

    def __call__(self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (),
                 **columns: Any) -> list[float]:
        items = trl_turns(completions, columns)
        scored = score_batch(items, variant=self.variant, executor=self.executor or worker_executor(),
                             format=self.format, strip_thinking=self.strip_thinking)
        return [s.reward for s in scored]

    def __getstate__(self) -> dict[str, Any]:
        if self.executor is not None:
            raise TypeError("a StepReward with an explicit executor cannot be sent to another process; leave "
                            "executor unset there (the sandbox pool, or set TOOLGYM_EXECUTOR)")
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"StepReward({self.variant!r}, format={self.format!r})"


def make_reward_func(variant: str = "f1", *, executor: Executor | None = None, format: str | None = None,
                     strip_thinking: bool | None = None) -> StepReward:
    """A TRL reward function computing the paper's step reward (see :class:`StepReward`)."""
    return StepReward(variant, executor=executor, format=format, strip_thinking=strip_thinking)


#: The paper's step reward and its variants, importable by dotted path (``trl grpo --reward_funcs``).
step_reward_f1 = StepReward("f1")
step_reward_precision = StepReward("precision")
step_reward_rate = StepReward("rate")
step_reward_product = StepReward("product")
