"""Python source of lookup tools: the knowledge (rows of the world) plus argument checking.

A lookup tool is a small engine around its own data: ``D`` (the rows), ``F`` (the fields) and ``S``
(the tool's name, parameters, defaults, nouns, units). The source is the data, the engine -- a factory
``_engine(D, F, S)`` that holds the helpers and the tool function as closures -- and the binding
``tool_name = _engine(D, F, S)``.

Why that shape:

* self-contained under the paper's executor, which runs the source with ``exec`` inside a function and
  then ``eval(name)``: the source's top-level names are visible to its top-level statements there, but
  not to the tool function, which therefore reaches its data and helpers only through the factory's
  closure;
* the engine holds no per-tool text, so tools with the same features share it word for word: the
  sandbox, which compiles each top-level statement once per worker, compiles each engine variant once
  for a whole build; ``F``, ``S`` and the binding recur with the tool, and only ``D`` is new for each
  environment.

Every wrong argument gets an error that says what is expected, so a model can correct its call; no
error lists the rows, so a wildcard or a listing request cannot dump the knowledge.
"""

from __future__ import annotations

import textwrap
from functools import lru_cache
from typing import Any

from ._records import ToolSpec

DATE_HINTS = {
    "iso": "a string written YYYY-MM-DD, e.g. 2027-03-09",
    "dmy": "a string written DD/MM/YYYY, e.g. 09/03/2027",
    "object": 'an object like {"year": 2027, "month": 3, "day": 9}',
}
_DAY = {
    "iso": '''def _day(d):
    if isinstance(d, str) and len(d) == 10 and d[4] == "-" and d[7] == "-" and (d[:4] + d[5:7] + d[8:]).isdigit():
        return d
''',
    "dmy": '''def _day(d):
    if isinstance(d, str) and len(d) == 10 and d[2] == "/" and d[5] == "/" and (d[:2] + d[3:5] + d[6:]).isdigit():
        return d[6:] + "-" + d[3:5] + "-" + d[:2]
''',
    "object": '''def _day(d):
    if isinstance(d, dict) and all(type(d.get(k)) is int for k in ("year", "month", "day")):
        return "%04d-%02d-%02d" % (d["year"], d["month"], d["day"])
''',
}
_K = '''def _k(s):
    return " ".join(s.lower().split())
'''
_CONV = '''def _conv(v, a, b):
    U = S["units"]
    if a == b:
        return v
    if U[a][0] == "temperature":
        c = v if a == "C" else (v - 32) * 5 / 9 if a == "F" else v - 273.15
        v = c if b == "C" else c * 9 / 5 + 32 if b == "F" else c + 273.15
    else:
        v = v * U[a][1] / U[b][1]
    v = round(float(v), 2)
    return int(v) if v == int(v) else v
'''


def _checks(f: dict[str, Any], field_param: str | None) -> list[str]:
    """Argument checks, in parameter order, each returning a specific error message."""
    lines = ['    extra = [k for k in kw if k not in S["params"]]',
             '    if extra:\n        return ("Error: unknown parameter(s) " + ", ".join(sorted(extra)) + ". " + S["name"]'
             ' + " takes: " + ", ".join(S["params"]) + ".")',
             '    a = dict(S["defaults"])\n    a.update(kw)']
    if f.get("nested"):
        lines.append('    query = a.get("query")\n    if not isinstance(query, dict):\n'
                     '        return "Error: \'query\' is required: an object with " + ", ".join(S["nested"]) + "."\n'
                     '    for k in S["nested"]:\n        a[k] = query.get(k)')
    if f.get("multi"):
        lines.append('    if a.get("entity_type") not in D:\n'
                     '        return "Error: \'entity_type\' must be one of " + ", ".join(D) + "."\n'
                     '    table, fl = D[a["entity_type"]], F[a["entity_type"]]')
    else:
        lines.append("    table, fl = D, F")
    lines.append('    key = a.get(S["key"])\n    if not isinstance(key, str) or not key.strip():\n'
                 '        return "Error: \'" + S["key"] + "\' is required: the " + S["noun"] + "\'s name as a string."')
    if f.get("date"):
        lines.append('    day = _day(a.get("date"))\n    if day is None:\n'
                     '        return "Error: \'date\' must be " + S["date_hint"] + "."')
    if field_param == "field":
        lines.append('    if a.get("field") not in fl:\n        return "Error: \'field\' must be one of " + ", ".join(fl)'
                     ' + "."\n    wanted = [a["field"]]')
    elif field_param == "fields":
        lines.append('    fields = a.get("fields")\n'
                     '    if not isinstance(fields, list) or not fields or not all(x in fl for x in fields):\n'
                     '        return "Error: \'fields\' must be a non-empty list of: " + ", ".join(fl) + "."\n'
                     '    wanted = list(dict.fromkeys(fields))')
    else:
        lines.append("    wanted = list(fl)")
    if f.get("unit"):
        lines.append('    unit = a.get("unit")\n    if unit is not None and unit not in S["units"]:\n'
                     '        return "Error: \'unit\' must be one of " + ", ".join(S["units"]) + "."')
    if f.get("as_of"):
        lines.append('    year = a.get("as_of_year")\n'
                     '    if year is not None and (type(year) is not int or year < 2032):\n'
                     '        return "Error: only current records are kept; leave \'as_of_year\' out or give the current '
                     'year (2032)."')
    if f.get("format"):
        lines.append('    if a.get("format") not in ("json", "text"):\n'
                     '        return "Error: \'format\' must be json or text."')
    return lines


def _body(f: dict[str, Any]) -> list[str]:
    dated = bool(f.get("date"))
    lines = ['    row = table.get(_k(key) + "|" + day)' if dated else "    row = table.get(_k(key))",
             '    if row is None:\n        return ("Error: no record for " + repr(key) + '
             + ('" on " + day + ' if dated else "")
             + '" in the " + S["source"]\n                + ". Check the spelling, or find the exact " + S["noun"]'
             ' + " name with another tool first.")',
             '    out = {S["key"]: row[0]}']
    if dated:
        lines.append('    out["date"] = day')
    lines.append('    for w in wanted:\n        v = row[1].get(w)\n        if v is None:\n'
                 '            return "Error: the record of " + row[0] + " has no " + w + "."')
    if f.get("unit"):
        lines.append('        u = row[2].get(w)\n        if u is not None:\n'
                     '            if unit is not None and unit != u:\n'
                     '                if S["units"].get(unit, ("",))[0] != S["units"].get(u, ("-",))[0]:\n'
                     '                    return "Error: " + w + " is measured in " + u + "; it cannot be given in " + unit + "."\n'
                     '                v, u = _conv(v, u, unit), unit\n'
                     '            out[w + "_unit"] = u')
    else:
        lines.append('        if w in row[2]:\n            out[w + "_unit"] = row[2][w]')
    lines.append('        out[w] = v\n        if w in row[3]:\n            out[w + "_currency"] = row[3][w]')
    if f.get("verbose"):
        lines.append('    if a.get("verbose") is True:\n        out["source"] = S["source"]')
    if f.get("note"):
        lines.append('    out["note"] = S["note"]')
    if f.get("format"):
        lines.append('    if a.get("format") == "text":\n        return "; ".join(f"{k}: {v}" for k, v in out.items())')
    lines.append("    return out")
    return lines


def _settings(spec: ToolSpec, f: dict[str, Any]) -> dict[str, Any]:
    """The per-tool part the engine reads: everything that differs between tools, as data."""
    s: dict[str, Any] = {
        "name": spec.name,
        "params": [p.name for p in spec.params],
        "defaults": {p.name: (None if p.required else p.default) for p in spec.params},
        "key": f["key"],
        "noun": f["noun"],
        "source": f["source"],
    }
    if f.get("nested"):
        s["nested"] = list(f["nested"])
    if f.get("date"):
        s["date_hint"] = f["date_hint"]
    if f.get("unit"):
        s["units"] = f["unit"]
    if f.get("note"):
        s["note"] = f["note"]
    return s


_FEATURES = ("multi", "nested", "date", "unit", "as_of", "format", "verbose", "note")  # what shapes the engine


def _engine(f: dict[str, Any], field_param: str | None) -> str:
    """The factory statement of a lookup tool: the same text for every tool with the same features."""
    return _engine_text(tuple((k, f[k] if k == "date" else bool(f[k])) for k in _FEATURES if f.get(k)), field_param)


@lru_cache(maxsize=512)
def _engine_text(features: tuple, field_param: str | None) -> str:
    f = dict(features)
    helpers = [_K] + ([_CONV] if f.get("unit") else []) + ([_DAY[f["date"]]] if f.get("date") else [])
    lookup = "def _lookup(**kw):\n" + "\n".join(_checks(f, field_param) + _body(f)) + "\n"
    return ("def _engine(D, F, S):\n" + textwrap.indent("\n".join([*helpers, lookup]), "    ")
            + '\n    _lookup.__name__ = _lookup.__qualname__ = S["name"]\n    return _lookup\n')


def lookup_source(spec: ToolSpec, data: Any, fields: Any, f: dict[str, Any]) -> str:
    """Source of a lookup tool. ``data`` maps normalised key -> [name, {attr: value}, {attr: unit},
    {attr: currency code}]; per entity type when the tool serves several (``f['multi']``)."""
    return (f"D = {data!r}\nF = {fields!r}\nS = {_settings(spec, f)!r}\n\n\n" + _engine(f, spec.field_param)
            + f"\n\n{spec.name} = _engine(D, F, S)\n")


def date_hint(fmt: str) -> str:
    return DATE_HINTS[fmt]
