"""Run folders as the commands write them, for the report's tests: built environments, scripted rollouts
(real episodes in the sandbox: replies, tool calls, tool outputs, step rewards), their evaluation reports,
a loop's iterations with TRL-style training logs, and a weight analysis."""

from __future__ import annotations

import json
import shutil

import pytest

from toolgym.analysis import Change, write_csv
from toolgym.builder import BuildConfig, build
from toolgym.evaluate import evaluate
from toolgym.io import JsonlWriter, read_environments, read_manifest
from toolgym.models import ErrorRates, ScriptedPolicy
from toolgym.rollout import RolloutConfig, load_trajectories, rollout

CARELESS = ErrorRates(wrong_argument=0.3, malformed_call=0.2, missing_call=0.1)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """40 built environments (a manifest with build statistics beside them) and their test split."""
    folder = tmp_path_factory.mktemp("envs")
    path = folder / "envs.jsonl"
    build(BuildConfig(seed=2), path, 40, workers=1)
    return path, [e for e in read_environments(path) if e.split == "test"] or list(read_environments(path))[:12]


LONG_REASON = "verification: " + "the gold solution did not reach the final answer when " * 6


@pytest.fixture(scope="session")
def rejecting(built, tmp_path_factory):
    """An environments file whose manifest records rejections with a long reason (as a build writes them),
    and the reason."""
    manifest = read_manifest(built[0])
    manifest["stats"]["rejections"] = {"by_stage": {"verification": 3}, "by_reason": {LONG_REASON: 3},
                                       "by_scenario": {"multi_hop": 3}}
    folder = tmp_path_factory.mktemp("rejecting")
    envs = folder / "envs.jsonl"
    shutil.copy(built[0], envs)
    (folder / "envs.jsonl.manifest.json").write_text(json.dumps(manifest))
    return envs, LONG_REASON


def _eval(envs, policy, out, pool, name):
    """What ``toolgym eval --out OUT.json`` leaves: OUT.trajectories.jsonl and OUT.json (named by the file)."""
    traj = out.with_suffix(".trajectories.jsonl")
    rollout(envs, policy, traj, config=RolloutConfig(concurrency=4), executor=pool)
    report = evaluate(load_trajectories(traj), {e.id: e for e in envs}, name=name, resamples=100)
    report.save(out)
    return report


@pytest.fixture(scope="session")
def eval_run(tmp_path_factory, built, pool):
    """Two evaluations of the same model (careless, then careful), each named by its file as eval does."""
    run = tmp_path_factory.mktemp("evals")
    _, envs = built
    _eval(envs, ScriptedPolicy(CARELESS, seed=1), run / "careless.json", pool, "careless.trajectories")
    _eval(envs, ScriptedPolicy(ErrorRates(wrong_argument=0.05), seed=2), run / "careful.json", pool,
          "careful.trajectories")
    return run


def _log(path, level):
    """Rows as TRL's GRPO trainer logs them (``reward`` and its one reward function's mean are the same)."""
    with JsonlWriter(path) as w:
        for step in range(1, 9):
            r = level + 0.03 * step
            w.write({"loss": 0.4 / step, "grad_norm": 1.0 / step, "learning_rate": 1e-6, "num_tokens": 1000.0 * step,
                     "completions/mean_length": 80.0 + step, "rewards/toolgym_f1/mean": r,
                     "rewards/toolgym_f1/std": 0.2, "reward": r, "reward_std": 0.2, "frac_reward_zero_std": 0.1,
                     "kl": 0.001 * step, "entropy": 0.9 - 0.01 * step, "epoch": step / 8, "step": step})
        w.write({"train_runtime": 12.0, "train_samples_per_second": 3.0, "train_loss": 0.2, "epoch": 1.0, "step": 8})


@pytest.fixture(scope="session")
def loop_run(tmp_path_factory, built, pool):
    """A loop's output: iterations 0-2 (evaluation, training rollouts, training log), progress.jsonl naming
    each iteration's model, and weights.csv."""
    run = tmp_path_factory.mktemp("loop")
    _, envs = built
    progress = []
    for k, rates in enumerate((ErrorRates(wrong_argument=0.6, malformed_call=0.3), CARELESS, ErrorRates())):
        folder = run / f"iter-{k}"
        folder.mkdir()
        # iteration 0 evaluates the starting model, iteration K the checkpoint it trained
        model = str(folder / "train" / "final") if k else "Qwen/Qwen2.5-0.5B-Instruct"
        traj = folder / "eval.jsonl"
        rollout(envs, ScriptedPolicy(rates, seed=k), traj, config=RolloutConfig(concurrency=4), executor=pool)
        report = evaluate(load_trajectories(traj), {e.id: e for e in envs}, name=folder.name, resamples=100)
        report.save(folder / "report.json")
        if k:
            rollout(envs[:6], ScriptedPolicy(rates, seed=10 + k), folder / "trajectories.jsonl",
                    config=RolloutConfig(samples=2, concurrency=4), executor=pool)
            (folder / "train").mkdir()
            _log(folder / "train" / "log.jsonl", 0.2 * k)
        progress.append({"iteration": k, "stage": "eval", "model": model,
                         "result": report.to_dict()})
    (run / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in progress))
    changes = [Change(layer, module, 0.01 * (4 - layer) if module.startswith("mlp") else 0.002, 1.0, 1.0, 1)
               for layer in range(4) for module in ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.gate", "mlp.up",
                                                    "mlp.down")]
    write_csv(changes + [Change(None, "embeddings", 0.0005, 1.0, 1.0, 1)], run / "weights.csv")
    return run
