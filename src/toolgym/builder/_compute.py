"""Computation tools: arithmetic, comparison, ranking, unit, currency and date arithmetic.

Each tool is Python source written once here. The builder runs the *same* source (compiled once per
process) to compute the expected answers, so the answer a tool returns in the sandbox and the answer the
builder expects cannot drift apart. Sources depend only on the variant (and, for currency conversion,
on the world's rates), so the sandbox compiles each once and reuses it across environments.

A source is a factory holding the imports, tables and helpers, and the binding of the tool to what it
returns (:func:`_factory`): the tool function reaches them through its closure, so it runs the same
under the paper's executor (``exec`` inside a function, where the source's top-level names are not the
tool function's globals) as in the sandbox.

Comparison and ranking take ``items`` as a list of ``{"name", "value"}`` objects, and differences go
through an ``expression``: with a mapping or two numbers, the verifier's perturbation (which shifts
every number by the same amount) would leave the result unchanged and look like a leak.
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from typing import Any

from .world import UNITS

_NUM = '''
def _num(x):
    x = round(float(x), 2)
    return int(x) if x == int(x) else x


def _isnum(v):
    return type(v) in (int, float)


def _extra(name, extra):
    return f"Error: {name} does not take {', '.join(sorted(extra))}; see its parameters." if extra else None
'''

CALCULATE = _NUM + '''
import ast
import operator

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.USub: operator.neg}


def _eval(node):
    if isinstance(node, ast.Constant) and _isnum(node.value):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.operand))
    raise ValueError("only numbers, + - * / and parentheses are allowed")


def calculate(expression=None, **extra):
    if extra:
        return _extra("calculate", extra)
    if not isinstance(expression, str) or not expression.strip():
        return "Error: 'expression' is required: an arithmetic expression such as '1204 - 387.5'."
    if len(expression) > 300:
        return "Error: the expression is too long (300 characters at most)."
    try:
        value = _eval(ast.parse(expression, mode="eval").body)
    except ZeroDivisionError:
        return "Error: division by zero."
    except (SyntaxError, ValueError, RecursionError):
        return "Error: cannot evaluate the expression; use numbers, + - * / and parentheses only."
    return {"expression": expression, "result": _num(value)}
'''

AGGREGATE = _NUM + '''
def aggregate_numbers(values=None, operation=None, **extra):
    if extra:
        return _extra("aggregate_numbers", extra)
    if operation not in ("sum", "mean"):
        return "Error: 'operation' must be 'sum' or 'mean'."
    if not isinstance(values, list) or len(values) < 2 or not all(_isnum(v) for v in values):
        return "Error: 'values' must be a list of at least two numbers."
    total = sum(values)
    return {"operation": operation, "result": _num(total if operation == "sum" else total / len(values))}
'''

RANK = _NUM + '''
def _items(items):
    if not isinstance(items, list) or len(items) < 2:
        return None
    out = []
    for it in items:
        if not isinstance(it, dict) or not isinstance(it.get("name"), str) or not _isnum(it.get("value")):
            return None
        out.append((it["name"], it["value"]))
    return out


def rank_items(items=None, order="descending", **extra):
    if extra:
        return _extra("rank_items", extra)
    pairs = _items(items)
    if pairs is None:
        return "Error: 'items' must be a list of at least two objects like {\\"name\\": \\"...\\", \\"value\\": 12.5}."
    if order not in ("descending", "ascending"):
        return "Error: 'order' must be 'descending' (highest first) or 'ascending' (lowest first)."
    pairs.sort(key=lambda p: (-p[1], p[0]) if order == "descending" else (p[1], p[0]))
    return {"order": order, "ranking": " > ".join(p[0] for p in pairs), "first": pairs[0][0]}
'''

DAYS = '''
import datetime


def _date(s):
    try:
        return datetime.date.fromisoformat(s) if isinstance(s, str) and len(s) == 10 else None
    except ValueError:
        return None


def days_between(start_date=None, end_date=None, **extra):
    if extra:
        return f"Error: days_between does not take {', '.join(sorted(extra))}."
    a, b = _date(start_date), _date(end_date)
    if a is None or b is None:
        return "Error: 'start_date' and 'end_date' must be dates written YYYY-MM-DD, e.g. '2024-03-09'."
    return {"start_date": start_date, "end_date": end_date, "days": (b - a).days}
'''

UNITS_SRC = _NUM + '''
U = %(units)r


def _convert(value, a, b):
    if U[a][0] == "temperature":
        c = value if a == "C" else (value - 32) * 5 / 9 if a == "F" else value - 273.15
        return c if b == "C" else c * 9 / 5 + 32 if b == "F" else c + 273.15
    return value * U[a][1] / U[b][1]


def convert_units(value=None, from_unit=None, to_unit=None, **extra):
    if extra:
        return _extra("convert_units", extra)
    if isinstance(value, dict):
        value, from_unit = value.get("value"), value.get("unit")
    if not _isnum(value):
        return "Error: 'value' must be a number (or an object {\\"value\\": number, \\"unit\\": unit})."
    for n, u in (("from_unit", from_unit), ("to_unit", to_unit)):
        if u not in U:
            return f"Error: '{n}' must be one of {', '.join(U)}."
    if U[from_unit][0] != U[to_unit][0]:
        return f"Error: cannot convert {U[from_unit][0]} to {U[to_unit][0]}."
    return {"value": _num(_convert(value, from_unit, to_unit)), "unit": to_unit}
'''

CURRENCY = _NUM + '''
RATES = %(rates)r


def convert_currency(amount=None, from_currency=None, to_currency=None, **extra):
    if extra:
        return _extra("convert_currency", extra)
    if isinstance(amount, dict):
        amount, from_currency = amount.get("amount"), amount.get("currency")
    if not _isnum(amount):
        return "Error: 'amount' must be a number (or an object {\\"amount\\": number, \\"currency\\": code})."
    for n, c in (("from_currency", from_currency), ("to_currency", to_currency)):
        if not isinstance(c, str) or c.upper() not in RATES:
            return f"Error: '{n}' must be a three-letter currency code known to the exchange, e.g. USD."
    value = amount / RATES[from_currency.upper()] * RATES[to_currency.upper()]
    return {"amount": _num(value), "currency": to_currency.upper()}
'''

#: variant -> (function name, source template)
VARIANTS: dict[str, tuple[str, str]] = {
    "calculate": ("calculate", CALCULATE),
    "aggregate": ("aggregate_numbers", AGGREGATE),
    "rank": ("rank_items", RANK),
    "days_between": ("days_between", DAYS),
    "convert_units": ("convert_units", UNITS_SRC),
    "convert_currency": ("convert_currency", CURRENCY),
}
#: which variant serves each operation of a compute sub-question
OP_VARIANT = {"diff": "calculate", "sum": "aggregate", "mean": "aggregate", "max": "rank", "min": "rank",
              "rank": "rank", "convert_unit": "convert_units", "convert_currency": "convert_currency",
              "days_between": "days_between"}


def _factory(name: str, body: str) -> str:
    """``body`` (module-level text defining ``name``) inside a factory, and ``name`` bound to its result."""
    body = re.sub(r"\n{3,}", "\n\n", body.strip("\n") + "\n")  # one blank line between nested definitions
    return (f"def _{name}():\n" + textwrap.indent(body, "    ")
            + f"\n    {name}.__qualname__ = {name!r}\n    return {name}\n\n\n{name} = _{name}()\n")


def source(variant: str, rates: dict[str, float] | None = None) -> str:
    """The Python source of a compute tool."""
    name, template = VARIANTS[variant]
    if variant == "convert_units":
        template = template % {"units": {u: list(v) for u, v in UNITS.items()}}
    elif variant == "convert_currency":
        template = template % {"rates": dict(sorted((rates or {}).items())) | {"USD": 1.0}}
    return _factory(name, template)


@lru_cache(maxsize=16)
def _function(variant: str, rates_key: tuple = ()):
    namespace: dict[str, Any] = {}
    # our own constant source, the same the sandbox runs (see the module docstring)
    exec(compile(source(variant, dict(rates_key)), f"<{variant}>", "exec"), namespace)
    return namespace[VARIANTS[variant][0]]


def call(variant: str, arguments: dict[str, Any], rates: dict[str, float] | None = None) -> Any:
    """Run a compute tool in-process on trusted arguments (the builder's own gold calls)."""
    key = tuple(sorted(rates.items())) if variant == "convert_currency" and rates else ()
    return _function(variant, key)(**arguments)


def gold_arguments(op: str, values: list[Any], names: list[str], extra: dict[str, Any]) -> dict[str, Any]:
    """The arguments of the gold call for an operation on the sub-answers ``values``."""
    if op == "diff":
        return {"expression": f"{values[0]!r} - {values[1]!r}"}
    if op in ("sum", "mean"):
        return {"values": list(values), "operation": op}
    if op in ("max", "min", "rank"):
        order = "ascending" if op == "min" or extra.get("order") == "ascending" else "descending"
        return {"items": [{"name": n, "value": v} for n, v in zip(names, values)], "order": order}
    if op == "convert_unit":
        return {"value": values[0], "from_unit": extra["from_unit"], "to_unit": extra["to_unit"]}
    if op == "convert_currency":
        return {"amount": values[0], "from_currency": extra["from_currency"], "to_currency": extra["to_currency"]}
    if op == "days_between":
        return {"start_date": values[0], "end_date": values[1]}
    raise ValueError(f"unknown operation {op!r}")


def result_answer(op: str, result: Any) -> str | None:
    """The expected answer string from a compute tool's result (None if the tool refused)."""
    if not isinstance(result, dict):
        return None
    key = {"diff": "result", "sum": "result", "mean": "result", "max": "first", "min": "first", "rank": "ranking",
           "convert_unit": "value", "convert_currency": "amount", "days_between": "days"}[op]
    return str(result[key])
