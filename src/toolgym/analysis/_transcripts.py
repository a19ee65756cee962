"""Per-episode transcripts for the run report: the question, each turn's reply, its tool calls and what the
tools returned, the step rewards, packed small enough to embed thousands of episodes in one page.

Each distinct text is stored once (a string table: the same question, tool output or system prompt across
runs and samples costs one entry), an episode is a short array of numbers pointing into it, and the page's
script builds a transcript only when it is opened. Two limits keep a page openable, and the page says when
either applied: at most ``max_episodes`` episodes per trajectory file (the first ones of the file, after a
resumed run's retries are folded in), and at most :data:`TEXT_LIMIT` characters of any one text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..parse import content_text
from ..rollout import load_trajectories
from ..schema import Step, Trajectory

TEXT_LIMIT = 4000  # characters of one text shown; the rest is named, not silently dropped


@dataclass(frozen=True, slots=True)
class Source:
    """A trajectory file shown in the report, and the name the report gives it."""

    label: str
    path: Path
    model: str = ""


@dataclass
class SourceCounts:
    label: str
    model: str
    path: str
    total: int = 0  # episodes in the file
    shown: int = 0
    unreadable: int = 0  # lines that were not trajectories


@dataclass
class Transcripts:
    """What the page's script reads (``to_json``) and what the page says about it."""

    strings: list[str] = field(default_factory=list)
    sources: list[SourceCounts] = field(default_factory=list)
    episodes: list[list[Any]] = field(default_factory=list)
    truncated_texts: int = 0
    scenarios: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"strings": self.strings, "episodes": self.episodes,
                "sources": [{"label": s.label, "model": s.model} for s in self.sources]}


class _Table:
    def __init__(self, out: Transcripts) -> None:
        self.out = out
        self.ids: dict[str, int] = {}

    def __call__(self, text: Any) -> int:
        """The id of ``text`` in the table (-1 for nothing), cut at :data:`TEXT_LIMIT` characters."""
        if text is None:
            return -1
        if not isinstance(text, str):
            text = json.dumps(text, ensure_ascii=False, default=str)
        if len(text) > TEXT_LIMIT:
            self.out.truncated_texts += 1
            text = f"{text[:TEXT_LIMIT]}\n[... {len(text) - TEXT_LIMIT:,} more characters not shown]"
        i = self.ids.get(text)
        if i is None:
            i = self.ids[text] = len(self.out.strings)
            self.out.strings.append(text)
        return i


def _arguments(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, default=str)


def _turn(step: Step, s: _Table, thinking: Any = None) -> list[Any]:
    """``['turn', index, content, raw (if it differs), thinking, reward, branch, calls, malformed, solve_rate]``."""
    raw = step.response if step.response.strip() != step.content.strip() else None
    calls = [[s(r.call.name), s(_arguments(r.call.arguments)), s(r.output), r.status, s(r.solved)] for r in step.results]
    bad = [[s(m.raw), s(m.error)] for m in step.malformed]
    return ["turn", step.index, s(step.content), s(raw), s(thinking or None), round(step.reward, 4), s(step.branch),
            calls, bad, round(step.solve_rate, 4)]


def _message_turn(index: int, m: dict[str, Any], s: _Table) -> list[Any]:
    """An assistant message with no step record (a trajectory written without steps): its calls, whose
    outputs follow as tool messages, and no reward to show."""
    calls = []
    for c in m.get("tool_calls") or []:
        fn = (c.get("function") or c) if isinstance(c, dict) else {}
        calls.append([s(str(fn.get("name", "?"))), s(_arguments(fn.get("arguments", ""))), -1, None, -1])
    return ["turn", index, s(content_text(m.get("content"))), -1, s(m.get("reasoning_content") or None), None, -1,
            calls, [], None]


def _events(t: Trajectory, s: _Table) -> tuple[int, list[list[Any]]]:
    """The question's id and the transcript's events, in conversation order. Assistant messages are shown from
    their step records (calls, outputs, rewards); tool messages a step already shows are not repeated."""
    events: list[list[Any]] = []
    question = -1
    steps = list(t.steps)
    used, skip, turn = 0, 0, 0
    for m in t.messages:
        role = m.get("role")
        content = content_text(m.get("content"))
        if role == "system":
            events.append(["sys", s(content)])
        elif role == "user":
            if question < 0:
                question = s(content)
            events.append(["user", s(content)])
        elif role == "assistant":
            if used < len(steps):
                step = steps[used]
                used += 1
                events.append(_turn(step, s, m.get("reasoning_content")))
                skip = len(step.results)
            else:
                events.append(_message_turn(turn, m, s))
                skip = 0
            turn += 1
        elif role == "tool":
            if skip:
                skip -= 1
                continue
            events.append(["tool", s(str(m.get("name") or "")), s(content)])
        else:
            events.append(["msg", s(str(role)), s(content)])
    events.extend(_turn(step, s) for step in steps[used:])
    return question, events


def _episode(t: Trajectory, source: int, s: _Table) -> list[Any]:
    """``[source, env, sample, scenario, status, error, question, metrics, reward, events]`` with metrics
    ``[P, R, F1, answer (1, 0, -1 unknown), calls, solved, needed, turns]``."""
    question, events = _events(t, s)
    m = t.metrics
    answer = -1 if m.answer_correct is None else int(m.answer_correct)
    metrics = [round(m.solve_precision, 4), round(m.solve_rate, 4), round(m.solve_f1, 4), answer, m.calls, m.solved,
               m.needed, m.turns or len(t.steps)]
    return [source, s(t.env_id), t.sample, s(t.scenario), t.status, s(t.error), question, metrics,
            round(sum(st.reward for st in t.steps), 4), events]


def pack(sources: Sequence[Source], max_episodes: int | None = 1000) -> Transcripts:
    """The episodes of ``sources`` for the page (``max_episodes`` per file; ``None``: all)."""
    out = Transcripts()
    s = _Table(out)
    scenarios: set[str] = set()
    for k, src in enumerate(sources):
        counts = SourceCounts(src.label, src.model, str(src.path))
        out.sources.append(counts)

        def bad(_error, _raw, counts=counts) -> None:
            counts.unreadable += 1

        trajectories = load_trajectories(src.path, on_error=bad)
        counts.total = len(trajectories)
        chosen = trajectories if max_episodes is None else trajectories[:max_episodes]
        counts.shown = len(chosen)
        for t in chosen:
            out.episodes.append(_episode(t, k, s))
            if t.scenario:
                scenarios.add(t.scenario)
        if not counts.model:
            counts.model = next((t.model for t in trajectories if t.model), "")
    out.scenarios = sorted(scenarios)
    return out
