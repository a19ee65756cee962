"""The verifiable reward (the paper's, case for case) and its entry points.

* plain functions: :func:`score_step` (over executed outputs), :func:`score_response`,
  :func:`score_batch` (parse + execute + score), :func:`trajectory_metrics`;
* verl: ``toolgym.reward.verl.compute_score`` (loadable by file path, imports nothing heavy);
* TRL: ``toolgym.reward.trl.make_reward_func``.
"""

from ._core import (
    VARIANTS,
    StepOutcome,
    UnsolvedSet,
    Variant,
    answer_matches,
    contains_answer,
    normalize,
    score_step,
    trajectory_metrics,
)
from ._replay import aggregate, replay_messages
from ._score import RewardInput, ScoredResponse, parse_for_reward, score_batch, score_response

__all__ = [
    "VARIANTS",
    "RewardInput",
    "ScoredResponse",
    "StepOutcome",
    "UnsolvedSet",
    "Variant",
    "aggregate",
    "answer_matches",
    "contains_answer",
    "normalize",
    "parse_for_reward",
    "replay_messages",
    "score_batch",
    "score_response",
    "score_step",
    "trajectory_metrics",
]
