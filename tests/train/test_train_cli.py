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
