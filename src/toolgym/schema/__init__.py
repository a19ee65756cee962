"""Records shared by everything: environments, tool calls, trajectories, the per-turn state; and their
validation.

Plain, frozen, serialisable data (pydantic v2). Importing this package pulls in nothing heavy.
"""

from ._calls import CallStatus, MalformedCall, Scoping, ToolCall
from ._environment import (
    IDENTITY_FIELDS,
    SCENARIOS,
    Environment,
    Metadata,
    Scenario,
    canonical_json,
    content_id,
)
from ._tools import tool_function, tool_name, wrap_tool
from ._trajectory import (
    RenderedPrompt,
    RewardBranch,
    Step,
    ToolResult,
    Trajectory,
    TrajectoryMetrics,
    TrajectoryStatus,
)
from ._turn import TurnState
from ._validate import build_environment, parse_environment, validate_environment, validate_tool_schema

__all__ = [
    "IDENTITY_FIELDS",
    "SCENARIOS",
    "CallStatus",
    "Environment",
    "MalformedCall",
    "Metadata",
    "RenderedPrompt",
    "RewardBranch",
    "Scenario",
    "Scoping",
    "Step",
    "ToolCall",
    "ToolResult",
    "Trajectory",
    "TrajectoryMetrics",
    "TrajectoryStatus",
    "TurnState",
    "build_environment",
    "canonical_json",
    "content_id",
    "parse_environment",
    "tool_function",
    "tool_name",
    "validate_environment",
    "validate_tool_schema",
    "wrap_tool",
]
