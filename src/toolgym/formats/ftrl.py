"""The layout of the paper's released data ("ftrl"), in and out.

A row has ``messages`` (a list), ``tools``, ``codes`` and ``unsolved_set`` (JSON strings), ``answer``,
``solve_rate``, ``data_source`` and ``split``. Export adds ``scenario`` and ``solution`` (a JSON string) and,
when our record holds something no other column does, ``toolgym`` (a JSON string: the metadata, a chosen
id). The reference scripts read none of the three: ``data_sample.py`` and ``evaluation_self.py`` read the
paper's columns by name, and verl's ``rl_dataset.py`` passes other columns through untouched.

Imported environments are recorded with ``metadata.scoping = "reference"``: the paper's code runs their
tools with ``exec`` inside its ``call_function``, and so do toolgym's executors for them (verification,
rollouts, scoring). ``toolgym import --scoping module`` opts out.

Both round trips are exact. ftrl -> toolgym -> ftrl reproduces every field: whatever our record does not
hold natively (multi-turn ``messages``, a non-zero ``solve_rate``, JSON strings formatted differently from
``json.dumps(..., ensure_ascii=False)``, unknown columns, absent columns) is kept in
``metadata.extra["ftrl"]`` and written back on export. toolgym -> ftrl -> toolgym reproduces every record
field by field: the ``toolgym`` column carries what the paper's columns cannot hold.

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
from ..schema import SCENARIOS, Environment, ToolCall, TurnState
from ._json import dumps

COLUMNS = ("messages", "tools", "codes", "unsolved_set", "answer", "solve_rate", "data_source", "split")
JSON_COLUMNS = {"tools": "tools", "codes": "code", "unsolved_set": "expected"}
#: Our record's metadata and chosen id: what the paper's columns cannot hold (see :func:`_carried`).
META_COLUMN = "toolgym"
EXTRA_COLUMNS = ("scenario", "solution", META_COLUMN)
#: How the paper's code runs the tools of its rows: the scoping of an imported record unless it says otherwise.
IMPORT_SCOPING = "reference"
#: Metadata fields with a column of their own; the others travel in :data:`META_COLUMN`.
_COLUMN_FIELDS = ("split", "data_source")
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
    null = [c for c in _COLUMN_FIELDS if c in row and row[c] is None]
    if null:  # written back as null, not as the default our record would give
        keep["null"] = null
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
    carried, error = _read_carried(row.get(META_COLUMN))
    if error is not None:
        return {}, [error]
    scenario = carried.pop("scenario") if "scenario" in carried else _infer_scenario(row)
    metadata: dict[str, Any] = {"data_source": row.get("data_source"), "split": row.get("split"),
                                "scoping": IMPORT_SCOPING}
    # a field our record left unset was written as its default: read back as that default, it is unset again
    unset = carried.pop("unset", [])
    if "split" in unset and metadata["split"] == "train":
        metadata["split"] = None
    if "data_source" in unset and metadata["data_source"] == (f"toolgym/{scenario}" if scenario else "toolgym"):
        metadata["data_source"] = None
    if "id" in carried:
        data["id"] = carried.pop("id")
    metadata.update(carried)
    extra = dict(metadata.get("extra") or {})
    if keep:
        extra["ftrl"] = keep
    metadata["extra"] = extra
    data.update(question=question, answer=row.get("answer"), scenario=scenario, solution=solution or [],
                metadata=metadata)
    return data, []


def _read_carried(raw: Any) -> tuple[dict[str, Any], RecordError | None]:
    """The ``toolgym`` column as a dict (empty when the row has none), or the problem with it."""
    if raw is None:
        return {}, None
    value, why = safe_json.loads(raw, deep=True) if isinstance(raw, str) else (raw, None)
    if why is not None:
        return {}, RecordError(ErrorKind.JSON, f"column {META_COLUMN!r} is not valid JSON: {why}", field=META_COLUMN)
    if (not isinstance(value, dict) or not isinstance(value.get("unset", []), list)
            or not isinstance(value.get("extra", {}), dict)):
        return {}, RecordError(ErrorKind.FORMAT, f"column {META_COLUMN!r} must be a JSON object of metadata fields",
                               field=META_COLUMN)
    return dict(value), None


def _carried(env: Environment) -> dict[str, Any]:
    """What of ``env`` no other column holds: the metadata fields that are set, except ``split`` and
    ``data_source`` (``unset`` names those of them left unset: their columns hold the defaults); an id that
    is not the content's; an unset scenario that the data source would name. Empty for a record imported
    from the paper's data, so that its row is exported as it came in."""
    meta = env.metadata.model_dump(mode="json", exclude=set(_COLUMN_FIELDS))
    meta["extra"] = {k: v for k, v in meta["extra"].items() if k != "ftrl"}  # ftrl's own memory: rebuilt from the row
    carried: dict[str, Any] = {k: v for k, v in meta.items() if v is not None and v != {}}
    if carried.get("scoping") == IMPORT_SCOPING:
        del carried["scoping"]  # what an import assumes
    if env.id != env.computed_id():
        carried["id"] = env.id
    if env.scenario is None and _infer_scenario({"data_source": env.data_source}) is not None:
        carried["scenario"] = None
    keep = env.metadata.extra.get("ftrl", {})
    written = set(_COLUMN_FIELDS) - set(keep.get("absent", [])) - set(keep.get("null", []))
    unset = [name for name in _COLUMN_FIELDS if name in written and getattr(env.metadata, name) is None]
    if unset:
        carried["unset"] = unset
    return carried


def env_to_ftrl(env: Environment) -> dict[str, Any]:
    """One ftrl row (with the extra ``scenario``, ``solution`` and, when needed, ``toolgym`` columns)."""
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
    for name in keep.get("null", []):
        if getattr(env.metadata, name) is None:
            row[name] = None
    for name in keep.get("absent", []):
        row.pop(name, None)
    row.update(keep.get("columns", {}))
    row["scenario"] = keep.get("columns", {}).get("scenario", env.scenario)
    row["solution"] = dumps([[_call_json(c) for c in turn] for turn in env.solution])
    carried = _carried(env)
    if carried:
        row[META_COLUMN] = dumps(carried)
    return row


def _call_json(call: ToolCall) -> dict[str, Any]:
    out = {"name": call.name, "arguments": call.arguments}
    if call.id is not None:
        out["id"] = call.id
    return out


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
