"""Stages 1-4 of the LLM builder: ask, then check what the model wrote, as records.

Each stage renders its prompt with the environment so far (as JSON), and turns the validated reply into
a record: :class:`Plan` (stage 1: question, answer, sub-questions and their dependencies) or
:class:`Toolset` (stages 2-4: tool documents and the gold call of every sub-question). The checks are
what makes a reply usable, each raising :class:`~.structured.Invalid` with a message for the model:
the scenario's shape, answers that are long enough and not given away, tool schemas that are valid,
calls whose arguments fit their tool and carry the answers they depend on (so a chain is a chain).
"""

from __future__ import annotations

import json
import keyword
from dataclasses import dataclass
from typing import Any

from ...reward import answer_matches
from ...sandbox import REFERENCE_LOCALS
from ...schema import ToolCall, validate_tool_schema, wrap_tool
from ..config import EnvSpec
from .structured import Asker, Invalid, schema_errors


@dataclass(frozen=True, slots=True)
class SubQuestion:
    id: int
    question: str
    answer: str
    depends_on: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """Stage 1's output."""

    scenario: str
    question: str
    answer: str
    subqs: tuple[SubQuestion, ...]

    def depths(self) -> dict[int, int]:
        depth: dict[int, int] = {}
        for q in self.subqs:  # ids are checked to be in order, dependencies earlier
            depth[q.id] = 1 + max((depth[d] for d in q.depends_on), default=-1)
        return depth

    @property
    def hops(self) -> int:
        return max(self.depths().values()) + 1

    @property
    def width(self) -> int:
        return sum(1 for q in self.subqs if not q.depends_on)

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer,
                "subquestions": [{"id": q.id, "question": q.question, "answer": q.answer,
                                  "depends_on": list(q.depends_on)} for q in self.subqs]}


@dataclass(frozen=True, slots=True)
class Toolset:
    """Stages 2-4's output: bare function schemas and the gold call of each sub-question (by id)."""

    tools: tuple[dict[str, Any], ...]
    calls: dict[int, ToolCall]

    @property
    def parameters(self) -> int:
        """Parameters of the tools the gold calls use, in all."""
        used = {c.name for c in self.calls.values()}
        return sum(len(t["parameters"].get("properties") or {}) for t in self.tools if t["name"] in used)

    def to_json(self) -> dict[str, Any]:
        return {"tools": list(self.tools), "calls": [{"subquestion": i, "tool": c.name, "arguments": c.arguments}
                                                     for i, c in sorted(self.calls.items())]}


# ---- stage 1 -------------------------------------------------------------------------------------------

def _shape_error(scenario: str, subqs: list[SubQuestion], hops: int, width: int) -> str | None:
    roots = [q for q in subqs if not q.depends_on]
    if scenario == "single_hop" and len(subqs) != 1:
        return f"a single_hop question has exactly 1 sub-question; got {len(subqs)}"
    if scenario == "parallel_single_hop" and (len(subqs) != width or len(roots) != width):
        return (f"a parallel_single_hop question has exactly {width} independent sub-questions; got {len(subqs)} "
                f"of which {len(roots)} independent")
    if scenario == "multi_hop":
        chain = all(q.depends_on == ((q.id - 1,) if q.id > 1 else ()) for q in subqs)
        if len(subqs) != hops or not chain:
            return (f"a multi_hop question is one chain of exactly {hops} sub-questions, each depending on the "
                    f"previous one only; got {len(subqs)} with depends_on {[list(q.depends_on) for q in subqs]}")
    if scenario == "parallel_multi_hop" and (len(roots) < 2 or len(roots) == len(subqs)):
        return (f"a parallel_multi_hop question needs at least 2 independent sub-questions and at least one that "
                f"depends on another; got {len(roots)} independent of {len(subqs)}")
    return None


def check_plan(data: dict[str, Any], spec: EnvSpec, min_chars: int, max_subqs: int) -> Plan:
    subqs = [SubQuestion(q["id"], q["question"].strip(), q["answer"].strip(), tuple(q["depends_on"]))
             for q in data["subquestions"]]
    ids = [q.id for q in subqs]
    if ids != list(range(1, len(subqs) + 1)):
        raise Invalid("structure", f"sub-question ids must be 1, 2, 3, ... in order; got {ids}")
    if len(subqs) > max_subqs:
        raise Invalid("structure", f"at most {max_subqs} sub-questions; got {len(subqs)}")
    for q in subqs:
        bad = [d for d in q.depends_on if not 1 <= d < q.id]
        if bad:
            raise Invalid("structure", f"sub-question {q.id} depends on {bad}, which are not earlier sub-questions")
    problem = _shape_error(spec.scenario, subqs, spec.hops, spec.width)
    if problem:
        raise Invalid("structure", problem)
    plan = Plan(spec.scenario, data["question"].strip(), data["answer"].strip(), tuple(subqs))
    for q in subqs:
        if len(q.answer) < min_chars:
            raise Invalid("answers", f"the answer of sub-question {q.id} ({q.answer!r}) is shorter than {min_chars} "
                                     "characters; ask for a value that is longer (a full name, a number with decimals)")
        if answer_matches(plan.question, q.answer):
            raise Invalid("answers", f"the answer of sub-question {q.id} ({q.answer!r}) appears in the question")
    if not answer_matches("\n".join(q.answer for q in subqs), plan.answer):
        raise Invalid("answers", f"the final answer {plan.answer!r} must be made of sub-question answers "
                                 "(one of them, or several joined by ', ')")
    if answer_matches(plan.question, plan.answer):
        raise Invalid("answers", "the final answer appears in the question")
    return plan


async def decompose(asker: Asker, common: dict[str, Any], spec: EnvSpec, min_chars: int, max_subqs: int) -> Plan:
    variables = {**common, "hops": str(spec.hops), "width": str(spec.width), "min_answer_chars": str(min_chars),
                 "max_subquestions": str(max_subqs)}
    return await asker.ask("decompose", variables, lambda data: check_plan(data, spec, min_chars, max_subqs))


# ---- stages 2-4 ----------------------------------------------------------------------------------------

def check_tools(items: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    tools, names = [], set()
    for i, item in enumerate(items):
        fn = {"name": item["name"], "description": item["description"].strip(), "parameters": item["parameters"]}
        problems = validate_tool_schema(wrap_tool(fn), i)
        if problems:
            raise Invalid("tools", f"tool {fn['name']!r}: {problems[0].message}")
        if keyword.iskeyword(fn["name"]) or fn["name"] in names:
            raise Invalid("tools", f"tool name {fn['name']!r} is used twice or is a Python keyword")
        if fn["name"] in REFERENCE_LOCALS:
            raise Invalid("tools", f"tool name {fn['name']!r} is taken by the paper's executor (it cannot call a "
                                   f"tool named {', '.join(REFERENCE_LOCALS)}); choose another")
        names.add(fn["name"])
        tools.append(fn)
    return tuple(tools)


def _args_json(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False)


def check_call(plan: Plan, q: SubQuestion, tool: dict[str, Any], arguments: dict[str, Any]) -> ToolCall:
    problems = schema_errors(tool["parameters"], arguments, limit=3)
    if problems:
        raise Invalid("arguments", f"the arguments of sub-question {q.id} do not fit the parameters of "
                                   f"{tool['name']}: " + "; ".join(problems))
    text = _args_json(arguments)
    by_id = {x.id: x for x in plan.subqs}
    for d in q.depends_on:
        if not answer_matches(text, by_id[d].answer):
            raise Invalid("arguments", f"the call of sub-question {q.id} must take the answer of sub-question {d} "
                                       f"({by_id[d].answer!r}) as an argument, written as it is; got {text}")
    if answer_matches(text, q.answer) and not any(answer_matches(by_id[d].answer, q.answer) for d in q.depends_on):
        raise Invalid("arguments", f"the arguments of sub-question {q.id} contain its own answer ({q.answer!r})")
    return ToolCall(name=tool["name"], arguments=arguments)


def check_calls(plan: Plan, tools: tuple[dict[str, Any], ...], items: list[dict[str, Any]]) -> dict[int, ToolCall]:
    by_name = {t["name"]: t for t in tools}
    by_id = {q.id: q for q in plan.subqs}
    calls: dict[int, ToolCall] = {}
    for item in items:
        i, name = item["subquestion"], item["tool"]
        if i not in by_id or i in calls:
            raise Invalid("calls", f"a call for sub-question {i}, which does not exist or already has a call")
        if name not in by_name:
            raise Invalid("calls", f"the call of sub-question {i} names {name!r}, which is not among the tools")
        calls[i] = check_call(plan, by_id[i], by_name[name], item["arguments"])
    missing = sorted(set(by_id) - set(calls))
    if missing:
        raise Invalid("calls", f"no call for sub-question(s) {missing}: each sub-question needs exactly one call")
    return calls


def check_documents(plan: Plan, data: dict[str, Any]) -> Toolset:
    items = data["tools"]
    tools = check_tools(items)
    calls = check_calls(plan, tools, [{"subquestion": t["subquestion"], "tool": t["name"],
                                       "arguments": t["arguments"]} for t in items])
    return Toolset(tools, calls)


def check_integrated(plan: Plan, before: Toolset, data: dict[str, Any]) -> Toolset:
    tools = check_tools(data["tools"])
    if len(tools) > len(before.tools):
        raise Invalid("integration", f"integration merges tools: {len(tools)} tools is more than the "
                                     f"{len(before.tools)} of the input")
    return Toolset(tools, check_calls(plan, tools, data["calls"]))


def check_scaled(plan: Plan, before: Toolset, levels: dict[str, int], data: dict[str, Any]) -> Toolset:
    tools = check_tools(data["tools"])
    scaled = Toolset(tools, check_calls(plan, tools, data["calls"]))
    used = {c.name for c in scaled.calls.values()}
    if levels.get("toolset", 0) >= 1 and len(tools) <= len(used):
        raise Invalid("scaling", f"toolset level {levels['toolset']} asks for tools the calls do not use; all "
                                 f"{len(tools)} tools are used")
    if levels.get("parameters", 0) >= 1 and scaled.parameters <= before.parameters:
        raise Invalid("scaling", f"parameters level {levels['parameters']} asks for more parameters in the tools "
                                 f"the calls use: {scaled.parameters} in all, the input had {before.parameters}")
    return scaled


async def document(asker: Asker, common: dict[str, Any], plan: Plan) -> Toolset:
    return await asker.ask("document", {**common, "input": plan.to_json()}, lambda d: check_documents(plan, d))


async def integrate(asker: Asker, common: dict[str, Any], plan: Plan, before: Toolset) -> Toolset:
    given = {"question": plan.question, "subquestions": plan.to_json()["subquestions"], **before.to_json()}
    return await asker.ask("integrate", {**common, "input": given}, lambda d: check_integrated(plan, before, d))


async def scale(asker: Asker, common: dict[str, Any], plan: Plan, before: Toolset, levels: dict[str, int]) -> Toolset:
    given = {"question": plan.question, "subquestions": plan.to_json()["subquestions"], **before.to_json()}
    return await asker.ask("scale", {**common, "input": given, "levels": json.dumps(levels)},
                           lambda d: check_scaled(plan, before, levels, d))
