"""Training data from trajectories: the paper's per-turn prefixes, and preference pairs for DPO.

**Per-turn prefixes** (the paper's recipe): every assistant turn of a trajectory becomes one training
prompt -- the conversation up to that turn -- with the environment's state at that point (the unsolved
expected items and the solve rate), so the step reward can be computed for any response sampled there.
As in the reference ``data_sample.py``, the prompts are the question itself and the conversation after
each turn that called tools (so every turn the episode reached has its prompt). Earlier assistant turns
are kept as the model wrote them (its raw text, tool calls included; calls a server returned natively are
written in the model's own tool format, as its chat template renders them). Where the rollout recorded
the prompt it rendered (local backends), the row carries it (``prompt_text``/``prompt_ids``): training
uses exactly what the model saw. Each row also carries how the rollout read replies (``tool_format``,
``strip_thinking``), so the reward reads a sampled reply the same way.

**Preference pairs**: from several trajectories of one environment, ``step`` pairs take two different
responses to the same prompt and prefer the one with the higher step reward; ``trajectory`` pairs take
two whole continuations of the question and prefer the higher Solve-F1. Ties (within ``margin``) are
dropped.

A per-turn prompt is a :class:`~toolgym.schema.TurnState` (the environment's state at that turn comes from
the same :class:`~toolgym.reward.Episode` books a rollout keeps). They are plain data (model-agnostic);
:mod:`.layouts` writes them through ``toolgym.formats`` as verl parquet and TRL datasets.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..parse import read_reply, tool_format
from ..reward import Episode
from ..schema import Environment, RenderedPrompt, Step, ToolCall, Trajectory, TurnState


@dataclass(frozen=True, slots=True)
class PreferencePair:
    env_id: str
    prompt: list[dict[str, Any]]
    chosen: str
    rejected: str
    tools: list[dict[str, Any]]
    chosen_score: float
    rejected_score: float
    level: str
    meta: dict[str, Any] = field(default_factory=dict)
    prompt_text: str | None = None  # the prompt as the model saw it, where the rollout recorded it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def assistant_text(step: Step, message: Mapping[str, Any], format: str | None = "hermes",
                   strip_thinking: bool = False) -> str:
    """The assistant turn as the model wrote it: its raw reply, or -- for tool calls a server returned
    natively, whose text holds no calls -- the content followed by the calls as the model's tool format
    writes them (which is how its chat template renders a structured call)."""
    raw = step.response or ""
    calls = message.get("tool_calls") or []
    if not calls or read_reply(raw, format, strip_thinking=strip_thinking).parsed.tool_calls:
        return raw
    native = [ToolCall(name=c["function"]["name"], arguments=json.loads(c["function"]["arguments"] or "{}"))
              for c in calls]
    return tool_format(format).write(native, message.get("content") or "")


def reading(trajectory: Trajectory) -> tuple[str | None, bool | None]:
    """How the rollout read this trajectory's replies: its tool format and thinking setting (None when the
    trajectory does not say: written before toolgym recorded them)."""
    fmt, strip = trajectory.metadata.get("tool_format"), trajectory.metadata.get("strip_thinking")
    return (str(fmt) if fmt else None), (bool(strip) if strip is not None else None)


def _row_reading(read: tuple[str | None, bool | None], message: Mapping[str, Any]) -> tuple[str | None, bool | None]:
    """How the row of this turn is read: as the rollout read the trajectory, except that several native calls
    written into the row in a format that reads one call a reply (``llama3``) are read in its several-call
    variant, so that training reads every call the rollout read."""
    if read[0] is None:
        return read
    fmt = tool_format(read[0]).for_calls(len(message.get("tool_calls") or []))
    return (fmt.name, read[1]) if fmt.name != tool_format(read[0]).name else read


def _plain(m: Mapping[str, Any]) -> dict[str, Any]:
    return {"role": m["role"], "content": m.get("content") or ""}


def _state(env: Environment, episode: Episode, messages: list[dict[str, Any]], *, sample: int = 0, turn: int = 0,
           response: str = "", reward: float | None = None, prompt: RenderedPrompt | None = None,
           read: tuple[str | None, bool | None] = (None, None)) -> TurnState:
    """The turn of ``env`` whose prompt is ``messages``, at the state ``episode`` has reached."""
    return TurnState(
        env_id=env.id, sample=sample, turn=turn, messages=messages, tools=env.tools, codes=env.code,
        unsolved=episode.unsolved.to_dict(), solve_rate=episode.solve_rate, answer=env.answer,
        scenario=env.scenario, split=env.split, data_source=env.data_source, response=response, reward=reward,
        scoping=env.metadata.scoping,
        prompt_text=prompt.text if prompt is not None else None, prompt_ids=prompt.ids if prompt is not None else None,
        tool_format=read[0], strip_thinking=read[1])


def turn_prompts(trajectory: Trajectory, env: Environment) -> Iterator[TurnState]:
    """The per-turn prompts of one trajectory, as the reference ``data_sample.py`` writes them: the question,
    and the conversation after every turn that called tools -- that is, the prompt of every turn the
    episode reached, plus the state after a last tool-calling turn when the turn limit cut the episode."""
    episode = Episode.of(env)
    history: list[dict[str, Any]] = []
    steps = iter(trajectory.steps)
    prompts = iter(trajectory.prompts())
    read = reading(trajectory)
    messages = trajectory.messages
    turn = 0
    last_called = False
    i = 0
    while i < len(messages):
        m = messages[i]
        if m.get("role") != "assistant":
            history.append(_plain(m))
            i += 1
            continue
        step = next(steps, None)
        if step is None:
            return
        text = assistant_text(step, m, read[0], bool(read[1]))
        yield _state(env, episode, list(history), sample=trajectory.sample, turn=turn, response=text,
                     reward=step.reward, prompt=next(prompts, None), read=_row_reading(read, m))
        history.append({"role": "assistant", "content": text})
        calls = m.get("tool_calls") or []
        i += 1
        outputs = []
        while i < len(messages) and messages[i].get("role") == "tool":
            outputs.append(messages[i].get("content") or "")
            history.append(_plain(messages[i]))
            i += 1
        # the calls were made and scored in the rollout; the books follow them, as data_sample.py does
        episode.record([c["function"]["name"] for c in calls[:len(outputs)]], outputs[:len(calls)])
        last_called = bool(calls)
        turn += 1
    if last_called and trajectory.status == "truncated":  # a prompt the model never saw: none was rendered
        yield _state(env, episode, list(history), sample=trajectory.sample, turn=turn, read=read)


def prefixes(trajectories: Iterable[Trajectory], envs: Mapping[str, Environment], *, dedupe: bool = True,
             skip_failed: bool = True) -> Iterator[TurnState]:
    """Per-turn prompts of many trajectories; identical prompts (the question, asked in every sample of an
    environment) are kept once when ``dedupe``."""
    seen: set[str] = set()
    for t in trajectories:
        env = envs.get(t.env_id)
        if env is None or (skip_failed and t.status == "failed"):
            continue
        for p in turn_prompts(t, env):
            if dedupe:
                k = p.key
                if k in seen:
                    continue
                seen.add(k)
            yield p


def initial_prompt(env: Environment) -> TurnState:
    """The question itself as a prompt (what the first turn of every episode sees)."""
    return _state(env, Episode.of(env), [{"role": "user", "content": env.question}])


def _continuation(t: Trajectory) -> tuple[list[dict[str, Any]], str]:
    """(prompt messages up to the first assistant turn, the rest of the conversation as text)."""
    first = next((i for i, m in enumerate(t.messages) if m.get("role") == "assistant"), len(t.messages))
    parts = []
    steps = iter(t.steps)
    fmt, strip = reading(t)
    for m in t.messages[first:]:
        if m.get("role") == "assistant":
            step = next(steps, None)
            parts.append(assistant_text(step, m, fmt, bool(strip)) if step is not None else (m.get("content") or ""))
        elif m.get("role") == "tool":
            parts.append(f"<tool_response>\n{m.get('content') or ''}\n</tool_response>")
        else:
            parts.append(m.get("content") or "")
    return [_plain(m) for m in t.messages[:first]], "\n".join(parts)


def preference_pairs(trajectories: Iterable[Trajectory], envs: Mapping[str, Environment], *,
                     level: Literal["step", "trajectory"] = "step", margin: float = 1e-6, max_per_prompt: int = 4,
                     seed: int = 0) -> list[PreferencePair]:
    """DPO pairs from several trajectories of the same environments (see the module docstring)."""
    rng = random.Random(seed)
    groups: dict[str, list[tuple[float, list[dict[str, Any]], str, str, str | None]]] = defaultdict(list)
    for t in trajectories:
        env = envs.get(t.env_id)
        if env is None or t.status == "failed":
            continue
        if level == "trajectory":
            prompt, text = _continuation(t)
            first = t.prompts()[0] if t.steps else None
            groups[env.id].append((t.metrics.solve_f1, prompt, text, env.id, first.text if first else None))
        else:
            for p in turn_prompts(t, env):
                if p.response:
                    groups[p.key].append((p.reward, p.messages, p.response, env.id, p.prompt_text))
    pairs: list[PreferencePair] = []
    for items in groups.values():
        unique = {}
        for score, prompt, text, env_id, prompt_text in items:
            unique.setdefault(text, (score, prompt, text, env_id, prompt_text))
        ranked = sorted(unique.values(), key=lambda x: -x[0])
        candidates = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1:] if a[0] - b[0] > margin]
        rng.shuffle(candidates)
        for a, b in candidates[:max_per_prompt]:
            env = envs[a[3]]
            pairs.append(PreferencePair(env_id=a[3], prompt=a[1], chosen=a[2], rejected=b[2], tools=env.tools,
                                        chosen_score=a[0], rejected_score=b[0], level=level,
                                        prompt_text=a[4] if a[4] is not None else b[4]))
    return pairs
