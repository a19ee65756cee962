"""``toolgym verify``, ``score`` and ``sandbox-info``."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import ConfigError
from ..evaluate import evaluate_metrics
from ..formats import trajectory_line
from ..io import JsonlWriter, Rejects, count_records, iter_jsonl, latest, read_environments
from ..reward import replay_messages
from ..sandbox import EXECUTORS, SandboxLimits, make_executor
from ..schema import TrajectoryMetrics
from ..verify import verify_environments
from ._common import console, counter_table, envs_source, fail, load_envs, loading, progress, rejects_summary
from ._report import report_table
from ._run import distinct

ExecutorOpt = Annotated[str, typer.Option(help=f"Where tool code runs: {', '.join(EXECUTORS)}.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Sandbox worker processes (default: CPU count).")]
def _positive(value: float) -> float:
    if value <= 0:
        raise typer.BadParameter(f"{value:g} is not a duration; give a number of seconds above 0")
    return value


TimeoutOpt = Annotated[float, typer.Option(callback=_positive, help="Per-call timeout in seconds (above 0).")]


def build_executor(executor: str, workers: int | None, timeout: float):
    """The executor the options name, or a clear error for options that could only fail every call."""
    if not timeout > 0 or timeout == float("inf"):
        fail(f"--timeout must be a positive number of seconds, not {timeout:g}")
    if workers is not None and workers < 1:
        fail(f"--workers must be at least 1, not {workers}")
    limits = SandboxLimits(timeout_s=timeout)
    pool = {"workers": workers} if executor == "sandbox" else {}  # the in-process executor has no workers
    try:
        return make_executor(executor, limits=limits, **pool)
    except ConfigError as exc:
        fail(str(exc))


def verify_cmd(
    path: Annotated[Path, typer.Argument(help="Environments: .jsonl, .parquet, a `datasets` folder, or a dataset id on the Hub (owner/name[:split]).")],
    executor: ExecutorOpt = "sandbox",
    workers: WorkersOpt = None,
    timeout: TimeoutOpt = 10.0,
    batch: Annotated[int, typer.Option(min=1, help="Environments per sandbox round.")] = 256,
    report: Annotated[Path | None, typer.Option(help="Write one JSON line per environment here.")] = None,
    show: Annotated[int, typer.Option(help="How many failures to list.")] = 10,
    probes: Annotated[bool, typer.Option(help="Also run the reward-hacking probes (missing arguments, wildcards, "
                                              "distractor tools).")] = True,
) -> None:
    """Check every environment: schema and code, then run its gold solution in the sandbox (every expected
    item solved, the answer reached, deterministic, wrong arguments do not leak the answer, and degenerate
    calls -- a missing argument, '*', 'all', an unused tool -- return no expected answer).

    Exits 1 if any environment is invalid or fails."""
    path = envs_source(path, "")
    if not path.exists():
        fail(f"{path} does not exist")
    distinct({"PATH": path}, {"--report": report})
    with loading(path):  # a file that cannot be read is a clean error
        total = count_records(path)
    rejects = Rejects()
    statuses: dict[str, Counter] = {}
    failed_checks: Counter = Counter()
    failures = []
    if report and report.exists():
        report.unlink()
    writer = JsonlWriter(report) if report else None
    ex = build_executor(executor, workers, timeout)
    try:
        envs = read_environments(path, on_error=rejects)
        with progress() as bar:
            task = bar.add_task("verifying", total=total, status="")
            while chunk := list(itertools.islice(envs, batch)):
                for r in verify_environments(chunk, ex, probes=probes):
                    statuses.setdefault(r.scenario or "unknown", Counter())[r.status] += 1
                    if r.status == "fail":
                        failures.append(r)
                        failed_checks.update(c.name for c in r.checks if not c.ok)
                    if writer:
                        writer.write(r.to_dict())
                done = sum(sum(c.values()) for c in statuses.values())
                bar.update(task, completed=done + rejects.records,
                           status=f"{len(failures)} failed, {rejects.records} invalid")
    finally:
        ex.close()
        if writer:
            writer.close()
    table = Table(title="verification", show_edge=False)
    for col in ("scenario", "pass", "fail", "skip"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for scenario, c in sorted(statuses.items()):
        table.add_row(scenario, str(c["pass"]), str(c["fail"]), str(c["skip"]))
    console.print(table)
    if failures:
        console.print(counter_table("failed checks", failed_checks, "check"))
        lines = Table(title=f"first {min(show, len(failures))} failure(s)", show_edge=False)
        lines.add_column("id")
        lines.add_column("scenario")
        lines.add_column("reason", overflow="fold")
        for r in failures[:show]:
            lines.add_row(r.env_id, r.scenario or "", r.reason)
        console.print(lines)
    rejects_summary(rejects.kinds, rejects.records, None, rejects.errors, show)
    passed = sum(c["pass"] for c in statuses.values())
    console.print(f"[bold]{passed}[/] passed, [bold]{len(failures)}[/] failed, [bold]{rejects.records}[/] invalid"
                  + (f"; report: {report}" if report else ""))
    if failures or rejects.records:
        raise typer.Exit(1)


def score_cmd(
    trajectories: Annotated[Path, typer.Argument(help="Trajectories (JSONL): toolgym's or the reference scripts'.")],
    envs: Annotated[Path | None, typer.Option(help="Environments to recompute the metrics against (a file, a `datasets` folder or a Hub dataset id).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the summary as JSON here.")] = None,
    tool_format: Annotated[str | None, typer.Option("--tool-format", help="With --envs: also read tool calls "
                           "written in the text of assistant messages without structured tool_calls (hermes, "
                           "llama3, auto); default: structured calls only, as the paper's evaluation counts them.")] = None,
) -> None:
    """Solve-P, Solve-R, Solve-F1 and answer accuracy of a file of trajectories, per scenario.

    With --envs the metrics are recomputed from the messages (matched by environment id, or by the question
    for the reference scripts' output); otherwise the metrics stored in each trajectory are used."""
    if tool_format is not None:
        from ..errors import ConfigError
        from ..parse import tool_format as find_format

        try:
            tool_format = find_format(tool_format).name
        except ConfigError as exc:
            fail(str(exc))
    if not trajectories.exists():
        fail(f"{trajectories} does not exist")
    distinct({"TRAJECTORIES": trajectories, "--envs": envs}, {"--json": json_out})
    by_id, by_question = {}, {}
    if envs is not None:
        for e in load_envs(envs):
            by_id[e.id] = e
            by_question.setdefault(e.question, e)
    rejects = Rejects()
    items: list[tuple[str | None, TrajectoryMetrics]] = []
    unmatched = 0
    # an episode done again by a resumed rollout (it had failed) counts once, with its latest line
    rows = latest(iter_jsonl(trajectories, rejects), key=lambda row: _episode(row[1]) or row[0])
    for line in (trajectory_line(raw) for _, raw in rows):
        env = None if line is None else by_id.get(line.env_id) or by_question.get(line.question)
        if env is not None:
            items.append((env.scenario, replay_messages(line.messages, env.expected, env.answer, tool_format)))
        elif line is not None and line.metrics is not None and (line.layout == "toolgym" or not by_question):
            items.append((line.scenario, line.metrics))
        else:
            unmatched += 1
    if not items:
        fail("no trajectory could be scored" + (" (none matched an environment)" if envs else ""), 1)
    report = evaluate_metrics(items, name=trajectories.name)
    console.print(report_table(report))
    if unmatched:
        console.print(f"[yellow]{unmatched} trajectory line(s) skipped (unreadable or no matching environment)[/]")
    rejects_summary(rejects.kinds, rejects.records, None)
    if json_out:
        report.save(json_out)


def _episode(row: object) -> tuple[str, int] | None:
    if isinstance(row, dict) and isinstance(row.get("env_id"), str) and isinstance(row.get("sample"), int):
        return row["env_id"], row["sample"]
    return None


def sandbox_info_cmd() -> None:
    """What the sandbox defends against, which isolation layers this machine gives it, and a self-test."""
    from ..sandbox import LAYER_GUARANTEES, THREAT_MODEL, SandboxPool, self_test

    console.print("[bold]threat model[/]")
    for line in THREAT_MODEL:
        console.print(f"  - {line}")
    with SandboxPool(workers=1) as pool:
        table = Table(title="sandbox layers", show_edge=False)
        for col in ("layer", "state here", "guarantee"):
            table.add_column(col, overflow="fold")
        layers = {"protocol": "on", **pool.layers}
        for layer, state in layers.items():
            table.add_row(layer, state, LAYER_GUARANTEES.get(layer, ""))
        console.print(table)
        checks = self_test(pool)
    console.print("[bold]self-test[/] (each probe, then an innocent environment's call, which must come back as "
                  "when it runs alone)")
    for c in checks:
        verdict = "pass  " if c.passed else "[bold red]FAILED[/]"
        console.print(f"  {verdict} {c.probe.strip()} -> {c.status}: {escape(c.output[:200])}", soft_wrap=True,
                      highlight=False)
    if not all(c.passed for c in checks):
        fail("the sandbox self-test failed: see the rows marked FAILED", 1)
