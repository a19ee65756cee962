"""The layout of the paper's released data ("ftrl"), in and out.

A row has ``messages`` (a list), ``tools``, ``codes`` and ``unsolved_set`` (JSON strings), ``answer``,
``solve_rate``, ``data_source`` and ``split``. Export adds ``scenario`` and ``solution`` (a JSON string),
which the reference scripts ignore.

Imported environments are recorded with ``metadata.scoping = "reference"``: the paper's code runs their
tools with ``exec`` inside its ``call_function``, and so do toolgym's executors for them (verification,
rollouts, scoring). ``toolgym import --scoping module`` opts out.

Round trip ftrl -> toolgym -> ftrl reproduces every field exactly: whatever our record does not hold
natively (multi-turn ``messages``, a non-zero ``solve_rate``, JSON strings formatted differently from
``json.dumps(..., ensure_ascii=False)``, unknown columns, absent columns) is kept in
``metadata.extra["ftrl"]`` and written back on export.

The same layout holds the paper's per-turn training rows (``Code/data_sample/data_sample.py``):
:func:`turn_to_ftrl` writes a :class:`~toolgym.schema.TurnState` as that script writes a row -- its
conversation in OpenAI form, each assistant turn as ``content`` plus structured ``tool_calls``
(``arguments`` a JSON string, an ``id`` per call) and each tool message with the ``tool_call_id`` of its
call (``toolgym train prepare --layout reference``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import safe_json
from ..errors import ErrorKind, RecordError
from ..parse import read_reply
from ..schema import SCENARIOS, Environment, TurnState
from ._json import dumps

COLUMNS = ("messages", "tools", "codes", "unsolved_set", "answer", "solve_rate", "data_source", "split")
JSON_COLUMNS = {"tools": "tools", "codes": "code", "unsolved_set": "expected"}
EXTRA_COLUMNS = ("scenario", "solution")
#: The columns of a per-turn row of ``data_sample.py``, in its order.
TURN_COLUMNS = ("messages", "tools", "codes", "unsolved_set", "solve_rate", "data_source", "split", "answer")


def _infer_scenario(row: dict[str, Any]) -> str | None:
    scenario = row.get("scenario")
    if scenario in SCENARIOS:
        return scenario
    source = str(row.get("data_source") or "")
    for name in sorted(SCENARIOS, key=len, reverse=True):  # parallel_multi_hop before multi_hop
        if name in source:
            return name
    return None


def ftrl_to_env_data(row: dict[str, Any]) -> tuple[dict[str, Any], list[RecordError]]:
    """Our record's data from one ftrl row, or the problems that prevent it."""
    errors: list[RecordError] = []
    keep: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for column, field in JSON_COLUMNS.items():
        raw = row.get(column)
        if raw is None:
            errors.append(RecordError(ErrorKind.FORMAT, f"column {column!r} is missing", field=column))
            continue
        if isinstance(raw, str):
            value, why = safe_json.loads(raw, deep=True)
            if why is not None:
                errors.append(RecordError(ErrorKind.JSON, f"column {column!r} is not valid JSON: {why}", field=column))
                continue
            if safe_json.dumps(value, deep=True)[0] != raw:
                keep[f"raw_{column}"] = raw
        else:
            value = raw
            keep.setdefault("native", []).append(column)
        data[field] = value
    messages = row.get("messages")
    if isinstance(messages, str):
        messages, why = safe_json.loads(messages, deep=True)
        if why is None:
            keep["messages_as_string"] = True
        else:
            errors.append(RecordError(ErrorKind.JSON, f"column 'messages' is not valid JSON: {why}", field="messages"))
    question = None
    if isinstance(messages, list):
        question = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
    if not isinstance(question, str):
        errors.append(RecordError(ErrorKind.FORMAT, "messages has no user message with text content", field="messages"))
    if errors:
        return {}, errors
    if messages != [{"role": "user", "content": question}]:
        keep["messages"] = messages
    solve_rate = row.get("solve_rate", 0.0)
    if not (type(solve_rate) is float and solve_rate == 0.0):
        keep["solve_rate"] = solve_rate
    absent = [c for c in COLUMNS if c not in row]
    if absent:
        keep["absent"] = absent
    unknown = {k: v for k, v in row.items() if k not in COLUMNS and k not in EXTRA_COLUMNS}
    if row.get("scenario") is not None and row.get("scenario") not in SCENARIOS:
        unknown["scenario"] = row["scenario"]
    if unknown:
        keep["columns"] = unknown
    solution = row.get("solution")
    if isinstance(solution, str):
        solution, why = safe_json.loads(solution, deep=True)
        if why is not None:
            return {}, [RecordError(ErrorKind.JSON, f"column 'solution' is not valid JSON: {why}", field="solution")]
    data.update(
        question=question,
        answer=row.get("answer"),
        scenario=_infer_scenario(row),
        solution=solution or [],
        metadata={
            "data_source": row.get("data_source"),
            "split": row.get("split"),
            "scoping": "reference",  # how the paper's code runs these tools
            "extra": {"ftrl": keep} if keep else {},
        },
    )
    return data, []


def env_to_ftrl(env: Environment) -> dict[str, Any]:
    """One ftrl row (with the extra ``scenario`` and ``solution`` columns)."""
    keep = env.metadata.extra.get("ftrl", {})
    native = set(keep.get("native", []))

    def column(name: str, value: Any) -> Any:
        if name in native:
            return value
        raw = keep.get(f"raw_{name}")
        if raw is not None and json.loads(raw) == value:
            return raw
        return dumps(value)

    messages = keep.get("messages") or [{"role": "user", "content": env.question}]
    row: dict[str, Any] = {
        "messages": dumps(messages) if keep.get("messages_as_string") else messages,
        "tools": column("tools", env.tools),
        "codes": column("codes", env.code),
        "unsolved_set": column("unsolved_set", env.expected),
        "answer": env.answer,
        "solve_rate": keep.get("solve_rate", 0.0),
        "data_source": env.data_source,
        "split": env.split,
    }
    for name in keep.get("absent", []):
        row.pop(name, None)
    row.update(keep.get("columns", {}))
    row["scenario"] = keep.get("columns", {}).get("scenario", env.scenario)
    row["solution"] = dumps([[{"name": c.name, "arguments": c.arguments} for c in turn] for turn in env.solution])
    return row


def _call_id(state: TurnState, turn: int, index: int) -> str:
    """A call id shaped like the reference's (``call_`` and 64 hex digits; it hashes the time, this hashes
    where the call is, so the same data gives the same ids)."""
    where = f"{state.env_id}|{state.sample}|{turn}|{index}"
    return "call_" + hashlib.sha256(where.encode()).hexdigest()


def reference_messages(state: TurnState) -> list[dict[str, Any]]:
    """The turn's conversation as ``data_sample.py`` keeps it: each assistant turn read (with the turn's
    tool format and thinking setting, as the rollout read it) into ``content`` and ``tool_calls``
    (``None`` without calls, as ``parse_qwen`` leaves it), each tool message answering its call by id."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    turn = 0
    for m in state.messages:
        role = m.get("role")
        if role == "assistant":
            reply = read_reply(m.get("content") or "", state.tool_format, strip_thinking=bool(state.strip_thinking))
            calls = [{"id": _call_id(state, turn, i), "type": "function",
                      "function": {"arguments": json.dumps(c.arguments, ensure_ascii=False), "name": c.name}}
                     for i, c in enumerate(reply.parsed.tool_calls)]
            message: dict[str, Any] = {"role": "assistant", "content": reply.parsed.content,
                                       "tool_calls": calls or None}
            if reply.reasoning:  # set apart by the rollout (--strip-thinking); Qwen3's template reads it here
                message["reasoning_content"] = reply.reasoning
            out.append(message)
            pending = [c["id"] for c in calls]
            turn += 1
        elif role == "tool":
            out.append({"role": "tool", "content": m.get("content") or "",
                        "tool_call_id": pending.pop(0) if pending else None})
        else:
            out.append({"role": role, "content": m.get("content") or ""})
    return out


def turn_to_ftrl(state: TurnState) -> dict[str, Any]:
    """One per-turn row as the paper's ``data_sample.py`` writes it (:data:`TURN_COLUMNS`, in its order)."""
    row = {"messages": reference_messages(state), "tools": dumps(state.tools), "codes": dumps(state.codes),
           "unsolved_set": dumps(state.unsolved), "solve_rate": float(state.solve_rate),
           "data_source": state.data_source, "split": state.split, "answer": state.answer}
    return {k: row[k] for k in TURN_COLUMNS}
