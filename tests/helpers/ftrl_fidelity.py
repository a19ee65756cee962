"""Do environments behave under the paper's executor exactly as in our sandbox? The check behind the claim
that every environment toolgym builds runs unchanged under the paper's code.

For each environment, every call verification makes -- the gold calls, the same calls with wrong
arguments, the no-argument calls and the reward-hacking probes -- is run twice: through our executor
(module scoping, what rollouts see) and through the oracle of the paper's ``get_feedback`` /
``call_function`` (``ftrl_reference``: ``exec`` inside a function, then ``eval(name)``). The outputs must
be equal, call for call. Then the gold path is scored turn by turn with the oracle's ``compute_solve``
(the paper's step reward, consuming the unsolved set as the paper's code does): it must solve every
expected item.

The oracle runs the tool code in this process: use it on environments built by the test.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

from ftrl_reference import compute_solve, get_feedback

from toolgym.sandbox import ExecRequest
from toolgym.schema import ToolCall
from toolgym.verify import perturb, probe_calls


@dataclass
class Fidelity:
    envs: int = 0
    calls: int = 0
    differ: list = field(default_factory=list)  # (env id, call, sandbox output, reference output)
    unsolved: list = field(default_factory=list)  # (env id, what the gold path left unsolved)
    rewards: list = field(default_factory=list)  # the oracle's step rewards of every gold turn

    @property
    def ok(self) -> bool:
        return not self.differ and not self.unsolved

    def summary(self) -> str:
        return (f"{self.envs} environments, {self.calls} calls: {self.calls - len(self.differ)} identical under the "
                f"paper's call_function; {self.envs - len(self.unsolved)} gold paths solve every expected item "
                f"under the paper's compute_solve")


def checked_calls(env) -> list[ToolCall]:
    gold = env.solution_calls
    wrong = [ToolCall(name=c.name, arguments=perturb(c.arguments)) for c in gold
             if isinstance(c.arguments, dict) and c.arguments]
    empty = [ToolCall(name=n, arguments={}) for n in dict.fromkeys(c.name for c in gold)]
    return gold + wrong + empty + [c for _, c in probe_calls(env)]


def reference_output(call: ToolCall, code: dict) -> str:
    tool_call = {"id": "call_0", "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
    return get_feedback([tool_call], code)[0]["content"]


def _reply(turn) -> str:
    return "\n".join("<tool_call>\n" + json.dumps({"name": c.name, "arguments": c.arguments}) + "\n</tool_call>"
                     for c in turn)


def fidelity(envs, executor) -> Fidelity:
    report = Fidelity()
    plans = [(env, checked_calls(env)) for env in envs]
    ours = executor.run([ExecRequest.of(c, env.code) for env, calls in plans for c in calls])
    pos = 0
    for env, calls in plans:
        report.envs += 1
        for call in calls:
            mine, theirs = ours[pos].output, reference_output(call, env.code)
            pos += 1
            report.calls += 1
            if mine != theirs:
                report.differ.append((env.id, call, mine, theirs))
        unsolved = copy.deepcopy(env.expected)
        needed = sum(len(v) for v in unsolved.values())
        for turn in env.solution:
            left = sum(len(v) for v in unsolved.values())
            report.rewards.append(compute_solve("f1", _reply(turn), env.code, unsolved, 1 - left / needed))
        left = {k: v for k, v in unsolved.items() if v}
        if left:
            report.unsolved.append((env.id, left))
    return report
