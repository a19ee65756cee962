"""JSON read and written without ever raising: model output, and lines of files that anyone may have written.

``json.loads`` raises more than ``JSONDecodeError`` on hostile text: ``ValueError`` for an integer literal of
more than ``sys.get_int_max_str_digits()`` (4,300) digits, ``RecursionError`` for deep nesting,
``UnicodeDecodeError`` for bytes that are not UTF-8; ``json.dumps`` raises ``RecursionError`` too. The parsers
read model JSON, and the readers read file lines, through these functions, so each of those is a malformed
call or a rejected line with a reason, never an exception.

Values nested deeper than the interpreter's recursion limit allows at the caller's depth are read and written
again with :func:`headroom`: a value the parser accepted (nested up to about 1,000 levels) can always be stored
and read back; anything deeper than ``DEPTH`` levels is refused.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DEPTH = 2000  # levels of nesting a stored value may have (well above what json.loads accepts by default)
_decoder = json.JSONDecoder()
_ERRORS = (ValueError, RecursionError, TypeError, MemoryError)  # ValueError includes JSONDecodeError


@contextmanager
def headroom(levels: int = DEPTH) -> Iterator[None]:
    """Raise the recursion limit by ``levels`` for a moment (the C JSON codecs recurse once per level and
    stop at the limit; ``levels`` of C recursion fit easily in a thread's stack)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + levels)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def loads(text: str | bytes, *, deep: bool = False) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, why)`` when ``text`` is not JSON that can be read. With ``deep``, a value
    nested too deeply for the caller's stack is read again with :func:`headroom` before it is refused."""
    return _attempt(lambda: json.loads(text), deep)


def decode_at(text: str, pos: int) -> tuple[Any, int, str | None]:
    """``raw_decode`` of the JSON value at ``pos``: ``(value, end, None)``, or ``(None, pos, why)``."""
    try:
        value, end = _decoder.raw_decode(text, pos)
    except _ERRORS as exc:
        return None, pos, describe(exc)
    return value, end, None


def dumps(value: Any, *, deep: bool = False, **options: Any) -> tuple[str | None, str | None]:
    """``(json.dumps(value, ensure_ascii=False, **options), None)``, or ``(None, why)``; ``deep`` as in
    :func:`loads`."""
    return _attempt(lambda: json.dumps(value, ensure_ascii=False, **options), deep)


def _attempt(fn: Callable[[], Any], deep: bool) -> tuple[Any, str | None]:
    try:
        return fn(), None
    except RecursionError:
        if not deep:
            return None, describe(RecursionError())
    except _ERRORS as exc:
        return None, describe(exc)
    with headroom():
        try:
            return fn(), None
        except _ERRORS as exc:
            return None, describe(exc)


def describe(exc: BaseException) -> str:
    """A short reason for a JSON failure."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to read"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    text = str(exc)
    if "integer string conversion" in text:
        return f"an integer literal with more than {sys.get_int_max_str_digits()} digits"
    return text
