"""OpenAI-style assistant messages with native ``tool_calls`` (``function.arguments`` a JSON string).

When a server returns no native calls, the text content is parsed for calls written in the text
(a vLLM server started without a tool parser, say), with the one text parser."""

from __future__ import annotations

import json
from typing import Any

from ..schema import MalformedCall, ToolCall
from ._core import ParsedResponse


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def parse_openai_message(message: Any, text_format: str = "auto") -> ParsedResponse:
    """Parse a dict or an ``openai`` ``ChatCompletionMessage``."""
    from ._core import parse

    content = _get(message, "content") or ""
    if not isinstance(content, str):  # content parts: keep the text ones
        content = "".join(_get(p, "text", "") or "" for p in content)
    raw_calls = _get(message, "tool_calls") or []
    if not raw_calls:
        return parse(content, format=text_format if text_format != "openai" else "auto")
    calls: list[ToolCall] = []
    malformed: list[MalformedCall] = []
    for i, item in enumerate(raw_calls):
        fn = _get(item, "function")
        name = _get(fn, "name") if fn is not None else None
        args = _get(fn, "arguments") if fn is not None else None
        call_id = _get(item, "id") or f"call_{i}"
        if not isinstance(name, str) or not name:
            malformed.append(MalformedCall(raw=json.dumps(_plain(item), ensure_ascii=False),
                                           error="tool call has no function name"))
            continue
        if args is None or (isinstance(args, str) and not args.strip()):
            args = {}
        elif isinstance(args, str):
            try:
                args = json.loads(args)
            except (json.JSONDecodeError, RecursionError) as exc:
                malformed.append(MalformedCall(raw=args, error=f"arguments are not valid JSON: {exc}"))
                continue
            if args is None:
                args = {}
        calls.append(ToolCall(name=name, arguments=args, id=call_id))
    return ParsedResponse(content=content.strip(), tool_calls=calls, malformed=malformed)


def _plain(item: Any) -> Any:
    if hasattr(item, "model_dump"):
        return item.model_dump()
    return item if isinstance(item, (dict, list, str, int, float, bool, type(None))) else repr(item)
