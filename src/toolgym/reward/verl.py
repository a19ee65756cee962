"""verl entry point: ``custom_reward_function.path=<this file>``, ``custom_reward_function.name=compute_score``.

Stock verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` per response
(``NaiveRewardManager``) or ``compute_score_batch(data_sources, solution_strs, ground_truths,
extra_infos)`` (``BatchRewardManager``, one sandbox batch for the whole step: faster).

The arguments are the row's ``data_source``, ``reward_model.ground_truth`` and ``extra_info`` (see
``toolgym.formats.verl``: the unsolved set, solve rate and answer; the codes, split and an optional
``reward_variant``: ``f1`` default, ``precision``, ``rate``, ``product``; ``tool_format`` and
``strip_thinking``: how the rollout read replies, which the reply is read with here too). They are decoded by
``toolgym.formats.verl_reward_turn`` -- the same reader toolgym's verl agent loops use -- into a
:class:`~toolgym.schema.TurnState` whose response is scored.

Run-wide settings go through verl's ``custom_reward_function.reward_kwargs``: ``reward_variant``,
``tool_format`` (``hermes``, ``llama3``, ...) and ``strip_thinking``; a row's own value wins.

This module may be loaded by file path, so it uses absolute imports only, and it imports nothing heavy
(no torch): a verl reward worker can load it cheaply. Tool calls run in the process-wide sandbox pool;
set ``TOOLGYM_EXECUTOR=unsafe-inprocess`` to run them in-process instead (trusted code only).
"""

from __future__ import annotations

from typing import Any

from toolgym.formats import verl_reward_turn, verl_reward_variant
from toolgym.reward import score_batch, worker_executor
from toolgym.schema import TurnState


def scored_turn(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None,
                reward_variant: str | None = None) -> tuple[TurnState, str]:
    """The turn verl asks to score, and the reward variant for it: the row's ``extra_info.reward_variant``
    wins, then ``reward_variant`` (settable run-wide through verl's ``custom_reward_function.reward_kwargs``),
    then ``f1``."""
    state = verl_reward_turn(data_source, solution_str, ground_truth, extra_info)
    return state, verl_reward_variant(extra_info, reward_variant)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  reward_variant: str | None = None, tool_format: str | None = None,
                  strip_thinking: bool | None = None, **_: Any) -> float:
    """The step reward of one response (the paper's ``compute_solve_*`` by variant, see :func:`scored_turn`)."""
    state, variant = scored_turn(data_source, solution_str, ground_truth, extra_info, reward_variant)
    return score_batch([state], variant=variant, executor=worker_executor(), format=tool_format,
                       strip_thinking=strip_thinking)[0].reward


def compute_score_batch(data_sources: list, solution_strs: list, ground_truths: list, extra_infos: list | None = None,
                        reward_variant: str | None = None, tool_format: str | None = None,
                        strip_thinking: bool | None = None, **_: Any) -> list[float]:
    """Step rewards of a whole batch; every tool call of the batch runs in one sandbox round."""
    extra_infos = extra_infos if extra_infos is not None else [None] * len(solution_strs)
    pairs = [scored_turn(d, s, g, e, reward_variant)
             for d, s, g, e in zip(data_sources, solution_strs, ground_truths, extra_infos, strict=True)]
    by_variant: dict[str, list[int]] = {}
    for i, (_, variant) in enumerate(pairs):
        by_variant.setdefault(variant, []).append(i)
    scores = [0.0] * len(pairs)
    for variant, idx in by_variant.items():
        scored = score_batch([pairs[i][0] for i in idx], variant=variant, executor=worker_executor(),
                             format=tool_format, strip_thinking=strip_thinking)
        for i, s in zip(idx, scored):
            scores[i] = s.reward
    return scores
