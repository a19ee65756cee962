"""toolgym train verl: the generated configuration, checked by verl's own loading and validation (its Hydra
config files, validate_config, its config dataclasses), the exact command, the run folder, a real launch
of verl's trainer (failing fast in verl's own validation), and the CLI command. The agent loops and the
reward path through verl's workers are in test_verl_agent.py."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

pytest.importorskip("verl")
pytest.importorskip("hydra")

from ftrl_settings import NOT_CARRIED, REFERENCE, SCRIPT_VARIANTS, STOCK_KEY
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from toolgym.errors import ConfigError
from toolgym.formats import env_to_verl
from toolgym.io import write_parquet
from toolgym.train.config import Hyperparameters, Tracking
from toolgym.train.verl_run import (
    VerlRunConfig,
    format_command,
    launch,
    reward_file,
    verl_command,
)

ROOT = Path(__file__).resolve().parents[2]


def verl_compose(command: list[str]):
    """Compose the configuration the way verl's main_ppo does: its own config folder, its ppo_trainer."""
    import verl.trainer.main_ppo as main

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    assert command[1:3] == ["-m", "verl.trainer.main_ppo"]
    with initialize_config_dir(config_dir=str(Path(main.__file__).parent / "config"), version_base=None):
        return compose(config_name="ppo_trainer", overrides=command[3:])


def verl_validate(config) -> None:
    """verl's own checks (main_ppo's validate_config) and its config dataclasses."""
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config
    from verl.workers.config import RolloutConfig

    validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    assert isinstance(omega_conf_to_dataclass(config.algorithm), AlgoConfig)
    assert isinstance(omega_conf_to_dataclass(config.actor_rollout_ref.rollout), RolloutConfig)
    actor = omega_conf_to_dataclass(config.actor_rollout_ref.actor)
    assert actor.use_kl_loss and actor.kl_loss_type == "low_var_kl"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, samples):
    """verl parquet from the sample environments (train and test splits), as `toolgym train prepare` lays it."""
    out = tmp_path_factory.mktemp("verl-data")
    rows = [env_to_verl(e, i) for i, e in enumerate(samples)]
    write_parquet(out / "verl" / "train.parquet", rows[:6])
    write_parquet(out / "verl" / "test.parquet", rows[6:])
    return out


def _compose_paper_run(data_dir, out, **kw):
    cfg = VerlRunConfig(model="Qwen/Qwen2.5-7B-Instruct", data=data_dir, out=out, **kw)
    return verl_compose(verl_command(cfg))


@pytest.mark.filterwarnings("ignore:Disabled critic:UserWarning")
def test_defaults_are_the_reference_runs_settings(data_dir, tmp_path):
    """Every setting of the paper's run (its fork's ppo_trainer.yaml with FTRL-GRPO-Qwen25.sh's overrides) has
    the same value in the configuration verl composes from toolgym's defaults, except the few toolgym does not
    carry, each with its reason."""
    config = _compose_paper_run(data_dir, tmp_path)
    different = {}
    for key, (value, _file, _line) in REFERENCE.items():
        if key in NOT_CARRIED:
            continue
        ours = OmegaConf.select(config, STOCK_KEY.get(key, key), throw_on_missing=True)
        if ours != value:
            different[key] = (ours, value)
    assert different == {}
    assert config.reward.custom_reward_function.path == str(reward_file())
    assert config.reward.custom_reward_function.name == "compute_score"
    assert config.data.train_files == str(data_dir.resolve() / "verl" / "train.parquet")
    assert config.data.val_files == str(data_dir.resolve() / "verl" / "test.parquet")
    assert config.trainer.default_local_dir == str(tmp_path.resolve() / "checkpoints")
    assert config.actor_rollout_ref.rollout.agent.default_agent_loop == "toolgym_single_turn"


@pytest.mark.filterwarnings("ignore:Disabled critic:UserWarning")
@pytest.mark.parametrize("script", sorted(SCRIPT_VARIANTS))
def test_each_reference_script_is_one_option_away(data_dir, tmp_path, script):
    """The other five scripts: Reinforce++ is --algo reinforce_plus_plus, the Qwen3 runs --no-thinking (the
    default), the reasoning runs --thinking --max-completion-length 8192."""
    changes = SCRIPT_VARIANTS[script]
    thinking = changes.get("data.enable_thinking", (False, 0))[0]
    length = changes.get("data.max_response_length", (None, 0))[0]
    algo = changes.get("algorithm.adv_estimator", ("grpo", 0))[0]
    config = _compose_paper_run(data_dir, tmp_path, algo=algo,
                                hparams=Hyperparameters(enable_thinking=thinking, max_completion_length=length))
    for key, (value, _file, _line) in {**REFERENCE, **{k: (v, script, line) for k, (v, line) in changes.items()}}.items():
        if key not in NOT_CARRIED:
            assert OmegaConf.select(config, STOCK_KEY.get(key, key)) == value, (script, key)


def test_the_settings_table_cites_every_reference_setting():
    """docs/training.md names each setting of the paper's run with the file and line it comes from."""
    text = (ROOT / "docs" / "training.md").read_text()
    table = text.split("### Every setting and where it comes from", 1)[1].split("\n## ", 1)[0]
    missing = [f"{key} ({file}:{line})" for key, (_v, file, line) in REFERENCE.items()
               if f"{file.rsplit('/', 1)[1]}:{line}" not in table]
    missing += [f"{script}:{line}" for script, changes in SCRIPT_VARIANTS.items() for _k, (_v, line) in changes.items()
                if f"{script.rsplit('/', 1)[1]}:{line}" not in table]
    assert missing == []
    for key in NOT_CARRIED:
        assert key.rsplit(".", 1)[1] in table, key


def _documented_command() -> str:
    text = (ROOT / "docs" / "training.md").read_text()
    section = text.split("## verl (cluster)", 1)[1]
    block = re.search(r"<!-- generated-command -->\n```bash\n(.*?)```", section, re.DOTALL)
    assert block, "docs/training.md must show the generated command after <!-- generated-command -->"
    return block.group(1)


def test_generated_command_is_exactly_the_documented_one(tmp_path):
    data, run = tmp_path / "data", tmp_path / "runs" / "grpo"
    write_parquet(data / "verl" / "train.parquet", [{"x": 1}])
    write_parquet(data / "verl" / "test.parquet", [{"x": 1}])
    cfg = VerlRunConfig(model="Qwen/Qwen2.5-7B-Instruct", data=data, out=run, python="python")
    documented = (_documented_command().replace("$DATA", str(data.resolve())).replace("$RUN", str(run.resolve()))
                  .replace("<toolgym>", str(reward_file().parents[1])))
    assert shlex.split(documented.replace("\\\n", " ")) == verl_command(cfg)  # as a shell reads it
    assert format_command(verl_command(cfg)).strip() == documented.strip()


@pytest.mark.filterwarnings("ignore:Disabled critic:UserWarning")  # verl's notice for non-GAE estimators
@pytest.mark.parametrize("algo", ["grpo", "reinforce_plus_plus"])
@pytest.mark.parametrize("multi_turn", [False, True])
def test_verl_loads_and_validates_what_we_generate(data_dir, tmp_path, algo, multi_turn):
    cfg = VerlRunConfig(model="Qwen/Qwen2.5-7B-Instruct", data=data_dir, out=tmp_path, algo=algo, multi_turn=multi_turn,
                        ray_address="10.0.0.1:6379", gpus=4, nodes=2,
                        overrides=["trainer.save_freq=50", "actor_rollout_ref.rollout.val_kwargs.n=2"])
    config = verl_compose(verl_command(cfg))
    verl_validate(config)
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    assert get_adv_estimator_fn(config.algorithm.adv_estimator) is not None
    assert config.algorithm.adv_estimator == algo
    actor, rollout = config.actor_rollout_ref.actor, config.actor_rollout_ref.rollout
    assert actor.optim.lr == 1e-6 and actor.entropy_coeff == 0.001 and actor.kl_loss_coef == 0.001
    assert rollout.n == 16 and rollout.temperature == 0.7 and rollout.tensor_model_parallel_size == 2
    assert actor.loss_agg_mode == "seq-mean-token-mean"
    assert config.trainer.save_freq == 50 and rollout.val_kwargs.n == 2  # --set wins
    assert config.trainer.n_gpus_per_node == 4 and config.trainer.nnodes == 2
    assert config.ray_kwargs.ray_init.address == "10.0.0.1:6379"
    assert config.data.apply_chat_template_kwargs.enable_thinking is False
    assert config.data.custom_cls.path == "pkg://toolgym.train.verl_agent"
    assert config.reward.custom_reward_function.path == str(reward_file())
    assert rollout.agent.default_agent_loop == ("toolgym_multi_turn" if multi_turn else "toolgym_single_turn")
    assert rollout.multi_turn.enable is multi_turn
    assert rollout.prompt_length == 16384 and rollout.response_length == (4096 if multi_turn else 1024)
    from verl.utils.dataset.rl_dataset import get_dataset_class

    assert get_dataset_class(config.data).__name__ == "ToolRowsDataset"


def test_bad_settings_fail_before_launch(data_dir, tmp_path):
    with pytest.raises(ConfigError, match="--algo"):
        VerlRunConfig(model="m", data=data_dir, out=tmp_path, algo="ppo")
    with pytest.raises(ConfigError, match="--set"):
        VerlRunConfig(model="m", data=data_dir, out=tmp_path, overrides=["no_equals_sign"])
    with pytest.raises(ConfigError, match="mini-batch"):
        VerlRunConfig(model="m", data=data_dir, out=tmp_path, train_batch_size=16)
    with pytest.raises(ConfigError, match="rejected"):  # Hydra: no such key
        launch(VerlRunConfig(model="m", data=data_dir, out=tmp_path, overrides=["trainer.no_such_key=1"]), dry_run=True)
    with pytest.raises(ConfigError, match="train prepare"):
        launch(VerlRunConfig(model="m", data=tmp_path / "missing", out=tmp_path), dry_run=True)


def test_dry_run_writes_the_run_folder(data_dir, tmp_path):
    cfg = VerlRunConfig(model="Qwen/Qwen2.5-7B-Instruct", data=data_dir, out=tmp_path / "run", multi_turn=True,
                        trajectory_reward="sum")
    run = launch(cfg, dry_run=True)
    assert run.status == "dry-run" and not (run.out / "train.log").exists()
    record = json.loads((run.out / "run.json").read_text())
    assert record["status"] == "dry-run" and record["command"] == run.command
    # the complete configuration is verl's composition of the command's overrides
    assert OmegaConf.load(run.config) == verl_compose(run.command)
    assert OmegaConf.load(run.overrides).actor_rollout_ref.rollout.n == 16
    assert shlex.split((run.out / "command.sh").read_text().split("\n", 3)[3].replace("\\\n", " ")) == run.command
    # the agent-loop registry file, read the way verl's AgentLoopWorker reads it
    from hydra.utils import get_class

    loops = {e.name: e for e in OmegaConf.load(run.out / "agent_loops.yaml")}
    assert set(loops) == {"toolgym_single_turn", "toolgym_multi_turn"}
    assert loops["toolgym_multi_turn"].trajectory_reward == "sum"
    assert get_class(loops["toolgym_single_turn"]._target_).__name__ == "ToolgymSingleTurnAgentLoop"


@pytest.mark.slow
def test_launch_runs_verl_and_records_a_failed_run(data_dir, tmp_path):
    """The real command runs; verl itself rejects a setting (in main_ppo's validation, before Ray starts),
    and the run is recorded as failed with its log. With our pre-check the same setting never launches."""
    cfg = VerlRunConfig(model="m", data=data_dir, out=tmp_path / "run", gpus=1, train_batch_size=4,
                        hparams=Hyperparameters(num_generations=2),
                        ppo_mini_batch_size=2, overrides=["actor_rollout_ref.actor.loss_agg_mode=bogus"])
    with pytest.raises(ConfigError, match="loss_agg_mode"):
        launch(cfg)
    assert not (cfg.out / "train.log").exists()
    run = launch(cfg, validate=False)
    assert run.status == "failed" and run.returncode not in (0, None)
    assert "Invalid loss_agg_mode: bogus" in run.log.read_text()
    record = json.loads((run.out / "run.json").read_text())
    assert record["status"] == "failed" and record["returncode"] == run.returncode and record["log"] == str(run.log)


def test_cli_dry_run_prints_the_command(data_dir, tmp_path):
    import typer
    from typer.testing import CliRunner

    from toolgym.cli._train_verl import train_verl_cmd

    app = typer.Typer()
    app.command()(train_verl_cmd)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["--algo", "reinforce_plus_plus", "--model", "Qwen/Qwen3-8B", "--data", str(data_dir),
                                   "--out", str(out), "--gpus", "4", "--no-thinking", "--dry-run",
                                   "--set", "trainer.total_epochs=2"])
    assert res.exit_code == 0, res.output
    assert "verl.trainer.main_ppo" in res.output and "algorithm.adv_estimator=reinforce_plus_plus" in res.output
    assert "trainer.total_epochs=2" in res.output and "+data.apply_chat_template_kwargs.enable_thinking=false" in res.output
    assert json.loads((out / "run.json").read_text())["status"] == "dry-run"
    bad = CliRunner().invoke(app, ["--algo", "dpo", "--model", "m", "--data", str(data_dir), "--out", str(out)])
    assert bad.exit_code == 2 and "--algo" in bad.output


@pytest.mark.filterwarnings("ignore:Disabled critic:UserWarning")
def test_cli_dry_run_shows_the_papers_sampling_loss_and_template_by_default(data_dir, tmp_path):
    """`toolgym train verl --dry-run` with no settings: rollout temperature 0.7, seq-mean-token-mean, thinking off
    (the fork's ppo_trainer.yaml lines 99, 52, 24) -- in the printed command and in verl's composed config."""
    from typer.testing import CliRunner

    from toolgym.cli import app

    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "verl", "--model", "Qwen/Qwen3-8B", "--data", str(data_dir),
                                   "--out", str(out), "--dry-run"])
    assert res.exit_code == 0, res.output
    for shown in ("actor_rollout_ref.rollout.temperature=0.7", "actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-mean",
                  "+data.apply_chat_template_kwargs.enable_thinking=false"):
        assert shown in res.output
    composed = OmegaConf.load(out / "verl_config.yaml")
    assert composed.actor_rollout_ref.rollout.temperature == 0.7
    assert composed.actor_rollout_ref.actor.loss_agg_mode == "seq-mean-token-mean"
    assert composed.data.apply_chat_template_kwargs.enable_thinking is False
    # the shared names and the trackers reach verl's keys
    res = CliRunner().invoke(app, ["train", "verl", "--model", "m", "--data", str(data_dir), "--out", str(out),
                                   "--dry-run", "--thinking", "--temperature", "1.0", "--learning-rate", "2e-6",
                                   "--num-generations", "8", "--beta", "0.01", "--entropy-coef", "0",
                                   "--loss-aggregation", "token-mean", "--report-to", "tensorboard",
                                   "--run-name", "r1", "--project", "p"])
    assert res.exit_code == 0, res.output
    composed = OmegaConf.load(out / "verl_config.yaml")
    actor, rollout = composed.actor_rollout_ref.actor, composed.actor_rollout_ref.rollout
    assert (rollout.temperature, rollout.n, actor.optim.lr, actor.kl_loss_coef, actor.entropy_coeff,
            actor.loss_agg_mode) == (1.0, 8, 2e-6, 0.01, 0, "token-mean")
    assert composed.data.apply_chat_template_kwargs.enable_thinking is True
    assert list(composed.trainer.logger) == ["console", "tensorboard"]
    assert (composed.trainer.experiment_name, composed.trainer.project_name) == ("r1", "p")
    bad = CliRunner().invoke(app, ["train", "verl", "--model", "m", "--data", str(data_dir), "--out", str(out),
                                   "--dry-run", "--loss-aggregation", "sum"])
    assert bad.exit_code == 2 and "--loss-aggregation" in bad.output


def test_tracking_names_what_to_install(monkeypatch):
    import importlib.util

    assert Tracking(report_to=["tensorboard,wandb"]).report_to == ["tensorboard", "wandb"]
    assert Tracking(report_to=["none"]).report_to == []
    with pytest.raises(ConfigError, match="--report-to"):
        Tracking(report_to=["mlflow"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match="pip install wandb"):
        Tracking(report_to=["wandb"]).check_installed()
    Tracking(report_to=["tensorboard"]).check_installed()
