"""``toolgym train prepare`` and ``toolgym train trl`` from the command line."""

import json

from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import JsonlWriter, write_environments

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_prepare_then_train(trajectories, train_envs, tiny_model_dir, tmp_path):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, train_envs)
    traj = tmp_path / "t.jsonl"
    with JsonlWriter(traj) as w:
        w.write_many(trajectories)
    data = tmp_path / "data"
    r = invoke("train", "prepare", "--trajectories", traj, "--envs", envs, "--out", data, "--pairs", "step")
    assert r.exit_code == 0, r.output
    counts = json.loads((data / "manifest.json").read_text())["counts"]
    assert counts["prompts"] > 0 and counts["pairs"] > 0 and f"prompts {counts['prompts']}" in r.output
    run = tmp_path / "run"
    r = invoke("train", "trl", "--algo", "dpo", "--model", tiny_model_dir, "--data", data, "--out", run,
               "--max-steps", 1, "--batch-size", 2, "--lr", 1e-3)
    assert r.exit_code == 0, r.output
    assert "1 steps" in r.output and (run / "final" / "model.safetensors").exists()
    final = (run / "final" / "model.safetensors").read_bytes()
    again = invoke("train", "trl", "--algo", "dpo", "--model", tiny_model_dir, "--data", data, "--out", run,
                   "--max-steps", 1, "--batch-size", 2, "--lr", 1e-3)
    assert again.exit_code == 0 and "nothing to do" in again.output and "steps in" not in again.output
    assert (run / "final" / "model.safetensors").read_bytes() == final
    other = invoke("train", "trl", "--algo", "dpo", "--model", tiny_model_dir, "--data", data, "--out", run,
                   "--max-steps", 1, "--batch-size", 2, "--lr", 1e-2)
    assert other.exit_code == 2 and "--overwrite" in other.output and "Traceback" not in other.output
    # prepare: the same inputs again find the data ready; other options are refused until --overwrite
    r = invoke("train", "prepare", "--trajectories", traj, "--envs", envs, "--out", data, "--pairs", "step")
    assert r.exit_code == 0 and "nothing to do" in r.output
    r = invoke("train", "prepare", "--trajectories", traj, "--envs", envs, "--out", data)
    assert r.exit_code == 2 and "pairs" in r.output and "--overwrite" in r.output
    r = invoke("train", "prepare", "--trajectories", traj, "--envs", envs, "--out", data, "--overwrite")
    assert r.exit_code == 0 and not (data / "pairs.jsonl").exists()


def test_train_errors_are_clear(tiny_model_dir, tmp_path):
    r = invoke("train", "trl", "--algo", "ppo", "--model", tiny_model_dir, "--data", tmp_path, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "grpo, rloo, dpo" in r.output
    r = invoke("train", "trl", "--model", tiny_model_dir, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "--data" in r.output
    r = invoke("train", "trl", "--model", tiny_model_dir, "--data", tmp_path, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "toolgym train prepare" in r.output
    r = invoke("train", "prepare", "--trajectories", tmp_path / "nope.jsonl", "--envs", tmp_path / "envs.jsonl",
               "--out", tmp_path / "d")
    assert r.exit_code == 2


def test_bad_input_is_refused_before_anything_is_loaded(trajectories, train_envs, tmp_path):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, train_envs)
    traj = tmp_path / "t.jsonl"
    with JsonlWriter(traj) as w:
        w.write_many(trajectories)
    before = traj.read_bytes()
    # a missing data folder: one line, exit 2, and the (unreachable) model is never asked for
    r = invoke("train", "trl", "--model", "no-such-org/no-such-model", "--data", tmp_path / "missing",
               "--out", tmp_path / "run")
    assert r.exit_code == 2 and "missing does not exist" in " ".join(r.output.split()) and "Traceback" not in r.output
    r = invoke("train", "trl", "--model", "m", "--data", tmp_path, "--out", tmp_path / "run", "--limit", -1)
    assert r.exit_code == 2 and "--limit" in r.output
    # an output over an input
    r = invoke("train", "prepare", "--trajectories", traj, "--envs", envs, "--out", traj)
    assert r.exit_code == 2 and "would destroy the input" in " ".join(r.output.split())
    assert traj.read_bytes() == before


def test_loop_from_the_command_line_reports_each_iteration(tiny_model_dir, samples, tmp_path):
    envs = [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "train" if i % 2 else "test"})})
            for i, e in enumerate(samples)]
    path = tmp_path / "envs.jsonl"
    write_environments(path, envs)
    out = tmp_path / "loop"
    r = invoke("loop", "--envs", path, "--model", tiny_model_dir, "--out", out, "--iterations", 1, "--samples", 2,
               "--max-new-tokens", 8, "--max-turns", 2, "--concurrency", 4, "--num-generations", 2, "--batch-size", 2,
               "--max-completion-length", 8, "--max-steps", 1, "--lr", 1e-3, "--seed", 3,
               "--report-to", "tensorboard", "--set", "logging_steps=1")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "iteration 0: Solve-F1" in text and "iteration 1: Solve-F1" in text and "train reward" in text
    assert "step 1/1 · step reward" in r.output  # TRL's steps as tidy lines
    assert list((out / "iter-1" / "train" / "runs").rglob("events.out.tfevents.*"))
    rows = json.loads((out / "summary.json").read_text())["iterations"]
    assert "train_reward" in rows[1] and "step_reward" in rows[0]
    config = json.loads((out / "summary.json").read_text())["config"]
    assert config["trl"]["seed"] == 3 and config["trl"]["hparams"]["temperature"] == 0.7
    assert config["rollout_temperature"] == 1.0
