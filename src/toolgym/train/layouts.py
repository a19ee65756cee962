"""Training data on disk: verl's RL parquet and Hugging Face datasets for TRL, plus the renderer that
turns model-agnostic rows into prompts for one model's chat template.

``toolgym train prepare`` writes a data folder::

    DIR/turns.jsonl           per-turn prompts (toolgym's flat rows, model-agnostic)
    DIR/verl/train.parquet    the same prompts in verl's RL layout (and test.parquet for the held-out split)
    DIR/trl/                  a datasets.Dataset of the same flat rows
    DIR/pairs.jsonl           DPO preference pairs (when asked for)
    DIR/manifest.json         counts, sources, options

or, with ``layout="reference"`` (``--layout reference``), instead of ``verl/`` and ``trl/``::

    DIR/reference/train.jsonl    the rows as the paper's data_sample.py writes them (and test.jsonl)
    DIR/reference/train.parquet  the same rows, for the paper's verl scripts (data.prompt_key=messages)

TRL trainers get one prompt per row, but tool schemas differ per row, which TRL's conversational path
cannot express; so rows become text right before training: the prompt the rollout recorded (exactly what
the model saw), else the model's own chat template's rendering (``tools=`` per row), both through
``ChatRenderer.training_prompt``. TRL tokenizes a text prompt with the tokenizer's special tokens added;
:func:`trl_prompt_text` hands it the text whose tokenization is the recorded token ids (without a leading
BOS the tokenizer adds again) and counts the prompts for which no text can (a reply the model sampled in
tokens the tokenizer would not choose for its text): those are reported, never silently changed. Every
row layout is ``toolgym.formats``'s (``trl`` and ``verl``); this module only decides which file holds
which rows.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..formats import row_to_turn, turn_to_ftrl, turn_to_row, turn_to_trl, turn_to_verl
from ..io import JsonlWriter, atomic_write_text, iter_jsonl, save_hf, write_parquet
from ..models import ChatRenderer
from ..schema import TurnState
from .data import PreferencePair

#: The row layouts ``write_data`` can write beside ``turns.jsonl``.
LAYOUTS = ("toolgym", "reference")


def write_data(out: str | Path, prompts: Sequence[TurnState], pairs: Sequence[PreferencePair] = (), *,
               manifest: dict[str, Any] | None = None, hf: bool = True, layout: str = "toolgym") -> dict[str, int]:
    """Write the data folder (see the module docstring); returns the counts."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; give --layout one of {', '.join(LAYOUTS)}")
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
        if layout == "reference":
            rows = [turn_to_ftrl(p) for p in prompts if p.split == split]
            atomic_write_text(out / "reference" / f"{split}.jsonl",
                              "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            write_parquet(out / "reference" / f"{split}.parquet", rows)
            counts[f"reference_{split}"] = len(rows)
            continue
        rows = [turn_to_verl(p, i) for i, p in enumerate(q for q in prompts if q.split == split)]
        write_parquet(out / "verl" / f"{split}.parquet", rows)
        counts[f"verl_{split}"] = len(rows)
    if hf and prompts and layout == "toolgym":
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
    return ChatRenderer(tokenizer, template_kwargs).render(messages, tools)


def trl_prompt_text(tokenizer, text: str, ids: Sequence[int]) -> tuple[str, bool]:
    """The text to give TRL for a prompt whose token ids are ``ids``, and whether TRL's tokenization of it
    (``tokenizer(text)``, special tokens added) gives exactly ``ids``. A tokenizer that adds a BOS token
    (Llama 3's) would double the template's own: the text then goes without it."""
    want = list(ids)
    candidates = [text]
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos):
        candidates.append(text[len(bos):])
    for candidate in candidates:
        if list(tokenizer(candidate)["input_ids"]) == want:
            return candidate, True
    return text, False


def _trl_prompts(renderer: ChatRenderer, items: Iterable[tuple[list, list | None, str | None, list | None]]
                 ) -> list[str]:
    out, inexact = [], 0
    for messages, tools, text, ids in items:
        text, ids = renderer.training_prompt(messages, tools, text, ids)
        text, exact = trl_prompt_text(renderer.tokenizer, text, ids)
        inexact += not exact
        out.append(text)
    if inexact:
        warnings.warn(f"{inexact} of {len(out)} training prompts tokenize to other token ids than the model saw "
                      "(it sampled tokens its tokenizer would not choose for the same text); TRL trains on the "
                      "text's own tokens there. verl's toolgym loops use the recorded ids.", stacklevel=3)
    return out


def trl_rows(prompts: Iterable[TurnState], tokenizer, template_kwargs: dict[str, Any] | None = None) -> list[dict]:
    """Rows for TRL's online trainers (GRPO, RLOO): the ``prompt`` as the model saw it (the state's recorded
    prompt, else the chat template's rendering; see :func:`trl_prompt_text`) plus the reward and
    provenance columns."""
    prompts = list(prompts)
    texts = _trl_prompts(ChatRenderer(tokenizer, template_kwargs),
                         ((p.messages, p.tools, p.prompt_text, p.prompt_ids) for p in prompts))
    return [turn_to_trl(p, text) for p, text in zip(prompts, texts)]


def dpo_rows(pairs: Iterable[dict[str, Any]], tokenizer, template_kwargs: dict[str, Any] | None = None) -> list[dict]:
    """Rows for TRL's DPO trainer: the prompt as the model saw it (as for :func:`trl_rows`), chosen and
    rejected continuations (ending the turn)."""
    pairs = list(pairs)
    eos = tokenizer.eos_token or ""
    texts = _trl_prompts(ChatRenderer(tokenizer, template_kwargs),
                         ((p["prompt"], p["tools"], p.get("prompt_text"), None) for p in pairs))
    return [{"prompt": text, "chosen": p["chosen"] + eos, "rejected": p["rejected"] + eos}
            for p, text in zip(pairs, texts)]
