"""BFCL's own verdicts, for agreement tests: the results toolgym recorded, scored by bfcl-eval's
``eval_runner.evaluate_task`` with BFCL's own handler class for the same model family."""

import contextlib
import copy
import io
import json
import os
import uuid
from functools import cache
from pathlib import Path

from toolgym.bench._bfcl_handlers import make_handler
from toolgym.bench._bfcl_lib import lib


def bfcl_handler(name: str):
    """BFCL's handler object for one of toolgym's handler names (no network: nothing is queried)."""
    os.environ.setdefault("OPENAI_API_KEY", "unused-offline")
    from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler
    from bfcl_eval.model_handler.local_inference.qwen_fc import QwenFCHandler

    registry = make_handler(name).registry
    if name == "qwen":
        return QwenFCHandler("Qwen/Qwen3-8B", 0, "Qwen/Qwen3-8B-FC", True), "Qwen/Qwen3-8B-FC"
    return OpenAICompletionsHandler("gpt-4o", 0, registry, name == "openai"), registry


@cache
def _loaded(kind: str, *args):
    from bfcl_eval import utils

    return utils.load_dataset_entry(*args) if kind == "entries" else utils.load_ground_truth_entry(*args)


def _cache_loaders() -> None:
    """evaluate_task reads BFCL's data files on every call: give its module the same loaders, cached (each
    call gets its own copy, as a fresh read would)."""
    from bfcl_eval.eval_checker import eval_runner

    if getattr(eval_runner, "_toolgym_cached", False):
        return
    eval_runner.load_dataset_entry = lambda *a, **k: copy.deepcopy(_loaded("entries", *a, *k.values()))
    eval_runner.load_ground_truth_entry = lambda *a: copy.deepcopy(_loaded("truth", *a))
    eval_runner._toolgym_cached = True


def bfcl_verdicts(category: str, results: dict[str, object], handler: str, score_dir: Path) -> dict[str, bool]:
    """``{item id: valid}`` as ``evaluate_task`` scores ``results`` (item id -> the stored ``result``)."""
    from bfcl_eval.eval_checker.eval_runner import evaluate_task

    _cache_loaders()

    bfcl, model_name = bfcl_handler(handler)
    if category.startswith(("multi_turn", "memory")):
        # its executors keep instances in module globals named after the model: a fresh name per call
        model_name = f"toolgym_ref_{uuid.uuid4().hex[:8]}"
    entries = sorted(({"id": i, "result": r} for i, r in results.items()), key=lib().sort_key)
    score_dir = Path(score_dir) / uuid.uuid4().hex[:8]
    names = lib().multi_turn_globals
    before = set(names)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per category
            evaluate_task(category, None, score_dir, entries, model_name, bfcl, {}, allow_missing=True)
    finally:
        for key in set(names) - before:
            del names[key]
    [score] = list(score_dir.rglob(f"*/BFCL_v4_{category}_score.json"))
    lines = [json.loads(x) for x in score.read_text().splitlines() if x.strip()]
    failed = {row["id"] for row in lines[1:]}
    return {i: i not in failed for i in results}
