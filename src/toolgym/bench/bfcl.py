"""BFCL (Berkeley Function Calling Leaderboard, v4) through the ``bfcl-eval`` package, offline.

Everything benchmark-specific is BFCL's own code: ``load_dataset_entry`` / ``load_ground_truth_entry`` read
the data the package ships, ``ast_checker`` scores single-turn answers, the multi-turn executors and
``multi_turn_checker`` run and score multi-turn conversations, ``agentic_checker`` scores memory answers,
and the prompting mode is BFCL's system prompt and decoder. How a reply is read is BFCL's handler for the
model family (``handler``: ``openai``, ``qwen``, ``prompt``; see :mod:`toolgym.bench._bfcl_handlers`).
toolgym supplies the model (any backend), the conversation loop and the aggregation (BFCL's leaderboard
rows, :mod:`toolgym.bench._bfcl_score`).

Categories that run offline: the non-live and live single-turn ones, the four multi-turn ones and the
memory ones (``memory_kv``, ``memory_rec_sum``; ``memory_vector`` when its embedding dependencies are
installed). Web search needs the network and is not run; format sensitivity is not scored by BFCL.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._bfcl_handlers import HANDLERS, PAPER_HANDLER, make_handler
from ._bfcl_lib import (
    LIVE,
    MULTI_TURN,
    NETWORK,
    NON_LIVE,
    RELEVANCE,
    SCORING,
    SINGLE_TURN,
    bfcl_unavailable,
    dataset,
    dataset_size,
    language,
    lib,
    memory_vector_missing,
)
from ._bfcl_multi import MemoryPrereqs, run_entry
from ._bfcl_score import SUMMARY_ROWS, missing_parts, summary_rows
from ._report import BenchReport, summarize
from ._turns import ask, forget

if TYPE_CHECKING:
    from ..models import Backend

OFFLINE = SINGLE_TURN + MULTI_TURN + ("memory_kv", "memory_rec_sum", "memory_vector")
#: Names for groups of categories, as BFCL's command line has them (``all``: everything that runs offline).
GROUPS = {"non_live": NON_LIVE, "live": LIVE, "single_turn": SINGLE_TURN, "multi_turn": MULTI_TURN,
          "memory": ("memory_kv", "memory_rec_sum", "memory_vector"), "ast": tuple(c for c in SINGLE_TURN if c not in RELEVANCE),
          "all": OFFLINE}

__all__ = ["BFCL", "GROUPS", "HANDLERS", "LIVE", "MULTI_TURN", "NETWORK", "NON_LIVE", "PAPER_HANDLER", "bfcl_unavailable",
           "expand_categories", "memory_vector_missing"]


def expand_categories(names: list[str] | tuple[str, ...]) -> list[str]:
    """Category and group names to categories, in order. ``all`` and ``memory`` leave out
    ``memory_vector`` when its embedding dependencies are missing; naming it alone says what to install."""
    out: list[str] = []
    for name in names:
        group = GROUPS.get(name)
        for c in group or (name,):
            if c in NETWORK:
                raise BenchDataError(f"BFCL category {c}: {NETWORK[c]}")
            if c not in OFFLINE:
                raise BenchDataError(f"unknown BFCL category {c!r}; use {', '.join(OFFLINE)} or a group "
                                     f"({', '.join(GROUPS)})")
            if c == "memory_vector" and (why := memory_vector_missing()):
                if group:
                    continue
                raise BenchDataError(why)
            if c not in out:
                out.append(c)
    return out


class BFCL:
    """BFCL v4's offline categories, each read and scored as BFCL's ``handler`` for the model family
    does (default: the paper's setting, ``qwen``). ``workdir`` keeps the memory snapshots that the memory
    categories' prerequisite conversations leave (default: a temporary folder)."""

    name = "bfcl"
    metrics = ("accuracy",)

    def __init__(self, categories: list[str] | tuple[str, ...] = NON_LIVE, *, handler: str = PAPER_HANDLER,
                 per_category: int | None = None, workdir: str | Path | None = None):
        self.categories = expand_categories(categories)
        self.handler = make_handler(handler)
        self.per_category = per_category
        self._workdir = Path(workdir) if workdir is not None else None
        self._prereqs: MemoryPrereqs | None = None

    @property
    def prereqs(self) -> MemoryPrereqs:
        if self._prereqs is None:
            root = self._workdir or Path(tempfile.mkdtemp(prefix="toolgym-bfcl-memory-"))
            self._prereqs = MemoryPrereqs(root)
        return self._prereqs

    # ---- data -----------------------------------------------------------------------------------
    def _single_items(self, cat: str) -> list[BenchItem]:
        lb = lib()
        entries = dataset(cat, limit=self.per_category)  # what the model sees: BFCL's language hints added
        raw = {e["id"]: e["function"] for e in dataset(cat, hints=False, limit=self.per_category)}
        answers = {} if cat in RELEVANCE else {a["id"]: a["ground_truth"] for a in lb.load_ground_truth_entry(cat)}
        items = []
        for entry in entries:
            # the checker reads the original documents (as BFCL's eval runner loads them)
            data = {"question": entry["question"], "function": entry["function"], "checker_function": raw[entry["id"]]}
            if cat not in RELEVANCE:
                data["ground_truth"] = answers[entry["id"]]
            items.append(BenchItem(entry["id"], cat, data))
        return items

    def _conversation_items(self, cat: str) -> list[BenchItem]:
        entries = dataset(cat, prereq=False, limit=self.per_category)
        truth = lib().load_ground_truth_entry(cat)
        if len(truth) != dataset_size(cat):
            raise BenchDataError(f"bfcl-eval's {cat} data has {dataset_size(cat)} entries but {len(truth)} answers")
        # BFCL aligns entries and answers by position (memory answers carry another id form)
        return [BenchItem(e["id"], cat, {"entry": e, "ground_truth": t["ground_truth"]})
                for e, t in list(zip(entries, truth))[: self.per_category]]

    def items(self) -> list[BenchItem]:
        items: list[BenchItem] = []
        for cat in self.categories:
            items.extend(self._single_items(cat) if cat in SINGLE_TURN else self._conversation_items(cat))
        return items

    def texts(self, item: BenchItem) -> ItemText:
        data = item.data.get("entry", item.data)
        questions = [m.get("content", "") for turn in data["question"] for m in turn if m.get("role") == "user"]
        docs = item.data.get("checker_function", data.get("function", []))
        return ItemText(questions, [json.dumps(f, ensure_ascii=False) for f in docs])

    # ---- one item ---------------------------------------------------------------------------------
    def check(self, item: BenchItem, response: Any) -> tuple[dict[str, Any], Any]:
        """BFCL's verdict on a single-turn response (its ``_evaluate_single_ast_entry`` and
        ``_evaluate_single_relevance_entry``), and what the handler decoded."""
        lb = lib()
        lang, fmt = language(item.category)
        if item.category in RELEVANCE:
            try:
                decoded = self.handler.decode_ast(response, lb.ReturnFormat.PYTHON)
                called = not lb.is_empty_output(decoded)
            except Exception:
                decoded, called = None, False
            valid = called if item.category == "live_relevance" else not called
            return {"valid": valid, "error_type": None if valid else
                    ("irrelevance_error:decoder_success" if called else "relevance_error:decoder_failed")}, decoded
        try:
            decoded = self.handler.decode_ast(response, fmt)
        except Exception as exc:
            return {"valid": False, "error_type": "ast_decoder:decoder_failed",
                    "error": [f"Invalid syntax. Failed to decode AST. {exc}"]}, None
        if not lb.is_function_calling_format_output(decoded):
            return {"valid": False, "error_type": "ast_decoder:decoder_wrong_output_format"}, decoded
        verdict = lb.ast_checker(copy.deepcopy(item.data["checker_function"]), decoded, item.data["ground_truth"],
                                 lang, item.category, self.handler.registry)
        return verdict, decoded

    async def _single(self, item: BenchItem, backend: Backend) -> ItemResult:
        messages = self.handler.first_turn(copy.deepcopy(item.data["question"][0]), item.data["function"], item.id)
        tools = self.handler.tools(item.data["function"])
        episode = f"bfcl:{item.id}"
        try:
            gen = await ask(backend, messages, tools or None, episode=episode, turn=0)
        finally:
            forget(backend, episode)
        response = self.handler.response(gen)
        verdict, decoded = self.check(item, response)
        detail: dict[str, Any] = {"bfcl_result": _jsonable(response), "decoded": _jsonable(decoded)}
        if not verdict["valid"]:  # the checker's default error_type is not a finding when the answer is right
            detail.update({k: verdict.get(k) for k in ("error_type", "error") if verdict.get(k) is not None})
        messages.append(self.handler.assistant(gen, response, 0, 0))
        return ItemResult(item.id, item.category, {"accuracy": float(bool(verdict["valid"]))}, messages, detail=detail)

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        if item.category in SINGLE_TURN:
            return await self._single(item, backend)
        return await run_entry(item, self.handler, backend, self.prereqs)

    # ---- aggregation --------------------------------------------------------------------------------
    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        """Accuracy per category, BFCL's leaderboard rows over the categories present, and BFCL v4's
        overall score (see :mod:`toolgym.bench._bfcl_score`); the notes name what was not run."""
        rep = summarize(self.name, results, self.metrics, model=model)
        items_mean = rep.groups.pop("overall")
        categories = {g: ms["accuracy"] for g, ms in rep.groups.items()}
        sizes = {c: dataset_size(c) for c in SCORING}
        for row, summary in summary_rows(categories, sizes).items():
            rep.groups[row] = {"accuracy": summary}
        rep.groups["all_items"] = items_mean
        missing = missing_parts(categories)
        if missing:
            rep.notes.append("overall uses BFCL's weights over the parts run; not run: " + ", ".join(missing)
                             + " (leaderboard_overall counts them as 0, as BFCL's leaderboard does)")
        sampled = [c for c in categories if self.per_category and categories[c].n < sizes.get(c, 0)]
        if sampled:
            rep.notes.append(f"a sample of {self.per_category} items per category, not the full set")
        rep.notes.append(f"replies read as BFCL's {self.handler.name} handler reads them")
        rep.headline = [(c, "accuracy") for c in SCORING if c in categories] + [
            (g, "accuracy") for g in (*SUMMARY_ROWS, "leaderboard_overall") if g in rep.groups]
        return rep


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)
