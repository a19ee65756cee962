"""``toolgym train verl``: the paper's GRPO / Reinforce++ run on stock verl (a Ray cluster, or local)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ..train.config import Hyperparameters, Tracking
from ..train.verl_run import ALGOS, TRAJECTORY_REWARDS, VerlRunConfig
from ._common import console, fail
from ._train import hparam_options, tracking_options

_VERL = VerlRunConfig(model="", data=Path("."), out=Path("."))  # the defaults of the options below


@hparam_options
@tracking_options
def train_verl_cmd(
    model: Annotated[str, typer.Option(help="Model name or path to start from (what verl's workers load).")],
    data: Annotated[Path, typer.Option(help="Data folder from `toolgym train prepare` (reads DATA/verl/*.parquet).")],
    out: Annotated[Path, typer.Option(help="Run folder: configuration, command, log, checkpoints.")],
    hparams: Hyperparameters,
    tracking: Tracking,
    algo: Annotated[str, typer.Option(help=f"{' or '.join(ALGOS)} (verl's algorithm.adv_estimator).")] = _VERL.algo,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write and check the configuration, print the command, do not start.")] = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to join (HOST:PORT or auto); default (or local): a local Ray cluster.")] = _VERL.ray_address,
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs per node (trainer.n_gpus_per_node).")] = _VERL.gpus,
    nodes: Annotated[int, typer.Option("--nodes", help="Nodes (trainer.nnodes).")] = _VERL.nodes,
    train_batch_size: Annotated[int, typer.Option(help="Prompts per training step (data.train_batch_size).")] = _VERL.train_batch_size,
    ppo_mini_batch_size: Annotated[int, typer.Option(help="Prompts per PPO update (actor.ppo_mini_batch_size).")] = _VERL.ppo_mini_batch_size,
    episodes: Annotated[bool, typer.Option("--episodes", help="RL on whole multi-turn episodes in the sandbox instead of the paper's per-turn prompts.")] = _VERL.multi_turn,
    max_turns: Annotated[int, typer.Option(help="--episodes: assistant turns per episode.")] = _VERL.max_turns,
    trajectory_reward: Annotated[str, typer.Option(help=f"--episodes: the episode's reward: {', '.join(TRAJECTORY_REWARDS)} (mean or sum of the step rewards, or the episode's Solve-F1).")] = _VERL.trajectory_reward,
    tool_format: Annotated[str | None, typer.Option("--tool-format", help="How replies are read (hermes: Qwen; llama3: Llama 3.1); default: each row's (the rollout's), else hermes.")] = _VERL.tool_format,
    malformed: Annotated[str, typer.Option(help="--episodes: on an unreadable tool call, 'end' the episode (the paper's) or give 'feedback'.")] = _VERL.malformed,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Any verl setting, key=value in Hydra syntax (repeat); wins over toolgym's.")] = None,
    echo: Annotated[bool, typer.Option(help="Also print the trainer's output (it always goes to RUN/train.log).")] = True,
) -> None:
    """Train with stock verl: writes the complete verl configuration (the paper's settings by default, see
    docs/training.md) to the run folder, checks it with verl's own validation, and launches
    `python -m verl.trainer.main_ppo`."""
    from ..train.verl_run import format_command, launch, tail

    try:
        cfg = VerlRunConfig(model=model, data=data, out=out, algo=algo, hparams=hparams, tracking=tracking, gpus=gpus,
                            nodes=nodes, ray_address=ray_address, train_batch_size=train_batch_size,
                            ppo_mini_batch_size=ppo_mini_batch_size, multi_turn=episodes, max_turns=max_turns,
                            trajectory_reward=trajectory_reward, tool_format=tool_format, malformed=malformed,
                            overrides=list(set_ or []))
        if dry_run:
            run = launch(cfg, dry_run=True)
        else:
            console.print(f"starting verl's trainer; log in [bold]{cfg.out / 'train.log'}[/]")
            run = launch(cfg, echo=echo)
    except ConfigError as exc:
        fail(str(exc))
    if run.status == "dry-run":
        console.print(format_command(run.command), markup=False, highlight=False, soft_wrap=True)
        if run.overrides is not None:
            console.print(f"\n# {run.overrides}", markup=False, highlight=False)
            console.print(run.overrides.read_text(), markup=False, highlight=False, soft_wrap=True)
        console.print(f"complete verl configuration: [bold]{run.config}[/]; run it with [bold]{run.out / 'command.sh'}[/]")
        return
    if run.status != "succeeded":
        console.print(tail(run.log), markup=False, highlight=False, soft_wrap=True)
        fail(f"verl's trainer failed (exit code {run.returncode}) after {run.seconds:.0f}s; log: {run.log}", code=1)
    console.print(f"[green]done[/] in {run.seconds:.0f}s; checkpoints in [bold]{run.out / 'checkpoints'}[/]")
