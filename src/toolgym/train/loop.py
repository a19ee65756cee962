"""The paper's loop: roll out with the current model, cut the trajectories into per-turn prompts, train,
evaluate on the held-out environments, and start the next iteration from the new checkpoint.

Each iteration lives in ``OUT/iter-K/`` (``trajectories.jsonl``, ``data/``, ``train/``, ``eval.jsonl``,
``report.json``). ``OUT/progress.jsonl`` is the loop's :class:`~toolgym.io.Run`: one line per finished
stage (``iteration``, ``stage``, ``model`` and what the stage produced), its identity the loop's
configuration without the number of iterations. An interrupted loop resumes at the first stage not
recorded (the rollout and the training resume inside a stage too), a rerun with more iterations goes on
from the last one, and a rerun with other settings is refused (``overwrite`` starts again). Iteration 0
evaluates the starting model; each evaluation is reported (``log``) as it finishes. ``OUT/summary.json`` and
``OUT/solve_f1.png`` give Solve-F1 per iteration (the paper's Figure 5); the summary also gives each
iteration's mean step reward on the held-out split, the mean step reward of its training rollouts and its
training reward, so a model whose Solve-F1 stays at zero still shows what changed. A rollout whose episodes
mostly failed (the model never answered) stops the loop instead of training on nothing; a rerun retries
those episodes.

:class:`LoopConfig` is typed throughout: the rollouts' settings, and ``trl``, the
:class:`~toolgym.train.trl_run.TrlSettings` each iteration trains with (the shared hyperparameters
included). The training rollouts sample at ``rollout_temperature`` (1.0, the paper's ``data_sample.py``); the
responses trained on are sampled inside TRL at ``trl.hparams.temperature`` (0.7, the paper's verl rollouts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..evaluate import evaluate, line_figure, save_figure
from ..io import Run, atomic_write_text, read_environments, sha256_of
from ..models import BackendConfig, Endpoint, Sampling, local_options, make_backend
from ..rollout import EpisodeConfig, RolloutConfig, RolloutSummary, load_trajectories, rollout
from ..sandbox import Executor, default_pool
from ..schema import Environment, Trajectory
from .data import prefixes
from .layouts import write_data
from .logs import summarize
from .trl_run import TrlSettings, run_trl

STAGES = ("rollout", "data", "train", "eval")


@dataclass(kw_only=True)
class LoopConfig:
    envs: Path
    model: str
    out: Path
    iterations: int = 3
    samples: int = 4  # rollouts per training environment per iteration
    rollout_temperature: float = 1.0  # the paper's data_sample.py samples its training data at 1.0
    max_new_tokens: int = 1024  # per turn in the rollouts (the paper's utils.get_params: 1024)
    max_turns: int = 20
    concurrency: int = 16
    train_limit: int | None = None  # training environments per iteration (None: all)
    eval_limit: int | None = None
    backend: str = "transformers"  # transformers | vllm (local engines that can load each new checkpoint)
    tool_format: str = "hermes"  # how the model writes tool calls (hermes: Qwen; llama3: Llama 3.1)
    strip_thinking: bool = False  # read calls only after a <think> block (the paper parses the whole reply)
    malformed: str = "end"  # an unreadable call ends the episode (the paper's) or gets feedback
    max_failed_fraction: float = 0.1  # a rollout with more failed episodes stops the loop
    trl: TrlSettings = field(default_factory=TrlSettings)  # how each iteration trains; its seed seeds the rollouts
    threads: int | None = None  # torch's CPU threads, rollouts and training (speed only: not part of the identity)
    gen_batch_size: int | None = None  # prompts per generate call (None: the backend's default)

    def identity(self) -> dict[str, Any]:
        """What a resumed loop must match: everything but where it is written, how many iterations, how many
        CPU threads, and where training metrics are reported."""
        d = {k: v for k, v in asdict(self).items() if k not in ("out", "iterations", "threads")}
        d["trl"].pop("tracking")
        d["trl"].pop("threads")
        d["envs"] = str(self.envs)
        d["envs_sha256"] = sha256_of(self.envs)
        return d


def mean_step_reward(trajectories: Iterable[Trajectory]) -> float | None:
    """The mean step reward over every assistant turn of the trajectories (``None`` without turns)."""
    rewards = [s.reward for t in trajectories for s in t.steps]
    return sum(rewards) / len(rewards) if rewards else None


class LoopFailed(ConfigError):
    """A stage produced no result (most rollouts failed); the message says what failed and how to go on."""


def _split(envs: list[Environment], split: str, limit: int | None) -> list[Environment]:
    chosen = [e for e in envs if e.split == split]
    return chosen[:limit] if limit else chosen


class Loop:
    def __init__(self, config: LoopConfig, executor: Executor | None = None,
                 log: Callable[[str], None] = lambda _msg: None):
        self.c = config
        self.executor = executor or default_pool()
        self.log = log
        if not Path(config.envs).exists():
            raise ConfigError(f"--envs {config.envs} does not exist")
        envs = list(read_environments(config.envs))
        self.train_envs = _split(envs, "train", config.train_limit)
        self.test_envs = _split(envs, "test", config.eval_limit)
        if not self.train_envs or not self.test_envs:
            raise ConfigError(f"{config.envs} needs environments with metadata.split 'train' and 'test' "
                              f"(found {len(self.train_envs)} and {len(self.test_envs)})")
        self.run: Run | None = None
        self._rows: dict[tuple[int, str], dict[str, Any]] = {}  # (iteration, stage) -> its progress line

    def _rollout(self, model: str, envs, out: Path, samples: int, temperature: float) -> RolloutSummary:
        config = RolloutConfig(samples=samples, concurrency=self.c.concurrency,
                               episode=EpisodeConfig(max_turns=self.c.max_turns, format=self.c.tool_format,
                                                     strip_thinking=self.c.strip_thinking, malformed=self.c.malformed))
        sampling = Sampling(temperature=temperature, max_tokens=self.c.max_new_tokens,
                            thinking=self.c.trl.hparams.enable_thinking, seed=self.c.trl.seed)
        backend = make_backend(BackendConfig(self.c.backend, Endpoint(model=model), sampling,
                                             options=local_options(self.c.backend, threads=self.c.threads,
                                                                   batch_size=self.c.gen_batch_size)))
        summary = rollout(envs, backend, out, config=config, executor=self.executor,
                          identity={"sampling": asdict(sampling)})
        if summary.failed_fraction > self.c.max_failed_fraction:
            reasons = "; ".join(f"{r} ({n}x)" for r, n in summary.errors.most_common(3))
            raise LoopFailed(f"{summary.failed_total} of {summary.planned} episodes of {model} failed ({reasons}); "
                             f"the finished ones are kept in {out}: fix the model and rerun (only the failed "
                             "episodes run again)")
        return summary

    def _evaluate(self, model: str, folder: Path) -> dict[str, Any]:
        traj = folder / "eval.jsonl"
        self._rollout(model, self.test_envs, traj, 1, 0.0)
        trajectories = load_trajectories(traj)
        report = evaluate(trajectories, {e.id: e for e in self.test_envs}, name=folder.name)
        report.save(folder / "report.json")
        return {**report.to_dict(), "mean_step_reward": mean_step_reward(trajectories)}

    def _stage(self, k: int, stage: str, model: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run one stage unless the progress file records it; record what it produced."""
        assert self.run is not None
        if self.run.is_done((k, stage)):
            return self._rows[(k, stage)]["result"]
        row = {"iteration": k, "stage": stage, "model": model, "result": work()}
        self.run.write(row)
        self._rows[(k, stage)] = row
        return row["result"]

    def iteration(self, k: int, model: str) -> str:
        """Run (or finish) iteration ``k`` starting from ``model``; returns the model the next one starts from."""
        folder = self.c.out / f"iter-{k}"
        folder.mkdir(parents=True, exist_ok=True)

        def evaluate_stage(which: str) -> Callable[[], dict[str, Any]]:
            def work() -> dict[str, Any]:
                self.log(f"iteration {k}: evaluating {which}")
                result = self._evaluate(which, folder)
                self.log(f"iteration {k}: " + iteration_line(self._summary_row(k, which, result)))
                return result
            return work

        if k == 0:
            self._stage(0, "eval", model, evaluate_stage(model))
            return model

        def rollout_stage() -> dict[str, Any]:
            self.log(f"iteration {k}: rollouts of {model}")
            s = self._rollout(model, self.train_envs, folder / "trajectories.jsonl", self.c.samples,
                              self.c.rollout_temperature)
            return {"planned": s.planned, "failed": s.failed_total, "mean_f1_this_run": s.mean_f1}

        def data_stage() -> dict[str, Any]:
            trajectories = load_trajectories(folder / "trajectories.jsonl")
            prompts = list(prefixes(trajectories, {e.id: e for e in self.train_envs}))
            counts = write_data(folder / "data", prompts, manifest={"iteration": k, "model": model})
            return {**counts, "rollout_step_reward": mean_step_reward(trajectories)}

        data: dict[str, Any] = {}

        def train_stage() -> dict[str, Any]:
            self.log(f"iteration {k}: training on {data.get('prompts')} prompts")
            config = self.c.trl.run(model=model, data=folder / "data", out=folder / "train")
            config.tracking.run_name = f"{self.c.trl.tracking.run_name or self.c.out.name}-iter-{k}"
            if self.c.threads is not None:
                config.threads = self.c.threads
            result = run_trl(config)
            return {"steps": result.steps, "seconds": result.seconds, "final": str(result.final),
                    **summarize(result.log).to_dict()}

        self._stage(k, "rollout", model, rollout_stage)
        data.update(self._stage(k, "data", model, data_stage))
        trained = self._stage(k, "train", model, train_stage)["final"]
        self._stage(k, "eval", trained, evaluate_stage(trained))
        return trained

    def run_all(self, overwrite: bool = False) -> dict[str, Any]:
        owns = [self.c.out / "iter-*", self.c.out / "summary.json", self.c.out / "solve_f1.png"]
        with Run(self.c.out / "progress.jsonl", kind="loop", identity=self.c.identity(), overwrite=overwrite,
                 owns=owns, key=lambda r: (r.get("iteration"), r.get("stage")) if "stage" in r else None) as run:
            self.run = run
            self._rows = {(r["iteration"], r["stage"]): r for r in run.records()}
            model = self.c.model
            for k in range(self.c.iterations + 1):
                model = self.iteration(k, model)
            summary = self.summary()
            run.save("complete", counts={"iterations": self.c.iterations, "stages": len(self._rows)})
        return summary

    def _summary_row(self, k: int, model: str, result: dict[str, Any]) -> dict[str, Any]:
        """One iteration at a glance: Solve-F1 (%) per scenario and overall on the held-out split, its mean
        step reward there, and for trained iterations the mean step reward of the training rollouts and the
        mean training reward."""
        groups = result["groups"]
        row: dict[str, Any] = {"iteration": k, "model": model,
                               **{g: round(100 * groups[g]["solve_f1"]["mean"], 2) for g in groups}}
        extra = {"step_reward": result.get("mean_step_reward"),
                 "rollout_step_reward": (self._rows.get((k, "data")) or {}).get("result", {}).get("rollout_step_reward"),
                 "train_reward": (self._rows.get((k, "train")) or {}).get("result", {}).get("reward_mean")}
        return {**row, **{key: round(v, 4) for key, v in extra.items() if v is not None}}

    def summary(self) -> dict[str, Any]:
        rows = []
        for k in range(self.c.iterations + 1):
            row = self._rows.get((k, "eval"))
            if row is not None:
                rows.append(self._summary_row(k, row["model"], row["result"]))
        summary = {"config": {**asdict(self.c), "envs": str(self.c.envs), "out": str(self.c.out)}, "iterations": rows}
        atomic_write_text(self.c.out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
        if rows:
            plot_iterations(rows, self.c.out / "solve_f1.png")
        return summary


#: The summary's numbers that are not a scenario's Solve-F1.
REWARD_COLUMNS = {"step_reward": "step reward (eval)", "rollout_step_reward": "step reward (rollouts)",
                  "train_reward": "train reward"}


def scenario_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The scenarios of a loop summary's rows, overall last."""
    return sorted({g for r in rows for g in r if g not in ("iteration", "model", *REWARD_COLUMNS)},
                  key=lambda g: (g == "overall", g))


def iteration_line(row: dict[str, Any]) -> str:
    """An evaluated iteration in one line: overall Solve-F1 and the rewards."""
    parts = [f"Solve-F1 {row['overall']:.2f}" if "overall" in row else "Solve-F1 -"]
    parts += [f"{label} {row[key]:.3f}" for key, label in REWARD_COLUMNS.items() if key in row]
    return " · ".join(parts)


def plot_iterations(rows: list[dict[str, Any]], path: Path) -> Path:
    """Solve-F1 per iteration, per scenario and overall (the paper's Figure 5)."""
    fig = line_figure([str(r["iteration"]) for r in rows], {g: [r.get(g) for r in rows] for g in scenario_columns(rows)},
                      title="Solve-F1 per iteration (held-out split)", xlabel="iteration (0: the starting model)",
                      ylabel="Solve-F1 (%)")
    return save_figure(fig, path)


def run_loop(config: LoopConfig, executor: Executor | None = None, log: Callable[[str], None] = print, *,
             overwrite: bool = False) -> dict:
    return Loop(replace(config, out=Path(config.out)), executor, log).run_all(overwrite=overwrite)
