"""The verifiable reward, case for case as in the paper's released code.

* An expected answer ``"a, b"`` is split on ``", "``; a tool output solves it when the output
  (lower-cased, commas removed, stripped) contains every part (each normalised the same way).
* A call solves the first still-unsolved expected item of *its own tool* that its output matches;
  each item is solved once.
* Step reward of one assistant response with ``n`` calls of which ``k`` solve something:
  ``f1`` 2k/(n+1) (default), ``precision`` k/n, ``rate`` k, ``product`` k^2/n.
  Without calls: empty content -0.5; a tool-call tag left in the text (a malformed call) -0.3;
  the final answer in the content 1/(1 + items still unsolved); 0.5 if everything was already solved;
  else 0.
* Solve rate after some steps: 1 - (items still unsolved) / (items expected), as the reference's
  ``data_sample.py`` computes it; 1.0 when nothing was expected (the reference divides by zero there).
* Trajectory metrics: Solve-P = solved/calls (1.0 with no calls), Solve-R = solved/needed,
  Solve-F1 = 2*solved/(calls+needed).

Pure functions over already-executed outputs; :mod:`._episode` keeps an episode's books with them,
:mod:`._score` runs the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from ..parse import ParsedResponse
from ..schema import RewardBranch, TrajectoryMetrics

Variant = Literal["f1", "precision", "rate", "product"]
VARIANTS: tuple[str, ...] = get_args(Variant)

_STEP: dict[str, Callable[[int, int], float]] = {
    "f1": lambda k, n: 2 * k / (n + 1),
    "precision": lambda k, n: k / n,
    "rate": lambda k, n: float(k),
    "product": lambda k, n: k * k / n,
}
_TAGS = ("<tool_call>", "</tool_call>", "<tool_parsed_response>")


def normalize(text: str) -> str:
    return text.lower().replace(",", "").strip()


def answer_matches(output: str, expected: str) -> bool:
    """Does a tool output solve one expected answer? (the reference's ``answer_verify``)"""
    out = normalize(output)
    return all(normalize(part) in out for part in expected.split(", "))


def contains_answer(content: str | None, answer: str | None) -> bool:
    """Does a final response contain the gold answer? (not split on commas, as in the reference)"""
    return isinstance(answer, str) and content is not None and normalize(answer) in normalize(content)


def solve_rate(remaining: int, needed: int) -> float:
    """The fraction of the expected items solved, ``1 - remaining / needed`` (the reference's
    ``data_sample.py``); with nothing expected, 1.0 (the reference has no guard and divides by zero)."""
    return 1 - remaining / needed if needed else 1.0


def check_variant(variant: str) -> str:
    if variant not in _STEP:
        raise ValueError(f"unknown reward variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return variant


class UnsolvedSet:
    """Expected items not solved yet, per tool. A private copy: the caller's mapping is never changed."""

    __slots__ = ("items",)

    def __init__(self, expected: Mapping[str, Sequence[str]]):
        self.items: dict[str, list[str]] = {tool: list(answers) for tool, answers in expected.items()}

    def solve(self, tool: str, output: str) -> str | None:
        """Remove and return the first item of ``tool`` that ``output`` solves."""
        answers = self.items.get(tool)
        if answers:
            for i, expected in enumerate(answers):
                if answer_matches(output, expected):
                    return answers.pop(i)
        return None

    @property
    def remaining(self) -> int:
        return sum(len(v) for v in self.items.values())

    def to_dict(self) -> dict[str, list[str]]:
        return {tool: list(answers) for tool, answers in self.items.items()}


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """The step reward and how it was reached. ``solved[i]`` is what call ``i`` solved (or None)."""

    reward: float
    branch: RewardBranch
    calls: int = 0
    solved: list[str | None] = field(default_factory=list)
    remaining: int = 0

    @property
    def k(self) -> int:
        return sum(s is not None for s in self.solved)


def score_step(parsed: ParsedResponse, outputs: Sequence[str], unsolved: UnsolvedSet, solve_rate: float,
               answer: str | None, variant: str = "f1") -> StepOutcome:
    """Step reward of one parsed response whose calls returned ``outputs``. Updates ``unsolved``."""
    fn = _STEP[check_variant(variant)]
    before = unsolved.remaining
    if parsed.tool_calls:
        solved = [unsolved.solve(call.name, out) for call, out in zip(parsed.tool_calls, outputs, strict=True)]
        k, n = sum(s is not None for s in solved), len(parsed.tool_calls)
        return StepOutcome(fn(k, n), "tool_calls", n, solved, unsolved.remaining)
    content = parsed.content
    if not content:
        return StepOutcome(-0.5, "empty", remaining=before)
    if any(tag in content for tag in _TAGS) or parsed.malformed:
        return StepOutcome(-0.3, "malformed", remaining=before)
    if contains_answer(content, answer):
        return StepOutcome(1 / (1 + before), "answer", remaining=before)
    if solve_rate == 1.0:
        return StepOutcome(0.5, "all_solved", remaining=before)
    return StepOutcome(0.0, "none", remaining=before)


def trajectory_metrics(calls: int, solved: int, needed: int, *, answer_correct: bool | None = None,
                       turns: int = 0) -> TrajectoryMetrics:
    """The paper's Solve-P/R/F1. With nothing to solve (``needed == 0``) Solve-R is 1.0."""
    precision = solved / calls if calls > 0 else 1.0
    rate = solved / needed if needed > 0 else 1.0
    f1 = 2 * solved / (calls + needed) if calls + needed > 0 else 1.0
    return TrajectoryMetrics(calls=calls, solved=solved, needed=needed, solve_precision=precision,
                             solve_rate=rate, solve_f1=f1, answer_correct=answer_correct, turns=turns)
