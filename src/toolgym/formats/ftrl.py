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
"""

from __future__ import annotations

import json
from typing import Any

from .. import safe_json
from ..errors import ErrorKind, RecordError
from ..schema import SCENARIOS, Environment
from ._json import dumps

COLUMNS = ("messages", "tools", "codes", "unsolved_set", "answer", "solve_rate", "data_source", "split")
JSON_COLUMNS = {"tools": "tools", "codes": "code", "unsolved_set": "expected"}
EXTRA_COLUMNS = ("scenario", "solution")


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
