"""``toolgym demo``: the main job on embedded defaults, with no GPU and no network.

Writes the sample environments, round-trips them through the paper's layout, exports verl parquet,
verifies every environment in the sandbox, and scores two scripted baselines (one that follows the
gold solution, one that makes mistakes) with the paper's step reward and trajectory metrics. Then
builds a few hundred environments with the procedural builder, verifies them and prints the statistics.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..evaluate import LABELS, MEANINGS, evaluate_metrics
from ..formats import export_file, import_file
from ..io import read_environments, write_environments, write_manifest
from ..reward import answer_matches
from ..rollout import ToolEnv
from ..samples import sample_environments
from ..sandbox import SandboxPool
from ..schema import Environment, ToolCall
from ..verify import perturb, verify_environments
from ._common import console, fail


def _scripted_episode(env: Environment, pool: SandboxPool, rng: random.Random | None):
    """Play the gold solution as a Hermes-format policy in a ``ToolEnv`` (the rollout's episode, step
    reward included); with ``rng``, corrupt some calls. A scripted baseline, not a model."""
    tenv = ToolEnv(env, pool)
    tenv.reset()
    rewards = []
    for turn in env.solution:
        chosen = []
        for call in turn:
            if rng is not None and rng.random() < 0.4:
                call = ToolCall(name=call.name, arguments=perturb(call.arguments))
            chosen.append(call)
        rewards.append(tenv.step("\n".join(c.to_hermes() for c in chosen))[1])
    # like the scripted backend, it states the answer only when its tools returned it
    seen = "\n".join(m["content"] for m in tenv.messages if m["role"] == "tool")
    found = env.answer is not None and answer_matches(seen, env.answer)
    final = f"The answer is {env.answer}." if found else "I could not find the answer."
    rewards.append(tenv.step(final)[1])
    return rewards, tenv.trajectory().metrics


def _check_round_trip(envs: list[Environment], path: Path, ftrl: Path) -> None:
    """Export ``path`` to the paper's layout at ``ftrl``, import it back and fail unless every record
    equals the one it came from, field by field (metadata included)."""
    back = ftrl.with_name(ftrl.name.replace(".ftrl.", ".roundtrip."))
    export_file("ftrl", path, ftrl)
    import_file("ftrl", ftrl, back)
    again = list(read_environments(back))
    if len(again) != len(envs):
        fail(f"round trip through the paper's layout ({ftrl}) kept {len(again)} of {len(envs)} records", 1)
    for before, after in zip(envs, again):
        for name in type(before).model_fields:
            if getattr(before, name) != getattr(after, name):
                fail(f"round trip through the paper's layout ({ftrl}) changed {name!r} of {before.id}", 1)


def demo_cmd(
    out: Annotated[Path, typer.Option(help="Folder for the demo's files.")] = Path("runs/demo"),
    workers: Annotated[int | None, typer.Option(help="Sandbox worker processes.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the careless baseline.")] = 0,
) -> None:
    """Run the whole pipeline that exists so far on the embedded sample environments."""
    out.mkdir(parents=True, exist_ok=True)
    envs = sample_environments()
    path = out / "envs.jsonl"
    write_environments(path, envs)
    write_manifest(path, kind="environments", config={"command": "demo", "source": "toolgym.samples"}, seed=seed,
                   counts={"written": len(envs)})
    console.print(f"[bold]1.[/] wrote {len(envs)} sample environments to {path}")

    ftrl = out / "envs.ftrl.jsonl"
    _check_round_trip(envs, path, ftrl)
    export_file("verl", path, out / "envs.verl.parquet")
    console.print(f"[bold]2.[/] exported the paper's layout ({ftrl}) and verl parquet; the round trip is exact "
                  f"({len(envs)} of {len(envs)} records equal, field by field)")

    with SandboxPool(workers=workers) as pool:
        layers = ", ".join(f"{k}: {v}" for k, v in pool.layers.items())
        console.print(f"[bold]3.[/] sandbox up ({layers})")
        results = verify_environments(envs, pool, probes=True)
        rng = random.Random(seed)
        episodes = [(e, _scripted_episode(e, pool, None), _scripted_episode(e, pool, rng)) for e in envs]

    table = Table(title="verification and scripted baselines", show_edge=False)
    for col in ("scenario", "environment", "verified", "gold step rewards", "careless step rewards"):
        table.add_column(col, overflow="fold")
    for (env, (gold_r, _), (bad_r, _)), r in zip(episodes, results):
        table.add_row(env.scenario, env.id, r.status if r.status == "pass" else f"{r.status}: {r.reason}",
                      " ".join(f"{x:.2f}" for x in gold_r), " ".join(f"{x:.2f}" for x in bad_r))
    console.print(table)

    summary = Table(title="trajectory metrics (scripted baselines, not models)", show_edge=False)
    metrics = ("solve_precision", "solve_rate", "solve_f1", "answer_accuracy")
    for col in ("policy", "scenario", *(LABELS[m] for m in metrics)):
        summary.add_column(col, justify="left" if col in ("policy", "scenario") else "right")
    for label, idx in (("follows the solution", 1), ("careless (40% wrong args)", 2)):
        report = evaluate_metrics([(ep[0].scenario, ep[idx][1]) for ep in episodes], name=label)
        for name in report.order():
            summary.add_row(label, name, *(report.cell(name, m, interval=False) for m in metrics))
    summary.caption = f"{LABELS['answer_accuracy']}: {MEANINGS['answer_accuracy']}."
    summary.caption_justify = "left"
    console.print(summary)
    passed = sum(r.status == "pass" for r in results)
    console.print(f"[bold green]{passed}/{len(results)} environments verified.[/] Files are in {out}/.")
    if passed != len(results):
        raise typer.Exit(1)
    _build_step(out, seed, workers)


def _build_step(out: Path, seed: int, workers: int | None, n: int = 300) -> None:
    """Build a few hundred environments with the procedural builder, re-verify them from the file
    (probes included) and print the build statistics."""
    import os

    from ..builder import BuildConfig, build
    from ._build import show_stats

    path = out / "built.jsonl"
    report = build(BuildConfig(seed=seed), path, n, workers=min(2, workers or os.cpu_count() or 1), overwrite=True)
    console.print(f"[bold]4.[/] built {report.written} environments with the procedural builder in "
                  f"{report.seconds:.1f}s ({report.rate:.0f}/s, sandbox verification included) -> {path}")
    show_stats(report.stats)
    built = list(read_environments(path))
    _check_round_trip(built, path, out / "built.ftrl.jsonl")
    console.print(f"   and all {len(built)} come back from the paper's layout unchanged, metadata included")
    with SandboxPool(workers=workers) as pool:
        checked = verify_environments(built, pool, probes=True)
    ok = sum(r.status == "pass" for r in checked)
    console.print(f"[bold green]{ok}/{len(checked)} built environments pass verification again from the file "
                  f"(reward-hacking probes included).[/]")
    if ok != len(checked):
        raise typer.Exit(1)
