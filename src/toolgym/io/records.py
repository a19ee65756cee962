"""Reading and writing environment and trajectory files in any supported format.

Formats by path: ``.jsonl``/``.json`` (JSONL, default), ``.parquet``, or a folder written by
``datasets.save_to_disk``. Reading streams records and reports bad ones through ``on_error``
(with the raw data, so a reject file keeps everything); writing is atomic.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ErrorKind, InvalidRecord, RecordError
from ..schema import Environment, Trajectory, parse_environment
from .jsonl import ErrorSink, JsonlWriter, _raise, iter_jsonl
from .manifest import atomic_write_text
from .tables import is_hf_dir, iter_hf, iter_parquet, row_to_env_data, rows_of, save_hf, write_parquet

FORMATS = ("jsonl", "parquet", "hf")


def detect_format(path: str | os.PathLike) -> str:
    p = Path(path)
    if p.suffix == ".parquet":
        return "parquet"
    if p.is_dir() or is_hf_dir(p):
        return "hf"
    return "jsonl"


def iter_rows(path: str | os.PathLike, fmt: str, on_error: ErrorSink) -> Iterator[tuple[int, Any]]:
    if fmt == "jsonl":
        yield from iter_jsonl(path, on_error)
    elif fmt == "parquet":
        yield from enumerate(iter_parquet(path), start=1)
    elif fmt == "hf":
        yield from enumerate(iter_hf(path), start=1)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def count_records(path: str | os.PathLike, format: str | None = None) -> int:
    """How many records a file holds (non-blank lines for JSONL), cheaply, for progress bars."""
    fmt = format or detect_format(path)
    if fmt == "jsonl":
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return sum(1 for _ in iter_hf(path))


RowReader = Callable[[dict[str, Any]], tuple[dict[str, Any], list[RecordError]]]


def read_environments(path: str | os.PathLike, *, on_error: ErrorSink | None = None, format: str | None = None,
                      compile_code: bool = True, row_reader: RowReader | None = None) -> Iterator[Environment]:
    """Stream valid environments from ``path``; each invalid record goes to ``on_error(error, raw)``
    once per problem (default: raise :class:`InvalidRecord`). ``row_reader`` maps a row of another
    layout to our record's data (see :mod:`toolgym.formats`); by default rows are our own records."""
    on_error = on_error or _raise
    fmt = format or detect_format(path)
    source = str(path)
    if row_reader is None:
        row_reader = (lambda raw: (raw, [])) if fmt == "jsonl" else row_to_env_data
    for line, raw in iter_rows(path, fmt, on_error):
        if not isinstance(raw, dict):
            on_error(RecordError(ErrorKind.FORMAT, "a row must be a JSON object", line=line, source=source), raw)
            continue
        data, errors = row_reader(raw)
        if errors:
            record_id = raw.get("id") if isinstance(raw.get("id"), str) else None
            for e in errors:
                on_error(e.with_context(line=line, source=source, record_id=record_id), raw)
            continue
        try:
            yield parse_environment(data, line=line, source=source, compile_code=compile_code)
        except InvalidRecord as exc:
            for e in exc.errors:
                on_error(e, raw)


def read_trajectories(path: str | os.PathLike, *, on_error: ErrorSink | None = None) -> Iterator[Trajectory]:
    on_error = on_error or _raise
    source = str(path)
    for line, raw in iter_jsonl(path, on_error):
        try:
            yield Trajectory.model_validate(raw)
        except ValidationError as exc:
            for e in exc.errors():
                on_error(RecordError(ErrorKind.SCHEMA, e["msg"], field=".".join(map(str, e["loc"])), line=line,
                                     source=source), raw)


def write_environments(path: str | os.PathLike, envs: Iterable[Environment], *, format: str | None = None) -> int:
    """Write all of ``envs`` atomically; returns the count."""
    fmt = format or detect_format(path)
    envs = list(envs)
    if fmt == "jsonl":
        atomic_write_text(path, "".join(e.model_dump_json() + "\n" for e in envs))
    elif fmt == "parquet":
        write_parquet(path, rows_of(envs))
    elif fmt == "hf":
        save_hf(path, rows_of(envs))
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return len(envs)


class Rejects:
    """Collects invalid records and writes each, with all its problems, as one line of a side JSONL
    file: ``{"errors": [...], "raw": <the record as read>}``. Nothing read is ever dropped silently."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else None
        self.errors: list[RecordError] = []
        self.records = 0
        self._writer: JsonlWriter | None = None
        self._pending: tuple[Any, list[RecordError]] | None = None

    def __call__(self, error: RecordError, raw: Any = None) -> None:
        self.errors.append(error)
        if self._pending is not None and self._pending[0] is raw and raw is not None:
            self._pending[1].append(error)
            return
        self._flush()
        self._pending = (raw, [error])
        self.records += 1

    def _flush(self) -> None:
        if self._pending is None or self.path is None:
            self._pending = None
            return
        raw, errors = self._pending
        self._pending = None
        if self._writer is None:
            self._writer = JsonlWriter(self.path)
        self._writer.write({"errors": [e.to_dict() for e in errors], "raw": raw})

    @property
    def kinds(self) -> Counter:
        return Counter(str(e.kind) for e in self.errors)

    def close(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> Rejects:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
