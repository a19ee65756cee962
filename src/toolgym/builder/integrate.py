"""Stage 3, function integration: merge tools that do the same kind of job into one general tool.

Lookups of several attributes of one entity type become one tool with a ``field`` parameter
(``get_city_population`` + ``get_city_mayor`` -> ``get_city_info(city, field)``), and the gold calls
are rewritten to pass the field. Several arithmetic tools become one ``calculate``.
"""

from __future__ import annotations

import random

from ._records import Call, Draft, Param, ToolSpec
from .world import World

SUFFIXES = ("info", "details", "facts", "record", "data", "profile")


def field_param(fields: list[str]) -> Param:
    return Param("field", {"type": "string", "enum": list(fields),
                           "description": "Which fact to return: " + ", ".join(fields) + "."})


def merged_lookup(world: World, rng: random.Random, etype: str, members: list[ToolSpec], fields: list[str],
                  verb: str) -> ToolSpec:
    """One tool serving ``fields`` of ``etype``, with the parameters of its members plus ``field``."""
    t = world.types[etype]
    params: list[Param] = []
    seen: set[str] = set()
    for m in members:
        for p in m.params:
            if p.name not in seen:
                params.append(p)
                seen.add(p.name)
    params.insert(1 + int(t.dated), field_param(fields))
    name = f"{verb}_{etype}_{rng.choice(SUFFIXES)}"
    desc = f"Facts about a {t.nouns[0]} from the {t.source}: " + ", ".join(f.replace("_", " ") for f in fields) + "."
    return ToolSpec(name, desc, "lookup", [etype], list(fields), "field", params=params)


def integrate(world: World, draft: Draft, rng: random.Random) -> Draft:
    """Stage 3: merge same-type lookups (and arithmetic tools); rewrite the calls."""
    verb = next((t.name.split("_", 1)[0] for t in draft.tools.values() if t.role == "lookup"), "get")
    by_type: dict[str, list[ToolSpec]] = {}
    for spec in draft.tools.values():
        if spec.role == "lookup":
            by_type.setdefault(spec.etypes[0], []).append(spec)
    rename: dict[str, tuple[str, str]] = {}  # old tool -> (new tool, field)
    tools = {n: s for n, s in draft.tools.items()}
    for etype, members in by_type.items():
        if len(members) < 2:
            continue
        merged = merged_lookup(world, rng, etype, members, [m.fields[0] for m in members], verb)
        for m in members:
            del tools[m.name]
            rename[m.name] = (merged.name, m.fields[0])
        tools[merged.name] = merged
    calls = []
    for c in draft.calls:
        if c.tool in rename:
            new, field = rename[c.tool]
            args = dict(c.arguments)
            args["field"] = field
            calls.append(Call(c.subq, new, args))
        else:
            calls.append(c)
    draft = Draft(draft.plan, tools, calls, draft.levels)
    return merge_arithmetic(draft) if "calculate" in tools and "aggregate_numbers" in tools else draft


def merge_arithmetic(draft: Draft) -> Draft:
    """Rewrite ``aggregate_numbers`` calls as ``calculate`` expressions (same results, one tool)."""
    tools = {n: s for n, s in draft.tools.items() if n != "aggregate_numbers"}
    calls = []
    for c in draft.calls:
        if c.tool == "aggregate_numbers":
            total = " + ".join(repr(v) for v in c.arguments["values"])
            expr = total if c.arguments["operation"] == "sum" else f"({total}) / {len(c.arguments['values'])}"
            c = Call(c.subq, "calculate", {"expression": expr})
        calls.append(c)
    return Draft(draft.plan, tools, calls, draft.levels)
