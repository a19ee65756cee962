"""OpenAI-style assistant messages with native ``tool_calls`` (``function.arguments`` a JSON string).

When a server returns no native calls, the text content is parsed for calls written in the text
(a vLLM server started without a tool parser, say), with the one text parser.

A server's message is model output too: any field may be missing, ``None`` or of the wrong type.
Content that is not text is read as text where it can be (content parts, a single part) and ignored
otherwise; a call item that cannot be read is reported in ``malformed``. Nothing here raises.
"""

from __future__ import annotations

from typing import Any

from .. import safe_json
from ..schema import MalformedCall, ToolCall
from ._core import ParsedResponse, as_text


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    try:
        return getattr(obj, key, default)
    except Exception:  # noqa: BLE001 -- a property of a foreign message object that raises: the field is unreadable
        return default


def content_text(content: Any) -> str:
    """A message's content as text: a string as is, content parts by their text parts; never raises."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):  # content parts: keep the text ones
        return "".join(_part_text(p) for p in content)
    if isinstance(content, dict):
        return _part_text(content)
    return as_text(content)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    text = _get(part, "text", "")
    return text if isinstance(text, str) else ""


def _call_items(raw_calls: Any) -> list[Any]:
    if isinstance(raw_calls, (list, tuple)):
        return list(raw_calls)
    if not raw_calls:
        return []
    return [raw_calls]  # a single call object instead of a list


def plain_message(message: Any, content: str | None = None) -> dict[str, Any]:
    """An assistant message -- a dict, or an object with the same fields such as the ``openai`` client's
    ``ChatCompletionMessage`` -- as a plain dict of what the parser reads: its content as text (``content``
    when given), its calls' ``id``/``type``/``function`` name and arguments as they are, and a reasoning text.
    :func:`parse_openai_message` reads the dict as it reads the message. Never raises."""
    out: dict[str, Any] = {"role": "assistant",
                           "content": content if content is not None else content_text(_get(message, "content"))}
    items = _call_items(_get(message, "tool_calls"))
    if items:
        out["tool_calls"] = [_plain_call(item) for item in items]
    for key in ("reasoning_content", "reasoning"):
        value = _get(message, key)
        if isinstance(value, str):
            out[key] = value
    return out


def _plain_call(item: Any) -> dict[str, Any]:
    fn = _get(item, "function")
    return {"id": _get(item, "id"), "type": _get(item, "type") or "function",
            "function": {"name": _get(fn, "name") if fn is not None else None,
                         "arguments": _get(fn, "arguments") if fn is not None else None}}


def parse_openai_message(message: Any, text_format: str = "auto") -> ParsedResponse:
    """Parse a dict or an ``openai`` ``ChatCompletionMessage``."""
    from ._core import parse

    content = content_text(_get(message, "content"))
    items = _call_items(_get(message, "tool_calls"))
    if not items:
        return parse(content, format=text_format if text_format != "openai" else "auto")
    calls: list[ToolCall] = []
    malformed: list[MalformedCall] = []
    for i, item in enumerate(items):
        call, error = _read_call(item, i)
        if call is None:
            malformed.append(error)
        else:
            calls.append(call)
    return ParsedResponse(content=content.strip(), tool_calls=calls, malformed=malformed)


def _read_call(item: Any, i: int) -> tuple[ToolCall | None, MalformedCall | None]:
    fn = _get(item, "function")
    name = _get(fn, "name") if fn is not None else None
    args = _get(fn, "arguments") if fn is not None else None
    call_id = _get(item, "id")
    if not isinstance(call_id, str) or not call_id:
        call_id = f"call_{i}"
    if not isinstance(name, str) or not name:
        return None, MalformedCall(raw=_raw(item), error="tool call has no function name")
    if args is None or (isinstance(args, str) and not args.strip()):
        args = {}
    elif isinstance(args, str):
        raw_args = args
        args, error = safe_json.loads(raw_args)
        if error is not None:
            return None, MalformedCall(raw=raw_args, error=f"arguments are not valid JSON: {error}")
        if args is None:
            args = {}
    _, error = safe_json.dumps(args)
    if error is not None:
        return None, MalformedCall(raw=_raw(item), error=f"arguments cannot be written as JSON: {error}")
    return ToolCall(name=name, arguments=args, id=call_id), None


def _raw(item: Any) -> str:
    """The call item as text, for the record of a malformed call."""
    if hasattr(item, "model_dump"):
        try:
            item = item.model_dump()
        except Exception:  # noqa: BLE001 -- a foreign object that cannot dump itself
            return as_text(item)
    text, error = safe_json.dumps(item)
    return text if error is None else as_text(item)
