"""The per-turn record: one prompt of an episode and the state the step reward needs to score a reply there.

This is the one record that layers exchange about a turn. The per-turn cut of trajectories
(``toolgym.train.data``) produces it; ``toolgym.formats`` writes it as toolgym's flat rows
(``turns.jsonl``), verl rows and TRL rows, and reads every one of those back into it; the reward entry
points (verl, TRL) decode a row into a ``TurnState`` and score its ``response``; verl's multi-turn agent
loop starts an episode from it. Data only: nothing here scores or runs anything.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._calls import Scoping


class TurnState(BaseModel):
    """One turn of an episode: the prompt (conversation so far, tools) and the environment's state there.

    ``unsolved`` is the paper's ``unsolved_set`` (tool name -> expected items not solved yet) and
    ``solve_rate`` the fraction already solved; with ``codes`` and ``answer`` they are everything the step
    reward needs. ``response`` is the reply at this turn where one is known (the model's reply in a
    trajectory, or the reply a reward function is asked to score: text or an OpenAI assistant message)
    and ``reward`` its step reward where known. ``prompt_text``/``prompt_ids`` hold the exact prompt the
    model saw there (text, token ids) when the rollout recorded it; the row layouts carry them, and training
    uses them instead of rendering the messages again. ``scoping`` is how the tools run (the environment's
    ``metadata.scoping``). ``tool_format`` and ``strip_thinking`` say how a reply at this turn is read
    (``toolgym.parse.read_reply``: the rollout's settings; ``None``: the reader's run-wide setting, else the
    paper's ``hermes`` without stripping).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: list[dict[str, Any]] = Field(default_factory=list)  # the conversation before this turn
    tools: list[dict[str, Any]] = Field(default_factory=list)
    codes: dict[str, str] = Field(default_factory=dict)
    unsolved: dict[str, list[str]] = Field(default_factory=dict)
    solve_rate: float = 0.0
    answer: str | None = None
    split: str = "train"
    data_source: str = "toolgym"
    env_id: str = ""
    sample: int = 0
    turn: int = 0
    scenario: str | None = None
    response: str | dict[str, Any] = ""
    reward: float | None = None
    prompt_text: str | None = None
    prompt_ids: list[int] | None = None
    scoping: Scoping = "module"
    tool_format: str | None = None
    strip_thinking: bool | None = None

    @property
    def question(self) -> str:
        """The first user message's text (the task), or ``""``."""
        return next((m.get("content") or "" for m in self.messages if m.get("role") == "user"), "")

    @property
    def key(self) -> str:
        """Identity of the prompt: the same environment, conversation and unsolved set give the same key."""
        payload = json.dumps([self.env_id, self.messages, self.unsolved], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:24]
