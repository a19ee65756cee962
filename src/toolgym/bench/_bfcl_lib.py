"""bfcl-eval's own functions and constants, imported once and lazily, and BFCL's category names.

Everything benchmark-specific that BFCL ships as a function (data loaders, the AST checker, the multi-turn
executors and checker, the agentic answer checker, its prompting-mode system prompt and decoder) is used
from the installed package through :func:`lib`; nothing here re-implements them.

``bfcl-eval`` pins ``numpy==1.26.4``, which breaks pyarrow >= 20 (a toolgym dependency); install it with
``pip install --no-deps bfcl-eval`` next to the ``bench`` extra (see docs/evaluation.md).
"""

from __future__ import annotations

import copy
import importlib.util
import os
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from ._base import BenchDataError

NON_LIVE = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
            "irrelevance")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
        "live_relevance")
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
MEMORY = ("memory_kv", "memory_vector", "memory_rec_sum")
WEB_SEARCH = ("web_search_base", "web_search_no_snippet")
SINGLE_TURN = NON_LIVE + LIVE
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")
#: Every category BFCL v4 scores, in its leaderboard's order.
SCORING = SINGLE_TURN + MULTI_TURN + WEB_SEARCH + MEMORY
INSTALL = ("BFCL needs the bfcl-eval package: pip install 'toolgym[bench]' && pip install --no-deps bfcl-eval==2026.3.23 "
           "(its numpy==1.26.4 pin breaks pyarrow; the checker runs with numpy 2)")
NETWORK = {c: "web search calls a live search engine (SerpAPI) and fetches web pages: it needs the network and "
              "is not run offline" for c in WEB_SEARCH}


def memory_vector_missing() -> str | None:
    """Why ``memory_vector`` cannot run here (its embedding dependencies), or ``None``."""
    missing = [m for m in ("sentence_transformers", "faiss") if importlib.util.find_spec(m) is None]
    if missing:
        return (f"memory_vector needs {' and '.join(missing)} (pip install sentence-transformers faiss-cpu) and the "
                "all-MiniLM-L6-v2 embedding model in the Hugging Face cache")
    return None


def bfcl_unavailable() -> str | None:
    """``None`` when bfcl-eval's checker can be imported here, else why not (for skips and errors)."""
    try:
        lib()
    except ImportError as exc:
        return f"{INSTALL} ({type(exc).__name__}: {exc})"
    return None


@cache
def lib() -> SimpleNamespace:
    """bfcl-eval's functions, imported once. It writes result/score folders under BFCL_PROJECT_ROOT on
    import; point that at a cache folder instead of site-packages unless the user chose one."""
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toolgym" / "bfcl"
    os.environ.setdefault("BFCL_PROJECT_ROOT", str(cache_root))
    from bfcl_eval import utils
    from bfcl_eval.constants import default_prompts, enums, model_config, type_mappings
    from bfcl_eval.eval_checker.agentic_eval.agentic_checker import agentic_checker
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_checker, multi_turn_utils
    from bfcl_eval.model_handler import utils as handler_utils

    return SimpleNamespace(
        Language=enums.Language, ModelStyle=enums.ModelStyle, ReturnFormat=enums.ReturnFormat,
        MODEL_CONFIG_MAPPING=model_config.MODEL_CONFIG_MAPPING, GORILLA_TO_OPENAPI=type_mappings.GORILLA_TO_OPENAPI,
        MAXIMUM_STEP_LIMIT=default_prompts.MAXIMUM_STEP_LIMIT,
        ADDITIONAL_FUNCTION_FC=default_prompts.DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC,
        ADDITIONAL_FUNCTION_PROMPTING=default_prompts.DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_PROMPTING,
        ast_checker=ast_checker, agentic_checker=agentic_checker,
        multi_turn_checker=multi_turn_checker.multi_turn_checker,
        execute_multi_turn_func_call=multi_turn_utils.execute_multi_turn_func_call,
        is_empty_execute_response=multi_turn_utils.is_empty_execute_response,
        multi_turn_globals=vars(multi_turn_utils),
        convert_to_tool=handler_utils.convert_to_tool,
        default_decode_ast_prompting=handler_utils.default_decode_ast_prompting,
        default_decode_execute_prompting=handler_utils.default_decode_execute_prompting,
        format_execution_results_prompting=handler_utils.format_execution_results_prompting,
        system_prompt_pre_processing_chat_model=handler_utils.system_prompt_pre_processing_chat_model,
        add_memory_instruction_system_prompt=handler_utils.add_memory_instruction_system_prompt,
        is_empty_output=utils.is_empty_output, is_function_calling_format_output=utils.is_function_calling_format_output,
        load_dataset_entry=utils.load_dataset_entry, load_ground_truth_entry=utils.load_ground_truth_entry,
        populate_memory=utils.populate_initial_settings_for_memory_test_cases, sort_key=utils.sort_key)


def registry_model(underscore_to_dot: bool) -> str:
    """A registered BFCL model whose config says whether tool names had ``.`` replaced by ``_``: the
    checker reads only that flag from it. (Names with ``_`` are skipped: the checker maps ``_`` to ``/``.)"""
    for key, config in lib().MODEL_CONFIG_MAPPING.items():
        if "_" not in key and bool(config.underscore_to_dot) == underscore_to_dot:
            return key
    raise BenchDataError("bfcl-eval has no registered model with the needed underscore_to_dot setting")


def language(category: str):
    """``(Language, ReturnFormat)`` of a category, as BFCL's AST runner picks them."""
    lb = lib()
    if category.endswith("javascript"):
        return lb.Language.JAVASCRIPT, lb.ReturnFormat.JAVASCRIPT
    if category.endswith("java"):
        return lb.Language.JAVA, lb.ReturnFormat.JAVA
    return lb.Language.PYTHON, lb.ReturnFormat.PYTHON


@cache
def _entries(category: str, prereq: bool, hints: bool) -> tuple:
    return tuple(lib().load_dataset_entry(category, include_prereq=prereq, include_language_specific_hint=hints))


def dataset(category: str, *, prereq: bool = True, hints: bool = True, limit: int | None = None,
            keep=None) -> list[dict]:
    """BFCL's ``load_dataset_entry``, read once per process (it reads the function documents of every
    multi-turn entry from disk, behind a file lock); each call gets its own copy of the first ``limit``
    entries that ``keep`` accepts."""
    entries = [e for e in _entries(category, prereq, hints) if keep is None or keep(e)]
    return copy.deepcopy(entries[:limit])


@cache
def dataset_size(category: str) -> int:
    """Entries BFCL scores in a category (prerequisite conversations excluded)."""
    try:
        return len(_entries(category, False, False))
    except Exception:  # web search data may be absent from a package: weight 0
        return 0
