"""``toolgym build``: build verified environments with a builder of ``BUILDERS`` (procedural, llm, hybrid)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..builder.llm.config import BUILD_ENDPOINT, BUILD_SAMPLING
from ..errors import ConfigError, SandboxUnavailable
from ..models import DEFAULT_BASE_URL
from ._common import console, counter_table, fail, progress
from ._hub import PrivateOpt, PushOpt, check_push, push_upload


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
        if stats["rejections"].get("by_kind"):
            console.print(counter_table("rejections by kind", Counter(stats["rejections"]["by_kind"]), "kind"))
        console.print(counter_table("rejections (stage: reason)", Counter(stats["rejections"]["by_reason"]), "reason"))
    d = stats["diversity"]
    console.print(f"diversity: {d['distinct_tool_names']} distinct tool names, {d['distinct_question_trigrams']} "
                  f"distinct question 3-grams (ratio {d['distinct_trigram_ratio']}), "
                  f"{d['distinct_question_openings']} distinct openings; "
                  f"{stats['mean_tools_per_env']} tools and {stats['mean_calls_per_env']} gold calls per environment")


def show_usage(usage: dict) -> None:
    """Print the LLM requests and tokens per stage of a build, in the stages' order."""
    from ..builder.llm import STAGES

    order = [s.name for s in STAGES.values()]
    table = Table(title="LLM use per stage (this run)", show_edge=False)
    for col in ("stage", "requests", "cached", "tokens in/out", "invalid", "failed"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, u in sorted(usage.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
        table.add_row(stage, str(u["requests"]), str(u["cache_hits"]),
                      f"{u['prompt_tokens']}/{u['completion_tokens']}", str(u["invalid_replies"]), str(u["failures"]))
    console.print(table)


def _llm_options(endpoint: dict, sampling: dict, *, json_mode: str, seeds: Path | None, prompts: Path | None,
                 cache: Path | None, attempts: int, workers: int) -> dict[str, Any]:
    """The LLM and hybrid builders' own options (:class:`~toolgym.builder.llm.LLMBuildConfig`'s fields)."""
    from dataclasses import replace

    from ..builder.llm import read_seeds

    return {"endpoint": replace(BUILD_ENDPOINT, **endpoint), "sampling": replace(BUILD_SAMPLING, **sampling),
            "json_mode": json_mode, "seeds": read_seeds(seeds) if seeds else (),
            "prompts_dir": str(prompts) if prompts else None, "cache_dir": str(cache) if cache else None,
            "attempts": attempts, "sandbox_workers": max(1, workers)}


def build_cmd(
    out: Annotated[Path | None, typer.Option(help="Output JSONL file (a manifest and a rejects file go beside it).")]
        = None,
    n: Annotated[int, typer.Option(help="How many verified environments to write.")] = 1000,
    builder: Annotated[str, typer.Option(help="Which builder: procedural (seeded world, no LLM), llm (the five "
                                              "stages by an LLM) or hybrid (procedural, surface by an LLM).")] =
        "procedural",
    seed: Annotated[int, typer.Option(help="Seed of the world and of every environment.")] = 0,
    world: Annotated[str, typer.Option(help="synthetic (invented facts) or real (small real-facts world).")] = "synthetic",
    scenarios: Annotated[str, typer.Option(help="Scenario mix, e.g. 'single_hop=1,multi_hop=2' or a list of names.")] =
        "single_hop,parallel_single_hop,multi_hop,parallel_multi_hop",
    hops: Annotated[str, typer.Option(help="Chain length range of multi-hop questions, within 2-5.")] = "2-5",
    width: Annotated[str, typer.Option(help="Branch count range of parallel questions, within 2-4.")] = "2-4",
    levels: Annotated[str, typer.Option(help="Complexity levels 0-3: '0-3' for all strategies, or e.g. "
                                             "'functional=0-1,parameters=2,types=0-3,toolset=1-3'.")] = "0-3",
    domains: Annotated[str | None, typer.Option(help="Comma-separated domains (default: all of the world's; with "
                                                     "--builder llm any topics, cycled).")] = None,
    distractors: Annotated[int, typer.Option(help="Extra tools added at toolset levels >= 1.")] = 3,
    test_per_scenario: Annotated[int, typer.Option(help="First N verified environments per scenario go to the "
                                                       "test split (the paper: 50).")] = 50,
    workers: Annotated[int, typer.Option(help="Local build processes (output is identical for any value); with "
                                              "llm/hybrid, sandbox workers.")] = 1,
    ray: Annotated[str | None, typer.Option("--ray", help="Fan out over a Ray cluster at ADDRESS ('local' starts "
                                                          "one here); needs the 'ray' extra.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start again instead of resuming an existing output.")] = False,
    llm_base_url: Annotated[list[str] | None, typer.Option(help="llm/hybrid: the OpenAI-compatible server (repeat "
                                                               f"to share the load; default {DEFAULT_BASE_URL}).")]
        = None,
    llm_model: Annotated[str | None, typer.Option(help="llm/hybrid: the model name the server serves.")] = None,
    llm_api_key_env: Annotated[str, typer.Option(help="llm/hybrid: environment variable holding the API key.")] =
        BUILD_ENDPOINT.api_key_env,
    llm_concurrency: Annotated[int, typer.Option(help="llm/hybrid: requests in flight.")] =
        BUILD_ENDPOINT.concurrency,
    llm_temperature: Annotated[float, typer.Option(help="llm/hybrid: sampling temperature.")] =
        BUILD_SAMPLING.temperature,
    llm_max_tokens: Annotated[int, typer.Option(help="llm/hybrid: most tokens per reply.")] =
        BUILD_SAMPLING.max_tokens,
    llm_attempts: Annotated[int, typer.Option(help="llm/hybrid: replies per stage (the first and the retries "
                                                   "with the validation error fed back).")] = 3,
    llm_timeout: Annotated[float, typer.Option(help="llm/hybrid: seconds per request.")] = BUILD_ENDPOINT.timeout_s,
    llm_retries: Annotated[int, typer.Option(help="llm/hybrid: HTTP retries (429, 5xx, timeouts), with "
                                                  "exponential backoff.")] = BUILD_ENDPOINT.max_retries,
    llm_json_mode: Annotated[str, typer.Option(help="llm/hybrid: 'object' sends response_format json_object "
                                                    "(vLLM, OpenAI); 'none' sends nothing.")] = "none",
    llm_cache: Annotated[Path | None, typer.Option(help="llm/hybrid: directory of cached replies (default "
                                                        "OUT.llm-cache).")] = None,
    prompts: Annotated[Path | None, typer.Option(help="llm/hybrid: directory whose prompt files replace the "
                                                      "packaged ones (see --export-prompts).")] = None,
    export_prompts: Annotated[Path | None, typer.Option(help="Write the packaged prompts into this directory (to "
                                                             "edit and pass to --prompts), then stop.")] = None,
    seeds: Annotated[Path | None, typer.Option(help="llm: a file of seeds, one topic or example question per "
                                                    "line, cycled over the environments.")] = None,
    push_to_hub: PushOpt = None,
    hub_private: PrivateOpt = False,
) -> None:
    """Build verified environments: the paper's five stages over a seeded world (procedural), by an LLM (llm) or
    both (hybrid), each environment verified in the sandbox (gold solution, perturbed arguments, reward-hacking
    probes). Rerun the same command to resume."""
    from ..builder import (
        BUILDERS,
        BuildConfig,
        make_builder,
        parse_levels,
        parse_range,
        parse_weights,
        run_build,
    )

    if export_prompts is not None:
        _export(export_prompts)
        return
    if out is None:
        fail("give --out FILE: the JSONL file to write")
    check_push(push_to_hub)
    if builder not in BUILDERS:
        fail(f"unknown builder {builder!r}; use --builder with one of {', '.join(BUILDERS)}")
    llm = builder != "procedural"
    if llm and ray:
        fail("--ray fans out the procedural builder; the llm and hybrid builders use --llm-concurrency")
    if not llm and (seeds or prompts or llm_model):
        fail("--seeds, --prompts and --llm-* are options of --builder llm and --builder hybrid")
    endpoint = {"base_urls": tuple(llm_base_url or ()), "model": llm_model or "", "api_key_env": llm_api_key_env,
                "concurrency": llm_concurrency, "timeout_s": llm_timeout, "max_retries": llm_retries}
    sampling = {"temperature": llm_temperature, "max_tokens": llm_max_tokens}
    try:
        config = BuildConfig(seed=seed, world=world, scenarios=parse_weights(scenarios), hops=parse_range(hops, "hops"),
                             width=parse_range(width, "width"), levels=parse_levels(levels),
                             domains=tuple(d.strip() for d in domains.split(",")) if domains else None,
                             distractors=distractors, test_per_scenario=test_per_scenario)
        from ..builder.world import make_world

        known = make_world(world, seed).domains
        if builder != "llm" and config.domains and set(config.domains) - set(known):
            raise ConfigError(f"--domains: unknown {sorted(set(config.domains) - set(known))}; the {world} world "
                              f"has {', '.join(known)}")
        options = (_llm_options(endpoint, sampling, json_mode=llm_json_mode, seeds=seeds, prompts=prompts,
                                cache=llm_cache, attempts=llm_attempts, workers=workers) if llm
                   else {"workers": workers, "ray_address": ray})
        chosen = make_builder(builder, config, **options)
        with progress() as bar:
            task = bar.add_task("building", total=n, status="")

            def update(written: int, wanted: int, rejected: int) -> None:
                bar.update(task, completed=written, status=f"{rejected} rejected")

            report = run_build(chosen, out, n, overwrite=overwrite, progress=update)
    except (ConfigError, ValueError, SandboxUnavailable) as exc:
        fail(str(exc))
    _report(report, out)
    if push_to_hub:
        _push(out, push_to_hub, hub_private)


def _push(out: Path, repo_id: str, private: bool) -> None:
    """Upload the finished build as a dataset repository (a stopped build is finished first: rerun)."""
    from ..io import read_manifest
    from ..publish import dataset_upload

    if (read_manifest(out) or {}).get("status") != "complete":
        fail(f"--push-to-hub: the build in {out} stopped before --n was reached; rerun the command to finish it, "
             "then it is pushed")
    try:
        upload = dataset_upload(out, repo_id, out.with_name(out.name + ".hub"))
    except ConfigError as exc:
        fail(str(exc))
    console.print(f"dataset repository laid out in {upload.folder}: {', '.join(upload.files())}")
    push_upload(upload, private)


def _export(folder: Path) -> None:
    from ..builder.llm import export_prompts

    try:
        written = export_prompts(folder)
    except ConfigError as exc:
        fail(str(exc))
    console.print(f"wrote {len(written)} prompt files to {folder}; edit them and pass --prompts {folder}")


def _report(report, out: Path) -> None:
    from ..io import read_manifest

    show_stats(report.stats)
    manifest = read_manifest(out) or {}
    if manifest.get("llm"):
        show_usage(manifest.get("last_run", {}).get("usage", {}))
        if manifest["last_run"].get("stopped"):
            console.print(f"[yellow]stopped before --n was reached ({manifest['last_run']['stopped']}); rerun to "
                          "go on[/]")
    console.print(f"[bold green]{report.written}[/] verified environments in {out} ({report.new} new, "
                  f"{report.rate:.0f}/s this run); manifest {out.name}.manifest.json, rejections {out.name}.rejects.jsonl")
