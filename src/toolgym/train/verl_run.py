"""Training on a cluster with stock verl (PyPI, no fork): the paper's GRPO / Reinforce++ run, configured
and launched from toolgym.

:class:`VerlRunConfig` composes the shared :class:`~toolgym.train.config.Hyperparameters` (the paper's
values: lr 1e-6, 16 samples per prompt, KL loss 0.001, entropy 0.001, rollout temperature 0.7, policy loss
``seq-mean-token-mean``, thinking off, ...) with verl's own settings (batch 512, mini-batch 32, the rollout
engine, GPUs, ...). :func:`build_verl_config` turns it into verl's Hydra overrides, :func:`verl_command` into
the exact ``python -m verl.trainer.main_ppo ...`` command, and :func:`launch` writes the run folder and
starts the trainer::

    RUN/verl_overrides.yaml   what toolgym sets (nested), --set values included
    RUN/verl_config.yaml      the complete configuration verl composes from them (its defaults + ours)
    RUN/agent_loops.yaml      verl's agent-loop registry file: toolgym's loops (toolgym.train.verl_agent)
    RUN/command.sh            the command, runnable by hand
    RUN/train.log             the trainer's output
    RUN/run.json              status, return code, duration
    RUN/checkpoints/          verl's checkpoints (trainer.default_local_dir)

Before launching, the configuration is composed with verl's own Hydra config files and checked with
verl's ``validate_config``, so a wrong ``--set`` or an impossible batch size fails here, in seconds, not
after Ray has started. verl, hydra and omegaconf are imported only inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import atomic_write_text
from .config import Hyperparameters, Tracking

ALGOS = ("grpo", "reinforce_plus_plus")
# The names verl's workers and toolgym.train.verl_agent share, defined here because this module imports no
# verl: the loops themselves (verl_agent) need it, the run configuration does not.
SINGLE_TURN_LOOP = "toolgym_single_turn"  # the paper's recipe: one reply per per-turn prompt
MULTI_TURN_LOOP = "toolgym_multi_turn"  # whole episodes
#: verl agent-loop name -> class (the ``_target_`` of the registry file verl's workers read).
AGENT_LOOPS = {
    SINGLE_TURN_LOOP: "toolgym.train.verl_agent.ToolgymSingleTurnAgentLoop",
    MULTI_TURN_LOOP: "toolgym.train.verl_agent.ToolgymMultiTurnAgentLoop",
}
#: How the multi-turn loop turns an episode's step rewards into verl's one trajectory reward.
TRAJECTORY_REWARDS = ("mean", "sum", "solve_f1")
DATASET_CLASS = ("pkg://toolgym.train.verl_agent", "ToolRowsDataset")
TRAINER_MODULE = "verl.trainer.main_ppo"


def reward_file() -> Path:
    """The installed ``toolgym/reward/verl.py``: verl loads ``compute_score`` from it by file path."""
    return Path(__file__).resolve().parent.parent / "reward" / "verl.py"


@dataclass(kw_only=True)
class VerlRunConfig:
    """A verl run. Defaults are the paper's (``docs/training.md`` maps each one to its reference file and
    line); ``hparams`` is the block TRL and the loop share."""

    model: str
    data: Path  # the folder of `toolgym train prepare` (DATA/verl/train.parquet, test.parquet)
    out: Path  # the run folder
    algo: str = "grpo"  # algorithm.adv_estimator: grpo or reinforce_plus_plus
    hparams: Hyperparameters = field(default_factory=Hyperparameters)
    tracking: Tracking = field(default_factory=Tracking)  # trainer.logger (console always), project, run name
    kl_loss_type: str = "low_var_kl"
    train_batch_size: int = 512
    ppo_mini_batch_size: int = 32
    max_prompt_length: int = 16384
    ppo_max_token_len_per_gpu: int = 32768
    rollout_engine: str = "vllm"  # or sglang
    rollout_tp: int | None = None  # rollout tensor parallel size; None: 2 (paper), at most the GPUs per node
    gpu_memory_utilization: float = 0.7
    max_num_batched_tokens: int = 32768
    gpus: int = 8  # trainer.n_gpus_per_node
    nodes: int = 1
    save_freq: int = 120
    test_freq: int = -1
    total_epochs: int = 1
    ray_address: str | None = None  # None: a local Ray cluster; else an address such as 10.0.0.1:6379 or auto
    multi_turn: bool = False  # whole episodes (toolgym_multi_turn) instead of the paper's per-turn prefixes
    max_turns: int = 20  # multi-turn: assistant turns per episode
    max_tool_response_chars: int = 8192  # multi-turn: a tool output longer than this is cut (as verl does)
    trajectory_reward: str = "mean"  # multi-turn: mean, sum of the step rewards, or the episode's solve_f1
    tool_format: str | None = None  # how replies are read (hermes, llama3, ...); None: each row's, else hermes
    malformed: str = "end"  # multi-turn: an unreadable call ends the episode (the paper's) or gets feedback
    overrides: list[str] = field(default_factory=list)  # --set key=value (Hydra syntax); they win
    python: str = sys.executable

    def __post_init__(self) -> None:
        self.data, self.out = Path(self.data), Path(self.out)
        if self.algo not in ALGOS:
            raise ConfigError(f"--algo must be one of {', '.join(ALGOS)}, not {self.algo!r}")
        if self.tool_format is not None:
            from ..parse import tool_format

            self.tool_format = tool_format(self.tool_format).name
        if self.malformed not in ("end", "feedback"):
            raise ConfigError(f"--malformed must be 'end' or 'feedback', not {self.malformed!r}")
        if self.trajectory_reward not in TRAJECTORY_REWARDS:
            raise ConfigError(f"--trajectory-reward must be one of {', '.join(TRAJECTORY_REWARDS)}, "
                              f"not {self.trajectory_reward!r}")
        for name in ("train_batch_size", "ppo_mini_batch_size", "gpus", "nodes", "max_turns"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.ppo_mini_batch_size > self.train_batch_size:
            raise ConfigError(f"the PPO mini-batch ({self.ppo_mini_batch_size}) cannot exceed the train "
                              f"batch ({self.train_batch_size}); change one of them")
        for item in self.overrides:
            _split_override(item)

    @property
    def response_length(self) -> int:
        return self.hparams.response_length(episodes=self.multi_turn)

    @property
    def experiment_name(self) -> str:
        if self.tracking.run_name:
            return self.tracking.run_name
        model = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(self.model.rstrip("/")).name) or "model"
        return f"{self.algo}-{model}" + ("-episodes" if self.multi_turn else "")

    @property
    def logger(self) -> list[str]:
        """verl's ``trainer.logger``: the console, and the trackers of ``--report-to``."""
        return ["console", *self.tracking.report_to]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(data=str(self.data), out=str(self.out))
        return d


# ---- the configuration --------------------------------------------------------------------------------
def data_files(cfg: VerlRunConfig) -> tuple[Path, Path]:
    """(train, validation) parquet files; validation falls back to the training file when there is no
    held-out split (verl always builds a validation set; ``test_freq=-1`` never runs it)."""
    folder = cfg.data.resolve() / "verl"
    train, test = folder / "train.parquet", folder / "test.parquet"
    return train, test if test.exists() else train


def build_verl_config(cfg: VerlRunConfig) -> dict[str, Any]:
    """verl's settings for the run, as ``{dotted.key: value}`` in the order of the paper's script; a key
    that verl's config does not have yet carries Hydra's ``+`` prefix. ``--set`` values replace ours."""
    out = cfg.out.resolve()
    train, val = data_files(cfg)
    tp = cfg.rollout_tp if cfg.rollout_tp is not None else min(2, cfg.gpus)
    loop = MULTI_TURN_LOOP if cfg.multi_turn else SINGLE_TURN_LOOP
    c: dict[str, Any] = {
        "algorithm.adv_estimator": cfg.algo,
        "data.train_files": str(train),
        "data.val_files": str(val),
        "data.train_batch_size": cfg.train_batch_size,
        "data.max_prompt_length": cfg.max_prompt_length,
        "data.max_response_length": cfg.response_length,
        "data.filter_overlong_prompts": True,
        "data.truncation": "error",
        "data.prompt_key": "prompt",
        "data.custom_cls.path": DATASET_CLASS[0],
        "data.custom_cls.name": DATASET_CLASS[1],
    }
    hp = cfg.hparams
    if hp.enable_thinking is not None:  # the fork's data.enable_thinking, passed to every chat template
        c["+data.apply_chat_template_kwargs.enable_thinking"] = hp.enable_thinking
    c.update({
        "actor_rollout_ref.model.path": cfg.model,
        "actor_rollout_ref.actor.optim.lr": hp.learning_rate,
        "actor_rollout_ref.actor.optim.weight_decay": hp.weight_decay,
        "actor_rollout_ref.actor.optim.lr_scheduler_type": hp.lr_scheduler_type,
        "actor_rollout_ref.actor.optim.lr_warmup_steps_ratio": hp.warmup_ratio,
        "actor_rollout_ref.actor.optim.clip_grad": hp.max_grad_norm,
        "actor_rollout_ref.model.use_remove_padding": True,
        "actor_rollout_ref.actor.ppo_mini_batch_size": cfg.ppo_mini_batch_size,
        "actor_rollout_ref.actor.use_dynamic_bsz": True,
        "actor_rollout_ref.actor.ppo_max_token_len_per_gpu": cfg.ppo_max_token_len_per_gpu,
        "actor_rollout_ref.actor.use_kl_loss": True,
        "actor_rollout_ref.actor.kl_loss_coef": hp.beta,
        "actor_rollout_ref.actor.kl_loss_type": cfg.kl_loss_type,
        "actor_rollout_ref.actor.entropy_coeff": hp.entropy_coef,
        "actor_rollout_ref.actor.loss_agg_mode": hp.loss_aggregation,
        "actor_rollout_ref.actor.clip_ratio_low": hp.epsilon,  # verl 0.9 reads these, not clip_ratio
        "actor_rollout_ref.actor.clip_ratio_high": hp.epsilon,
        "actor_rollout_ref.model.enable_gradient_checkpointing": True,
        "actor_rollout_ref.actor.fsdp_config.param_offload": False,
        "actor_rollout_ref.actor.fsdp_config.optimizer_offload": False,
        "actor_rollout_ref.rollout.tensor_model_parallel_size": tp,
        "actor_rollout_ref.rollout.name": cfg.rollout_engine,
        "actor_rollout_ref.rollout.gpu_memory_utilization": cfg.gpu_memory_utilization,
        "actor_rollout_ref.rollout.n": hp.num_generations,
        "actor_rollout_ref.rollout.temperature": hp.temperature,
        "actor_rollout_ref.rollout.max_num_batched_tokens": cfg.max_num_batched_tokens,
        "actor_rollout_ref.rollout.agent.default_agent_loop": loop,
        "actor_rollout_ref.rollout.agent.agent_loop_config_path": str(out / "agent_loops.yaml"),
    })
    if cfg.multi_turn:
        c.update({
            "actor_rollout_ref.rollout.multi_turn.enable": True,
            "actor_rollout_ref.rollout.multi_turn.max_assistant_turns": cfg.max_turns,
            "actor_rollout_ref.rollout.multi_turn.max_tool_response_length": cfg.max_tool_response_chars,
        })
    c.update({
        "actor_rollout_ref.ref.fsdp_config.param_offload": True,
        "reward.reward_manager.name": "naive",
        "reward.custom_reward_function.path": str(reward_file()),
        "reward.custom_reward_function.name": "compute_score",
        **({"+reward.custom_reward_function.reward_kwargs.tool_format": cfg.tool_format} if cfg.tool_format else {}),
        "algorithm.use_kl_in_reward": False,
        "trainer.critic_warmup": 0,
        "trainer.logger": cfg.logger,
        "trainer.project_name": cfg.tracking.project,
        "trainer.experiment_name": cfg.experiment_name,
        "trainer.val_before_train": False,
        "trainer.n_gpus_per_node": cfg.gpus,
        "trainer.nnodes": cfg.nodes,
        "trainer.save_freq": cfg.save_freq,
        "trainer.test_freq": cfg.test_freq,
        "trainer.total_epochs": cfg.total_epochs,
        "trainer.default_local_dir": str(out / "checkpoints"),
    })
    if cfg.ray_address and cfg.ray_address != "local":
        c["+ray_kwargs.ray_init.address"] = cfg.ray_address
    for item in cfg.overrides:
        key, value = _split_override(item)
        bare = key.lstrip("+~")
        for existing in [k for k in c if k.lstrip("+~") == bare]:
            del c[existing]
        c[key] = _Raw(value)
    return c


class _Raw(str):
    """A value given in Hydra syntax already (from --set): passed through unchanged."""


def _split_override(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip() or not re.fullmatch(r"[+~]{0,2}[A-Za-z0-9_.\-@/]+", key.strip()):
        raise ConfigError(f"--set takes key=value in Hydra's syntax (e.g. trainer.save_freq=50), "
                          f"not {item!r}")
    return key.strip(), value


_BARE = re.compile(r"[A-Za-z0-9_./@+:-]+")
_NOT_A_STRING = re.compile(r"(?i)(true|false|null|none|nan|[+-]?inf|[+-]?[0-9_.]+(e[+-]?[0-9]+)?)")


def hydra_value(value: Any) -> str:
    """A value in Hydra's override grammar (strings quoted when they would read as something else)."""
    if isinstance(value, _Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    if _BARE.fullmatch(text) and not _NOT_A_STRING.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hydra_overrides(config: dict[str, Any]) -> list[str]:
    return [f"{key}={hydra_value(value)}" for key, value in config.items()]


def verl_command(cfg: VerlRunConfig) -> list[str]:
    """The exact command that starts verl's trainer for this run (run it in the run folder)."""
    return [cfg.python, "-m", TRAINER_MODULE, *hydra_overrides(build_verl_config(cfg))]


def format_command(command: list[str]) -> str:
    """The command as the paper's scripts write it: one override per line."""
    head = " ".join(shlex.quote(part) for part in command[:3])
    return " \\\n    ".join([head, *(shlex.quote(part) for part in command[3:])])


def agent_loop_entries(cfg: VerlRunConfig) -> list[dict[str, Any]]:
    """verl's agent-loop registry file (``agent_loop_config_path``): both toolgym loops, so a row's
    ``agent_name`` column can also pick one."""
    return [
        {"name": SINGLE_TURN_LOOP, "_target_": AGENT_LOOPS[SINGLE_TURN_LOOP]},
        {"name": MULTI_TURN_LOOP, "_target_": AGENT_LOOPS[MULTI_TURN_LOOP], "trajectory_reward": cfg.trajectory_reward,
         "tool_format": cfg.tool_format, "malformed": cfg.malformed},
    ]


# ---- verl's own loading and validation -------------------------------------------------------------------
def verl_config_dir() -> Path:
    """verl's Hydra config folder (found without importing verl)."""
    import importlib.util

    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.origin:
        raise ConfigError("verl is not installed; install it with `pip install 'toolgym[verl]'` "
                          "(on GPU machines: `pip install 'verl[vllm]'`)")
    return Path(spec.origin).parent / "trainer" / "config"


def compose_verl_config(overrides: list[str]):
    """The configuration verl's ``main_ppo`` composes from these overrides (its ``ppo_trainer`` defaults
    and Hydra's override parser), as an OmegaConf ``DictConfig``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    config_dir = verl_config_dir()
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            return compose(config_name="ppo_trainer", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"verl rejected the configuration: {exc} (check the --set values)") from exc


def validate_verl_config(config) -> None:
    """verl's own checks, as ``main_ppo`` runs them before starting Ray, plus the dataclass conversion of
    the algorithm, actor and rollout sections that its workers do."""
    from hydra.errors import HydraException
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Disabled critic as ... != gae": expected for GRPO
            validate_config(config=config, use_reference_policy=need_reference_policy(config),
                            use_critic=need_critic(config))
            omega_conf_to_dataclass(config.algorithm)
            omega_conf_to_dataclass(config.actor_rollout_ref.rollout)
    except (AssertionError, ValueError, TypeError, HydraException) as exc:
        raise ConfigError(f"verl's validation failed: {exc}") from exc


# ---- the run folder and the launch ---------------------------------------------------------------------
@dataclass
class VerlRun:
    """What :func:`launch` did: the files it wrote and how the trainer ended."""

    out: Path
    command: list[str]
    status: str  # dry-run, succeeded, failed
    returncode: int | None = None
    seconds: float = 0.0
    log: Path | None = None
    config: Path | None = None  # the complete configuration verl composed
    overrides: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def _nested(config: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in config.items():
        node = tree
        parts = key.lstrip("+~").split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = str(value) if isinstance(value, _Raw) else value
    return tree


def write_run(cfg: VerlRunConfig, *, validate: bool = True) -> VerlRun:
    """Write the run folder (everything but the log) and return the run, not started. With ``validate``,
    verl composes and checks the configuration first (needs verl installed)."""
    if validate:
        verl_config_dir()  # without verl: the one-line message naming the extra, before anything is written
    try:
        import yaml
    except ImportError as exc:  # PyYAML comes with verl (the verl extra)
        raise ConfigError("writing a verl run needs PyYAML: pip install 'toolgym[verl]'") from exc

    train, _ = data_files(cfg)
    if not train.exists():
        raise ConfigError(f"{train} does not exist: write the data with "
                          f"`toolgym train prepare --out {cfg.data}`")
    out = cfg.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = build_verl_config(cfg)
    command = verl_command(cfg)
    run = VerlRun(out=out, command=command, status="written", overrides=out / "verl_overrides.yaml")
    atomic_write_text(run.overrides, yaml.safe_dump(_nested(config), sort_keys=False))
    atomic_write_text(out / "agent_loops.yaml", yaml.safe_dump(agent_loop_entries(cfg), sort_keys=False))
    atomic_write_text(out / "command.sh", "#!/usr/bin/env bash\n# written by `toolgym train verl`\n"
                      f"cd {shlex.quote(str(out))}\n" + format_command(command) + "\n")
    (out / "command.sh").chmod(0o755)
    if validate:
        from omegaconf import OmegaConf

        composed = compose_verl_config(command[3:])
        validate_verl_config(composed)
        run.config = out / "verl_config.yaml"
        atomic_write_text(run.config, OmegaConf.to_yaml(composed))
    return run


def launch(cfg: VerlRunConfig, *, dry_run: bool = False, validate: bool = True,
           echo: bool = False) -> VerlRun:
    """Write the run folder and, unless ``dry_run``, run verl's trainer to the end (in the run folder, its
    output in ``train.log``; ``echo`` also prints it). The outcome is recorded in ``run.json``; a trainer
    that fails is a ``failed`` run with its return code, not an exception."""
    if not dry_run:
        cfg.tracking.check_installed()
    run = write_run(cfg, validate=validate)
    if dry_run:
        run.status = "dry-run"
        _record(run, cfg)
        return run
    run.log = run.out / "train.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "1"}
    start = time.monotonic()
    _record(run, cfg, status="running")
    # The trainer writes to the log file itself (not a pipe): Ray's daemons may inherit its stdout and
    # would keep a pipe open after the trainer has exited.
    with open(run.log, "wb") as log, open(run.log, "rb") as reader:
        try:
            proc = subprocess.Popen(run.command, cwd=run.out, env=env, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise ConfigError(f"cannot start {run.command[0]}: {exc}") from exc
        while proc.poll() is None:
            _echo(reader, echo)
            time.sleep(0.2)
        _echo(reader, echo)
        run.returncode = proc.returncode
    run.seconds = round(time.monotonic() - start, 3)
    run.status = "succeeded" if run.returncode == 0 else "failed"
    _record(run, cfg)
    return run


def _echo(reader, on: bool) -> None:
    chunk = reader.read()
    if on and chunk:
        sys.stdout.write(chunk.decode("utf-8", errors="replace"))
        sys.stdout.flush()


def _record(run: VerlRun, cfg: VerlRunConfig, status: str | None = None) -> None:
    data = {**run.to_dict(), "status": status or run.status, "settings": cfg.to_dict()}
    atomic_write_text(run.out / "run.json", json.dumps(data, indent=2) + "\n")


def tail(path: Path | None, lines: int = 20) -> str:
    """The last lines of a log (for error messages)."""
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
