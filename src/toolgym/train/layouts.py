"""Training data on disk: verl's RL parquet and Hugging Face datasets for TRL, plus the renderer that
turns model-agnostic rows into prompts for one model's chat template.

``toolgym train prepare`` writes a data folder::

    DIR/turns.jsonl           per-turn prompts (toolgym's flat rows, model-agnostic)
    DIR/verl/train.parquet    the same prompts in verl's RL layout (and test.parquet for the held-out split)
    DIR/trl/                  a datasets.Dataset of the same flat rows
    DIR/pairs.jsonl           DPO preference pairs (when asked for)
    DIR/manifest.json         counts, sources, options

TRL trainers get one prompt per row, but tool schemas differ per row, which TRL's conversational path
cannot express; so rows are rendered to text with the model's own chat template (``tools=`` per row)
right before training (:func:`render_prompt`). Every row layout is ``toolgym.formats``'s (``trl`` and
``verl``); this module only decides which file holds which rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..formats import row_to_turn, turn_to_row, turn_to_trl, turn_to_verl
from ..io import JsonlWriter, atomic_write_text, iter_jsonl, save_hf, write_parquet
from ..models import template_messages
from ..schema import TurnState
from .data import PreferencePair


def write_data(out: str | Path, prompts: Sequence[TurnState], pairs: Sequence[PreferencePair] = (), *,
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


def read_turns(data: str | Path, split: str | None = "train") -> list[TurnState]:
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


def trl_rows(prompts: Iterable[TurnState], tokenizer, template_kwargs: dict[str, Any] | None = None) -> list[dict]:
    """Rows for TRL's online trainers (GRPO, RLOO): the rendered ``prompt`` (the state's own
    ``prompt_text`` when it holds one) plus the reward and provenance columns."""
    return [turn_to_trl(p, p.prompt_text if p.prompt_text is not None
                        else render_prompt(tokenizer, p.messages, p.tools, template_kwargs)) for p in prompts]


def dpo_rows(pairs: Iterable[dict[str, Any]], tokenizer, template_kwargs: dict[str, Any] | None = None) -> list[dict]:
    """Rows for TRL's DPO trainer: rendered prompt, chosen and rejected continuations (ending the turn)."""
    eos = tokenizer.eos_token or ""
    return [{"prompt": render_prompt(tokenizer, p["prompt"], p["tools"], template_kwargs),
             "chosen": p["chosen"] + eos, "rejected": p["rejected"] + eos} for p in pairs]
