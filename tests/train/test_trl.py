"""TRL on a tiny randomly initialised model, on the CPU: a few real training steps per algorithm."""

import json
import math
from dataclasses import fields

import pytest
import torch
from safetensors.torch import load_file

from toolgym.io import RunRefused, write_environments
from toolgym.models import BackendConfig, Endpoint, Sampling, make_backend
from toolgym.rollout import RolloutConfig, rollout
from toolgym.train.config import Hyperparameters, Tracking
from toolgym.train.trl_run import TrlRunConfig, last_checkpoint, run_trl


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _changed(before, after):
    return [k for k in before if not torch.equal(before[k], after[k])]


def _config(algo, model_dir, data_dir, out, **kw):
    """A small run; keyword arguments are TrlRunConfig fields or shared hyperparameters."""
    given = {"num_generations": 4, "per_device_batch_size": 4, "max_completion_length": 12, "max_steps": 3,
             "save_steps": 2, "learning_rate": 5e-3, "limit": 8, **kw}
    names = {f.name for f in fields(Hyperparameters)}
    hparams = Hyperparameters(**{k: v for k, v in given.items() if k in names})
    return TrlRunConfig(algo=algo, model=str(model_dir), data=data_dir, out=out, hparams=hparams,
                        **{k: v for k, v in given.items() if k not in names})


def test_grpo_trains_checkpoints_resumes_and_the_result_rolls_out(tiny_model_dir, data_dir, tmp_path, pool, train_envs):
    before = _weights(tiny_model_dir)
    out = tmp_path / "grpo"
    result = run_trl(_config("grpo", tiny_model_dir, data_dir, out))
    assert result.steps == 3 and result.resumed_from is None
    losses = [r["loss"] for r in result.log if "loss" in r]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    rewards = [r["rewards/toolgym_f1/mean"] for r in result.log if "rewards/toolgym_f1/mean" in r]
    assert rewards and any(r["frac_reward_zero_std"] < 1 for r in result.log if "frac_reward_zero_std" in r)
    assert _changed(before, _weights(result.final))
    assert last_checkpoint(out).endswith("checkpoint-3")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"] == 3 and manifest["config"]["algo"] == "grpo" and manifest["status"] == "complete"
    # the final model's card names the base model and the data (TRL's own said "fine-tuned version of None")
    card = (result.final / "README.md").read_text()
    assert f"- Base model: `{tiny_model_dir}`" in card and f"- Data: `{data_dir}` (" in card
    assert "- Algorithm: GRPO (TRL " in card and "| num_generations | 4 |" in card and "| temperature | 0.7 |" in card
    assert "- Reward: the step reward of the paper" in card and "- Steps: 3" in card
    assert "None" not in card.split("## Use")[0]
    # a rerun of the finished run trains nothing and leaves the final model alone
    final_bytes = (out / "final" / "model.safetensors").read_bytes()
    same = run_trl(_config("grpo", tiny_model_dir, data_dir, out))
    assert same.already_done and same.steps == 3 and len(same.log) == len(result.log)
    assert (out / "final" / "model.safetensors").read_bytes() == final_bytes and last_checkpoint(out).endswith("-3")
    # other settings are refused, not mixed into this run's checkpoints
    with pytest.raises(RunRefused, match="learning_rate: 0.005 -> 0.001.*--overwrite"):
        run_trl(_config("grpo", tiny_model_dir, data_dir, out, learning_rate=1e-3))
    # a longer run: two more steps start from the last checkpoint, not from scratch
    again = run_trl(_config("grpo", tiny_model_dir, data_dir, out, max_steps=5))
    assert again.resumed_from.endswith("checkpoint-3") and again.steps == 5 and not again.already_done
    # the saved model loads by path and rolls out in the environments (garbage is scored, not crashed on)
    backend = make_backend(BackendConfig("transformers", Endpoint(model=str(again.final)),
                                         Sampling(temperature=1.0, max_tokens=8)))
    summary = rollout(train_envs[:3], backend, tmp_path / "after.jsonl", config=RolloutConfig(samples=1),
                      executor=pool)
    assert summary.written == 3 and summary.failed == 0


def test_rloo_updates_the_weights_logs_tidy_lines_and_reports_to_tensorboard(tiny_model_dir, data_dir, tmp_path,
                                                                             capsys):
    before = _weights(tiny_model_dir)
    out = tmp_path / "rloo"
    result = run_trl(_config("rloo", tiny_model_dir, data_dir, out, max_steps=2,
                             tracking=Tracking(report_to=["tensorboard"], run_name="r")))
    assert all(math.isfinite(r["loss"]) for r in result.log if "loss" in r)
    assert _changed(before, _weights(result.final))
    printed = capsys.readouterr().out
    assert "step 1/2 · step reward " in printed and "step 2/2 · step reward " in printed and " · KL " in printed
    assert "{'loss'" not in printed  # not TRL's raw dictionary
    events = list((out / "runs").rglob("events.out.tfevents.*"))  # written offline, into the run folder
    assert events and events[0].stat().st_size > 0


def test_dpo_on_preference_pairs(tiny_model_dir, data_dir, tmp_path):
    before = _weights(tiny_model_dir)
    # every step on the same 8 pairs, so the loss can only be compared with itself (batches of 2 differ too much)
    result = run_trl(_config("dpo", tiny_model_dir, data_dir, tmp_path / "dpo", per_device_batch_size=8))
    losses = [r["loss"] for r in result.log if "loss" in r]
    assert losses and all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    assert _changed(before, _weights(result.final))


def test_lora_trains_adapters_and_saves_a_merged_model(tiny_model_dir, data_dir, tmp_path):
    pytest.importorskip("peft")
    before = _weights(tiny_model_dir)
    result = run_trl(_config("grpo", tiny_model_dir, data_dir, tmp_path / "lora", lora=True, lora_r=4,
                             learning_rate=5e-2))
    after = _weights(result.final)
    assert set(after) == set(before)  # merged back into plain weights
    changed = _changed(before, after)
    assert changed and all("proj" in k for k in changed)  # only the adapted linear layers moved


def test_whole_episodes_with_environment_factory(tiny_model_dir, train_envs, tmp_path):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, train_envs)
    result = run_trl(_config("grpo", tiny_model_dir, tmp_path, tmp_path / "episodes", episodes=True, envs=envs,
                             max_steps=2, max_turns=2, beta=0.0))
    assert result.steps == 2
    assert any("rewards/toolgym_episode_f1/mean" in r for r in result.log)


def test_clear_errors(tiny_model_dir, tmp_path):
    from toolgym.errors import ConfigError

    with pytest.raises(ConfigError, match="toolgym train prepare"):
        run_trl(_config("grpo", tiny_model_dir, tmp_path, tmp_path / "x"))
    with pytest.raises(ConfigError, match="--envs"):
        run_trl(_config("grpo", tiny_model_dir, tmp_path, tmp_path / "y", episodes=True))


def test_the_data_is_checked_before_any_model_is_loaded(tmp_path):
    """A model name that would need the hub is never reached when the data is wrong."""
    from toolgym.errors import ConfigError

    unreachable = "no-such-org/no-such-model"
    with pytest.raises(ConfigError, match="does not exist"):
        run_trl(_config("grpo", unreachable, tmp_path / "missing", tmp_path / "x"))
    with pytest.raises(ConfigError, match="no preference pairs"):
        run_trl(_config("dpo", unreachable, tmp_path, tmp_path / "y"))
    assert not (tmp_path / "x").exists()


def test_trl_is_configured_with_the_papers_settings(tmp_path):
    """What TRL gets by default: the shared hyperparameters under TRL's names, the paper's values."""
    from trl import DPOConfig, GRPOConfig, RLOOConfig

    from toolgym.errors import ConfigError
    from toolgym.train.trl_run import trainer_args

    args = trainer_args(TrlRunConfig(model="m", out=tmp_path / "run", data=tmp_path))
    assert isinstance(args, GRPOConfig)
    expected = {"learning_rate": 1e-6, "num_generations": 16, "temperature": 0.7, "beta": 0.001, "entropy_coef": 0.001,
                "epsilon": 0.2, "max_completion_length": 1024, "loss_type": "grpo", "weight_decay": 0.01,
                "lr_scheduler_type": "constant", "warmup_steps": 0, "max_grad_norm": 1.0, "num_iterations": 1,
                "scale_rewards": "group", "chat_template_kwargs": {"enable_thinking": False}}
    assert {k: getattr(args, k) for k in expected} == expected
    rloo = trainer_args(TrlRunConfig(algo="rloo", model="m", out=tmp_path / "run", data=tmp_path))
    assert isinstance(rloo, RLOOConfig) and (rloo.temperature, rloo.beta, rloo.weight_decay) == (0.7, 0.001, 0.01)
    dpo = trainer_args(TrlRunConfig(algo="dpo", model="m", out=tmp_path / "run", data=tmp_path))
    assert isinstance(dpo, DPOConfig) and dpo.beta == 0.1 and dpo.lr_scheduler_type == "constant"
    # the shared names map onto TRL's, --set wins, and what TRL cannot do is refused before a model loads
    tuned = TrlRunConfig(model="m", out=tmp_path / "run", data=tmp_path,
                         hparams=Hyperparameters(loss_aggregation="token-mean", warmup_ratio=0.1, enable_thinking=True),
                         extra={"temperature": 1.0, "gradient_checkpointing": False, "use_vllm": False})
    args = trainer_args(tuned)
    assert (args.loss_type, args.warmup_steps, args.temperature, args.gradient_checkpointing) == ("dapo", 0.1, 1.0, False)
    assert args.chat_template_kwargs == {"enable_thinking": True}
    with pytest.raises(ConfigError, match="--set no_such_setting"):
        trainer_args(TrlRunConfig(model="m", out=tmp_path, data=tmp_path, extra={"no_such_setting": 1}))
    with pytest.raises(ConfigError, match="TRL has no loss"):
        trainer_args(TrlRunConfig(model="m", out=tmp_path, data=tmp_path,
                                  hparams=Hyperparameters(loss_aggregation="seq-mean-token-sum")))
    with pytest.raises(ConfigError, match="--set"):
        trainer_args(TrlRunConfig(model="m", out=tmp_path, data=tmp_path, extra={"lr_scheduler_type": "bogus"}))
