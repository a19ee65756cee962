"""General capabilities: an lm-evaluation-harness (``lm-eval``) run of the model on tasks the user
names, so the before/after table shows that training on tool use did not cost general skills.

The paper checks MMLU, BBH, GSM8K, MATH, HumanEval and MBPP; in lm-eval those are the tasks ``mmlu``,
``bbh``, ``gsm8k``, ``minerva_math`` (or ``hendrycks_math``), ``humaneval`` and ``mbpp`` (the last two run
model-written code: pass ``allow_code=True``). lm-eval reads each task's data from the Hugging Face hub
or its cache, or from local files named in a task YAML (``include_path``). When the package is missing
or the data cannot be had, :class:`GeneralSkipped` says so and how to fix it; nothing else is affected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..evaluate import MetricSummary
from ..models import DEFAULT_BASE_URL
from ._report import BenchReport

PAPER_TASKS = ("mmlu", "bbh", "gsm8k", "minerva_math", "humaneval", "mbpp")
_PRIMARY = ("acc_norm", "acc", "exact_match", "pass@1", "pass_at_1", "f1")
_Z95 = 1.959964


class GeneralSkipped(RuntimeError):
    """The general-capability check could not run here; the message says why and what to do."""


def lm_eval_unavailable() -> str | None:
    try:
        import lm_eval  # noqa: F401
    except ImportError as exc:
        return f"the general-capability check needs lm-eval: pip install 'toolgym[bench]' ({exc})"
    return None


@dataclass(frozen=True)
class LmEvalModel:
    """Which model lm-eval loads, in toolgym's backend terms: ``transformers`` (a local path or hub name),
    ``vllm``, or ``openai`` (an OpenAI-compatible server's completions endpoint; loglikelihood tasks such
    as MMLU need a server that returns prompt logprobs, e.g. vLLM)."""

    backend: str
    model: str
    base_url: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def lm_eval_args(self) -> tuple[str, dict[str, Any]]:
        if self.backend == "transformers":
            return "hf", {"pretrained": self.model, "dtype": "auto", **self.args}
        if self.backend == "vllm":
            return "vllm", {"pretrained": self.model, **self.args}
        if self.backend == "openai":
            base = (self.base_url or DEFAULT_BASE_URL).rstrip("/")
            return "local-completions", {"model": self.model, "base_url": f"{base}/completions",
                                         "tokenizer_backend": "huggingface", "tokenizer": self.model, **self.args}
        raise GeneralSkipped(f"no lm-eval model type for backend {self.backend!r}; use transformers, vllm or openai")


def _primary(metrics: dict[str, float]) -> str | None:
    for want in _PRIMARY:
        for key in metrics:
            if key.split(",")[0] == want:
                return key
    return next(iter(metrics), None)


def to_report(results: dict[str, Any], model: str) -> BenchReport:
    """lm-eval's ``results`` as a report: every metric of every task, with mean +- 1.96 stderr."""
    groups: dict[str, dict[str, MetricSummary]] = {}
    n_samples = results.get("n-samples", {})
    for task, values in results.get("results", {}).items():
        n = int((n_samples.get(task) or {}).get("effective", 0))
        metrics: dict[str, MetricSummary] = {}
        for key, value in values.items():
            name, _, flt = key.partition(",")
            if name.endswith("_stderr") or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            se = values.get(f"{name}_stderr,{flt}")
            se = float(se) if isinstance(se, (int, float)) and math.isfinite(se) else math.nan
            label = name if flt in ("", "none") else f"{name} ({flt})"
            metrics[label] = MetricSummary(float(value), float(value) - _Z95 * se, float(value) + _Z95 * se, n)
        if metrics:
            groups[task] = metrics
    headline = [(t, p) for t, ms in groups.items() if (p := _primary(ms))]
    return BenchReport("general", model, groups=groups, headline=headline,
                       counts={"tasks": len(groups)}, notes=["lm-eval intervals: mean +- 1.96 stderr"])


def run_general(model: LmEvalModel | Any, tasks: list[str], *, include_path: str | None = None,
                limit: float | None = None, num_fewshot: int | None = None, batch_size: int | str = 8,
                allow_code: bool = False, name: str = "", defaults: bool = True) -> BenchReport:
    """Run lm-eval on ``tasks``. ``model`` is an :class:`LmEvalModel` or an lm-eval ``LM`` object;
    ``defaults=False`` looks only at the task YAMLs under ``include_path`` (faster to index)."""
    why = lm_eval_unavailable()
    if why:
        raise GeneralSkipped(why)
    if not tasks:
        raise GeneralSkipped("no lm-eval tasks named (--lm-eval-tasks mmlu,gsm8k,...)")
    import lm_eval
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=include_path, include_defaults=defaults or not include_path)
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise GeneralSkipped(f"lm-eval does not know the task(s) {', '.join(unknown)}"
                             + ("" if include_path else "; give local task YAMLs with --lm-eval-include"))
    kind, args = (model.lm_eval_args() if isinstance(model, LmEvalModel) else (model, None))
    try:
        out = lm_eval.simple_evaluate(model=kind, model_args=args, tasks=list(tasks), task_manager=manager,
                                      limit=limit, num_fewshot=num_fewshot, batch_size=batch_size,
                                      log_samples=False, bootstrap_iters=1000, confirm_run_unsafe_code=allow_code)
    except Exception as exc:  # data not local, hub unreachable, code tasks not allowed, ...
        raise GeneralSkipped(f"lm-eval could not run {', '.join(tasks)}: {type(exc).__name__}: {exc}. "
                             "The task data must be in the Hugging Face cache or in local files named by a task "
                             "YAML (--lm-eval-include); code tasks need --lm-eval-allow-code") from exc
    label = name or (model.model if isinstance(model, LmEvalModel) else type(model).__name__)
    return to_report(out or {}, label)
