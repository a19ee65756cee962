"""``toolgym build``: build verified environments (the procedural builder; others register in BUILDERS)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ConfigError
from ._common import console, counter_table, fail, progress


def show_stats(stats: dict) -> None:
    """Print the build statistics of a manifest as tables."""
    from collections import Counter

    console.print(f"[bold]{stats['written']}[/] written of {stats['attempted']} attempted "
                  f"(yield {100 * (stats['yield'] or 0):.1f}%)")
    for key in ("per_scenario", "per_domain", "per_hops", "per_width", "per_split"):
        console.print(counter_table(key.replace("_", " "), Counter(stats[key]), key[4:]))
    levels = Table(title="per complexity level", show_edge=False)
    levels.add_column("strategy")
    for lv in "0123":
        levels.add_column(f"level {lv}", justify="right")
    for strategy, counts in stats["per_complexity"].items():
        levels.add_row(strategy, *(str(counts.get(lv, 0)) for lv in "0123"))
    console.print(levels)
    if stats["rejected"]:
        console.print(counter_table("rejections (stage: reason)", Counter(stats["rejections"]["by_reason"]), "reason"))
    d = stats["diversity"]
    console.print(f"diversity: {d['distinct_tool_names']} distinct tool names, {d['distinct_question_trigrams']} "
                  f"distinct question 3-grams (ratio {d['distinct_trigram_ratio']}), "
                  f"{d['distinct_question_openings']} distinct openings; "
                  f"{stats['mean_tools_per_env']} tools and {stats['mean_calls_per_env']} gold calls per environment")


def build_cmd(
    out: Annotated[Path, typer.Option(help="Output JSONL file (a manifest and a rejects file go beside it).")],
    n: Annotated[int, typer.Option(help="How many verified environments to write.")] = 1000,
    builder: Annotated[str, typer.Option(help="Which builder: procedural.")] = "procedural",
    seed: Annotated[int, typer.Option(help="Seed of the world and of every environment.")] = 0,
    world: Annotated[str, typer.Option(help="synthetic (invented facts) or real (small real-facts world).")] = "synthetic",
    scenarios: Annotated[str, typer.Option(help="Scenario mix, e.g. 'single_hop=1,multi_hop=2' or a list of names.")] =
        "single_hop,parallel_single_hop,multi_hop,parallel_multi_hop",
    hops: Annotated[str, typer.Option(help="Chain length range of multi-hop questions, within 2-5.")] = "2-5",
    width: Annotated[str, typer.Option(help="Branch count range of parallel questions, within 2-4.")] = "2-4",
    levels: Annotated[str, typer.Option(help="Complexity levels 0-3: '0-3' for all strategies, or e.g. "
                                             "'functional=0-1,parameters=2,types=0-3,toolset=1-3'.")] = "0-3",
    domains: Annotated[str | None, typer.Option(help="Comma-separated domains (default: all of the world's).")] = None,
    distractors: Annotated[int, typer.Option(help="Extra tools added at toolset levels >= 1.")] = 3,
    test_per_scenario: Annotated[int, typer.Option(help="First N verified environments per scenario go to the "
                                                       "test split (the paper: 50).")] = 50,
    workers: Annotated[int, typer.Option(help="Local build processes (output is identical for any value).")] = 1,
    ray: Annotated[str | None, typer.Option("--ray", help="Fan out over a Ray cluster at ADDRESS ('local' starts "
                                                          "one here); needs the 'ray' extra.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start again instead of resuming an existing output.")] = False,
) -> None:
    """Build verified environments: the paper's five stages over a seeded world, each environment verified in
    the sandbox (gold solution, perturbed arguments, reward-hacking probes). Rerun the same command to resume."""
    from ..build import BUILDERS, BuildConfig, build, parse_levels, parse_range, parse_weights

    if builder not in BUILDERS:
        fail(f"unknown builder {builder!r}; use --builder with one of {', '.join(BUILDERS)}")
    try:
        config = BuildConfig(seed=seed, world=world, scenarios=parse_weights(scenarios), hops=parse_range(hops, "hops"),
                             width=parse_range(width, "width"), levels=parse_levels(levels),
                             domains=tuple(d.strip() for d in domains.split(",")) if domains else None,
                             distractors=distractors, test_per_scenario=test_per_scenario)
        from ..build.world import make_world

        known = make_world(world, seed).domains
        if config.domains and set(config.domains) - set(known):
            raise ConfigError(f"--domains: unknown {sorted(set(config.domains) - set(known))}; the {world} world "
                              f"has {', '.join(known)}")
        with progress() as bar:
            task = bar.add_task("building", total=n, status="")

            def update(written: int, wanted: int, rejected: int) -> None:
                bar.update(task, completed=written, status=f"{rejected} rejected")

            report = build(config, out, n, workers=workers, ray_address=ray, overwrite=overwrite, progress=update)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    show_stats(report.stats)
    console.print(f"[bold green]{report.written}[/] verified environments in {out} ({report.new} new, "
                  f"{report.rate:.0f}/s this run); manifest {out.name}.manifest.json, rejections {out.name}.rejects.jsonl")
