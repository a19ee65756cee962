"""verl's RL dataset layout: parquet rows that stock verl's ``RLHFDataset`` and our reward read.

``data_source``, ``prompt`` (chat messages), ``ability``, ``reward_model`` (``style: rule``,
``ground_truth``: JSON of ``unsolved_set``, ``solve_rate``, ``answer``) and ``extra_info`` (``codes`` and
``tools`` as JSON strings, ``split``, ``index``, plus ``env_id`` and ``scenario``). A top-level ``tools``
column (JSON string) is added for chat templates that take the tools from the row.
``toolgym.reward.verl.compute_score`` reads exactly these columns.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ErrorKind, RecordError
from ..schema import SCENARIOS, Environment

ABILITY = "tool_use"


def verl_row(*, messages: list[dict[str, Any]], tools: list[dict[str, Any]], codes: dict[str, str],
             unsolved: dict[str, list[str]], solve_rate: float, answer: str | None, data_source: str, split: str,
             index: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One row of verl's RL layout: a prompt and everything the step reward needs to score a response to it."""
    truth = {"unsolved_set": unsolved, "solve_rate": float(solve_rate), "answer": answer}
    tools_json = json.dumps(tools, ensure_ascii=False)
    return {
        "data_source": data_source,
        "prompt": [{"role": m["role"], "content": m.get("content") or ""} for m in messages],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": json.dumps(truth, ensure_ascii=False)},
        "extra_info": {"codes": json.dumps(codes, ensure_ascii=False), "tools": tools_json, "split": split,
                       "index": index, **(extra or {})},
        "tools": tools_json,
    }


def env_to_verl(env: Environment, index: int) -> dict[str, Any]:
    keep = env.metadata.extra.get("ftrl", {})
    return verl_row(
        messages=keep.get("messages") or [{"role": "user", "content": env.question}], tools=env.tools,
        codes=env.code, unsolved=env.expected, solve_rate=float(keep.get("solve_rate", 0.0) or 0.0),
        answer=env.answer, data_source=env.metadata.data_source or (f"toolgym/{env.scenario}" if env.scenario else "toolgym"),
        split=env.metadata.split or "train", index=index, extra={"env_id": env.id, "scenario": env.scenario, "turn": 0})


def verl_to_env_data(row: dict[str, Any]) -> tuple[dict[str, Any], list[RecordError]]:
    try:
        truth = row["reward_model"]["ground_truth"]
        truth = json.loads(truth) if isinstance(truth, str) else truth
        extra = row.get("extra_info") or {}
        code = extra["codes"]
        code = json.loads(code) if isinstance(code, str) else code
        tools = extra.get("tools", row.get("tools"))
        tools = json.loads(tools) if isinstance(tools, str) else tools
        question = next(m["content"] for m in row["prompt"] if m.get("role") == "user")
    except (KeyError, TypeError, StopIteration, json.JSONDecodeError) as exc:
        return {}, [RecordError(ErrorKind.FORMAT, f"not a verl tool-use row: {exc!r}")]
    scenario = extra.get("scenario")
    return {
        "question": question,
        "tools": tools,
        "code": code,
        "expected": truth.get("unsolved_set", {}),
        "answer": truth.get("answer"),
        "scenario": scenario if scenario in SCENARIOS else None,
        "metadata": {"data_source": row.get("data_source"), "split": extra.get("split")},
    }, []
