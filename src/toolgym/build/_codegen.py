"""Python source of lookup tools: the knowledge (rows of the world) plus argument checking.

The source is assembled from small pieces, only those the tool's features need, so it stays short
(the sandbox compiles each distinct source once per worker; short sources keep that cheap). Every
wrong argument gets an error that says what is expected, so a model can correct its call; no error
lists the rows, so a wildcard or a listing request cannot dump the knowledge.
"""

from __future__ import annotations

from typing import Any

from ._records import ToolSpec

_HEAD = '''D = {data!r}
F = {fields!r}
{extra_data}

def _k(s):
    return " ".join(s.lower().split())

'''
_CONVERT = '''U = {units!r}


def _conv(v, a, b):
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
_DATES = {
    "iso": ('''def _day(d):
    if isinstance(d, str) and len(d) == 10 and d[4] == "-" and d[7] == "-" and (d[:4] + d[5:7] + d[8:]).isdigit():
        return d
''', "a string written YYYY-MM-DD, e.g. 2027-03-09"),
    "dmy": ('''def _day(d):
    if isinstance(d, str) and len(d) == 10 and d[2] == "/" and d[5] == "/" and (d[:2] + d[3:5] + d[6:]).isdigit():
        return d[6:] + "-" + d[3:5] + "-" + d[:2]
''', "a string written DD/MM/YYYY, e.g. 09/03/2027"),
    "object": ('''def _day(d):
    if isinstance(d, dict) and all(type(d.get(k)) is int for k in ("year", "month", "day")):
        return "%04d-%02d-%02d" % (d["year"], d["month"], d["day"])
''', 'an object like {"year": 2027, "month": 3, "day": 9}'),
}


def _signature(spec: ToolSpec) -> str:
    parts = []
    for p in spec.params:
        parts.append(f"{p.name}={p.default!r}" if not p.required else f"{p.name}=None")
    return ", ".join(parts + ["**extra"])


def _checks(spec: ToolSpec, f: dict[str, Any]) -> list[str]:
    """Argument checks, in parameter order, each returning a specific error message."""
    key, noun = f["key"], f["noun"]
    lines = []
    names = ", ".join(p.name for p in spec.params)
    lines.append(f'    if extra:\n        return "Error: unknown parameter(s) " + ", ".join(sorted(extra)) + '
                 f'". {spec.name} takes: {names}."')
    if f.get("nested"):
        inner = ", ".join(f["nested"])
        lines.append(f'    if not isinstance(query, dict):\n        return "Error: \'query\' is required: an object '
                     f'with {inner}."')
        lines.append("    " + "; ".join(f'{k} = query.get("{k}")' for k in f["nested"]))
    if f.get("multi"):
        lines.append('    if entity_type not in D:\n        return "Error: \'entity_type\' must be one of " + '
                     '", ".join(D) + "."')
    lines.append(f'    if not isinstance({key}, str) or not {key}.strip():\n        return "Error: \'{key}\' is '
                 f'required: the {noun}\'s name as a string."')
    if f.get("date"):
        message = f"Error: 'date' must be {f['date_hint']}."
        lines.append(f"    day = _day(date)\n    if day is None:\n        return {message!r}")
    fl = "F[entity_type]" if f.get("multi") else "F"
    if spec.field_param == "field":
        lines.append(f'    if field not in {fl}:\n        return "Error: \'field\' must be one of " + ", ".join({fl}) + "."')
        lines.append("    wanted = [field]")
    elif spec.field_param == "fields":
        lines.append(f'    if not isinstance(fields, list) or not fields or not all(x in {fl} for x in fields):\n'
                     f'        return "Error: \'fields\' must be a non-empty list of: " + ", ".join({fl}) + "."')
        lines.append("    wanted = list(dict.fromkeys(fields))")
    else:
        lines.append("    wanted = list(F)")
    if f.get("unit"):
        lines.append('    if unit is not None and unit not in U:\n        return "Error: \'unit\' must be one of " + '
                     '", ".join(U) + "."')
    if f.get("as_of"):
        lines.append('    if as_of_year is not None and (type(as_of_year) is not int or as_of_year < 2032):\n'
                     '        return "Error: only current records are kept; leave \'as_of_year\' out or give the current '
                     'year (2032)."')
    if f.get("format"):
        lines.append('    if format not in ("json", "text"):\n        return "Error: \'format\' must be json or text."')
    return lines


def _lookup_body(spec: ToolSpec, f: dict[str, Any]) -> list[str]:
    key, noun = f["key"], f["noun"]
    table = "D[entity_type]" if f.get("multi") else "D"
    row_key = f'_k({key}) + "|" + day' if f.get("date") else f"_k({key})"
    where = " on \" + day + \"" if f.get("date") else ""
    lines = [f"    row = {table}.get({row_key})",
             (f'    if row is None:\n        return "Error: no record for " + repr({key}) + "{where} in the {f["source"]}. '
              f'Check the spelling, or find the exact {noun} name with another tool first."'),
             f"    out = {{{key!r}: row[0]}}"]
    if f.get("date"):
        lines.append('    out["date"] = day')
    lines.append("    for w in wanted:\n        v = row[1].get(w)\n        if v is None:\n"
                 "            return \"Error: the record of \" + row[0] + \" has no \" + w + \".\"")
    if f.get("unit"):
        lines.append("        u = row[2].get(w)\n        if u is not None:\n"
                     "            if unit is not None and unit != u:\n"
                     "                if U.get(unit, ('',))[0] != U.get(u, ('-',))[0]:\n"
                     "                    return \"Error: \" + w + \" is measured in \" + u + \"; it cannot be given in \" + unit + \".\"\n"
                     "                v, u = _conv(v, u, unit), unit\n"
                     "            out[w + \"_unit\"] = u")
    else:
        lines.append("        if w in row[2]:\n            out[w + \"_unit\"] = row[2][w]")
    lines.append("        out[w] = v\n        if w in row[3]:\n            out[w + \"_currency\"] = row[3][w]")
    if f.get("verbose"):
        lines.append(f'    if verbose is True:\n        out["source"] = {f["source"]!r}')
    if f.get("note"):
        lines.append(f'    out["note"] = {f["note"]!r}')
    if f.get("format"):
        lines.append('    if format == "text":\n        return "; ".join(f"{k}: {v}" for k, v in out.items())')
    lines.append("    return out")
    return lines


def lookup_source(spec: ToolSpec, data: Any, fields: Any, f: dict[str, Any]) -> str:
    """Source of a lookup tool. ``data`` maps normalised key -> [name, {attr: value}, {attr: unit},
    {attr: currency code}]; per entity type when the tool serves several (``f['multi']``)."""
    extra = ""
    if f.get("unit"):
        extra += _CONVERT.format(units=f["unit"])
    if f.get("date"):
        extra += _DATES[f["date"]][0] + "\n"
    head = _HEAD.format(data=data, fields=fields, extra_data=extra)
    body = [f"def {spec.name}({_signature(spec)}):"] + _checks(spec, f) + _lookup_body(spec, f)
    return head + "\n".join(body) + "\n"


def date_hint(fmt: str) -> str:
    return _DATES[fmt][1]
