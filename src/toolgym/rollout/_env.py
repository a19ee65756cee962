"""A Gymnasium-style episode over one environment record.

``reset(seed=...) -> (observation, info)``: the chat messages (optional system prompt, the user's
question) and the tool schemas. ``step(action) -> (observation, reward, terminated, truncated, info)``:
``action`` is the model's reply (raw text, an OpenAI assistant message, or a backend ``Generation``);
its tool calls run in the sandbox, the tool messages are appended, and the step reward is computed
exactly as in training. The episode ends on a reply without tool calls (``terminated``) or at the
turn limit (``truncated``).

Replies are read with :func:`toolgym.parse.read_reply` in the episode's tool format (``format``:
``hermes`` for Qwen, ``llama3`` for Llama 3.1, ...), the reading the reward entry points use in training.
A reply whose tool calls cannot be read ends the episode (``malformed="end"``), as the paper's
``data_sample.py`` and ``evaluation_self.py`` do (their parser finds no call, so the loop stops);
``malformed="feedback"`` instead answers it with a message that says what was wrong and goes on.

When the backend reports the prompt it rendered (local backends), each step records it
(:class:`~toolgym.schema.RenderedPrompt`) with the reply's tokens, so training rows can use exactly the
prompt the model saw.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..errors import FailureKind
from ..parse import ParsedResponse, Reply, read_reply, tool_format
from ..reward import Episode, check_variant
from ..sandbox import ExecRequest, ExecResult, Executor, default_pool
from ..schema import Environment, RenderedPrompt, Step, ToolResult, Trajectory


@dataclass(frozen=True, slots=True)
class EpisodeConfig:
    """How an episode is run. ``format``: the tool format the model writes (``toolgym.parse.TOOL_FORMATS``);
    ``strip_thinking``: read calls only after a ``<think>`` block (the paper parses the whole reply);
    ``malformed``: what an unreadable call does (``end``, the paper's; or ``feedback``)."""

    max_turns: int = 20
    reward_variant: str = "f1"
    system_prompt: str | None = None
    format: str = "hermes"
    malformed: Literal["feedback", "end"] = "end"
    strip_thinking: bool = False

    def __post_init__(self) -> None:
        tool_format(self.format)  # an unknown format fails here, naming --tool-format
        if self.malformed not in ("feedback", "end"):
            raise ValueError(f"malformed must be 'end' or 'feedback' (--malformed), not {self.malformed!r}")


def malformed_feedback(parsed: ParsedResponse, format: str) -> str:
    errors = "; ".join(m.error for m in parsed.malformed[:3])
    return (f"Your tool call could not be read ({errors}). Write each call as {tool_format(format).instruction}, "
            "with valid JSON.")


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
        self._last: tuple | None = None  # the previous turn's (prompt, ids) and (reply, ids), when reported
        self.final: str | None = None
        self.terminated = self.truncated = False
        self._started, self._done = True, False
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        reply = self._read(action)
        results = self.executor.run(self._requests(reply.parsed))
        return self._apply(reply, action, results)

    async def astep(self, action: Any, run_tools=None) -> tuple[dict, float, bool, bool, dict]:
        """``step`` for asyncio code: the tools run without blocking the event loop. ``run_tools`` may
        be a coroutine function taking the requests (a shared batcher, say)."""
        reply = self._read(action)
        requests = self._requests(reply.parsed)
        if not requests:
            results: list[ExecResult] = []
        elif run_tools is not None:
            results = await run_tools(requests)
        else:
            results = await asyncio.to_thread(self.executor.run, requests)
        return self._apply(reply, action, results)

    # ---- internals ------------------------------------------------------------------------------
    def _read(self, action: Any) -> Reply:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode is over; call reset() to start another")
        return read_reply(action, self.config.format, strip_thinking=self.config.strip_thinking)

    def _prompt(self, action: Any, raw: str) -> tuple[RenderedPrompt | None, list[int] | None]:
        """The prompt the backend rendered for this turn (stored as the rest after the previous turn's
        prompt and reply when it extends them), and the reply's tokens; None where not reported."""
        text, ids = getattr(action, "prompt_text", None), getattr(action, "prompt_ids", None)
        reply_ids = getattr(action, "token_ids", None)
        reply_ids = list(reply_ids) if reply_ids is not None else None
        if text is None:
            self._last = None
            return None, reply_ids
        ids = list(ids) if ids is not None else None
        record = RenderedPrompt(text=text, ids=ids)
        if self._last is not None:
            (head, head_ids), (before, before_ids) = self._last
            lead, lead_ids = head + before, None
            if head_ids is not None and before_ids is not None:
                lead_ids = head_ids + before_ids
            if text.startswith(lead) and (ids is None) == (lead_ids is None) and (
                    ids is None or ids[:len(lead_ids)] == lead_ids):
                record = RenderedPrompt(text=text[len(lead):], ids=None if ids is None else ids[len(lead_ids):],
                                        extends=True)
        self._last = ((text, ids), (raw, reply_ids))
        return record, reply_ids

    def _requests(self, parsed: ParsedResponse) -> list[ExecRequest]:
        scoping = self.env.metadata.scoping  # the paper's data runs under the paper's scoping
        return [ExecRequest.of(c, self.env.code, scoping=scoping) for c in parsed.tool_calls]

    def _apply(self, reply: Reply, action: Any, results: list[ExecResult]):
        parsed, raw, reasoning = reply.parsed, reply.raw, reply.reasoning
        prompt, reply_ids = self._prompt(action, raw)
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
            index=turn, response=raw, response_ids=reply_ids, prompt=prompt, content=parsed.content,
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
                   error: str | None = None, error_kind: FailureKind | None = None) -> Trajectory:
        """The episode so far as a record (``failed`` with ``error_kind`` and ``error`` for an episode cut
        short)."""
        if status is None:
            status = "completed" if self.terminated else "truncated"
        metrics = self.episode.metrics(self.final if status != "failed" else None)
        # how the replies were read: training reads its replies the same way (toolgym.train.data)
        metadata: dict[str, Any] = {"tool_format": tool_format(self.config.format).name,
                                    "strip_thinking": self.config.strip_thinking}
        if self.seed is not None:
            metadata["seed"] = self.seed
        return Trajectory(env_id=self.env.id, sample=sample, messages=self._observation()["messages"],
                          steps=self.steps, metrics=metrics, status=status, error=error, error_kind=error_kind,
                          model=model, scenario=self.env.scenario, metadata=metadata)


def check_env(env: Environment | ToolEnv, executor: Executor | None = None) -> None:
    """Assert the episode API contract on one environment; raises ``AssertionError`` saying what broke.

    Checks: ``reset`` gives the question and the tools and is repeatable; a step before ``reset`` and
    after the end is refused; an empty reply ends the episode with -0.5; the gold solution, played as
    the episode's tool format writes it, earns a positive reward every turn and solves everything; the final
    answer then ends the episode with reward 1 and Solve-F1 1; the turn limit truncates; observations are
    JSON."""
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
        writer = tool_format(tenv.config.format)
        for turn in writer.turns(e.solution):
            obs, reward, terminated, truncated, info = tenv.step(writer.write(turn))
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
        _, _, terminated, truncated, _ = short.step(writer.write(e.solution[0][:1]))
        assert truncated and not terminated, "the turn limit must truncate the episode"
