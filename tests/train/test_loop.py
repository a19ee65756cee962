"""The collect -> train -> evaluate loop, on a tiny model, end to end."""

import json
import time
from dataclasses import replace

import pytest

from toolgym.io import RunRefused, write_environments
from toolgym.train.loop import LoopConfig, run_loop


def test_loop_runs_resumes_and_summarises(tiny_model_dir, samples, pool, tmp_path):
    envs = [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "train" if i % 2 else "test"})})
            for i, e in enumerate(samples)]
    path = tmp_path / "envs.jsonl"
    write_environments(path, envs)
    out = tmp_path / "loop"
    config = LoopConfig(envs=path, model=str(tiny_model_dir), out=out, iterations=1, samples=2, max_new_tokens=8,
                        max_turns=2, concurrency=4,
                        trl={"algo": "grpo", "num_generations": 2, "per_device_batch_size": 2,
                             "max_completion_length": 8, "max_steps": 1, "learning_rate": 1e-3})
    messages = []
    summary = run_loop(config, pool, log=messages.append)
    rows = summary["iterations"]
    assert [r["iteration"] for r in rows] == [0, 1] and all("overall" in r for r in rows)
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
    assert len((out / "progress.jsonl").read_text().splitlines()) == 5
