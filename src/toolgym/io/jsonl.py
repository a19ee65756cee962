"""JSONL, the default storage: one record per line, streamed in, appended out.

Writes are append-only and crash-safe: each record is one ``write`` of a complete line to a file
opened with ``O_APPEND``, so a killed process leaves whole lines behind. If an earlier run was cut
off mid-line anyway (power loss, a foreign writer), opening the file for appending moves that partial
line to ``<file>.partial`` (nothing is lost) and reports it; reading reports it as a ``truncated``
error instead of failing on it.

Text that is not valid Unicode never stops a write and is never lost. A lone surrogate (``chr(0xD800)``, as a
tool or a model may produce) cannot be encoded as UTF-8; such a character is written as its JSON escape
``\\ud800``, which every JSON reader reads back as the same character (two lone halves of a pair come back as
the one character they form). Values nested deeper than the serialisers' own limits are written by the
standard library instead, up to :data:`toolgym.safe_json.DEPTH` levels. On reading, a line that is not UTF-8
or not JSON is reported with its text kept byte for byte (undecodable bytes as surrogate escapes, which
``str.encode("utf-8", "surrogateescape")`` turns back into the original bytes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .. import safe_json
from ..errors import DataFileError, ErrorKind, RecordError

ErrorSink = Callable[[RecordError, Any], None]
"""Receives a problem and the raw data it concerns (text for unreadable lines)."""


def _raise(err: RecordError, raw: Any = None) -> None:
    from ..errors import InvalidRecord

    raise InvalidRecord([err])


def iter_jsonl(path: str | os.PathLike, on_error: ErrorSink | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for every line that parses. Bad lines go to ``on_error``
    (default: raise :class:`InvalidRecord`); blank lines are skipped."""
    on_error = on_error or _raise
    source = str(path)
    with open_jsonl(path) as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            value, error = read_line(raw, number, source)
            if error is None:
                yield number, value
            else:
                on_error(error, raw_text(raw))


def open_jsonl(path: str | os.PathLike) -> BinaryIO:
    """``path`` opened for reading lines, or :class:`DataFileError` saying why it cannot be."""
    try:
        f = open(path, "rb")  # noqa: SIM115 -- returned to the caller, who closes it
    except FileNotFoundError:
        raise DataFileError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise DataFileError(f"{path} is a folder, not a JSONL file") from None
    except OSError as exc:
        raise DataFileError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if f.peek(4)[:4] == b"PAR1":
        f.close()
        raise DataFileError(f"{path} is a parquet file, not JSON lines; name it .parquet")
    return f


def read_line(raw: bytes, number: int, source: str) -> tuple[Any, RecordError | None]:
    """The JSON value of one line, or the problem with it. Only the last line of a file can lack its
    newline: a complete JSON value there is still accepted, anything else is an interrupted write."""
    value, why = safe_json.loads(raw, deep=True)
    if why is None:
        return value, None
    if not raw.endswith(b"\n"):
        return None, RecordError(ErrorKind.TRUNCATED, "the last line is incomplete (an interrupted write); it was "
                                 "skipped", line=number, source=source)
    return None, RecordError(ErrorKind.JSON, f"not valid JSON: {why}", line=number, source=source)


def raw_text(raw: bytes) -> str:
    """A line's text for a reject file, byte for byte (bytes that are not UTF-8 become surrogate escapes)."""
    return raw.decode("utf-8", "surrogateescape").rstrip("\n")


def repair_tail(path: str | os.PathLike) -> int:
    """If ``path`` ends in a partial line, move it to ``<path>.partial`` and cut it off.
    Returns the number of bytes moved (0 if the file was clean)."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return 0
    with open(p, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        # Walk back to the last newline.
        block, pos = 65536, size
        cut = 0
        while pos > 0:
            start = max(0, pos - block)
            f.seek(start)
            data = f.read(pos - start)
            i = data.rfind(b"\n")
            if i != -1:
                cut = start + i + 1
                break
            pos = start
        f.seek(cut)
        tail = f.read()
        with open(str(p) + ".partial", "ab") as side:
            side.write(tail + b"\n")
        f.truncate(cut)
    return size - cut


def json_line(record: Any) -> bytes:
    """One complete line for ``record`` (a pydantic model, or plain JSON data): what :class:`JsonlWriter`
    writes. Never fails on text or nesting (see the module's docstring); a value that is not JSON data at
    all (an arbitrary object) is a programming error and raises ``TypeError``."""
    model = hasattr(record, "model_dump_json")
    try:
        line = record.model_dump_json() if model else json.dumps(record, ensure_ascii=False)
        return (line + "\n").encode("utf-8")
    except (ValueError, RecursionError):  # a lone surrogate; nesting past pydantic's serialisation depth
        pass
    data = record.model_dump() if model else record
    options = {"separators": (",", ":")} if model else {}
    with safe_json.headroom():
        line = json.dumps(data, ensure_ascii=False, **options)
    return (line + "\n").encode("utf-8", "backslashreplace")


class JsonlWriter:
    """Append-only JSONL writer. Each :meth:`write` is durable once it returns (with ``fsync=True``)
    or at least complete in the file (always)."""

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False, on_repair: Callable[[int], None] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        moved = repair_tail(self.path)
        if moved and on_repair is not None:
            on_repair(moved)
        self.repaired_bytes = moved
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._fsync = fsync
        self.count = 0

    def write(self, record: Any) -> None:
        view = memoryview(json_line(record))
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        if self._fsync:
            os.fsync(self._fd)
        self.count += 1

    def write_many(self, records: Iterable[Any]) -> None:
        for r in records:
            self.write(r)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
