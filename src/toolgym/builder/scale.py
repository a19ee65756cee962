"""Stage 4, complexity scaling: the paper's four strategies, each with a level (0 = off, up to 3).

* ``functional`` (generalisation): 1 a lookup serves every attribute of its type (``field``); 2 one
  tool serves every needed type of a domain (``entity_type``), arithmetic goes through ``calculate``;
  3 that domain tool covers all the domain's types.
* ``parameters`` (expansion): 1 an optional ``verbose`` flag; 2 an optional ``format``; 3 an optional
  ``as_of_year`` that only accepts the current year.
* ``types`` (parameter-type generalisation): 0 plain strings (options only in the description);
  1 enums; 2 lists (``fields``) and day-first dates; 3 nested objects (``query``, dates as objects).
  Units are part of it: from 1 on, a question may ask for a quantity in another unit (``unit``).
* ``toolset`` (extension): 1 related tools of the world; 2 plus near-miss look-alikes of needed tools
  (similar names, outdated data); 3 related tools from other domains too.

Every change to a tool's parameters rewrites the gold calls that use it, so the solution stays exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from . import integrate
from ._records import Call, Draft, Param, ToolSpec
from .world import World

STRATEGIES = ("functional", "parameters", "types", "toolset")
LEVELS = range(4)


def _rewrite(draft: Draft, tools: dict[str, ToolSpec], fix: Callable[[Call], Call]) -> Draft:
    return Draft(draft.plan, tools, [fix(c) for c in draft.calls], draft.levels)


def _verb(draft: Draft) -> str:
    return next((n.split("_", 1)[0] for n, t in draft.tools.items() if t.role == "lookup"), "get")


# ---- functional generalisation -----------------------------------------------------------------------

def _all_fields(world: World, draft: Draft, rng: random.Random) -> Draft:
    tools: dict[str, ToolSpec] = {}
    rename: dict[str, tuple[str, str | None]] = {}
    verb = _verb(draft)
    for name, spec in draft.tools.items():
        if spec.role != "lookup":
            tools[name] = spec
            continue
        t = world.types[spec.etypes[0]]
        fields = [a.name for a in t.attrs]
        if spec.field_param is None:
            new = integrate.merged_lookup(world, rng, t.name, [spec], fields, verb)
            rename[name] = (new.name, spec.fields[0])
        else:
            new = ToolSpec(spec.name, spec.description.split(":")[0] + ": " + ", ".join(f.replace("_", " ") for f in fields) + ".",
                           "lookup", spec.etypes, fields, "field",
                           params=[integrate.field_param(fields) if p.name == "field" else p for p in spec.params])
            rename[name] = (name, None)
        tools[new.name] = new

    def fix(c: Call) -> Call:
        if c.tool not in rename:
            return c
        new, field = rename[c.tool]
        return Call(c.subq, new, {**c.arguments, "field": field} if field else c.arguments)

    return _rewrite(draft, tools, fix)


def _domain_tools(world: World, draft: Draft, rng: random.Random, whole_domain: bool) -> Draft:
    groups: dict[str, list[ToolSpec]] = {}
    for spec in draft.tools.values():
        if spec.role == "lookup" and not world.types[spec.etypes[0]].dated:
            groups.setdefault(world.types[spec.etypes[0]].domain, []).append(spec)
    tools = dict(draft.tools)
    rename: dict[str, str] = {}
    verb = _verb(draft)
    for domain, members in groups.items():
        etypes = [m.etypes[0] for m in members]
        if whole_domain:
            etypes += [t.name for t in world.types_in({domain}) if not t.dated and t.name not in etypes]
        type_fields = {e: [a.name for a in world.types[e].attrs] for e in etypes}
        for m in members:
            type_fields[m.etypes[0]] = list(dict.fromkeys(m.fields + type_fields[m.etypes[0]]))
        all_fields = list(dict.fromkeys(f for fs in type_fields.values() for f in fs))
        params = [Param("entity_type", {"type": "string", "enum": etypes, "description": "What kind of entity."}),
                  Param("name", {"type": "string", "description": "The entity's name, as written in the question "
                                                                  "or returned by another tool."}),
                  integrate.field_param(all_fields)]
        params += [p for m in members for p in m.params if p.name == "unit"][:1]
        name = f"{verb}_{domain}_{rng.choice(integrate.SUFFIXES)}"
        desc = f"Look up one fact about any {domain} entity ({', '.join(etypes)}) in the shared catalogue."
        spec = ToolSpec(name, desc, "lookup", etypes, all_fields, "field", params=params,
                        features={"multi": True, "type_fields": type_fields})
        for m in members:
            del tools[m.name]
            rename[m.name] = name
        tools[name] = spec

    def fix(c: Call) -> Call:
        if c.tool not in rename:
            return c
        q = draft.plan.subqs[c.subq]
        args = {"entity_type": q.etype, "name": q.entity, "field": c.arguments.get("field", q.attr)}
        if "unit" in c.arguments:
            args["unit"] = c.arguments["unit"]
        return Call(c.subq, rename[c.tool], args)

    return _rewrite(draft, tools, fix)


def functional(world: World, draft: Draft, rng: random.Random, level: int) -> Draft:
    if level >= 1:
        draft = _all_fields(world, draft, rng)
    if level >= 2:
        draft = _domain_tools(world, draft, rng, whole_domain=level >= 3)
        if "aggregate_numbers" in draft.tools:
            if "calculate" not in draft.tools:
                from .document import COMPUTE_DOCS
                desc, params = COMPUTE_DOCS["calculate"]
                draft.tools["calculate"] = ToolSpec("calculate", desc, "compute", op="calculate", params=list(params))
            draft = integrate.merge_arithmetic(draft)
    return draft


# ---- parameter expansion -----------------------------------------------------------------------------

_OPTIONAL = [
    ("verbose", Param("verbose", {"type": "boolean", "description": "Also say where the fact comes from "
                                                                    "(default false)."}, required=False, default=False)),
    ("format", Param("format", {"type": "string", "enum": ["json", "text"], "description": "Answer as a JSON "
                                "object (default) or as one line of text."}, required=False, default="json")),
    ("as_of", Param("as_of_year", {"type": "integer", "description": "Year of the data; only the current year "
                                   "(2032) is kept. Leave it out for current data."}, required=False, default=None)),
]


def parameters(draft: Draft, level: int) -> Draft:
    if level == 0:
        return draft
    for spec in draft.tools.values():
        if spec.role == "lookup":
            for feature, param in _OPTIONAL[:level]:
                spec.params.append(param)
                spec.features[feature] = True
    return draft


# ---- parameter-type generalisation -------------------------------------------------------------------

def _plain(param: Param) -> Param:
    schema = {k: v for k, v in param.schema.items() if k != "enum"}
    if "enum" in param.schema:
        schema["description"] = param.schema.get("description", "").rstrip(".") + " (one of: " + \
            ", ".join(map(str, param.schema["enum"])) + ")."
    return Param(param.name, schema, param.required, param.default)


def _date_value(iso: str, fmt: str) -> Any:
    if fmt == "dmy":
        return f"{iso[8:]}/{iso[5:7]}/{iso[:4]}"
    if fmt == "object":
        return {"year": int(iso[:4]), "month": int(iso[5:7]), "day": int(iso[8:])}
    return iso


def _date_schema(fmt: str) -> dict[str, Any]:
    if fmt == "object":
        return {"type": "object", "description": "The day.", "required": ["year", "month", "day"],
                "properties": {k: {"type": "integer"} for k in ("year", "month", "day")}}
    return {"type": "string", "description": "The day, written DD/MM/YYYY." if fmt == "dmy" else
            "The day, written YYYY-MM-DD."}


def types(world: World, draft: Draft, level: int) -> Draft:
    lookups = {n: s for n, s in draft.tools.items() if s.role == "lookup"}
    for spec in lookups.values():
        dated = world.types[spec.etypes[0]].dated
        if level == 0:
            spec.params = [_plain(p) for p in spec.params]
        if level >= 2 and spec.field_param == "field":
            spec.field_param = "fields"
            spec.params = [Param("fields", {"type": "array", "minItems": 1, "items": p.schema,
                                            "description": "Which facts to return."}) if p.name == "field" else p
                           for p in spec.params]
        if dated:
            spec.features["date"] = "object" if level >= 3 else "dmy" if level >= 2 else "iso"
            spec.params = [Param("date", _date_schema(spec.features["date"])) if p.name == "date" else p
                           for p in spec.params]
        if level >= 3:
            inner = [p for p in spec.params if p.name in (spec.params[0 if not spec.features.get("multi") else 1].name, "date")]
            spec.features["nested"] = [p.name for p in inner]
            query = Param("query", {"type": "object", "description": "Which record.",
                                    "properties": {p.name: p.schema for p in inner}, "required": [p.name for p in inner]})
            rest = [p for p in spec.params if p not in inner]
            spec.params = ([rest[0], query] + rest[1:]) if spec.features.get("multi") else [query] + rest

    def fix(c: Call) -> Call:
        spec = lookups.get(c.tool)
        if spec is None:
            return c
        args = dict(c.arguments)
        if "date" in args:
            args["date"] = _date_value(args["date"], spec.features.get("date", "iso"))
        if spec.field_param == "fields" and "field" in args:
            field = args.pop("field")
            args = {k: v for k, v in args.items()}
            args["fields"] = [field]
        if spec.features.get("nested"):
            args["query"] = {k: args.pop(k) for k in spec.features["nested"]}
        return Call(c.subq, c.tool, args)

    return _rewrite(draft, draft.tools, fix)


# ---- toolset extension -------------------------------------------------------------------------------

_MISS = ("{n}_v1", "{n}_legacy", "{n}_archive", "{n}_old", "{n}s", "{n}_cached")


def _related(world: World, draft: Draft, rng: random.Random, n: int, cross_domain: bool) -> list[ToolSpec]:
    needed = {e for s in draft.tools.values() for e in s.etypes}
    domains = {world.types[e].domain for e in needed}
    pool = [t for t in world.types_in(None) if t.name not in needed
            and (cross_domain or t.domain in domains or not domains)]
    if len(pool) < n:  # a domain with few types: borrow from the rest of the world
        pool += [t for t in world.types_in(None) if t.name not in needed and t not in pool]
    verb = _verb(draft)
    out = []
    for t in rng.sample(pool, min(n, len(pool))):
        fields = [a.name for a in t.attrs]
        params = [p for p in _base_params(world, t.name)] + [integrate.field_param(fields)]
        name = f"{verb}_{t.name}_{rng.choice(integrate.SUFFIXES)}"
        if name in draft.tools:
            continue
        desc = f"Facts about a {t.nouns[0]} from the {t.source}: " + ", ".join(f.replace('_', ' ') for f in fields) + "."
        out.append(ToolSpec(name, desc, "related", [t.name], fields, "field", params=params))
    return out


def _base_params(world: World, etype: str) -> list[Param]:
    from .document import date_param, key_param
    return [key_param(world, etype)] + ([date_param()] if world.types[etype].dated else [])


def _near_misses(draft: Draft, rng: random.Random, n: int) -> list[ToolSpec]:
    originals = [s for s in draft.tools.values() if s.role == "lookup"]
    out = []
    for spec in rng.sample(originals, min(n, len(originals))):
        names = [p.format(n=spec.name) for p in _MISS if p.format(n=spec.name) not in draft.tools]
        name = rng.choice(names)
        desc = "Archived snapshot, no longer updated (superseded by " + spec.name + "). " + spec.description
        out.append(ToolSpec(name, desc, "near_miss", list(spec.etypes), list(spec.fields), spec.field_param,
                            features={**spec.features, "original": spec.name,
                                      "note": "archived snapshot; figures may be outdated"},
                            params=list(spec.params)))
    return out


def toolset(world: World, draft: Draft, rng: random.Random, level: int, distractors: int) -> Draft:
    if level == 0 or distractors <= 0:
        return draft
    n_miss = 0 if level < 2 else max(1, distractors // 2)
    extra = _near_misses(draft, rng, n_miss) + _related(world, draft, rng, distractors - n_miss, level >= 3)
    tools = dict(draft.tools)
    for spec in extra:
        tools.setdefault(spec.name, spec)
    return Draft(draft.plan, tools, draft.calls, draft.levels)


def scale(world: World, draft: Draft, rng: random.Random, distractors: int) -> Draft:
    """Stage 4: apply the four strategies at the draft's levels."""
    lv = draft.levels
    draft = functional(world, draft, rng, lv.get("functional", 0))
    draft = parameters(draft, lv.get("parameters", 0))
    draft = types(world, draft, lv.get("types", 0))
    return toolset(world, draft, rng, lv.get("toolset", 0), distractors)
