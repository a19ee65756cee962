"""Training data on disk: verl's RL parquet and Hugging Face datasets for TRL, plus the renderer that
turns model-agnostic rows into prompts for one model's chat template.

``toolgym train prepare`` writes a data folder::

    DIR/turns.jsonl           per-turn prompts (toolgym's rows, model-agnostic)
    DIR/verl/train.parquet    the same prompts in verl's RL layout (and test.parquet for the held-out split)
    DIR/trl/                  a datasets.Dataset of the same prompts (conversational messages + reward columns)
    DIR/pairs.jsonl           DPO preference pairs (when asked for)
    DIR/manifest.json         counts, sources, options

TRL trainers get one prompt per row, but tool schemas differ per row, which TRL's conversational path
cannot express; so rows are rendered to text with the model's own chat template (``tools=`` per row)
right before training (:func:`render_prompt`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..formats import verl_row
from ..io import JsonlWriter, atomic_write_text, iter_jsonl, save_hf, write_parquet
from ..models import template_messages
from .data import PreferencePair, TurnPrompt

REWARD_COLUMNS = ("codes", "unsolved_set", "solve_rate", "answer")


def turn_to_verl(p: TurnPrompt, index: int) -> dict[str, Any]:
    return verl_row(messages=p.messages, tools=p.tools, codes=p.codes, unsolved=p.unsolved, solve_rate=p.solve_rate,
                    answer=p.answer, data_source=p.data_source, split=p.split, index=index,
                    extra={"env_id": p.env_id, "scenario": p.scenario, "turn": p.turn})


def turn_to_row(p: TurnPrompt) -> dict[str, Any]:
    """A flat, model-agnostic row (JSON strings for the nested parts, so every row has the same schema)."""
    return {
        "env_id": p.env_id, "sample": p.sample, "turn": p.turn, "scenario": p.scenario, "split": p.split,
        "messages": json.dumps(p.messages, ensure_ascii=False), "tools": json.dumps(p.tools, ensure_ascii=False),
        "codes": json.dumps(p.codes, ensure_ascii=False), "unsolved_set": json.dumps(p.unsolved, ensure_ascii=False),
        "solve_rate": float(p.solve_rate), "answer": p.answer, "response": p.response, "reward": float(p.reward),
    }


def row_to_turn(row: dict[str, Any]) -> TurnPrompt:
    return TurnPrompt(env_id=row["env_id"], sample=row.get("sample", 0), turn=row.get("turn", 0),
                      messages=json.loads(row["messages"]), tools=json.loads(row["tools"]), codes=json.loads(row["codes"]),
                      unsolved=json.loads(row["unsolved_set"]), solve_rate=row.get("solve_rate", 0.0),
                      answer=row.get("answer"), scenario=row.get("scenario"), split=row.get("split") or "train",
                      response=row.get("response") or "", reward=row.get("reward") or 0.0)


def write_data(out: str | Path, prompts: Sequence[TurnPrompt], pairs: Sequence[PreferencePair] = (), *,
               manifest: dict[str, Any] | None = None, hf: bool = True) -> dict[str, int]:
    """Write the data folder (see the module docstring); returns the counts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    turns = out / "turns.jsonl"
    if turns.exists():
        turns.unlink()
    with JsonlWriter(turns) as w:
        for p in prompts:
            w.write(turn_to_row(p))
    counts = {"prompts": len(prompts), "pairs": len(pairs)}
    for split in sorted({p.split for p in prompts}):
        rows = [turn_to_verl(p, i) for i, p in enumerate(q for q in prompts if q.split == split)]
        write_parquet(out / "verl" / f"{split}.parquet", rows)
        counts[f"verl_{split}"] = len(rows)
    if hf and prompts:
        save_hf(out / "trl", [turn_to_row(p) for p in prompts])
    if pairs:
        pairs_path = out / "pairs.jsonl"
        if pairs_path.exists():
            pairs_path.unlink()
        with JsonlWriter(pairs_path) as w:
            for pair in pairs:
                w.write(pair.to_dict())
    atomic_write_text(out / "manifest.json", json.dumps({**(manifest or {}), "counts": counts}, indent=2) + "\n")
    return counts


def read_turns(data: str | Path, split: str | None = "train") -> list[TurnPrompt]:
    path = Path(data) / "turns.jsonl" if Path(data).is_dir() else Path(data)
    if not path.exists():
        return []
    rows = [row_to_turn(r) for _, r in iter_jsonl(path)]
    return [r for r in rows if split is None or r.split == split]


def read_pairs(data: str | Path) -> list[dict[str, Any]]:
    path = Path(data) / "pairs.jsonl"
    return [r for _, r in iter_jsonl(path)] if path.exists() else []


def render_prompt(tokenizer, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                  template_kwargs: dict[str, Any] | None = None) -> str:
    """The prompt text for one row, through the model's own chat template, its tools included."""
    return tokenizer.apply_chat_template(template_messages(messages), tools=tools or None, tokenize=False,
                                         add_generation_prompt=True, **(template_kwargs or {}))


def trl_rows(prompts: Iterable[TurnPrompt], tokenizer, template_kwargs: dict[str, Any] | None = None) -> list[dict]:
    """Rows for TRL's online trainers (GRPO, RLOO): a rendered ``prompt`` plus the reward columns."""
    return [{"prompt": render_prompt(tokenizer, p.messages, p.tools, template_kwargs),
             "codes": json.dumps(p.codes, ensure_ascii=False), "unsolved_set": json.dumps(p.unsolved, ensure_ascii=False),
             "solve_rate": float(p.solve_rate), "answer": p.answer or ""} for p in prompts]


def dpo_rows(pairs: Iterable[dict[str, Any]], tokenizer, template_kwargs: dict[str, Any] | None = None) -> list[dict]:
    """Rows for TRL's DPO trainer: rendered prompt, chosen and rejected continuations (ending the turn)."""
    eos = tokenizer.eos_token or ""
    return [{"prompt": render_prompt(tokenizer, p["prompt"], p["tools"], template_kwargs),
             "chosen": p["chosen"] + eos, "rejected": p["rejected"] + eos} for p in pairs]
