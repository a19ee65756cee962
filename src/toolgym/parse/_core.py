"""The parse result type and the format dispatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..schema import MalformedCall, ToolCall


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """What a model said: free text ``content``, readable ``tool_calls`` and unreadable ``malformed``.

    For the Hermes format, ``content`` follows the reference implementation exactly: the text before the
    first ``<tool_call>`` when at least one call was read, otherwise the whole (stripped) response.
    """

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    malformed: list[MalformedCall] = field(default_factory=list)

    def to_message(self) -> dict[str, Any]:
        """The OpenAI assistant message for this response (how it is stored in a conversation)."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_openai(f"call_{i}") for i, c in enumerate(self.tool_calls)]
        return msg


_END_MARKERS = ("<|endoftext|>", "<|im_end|>")


def clean_response(text: str) -> str:
    """Strip whitespace and trailing end-of-turn markers, the way the reference reward does."""
    text = text.strip().removesuffix(_END_MARKERS[0]).strip().removesuffix(_END_MARKERS[1]).strip()
    return text


_OPEN, _CLOSE = "<think>", "</think>"


def strip_think(text: str) -> str:
    """Remove reasoning blocks (Qwen3 ``<think>...</think>``), including an unclosed leading one's
    closing tag left by templates that open the block in the prompt.

    Each ``<think>`` is closed by the first ``</think>`` after it (the regex ``<think>.*?</think>``), found
    by one forward scan: a ``<think>`` with no close after it ends the scan, since no later one has a close
    either. A regex search restarted at every unclosed ``<think>`` is quadratic in the reply's length."""
    kept: list[str] = []
    pos = 0
    while (start := text.find(_OPEN, pos)) != -1:
        end = text.find(_CLOSE, start + len(_OPEN))
        if end == -1:
            break
        kept.append(text[pos:start])
        pos = end + len(_CLOSE)
    if kept:
        text = "".join(kept) + text[pos:]
    if _CLOSE in text:  # the template opened <think> in the prompt; only the close is generated
        text = text.split(_CLOSE, 1)[1]
    return text.lstrip("\n")


def as_text(value: Any) -> str:
    """``str(value)`` for a response that is not text; never raises (an integer of more than 4,300 digits,
    a deeply nested list or a broken ``__str__`` give a placeholder naming the type)."""
    if value is None:
        return ""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 -- whatever a foreign object's __str__ raises, the response is unreadable, not fatal
        return f"<unprintable {type(value).__name__}>"


def parse(response: Any, format: str = "auto") -> ParsedResponse:
    """Parse a model response in ``format`` (``hermes``/``qwen``, ``llama3``, ``openai`` or ``auto``).

    ``response`` is text, or an OpenAI-style assistant message (a dict with ``content`` and optional
    ``tool_calls``). ``auto`` picks the format from what the response contains.
    """
    from . import PARSERS
    from ._openai import parse_openai_message

    if isinstance(response, dict) or hasattr(response, "tool_calls"):
        return parse_openai_message(response, text_format="auto" if format in ("auto", "openai") else format)
    text = response if isinstance(response, str) else as_text(response)
    if format in ("auto", "openai"):
        if "<tool_call>" in text or "</tool_call>" in text:
            format = "hermes"
        elif "<|python_tag|>" in text or text.lstrip().startswith(("{", "[")):
            format = "llama3"
        else:
            return ParsedResponse(content=text.strip())
    try:
        parser = PARSERS[format]
    except KeyError:
        raise ValueError(f"unknown tool-call format {format!r}; choose one of {sorted(PARSERS)} or 'auto'") from None
    return parser(text)
