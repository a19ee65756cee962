"""TRL entry point: reward functions with TRL's signature ``(prompts, completions, **columns) -> list[float]``.

The dataset rows carry the same columns as the paper's per-turn data: ``codes`` and ``unsolved_set``
(JSON strings or dicts), ``solve_rate`` and ``answer``. All tool calls of a batch run in one sandbox round.

    from toolgym.reward.trl import make_reward_func
    trainer = GRPOTrainer(model=..., reward_funcs=[make_reward_func("f1")], train_dataset=ds, ...)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from toolgym.reward import RewardInput, score_batch
from toolgym.reward._core import check_variant
from toolgym.sandbox import Executor


def _completion_text(completion: Any) -> Any:
    """TRL gives a string (standard format) or a list of messages (conversational format)."""
    if isinstance(completion, list):
        messages = [m for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        if len(messages) == 1 and messages[0].get("tool_calls"):
            return messages[0]  # native tool calls: parse the message itself
        return "".join(str(m.get("content") or "") for m in messages)
    if isinstance(completion, dict):
        return completion
    return "" if completion is None else str(completion)


def _maybe_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def make_reward_func(variant: str = "f1", *, executor: Executor | None = None,
                     format: str = "hermes") -> Callable[..., list[float]]:
    """A TRL reward function computing the paper's step reward (``variant``: f1, precision, rate, product)."""
    check_variant(variant)

    def reward(prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), *,
               codes: Sequence[Any], unsolved_set: Sequence[Any], solve_rate: Sequence[float] | None = None,
               answer: Sequence[Any] | None = None, **_: Any) -> list[float]:
        n = len(completions)
        rates = solve_rate if solve_rate is not None else [0.0] * n
        answers = answer if answer is not None else [None] * n
        items = [
            RewardInput(_completion_text(c), dict(_maybe_json(code)), dict(_maybe_json(u)),
                        float(r or 0.0), a if isinstance(a, str) else None)
            for c, code, u, r, a in zip(completions, codes, unsolved_set, rates, answers, strict=True)
        ]
        return [s.reward for s in score_batch(items, variant=variant, executor=executor, format=format)]

    reward.__name__ = f"toolgym_{variant}"
    reward.__qualname__ = reward.__name__
    return reward
