"""Llama 3.1 JSON tool calls: ``<|python_tag|>{"name": ..., "parameters": {...}}`` or a bare JSON
object as the reply. Two readings:

* :func:`parse_llama31` -- the paper's ``parse_llama31`` (bytedance/FTRL ``Code/utils/parse_output.py``, what
  its ``data_sample.py --series llama31`` reads a Llama 3.1 reply with), case for case: the text after a
  ``<|python_tag|>`` (or, without one, the whole reply) up to the next tag is read with ``json_repair`` (the
  version the paper pins), a list gives its first element, and that is the one call of the reply when it has
  a ``name`` and ``parameters`` (a string of ``parameters`` repaired too); so a JSON object inside prose is a
  call, several calls give only the first, and broken JSON is repaired. Where the reference raises (text
  ``json_repair`` cannot read, an empty list) there is no call here. A reply that tried to call (a tag, or an
  object with a ``name`` or ``parameters``) and gave none is reported in ``malformed``. One departure, so that
  no reply stalls a run: a text over :data:`REPAIR_LIMIT` characters is not repaired, only read if it is
  valid JSON (``json_repair`` takes time quadratic in the length of some broken JSON).
* :func:`parse_llama3` -- toolgym's strict reading of several calls: JSON values separated by whitespace,
  ``;`` or further ``<|python_tag|>`` markers (a list of objects too), each of which must be valid JSON.
"""

from __future__ import annotations

import json
from typing import Any

from .. import safe_json
from ..errors import ConfigError
from ..schema import MalformedCall, ToolCall
from ._core import ParsedResponse
from ._hermes import _name_text

TAG = "<|python_tag|>"


def _objects(body: str) -> tuple[list[Any], str | None]:
    """Consecutive JSON values in ``body``; the error text if something unreadable is left over."""
    out: list[Any] = []
    i, n = 0, len(body)
    while i < n:
        while i < n and body[i] in " \t\r\n;":
            i += 1
        if body.startswith(TAG, i):
            i += len(TAG)
            continue
        if i >= n:
            break
        value, i, error = safe_json.decode_at(body, i)
        if error is not None:
            return out, f"invalid JSON in tool call: {error}"
        out.extend(value if isinstance(value, list) else [value])
    return out, None


def _to_call(obj: Any) -> tuple[ToolCall | None, str | None]:
    if not isinstance(obj, dict):
        return None, f"a tool call must be a JSON object, got {type(obj).__name__}"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None, "tool call has no name"
    args = obj.get("parameters", obj.get("arguments", {}))
    if isinstance(args, str):
        args, error = safe_json.loads(args) if args.strip() else ({}, None)
        if error is not None:
            return None, f"'parameters' is a string that is not JSON: {error}"
    if args is None:
        args = {}
    _, error = safe_json.dumps(args)
    if error is not None:
        return None, f"'parameters' cannot be written as JSON: {error}"
    return ToolCall(name=name, arguments=args), None


def parse_llama3(text: str) -> ParsedResponse:
    tag = text.find(TAG)
    if tag == -1:
        stripped = text.strip()
        if not stripped.startswith(("{", "[")):
            return ParsedResponse(content=stripped)
        values, error = _objects(stripped)
        if error is not None or not values or not all(isinstance(v, dict) and "name" in v for v in values):
            return ParsedResponse(content=stripped)  # ordinary JSON text, not a tool call
        content, body = "", stripped
    else:
        content, body = text[:tag].strip(), text[tag:]
        values, error = _objects(body)
    calls: list[ToolCall] = []
    malformed: list[MalformedCall] = []
    for value in values:
        call, problem = _to_call(value)
        if call is None:
            raw, unwritable = safe_json.dumps(value)
            malformed.append(MalformedCall(raw=raw if unwritable is None else f"<{unwritable}>", error=problem or ""))
        else:
            calls.append(call.model_copy(update={"id": f"call_{len(calls)}"}))
    if error is not None:
        malformed.append(MalformedCall(raw=body.strip(), error=error))
    if not calls:
        content = text.strip()
    return ParsedResponse(content=content, tool_calls=calls, malformed=malformed)


# ---- the paper's parse_llama31 ---------------------------------------------------------------------------

_REPAIR: list[Any] = []


def _repair_loads():
    """``json_repair.loads``, imported once (a dependency of toolgym: the paper reads Llama replies with it)."""
    if not _REPAIR:
        try:
            import json_repair
        except ImportError as exc:  # a broken install, not model output
            raise ConfigError("the llama3 tool format reads replies with json_repair, as the paper does: "
                              "pip install 'json-repair==0.42.0' (a dependency of toolgym)") from exc
        _REPAIR.append(json_repair.loads)
    return _REPAIR[0]


#: The longest text handed to ``json_repair``. It takes time quadratic in the length of some broken JSON (a
#: long run of ``]`` inside an unclosed string: 8,000 characters take seconds, 200,000 take hours), so a longer
#: text is read as valid JSON only -- ``json_repair``'s own first step, so valid JSON reads exactly as there --
#: and broken JSON that long is an unreadable call. The paper's replies are 512 tokens, far below it.
REPAIR_LIMIT = 8_192


def _repair(text: Any) -> tuple[Any, str | None]:
    """``json_repair.loads(text)``, or the reason it raised (a 5,000-digit integer, deep nesting, not text)."""
    if isinstance(text, str) and len(text) > REPAIR_LIMIT:
        try:
            return json.loads(text), None  # what json_repair.loads tries first, with json's own limits
        except json.JSONDecodeError:
            return None, (f"broken JSON of {len(text):,} characters (over {REPAIR_LIMIT:,}, the longest that is "
                          "repaired)")
        except Exception as exc:  # noqa: BLE001 -- as json_repair, which lets these through
            return None, f"JSON that cannot be read: {safe_json.describe(exc)}"
    loads = _repair_loads()
    try:
        return loads(text), None
    except Exception as exc:  # noqa: BLE001 -- whatever json_repair raises on model output is an unreadable call
        return None, f"JSON that cannot be read: {safe_json.describe(exc)}"


def _looks_like_a_call(value: Any) -> bool:
    return isinstance(value, dict) and ("name" in value or "parameters" in value)


def _llama31_call(value: Any) -> tuple[ToolCall | None, str]:
    """The reference's ``try`` block over the repaired value (a dict with ``parameters`` and ``name``)."""
    if not isinstance(value, dict):
        return None, f"a tool call must be a JSON object, got {type(value).__name__}"
    if "parameters" not in value:
        return None, "tool call has no 'parameters'"
    params = value["parameters"]
    if isinstance(params, dict):
        args = dict(params)
    else:
        args, error = _repair(params)
        if error is not None:
            return None, f"'parameters' is not an object and {error}"
    if "name" not in value:
        return None, "tool call has no 'name'"
    text, error = safe_json.dumps(args)
    if error is not None:
        return None, f"'parameters' cannot be written as JSON: {error}"
    args, error = safe_json.loads(text, deep=True)  # as get_feedback reads the call's JSON again
    if error is not None:
        return None, f"'parameters' cannot be read back: {error}"
    name = value["name"]  # any JSON value there; one that is not text names no tool, as in the reference
    return ToolCall(name=name if isinstance(name, str) else _name_text(name), arguments=args, id="call_0"), ""


def parse_llama31(text: str) -> ParsedResponse:
    """The paper's ``parse_llama31``, never raising (see the module docstring)."""
    tag = text.find(TAG)
    stripped = text.strip()
    if tag == -1:
        whole, error = _repair(stripped)
        if error is not None:  # the reference fails here (its name `tool_calls` is never bound)
            attempted = stripped.startswith(("{", "["))
            return ParsedResponse(content=stripped, malformed=[MalformedCall(raw=stripped, error=error)] if attempted
                                  else [])
        content, body = "", stripped
    else:
        content, body = text[:tag].strip(), text[tag:].lstrip(TAG).strip()  # lstrip of a character set, as there
    piece = body.split(TAG)[0]
    value, error = (whole, None) if tag == -1 else _repair(piece)  # the same text is repaired alike twice
    if error is not None:
        return ParsedResponse(content=stripped, malformed=[MalformedCall(raw=piece, error=error)])
    if isinstance(value, list):
        if not value:  # the reference raises IndexError: no call
            return ParsedResponse(content=stripped, malformed=[MalformedCall(raw=piece, error="an empty list of "
                                                                             "tool calls")] if tag != -1 else [])
        value = value[0]
    if not value:
        return ParsedResponse(content=stripped, malformed=[MalformedCall(raw=piece, error="no tool call after "
                                                                         f"{TAG}")] if tag != -1 else [])
    call, problem = _llama31_call(value)
    if call is None:
        attempted = tag != -1 or _looks_like_a_call(value)
        return ParsedResponse(content=stripped, malformed=[MalformedCall(raw=piece, error=problem)] if attempted
                              else [])
    return ParsedResponse(content=content, tool_calls=[call])
