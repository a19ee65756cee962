"""Stage 5 of the LLM builder, localized deployment: the model writes the tools' code, the sandbox judges.

The reply (tool name -> Python source) is assembled with the plan and the toolset into an
:class:`~toolgym.schema.Environment`: expected answers per tool (the sub-questions' answers, in call
order), the gold solution in turns (by dependency depth), the final answer. A source whose functions read
its top-level names (which the paper's executor does not let them see) is repaired first
(:mod:`.portable`; the repaired tools are listed in ``metadata.extra["scoping_repaired"]``). Acceptance is
the procedural builder's: the record must validate (every tool has code that compiles and defines it),
then the gold calls are run once with a short timeout, under both scopings (code that raises, loops or
depends on its scoping fails here, cheaply), then :func:`toolgym.verify.verify_environments` with the
reward-hacking probes decides. Every failure is fed back to the model as the stage's error; the last one
is recorded as a ``verification`` rejection named after the failed check (``calls``, ``solves``,
``answer``, ``scoping``, ``perturbed``, ``probes``...).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...errors import InvalidRecord, SandboxUnavailable
from ...sandbox import ExecRequest, ExecResult, Executor
from ...schema import Environment, parse_environment, wrap_tool
from ...verify import VerifyResult, verify_environments
from . import portable
from .stages import Plan, Toolset
from .structured import Asker, Invalid


class _Checked:
    """An executor whose infrastructure failures raise: a sandbox that cannot run code is a broken
    setup, not a fault of the model's code."""

    name = "checked"

    def __init__(self, executor: Executor):
        self.executor = executor

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        results = self.executor.run(requests)
        broken = next((r for r in results if r.status == "infra_error"), None)
        if broken is not None:
            raise SandboxUnavailable(broken.output)
        return results

    def close(self) -> None:
        self.executor.close()


_THREAD: tuple[int, ThreadPoolExecutor] | None = None  # (pid, executor): a forked child makes its own


def _sandbox_thread() -> ThreadPoolExecutor:
    """One thread per process, never shut down, for every sandbox call of the LLM builders. The pool starts
    replacement workers from the thread that runs the call, and a worker is killed when the thread that
    started it exits (PR_SET_PDEATHSIG is per thread), so short-lived threads would leave dead workers in
    a pool that outlives them."""
    global _THREAD
    if _THREAD is None or _THREAD[0] != os.getpid():
        _THREAD = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="toolgym-build-sandbox"))
    return _THREAD[1]


class SandboxGate:
    """The builder's way into the sandbox: off the event loop (which keeps serving requests), one batch at
    a time on one long-lived thread (every environment in flight shares the pool), infrastructure
    failures raised as :class:`~toolgym.errors.SandboxUnavailable`."""

    def __init__(self, executor: Executor):
        self.executor = _Checked(executor)

    async def _call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(_sandbox_thread(), fn, *args)

    async def run(self, requests: list[ExecRequest]) -> list[ExecResult]:
        return await self._call(self.executor.run, requests)

    async def verify(self, env: Environment) -> VerifyResult:
        return (await self._call(lambda: verify_environments([env], self.executor, probes=True)))[0]

    def drain(self) -> None:
        """Wait until calls already handed over (of cancelled environments too) have finished."""
        _sandbox_thread().submit(lambda: None).result()


def assemble(plan: Plan, toolset: Toolset, code: dict[str, str], metadata: dict[str, Any]) -> Environment:
    """The environment record of a plan, its toolset and the tools' code (validated, or Invalid)."""
    depths = plan.depths()
    expected: dict[str, list[str]] = {}
    turns: list[list[dict[str, Any]]] = [[] for _ in range(plan.hops)]
    for q in plan.subqs:
        call = toolset.calls[q.id]
        expected.setdefault(call.name, []).append(q.answer)
        turns[depths[q.id]].append({"name": call.name, "arguments": call.arguments})
    data = {"scenario": plan.scenario, "question": plan.question, "tools": [wrap_tool(t) for t in toolset.tools],
            "code": code, "expected": expected, "answer": plan.answer, "solution": turns, "metadata": metadata}
    try:
        return parse_environment(data)
    except InvalidRecord as exc:
        problems = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in exc.errors[:3])
        reason = "code" if any(str(e.kind).startswith("code") for e in exc.errors) else "record"
        raise Invalid(reason, "the environment is not a valid record: " + problems) from None


def check_sources(toolset: Toolset, code: dict[str, str]) -> None:
    """One source per tool (that each compiles and defines its tool is checked with the record)."""
    names = [t["name"] for t in toolset.tools]
    missing, extra = [n for n in names if n not in code], sorted(set(code) - set(names))
    if missing or extra:
        raise Invalid("code", f"give the code of exactly the tools {names}; missing {missing}, not tools {extra}")


def make_portable(code: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The sources with those that need the repair of :mod:`.portable` repaired, and the repaired tools."""
    fixed = {name: portable.repair(source, name) if isinstance(source, str) else None for name, source in code.items()}
    return {n: fixed[n] or s for n, s in code.items()}, [n for n in code if fixed[n] is not None]


async def run_gold(env: Environment, sandbox: SandboxGate, timeout_s: float) -> None:
    """Each gold call once, in order, with a short timeout, stopping at the first that fails: a tool that
    raises, loops, refuses its gold call or answers differently under the paper's scoping costs one call
    here, not the full verification's hundred."""
    for c in env.solution_calls:
        r = (await sandbox.run([ExecRequest.of(c, env.code, timeout_s, "compare")]))[0]
        if r.status == "scoping":
            ref = (await sandbox.run([ExecRequest.of(c, env.code, timeout_s, "reference")]))[0]
            raise Invalid("scoping", f"the gold call {c.name}({c.arguments_json()}) returns {r.output[:200]!r} in the "
                                     f"sandbox but {ref.output[:200]!r} under the paper's executor. {portable.RULE}",
                          stage="verification")
        if not r.ok or r.output.startswith("Error"):
            raise Invalid("calls", f"the gold call {c.name}({c.arguments_json()}) failed ({r.status}): "
                                   f"{r.output[:300]}", stage="verification")


async def verify(env: Environment, sandbox: SandboxGate, timeout_s: float) -> Environment:
    """The environment if it passes the gold run and the full verification with probes, else Invalid."""
    await run_gold(env, sandbox, timeout_s)
    result = await sandbox.verify(env)
    if result.status != "pass":
        failed = next(c for c in result.checks if not c.ok)
        hint = f" {portable.RULE}" if failed.name == "scoping" else ""
        raise Invalid(failed.name, f"verification failed ({failed.name}): {failed.detail[:400]}{hint}",
                      stage="verification")
    return env


def deploy_input(plan: Plan, toolset: Toolset) -> dict[str, Any]:
    by_id = {q.id: q for q in plan.subqs}
    return {"question": plan.question, "tools": list(toolset.tools),
            "calls": [{"subquestion": i, "question": by_id[i].question, "tool": c.name, "arguments": c.arguments,
                       "expected": by_id[i].answer} for i, c in sorted(toolset.calls.items())]}


async def deploy(asker: Asker, common: dict[str, Any], plan: Plan, toolset: Toolset, metadata: dict[str, Any],
                 sandbox: SandboxGate, timeout_s: float) -> Environment:
    """Stage 5: code for every tool, the record, and its verification in the sandbox."""

    async def check(data: dict[str, Any]) -> Environment:
        code = data["code"]
        check_sources(toolset, code)
        code, repaired = make_portable(code)
        meta = {**metadata, "extra": {**metadata.get("extra", {}), "scoping_repaired": repaired}} if repaired \
            else metadata
        return await verify(assemble(plan, toolset, code, meta), sandbox, timeout_s)

    return await asker.ask("deploy", {**common, "input": deploy_input(plan, toolset)}, check)
