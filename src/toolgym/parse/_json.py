"""JSON that a model wrote, read without ever raising.

``json.loads`` raises more than ``JSONDecodeError`` on hostile text: ``ValueError`` for an integer literal of
more than ``sys.get_int_max_str_digits()`` (4,300) digits, ``RecursionError`` for deep nesting. Every parser
reads model JSON through these functions, so each of those is a malformed call, never an exception. The
paper's ``parse_qwen`` drops such a block inside its ``except Exception``; so do we, and say why.
"""

from __future__ import annotations

import json
import sys
from typing import Any

_decoder = json.JSONDecoder()
_ERRORS = (ValueError, RecursionError, TypeError, MemoryError)  # ValueError includes JSONDecodeError


def load_model_json(text: str) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, why)`` when ``text`` is not JSON that can be read."""
    try:
        return json.loads(text), None
    except _ERRORS as exc:
        return None, _describe(exc)


def decode_model_json(text: str, pos: int) -> tuple[Any, int, str | None]:
    """``raw_decode`` of the JSON value at ``pos``: ``(value, end, None)``, or ``(None, pos, why)``."""
    try:
        value, end = _decoder.raw_decode(text, pos)
    except _ERRORS as exc:
        return None, pos, _describe(exc)
    return value, end, None


def dumps_model_json(value: Any) -> tuple[str | None, str | None]:
    """``(json.dumps(value, ensure_ascii=False), None)`` -- how a call's arguments are stored and sent --
    or ``(None, why)`` when they cannot be written (the reference drops such a call too)."""
    try:
        return json.dumps(value, ensure_ascii=False), None
    except _ERRORS as exc:
        return None, _describe(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to read"
    text = str(exc)
    if "integer string conversion" in text:
        return f"an integer literal with more than {sys.get_int_max_str_digits()} digits"
    return text
