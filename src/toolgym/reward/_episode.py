"""The books of one episode: what is still unsolved, how many calls were made and how many solved
something, the solve rate, and the trajectory metrics at the end.

One :class:`Episode` is what every place that follows an episode keeps: the rollout's ``ToolEnv``, the
TRL environments of whole-episode training, the replay of a recorded conversation and the per-turn
cut of trajectories into training prompts. The step reward itself is :func:`._core.score_step`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..parse import ParsedResponse
from ..schema import Environment, TrajectoryMetrics
from ._core import (
    StepOutcome,
    UnsolvedSet,
    check_variant,
    contains_answer,
    score_step,
    solve_rate,
    trajectory_metrics,
)


class Episode:
    """An episode's books over one environment's expected items (a private copy: the caller's mapping is
    never changed). ``answer`` is the gold final answer, ``variant`` the step reward's."""

    __slots__ = ("answer", "calls", "needed", "solved", "turns", "unsolved", "variant")

    def __init__(self, expected: Mapping[str, Sequence[str]], answer: str | None = None, variant: str = "f1"):
        self.variant = check_variant(variant)
        self.answer = answer
        self.unsolved = UnsolvedSet(expected)
        self.needed = self.unsolved.remaining
        self.calls = self.solved = self.turns = 0

    @classmethod
    def of(cls, env: Environment, variant: str = "f1") -> Episode:
        """A fresh episode over ``env``."""
        return cls(env.expected, env.answer, variant)

    @property
    def solve_rate(self) -> float:
        return solve_rate(self.unsolved.remaining, self.needed)

    def step(self, parsed: ParsedResponse, outputs: Sequence[str]) -> StepOutcome:
        """Score one assistant turn whose calls returned ``outputs`` (the step reward at the current
        solve rate), and book it."""
        outcome = score_step(parsed, outputs, self.unsolved, self.solve_rate, self.answer, self.variant)
        self.turns += 1
        self.calls += outcome.calls
        self.solved += outcome.k
        return outcome

    def call(self, name: str | None, output: str) -> str | None:
        """Book one tool call made outside a scored turn (a tool method of a TRL environment, a recorded
        call); returns the expected item it solved. A call without a readable name counts and solves
        nothing."""
        self.calls += 1
        solved = self.unsolved.solve(name, output) if isinstance(name, str) else None
        if solved is not None:
            self.solved += 1
        return solved

    def record(self, names: Sequence[str | None], outputs: Sequence[str]) -> None:
        """Book one recorded assistant turn: the calls it made (none for a reply) and their outputs."""
        self.turns += 1
        for name, output in zip(names, outputs, strict=True):
            self.call(name, output)

    def metrics(self, final: str | None = None) -> TrajectoryMetrics:
        """The paper's trajectory metrics so far; ``answer_correct`` says whether ``final`` (the last reply)
        contains the gold answer (None when the environment has no answer)."""
        correct = contains_answer(final, self.answer) if self.answer is not None else None
        return trajectory_metrics(self.calls, self.solved, self.needed, answer_correct=correct, turns=self.turns)
