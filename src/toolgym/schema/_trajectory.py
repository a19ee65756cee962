"""The trajectory record: what a model did in one environment, step by step, and how it scored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import FailureKind
from ._calls import CallStatus, MalformedCall, ToolCall


class ToolResult(BaseModel):
    """One executed tool call: the call, what the tool returned, and what it solved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call: ToolCall
    output: str
    status: CallStatus = "ok"
    solved: str | None = None  # the expected item this call solved, if any
    seconds: float = 0.0


#: Which branch of the step reward applied (see ``toolgym.reward``).
RewardBranch = Literal["tool_calls", "empty", "malformed", "answer", "all_solved", "none"]


class RenderedPrompt(BaseModel):
    """The prompt a backend rendered for one turn, as text and token ids -- what the model saw. Backends
    that render prompts themselves (transformers, vLLM's offline engine) report it; a server's is not
    known. Stored compactly: with ``extends`` the prompt is the previous turn's prompt, the model's reply
    to it (its ``response`` and ``response_ids``) and then ``text``/``ids``; otherwise ``text``/``ids`` are
    the whole prompt. :meth:`Trajectory.prompts` gives every turn's whole prompt back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    ids: list[int] | None = None
    extends: bool = False


class Step(BaseModel):
    """One assistant turn and its step reward."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    response: str = ""  # the raw model text (empty when the backend returned native tool calls only)
    response_ids: list[int] | None = None  # the reply's own tokens, where the backend reports them
    prompt: RenderedPrompt | None = None  # what the model saw at this turn, where the backend reports it
    content: str = ""  # the text part after tool calls were taken out
    results: list[ToolResult] = Field(default_factory=list)
    malformed: list[MalformedCall] = Field(default_factory=list)
    reward: float = 0.0
    branch: RewardBranch = "none"
    solve_rate: float = 0.0  # after this step


class TrajectoryMetrics(BaseModel):
    """The paper's trajectory metrics plus the counts they come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calls: int
    solved: int
    needed: int
    solve_precision: float
    solve_rate: float
    solve_f1: float
    answer_correct: bool | None = None
    turns: int = 0


TrajectoryStatus = Literal["completed", "truncated", "failed"]


class Trajectory(BaseModel):
    """A whole episode. ``status='failed'`` records a rollout that could not finish (a failed request,
    say) with ``error_kind`` (what kind of failure, counted in summaries) and ``error`` (the message): a bad
    rollout is data, not a crash. A failed episode of a file written before kinds existed reads as
    ``FailureKind.UNKNOWN`` through :attr:`failure`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    env_id: str
    sample: int = 0
    messages: list[dict[str, Any]] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    metrics: TrajectoryMetrics
    status: TrajectoryStatus = "completed"
    error: str | None = None
    error_kind: FailureKind | None = None
    model: str | None = None
    scenario: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def failure(self) -> FailureKind | None:
        """The kind of failure of a failed episode (``None`` for one that ran to its end)."""
        if self.status != "failed":
            return None
        return self.error_kind or FailureKind.UNKNOWN

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [r.call for s in self.steps for r in s.results]

    def prompts(self) -> list[RenderedPrompt | None]:
        """Every step's whole prompt as the backend rendered it (``None`` where it was not reported)."""
        out: list[RenderedPrompt | None] = []
        previous: tuple[RenderedPrompt, Step] | None = None
        for step in self.steps:
            p = step.prompt
            if p is not None and p.extends:
                if previous is None:  # a chain whose start is missing: the prompt is not known
                    p = None
                else:
                    head, before = previous
                    ids = None
                    if p.ids is not None and head.ids is not None and before.response_ids is not None:
                        ids = head.ids + before.response_ids + p.ids
                    p = RenderedPrompt(text=head.text + before.response + p.text, ids=ids)
            out.append(p)
            previous = (p, step) if p is not None else None
        return out
