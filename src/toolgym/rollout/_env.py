"""A Gymnasium-style episode over one environment record.

``reset(seed=...) -> (observation, info)``: the chat messages (optional system prompt, the user's
question) and the tool schemas. ``step(action) -> (observation, reward, terminated, truncated, info)``:
``action`` is the model's reply (raw text, an OpenAI assistant message, or a backend ``Generation``);
its tool calls run in the sandbox, the tool messages are appended, and the step reward is computed
exactly as in training. The episode ends on a reply without tool calls (``terminated``) or at the
turn limit (``truncated``).

A reply whose tool calls cannot be read is, by default, answered with a message that says what was
wrong and the episode goes on (``malformed="feedback"``); ``malformed="end"`` ends it, as the paper's
evaluation script does.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..parse import ParsedResponse, parse, parse_openai_message, strip_think
from ..reward import Episode, check_variant
from ..sandbox import ExecRequest, ExecResult, Executor, default_pool
from ..schema import Environment, Step, ToolResult, Trajectory


@dataclass(frozen=True, slots=True)
class EpisodeConfig:
    """How an episode is run. ``format`` is how tool calls are written in the model's text."""

    max_turns: int = 20
    reward_variant: str = "f1"
    system_prompt: str | None = None
    format: str = "hermes"
    malformed: Literal["feedback", "end"] = "feedback"
    strip_thinking: bool = True


def _reply_parts(action: Any) -> tuple[str, dict | None]:
    """(raw text, native message) of whatever a caller passes as the model's reply."""
    if hasattr(action, "text") and hasattr(action, "message"):  # a backend Generation
        return action.text or "", action.message
    if isinstance(action, str):
        return action, None
    if isinstance(action, dict):
        return action.get("content") or "", action
    raise TypeError(f"a reply must be text, an assistant message or a Generation, not {type(action).__name__}")


def malformed_feedback(parsed: ParsedResponse, format: str) -> str:
    errors = "; ".join(m.error for m in parsed.malformed[:3])
    how = ('<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
           if format in ("hermes", "qwen") else 'a JSON object {"name": ..., "parameters": {...}}')
    return f"Your tool call could not be read ({errors}). Write each call as {how}, with valid JSON."


class ToolEnv:
    """One episode at a time over one :class:`Environment`; tool code runs in ``executor``."""

    def __init__(self, env: Environment, executor: Executor | None = None, config: EpisodeConfig | None = None):
        self.env = env
        self.executor = executor or default_pool()
        self.config = config or EpisodeConfig()
        check_variant(self.config.reward_variant)
        self._started = False
        self._done = True

    # ---- the episode API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start an episode. The environment is deterministic; ``seed`` is recorded for the trajectory."""
        self.seed = seed
        self.messages: list[dict[str, Any]] = []
        if self.config.system_prompt:
            self.messages.append({"role": "system", "content": self.config.system_prompt})
        self.messages.append({"role": "user", "content": self.env.question})
        self.episode = Episode.of(self.env, self.config.reward_variant)
        self.steps: list[Step] = []
        self.final: str | None = None
        self.terminated = self.truncated = False
        self._started, self._done = True, False
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        parsed, raw, reasoning = self._parse(action)
        results = self.executor.run(self._requests(parsed))
        return self._apply(parsed, raw, reasoning, results)

    async def astep(self, action: Any, run_tools=None) -> tuple[dict, float, bool, bool, dict]:
        """``step`` for asyncio code: the tools run without blocking the event loop. ``run_tools`` may
        be a coroutine function taking the requests (a shared batcher, say)."""
        parsed, raw, reasoning = self._parse(action)
        requests = self._requests(parsed)
        if not requests:
            results: list[ExecResult] = []
        elif run_tools is not None:
            results = await run_tools(requests)
        else:
            results = await asyncio.to_thread(self.executor.run, requests)
        return self._apply(parsed, raw, reasoning, results)

    # ---- internals ------------------------------------------------------------------------------
    def _parse(self, action: Any) -> tuple[ParsedResponse, str, str]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode is over; call reset() to start another")
        raw, message = _reply_parts(action)
        reasoning = ""
        if message is not None and message.get("tool_calls"):
            parsed = parse_openai_message(message, text_format=self.config.format)
        else:
            text = raw
            if self.config.strip_thinking and "</think>" in text:
                reasoning = text.split("</think>", 1)[0].replace("<think>", "").strip()
                text = strip_think(text)
            parsed = parse(text.strip(), self.config.format)
        return parsed, raw, reasoning

    def _requests(self, parsed: ParsedResponse) -> list[ExecRequest]:
        scoping = self.env.metadata.scoping  # the paper's data runs under the paper's scoping
        return [ExecRequest(c.name, c.arguments, self.env.code, scoping=scoping) for c in parsed.tool_calls]

    def _apply(self, parsed: ParsedResponse, raw: str, reasoning: str, results: list[ExecResult]):
        turn = len(self.steps)
        outcome = self.episode.step(parsed, [r.output for r in results])
        calls = [c.model_copy(update={"id": f"call_{turn}_{i}"}) for i, c in enumerate(parsed.tool_calls)]
        assistant: dict[str, Any] = {"role": "assistant", "content": parsed.content}
        if reasoning:
            assistant["reasoning_content"] = reasoning
        if calls:
            assistant["tool_calls"] = [c.to_openai() for c in calls]
        self.messages.append(assistant)
        for call, result in zip(calls, results):
            self.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result.output})
        feedback = bool(parsed.malformed) and self.config.malformed == "feedback"
        if feedback:
            self.messages.append({"role": "user", "content": malformed_feedback(parsed, self.config.format)})
        self.steps.append(Step(
            index=turn, response=raw, content=parsed.content,
            results=[ToolResult(call=c, output=r.output, status=r.status, solved=s, seconds=r.seconds)
                     for c, r, s in zip(calls, results, outcome.solved)],
            malformed=parsed.malformed, reward=outcome.reward, branch=outcome.branch,
            solve_rate=self.episode.solve_rate))
        if not calls and not feedback:
            self.terminated = True
            self.final = parsed.content
        elif len(self.steps) >= self.config.max_turns:
            self.truncated = True
        self._done = self.terminated or self.truncated
        return self._observation(), outcome.reward, self.terminated, self.truncated, self._info(outcome.branch)

    def _observation(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "tools": self.env.tools}

    def _info(self, branch: str | None = None) -> dict[str, Any]:
        e = self.episode
        return {
            "env_id": self.env.id, "scenario": self.env.scenario, "turn": len(self.steps),
            "needed": e.needed, "solved": e.solved, "calls": e.calls, "solve_rate": e.solve_rate,
            "unsolved": e.unsolved.to_dict(), "branch": branch,
        }

    def trajectory(self, *, sample: int = 0, model: str | None = None, status: str | None = None,
                   error: str | None = None) -> Trajectory:
        """The episode so far as a record (``failed`` with ``error`` for an episode cut short)."""
        if status is None:
            status = "completed" if self.terminated else "truncated"
        metrics = self.episode.metrics(self.final if status != "failed" else None)
        return Trajectory(env_id=self.env.id, sample=sample, messages=self._observation()["messages"],
                          steps=self.steps, metrics=metrics, status=status, error=error, model=model,
                          scenario=self.env.scenario, metadata={"seed": self.seed} if self.seed is not None else {})


def check_env(env: Environment | ToolEnv, executor: Executor | None = None) -> None:
    """Assert the episode API contract on one environment; raises ``AssertionError`` saying what broke.

    Checks: ``reset`` gives the question and the tools and is repeatable; a step before ``reset`` and
    after the end is refused; an empty reply ends the episode with -0.5; the gold solution, played as
    Hermes text, earns a positive reward every turn and solves everything; the final answer then ends
    the episode with reward 1 and Solve-F1 1; the turn limit truncates; observations are JSON."""
    tenv = env if isinstance(env, ToolEnv) else ToolEnv(env, executor)
    e = tenv.env
    fresh = ToolEnv(e, tenv.executor, tenv.config)
    try:
        fresh.step("")
    except RuntimeError:
        pass
    else:
        raise AssertionError("step() before reset() must raise RuntimeError")
    obs, info = tenv.reset(seed=0)
    assert obs["messages"][-1] == {"role": "user", "content": e.question}, "the last message must be the question"
    assert obs["tools"] == e.tools, "the observation must carry the tool schemas"
    assert info["needed"] == e.needed and info["solve_rate"] == 0.0, "info must start with nothing solved"
    assert tenv.reset(seed=0) == (obs, info), "reset must be repeatable"
    json.dumps(obs)
    _, reward, terminated, truncated, _ = tenv.step("")
    assert reward == -0.5 and terminated and not truncated, "an empty reply ends the episode with -0.5"
    try:
        tenv.step("more")
    except RuntimeError:
        pass
    else:
        raise AssertionError("step() after the end must raise RuntimeError")
    if e.solution:
        tenv.reset(seed=1)
        for turn in e.solution:
            text = "\n".join(c.to_hermes() for c in turn) if tenv.config.format in ("hermes", "qwen") else None
            if text is None:
                break
            obs, reward, terminated, truncated, info = tenv.step(text)
            assert reward > 0, f"a gold turn must earn a positive reward, got {reward} ({info['branch']})"
            assert not terminated, "a turn with tool calls must not end the episode"
            if truncated:
                break
            assert obs["messages"][-1]["role"] == "tool", "tool results must follow the calls"
        else:
            assert info["solve_rate"] == 1.0, f"the gold solution must solve everything, left {info['unsolved']}"
            if e.answer is not None:
                obs, reward, terminated, truncated, info = tenv.step(f"The answer is {e.answer}.")
                assert terminated and reward == 1.0, f"the final answer must end the episode with 1.0, got {reward}"
                t = tenv.trajectory()
                assert t.metrics.solve_f1 == 1.0 and t.metrics.answer_correct, "gold play must score Solve-F1 1.0"
                json.dumps(t.model_dump(mode="json"))
        short = ToolEnv(e, tenv.executor, replace(tenv.config, max_turns=1))
        short.reset()
        _, _, terminated, truncated, _ = short.step(e.solution[0][0].to_hermes())
        assert truncated and not terminated, "the turn limit must truncate the episode"
