"""toolgym's flat per-turn rows and the rows TRL trainers get, both ways.

**Flat rows** (``turns.jsonl`` and the ``trl/`` dataset of ``toolgym train prepare``): one
:class:`~toolgym.schema.TurnState` per row, nested parts as JSON strings so that every row has the same
schema -- ``env_id``, ``sample``, ``turn``, ``scenario``, ``split``, ``data_source``, ``messages``,
``tools``, ``codes``, ``unsolved_set`` (JSON), ``solve_rate``, ``answer``, ``response`` (the model's reply
there, as text; a message reply as its JSON), ``reward`` (its step reward), ``prompt_text`` and
``prompt_ids`` (the exact prompt the model saw), ``scoping`` (how the tools run), ``tool_format`` and
``strip_thinking`` (how the rollout read replies); null where unknown.

**TRL rows** (what GRPO/RLOO train on): the rendered ``prompt`` plus the columns the step reward reads
(``codes``, ``unsolved_set``, ``solve_rate``, ``answer``, ``scoping``, ``tool_format``, ``strip_thinking``)
and where the row came from (``env_id``, ``sample``, ``turn``, ``scenario``, ``split``, ``data_source``). TRL hands every column but the prompt to
reward functions as keyword arguments, one list per column; :func:`trl_turns` turns those back into
``TurnState``\\ s, one per completion, through the same reader as the flat rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ..errors import InvalidRecord
from ..parse import as_text
from ..schema import TurnState
from ._json import bad_column, dumps, list_column, object_column, wrong_type

#: The columns of a flat row (every row has all of them, so that every row of a dataset has one schema).
ROW_COLUMNS = ("env_id", "sample", "turn", "scenario", "split", "data_source", "messages", "tools", "codes",
               "unsolved_set", "solve_rate", "answer", "response", "reward", "prompt_text", "prompt_ids", "scoping",
               "tool_format", "strip_thinking")
#: The columns of a TRL row.
TRL_COLUMNS = ("prompt", "env_id", "sample", "turn", "scenario", "split", "data_source", "codes", "unsolved_set",
               "solve_rate", "answer", "scoping", "tool_format", "strip_thinking")
_NEEDS = ("toolgym's per-turn rows need the codes and unsolved_set columns; write them with "
          "`toolgym train prepare`")


def turn_to_row(state: TurnState) -> dict[str, Any]:
    """A flat, model-agnostic row (see the module docstring)."""
    row: dict[str, Any] = {
        "env_id": state.env_id, "sample": state.sample, "turn": state.turn, "scenario": state.scenario,
        "split": state.split, "data_source": state.data_source, "messages": dumps(state.messages),
        "tools": dumps(state.tools), "codes": dumps(state.codes), "unsolved_set": dumps(state.unsolved),
        "solve_rate": float(state.solve_rate), "answer": state.answer,
        "response": state.response if isinstance(state.response, str) else dumps(state.response),
        "reward": None if state.reward is None else float(state.reward),
        "prompt_text": state.prompt_text,
        "prompt_ids": None if state.prompt_ids is None else list(state.prompt_ids),
        "scoping": state.scoping,
        "tool_format": state.tool_format, "strip_thinking": state.strip_thinking,
    }
    return row


def turn_to_trl(state: TurnState, prompt: str) -> dict[str, Any]:
    """A TRL row: ``prompt`` (the rendered prompt text) and the reward and provenance columns."""
    row = turn_to_row(state)
    return {"prompt": prompt, **{k: row[k] for k in TRL_COLUMNS[1:]}}


def row_to_turn(row: Mapping[str, Any]) -> TurnState:
    """The turn of a flat row or a TRL row (missing optional columns take their defaults). Raises
    :class:`~toolgym.errors.InvalidRecord` naming the column that is missing or malformed."""
    if row.get("codes") is None or row.get("unsolved_set") is None:
        raise bad_column("codes" if row.get("codes") is None else "unsolved_set", _NEEDS)
    codes = object_column(row["codes"], "codes")
    unsolved = object_column(row["unsolved_set"], "unsolved_set")
    messages = list_column(row.get("messages"), "messages")
    prompt = row.get("prompt")
    if messages is None and isinstance(prompt, list):  # a conversational TRL prompt
        messages = prompt
    answer, rate, reward = row.get("answer"), row.get("solve_rate"), row.get("reward")
    response = row.get("response")
    prompt_text = row.get("prompt_text") if row.get("prompt_text") is not None else prompt
    tool_format, strip = row.get("tool_format"), row.get("strip_thinking")
    try:
        return TurnState(
            messages=[dict(m) for m in messages or []],
            tools=[dict(t) for t in list_column(row.get("tools"), "tools") or []],
            codes=codes, unsolved={k: list(v) for k, v in unsolved.items()},
            solve_rate=float(rate) if rate is not None else 0.0, answer=answer if isinstance(answer, str) else None,
            split=str(row.get("split") or "train"), data_source=str(row.get("data_source") or "toolgym"),
            env_id=str(row.get("env_id") or ""), sample=int(row.get("sample") or 0), turn=int(row.get("turn") or 0),
            scenario=row.get("scenario") or None, response=response if isinstance(response, str) else "",
            reward=float(reward) if reward is not None else None,
            prompt_text=prompt_text if isinstance(prompt_text, str) else None,
            prompt_ids=list_column(row.get("prompt_ids"), "prompt_ids"), scoping=row.get("scoping") or "module",
            tool_format=str(tool_format) if tool_format else None,
            strip_thinking=bool(strip) if strip is not None else None)
    except InvalidRecord:
        raise
    except (ValidationError, TypeError, ValueError) as exc:  # a column of the wrong type
        raise wrong_type("a toolgym per-turn row", exc) from exc


def completion_response(completion: Any) -> str | dict[str, Any]:
    """The reply in one TRL completion: a string (standard format), or a list of messages (conversational
    format) whose assistant text is joined -- unless it is one message with native ``tool_calls``,
    which is returned as the message itself."""
    if isinstance(completion, list):
        messages = [m for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        if len(messages) == 1 and messages[0].get("tool_calls"):
            return messages[0]
        return "".join(as_text(m.get("content") or "") for m in messages)
    if isinstance(completion, dict):
        return completion
    return as_text(completion)  # never raises (an int of 5,000 digits cannot be str()-ed)


def trl_turns(completions: Sequence[Any], columns: Mapping[str, Any]) -> list[TurnState]:
    """The turns a TRL reward call describes: completion ``i`` with row ``i`` of the dataset ``columns``
    TRL passes as keyword arguments (other keyword arguments, such as ``completion_ids``, are ignored)."""
    n = len(completions)
    known = {k: v for k, v in columns.items() if k in ROW_COLUMNS and v is not None}
    for name, values in known.items():
        if len(values) != n:
            raise ValueError(f"column {name!r} has {len(values)} values for {n} completions")
    return [row_to_turn({k: v[i] for k, v in known.items()}).model_copy(
        update={"response": completion_response(c), "reward": None}) for i, c in enumerate(completions)]
