"""Verification of environments by running their gold solution in the sandbox.

An environment passes when, executed through an :class:`~toolgym.sandbox.Executor`:

* ``calls``: every gold call returns normally (no error message);
* ``solves``: the gold calls, in order, solve every expected item (the reward's own matching);
* ``answer``: every part of the final answer appears in the gold outputs;
* ``deterministic``: running the solution again gives the same outputs;
* ``scoping``: every call verification makes (the solution, the perturbed calls, the probes) gives the
  same output under the paper's executor as in the sandbox (the paper's ``call_function`` runs a source
  with ``exec`` inside a function, so a tool function does not see its source's top-level names there;
  see ``toolgym.sandbox``). Each call runs with ``scoping="compare"``: twice, as a module and under the
  reference scoping, in the same worker. Those two runs are also the determinism check's two runs: a
  difference is run again, in each scoping, to tell a non-deterministic tool (``deterministic`` fails)
  from one that depends on its scoping (``scoping`` fails). Environments recorded as
  ``metadata.scoping == "reference"`` (the paper's data) run under the reference scoping only, the
  solution twice;
* ``perturbed``: each gold call with all its arguments replaced by wrong values of the same type
  does not return the answer that call solved, and calling a tool with no arguments solves nothing;
* ``probes`` (reward-hacking probes, opt-in with ``probes=True``; the procedural builder always runs
  them): degenerate calls of each tool the solution uses
  (an argument left out; every string argument replaced by a wildcard or listing request: ``*``,
  ``all``, ``""``) return none of that tool's expected answers, and a call of each tool the
  solution does not use (a distractor) returns none of the environment's expected answers. An
  answer that the probe's own arguments already contain is not counted (echoing input is no leak).

All calls of all environments in a batch go to the executor in one run (tools are stateless: each call
gets a fresh namespace), so verification runs at sandbox speed. Environments without a solution
(imported data) are reported as ``skip``. Failed checks are named in ``VerifyResult.checks`` (the
builders record the first as the rejection reason).
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .reward import UnsolvedSet, answer_matches
from .sandbox import ExecRequest, ExecResult, Executor, RequestScoping
from .schema import Environment, ToolCall

VerifyStatus = Literal["pass", "fail", "skip"]
_ERROR_PREFIX = "an error occured when call "  # how a scoping result says its module outcome raised
WILDCARDS = ("*", "all", "")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    env_id: str
    scenario: str | None
    status: VerifyStatus
    checks: list[Check] = field(default_factory=list)

    @property
    def reason(self) -> str:
        failed = [c for c in self.checks if not c.ok]
        return "; ".join(f"{c.name}: {c.detail}" for c in failed) if failed else ""

    def to_dict(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "scenario": self.scenario, "status": self.status,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def _wrong_string(value: str) -> str:
    return "unknown-" + hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def perturb(value: Any) -> Any:
    """A wrong value of the same JSON type (deterministic), never equal to or containing the original."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000003
    if isinstance(value, float):
        return value * 3.7 + 1000003.5
    if isinstance(value, str):
        return _wrong_string(value)
    if isinstance(value, list):
        return [perturb(v) for v in value] if value else ["unknown"]
    if isinstance(value, dict):
        return {k: perturb(v) for k, v in value.items()}
    return "unknown"


def _short(text: str, limit: int = 160) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class _Plan:
    env: Environment
    gold: list[ToolCall]
    perturbed: list[tuple[int, ToolCall]]  # (index of the gold call, perturbed call)
    empty: list[ToolCall]  # one no-argument probe per tool that takes arguments
    probes: list[tuple[str, ToolCall]] = field(default_factory=list)  # (kind, call), see probe_calls
    start: int = 0
    scoping: str = "module"  # the environment's; "module" environments are compared with the reference

    @property
    def reruns(self) -> int:
        """How often the solution runs a second time for the determinism check: a ``compare`` run already
        runs every call twice (the module and the reference run must agree), otherwise once more."""
        return 0 if self.scoping == "module" else len(self.gold)

    def calls(self) -> list[tuple[ToolCall, RequestScoping]]:
        """Every call verification runs, in the order :func:`_judge` reads their results: the solution
        (and its rerun, see :attr:`reruns`), the perturbed calls, the no-argument calls and the probes."""
        scoping: RequestScoping = "compare" if self.scoping == "module" else "reference"
        rerun = self.gold if self.reruns else []
        return [(c, scoping) for c in self.gold + rerun + [c for _, c in self.perturbed] + self.empty
                + [c for _, c in self.probes]]

    def split(self, results: list[ExecResult]) -> tuple[list[ExecResult], ...]:
        """The results of :meth:`calls`: (solution, rerun, perturbed, no-argument, probes)."""
        out, pos = [], 0
        for size in (len(self.gold), self.reruns, len(self.perturbed), len(self.empty), len(self.probes)):
            out.append(results[pos:pos + size])
            pos += size
        return tuple(out)

    @property
    def size(self) -> int:
        return len(self.gold) + self.reruns + len(self.perturbed) + len(self.empty) + len(self.probes)


def _replace_strings(value: Any, text: str) -> Any:
    if isinstance(value, str):
        return text
    if isinstance(value, list):
        return [_replace_strings(v, text) for v in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, text) for k, v in value.items()}
    return value


def _placeholder(name: str, schema: Any, gold: list[ToolCall]) -> Any:
    """A plausible argument for a distractor: a gold argument of the same name, else one of the type."""
    for c in gold:
        if isinstance(c.arguments, dict) and name in c.arguments:
            return c.arguments[name]
    schema = schema if isinstance(schema, dict) else {}
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    strings = [v for c in gold if isinstance(c.arguments, dict) for v in c.arguments.values() if isinstance(v, str)]
    return strings[0] if strings else "x"


def probe_calls(env: Environment) -> list[tuple[str, ToolCall]]:
    """The reward-hacking probes of an environment: ``(kind, call)`` with kind ``missing``,
    ``wildcard`` or ``distractor``."""
    from .schema import tool_function

    gold = env.solution_calls
    probes: list[tuple[str, ToolCall]] = []
    first: dict[str, ToolCall] = {}
    for c in gold:
        if isinstance(c.arguments, dict) and c.arguments:
            first.setdefault(c.name, c)
    for name, c in first.items():
        keys = list(c.arguments)
        if len(keys) > 1:
            probes.append(("missing", ToolCall(name=name, arguments={k: c.arguments[k] for k in keys[1:]})))
        seen = set()
        for w in WILDCARDS:
            args = _replace_strings(c.arguments, w)
            key = json.dumps(args, sort_keys=True)
            if args != c.arguments and key not in seen:
                seen.add(key)
                probes.append(("wildcard", ToolCall(name=name, arguments=args)))
    used = {c.name for c in gold}
    for tool in env.tools:
        fn = tool_function(tool)
        name = fn.get("name")
        if not isinstance(name, str) or name in used:
            continue
        params = fn.get("parameters") or {}
        props = params.get("properties") or {}
        args = {p: _placeholder(p, props.get(p), gold) for p in params.get("required") or []}
        probes.append(("distractor", ToolCall(name=name, arguments=args)))
    return probes


def _leaks(env: Environment, kind: str, call: ToolCall, output: str) -> str | None:
    """The expected answer a probe's output gives away, if any."""
    if kind == "distractor":
        items = [x for xs in env.expected.values() for x in xs]
    else:
        items = env.expected.get(call.name, [])
    echoed = None
    for item in items:
        if answer_matches(output, item):
            echoed = echoed if echoed is not None else call.arguments_json()
            if not answer_matches(echoed, item):
                return item
    return None


def _plan(env: Environment, probes: bool = True) -> _Plan:
    """What verification runs for one environment."""
    gold = env.solution_calls
    perturbed = [(i, ToolCall(name=c.name, arguments=perturb(c.arguments)))
                 for i, c in enumerate(gold) if isinstance(c.arguments, dict) and c.arguments]
    seen: list[str] = []
    for c in gold:
        if isinstance(c.arguments, dict) and c.arguments and c.name not in seen:
            seen.append(c.name)
    return _Plan(env, gold, perturbed, [ToolCall(name=n, arguments={}) for n in seen],
                 probe_calls(env) if probes else [], scoping=env.metadata.scoping)


def _failed(r: ExecResult) -> bool:
    """A call that did not return normally, by its status. A ``scoping`` result carries the module outcome's
    output, and only that text says whether the module outcome raised."""
    return r.status not in ("ok", "scoping") or (r.status == "scoping" and r.output.startswith(_ERROR_PREFIX))


@dataclass(frozen=True, slots=True)
class _Recheck:
    """A call whose outputs differed between the scopings, run again in each: ``(module, reference)``."""

    call: ToolCall
    first: ExecResult
    again: tuple[ExecResult, ExecResult]

    @property
    def deterministic(self) -> bool:
        return self.again[0].output == self.first.output

    def describe(self) -> str:
        return (f"{self.call.name}({self.call.arguments_json()}) returns {_short(self.first.output, 80)!r} in the "
                f"sandbox but {_short(self.again[1].output, 80)!r} under the paper's call_function scoping")


def _judge(plan: _Plan, first: list[ExecResult], second: list[ExecResult], perturbed: list[ExecResult],
           empty: list[ExecResult], probes: list[ExecResult] | None = None,
           rechecks: Sequence[_Recheck] = ()) -> VerifyResult:
    env = plan.env
    checks: list[Check] = []
    bad = [(i, c, r) for i, (c, r) in enumerate(zip(plan.gold, first)) if _failed(r)]
    checks.append(Check("calls", not bad, "" if not bad else
                        f"call {bad[0][0]} ({bad[0][1].name}) failed: {_short(bad[0][2].output)}"))
    unsolved = UnsolvedSet(env.expected)
    solved_by = [unsolved.solve(c.name, r.output) for c, r in zip(plan.gold, first)]
    left = {k: v for k, v in unsolved.to_dict().items() if v}
    checks.append(Check("solves", not left, "" if not left else f"not solved by the solution: {left}"))
    if env.answer is not None:
        joined = "\n".join(r.output for r in first)
        ok = answer_matches(joined, env.answer)
        checks.append(Check("answer", ok, "" if ok else f"answer {env.answer!r} is not in the solution's outputs"))
    same = [i for i, (a, b) in enumerate(zip(first, second)) if a.output != b.output]  # no rerun: empty
    flaky = [r for r in rechecks if not r.deterministic]
    checks.append(Check("deterministic", not same and not flaky,
                        f"call {same[0]} ({plan.gold[same[0]].name}) gave different outputs on two runs" if same
                        else f"{flaky[0].call.name}({flaky[0].call.arguments_json()}) gave different outputs on "
                             "two runs" if flaky else ""))
    if plan.scoping == "module":
        scoped = [r for r in rechecks if r.deterministic]
        checks.append(Check("scoping", not scoped, scoped[0].describe() if scoped else ""))
    leaks = []
    for (i, call), r in zip(plan.perturbed, perturbed):
        item = solved_by[i]
        if item is not None and answer_matches(r.output, item):
            leaks.append(f"{call.name} with wrong arguments {call.arguments} still returns {item!r}")
    for call, r in zip(plan.empty, empty):
        hits = [x for x in env.expected.get(call.name, []) if answer_matches(r.output, x)]
        if hits:
            leaks.append(f"{call.name} with no arguments returns {hits[0]!r}")
    checks.append(Check("perturbed", not leaks, leaks[0] if leaks else ""))
    if plan.probes:
        hacks = []
        for (kind, call), r in zip(plan.probes, probes or []):
            item = _leaks(env, kind, call, r.output)
            if item is not None:
                hacks.append(f"{kind} probe {call.name}({call.arguments_json()}) returns {item!r}")
        checks.append(Check("probes", not hacks, hacks[0] if hacks else ""))
    status: VerifyStatus = "pass" if all(c.ok for c in checks) else "fail"
    return VerifyResult(env.id, env.scenario, status, checks)


def verify_environments(envs: Sequence[Environment], executor: Executor, *, probes: bool = False) -> list[VerifyResult]:
    """Verify a batch of environments with one executor run (``probes=True`` adds the
    reward-hacking probes), and a second, small one for calls whose scopings disagreed."""
    plans: list[_Plan] = []
    requests: list[ExecRequest] = []
    results: list[VerifyResult | None] = []
    for env in envs:
        if not env.solution:
            results.append(VerifyResult(env.id, env.scenario, "skip", [Check("solution", False, "no gold solution")]))
            continue
        if env.needed == 0:
            results.append(VerifyResult(env.id, env.scenario, "fail",
                                        [Check("expected", False, "nothing is expected: the reward cannot be earned")]))
            continue
        plan = _plan(env, probes)
        plan.start = len(requests)
        requests.extend(ExecRequest.of(c, env.code, scoping=scoping) for c, scoping in plan.calls())
        plans.append(plan)
        results.append(None)
    outputs = executor.run(requests) if requests else []
    rechecks = _rechecks(plans, requests, outputs, executor)
    it = iter(plans)
    final: list[VerifyResult] = []
    for r in results:
        if r is not None:
            final.append(r)
            continue
        plan = next(it)
        final.append(_judge(plan, *plan.split(outputs[plan.start:plan.start + plan.size]),
                            rechecks=rechecks.get(plan.start, [])))
    return final


def _rechecks(plans: list[_Plan], requests: list[ExecRequest], outputs: list[ExecResult],
              executor: Executor) -> dict[int, list[_Recheck]]:
    """Each call whose scopings disagreed, run again under each (the rare second run), by plan start."""
    starts = [p.start for p in plans]
    mismatched = [i for i, r in enumerate(outputs) if r.status == "scoping"]
    if not mismatched:
        return {}
    again = executor.run([dataclasses.replace(requests[i], scoping=s) for i in mismatched
                          for s in ("module", "reference")])
    out: dict[int, list[_Recheck]] = {}
    for k, i in enumerate(mismatched):
        start = starts[bisect.bisect_right(starts, i) - 1]
        call = ToolCall(name=requests[i].name, arguments=requests[i].arguments)
        out.setdefault(start, []).append(_Recheck(call, outputs[i], (again[2 * k], again[2 * k + 1])))
    return out


def verify_environment(env: Environment, executor: Executor, *, probes: bool = False) -> VerifyResult:
    return verify_environments([env], executor, probes=probes)[0]
