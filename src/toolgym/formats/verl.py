"""verl's RL dataset layout, both ways: parquet rows that stock verl's ``RLHFDataset``, toolgym's agent
loops and toolgym's reward read.

A row is one :class:`~toolgym.schema.TurnState` (an environment's question is the state of its turn 0):

* ``data_source``; ``prompt`` (chat messages, ``{role, content}`` only); ``ability`` (``tool_use``);
* ``reward_model``: ``style: rule`` and ``ground_truth``, JSON of ``unsolved_set``, ``solve_rate``, ``answer``;
* ``extra_info``: ``codes`` and ``tools`` (JSON strings), ``split``, ``index``, ``env_id``, ``sample``,
  ``turn``, ``scenario``, ``scoping`` (how the tools run) (and ``prompt_text``/``prompt_ids``,
  ``tool_format``/``strip_thinking`` when the state holds them: the exact prompt the model saw, and how the
  rollout read replies);
* ``tools``: the tool schemas again at the top level (JSON), for chat templates that take them from the row.

:func:`verl_to_turn` is the one reader: ``toolgym.reward.verl`` (through :func:`verl_reward_turn`, from
what verl's reward manager passes) and the agent loops in ``toolgym.train.verl_agent`` decode rows with
it, so the reward and the loop cannot read a row differently. A turn's ``response`` and ``reward`` (what
the model answered there in a trajectory) are not part of a prompt row; ``turns.jsonl`` keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from ..errors import ErrorKind, InvalidRecord, RecordError
from ..schema import SCENARIOS, Environment, TurnState
from ._json import bad_column, dumps, list_column, object_column, wrong_type

ABILITY = "tool_use"
_NEEDS = ("a toolgym verl row needs reward_model.ground_truth.unsolved_set and extra_info.codes; "
          "write the data with `toolgym train prepare` or `toolgym export --format verl`")


def turn_to_verl(state: TurnState, index: int) -> dict[str, Any]:
    """One row of verl's RL layout: the prompt and everything the step reward needs to score a reply."""
    truth = {"unsolved_set": state.unsolved, "solve_rate": float(state.solve_rate), "answer": state.answer}
    tools = dumps(state.tools)
    extra: dict[str, Any] = {"codes": dumps(state.codes), "tools": tools, "split": state.split, "index": index,
                             "env_id": state.env_id, "sample": state.sample, "turn": state.turn,
                             "scenario": state.scenario, "scoping": state.scoping}
    if state.prompt_text is not None:
        extra["prompt_text"] = state.prompt_text
    if state.prompt_ids is not None:
        extra["prompt_ids"] = list(state.prompt_ids)
    if state.tool_format is not None:
        extra["tool_format"] = state.tool_format
    if state.strip_thinking is not None:
        extra["strip_thinking"] = state.strip_thinking
    return {
        "data_source": state.data_source,
        "prompt": [{"role": m["role"], "content": m.get("content") or ""} for m in state.messages],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": dumps(truth)},
        "extra_info": extra,
        "tools": tools,
    }


def verl_to_turn(row: Mapping[str, Any]) -> TurnState:
    """The turn a verl row holds. Accepts the row as written (``prompt``) or as verl's dataset hands it
    to an agent loop (``raw_prompt``); nested parts as JSON text or decoded. Raises
    :class:`~toolgym.errors.InvalidRecord` naming the column that is missing or malformed."""
    reward_model = object_column(row.get("reward_model"), "reward_model")
    truth = object_column(reward_model.get("ground_truth"), "reward_model.ground_truth")
    extra = object_column(row.get("extra_info"), "extra_info")
    raw_codes = extra.get("codes") if extra.get("codes") is not None else truth.get("codes")
    if raw_codes is None or truth.get("unsolved_set") is None:
        raise bad_column("extra_info.codes" if raw_codes is None else "reward_model.ground_truth", _NEEDS)
    codes = object_column(raw_codes, "extra_info.codes")
    unsolved = object_column(truth["unsolved_set"], "reward_model.ground_truth.unsolved_set")
    tools = verl_row_tools(row)
    messages = row.get("raw_prompt")
    if messages is None:
        messages = row.get("prompt")
    answer, rate, ids = truth.get("answer"), truth.get("solve_rate"), extra.get("prompt_ids")
    tool_format, strip = extra.get("tool_format"), extra.get("strip_thinking")
    try:
        return TurnState(
            messages=[dict(m) for m in list_column(messages, "prompt") or []],
            tools=tools, codes=codes,
            unsolved={k: list(v) for k, v in unsolved.items()},
            solve_rate=float(rate) if rate is not None else 0.0,
            answer=answer if isinstance(answer, str) else None,
            split=str(extra.get("split") or "train"), data_source=str(row.get("data_source") or "toolgym"),
            env_id=str(extra.get("env_id") or ""), sample=int(extra.get("sample") or 0),
            turn=int(extra.get("turn") or 0), scenario=extra.get("scenario") or None,
            prompt_text=extra.get("prompt_text"), prompt_ids=[int(i) for i in ids] if ids is not None else None,
            scoping=extra.get("scoping") or "module",
            tool_format=str(tool_format) if tool_format else None,
            strip_thinking=bool(strip) if strip is not None else None)
    except InvalidRecord:
        raise
    except (ValidationError, TypeError, ValueError) as exc:  # a column of the wrong type
        raise wrong_type("a toolgym verl row", exc) from exc


def verl_row_tools(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A row's tool schemas: the top-level ``tools`` column, else ``extra_info.tools`` (JSON or a list)."""
    tools = list_column(row.get("tools"), "tools")
    if tools is None:
        tools = list_column(object_column(row.get("extra_info"), "extra_info").get("tools"), "extra_info.tools")
    return [dict(t) for t in tools or []]


def verl_reward_turn(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any) -> TurnState:
    """The turn verl's reward manager describes when it calls ``compute_score(data_source, solution_str,
    ground_truth, extra_info)`` (the row's ``data_source``, ``reward_model.ground_truth`` and
    ``extra_info``), with the reply to score as its ``response``."""
    key = _reward_key(data_source, ground_truth, extra_info)
    state = _reward_state(data_source, ground_truth, extra_info) if key is None else _cached_reward_state(key)
    return state.model_copy(update={"response": "" if solution_str is None else solution_str})


# What verl_to_turn reads from extra_info. A GRPO step scores many replies to each prompt (16 in the
# paper), whose rows hold the same texts: the turn is decoded once per distinct row, not once per reply.
_EXTRA_READ = ("codes", "tools", "split", "env_id", "sample", "turn", "scenario", "prompt_text", "scoping",
               "tool_format", "strip_thinking")


def _reward_state(data_source: Any, ground_truth: Any, extra_info: Any) -> TurnState:
    return verl_to_turn({"data_source": data_source, "reward_model": {"ground_truth": ground_truth},
                         "extra_info": extra_info})


def _reward_key(data_source: Any, ground_truth: Any, extra_info: Any) -> tuple | None:
    """A hashable key of everything the decoded turn depends on, or None (then it is decoded uncached)."""
    if not isinstance(ground_truth, str) or not isinstance(extra_info, Mapping):
        return None
    ids = extra_info.get("prompt_ids")
    key = (data_source, ground_truth, tuple(extra_info.get(k) for k in _EXTRA_READ),
           None if ids is None else tuple(ids))
    try:
        hash(key)
    except TypeError:  # a decoded (dict) column: not a key
        return None
    return key


@lru_cache(maxsize=1024)
def _cached_reward_state(key: tuple) -> TurnState:
    data_source, ground_truth, values, ids = key
    extra = {k: v for k, v in zip(_EXTRA_READ, values) if v is not None}
    if ids is not None:
        extra["prompt_ids"] = list(ids)
    return _reward_state(data_source, ground_truth, extra)


def verl_reward_variant(extra_info: Any, default: str | None = None) -> str:
    """The step reward's variant for a row: the row's own ``extra_info.reward_variant`` wins, then
    ``default`` (the run's), then the paper's ``f1``."""
    variant = object_column(extra_info, "extra_info").get("reward_variant")
    return str(variant or default or "f1")


def verl_row_variant(row: Mapping[str, Any], default: str | None = None) -> str:
    """:func:`verl_reward_variant` of a whole row (as an agent loop receives it)."""
    return verl_reward_variant(row.get("extra_info"), default)


def env_to_verl(env: Environment, index: int) -> dict[str, Any]:
    """An environment as the verl row of its first turn. Imported ftrl data keeps its own conversation and
    solve rate (as ``env_to_ftrl`` writes them back)."""
    keep = env.metadata.extra.get("ftrl", {})
    state = TurnState(messages=keep.get("messages") or [{"role": "user", "content": env.question}],
                      tools=env.tools, codes=env.code, unsolved=env.expected,
                      solve_rate=float(keep.get("solve_rate", 0.0) or 0.0), answer=env.answer,
                      split=env.split, data_source=env.data_source, env_id=env.id, scenario=env.scenario)
    return turn_to_verl(state, index)


def verl_to_env_data(row: dict[str, Any]) -> tuple[dict[str, Any], list[RecordError]]:
    """Our record's data from one verl row (no solution: verl rows do not carry one)."""
    try:
        state = verl_to_turn(row)
    except InvalidRecord as exc:
        return {}, exc.errors
    if not state.question:
        return {}, [RecordError(ErrorKind.FORMAT, "prompt has no user message with text content", field="prompt")]
    extra = object_column(row.get("extra_info"), "extra_info")
    return {
        "question": state.question,
        "tools": state.tools,
        "code": state.codes,
        "expected": state.unsolved,
        "answer": state.answer,
        "scenario": state.scenario if state.scenario in SCENARIOS else None,
        "metadata": {"data_source": row.get("data_source"), "split": extra.get("split")},
    }, []
