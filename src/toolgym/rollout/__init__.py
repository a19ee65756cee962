"""Running models in environments: the episode API, model backends, and the concurrent rollout engine."""

from ._engine import RolloutConfig, RolloutSummary, finished_pairs, rollout, run_rollouts
from ._env import EpisodeConfig, ToolEnv, check_env
from ._render import ChatRenderer, template_messages
from .backends import (
    BACKENDS,
    Backend,
    ErrorRates,
    Generation,
    GenerationRequest,
    ScriptedPolicy,
    make_backend,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "ChatRenderer",
    "EpisodeConfig",
    "ErrorRates",
    "Generation",
    "GenerationRequest",
    "RolloutConfig",
    "RolloutSummary",
    "ScriptedPolicy",
    "ToolEnv",
    "check_env",
    "finished_pairs",
    "make_backend",
    "rollout",
    "run_rollouts",
    "template_messages",
]
