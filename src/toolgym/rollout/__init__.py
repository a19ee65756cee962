"""Running models in environments: the episode API and the concurrent rollout engine (models come from
:mod:`toolgym.models`)."""

from ._engine import (
    RolloutConfig,
    RolloutSummary,
    episode_key,
    failure_reason,
    load_trajectories,
    rollout,
    rollout_identity,
    run_rollouts,
)
from ._env import EpisodeConfig, ToolEnv, check_env

__all__ = [
    "EpisodeConfig",
    "RolloutConfig",
    "RolloutSummary",
    "ToolEnv",
    "check_env",
    "episode_key",
    "failure_reason",
    "load_trajectories",
    "rollout",
    "rollout_identity",
    "run_rollouts",
]
