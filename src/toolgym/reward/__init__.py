"""The verifiable reward (the paper's, case for case) and its entry points.

* plain functions: :func:`score_step` (over executed outputs), :func:`score_response`,
  :func:`score_batch` (parse + execute + score a :class:`~toolgym.schema.TurnState`'s response),
  :func:`solve_rate`, :func:`trajectory_metrics`;
* :class:`Episode`: the books of one episode (unsolved set, counters, solve rate, step, metrics);
* verl: ``toolgym.reward.verl.compute_score`` (loadable by file path, imports nothing heavy);
* TRL: ``toolgym.reward.trl.StepReward`` (a picklable reward function; ``step_reward_f1`` and the other
  variants at module level for ``trl grpo --reward_funcs``).
"""

from ._core import (
    VARIANTS,
    StepOutcome,
    UnsolvedSet,
    Variant,
    answer_matches,
    check_variant,
    contains_answer,
    normalize,
    score_step,
    solve_rate,
    trajectory_metrics,
)
from ._episode import Episode
from ._replay import replay_messages
from ._score import (
    EXECUTOR_ENV,
    ScoredResponse,
    parse_for_reward,
    score_batch,
    score_response,
    worker_executor,
)

__all__ = [
    "EXECUTOR_ENV",
    "VARIANTS",
    "Episode",
    "ScoredResponse",
    "StepOutcome",
    "UnsolvedSet",
    "Variant",
    "answer_matches",
    "check_variant",
    "contains_answer",
    "normalize",
    "parse_for_reward",
    "replay_messages",
    "score_batch",
    "score_response",
    "score_step",
    "solve_rate",
    "trajectory_metrics",
    "worker_executor",
]
