"""BFCL (Berkeley Function Calling Leaderboard) through the ``bfcl-eval`` package, offline.

Everything benchmark-specific is BFCL's own code: ``load_dataset_entry`` / ``load_ground_truth_entry``
read the data the package ships, ``convert_to_tool`` turns BFCL's function documents into OpenAI tools
(as BFCL does for an OpenAI-compatible function-calling model: ``.`` in names becomes ``_``),
``system_prompt_pre_processing_chat_model`` / ``default_decode_ast_prompting`` are its prompting mode,
and ``ast_checker`` scores a decoded answer against the possible answers. toolgym supplies the model
(any backend), the tool-call parsing of the reply (function-calling mode) and the aggregation.

Categories that run offline: the non-live ones (simple_python, simple_java, simple_javascript, multiple,
parallel, parallel_multiple, irrelevance) and the live ones (live_simple, live_multiple, live_parallel,
live_parallel_multiple, live_irrelevance, live_relevance). Multi-turn, memory, web-search and format
sensitivity need BFCL's stateful executors or the network and are not run here.

``bfcl-eval`` pins ``numpy==1.26.4``, which breaks pyarrow >= 20 (a toolgym dependency); install it with
``pip install --no-deps bfcl-eval`` next to the ``bench`` extra (see docs/evaluation.md). It is imported
only when a BFCL benchmark is used.
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._report import BenchReport, combine_means, summarize
from ._turns import ask, forget, read_reply

if TYPE_CHECKING:
    from ..models import Backend

NON_LIVE = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
            "irrelevance")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
        "live_relevance")
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")
#: Names for groups of categories, as BFCL's command line has them.
GROUPS = {"non_live": NON_LIVE, "live": LIVE, "all": NON_LIVE + LIVE,
          "ast": tuple(c for c in NON_LIVE + LIVE if c not in RELEVANCE)}
INSTALL = ("BFCL needs the bfcl-eval package: pip install 'toolgym[bench]' && pip install --no-deps bfcl-eval "
           "(its numpy==1.26.4 pin breaks pyarrow; the checker runs with numpy 2)")


def bfcl_unavailable() -> str | None:
    """``None`` when bfcl-eval's checker can be imported here, else why not (for skips and errors)."""
    try:
        _lib()
    except ImportError as exc:
        return f"{INSTALL} ({type(exc).__name__}: {exc})"
    return None


@cache
def _lib() -> SimpleNamespace:
    """bfcl-eval's functions, imported once. It writes result/score folders under BFCL_PROJECT_ROOT on
    import; point that at a cache folder instead of site-packages unless the user chose one."""
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolgym" / "bfcl"
    os.environ.setdefault("BFCL_PROJECT_ROOT", str(cache_root))
    from bfcl_eval import utils
    from bfcl_eval.constants import enums, model_config, type_mappings
    from bfcl_eval.eval_checker.ast_eval import ast_checker
    from bfcl_eval.model_handler import utils as handler_utils

    return SimpleNamespace(
        Language=enums.Language, ModelStyle=enums.ModelStyle, ReturnFormat=enums.ReturnFormat,
        MODEL_CONFIG_MAPPING=model_config.MODEL_CONFIG_MAPPING, GORILLA_TO_OPENAPI=type_mappings.GORILLA_TO_OPENAPI,
        ast_checker=ast_checker.ast_checker, convert_to_tool=handler_utils.convert_to_tool,
        default_decode_ast_prompting=handler_utils.default_decode_ast_prompting,
        system_prompt_pre_processing_chat_model=handler_utils.system_prompt_pre_processing_chat_model,
        is_empty_output=utils.is_empty_output, is_function_calling_format_output=utils.is_function_calling_format_output,
        load_dataset_entry=utils.load_dataset_entry, load_ground_truth_entry=utils.load_ground_truth_entry)


def _checker_model(underscore_to_dot: bool) -> str:
    """A registered BFCL model whose config says whether tool names had ``.`` replaced by ``_``: the
    checker reads only that flag from it. (Names with ``_`` are skipped: the checker maps ``_`` to ``/``.)"""
    for key, config in _lib().MODEL_CONFIG_MAPPING.items():
        if "_" not in key and bool(config.underscore_to_dot) == underscore_to_dot:
            return key
    raise BenchDataError("bfcl-eval has no registered model with the needed underscore_to_dot setting")


def _language(category: str) -> tuple[Any, Any]:
    lib = _lib()
    if category.endswith("java"):
        return lib.Language.JAVA, lib.ReturnFormat.JAVA
    if category.endswith("javascript"):
        return lib.Language.JAVASCRIPT, lib.ReturnFormat.JAVASCRIPT
    return lib.Language.PYTHON, lib.ReturnFormat.PYTHON


def expand_categories(names: list[str] | tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for name in names:
        for c in GROUPS.get(name, (name,)):
            if c not in NON_LIVE + LIVE:
                raise BenchDataError(f"unknown or not offline BFCL category {c!r}; use {', '.join(NON_LIVE + LIVE)} "
                                     f"or a group ({', '.join(GROUPS)})")
            if c not in out:
                out.append(c)
    return out


class BFCL:
    """BFCL's single-turn categories. ``mode="fc"`` passes the functions as tools (the model's chat
    template renders them; calls are read with toolgym's parser); ``mode="prompt"`` uses BFCL's prompting
    system prompt and BFCL's own decoder of ``[func(arg=value)]`` replies."""

    name = "bfcl"
    metrics = ("accuracy",)

    def __init__(self, categories: list[str] | tuple[str, ...] = NON_LIVE, *, mode: str = "fc",
                 per_category: int | None = None):
        if mode not in ("fc", "prompt"):
            raise BenchDataError(f"BFCL mode must be 'fc' or 'prompt', not {mode!r}")
        self.categories = expand_categories(categories)
        self.mode = mode
        self.per_category = per_category

    # ---- data -----------------------------------------------------------------------------------
    def items(self) -> list[BenchItem]:
        lib = _lib()
        items = []
        for cat in self.categories:
            entries = lib.load_dataset_entry(cat)  # what the model sees: BFCL's language hints added
            raw = {e["id"]: e["function"] for e in lib.load_dataset_entry(cat, include_language_specific_hint=False)}
            answers = {} if cat in RELEVANCE else {a["id"]: a["ground_truth"] for a in lib.load_ground_truth_entry(cat)}
            for entry in entries[: self.per_category]:
                # the checker reads the original documents (as BFCL's eval runner loads them)
                data = {"question": entry["question"], "function": entry["function"], "checker_function": raw[entry["id"]]}
                if cat not in RELEVANCE:
                    data["ground_truth"] = answers[entry["id"]]
                items.append(BenchItem(entry["id"], cat, data))
        return items

    def texts(self, item: BenchItem) -> ItemText:
        questions = [m.get("content", "") for turn in item.data["question"] for m in turn if m.get("role") == "user"]
        return ItemText(questions, [json.dumps(f, ensure_ascii=False) for f in item.data["checker_function"]])

    # ---- one item ---------------------------------------------------------------------------------
    def _prompt(self, item: BenchItem) -> tuple[list[dict], list[dict] | None]:
        lib = _lib()
        messages = copy.deepcopy(item.data["question"][0])
        functions = copy.deepcopy(item.data["function"])
        if self.mode == "fc":
            return messages, lib.convert_to_tool(functions, lib.GORILLA_TO_OPENAPI, lib.ModelStyle.OPENAI_COMPLETIONS)
        return lib.system_prompt_pre_processing_chat_model(messages, functions, item.id), None

    def _decode(self, reply, category: str) -> tuple[Any, str | None]:
        """BFCL's decoded form ``[{name: {arg: value}}]``, or the reason it could not be decoded."""
        if self.mode == "prompt":
            try:
                return _lib().default_decode_ast_prompting(reply.visible, _language(category)[1], False), None
            except Exception as exc:
                return None, f"{type(exc).__name__}: {exc}"
        parsed = reply.parsed
        if parsed.malformed:
            return None, "; ".join(m.error for m in parsed.malformed)
        if not parsed.tool_calls:
            return None, "no function call in the reply"
        return [{c.name: c.arguments} for c in parsed.tool_calls], None

    def _check(self, item: BenchItem, decoded: Any, error: str | None) -> dict[str, Any]:
        lib = _lib()
        if item.category in RELEVANCE:
            called = error is None and not lib.is_empty_output(decoded)
            valid = called if item.category == "live_relevance" else not called
            return {"valid": valid, "error_type": None if valid else
                    ("irrelevance_error:decoder_success" if called else "relevance_error:decoder_failed")}
        if error is not None:
            return {"valid": False, "error_type": "ast_decoder:decoder_failed", "error": [error]}
        if not lib.is_function_calling_format_output(decoded):
            return {"valid": False, "error_type": "ast_decoder:decoder_wrong_output_format"}
        model = _checker_model(underscore_to_dot=self.mode == "fc")
        return lib.ast_checker(copy.deepcopy(item.data["checker_function"]), decoded, item.data["ground_truth"],
                               _language(item.category)[0], item.category, model)

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        messages, tools = self._prompt(item)
        episode = f"bfcl:{item.id}"
        try:
            gen = await ask(backend, messages, tools, episode=episode, turn=0)
        finally:
            forget(backend, episode)
        reply = read_reply(gen)
        decoded, error = self._decode(reply, item.category)
        verdict = self._check(item, decoded, error)
        detail = {"error_type": verdict.get("error_type"), "error": verdict.get("error"), "decoded": _jsonable(decoded)}
        messages.append({"role": "assistant", "content": reply.raw})
        return ItemResult(item.id, item.category, {"accuracy": float(bool(verdict["valid"]))}, messages,
                          detail={k: v for k, v in detail.items() if v is not None})

    # ---- aggregation --------------------------------------------------------------------------------
    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        """Accuracy per category, and BFCL's summary rows over the categories present: ``non_live`` (the
        unweighted mean of simple -- itself the mean of python, java, javascript -- multiple, parallel and
        parallel_multiple) and ``live`` (the item-weighted mean of the four live AST categories)."""
        rep = summarize(self.name, results, self.metrics, model=model)
        acc = {g: ms["accuracy"] for g, ms in rep.groups.items()}
        simple = [acc[c] for c in ("simple_python", "simple_java", "simple_javascript") if c in acc]
        non_live = ([combine_means(simple, weighted=False)] if simple else []) + [
            acc[c] for c in ("multiple", "parallel", "parallel_multiple") if c in acc]
        live = [acc[c] for c in ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple") if c in acc]
        if non_live:
            rep.groups["non_live"] = {"accuracy": combine_means(non_live, weighted=False)}
        if live:
            rep.groups["live"] = {"accuracy": combine_means(live, weighted=True)}
        missing = [c for c in NON_LIVE[:6] if c not in acc] if non_live else []
        if missing:
            rep.notes.append(f"non_live is over the categories run; BFCL's leaderboard also has {', '.join(missing)}")
        rep.headline = [(c, "accuracy") for c in self.categories if c in acc] + [
            (g, "accuracy") for g in ("non_live", "live") if g in rep.groups]
        return rep


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)
