"""Trajectory files as ``toolgym score`` reads them: toolgym's own trajectories, and the output of the
paper's evaluation script (``Code/evaluation/evaluation_self.py``: one JSON object per line with
``messages`` in OpenAI format, ``data_source``, ``model`` and ``metrics`` = ``solve_precision``,
``solve_rate``, ``solve_f1``), or any line that has ``messages``.

Each line becomes a :class:`TrajectoryLine`: the conversation, what identifies its environment (the id,
else the question), and the metrics the line itself states. Recomputing the metrics against the
environments is the reward's job (``toolgym.reward.replay_messages``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from ..io import Rejects, iter_jsonl
from ..schema import Trajectory, TrajectoryMetrics

Layout = Literal["toolgym", "reference", "messages"]


@dataclass(frozen=True, slots=True)
class TrajectoryLine:
    """One line of a trajectories file. ``scenario`` is toolgym's scenario or the reference's
    ``data_source``; ``metrics`` are those stored in the line (None when it states none)."""

    messages: list[dict[str, Any]]
    layout: Layout
    env_id: str | None = None
    scenario: str | None = None
    metrics: TrajectoryMetrics | None = None

    @property
    def question(self) -> str | None:
        """The first user message's text (how the reference's output names its task)."""
        first = next((m for m in self.messages if isinstance(m, Mapping) and m.get("role") == "user"), None)
        return first.get("content") if first is not None and isinstance(first.get("content"), str) else None


def trajectory_line(raw: Any) -> TrajectoryLine | None:
    """The line's record, or None when it holds no conversation."""
    if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
        return None
    messages = raw["messages"]
    if "steps" in raw and "env_id" in raw:
        try:
            t = Trajectory.model_validate(raw)
        except ValidationError:  # still scorable against its environment, by id or question
            return TrajectoryLine(messages, "toolgym", env_id=str(raw["env_id"]), scenario=raw.get("scenario"))
        return TrajectoryLine(t.messages, "toolgym", env_id=t.env_id, scenario=t.scenario, metrics=t.metrics)
    m = raw.get("metrics")
    if isinstance(m, dict):
        try:
            metrics = TrajectoryMetrics(calls=0, solved=0, needed=0, solve_precision=m.get("solve_precision", 0.0),
                                        solve_rate=m.get("solve_rate", 0.0), solve_f1=m.get("solve_f1", 0.0))
        except ValidationError:  # metrics that are not numbers: only a recomputation can score the line
            metrics = None
        return TrajectoryLine(messages, "reference", env_id=raw.get("env_id"), scenario=raw.get("data_source"),
                              metrics=metrics)
    return TrajectoryLine(messages, "messages", env_id=raw.get("env_id"))


def read_trajectory_lines(path: str | os.PathLike, rejects: Rejects | None = None) -> Iterator[TrajectoryLine | None]:
    """Every line of a trajectories file (None for a line without a conversation); lines that are not
    JSON go to ``rejects``."""
    for _, raw in iter_jsonl(path, rejects):
        yield trajectory_line(raw)
