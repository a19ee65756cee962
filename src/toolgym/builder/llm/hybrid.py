"""The hybrid builder: a procedural environment, its surface rewritten by an LLM, verified again.

The procedural skeleton (facts, code, gold calls, expected answers) guarantees the ground truth; the
LLM only rewrites what a reader sees: the question's wording, the tool names and descriptions, the
parameter descriptions and the error messages. Its reply is checked before it is applied:

* every tool once; new names are valid identifiers, distinct, and collide with nothing in the code
  (:func:`.rename.name_problem`);
* the question keeps, verbatim, what the gold calls need from it (the named entities, every number,
  units and months as written) -- the ``keep`` list the prompt shows;
* no new text contains an expected answer that the original question did not (the ``forbidden`` list);
* a reworded error message starts with "Error" and keeps the quoted parameter names.

Then the rewrite is applied mechanically: names in the documents, the ``expected`` keys, the gold
calls and the code (:func:`.rename.rewrite_source`, checked against the syntax tree), and the result is
verified in the sandbox again with the probes. A failure at any point goes back to the model as the
stage's error; the last one is recorded as a ``rewrite`` (or ``verification``) rejection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...reward import answer_matches
from ...sandbox import REFERENCE_LOCALS
from ...schema import Environment, tool_function, wrap_tool
from ..world import MONTHS, UNIT_WORDS
from .rename import RenameError, code_identifiers, error_literals, name_problem, rename_words, rewrite_source
from .structured import Invalid

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']+'")


@dataclass(frozen=True)
class Rewrite:
    question: str
    renames: dict[str, str]  # old name -> new name (changed names only)
    descriptions: dict[str, str]  # old name -> description
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)  # old name -> {param: description}
    messages: dict[str, str] = field(default_factory=dict)  # old error literal -> new


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def keep_list(env: Environment) -> list[str]:
    """What the rewritten question must still contain, written as the original writes it."""
    q, folded = env.question, env.question.casefold()
    found: list[str] = []
    words = [s for c in env.solution_calls for s in _strings(c.arguments) if len(s) >= 2]
    words += list(UNIT_WORDS.values()) + [m for m in MONTHS if isinstance(m, str)]
    for w in words:
        i = folded.find(w.casefold())
        bounded = i >= 0 and (i == 0 or not folded[i - 1].isalnum()) and \
            (i + len(w) == len(folded) or not folded[i + len(w)].isalnum())
        if bounded and q[i:i + len(w)] not in found:
            found.append(q[i:i + len(w)])
    found += [n for n in _NUMBER.findall(q) if n not in found]
    return found


def forbidden_list(env: Environment) -> list[str]:
    items = [x for xs in env.expected.values() for x in xs] + ([env.answer] if env.answer else [])
    return sorted({x for x in items if not answer_matches(env.question, x)})


def offered_messages(env: Environment) -> list[str]:
    """Error literals worth rewording: whole phrases (a lone quote or a short stub is left alone)."""
    out: list[str] = []
    for source in env.code.values():
        for m in error_literals(source):
            if m not in out and len(m) >= 15 and m.count("'") % 2 == 0:
                out.append(m)
    return out


def rewrite_input(env: Environment) -> dict[str, Any]:
    tools = []
    for t in env.tools:
        fn = tool_function(t)
        props = (fn.get("parameters") or {}).get("properties") or {}
        tools.append({"name": fn["name"], "description": fn.get("description", ""),
                      "parameters": {p: s.get("description", "") for p, s in props.items()}})
    names = set(env.code)
    reserved = sorted((set().union(*map(code_identifiers, env.code.values())) | set(REFERENCE_LOCALS)) - names)
    return {"question": env.question, "tools": tools, "error_messages": offered_messages(env),
            "keep": keep_list(env), "forbidden": forbidden_list(env),
            "reserved": [r for r in reserved if r.isidentifier()]}


def _leak(text: str, forbidden: list[str]) -> str | None:
    return next((x for x in forbidden if answer_matches(text, x)), None)


def _check_tools(env: Environment, data: dict[str, Any], forbidden: list[str]) -> Rewrite:
    params = {fn["name"]: set((fn.get("parameters") or {}).get("properties") or {})
              for fn in map(tool_function, env.tools)}
    given = [t["name"] for t in data["tools"]]
    if sorted(given) != sorted(params):
        raise Invalid("names", f"list every tool exactly once by its current name: {sorted(params)}; got {given}")
    renames, descriptions, described = {}, {}, {}
    for t in data["tools"]:
        old, new = t["name"], t["new_name"]
        if new != old:
            renames[old] = new
        unknown = sorted(set(t.get("parameters") or {}) - params[old])
        if unknown:
            raise Invalid("parameters", f"{old} has no parameter(s) {unknown}; parameters keep their names")
        descriptions[old], described[old] = t["description"].strip(), dict(t.get("parameters") or {})
        for text in [new, t["description"], *described[old].values()]:
            if _leak(text, forbidden):
                raise Invalid("leak", f"the new name or descriptions of {old} contain the answer "
                                      f"{_leak(text, forbidden)!r}")
    problem = name_problem(renames, list(env.code.values()), set(params) - set(renames))
    if problem:
        raise Invalid("names", problem)
    return Rewrite("", renames, descriptions, described)


def check_rewrite(env: Environment, data: dict[str, Any]) -> Rewrite:
    """The checked rewrite (see the module), or :class:`Invalid`."""
    forbidden = forbidden_list(env)
    rw = _check_tools(env, data, forbidden)
    question = data["question"].strip()
    missing = [k for k in keep_list(env) if k.casefold() not in question.casefold()]
    if missing:
        raise Invalid("question", f"the question must still contain {missing} verbatim")
    if _leak(question, forbidden):
        raise Invalid("leak", f"the question contains the answer {_leak(question, forbidden)!r}")
    offered, messages = offered_messages(env), {}
    for m in data.get("error_messages") or []:
        old, new = m["old"], m["new"]
        if old not in offered:
            raise Invalid("messages", f"{old!r} is not one of the listed error messages")
        lost = [q for q in _QUOTED.findall(old) if q not in new]
        if not new.startswith("Error") or lost or _leak(new, forbidden):
            raise Invalid("messages", f"the new wording of {old!r} must start with 'Error', keep {_QUOTED.findall(old)} "
                                      "and contain no answer")
        messages[old] = new.strip() + old[len(old.rstrip()):]  # the fragment's trailing space, kept
    return Rewrite(question, rw.renames, rw.descriptions, rw.parameters, messages)


def _document(fn: dict[str, Any], rw: Rewrite) -> dict[str, Any]:
    old = fn["name"]
    params = dict(fn.get("parameters") or {})
    given = rw.parameters.get(old, {})
    props = {p: ({**s, "description": rename_words(given[p], rw.renames)} if p in given else s)
             for p, s in (params.get("properties") or {}).items()}
    if props:
        params["properties"] = props
    description = rename_words(rw.descriptions.get(old, fn.get("description", "")), rw.renames)
    return {**fn, "name": rw.renames.get(old, old), "description": description, "parameters": params}


def apply_rewrite(env: Environment, rw: Rewrite, metadata: dict[str, Any]) -> Environment:
    """The environment with the rewrite applied everywhere (:class:`Invalid` if the code refuses it)."""
    try:
        code = {rw.renames.get(n, n): rewrite_source(s, rw.renames, rw.messages) for n, s in env.code.items()}
    except RenameError as exc:
        raise Invalid("names", str(exc)) from None
    solution = [[{"name": rw.renames.get(c.name, c.name), "arguments": c.arguments} for c in turn]
                for turn in env.solution]
    return Environment(scenario=env.scenario, question=rw.question or env.question,
                       tools=[wrap_tool(_document(tool_function(t), rw)) for t in env.tools], code=code,
                       expected={rw.renames.get(k, k): v for k, v in env.expected.items()}, answer=env.answer,
                       solution=solution, metadata=metadata)
