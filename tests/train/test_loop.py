"""The collect -> train -> evaluate loop, on a tiny model, end to end."""

import json
import time
from dataclasses import replace

import pytest

from toolgym.io import RunRefused, write_environments
from toolgym.train.config import Hyperparameters
from toolgym.train.loop import LoopConfig, run_loop
from toolgym.train.trl_run import TrlSettings


def test_loop_runs_resumes_and_summarises(tiny_model_dir, samples, pool, tmp_path):
    envs = [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "train" if i % 2 else "test"})})
            for i, e in enumerate(samples)]
    path = tmp_path / "envs.jsonl"
    write_environments(path, envs)
    out = tmp_path / "loop"
    trl = TrlSettings(algo="grpo", per_device_batch_size=2, max_steps=1, seed=5,
                      hparams=Hyperparameters(num_generations=2, max_completion_length=8, learning_rate=1e-3))
    config = LoopConfig(envs=path, model=str(tiny_model_dir), out=out, iterations=1, samples=2, max_new_tokens=8,
                        max_turns=2, concurrency=4, trl=trl)
    messages = []
    summary = run_loop(config, pool, log=messages.append)
    rows = summary["iterations"]
    assert [r["iteration"] for r in rows] == [0, 1] and all("overall" in r for r in rows)
    # each evaluation was reported as it finished, with the rewards beside Solve-F1
    evaluated = [m for m in messages if ": Solve-F1 " in m]
    assert [m.split(":")[0] for m in evaluated] == ["iteration 0", "iteration 1"]
    assert "step reward (eval)" in evaluated[0] and "train reward" in evaluated[1]
    assert all(isinstance(r["step_reward"], float) for r in rows)
    assert "train_reward" in rows[1] and "rollout_step_reward" in rows[1] and "train_reward" not in rows[0]
    assert json.loads((out / "summary.json").read_text())["iterations"] == rows
    # the seed and the template setting reached the rollouts
    sampling = json.loads((out / "iter-1" / "trajectories.jsonl.manifest.json").read_text())["config"]["sampling"]
    assert sampling["seed"] == 5 and sampling["thinking"] is False and sampling["temperature"] == 1.0
    progress = [json.loads(x) for x in (out / "progress.jsonl").read_text().splitlines()]
    assert [(r["iteration"], r["stage"]) for r in progress] == [(0, "eval"), (1, "rollout"), (1, "data"), (1, "train"),
                                                               (1, "eval")]
    assert progress[1]["model"] == str(tiny_model_dir) and progress[3]["result"]["steps"] == 1
    assert json.loads((out / "progress.jsonl.manifest.json").read_text())["status"] == "complete"
    assert (out / "iter-1" / "train" / "final" / "model.safetensors").exists()
    assert (out / "solve_f1.png").read_bytes()[:4] == b"\x89PNG"
    trajectories = (out / "iter-1" / "trajectories.jsonl").read_text().splitlines()
    assert len(trajectories) == 4 * 2
    # a rerun finds every stage done and redoes nothing
    messages.clear()
    t0 = time.perf_counter()
    again = run_loop(config, pool, log=messages.append)
    assert messages == [] and again["iterations"] == rows and time.perf_counter() - t0 < 10
    # another configuration in the same folder is refused, not mixed in
    with pytest.raises(RunRefused, match="samples: 2 -> 3.*--overwrite"):
        run_loop(replace(config, samples=3), pool, log=messages.append)
    with pytest.raises(RunRefused, match="learning_rate: 0.001 -> 0.002"):
        run_loop(replace(config, trl=replace(trl, hparams=replace(trl.hparams, learning_rate=2e-3))), pool,
                 log=messages.append)
    assert len((out / "progress.jsonl").read_text().splitlines()) == 5
