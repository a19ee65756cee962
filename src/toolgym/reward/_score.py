"""Scoring model responses end to end: parse, execute the calls (one batched executor run), score.

What is scored is a :class:`~toolgym.schema.TurnState`: its ``response`` at its state (codes, unsolved
set, solve rate, answer). The response is read with :func:`toolgym.parse.read_reply` -- the reading the
rollout uses -- in the turn's own tool format and thinking setting (the rollout's, carried by the row),
else the caller's run-wide ones, else the paper's (``hermes``, the whole reply parsed)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..parse import ParsedResponse, plain_reply, read_reply
from ..sandbox import ExecRequest, ExecResult, Executor, default_pool, make_executor
from ..schema import TurnState
from ._core import StepOutcome, UnsolvedSet, check_variant, score_step

#: Names the executor of :func:`worker_executor` (a kind of ``toolgym.sandbox.make_executor``).
EXECUTOR_ENV = "TOOLGYM_EXECUTOR"
_worker_executors: dict[str, Executor] = {}


@dataclass(frozen=True, slots=True)
class ScoredResponse:
    parsed: ParsedResponse
    results: list[ExecResult]
    outcome: StepOutcome

    @property
    def reward(self) -> float:
        return self.outcome.reward


def worker_executor() -> Executor:
    """Where the tool calls of this process's reward and agent-loop workers run: the process-wide sandbox
    pool, unless ``TOOLGYM_EXECUTOR`` names another kind (``unsafe-inprocess``: trusted code only), made
    once per process."""
    kind = os.environ.get(EXECUTOR_ENV, "sandbox")
    if kind == "sandbox":
        return default_pool()
    if kind not in _worker_executors:
        _worker_executors[kind] = make_executor(kind)
    return _worker_executors[kind]


def parse_for_reward(response: Any, format: str | None = "hermes", strip_thinking: bool = False) -> ParsedResponse:
    """A response as the step reward reads it (:func:`toolgym.parse.read_reply`)."""
    return read_reply(response, format, strip_thinking=strip_thinking).parsed


def score_batch(items: Sequence[TurnState], *, variant: str = "f1", executor: Executor | None = None,
                format: str | None = None, strip_thinking: bool | None = None) -> list[ScoredResponse]:
    """Score the ``response`` of each turn; all their tool calls go through ``executor`` in one batch (in
    parallel over the sandbox workers). ``executor`` defaults to the process-wide sandbox pool. A turn's
    own ``tool_format``/``strip_thinking`` win over ``format``/``strip_thinking`` (the run-wide setting),
    which win over the paper's ``hermes`` without stripping."""
    check_variant(variant)
    parsed = [parse_for_reward(item.response, item.tool_format or format or "hermes",
                               bool(item.strip_thinking if item.strip_thinking is not None else strip_thinking))
              for item in items]
    requests = [ExecRequest.of(call, item.codes, scoping=item.scoping)
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
                   executor: Executor | None = None, format: str = "hermes",
                   strip_thinking: bool = False) -> ScoredResponse:
    """Score one response: text, an OpenAI assistant message (a dict or the ``openai`` client's
    ``ChatCompletionMessage``) or a backend ``Generation`` (see :func:`score_batch`)."""
    state = TurnState(response=plain_reply(response), codes=code, unsolved=unsolved, solve_rate=solve_rate, answer=answer)
    return score_batch([state], variant=variant, executor=executor, format=format,
                       strip_thinking=strip_thinking)[0]
