"""``toolgym train prepare`` and ``toolgym train trl`` from the command line."""

import json

from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import JsonlWriter, write_environments
from toolgym.publish import model_upload

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
    # the model card names the base model, the data and what it was prepared from, the algorithm and settings
    card = (run / "final" / "README.md").read_text()
    assert f"`{tiny_model_dir}` fine-tuned with DPO (TRL " in card and "None" not in card.split("## Use")[0]
    assert f"- Data: `{data}`, prepared from the environments `{envs}`" in card
    assert "| learning_rate | 0.001 |" in card and "| dpo_beta | 0.1 |" in card and "| max_steps | 1 |" in card
    assert "- Steps: 1" in card and "tags:\n- toolgym" in card and "base_model" not in card  # a path is no Hub id
    # what --push-to-hub uploads: the final folder, its card written again for the repository
    upload = model_upload(run / "final", "someone/tiny-dpo")
    assert upload.repo_type == "model" and {"README.md", "config.json", "model.safetensors"} <= set(upload.files())
    card = (run / "final" / "README.md").read_text()
    assert card.startswith("---\n") and "# someone/tiny-dpo" in card
    assert 'AutoModelForCausalLM.from_pretrained("someone/tiny-dpo")' in card and f"`{tiny_model_dir}`" in card
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


def test_a_push_that_cannot_happen_is_refused_before_training(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = invoke("train", "trl", "--model", tiny_model_dir, "--data", tmp_path, "--out", tmp_path / "run",
               "--push-to-hub", "someone/model")
    assert r.exit_code == 2 and "--push-to-hub someone/model: offline mode is on" in r.output
    assert not (tmp_path / "run").exists()


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
