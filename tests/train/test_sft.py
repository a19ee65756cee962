"""``toolgym train sft``: the training sequence of a conversation is the rollout's own token sequence, the loss
falls on the replies only, and TRL's SFTTrainer trains a ``model init`` model with LoRA, checkpoints and resume."""

import json
import math

import pytest

pytest.importorskip("trl")

from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.errors import ConfigError
from toolgym.io import read_trajectories, write_environments
from toolgym.models import BackendConfig, Endpoint, Sampling, make_backend
from toolgym.rollout import RolloutConfig, rollout
from toolgym.train.config import Hyperparameters
from toolgym.train.sft import prepare_sft, read_sft_data, sft_rows, successful
from toolgym.train.trl_run import TrlRunConfig, run_trl


@pytest.fixture(scope="module")
def plain_model_dir(tmp_path_factory):
    """The tiny ``model init`` model without the RL tests' tilt (whose huge logits SFT would first have to undo)."""
    from tiny_models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("plain") / "model", chatty=False)


def _gold_reply(env, turn: int) -> str:
    if turn < len(env.solution):
        return "\n".join(c.to_hermes() for c in env.solution[turn])
    return f"The answer is {env.answer}."


def _scripted_transformers(model_dir, envs):
    """The transformers backend with its generation step scripted: each prompt is answered with the gold reply of
    the environment whose question it holds, as the model's own tokens. Everything else -- rendering each turn's
    prompt through the backend's ChatRenderer, recording the reply, extending the prompt -- is the backend's.
    Returns the backend and the list of (episode, prompt ids) it rendered."""
    backend = make_backend(BackendConfig("transformers", Endpoint(model=str(model_dir)), Sampling(max_tokens=8),
                                         options={"threads": 1}))
    tok = backend.tokenizer
    rendered = []
    original = backend.renderer.next_prompt

    def next_prompt(episode, messages, tools):
        text, ids = original(episode, messages, tools)
        rendered.append((episode, list(ids)))
        return text, ids

    def generate(prompts):
        out = []
        for ids in prompts:
            text = tok.decode(ids)
            env = next(e for e in envs if e.question in text)
            turn = text.count("<|im_start|>assistant") - 1
            reply = _gold_reply(env, turn)
            reply_ids = tok(reply, add_special_tokens=False)["input_ids"]
            out.append((reply, reply_ids, len(reply_ids) + 1))
        return out

    backend.renderer.next_prompt = next_prompt
    backend._generate = generate
    return backend, rendered


def test_sft_tokens_are_the_rollouts_tokens(tiny_model_dir, train_envs, pool, tmp_path):
    backend, rendered = _scripted_transformers(tiny_model_dir, train_envs)
    out = tmp_path / "t.jsonl"
    rollout(train_envs, backend, out, config=RolloutConfig(samples=1), executor=pool)
    trajectories = list(read_trajectories(out))
    assert all(t.metrics.solve_f1 == 1.0 for t in trajectories)
    tok = backend.tokenizer
    rows = sft_rows(trajectories, {e.id: e for e in train_envs}, tok)
    assert not rows.skipped and len(rows.examples) == len(train_envs)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    for ex in rows.examples:
        env = next(e for e in train_envs if e.id == ex.env_id)
        prompts = [ids for episode, ids in rendered if episode.startswith(f"{env.id}#")]
        assert len(prompts) == len(env.solution) + 1 == ex.turns
        # Every prompt the model saw is a prefix of the training sequence, which ends with the last reply + stop.
        for ids in prompts:
            assert ex.input_ids[:len(ids)] == ids
        replies = [tok(_gold_reply(env, k), add_special_tokens=False)["input_ids"] for k in range(ex.turns)]
        assert ex.input_ids == prompts[-1] + replies[-1] + [im_end]
        # The loss falls on exactly the replies and the stop token after each: nothing of the prompts or tools.
        trained = [i for i, m in enumerate(ex.assistant_masks) if m]
        expected = [i for ids, reply in zip(prompts, replies) for i in range(len(ids), len(ids) + len(reply) + 1)]
        assert trained == expected
        assert all(ex.input_ids[i] == im_end for i in (len(ids) + len(r) for ids, r in zip(prompts, replies)))


def test_rows_leave_out_unknown_envs_long_sequences_and_duplicates(tiny_model_dir, trajectories, train_envs):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    envs = {e.id: e for e in train_envs}
    rows = sft_rows(trajectories + trajectories[:3], {k: v for k, v in list(envs.items())[1:]}, tok)
    assert rows.skipped["environment not in --envs"] >= 1 and rows.skipped["duplicate"] >= 1
    short = sft_rows(trajectories, envs, tok, max_length=50)
    assert not short.examples and short.skipped == {"longer than --max-length 50": len(trajectories)}
    kept = successful(trajectories, min_f1=1.0)
    assert kept and all(t.metrics.solve_f1 == 1.0 for t in kept) and len(kept) < len(trajectories)


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_sft_trains_resumes_and_the_result_rolls_out(plain_model_dir, train_envs, pool, tmp_path):
    tiny_model_dir = plain_model_dir
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, train_envs)
    data = prepare_sft(tmp_path / "run", train_envs, executor=pool)
    assert data.source == "gold" and data.trajectories == data.candidates == len(train_envs)
    assert len(read_sft_data(tmp_path / "run")) == len(train_envs)
    config = TrlRunConfig(algo="sft", model=str(tiny_model_dir), data=data.path, envs=envs, out=tmp_path / "run",
                          hparams=Hyperparameters(learning_rate=1e-2), per_device_batch_size=4, max_steps=4,
                          save_steps=2, threads=1)
    result = run_trl(config)
    losses = [r["loss"] for r in result.log if "loss" in r]
    assert result.steps == 4 and all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    before, after = _weights(tiny_model_dir), _weights(result.final)
    assert any((before[k] != after[k]).any() for k in before)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["algo"] == "sft" and "threads" not in manifest["config"]  # speed, not identity
    again = run_trl(TrlRunConfig(**{**config.__dict__, "max_steps": 6}))
    assert again.resumed_from and again.resumed_from.endswith("checkpoint-4") and again.steps == 6
    backend = make_backend(BackendConfig("transformers", Endpoint(model=str(again.final)), Sampling(max_tokens=8),
                                         options={"threads": 1}))
    assert rollout(train_envs[:2], backend, tmp_path / "t.jsonl", executor=pool).failed == 0


def test_sft_with_lora(tiny_model_dir, train_envs, pool, tmp_path):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, train_envs)
    data = prepare_sft(tmp_path / "lora", train_envs, executor=pool)
    result = run_trl(TrlRunConfig(algo="sft", model=str(tiny_model_dir), data=data.path, envs=envs,
                                  out=tmp_path / "lora", hparams=Hyperparameters(learning_rate=1e-2),
                                  per_device_batch_size=4, max_steps=2,
                                  lora=True, lora_r=4, lora_target_modules=["q_proj", "v_proj"], threads=1))
    before, after = _weights(tiny_model_dir), _weights(result.final)
    changed = {k for k in before if (before[k] != after[k]).any()}
    assert changed and all("q_proj" in k or "v_proj" in k for k in changed)


def test_prepare_refuses_other_sources_and_errors_are_clear(trajectories, train_envs, tiny_model_dir, tmp_path):
    traj = tmp_path / "t.jsonl"
    traj.write_text("".join(t.model_dump_json() + "\n" for t in trajectories))
    data = prepare_sft(tmp_path / "rft", train_envs, trajectories=[traj], min_f1=0.5)
    assert data.source == "rollout" and data.candidates == len(trajectories)
    assert data.trajectories == sum(t.metrics.solve_f1 >= 0.5 for t in trajectories)
    assert prepare_sft(tmp_path / "rft", train_envs, trajectories=[traj], min_f1=0.5) == data  # resumes
    with pytest.raises(ConfigError, match=r"another configuration \(min_f1: 0.5 -> 1.0\).*--overwrite"):
        prepare_sft(tmp_path / "rft", train_envs, trajectories=[traj], min_f1=1.0)
    again = prepare_sft(tmp_path / "rft", train_envs, trajectories=[traj], min_f1=1.0, overwrite=True)
    assert again.trajectories == sum(t.metrics.solve_f1 >= 1.0 for t in trajectories)
    assert len(read_sft_data(tmp_path / "rft")) == again.trajectories
    with pytest.raises(ConfigError, match="no SFT data"):
        read_sft_data(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="give --envs"):
        run_trl(TrlRunConfig(algo="sft", model=str(tiny_model_dir), data=data.path, out=tmp_path / "x"))


def test_cli_train_sft_gold_and_rejection_sampling(tiny_model_dir, trajectories, train_envs, tmp_path):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, train_envs)
    runner = CliRunner()
    r = runner.invoke(app, ["train", "sft", "--model", str(tiny_model_dir), "--envs", str(envs), "--out",
                            str(tmp_path / "gold"), "--lr", "1e-3", "--max-steps", "2", "--batch-size", "4",
                            "--threads", "1"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert f"{len(train_envs)} gold trajectories of {len(train_envs)}" in text and "2 steps" in text
    assert "of them trained (the replies)" in text and (tmp_path / "gold" / "final" / "config.json").exists()
    traj = tmp_path / "t.jsonl"
    traj.write_text("".join(t.model_dump_json() + "\n" for t in trajectories))
    r = runner.invoke(app, ["train", "sft", "--model", str(tiny_model_dir), "--envs", str(envs), "--out",
                            str(tmp_path / "rft"), "--trajectories", str(traj), "--max-steps", "1",
                            "--batch-size", "2"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "successful trajectories (Solve-F1 >= 1.0)" in " ".join(r.output.split())
    r = runner.invoke(app, ["train", "sft", "--model", str(tiny_model_dir), "--envs", str(envs), "--out",
                            str(tmp_path / "rft"), "--trajectories", str(traj), "--min-f1", "0.5"])
    assert r.exit_code == 2 and "another configuration (min_f1: 1.0 -> 0.5)" in " ".join(r.output.split())
    r = runner.invoke(app, ["train", "sft", "--model", str(tiny_model_dir), "--envs", str(envs), "--out",
                            str(tmp_path / "x"), "--trajectories", str(tmp_path / "absent.jsonl")])
    assert r.exit_code == 2 and "does not exist" in " ".join(r.output.split())
