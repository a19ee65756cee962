"""Scoring model responses end to end: parse, execute the calls (one batched executor run), score."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..parse import ParsedResponse, clean_response, parse
from ..sandbox import ExecRequest, ExecResult, Executor, default_pool
from ._core import StepOutcome, UnsolvedSet, check_variant, score_step


@dataclass(frozen=True, slots=True)
class RewardInput:
    """One response to score and the state it was produced in (one row of a per-turn dataset)."""

    response: Any  # text, or an OpenAI-style assistant message
    code: Mapping[str, str]
    unsolved: Mapping[str, Sequence[str]]
    solve_rate: float = 0.0
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredResponse:
    parsed: ParsedResponse
    results: list[ExecResult]
    outcome: StepOutcome

    @property
    def reward(self) -> float:
        return self.outcome.reward


def _load_json(value: Any, what: str) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{what} is not valid JSON: {exc}") from exc
    return value


def parse_for_reward(response: Any, format: str = "hermes") -> ParsedResponse:
    if isinstance(response, str):
        return parse(clean_response(response), format=format)
    return parse(response, format="auto")


def score_batch(items: Sequence[RewardInput], *, variant: str = "f1", executor: Executor | None = None,
                format: str = "hermes") -> list[ScoredResponse]:
    """Score many responses; all their tool calls go through ``executor`` in one batch (in parallel over
    the sandbox workers). ``executor`` defaults to the process-wide sandbox pool."""
    check_variant(variant)
    parsed = [parse_for_reward(item.response, format) for item in items]
    requests = [ExecRequest(call.name, call.arguments, item.code)
                for item, p in zip(items, parsed) for call in p.tool_calls]
    results = (executor or default_pool()).run(requests) if requests else []
    out: list[ScoredResponse] = []
    pos = 0
    for item, p in zip(items, parsed):
        mine = results[pos:pos + len(p.tool_calls)]
        pos += len(p.tool_calls)
        outcome = score_step(p, [r.output for r in mine], UnsolvedSet(item.unsolved), item.solve_rate,
                             item.answer, variant)
        out.append(ScoredResponse(p, mine, outcome))
    return out


def score_response(response: Any, code: Mapping[str, str], unsolved: Mapping[str, Sequence[str]],
                   solve_rate: float = 0.0, answer: str | None = None, *, variant: str = "f1",
                   executor: Executor | None = None, format: str = "hermes") -> ScoredResponse:
    """Score one response (see :func:`score_batch`)."""
    return score_batch([RewardInput(response, code, unsolved, solve_rate, answer)], variant=variant,
                       executor=executor, format=format)[0]
