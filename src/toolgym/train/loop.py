"""The paper's loop: roll out with the current model, cut the trajectories into per-turn prompts, train,
evaluate on the held-out environments, and start the next iteration from the new checkpoint.

Each iteration lives in ``OUT/iter-K/`` (``trajectories.jsonl``, ``data/``, ``train/``, ``eval.jsonl``,
``report.json``) with a ``manifest.json`` that records which stages are done, so an interrupted loop
resumes where it stopped (the rollout and training resume inside a stage too). Iteration 0 evaluates the
starting model. ``OUT/summary.json`` and ``OUT/solve_f1.png`` give Solve-F1 per iteration (the paper's
Figure 5).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..evaluate import evaluate, save_figure
from ..io import atomic_write_text, read_environments, read_trajectories
from ..models import BackendConfig, Endpoint, Sampling, make_backend
from ..rollout import EpisodeConfig, RolloutConfig, rollout
from ..sandbox import Executor, default_pool
from ..schema import Environment
from .data import prefixes
from .layouts import write_data
from .trl_run import TrlRunConfig, run_trl


@dataclass
class LoopConfig:
    envs: Path
    model: str
    out: Path
    iterations: int = 3
    samples: int = 4  # rollouts per training environment per iteration (temperature 1.0)
    rollout_temperature: float = 1.0
    max_new_tokens: int = 1024
    max_turns: int = 20
    concurrency: int = 16
    train_limit: int | None = None  # training environments per iteration (None: all)
    eval_limit: int | None = None
    backend: str = "transformers"  # transformers | vllm (local engines that can load each new checkpoint)
    trl: dict[str, Any] = field(default_factory=dict)  # TrlRunConfig fields (algo, learning_rate, max_steps...)


def _split(envs: list[Environment], split: str, limit: int | None) -> list[Environment]:
    chosen = [e for e in envs if (e.metadata.split or "train") == split]
    return chosen[:limit] if limit else chosen


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"done": []}


def _save(path: Path, m: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(m, indent=2, default=str) + "\n")


class Loop:
    def __init__(self, config: LoopConfig, executor: Executor | None = None,
                 log: Callable[[str], None] = lambda _msg: None):
        self.c = config
        self.executor = executor or default_pool()
        self.log = log
        envs = list(read_environments(config.envs))
        self.train_envs = _split(envs, "train", config.train_limit)
        self.test_envs = _split(envs, "test", config.eval_limit)
        if not self.train_envs or not self.test_envs:
            raise ConfigError(f"{config.envs} needs environments with metadata.split 'train' and 'test' "
                              f"(found {len(self.train_envs)} and {len(self.test_envs)})")

    def _backend(self, model: str, temperature: float):
        return make_backend(BackendConfig(self.c.backend, Endpoint(model=model),
                                          Sampling(temperature=temperature, max_tokens=self.c.max_new_tokens)))

    def _rollout(self, model: str, envs, out: Path, samples: int, temperature: float) -> None:
        config = RolloutConfig(samples=samples, concurrency=self.c.concurrency,
                               episode=EpisodeConfig(max_turns=self.c.max_turns))
        rollout(envs, self._backend(model, temperature), out, config=config, executor=self.executor,
                manifest={"model": model, "temperature": temperature})

    def _evaluate(self, model: str, folder: Path) -> dict[str, Any]:
        traj = folder / "eval.jsonl"
        self._rollout(model, self.test_envs, traj, 1, 0.0)
        report = evaluate(read_trajectories(traj), {e.id: e for e in self.test_envs}, name=folder.name)
        report.save(folder / "report.json")
        return report.to_dict()

    def iteration(self, k: int, model: str) -> str:
        """Run (or finish) iteration ``k`` starting from ``model``; returns the model the next one starts from."""
        folder = self.c.out / f"iter-{k}"
        folder.mkdir(parents=True, exist_ok=True)
        mpath = folder / "manifest.json"
        m = _manifest(mpath)
        m.update(iteration=k, model=model)
        if k == 0:
            if "eval" not in m["done"]:
                self.log(f"iteration 0: evaluating {model}")
                m["eval"] = self._evaluate(model, folder)
                m["done"].append("eval")
                _save(mpath, m)
            return model
        if "rollout" not in m["done"]:
            self.log(f"iteration {k}: rollouts of {model}")
            self._rollout(model, self.train_envs, folder / "trajectories.jsonl", self.c.samples,
                          self.c.rollout_temperature)
            m["done"].append("rollout")
            _save(mpath, m)
        if "data" not in m["done"]:
            trajectories = list(read_trajectories(folder / "trajectories.jsonl"))
            prompts = list(prefixes(trajectories, {e.id: e for e in self.train_envs}))
            m["data"] = write_data(folder / "data", prompts, manifest={"iteration": k, "model": model})
            m["done"].append("data")
            _save(mpath, m)
        trained = folder / "train" / "final"
        if "train" not in m["done"]:
            self.log(f"iteration {k}: training on {m['data']['prompts']} prompts")
            defaults = {"algo": "grpo"}
            config = TrlRunConfig(**{**defaults, **self.c.trl, "model": model, "data": folder / "data",
                                     "out": folder / "train"})
            result = run_trl(config)
            m["train"] = {"steps": result.steps, "seconds": result.seconds, "final": str(result.final)}
            m["done"].append("train")
            _save(mpath, m)
        if "eval" not in m["done"]:
            self.log(f"iteration {k}: evaluating {trained}")
            m["eval"] = self._evaluate(str(trained), folder)
            m["done"].append("eval")
            _save(mpath, m)
        return str(trained)

    def run(self) -> dict[str, Any]:
        model = self.c.model
        for k in range(self.c.iterations + 1):
            model = self.iteration(k, model)
        return self.summary()

    def summary(self) -> dict[str, Any]:
        rows = []
        for k in range(self.c.iterations + 1):
            m = _manifest(self.c.out / f"iter-{k}" / "manifest.json")
            if "eval" in m:
                groups = m["eval"]["groups"]
                rows.append({"iteration": k, "model": m["model"],
                             **{g: round(100 * groups[g]["solve_f1"]["mean"], 2) for g in groups}})
        summary = {"config": {**asdict(self.c), "envs": str(self.c.envs), "out": str(self.c.out)}, "iterations": rows}
        atomic_write_text(self.c.out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
        if rows:
            plot_iterations(rows, self.c.out / "solve_f1.png")
        return summary


def plot_iterations(rows: list[dict[str, Any]], path: Path) -> Path:
    """Solve-F1 per iteration, per scenario and overall (the paper's Figure 5)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    groups = sorted({g for r in rows for g in r if g not in ("iteration", "model")}, key=lambda g: (g == "overall", g))
    for g in groups:
        xs = [r["iteration"] for r in rows if g in r]
        ax.plot(xs, [r[g] for r in rows if g in r], marker="o", linewidth=2.5 if g == "overall" else 1.2, label=g)
    ax.set_xlabel("iteration")
    ax.set_ylabel("Solve-F1 (%)")
    ax.set_xticks([r["iteration"] for r in rows])
    ax.legend(fontsize=8)
    ax.set_title("Solve-F1 per iteration")
    return save_figure(fig, path)


def run_loop(config: LoopConfig, executor: Executor | None = None, log: Callable[[str], None] = print) -> dict:
    return Loop(replace(config, out=Path(config.out)), executor, log).run()
