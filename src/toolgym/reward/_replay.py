"""Metrics of a finished conversation, recomputed from its messages (no tool is executed again).

Works on our trajectories and on the reference scripts' output (``messages`` in OpenAI format:
assistant messages with ``tool_calls``, each answered by a ``tool`` message). With a tool format, an
assistant message without structured ``tool_calls`` is also read for calls written in its text (a
conversation logged as raw model text), with :func:`toolgym.parse.read_reply`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..parse import read_reply
from ..schema import TrajectoryMetrics
from ._episode import Episode


def _tool_outputs(messages: Sequence[Mapping[str, Any]], start: int, calls: list) -> list[str]:
    """Outputs for ``calls`` from the tool messages after ``start``, matched by id, else by order."""
    replies = []
    for m in messages[start:]:
        if m.get("role") != "tool":
            break
        replies.append(m)
    by_id = {m.get("tool_call_id"): m for m in replies if m.get("tool_call_id")}
    out = []
    for i, call in enumerate(calls):
        reply = by_id.get(call.get("id")) if call.get("id") in by_id and len(by_id) == len(replies) else None
        if reply is None and i < len(replies):
            reply = replies[i]
        content = reply.get("content") if reply else ""
        out.append(content if isinstance(content, str) else str(content or ""))
    return out


def replay_messages(messages: Sequence[Mapping[str, Any]], expected: Mapping[str, Sequence[str]],
                    answer: str | None, tool_format: str | None = None) -> TrajectoryMetrics:
    """The trajectory metrics of a recorded conversation against the environment's expected items.
    ``tool_format``: also read calls written in the text of assistant messages that have no structured
    ``tool_calls`` (``None``: structured calls only, as the paper's evaluation counts them)."""
    episode = Episode(expected, answer)
    final: str | None = None
    for i, m in enumerate(messages):
        if m.get("role") != "assistant":
            continue
        tool_calls = list(m.get("tool_calls") or [])
        if not tool_calls and tool_format is not None and isinstance(m.get("content"), str):
            written = read_reply(m["content"], tool_format).parsed.tool_calls
            tool_calls = [c.to_openai(f"call_{k}") for k, c in enumerate(written)]
        final = None if tool_calls else (m.get("content") or "")
        names = [(c.get("function") or {}).get("name") if isinstance(c, Mapping) else None for c in tool_calls]
        episode.record(names, _tool_outputs(messages, i + 1, tool_calls) if tool_calls else [])
    return episode.metrics(final)

