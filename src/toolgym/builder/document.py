"""Stage 2, document generation: one tool document (OpenAI function schema) per sub-question.

A lookup sub-question gets a narrow tool (``get_city_population(city)``); sub-questions of the same
kind share it. A computation gets the tool of its operation. Names and descriptions are varied with
the environment's RNG (verbs, nouns, wording) so a build holds many distinct tool names.
"""

from __future__ import annotations

import random

from . import _compute
from ._records import Call, Draft, Param, Plan, ToolSpec
from .world import UNIT_WORDS, World

VERBS = ("get", "lookup", "find", "fetch", "query", "retrieve", "read")
_DESC = ("Return the {what} of a {noun}, from the {source}.", "Look up the {what} of a {noun} ({source}).",
         "Gives the {what} of one {noun}. Data: {source}.", "Fetch a {noun}'s {what} from the {source}.")
COMPUTE_DOCS: dict[str, tuple[str, list[Param]]] = {
    "calculate": ("Evaluate an arithmetic expression with + - * / and parentheses.",
                  [Param("expression", {"type": "string", "description": "The expression, e.g. '1204 - 387.5'."})]),
    "aggregate": ("Sum or average a list of numbers.",
                  [Param("values", {"type": "array", "items": {"type": "number"}, "minItems": 2,
                                    "description": "The numbers."}),
                   Param("operation", {"type": "string", "enum": ["sum", "mean"], "description": "What to compute."})]),
    "rank": ("Rank named values; the first of the ranking is the highest (descending) or lowest (ascending).",
             [Param("items", {"type": "array", "minItems": 2, "description": "The named values to rank.",
                              "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                                         "value": {"type": "number"}},
                                        "required": ["name", "value"]}}),
              Param("order", {"type": "string", "enum": ["descending", "ascending"],
                              "description": "descending: highest first (default); ascending: lowest first."},
                    required=False, default="descending")]),
    "days_between": ("Number of days from one date to another (negative if the end is earlier).",
                     [Param("start_date", {"type": "string", "description": "Start date, YYYY-MM-DD."}),
                      Param("end_date", {"type": "string", "description": "End date, YYYY-MM-DD."})]),
    "convert_units": ("Convert a quantity between units of the same dimension.",
                      [Param("value", {"type": "number", "description": "The quantity to convert."}),
                       Param("from_unit", {"type": "string", "description": "Its unit, e.g. km, mi, m, ft, kg, lb, C, F."}),
                       Param("to_unit", {"type": "string", "description": "The unit wanted."})]),
    "convert_currency": ("Convert an amount of money between currencies at today's reference rates.",
                         [Param("amount", {"type": "number", "description": "The amount."}),
                          Param("from_currency", {"type": "string", "description": "ISO code of its currency."}),
                          Param("to_currency", {"type": "string", "description": "ISO code wanted, e.g. USD."})]),
}


def key_param(world: World, etype: str) -> Param:
    t = world.types[etype]
    owner = world.types[t.owner] if t.dated else t
    noun = owner.nouns[0]
    return Param(t.key, {"type": "string", "description": f"The {noun}'s name, as written in the question or "
                                                          f"returned by another tool."})


def date_param() -> Param:
    return Param("date", {"type": "string", "description": "The day, written YYYY-MM-DD."})


def unit_param(base: str, alt: str) -> Param:
    """Optional; left out, each fact comes in its own unit (so one tool can serve several fields)."""
    return Param("unit", {"type": "string", "enum": [base, alt],
                          "description": f"Unit of the answer: {base} ({UNIT_WORDS[base]}) or {alt} "
                                         f"({UNIT_WORDS[alt]}); default: the fact's own unit."},
                 required=False, default=None)


def _lookup_tool(world: World, rng: random.Random, etype: str, attr: str, verb: str) -> ToolSpec:
    t = world.types[etype]
    a = t.attr(attr)
    what = attr.replace("_", " ")
    params = [key_param(world, etype)] + ([date_param()] if t.dated else [])
    if a.unit:
        from .world import ALT_UNIT
        if a.unit in ALT_UNIT:
            params.append(unit_param(a.unit, ALT_UNIT[a.unit]))
    desc = rng.choice(_DESC).format(what=what, noun=t.nouns[0], source=t.source)
    return ToolSpec(f"{verb}_{etype}_{attr}", desc, "lookup", [etype], [attr], None, params=params)


def _lookup_args(plan_q, tool: ToolSpec) -> dict:
    args = {tool.params[0].name: plan_q.entity}
    if plan_q.date:
        args["date"] = plan_q.date
    if plan_q.unit:
        args["unit"] = plan_q.unit
    return args


def document(world: World, plan: Plan, rng: random.Random, levels: dict[str, int]) -> Draft:
    """Stage 2: a tool per kind of sub-question, and the gold call of each sub-question."""
    verb = rng.choice(VERBS)
    tools: dict[str, ToolSpec] = {}
    calls: list[Call] = []
    for q in plan.subqs:
        if q.kind == "lookup":
            spec = _lookup_tool(world, rng, q.etype, q.attr, verb)
            spec = tools.setdefault(spec.name, spec)
            calls.append(Call(q.id, spec.name, _lookup_args(q, spec)))
            continue
        variant = _compute.OP_VARIANT[q.op]
        fn_name = _compute.VARIANTS[variant][0]
        if fn_name not in tools:
            desc, params = COMPUTE_DOCS[variant]
            tools[fn_name] = ToolSpec(fn_name, desc, "compute", op=variant, params=list(params))
        inputs = [plan.subqs[i] for i in q.inputs]
        values = [i.value for i in inputs] + ([q.extra["end_date"]] if "end_date" in q.extra else [])
        args = _compute.gold_arguments(q.op, values, q.extra.get("names", []), q.extra)
        calls.append(Call(q.id, fn_name, args))
    return Draft(plan, tools, calls, dict(levels))
