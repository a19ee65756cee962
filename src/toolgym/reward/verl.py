"""verl entry point: ``custom_reward_function.path=<this file>``, ``custom_reward_function.name=compute_score``.

Stock verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` per response
(``NaiveRewardManager``) or ``compute_score_batch(data_sources, solution_strs, ground_truths,
extra_infos)`` (``BatchRewardManager``, one sandbox batch for the whole step: faster).

* ``ground_truth``: JSON string or dict with ``unsolved_set``, ``solve_rate``, ``answer``;
* ``extra_info``: dict with ``codes`` (dict or JSON string), ``split``, optional ``reward_variant``
  (``f1`` default, ``precision``, ``rate``, ``product``).

This module may be loaded by file path, so it uses absolute imports only, and it imports nothing heavy
(no torch): a verl reward worker can load it cheaply. Tool calls run in the process-wide sandbox pool;
set ``TOOLGYM_EXECUTOR=unsafe-inprocess`` to run them in-process instead (trusted code only).
"""

from __future__ import annotations

import json
import os
from typing import Any

from toolgym.reward import RewardInput, score_batch
from toolgym.sandbox import make_executor

_executor = None


def _get_executor():
    global _executor
    kind = os.environ.get("TOOLGYM_EXECUTOR", "sandbox")
    if kind == "sandbox":
        from toolgym.sandbox import default_pool

        return default_pool()
    if _executor is None:
        _executor = make_executor(kind)
    return _executor


def _as_dict(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    if hasattr(value, "items"):
        return dict(value)
    raise ValueError(f"{what} must be a dict or a JSON string, got {type(value).__name__}")


def _input(solution_str: str, ground_truth: Any, extra_info: Any,
           default_variant: str | None = None) -> tuple[RewardInput, str]:
    truth = _as_dict(ground_truth, "ground_truth")
    extra = _as_dict(extra_info, "extra_info")
    unsolved = _as_dict(truth.get("unsolved_set"), "ground_truth.unsolved_set")
    codes = _as_dict(extra.get("codes", truth.get("codes")), "extra_info.codes")
    answer = truth.get("answer")
    solve_rate = truth.get("solve_rate", 0.0)
    item = RewardInput(
        response=solution_str,
        code=codes,
        unsolved={k: list(v) for k, v in unsolved.items()},
        solve_rate=float(solve_rate) if solve_rate is not None else 0.0,
        answer=answer if isinstance(answer, str) else None,
    )
    return item, str(extra.get("reward_variant") or default_variant or "f1")


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  reward_variant: str | None = None, **_: Any) -> float:
    """The step reward of one response (the paper's ``compute_solve_*`` by ``reward_variant``: a row's
    ``extra_info.reward_variant`` wins, then this argument -- settable run-wide through verl's
    ``custom_reward_function.reward_kwargs`` -- then ``f1``)."""
    item, variant = _input(solution_str, ground_truth, extra_info, reward_variant)
    return score_batch([item], variant=variant, executor=_get_executor())[0].reward


def compute_score_batch(data_sources: list, solution_strs: list, ground_truths: list, extra_infos: list | None = None,
                        reward_variant: str | None = None, **_: Any) -> list[float]:
    """Step rewards of a whole batch; every tool call of the batch runs in one sandbox round."""
    extra_infos = extra_infos if extra_infos is not None else [None] * len(solution_strs)
    pairs = [_input(s, g, e, reward_variant) for s, g, e in zip(solution_strs, ground_truths, extra_infos, strict=True)]
    by_variant: dict[str, list[int]] = {}
    for i, (_, variant) in enumerate(pairs):
        by_variant.setdefault(variant, []).append(i)
    scores = [0.0] * len(pairs)
    for variant, idx in by_variant.items():
        scored = score_batch([pairs[i][0] for i in idx], variant=variant, executor=_get_executor())
        for i, s in zip(idx, scored):
            scores[i] = s.reward
    return scores
