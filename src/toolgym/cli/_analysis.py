"""``toolgym analyse weights|transplant`` and ``toolgym report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._common import console, fail, progress

analyse_app = typer.Typer(help="Where did the model change? Weight change per layer and module, and transplants.",
                          no_args_is_help=True)


@analyse_app.command("weights")
def weights_cmd(
    base: Annotated[str, typer.Argument(help="The starting checkpoint (folder or model name).")],
    trained: Annotated[str, typer.Argument(help="The trained checkpoint.")],
    out: Annotated[Path, typer.Option(help="Folder for weights.csv and weights.png.")] = Path("."),
) -> None:
    """Relative change ||W_trained - W_base|| / ||W_base|| for every layer and module type: a CSV and a heatmap.
    Tensors are streamed from the safetensors shards, so large models need little memory."""
    from ..analysis import heatmap, weight_changes, write_csv

    try:
        with progress() as bar:
            task = bar.add_task("comparing tensors", total=None, status="")
            changes = weight_changes(base, trained, progress=lambda i, n: bar.update(task, completed=i, total=n))
    except ConfigError as exc:
        fail(str(exc))
    csv_path = write_csv(changes, out / "weights.csv")
    png = heatmap(changes, out / "weights.png", title=f"{Path(trained).name} vs {Path(base).name}")
    by_module: dict[str, list[float]] = {}
    layers = sorted({c.layer for c in changes if c.layer is not None})
    third = max(1, len(layers) // 3)
    table = Table(title="mean relative change by module and depth", show_edge=False)
    table.add_column("module")
    for col in ("lower third", "middle third", "upper third"):
        table.add_column(col, justify="right")
    for c in changes:
        if c.layer is not None:
            by_module.setdefault(c.module, []).append((c.layer, c.relative))
    for module, values in by_module.items():
        cells = []
        for lo, hi in ((0, third), (third, 2 * third), (2 * third, len(layers))):
            band = [v for layer, v in values if layer in layers[lo:hi]]
            cells.append(f"{sum(band) / len(band):.3e}" if band else "-")
        table.add_row(module, *cells)
    console.print(table)
    outside = [c for c in changes if c.layer is None]
    if outside:
        console.print("outside the layers: " + ", ".join(f"{c.module} {c.relative:.3e}" for c in outside))
    console.print(f"csv: {csv_path}  heatmap: {png}")


@analyse_app.command("transplant")
def transplant_cmd(
    base: Annotated[str, typer.Option(help="The starting checkpoint.")],
    trained: Annotated[str, typer.Option(help="The trained checkpoint.")],
    out: Annotated[Path, typer.Option(help="Folder of the new checkpoint.")],
    modules: Annotated[str, typer.Option(help="What to move: mlp, attn, norm, or module types such as mlp.up, "
                                              "attn.q, embeddings, lm_head (comma-separated).")] = "mlp",
    layers: Annotated[str | None, typer.Option(help="Layers, e.g. 0-13 (default: all).")] = None,
    reverse: Annotated[bool, typer.Option(help="Move the base's modules into the trained model instead.")] = False,
) -> None:
    """Write a checkpoint with the chosen modules of the trained model put into the base (or, with --reverse, the
    base's into the trained model): the paper's ablation, ready for `toolgym eval --backend transformers`."""
    from ..analysis import parse_layers, transplant

    try:
        report = transplant(base, trained, out, modules=modules.split(","),
                            layers=parse_layers(layers) if layers else None, reverse=reverse)
    except ConfigError as exc:
        fail(str(exc))
    console.print(f"moved {len(report.moved)} tensor(s), kept {report.kept}; checkpoint: [bold]{report.out}[/]")


def report_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder: a loop's output, a TRL run, or reports.")],
    out: Annotated[Path | None, typer.Option(help="The HTML file (default RUN/report.html).")] = None,
    envs: Annotated[Path | None, typer.Option(help="Environments whose build statistics to show.")] = None,
    base: Annotated[str | None, typer.Option(help="With --trained: compute the weight analysis now.")] = None,
    trained: Annotated[str | None, typer.Option(help="The trained checkpoint, for the weight analysis.")] = None,
    title: Annotated[str | None, typer.Option(help="Title of the page.")] = None,
    trajectories: Annotated[list[Path] | None, typer.Option(
        help="More trajectory files whose episodes to show (repeatable); those in RUN are found.")] = None,
    max_episodes: Annotated[int, typer.Option(
        help="Episodes shown per trajectory file (the first ones; 0: all).", min=0)] = 1000,
) -> None:
    """One self-contained HTML page: evaluation per run and scenario, every episode's transcript (question,
    replies, tool calls and outputs, step rewards), training curves, the weight-change heatmap and build
    statistics."""
    from ..analysis import build_report, weight_changes, write_csv

    if not run.is_dir():
        fail(f"{run} is not a folder")
    for path in trajectories or []:
        if not path.is_file():
            fail(f"--trajectories {path} does not exist")
    changes = None
    if base and trained:
        try:
            changes = weight_changes(base, trained)
        except ConfigError as exc:
            fail(str(exc))
        write_csv(changes, run / "weights.csv")
    path = build_report(run, out, envs=envs, changes=changes, title=title, trajectories=trajectories or [],
                        max_episodes=max_episodes or None)
    console.print(f"report: [bold]{path}[/]")
