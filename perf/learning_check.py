"""The learning check: does training on toolgym's feedback make a model better at calling tools?

A model is made from scratch (``toolgym model init``: no pretrained weights are needed), brought to an imperfect
start by supervised fine-tuning on gold trajectories (``train sft``, stopped once a development set shows a
Solve-F1 between 20 and 50 %), evaluated on held-out environments, then trained with toolgym's step reward --
collect trajectories with the current model, cut the paper's per-turn prompts, GRPO -- for a few iterations,
and evaluated again on the same held-out environments (never trained on: not in the tokenizer's corpus, not in
SFT, not collected on). A second arm trains DPO on preference pairs of the first collection, from the same start.
Each arm is compared with the start per environment: the mean difference of Solve-F1 with a paired bootstrap
95 % interval and a two-sided sign test. One line at the end sums it up.

Every stage writes its output under ``--out`` and is recorded in ``OUT/state.json`` when done, so an
interrupted check resumes at the stage it stopped in (the rollouts and the trainers resume inside a stage too);
a rerun with another configuration into the same folder is refused.

    python perf/learning_check.py --config cpu --out runs/learning-cpu     # about 35 minutes on 2 shared cores
    python perf/learning_check.py --config cpu --threads 2 --out ...       # two torch threads, on quiet cores
    python perf/learning_check.py --config gpu --out runs/learning-gpu     # one GPU, minutes
    python perf/learning_check.py --config tiny --out /tmp/lc              # every stage, in minutes (no verdict)

The wall time of every stage is kept in ``OUT/state.json`` (of the attempt that finished it: a resumed stage counts
from the resume); the verdict does not depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from toolgym.builder import BuildConfig, build
from toolgym.io import atomic_write_text, read_environments
from toolgym.models import BackendConfig, Endpoint, Sampling, local_options, make_backend, set_threads
from toolgym.rollout import EpisodeConfig, RolloutConfig, load_trajectories, rollout
from toolgym.sandbox import SandboxPool
from toolgym.schema import Environment
from toolgym.train import preference_pairs, prefixes, write_data
from toolgym.train.balance import question_share
from toolgym.train.config import Hyperparameters
from toolgym.train.sft import prepare_sft
from toolgym.train.starter import model_init
from toolgym.train.trl_run import TrlRunConfig, run_trl


@dataclass(frozen=True)
class CheckConfig:
    """One size of the check. Environment counts are per split; the test split is the builder's first
    ``test_per_scenario`` environments of each scenario."""

    scenarios: dict[str, float]
    test_per_scenario: int
    train_envs: int  # the pool the SFT, development and collection environments are drawn from
    sft_envs: int
    dev_envs: int  # decide when SFT stops (part of the training split, never collected on)
    collect_envs: int  # per iteration, fresh ones each time
    size: str = "micro"
    vocab_size: int = 4096
    width: tuple[int, int] = (2, 2)
    hops: tuple[int, int] = (2, 3)
    sft: dict[str, Any] = field(default_factory=dict)  # TrlRunConfig fields of each SFT chunk
    sft_chunks: int = 8  # at most this many chunks of sft["max_steps"] steps
    start_window: tuple[float, float] = (0.20, 0.50)  # the imperfect start aimed at (development Solve-F1)
    iterations: int = 3
    samples: int = 8  # rollouts per environment when collecting
    temperature: float = 1.0
    question_share: float | None = 0.5
    grpo: dict[str, Any] = field(default_factory=dict)
    dpo: dict[str, Any] = field(default_factory=dict)
    max_new_tokens: int = 64
    max_turns: int = 6
    gen_batch_size: int = 64
    concurrency: int = 128
    threads: int | None = 1
    sandbox_workers: int = 1
    seed: int = 0


_SFT = {"learning_rate": 3e-3, "per_device_batch_size": 16, "max_steps": 150, "save_steps": 150,
        "extra": {"lr_scheduler_type": "constant_with_warmup", "warmup_steps": 10, "weight_decay": 0.01}}
# No reference model (beta 0): at this scale the paper's KL term of 0.001 changes nothing and costs a third of a step.
# GRPO and DPO without weight decay, GRPO's loss the token mean over the batch: TRL's own defaults, with which the
# figures in docs/performance.md were measured (toolgym's are the paper's 0.01 and the per-sequence token mean).
_GRPO = {"learning_rate": 1e-4, "weight_decay": 0.0, "loss_aggregation": "token-mean", "num_generations": 8,
         "per_device_batch_size": 32, "max_completion_length": 48, "temperature": 1.0, "beta": 0.0, "max_steps": 50,
         "save_steps": 50, "extra": {"lr_scheduler_type": "constant"}}
_DPO = {"learning_rate": 1e-4, "weight_decay": 0.0, "dpo_beta": 0.1, "per_device_batch_size": 16, "max_steps": 150,
        "save_steps": 150, "extra": {"lr_scheduler_type": "constant"}}

CONFIGS: dict[str, CheckConfig] = {
    # Every stage end to end in minutes, to develop and test the script: far too small for a verdict.
    "tiny": CheckConfig(scenarios={"single_hop": 1.0}, test_per_scenario=64, train_envs=400, sft_envs=256,
                        dev_envs=32, collect_envs=32, size="nano", vocab_size=2048,
                        sft={**_SFT, "max_steps": 20, "save_steps": 20}, sft_chunks=2, iterations=1, samples=4,
                        grpo={**_GRPO, "max_steps": 4, "per_device_batch_size": 16},
                        dpo={**_DPO, "max_steps": 8}, gen_batch_size=32, concurrency=64, threads=1),
    # About 35 minutes on a 2-core CPU shared with other work, one torch thread: single-hop questions (one
    # call, whose tool and entity names are copied from the prompt), no distractors, level 0, 400 held out. A small
    # vocabulary (1,024): names are split into the same sub-word pieces in training and held-out environments, so
    # copying learned on one carries to the other (with a vocabulary big enough that every training name is one
    # token, held-out names are pieces SFT never copied). SFT of at most 10 x 125 steps, one GRPO iteration.
    # Sampling at 0.7 (collection and GRPO): at 1.0 a start of 24 % greedy Solve-F1 sampled 7 % and 84 % of the
    # groups had equal rewards; GRPO of 100 steps at 2e-4 (40 at 1e-4 changed 4 of 400 held-out environments).
    "cpu": CheckConfig(scenarios={"single_hop": 1.0}, test_per_scenario=400, train_envs=4200, sft_envs=4000,
                       dev_envs=64, collect_envs=128, size="micro", vocab_size=1024,
                       sft={**_SFT, "max_steps": 125, "save_steps": 125}, sft_chunks=10, iterations=1,
                       temperature=0.7,
                       grpo={**_GRPO, "learning_rate": 2e-4, "temperature": 0.7, "max_steps": 100, "save_steps": 100},
                       dpo={**_DPO, "max_steps": 60, "save_steps": 60}, max_turns=4, threads=1),
    # One GPU: a larger model, all four scenarios, 100 held out per scenario.
    "gpu": CheckConfig(scenarios={"single_hop": 1.0, "parallel_single_hop": 1.0, "multi_hop": 1.0,
                                  "parallel_multi_hop": 1.0}, test_per_scenario=100, train_envs=12000,
                       sft_envs=8000, dev_envs=256, collect_envs=1024, size="small", vocab_size=8192,
                       sft={**_SFT, "learning_rate": 1e-3, "per_device_batch_size": 64, "max_steps": 200,
                            "save_steps": 200},
                       sft_chunks=8, iterations=2, samples=8,
                       grpo={**_GRPO, "per_device_batch_size": 256, "max_completion_length": 128, "max_steps": 30},
                       dpo={**_DPO, "per_device_batch_size": 64, "max_steps": 200},
                       max_new_tokens=160, max_turns=8, gen_batch_size=512, concurrency=1024, threads=None,
                       sandbox_workers=8),
}


# ---- statistics ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paired:
    """Before/after on the same environments: means, the mean difference with a paired bootstrap interval, and
    a two-sided sign test over the environments that changed."""

    n: int
    before: float
    after: float
    diff: float
    low: float
    high: float
    better: int
    worse: int
    p_sign: float


def sign_test(better: int, worse: int) -> float:
    """Two-sided exact binomial test of ``better`` against ``worse`` at p = 1/2 (ties left out)."""
    n = better + worse
    if n == 0:
        return 1.0
    k = min(better, worse)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired(before: dict[str, float], after: dict[str, float], *, resamples: int = 10_000, seed: int = 0) -> Paired:
    ids = sorted(set(before) & set(after))
    if not ids:
        raise SystemExit("error: no environment was evaluated both before and after")
    d = [after[i] - before[i] for i in ids]
    rng = random.Random(seed)
    n = len(d)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    better, worse = sum(x > 0 for x in d), sum(x < 0 for x in d)
    return Paired(n, sum(before[i] for i in ids) / n, sum(after[i] for i in ids) / n, sum(d) / n,
                  means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1], better, worse,
                  sign_test(better, worse))


def per_env(path: Path) -> dict[str, dict[str, float]]:
    """Solve-P/R/F1 of each environment of an evaluation rollout (one greedy episode each)."""
    out = {}
    for t in load_trajectories(path):
        m = t.metrics
        out[t.env_id] = {"p": m.solve_precision, "r": m.solve_rate, "f1": m.solve_f1}
    return out


# ---- the check -----------------------------------------------------------------------------------------------
class Check:
    def __init__(self, name: str, config: CheckConfig, out: Path):
        self.name, self.c, self.out = name, config, out
        out.mkdir(parents=True, exist_ok=True)
        self.state_path = out / "state.json"
        spec = {"config": name, **json.loads(json.dumps(asdict(config)))}
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
            if _without_cap(self.state["spec"]) != _without_cap(spec) or (
                    self.state["spec"] != spec and "sft" in self.state["stages"]):
                raise SystemExit(f"error: {out} holds a learning check of another configuration; give another --out")
            if self.state["spec"] != spec:
                # Only the cap on SFT chunks differs: the chunks already run are the same, so a check whose SFT
                # has not ended continues under the new cap (once SFT has ended, its recorded start stands).
                self.log(f"SFT chunk cap {self.state['spec']['sft_chunks']} -> {config.sft_chunks}")
                self.state["spec"] = spec
        else:
            self.state = {"spec": spec, "stages": {}}
        self.pool: SandboxPool | None = None
        set_threads(config.threads)

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def stage(self, name: str, fn, *args) -> dict[str, Any]:
        """Run ``fn`` unless the stage is recorded as done; record its result and wall time."""
        done = self.state["stages"].get(name)
        if done is not None:
            return done
        self.log(f"{name} ...")
        t0 = time.perf_counter()
        result = fn(*args)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        self.state["stages"][name] = result
        atomic_write_text(self.state_path, json.dumps(self.state, indent=2) + "\n")
        self.log(f"{name} done in {result['seconds']:.0f}s: "
                 + ", ".join(f"{k} {v}" for k, v in result.items() if k not in ("seconds", "model", "per_env")))
        return result

    # -- environments
    def build(self) -> dict[str, Any]:
        c = self.c
        n_test = c.test_per_scenario * sum(1 for w in c.scenarios.values() if w > 0)
        levels = {s: (0, 0) for s in ("functional", "parameters", "types", "toolset")}
        report = build(BuildConfig(seed=c.seed, scenarios=c.scenarios, levels=levels, distractors=0, width=c.width,
                                   hops=c.hops, test_per_scenario=c.test_per_scenario),
                       self.out / "envs.jsonl", n_test + c.train_envs, workers=c.sandbox_workers)
        return {"written": report.written}

    def split(self) -> tuple[list[Environment], dict[str, list[Environment]]]:
        envs = list(read_environments(self.out / "envs.jsonl"))
        test = [e for e in envs if e.metadata.split == "test"]
        train = [e for e in envs if e.metadata.split != "test"]
        random.Random(self.c.seed).shuffle(train)
        c = self.c
        parts, i = {}, 0
        for key, n in [("sft", c.sft_envs), ("dev", c.dev_envs)] + [(f"collect-{k}", c.collect_envs)
                                                                  for k in range(1, c.iterations + 1)]:
            parts[key] = train[i:i + n]
            i += n
        if any(len(v) == 0 for v in parts.values()) or len(test) == 0:
            raise SystemExit(f"error: {self.out / 'envs.jsonl'} has too few environments for this configuration")
        return test, parts

    # -- model stages
    def backend(self, model: str, temperature: float):
        return make_backend(BackendConfig("transformers", Endpoint(model=model),
                                          Sampling(temperature=temperature, max_tokens=self.c.max_new_tokens,
                                                   seed=self.c.seed),
                                          options=local_options("transformers", threads=self.c.threads,
                                                                batch_size=self.c.gen_batch_size)))

    def run_episodes(self, model: str, envs: list[Environment], out: Path, samples: int, temperature: float) -> None:
        config = RolloutConfig(samples=samples, concurrency=self.c.concurrency,
                               episode=EpisodeConfig(max_turns=self.c.max_turns))
        rollout(envs, self.backend(model, temperature), out, config=config, executor=self.pool,
                identity={"temperature": temperature, "max_new_tokens": self.c.max_new_tokens})

    def evaluate(self, model: str, envs: list[Environment], name: str) -> dict[str, Any]:
        path = self.out / "eval" / f"{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.run_episodes(model, envs, path, 1, 0.0)
        scores = per_env(path)
        n = len(scores) or 1
        return {"model": model, "n": len(scores), **{k: round(100 * sum(s[k] for s in scores.values()) / n, 2)
                                                      for k in ("p", "r", "f1")}}

    def sft(self, parts: dict[str, list[Environment]], base: str) -> dict[str, Any]:
        """SFT in chunks from the gold trajectories, until the development Solve-F1 enters the start window."""
        c = self.c
        data = prepare_sft(self.out / "sft", parts["sft"], executor=self.pool)
        model, history = base, []
        lo, hi = c.start_window
        for k in range(1, c.sft_chunks + 1):
            run = self.out / "sft" / f"chunk-{k}"
            result = run_trl(_trl_config("sft", c.sft, model=model, data=data.path, envs=self.out / "envs.jsonl",
                                         out=run, seed=c.seed + k, threads=c.threads))
            model = str(result.final)
            dev = self.evaluate(model, parts["dev"], f"dev-sft-{k}")
            history.append({"chunk": k, "steps": result.steps, "dev_f1": dev["f1"],
                            "loss": next((r["loss"] for r in reversed(result.log) if "loss" in r), None)})
            self.log(f"  SFT chunk {k}: development Solve-F1 {dev['f1']:.1f}")
            if dev["f1"] >= 100 * lo:
                break
        within = lo <= history[-1]["dev_f1"] / 100 <= hi
        return {"model": model, "gold": data.trajectories, "chunks": history, "in_window": within}

    def collect(self, model: str, envs: list[Environment], k: int) -> dict[str, Any]:
        c = self.c
        path = self.out / f"iter-{k}" / "trajectories.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.run_episodes(model, envs, path, c.samples, c.temperature)
        runs = load_trajectories(path)
        env_map = {e.id: e for e in envs}
        prompts = list(prefixes(runs, env_map))
        natural = sum(p.turn == 0 for p in prompts) / max(1, len(prompts))
        if c.question_share is not None:
            prompts = question_share(prompts, c.question_share, seed=c.seed + k)
        pairs = preference_pairs(runs, env_map, level="step")
        counts = write_data(self.out / f"iter-{k}" / "data", prompts, pairs)
        groups = _reward_spread(runs)
        return {"trajectories": len(runs), "sampled_f1": round(100 * sum(t.metrics.solve_f1 for t in runs)
                                                               / max(1, len(runs)), 2),
                "prompts": counts["prompts"], "pairs": counts["pairs"], "question_share_before": round(natural, 3),
                "groups_all_equal": groups}

    def train(self, algo: str, model: str, data: Path, out: Path, settings: dict[str, Any]) -> dict[str, Any]:
        result = run_trl(_trl_config(algo, settings, model=model, data=data, out=out, seed=self.c.seed,
                                     threads=self.c.threads))
        losses = [r["loss"] for r in result.log if "loss" in r]
        rewards = [r["reward"] for r in result.log if "reward" in r]
        flat = [r["frac_reward_zero_std"] for r in result.log if "frac_reward_zero_std" in r]
        out = {"model": str(result.final), "steps": result.steps,
               "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)] if losses else None,
               "reward_first_last": [round(rewards[0], 3), round(rewards[-1], 3)] if rewards else None}
        if flat:  # GRPO: the share of groups whose samples all got the same reward (no signal there)
            out["groups_all_equal"] = round(sum(flat) / len(flat), 3)
        return out

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        c = self.c
        self.stage("build", self.build)
        test, parts = self.split()
        self.log(f"{len(test)} held-out environments; SFT {len(parts['sft'])}, development {len(parts['dev'])}, "
                 f"{c.iterations} x {c.collect_envs} to collect on")
        with SandboxPool(workers=c.sandbox_workers) as pool:
            self.pool = pool
            init = self.stage("init", lambda: _init(self.out / "model-init", parts["sft"] + parts["dev"], c))
            sft = self.stage("sft", self.sft, parts, init["model"])
            start = sft["model"]
            self.stage("eval-start", self.evaluate, start, test, "start")
            model = start
            for k in range(1, c.iterations + 1):
                self.stage(f"collect-{k}", self.collect, model, parts[f"collect-{k}"], k)
                model = self.stage(f"grpo-{k}", self.train, "grpo", model, self.out / f"iter-{k}" / "data",
                                   self.out / f"iter-{k}" / "grpo", c.grpo)["model"]
                self.stage(f"eval-grpo-{k}", self.evaluate, model, test, f"grpo-{k}")
            dpo = self.stage("dpo", self.train, "dpo", start, self.out / "iter-1" / "data", self.out / "dpo", c.dpo)
            self.stage("eval-dpo", self.evaluate, dpo["model"], test, "dpo")
        return self.report(time.perf_counter() - t0)

    def report(self, seconds: float) -> dict[str, Any]:
        c = self.c
        ev = self.out / "eval"
        start = per_env(ev / "start.jsonl")
        arms = {f"grpo-{c.iterations}": f"GRPO, {c.iterations} iteration(s)", "dpo": "DPO"}
        rows = {}
        for arm, label in arms.items():
            after = per_env(ev / f"{arm}.jsonl")
            rows[arm] = {"label": label, **{m: asdict(paired({i: s[m] for i, s in start.items()},
                                                            {i: s[m] for i, s in after.items()}, seed=c.seed))
                                           for m in ("p", "r", "f1")}}
        curve = [self.state["stages"]["eval-start"]["f1"]] + [self.state["stages"][f"eval-grpo-{k}"]["f1"]
                                                            for k in range(1, c.iterations + 1)]
        wall = sum(s.get("seconds", 0) for s in self.state["stages"].values())
        params = self.state["stages"]["init"]["parameters"]
        report = {"config": self.name, "arms": rows, "grpo_curve_f1": curve, "wall_seconds": round(wall, 1),
                  "this_run_seconds": round(seconds, 1), "parameters": params, "held_out": len(start),
                  "sft": {k: v for k, v in self.state["stages"]["sft"].items() if k != "model"}}
        atomic_write_text(self.out / "report.json", json.dumps(report, indent=2) + "\n")
        print()
        print(f"{'arm':<22} {'metric':<8} {'before':>7} {'after':>7} {'diff':>7}  {'95% CI':>16}  {'+/-':>9}  sign p")
        for arm, row in rows.items():
            for m, label in (("p", "Solve-P"), ("r", "Solve-R"), ("f1", "Solve-F1")):
                s = row[m]
                print(f"{row['label']:<22} {label:<8} {100 * s['before']:7.2f} {100 * s['after']:7.2f} "
                      f"{100 * s['diff']:+7.2f}  [{100 * s['low']:+6.2f}, {100 * s['high']:+6.2f}]  "
                      f"{s['better']:>4}/{s['worse']:<4}  {s['p_sign']:.2g}")
        best = rows[f"grpo-{c.iterations}"]["f1"]
        verdict = "significant gain" if best["low"] > 0 and best["p_sign"] < 0.05 else "no significant gain"
        line = (f"learning check ({self.name}): held-out Solve-F1 {100 * best['before']:.1f} -> "
                f"{100 * best['after']:.1f} after GRPO with toolgym's reward ({100 * best['diff']:+.1f} points, paired "
                f"95% CI [{100 * best['low']:+.1f}, {100 * best['high']:+.1f}], sign test p = {best['p_sign']:.2g}, "
                f"{best['better']} better / {best['worse']} worse of {best['n']} environments never trained on; "
                f"{verdict}); DPO {100 * rows['dpo']['f1']['diff']:+.1f} points (p = {rows['dpo']['f1']['p_sign']:.2g});"
                f" {c.size} model of {params / 1e6:.2f}M parameters, {wall / 60:.0f} min")
        if not report["sft"]["in_window"]:
            lo, hi = c.start_window
            print(f"\nnote: SFT ended at a development Solve-F1 of {report['sft']['chunks'][-1]['dev_f1']:.1f}, outside "
                  f"the {100 * lo:.0f}-{100 * hi:.0f} % aimed at")
        print("\n" + line)
        atomic_write_text(self.out / "report.md", _markdown(report, rows, line))
        return report


def _markdown(report: dict[str, Any], rows: dict[str, Any], line: str) -> str:
    """The before/after table, ready for docs/performance.md."""
    out = ["| arm | metric | start | after | difference [paired 95% CI] | better / worse | sign test p |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for row in rows.values():
        for m, label in (("p", "Solve-P"), ("r", "Solve-R"), ("f1", "Solve-F1")):
            s = row[m]
            out.append(f"| {row['label']} | {label} | {100 * s['before']:.2f} | {100 * s['after']:.2f} | "
                       f"{100 * s['diff']:+.2f} [{100 * s['low']:+.2f}, {100 * s['high']:+.2f}] | "
                       f"{s['better']} / {s['worse']} | {s['p_sign']:.2g} |")
    curve = " -> ".join(f"{x:.1f}" for x in report["grpo_curve_f1"])
    return "\n".join(out) + f"\n\nGRPO held-out Solve-F1 per iteration: {curve}\n\n{line}\n"


def _init(path: Path, envs: list[Environment], c: CheckConfig) -> dict[str, Any]:
    report = model_init(envs, path, size=c.size, vocab_size=c.vocab_size, seed=c.seed, overwrite=True)
    return {"model": str(path), "parameters": report.parameters, "vocab": report.vocab_size}


def _trl_config(algo: str, settings: dict[str, Any], **where) -> TrlRunConfig:
    """A TRL run of ``settings``: the shared hyperparameters and the TRL run's own fields, by name, in one dict."""
    names = {f.name for f in fields(Hyperparameters)}
    hparams = Hyperparameters(**{k: v for k, v in settings.items() if k in names})
    return TrlRunConfig(algo=algo, hparams=hparams, **{k: v for k, v in settings.items() if k not in names}, **where)


def _without_cap(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "sft_chunks"}


def _reward_spread(runs) -> float:
    """The share of environments whose sampled episodes all got the same Solve-F1 (no signal for GRPO there)."""
    by_env: dict[str, set[float]] = {}
    for t in runs:
        by_env.setdefault(t.env_id, set()).add(round(t.metrics.solve_f1, 6))
    return round(sum(len(v) == 1 for v in by_env.values()) / max(1, len(by_env)), 3)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="cpu")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=None, help="torch's CPU threads (default: the configuration's)")
    ap.add_argument("--iterations", type=int, default=None, help="GRPO iterations (default: the configuration's)")
    args = ap.parse_args(argv)
    config = CONFIGS[args.config]
    if args.threads is not None:
        config = replace(config, threads=args.threads)
    if args.iterations is not None:
        config = replace(config, iterations=args.iterations)
    Check(args.config, config, args.out).run()


if __name__ == "__main__":
    sys.exit(main())
