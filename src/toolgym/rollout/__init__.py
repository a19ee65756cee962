"""Running models in environments: the episode API and the concurrent rollout engine (models come from
:mod:`toolgym.models`)."""

from ._engine import RolloutConfig, RolloutSummary, finished_pairs, rollout, run_rollouts
from ._env import EpisodeConfig, ToolEnv, check_env

__all__ = [
    "EpisodeConfig",
    "RolloutConfig",
    "RolloutSummary",
    "ToolEnv",
    "check_env",
    "finished_pairs",
    "rollout",
    "run_rollouts",
]
