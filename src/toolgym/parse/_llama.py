"""Llama 3.1 JSON tool calls: ``<|python_tag|>{"name": ..., "parameters": {...}}`` or a bare JSON
object (or list of objects) as the whole response. Several calls may follow each other, separated by
whitespace, ``;`` or further ``<|python_tag|>`` markers."""

from __future__ import annotations

from typing import Any

from .. import safe_json
from ..schema import MalformedCall, ToolCall
from ._core import ParsedResponse

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
