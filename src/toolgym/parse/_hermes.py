"""Qwen/Hermes ``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` blocks.

Which calls are read, and what ``content`` is, follows the paper's ``parse_qwen`` case for case
(the reward depends on it): the text is cut at the first ``<tool_call>``, split on ``</tool_call>``;
a piece counts only if it starts with ``<tool_call>``; a block whose JSON does not parse, has no
(or a false) name, or no arguments is dropped, as is one whose arguments cannot be written back as JSON.
A name that is not a string but is true (``7``, ``[1]``) is a call in the reference, so it is one here,
named by ``str(name)`` as the reference's error message names it; no tool has such a name, so it
solves nothing but counts in the step reward's ``n``. Unlike the reference, dropped blocks are reported
in ``malformed``.
"""

from __future__ import annotations

from .. import safe_json
from ..schema import MalformedCall, ToolCall
from ._core import ParsedResponse

START, END = "<tool_call>", "</tool_call>"


def _read_block(piece: str) -> tuple[ToolCall | None, str | None]:
    # lstrip with a character set, exactly as the reference does (it also eats e.g. "call" after the tag)
    body = piece.lstrip(START).strip()
    obj, error = safe_json.loads(body)
    if error is not None:
        return None, f"invalid JSON in <tool_call>: {error}"
    if not isinstance(obj, dict):
        return None, f"a tool call must be a JSON object, got {type(obj).__name__}"
    name = obj.get("name")
    if not name:
        return None, "tool call has no name"
    if "arguments" not in obj:
        return None, "tool call has no 'arguments'"
    args = obj["arguments"]
    if not isinstance(args, dict):
        if not isinstance(args, str):
            return None, f"'arguments' must be an object or a JSON string, got {type(args).__name__}"
        args, error = safe_json.loads(args)
        if error is not None:
            return None, f"'arguments' is a string that is not JSON: {error}"
    _, error = safe_json.dumps(args)
    if error is not None:
        return None, f"'arguments' cannot be written as JSON: {error}"
    return ToolCall(name=name if isinstance(name, str) else _name_text(name), arguments=args), None


def _name_text(name: object) -> str:
    try:
        return str(name)
    except (RecursionError, ValueError, MemoryError):  # a deeply nested name; it names no tool either way
        return type(name).__name__


def parse_hermes(text: str) -> ParsedResponse:
    start = text.find(START)
    if start == -1:
        return ParsedResponse(content=text.strip())
    calls: list[ToolCall] = []
    malformed: list[MalformedCall] = []
    for piece in text[start:].split(END):
        piece = piece.strip()
        if not piece:
            continue
        if not piece.startswith(START):
            if START in piece:  # text between blocks: the reference ignores the block that follows
                malformed.append(MalformedCall(raw=piece, error="text before <tool_call>; block ignored"))
            continue
        call, error = _read_block(piece)
        if call is None:
            malformed.append(MalformedCall(raw=piece, error=error or "unreadable tool call"))
        else:
            calls.append(call.model_copy(update={"id": f"call_{len(calls)}"}))
    content = text[:start].strip() if calls else text.strip()
    return ParsedResponse(content=content, tool_calls=calls, malformed=malformed)
