"""Frames between the pool, its workers and their call processes: a 4-byte big-endian length, then JSON.

Shared by the pool (imported as part of the package) and the worker (imported there as a top-level
module, so: standard library only, no relative imports). JSON is written with ``ensure_ascii=False``
and encoded as UTF-8; the texts it carries are made valid Unicode first (:func:`_call.clean_text`), so
a frame never fails to encode, and a character takes at most 6 bytes (``\\u001f``): a frame of results is never longer than
:func:`frame_limit`.
"""

from __future__ import annotations

import json
import math
import os
import struct

HEADER = struct.Struct(">I")
_dumps, _loads = json.dumps, json.loads
_read, _write = os.read, os.write

# what a call process may report; "crashed" is only ever decided by the process that watches it
CHILD_STATUSES = frozenset({"ok", "tool_error", "timeout", "memory", "scoping"})
RESULT_STATUSES = frozenset({"ok", "tool_error", "timeout", "memory", "scoping", "crashed"})


BATCH = 32  # most results in one frame


def frame_limit(output_chars: int) -> int:
    """The largest frame of up to :data:`BATCH` results within the output cap (plus the truncation note)
    can need."""
    return BATCH * (6 * (output_chars + 200) + 64) + 4096


def encode(obj) -> bytes:
    payload = _dumps(obj, ensure_ascii=False).encode("utf-8")
    return HEADER.pack(len(payload)) + payload


def read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = _read(fd, n - got)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(fd: int):
    (size,) = HEADER.unpack(read_exact(fd, 4))
    return _loads(read_exact(fd, size).decode("utf-8"))


def send_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = _write(fd, view)
        view = view[n:]


class FrameBuffer:
    """Bytes read from an untrusted or fallible peer, cut into frames. A frame longer than ``limit`` or
    not JSON makes the stream bad from that point on (the frames before it are still good)."""

    __slots__ = ("bad", "buf", "limit")

    def __init__(self, limit: int):
        self.buf = bytearray()
        self.limit = limit
        self.bad = False

    def feed(self, data: bytes) -> None:
        self.buf += data

    def frames(self) -> list:
        out = []
        buf, pos = self.buf, 0
        while not self.bad and len(buf) - pos >= 4:
            (size,) = HEADER.unpack_from(buf, pos)
            if size > self.limit:
                self.bad = True
                break
            if len(buf) - pos - 4 < size:
                break
            try:  # decoded first: json.loads on bytes would guess the encoding every time
                out.append(_loads(buf[pos + 4:pos + 4 + size].decode("utf-8")))
            except (ValueError, UnicodeDecodeError, RecursionError):
                self.bad = True
                break
            pos += 4 + size
        if pos:
            del buf[:pos]
        return out


def valid_results(frame, statuses: frozenset, fields: int) -> bool:
    """A frame of results: a non-empty list of ``[status, output, seconds, ...]``, each with ``fields``
    items, a known status, text and a number."""
    if type(frame) is not list or not frame:
        return False
    for r in frame:  # valid_result, inlined: every result of every call passes here
        if type(r) is not list or len(r) != fields:
            return False
        status, seconds = r[0], r[2]
        if type(status) is not str or status not in statuses or type(r[1]) is not str \
                or (type(seconds) is not float and type(seconds) is not int) or math.isnan(seconds):
            return False
    return True


def valid_result(frame, statuses: frozenset, fields: int) -> bool:
    """``[status, output, seconds, ...]`` with ``fields`` items, a known status, text and a number."""
    return (type(frame) is list and len(frame) == fields and type(frame[0]) is str and frame[0] in statuses
            and type(frame[1]) is str
            and type(frame[2]) in (int, float) and frame[2] == frame[2])
