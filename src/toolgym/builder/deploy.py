"""Stage 5, localized deployment: each tool becomes Python source holding its knowledge.

A lookup tool holds the rows it needs (the entities of the task it serves) and a few surrounding
rows of the same type, so a wrong but real name gets a real, different answer; a related tool holds
rows of entities the task does not involve; a near-miss look-alike holds the task's keys with values
taken from other entities (an outdated snapshot). The environment record is assembled here: tool
documents, code, expected answers per tool, the gold solution in turns, and metadata.
"""

from __future__ import annotations

import random
from typing import Any

from ..schema import Environment, wrap_tool
from . import _codegen, _compute
from ._records import Draft, Param, Plan, ToolSpec
from .world import ALT_UNIT, UNITS, World

SURROUNDING = 2  # extra rows of the same type in a lookup tool
PAGE = 5  # rows of a related tool: a fixed page of its type, so the same source recurs across
# environments and the sandbox compiles it once (the page must not touch the task's entities)


def _k(name: str) -> str:
    return " ".join(name.lower().split())


def involved(plan: Plan) -> set[str]:
    """Every entity name the task touches (named, or reached as an answer)."""
    out = set()
    for q in plan.subqs:
        if q.kind == "lookup":
            out.add(q.entity)
            if isinstance(q.value, str):
                out.add(q.value)
    return out


def _row(world: World, etype: str, ent, fields: list[str], values_from=None) -> list[Any]:
    attrs = world.types[etype].by_name
    src = values_from or ent
    values = {f: src.values[f] for f in fields if f in src.values}
    units, money = {}, {}
    for f in values:
        a = attrs[f]
        if a.unit:
            units[f] = a.unit
        elif a.kind == "money":
            money[f] = world.get("currency", src.values["currency"]).values["code"]
    return [ent.owner or ent.name, values, units, money]


def _key(ent) -> str:
    return _k(ent.owner) + "|" + ent.date if ent.date else _k(ent.name)


def _others(world: World, etype: str, avoid: set[str], n: int, rng: random.Random) -> list:
    pool = world.entities[etype]
    out = []
    for _ in range(n * 4):
        e = pool[rng.randrange(len(pool))]
        if (e.owner or e.name) not in avoid and e not in out:
            out.append(e)
            if len(out) == n:
                break
    return out


def _tool_data(world: World, draft: Draft, spec: ToolSpec, rng: random.Random, avoid: set[str]):
    """(data, fields) of one lookup-like tool, per entity type for multi-type tools."""
    plan = draft.plan
    data: dict[str, dict[str, list]] = {}
    fields: dict[str, list[str]] = {}
    for etype in spec.etypes:
        t = world.types[etype]
        fs = [f for f in spec.fields if any(a.name == f for a in t.attrs)] if not spec.features.get("multi") \
            else spec.features["type_fields"][etype]
        fields[etype] = fs
        mine = [plan.subqs[c.subq] for c in draft.calls if c.tool == spec.name and plan.subqs[c.subq].etype == etype]
        if spec.role == "near_miss":
            mine = [plan.subqs[c.subq] for c in draft.calls if c.tool == spec.features["original"]
                    and plan.subqs[c.subq].etype == etype]
        ents = [world.get(etype, f"{q.entity}|{q.date}" if q.date else q.entity) for q in mine]
        rows: dict[str, list] = {}
        if spec.role == "near_miss":
            donors = _others(world, etype, avoid, 4 * len(ents), rng)
            for e in ents:
                # an outdated snapshot must not agree with the current value of any fact (else it would leak)
                d = next((d for d in donors if all(d.values.get(f) != e.values.get(f) for f in fs)), None)
                if d is not None:
                    donors.remove(d)
                    rows[_key(e)] = _row(world, etype, e, fs, values_from=d)
        elif spec.role == "related":
            pool = world.entities[etype]
            pages = [pool[i:i + PAGE] for i in range(0, min(len(pool), PAGE * 6), PAGE)]
            free = [p for p in pages if not any((e.owner or e.name) in avoid for e in p)]
            for e in (rng.choice(free) if free else []):
                rows[_key(e)] = _row(world, etype, e, fs)
        else:
            extra = _others(world, etype, avoid, SURROUNDING, rng)
            for e in ents + extra:
                rows[_key(e)] = _row(world, etype, e, fs)
        data[etype] = dict(sorted(rows.items()))
    return data, fields


def _features(world: World, spec: ToolSpec) -> dict[str, Any]:
    t = world.types[spec.etypes[0]]
    owner = world.types[t.owner] if t.dated else t
    f = dict(spec.features)
    f["key"] = "name" if f.get("multi") else t.key
    f["noun"] = "entity" if f.get("multi") else owner.nouns[0]
    f["source"] = "catalogue" if f.get("multi") else t.source
    if t.dated:
        f.setdefault("date", "iso")
        f["date_hint"] = _codegen.date_hint(f["date"])
    if any(p.name == "unit" for p in spec.params):
        units = sorted({u for e in spec.etypes for a in world.types[e].attrs if a.unit
                        for u in (a.unit, ALT_UNIT.get(a.unit, a.unit))})
        f["unit"] = {u: list(UNITS[u]) for u in units}
        # the document lists exactly the units the code accepts (a merged tool serves several fields)
        spec.params = [Param(p.name, {**p.schema, **({"enum": units} if "enum" in p.schema else {})}, p.required,
                             p.default) if p.name == "unit" else p for p in spec.params]
    return f


def tool_source(world: World, draft: Draft, spec: ToolSpec, rng: random.Random, avoid: set[str]) -> str:
    if spec.role == "compute":
        return _compute.source(spec.op, world.rates)
    data, fields = _tool_data(world, draft, spec, rng, avoid)
    if not spec.features.get("multi"):
        data, fields = data[spec.etypes[0]], fields[spec.etypes[0]]
    return _codegen.lookup_source(spec, data, fields, _features(world, spec))


def schema(spec: ToolSpec) -> dict[str, Any]:
    props = {p.name: p.schema for p in spec.params}
    required = [p.name for p in spec.params if p.required]
    return wrap_tool({"name": spec.name, "description": spec.description,
                      "parameters": {"type": "object", "properties": props, "required": required}})


def deploy(world: World, draft: Draft, rng: random.Random, metadata: dict[str, Any]) -> Environment:
    """Stage 5: code for every tool, expected answers, gold solution; the environment record."""
    plan = draft.plan
    avoid = involved(plan)
    names = sorted(draft.tools)
    rng.shuffle(names)  # needed tools are not always listed first
    code = {n: tool_source(world, draft, draft.tools[n], rng, avoid) for n in names}
    expected: dict[str, list[str]] = {}
    for c in draft.calls:
        expected.setdefault(c.tool, []).append(plan.subqs[c.subq].answer)
    depth = max(q.depth for q in plan.subqs) + 1
    turns: list[list[dict[str, Any]]] = [[] for _ in range(depth)]
    for c in draft.calls:
        turns[plan.subqs[c.subq].depth].append({"name": c.tool, "arguments": c.arguments})
    return Environment(scenario=plan.scenario, question=plan.question, tools=[schema(draft.tools[n]) for n in names],
                       code=code, expected=expected, answer=plan.answer, solution=turns, metadata=metadata)
