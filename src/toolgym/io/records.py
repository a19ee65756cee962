"""Reading and writing environment and trajectory files in any supported format.

Formats by path: ``.jsonl``/``.json`` (JSONL, default), ``.parquet``, or a folder written by
``datasets.save_to_disk``. Reading streams records and reports bad ones through ``on_error``
(with the raw data, so a reject file keeps everything); writing is atomic.

How a read goes:

* A file that cannot be read at all -- missing, a folder that is not a saved dataset, a ``.parquet`` that is
  not parquet (or parquet named otherwise) -- raises :class:`~toolgym.errors.DataFileError` before anything
  is read, naming the file and the fix.
* Every bad record is a :class:`~toolgym.errors.RecordError` (kind, message, file, line, id, field) sent to
  ``on_error`` with the record as read; nothing that a file holds raises.
* Ids are unique: a record whose id an earlier record of the file already has is rejected (``duplicate_id``,
  naming the first line, and saying whether it is an identical copy). The first one read is kept.
* A file toolgym wrote after validating it is trusted: when ``<file>.manifest.json`` is of a kind written
  only with validated records (a build, an import, an export of our records) and its sha256 is the file's
  own, records are only parsed, not checked again (the schema and code checks are most of the time of a
  read). A stale manifest -- the file changed since -- has another digest, and the file is checked in full.
* ``split`` reads only the records of one ``metadata.split``; lines of a trusted JSONL file whose bytes do
  not hold that split are not even parsed.
* ``progress(done, total)`` is called as the read goes on (bytes of a JSONL file, rows otherwise).
"""

from __future__ import annotations

import gc
import mmap
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from ..errors import DataFileError, ErrorKind, RecordError
from ..schema import Environment, Trajectory, build_environment, validate_environment
from .jsonl import ErrorSink, JsonlWriter, _raise, json_line, open_jsonl, raw_text, read_line
from .manifest import Trust, atomic_write_text
from .tables import is_hf_dir, iter_hf, iter_parquet, row_to_env_data, rows_of, save_hf, write_parquet

FORMATS = ("jsonl", "parquet", "hf")
Progress = Callable[[int, int], None]
"""``progress(done, total)``: bytes of a JSONL file, rows of parquet and HF datasets."""

_PARQUET_MAGIC = b"PAR1"
_PLAIN_SPLIT = re.compile(r"[A-Za-z0-9_.-]+")
_PROGRESS_EVERY = 64  # records between progress calls (the callback decides how often to draw)
_PENDING = 512  # records parsed at most while the file's digest is computed (memory stays bounded)


def detect_format(path: str | os.PathLike) -> str:
    p = Path(path)
    if p.suffix == ".parquet":
        return "parquet"
    if p.is_dir() or is_hf_dir(p):
        return "hf"
    return "jsonl"


def check_source(path: str | os.PathLike, format: str | None = None) -> str:
    """The format of an input ``path`` (``format`` if given), after making sure it can be read as that;
    :class:`DataFileError` otherwise."""
    p = Path(path)
    fmt = format or detect_format(p)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "jsonl":
        open_jsonl(p).close()
        return fmt
    if not p.exists():
        raise DataFileError(f"{p} does not exist")
    if fmt == "hf":
        if not p.is_dir():
            raise DataFileError(f"{p} is a file, not a folder saved with datasets' save_to_disk")
        if not is_hf_dir(p):
            raise DataFileError(f"{p} is a folder, not a dataset saved with datasets' save_to_disk (it has no "
                                "dataset_info.json or dataset_dict.json); give a .jsonl or .parquet file")
        return fmt
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except IsADirectoryError:
        raise DataFileError(f"{p} is a folder, not a parquet file") from None
    except OSError as exc:
        raise DataFileError(f"{p} cannot be read: {exc.strerror or exc}") from None
    if head != _PARQUET_MAGIC:
        raise DataFileError(f"{p} is named .parquet but is not a parquet file (it starts with {head!r}); if it "
                            "holds JSON lines, name it .jsonl")
    return fmt


def iter_rows(path: str | os.PathLike, fmt: str, on_error: ErrorSink) -> Iterator[tuple[int, Any]]:
    """``(line or row number, value)`` of every readable row; unreadable lines go to ``on_error``."""
    yield from ((row.number, row.value) for row in _rows(Path(path), fmt, on_error, None))


class _Row(NamedTuple):
    number: int  # line of a JSONL file, row of a table
    value: Any
    end: int  # bytes read so far (JSONL), rows read so far (tables)
    size: int  # bytes of the line (JSONL); 0 for tables


def _rows(path: Path, fmt: str, on_error: ErrorSink, keep: bytes | None) -> Iterator[_Row]:
    """Every readable row; with ``keep``, JSONL lines without those bytes are skipped unread."""
    source = str(path)
    if fmt == "jsonl" and keep is not None:
        yield from _lines_holding(path, keep, on_error)
        return
    if fmt == "jsonl":
        done = 0
        with open_jsonl(path) as f:
            for number, raw in enumerate(f, start=1):
                done += len(raw)
                if (keep is not None and keep not in raw) or not raw.strip():
                    continue
                value, error = read_line(raw, number, source)
                if error is None:
                    yield _Row(number, value, done, len(raw))
                else:
                    on_error(error, raw_text(raw))
        return
    rows = iter_parquet(path) if fmt == "parquet" else iter_hf(path)
    try:
        for number, row in enumerate(rows, start=1):
            yield _Row(number, row, number, 0)
    except DataFileError:
        raise
    except Exception as exc:  # noqa: BLE001 -- pyarrow and datasets raise many types for a broken file
        raise DataFileError(f"{path} cannot be read as {fmt}: {type(exc).__name__}: {exc}") from None


def _lines_holding(path: Path, keep: bytes, on_error: ErrorSink) -> Iterator[_Row]:
    """The lines of a JSONL file that hold ``keep``, found by searching the mapped file (a few of many lines
    are read without looking at the others in Python)."""
    source = str(path)
    with open_jsonl(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            number, counted, pos = 1, 0, 0  # line number of the byte at `counted`
            while (hit := data.find(keep, pos)) != -1:
                start = data.rfind(b"\n", 0, hit) + 1
                end = data.find(b"\n", hit)
                end = size if end == -1 else end + 1
                while (nl := data.find(b"\n", counted, start)) != -1:
                    number += 1
                    counted = nl + 1
                counted = start
                raw = data[start:end]
                value, error = read_line(raw, number, source)
                if error is None:
                    yield _Row(number, value, end, len(raw))
                else:
                    on_error(error, raw_text(raw))
                pos = end


def _total(path: Path, fmt: str) -> int:
    if fmt == "jsonl":
        return path.stat().st_size
    return count_records(path, fmt)


def count_records(path: str | os.PathLike, format: str | None = None) -> int:
    """How many records a file holds (non-blank lines for JSONL), cheaply, for progress bars."""
    fmt = check_source(path, format)
    if fmt == "jsonl":
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        return sum(1 for _ in iter_hf(path))
    except Exception as exc:  # noqa: BLE001 -- as in _rows
        raise DataFileError(f"{path} cannot be read as {fmt}: {type(exc).__name__}: {exc}") from None


RowReader = Callable[[dict[str, Any]], tuple[dict[str, Any], list[RecordError]]]


def read_environments(path: str | os.PathLike, *, on_error: ErrorSink | None = None, format: str | None = None,
                      compile_code: bool = True, row_reader: RowReader | None = None, split: str | None = None,
                      progress: Progress | None = None) -> Iterator[Environment]:
    """Stream valid environments from ``path``; each invalid record goes to ``on_error(error, raw)``
    once per problem (default: raise :class:`InvalidRecord`). ``row_reader`` maps a row of another
    layout to our record's data (see :mod:`toolgym.formats`); by default rows are our own records.
    ``split`` keeps only the records of that ``metadata.split``. See the module's docstring for how files
    are checked, trusted and reported."""
    on_error = on_error or _raise
    path = Path(path)
    fmt = check_source(path, format)
    source = str(path)
    trust = Trust(path) if row_reader is None else None  # decided in the background while records are parsed
    if row_reader is None:
        row_reader = (lambda raw: (raw, [])) if fmt == "jsonl" else row_to_env_data
    keep = None
    if trust is not None and fmt == "jsonl" and split is not None and _PLAIN_SPLIT.fullmatch(split) and trust.wait():
        keep = b'"split":"' + split.encode() + b'"'  # how model_dump_json writes it; a superset of the lines
    total = _total(path, fmt) if progress is not None else 0
    seen: dict[str, _Row] = {}  # id -> where its first record is (without its value: memory)

    def accept(row: _Row, env: Environment, trusted: bool) -> bool:
        if not trusted:
            errors = validate_environment(env, compile_code=compile_code)
            if errors:
                for e in errors:
                    on_error(e.with_context(line=row.number, source=source, record_id=env.id), row.value)
                return False
        first = seen.setdefault(env.id, where := row._replace(value=None))
        if first is not where:
            on_error(RecordError(ErrorKind.DUPLICATE_ID, f"{_same(path, first, row)} line {first.number}, which "
                                 "is kept", field="id", line=row.number, record_id=env.id, source=source), row.value)
            return False
        return True

    pending: list[tuple[_Row, Environment]] = []  # parsed while the verdict on the file is not known yet
    try:
        for count, row in enumerate(_rows(path, fmt, on_error, keep), start=1):
            if progress is not None and count % _PROGRESS_EVERY == 0:
                progress(row.end, total)
            env = _record(row.value, row.number, source, row_reader, on_error)
            if env is None or (split is not None and env.metadata.split != split):
                continue
            pending.append((row, env))
            if trust is not None and not trust.decided() and len(pending) < _PENDING:
                continue
            trusted = trust is not None and trust.wait()
            for r, e in pending:
                if accept(r, e, trusted):
                    yield e
            pending.clear()
        trusted = trust is not None and trust.wait()
        for r, e in pending:
            if accept(r, e, trusted):
                yield e
    finally:
        if trust is not None:
            trust.cancel()
    if progress is not None:
        progress(total, total)


def _record(raw: Any, line: int, source: str, row_reader: RowReader, on_error: ErrorSink) -> Environment | None:
    """The record's structure from one row, or ``None`` after its problems went to ``on_error``."""
    if not isinstance(raw, dict):
        on_error(RecordError(ErrorKind.FORMAT, "a row must be a JSON object", line=line, source=source), raw)
        return None
    record_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    try:
        data, errors = row_reader(raw)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:  # a row no reader foresaw: data, not a crash
        errors = [RecordError(ErrorKind.FORMAT, f"the row cannot be read: {type(exc).__name__}: {exc}")]
    if not errors:
        built = build_environment(data)
        if isinstance(built, Environment):
            return built
        errors = built
    for e in errors:
        on_error(e.with_context(line=line, source=source, record_id=record_id), raw)
    return None


def _same(path: Path, first: _Row, again: _Row) -> str:
    """How a record relates to an earlier one with its id (read back from the file: ids are rarely repeated,
    so nothing is kept of each line to compare them)."""
    if first.size and again.size:
        with open(path, "rb") as f:
            f.seek(first.end - first.size)
            one = f.read(first.size).rstrip(b"\r\n")
            f.seek(again.end - again.size)
            two = f.read(again.size).rstrip(b"\r\n")
        if one == two:
            return "an identical copy of the record on"
        return "a different record with the id of the record on"
    return "a record with the id of the record on"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many records are read into memory. Each full collection walks
    every object loaded so far, which makes reading a whole file into a list several times slower than
    reading it; records hold no reference cycles, so nothing is left for the collector to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_trajectories(path: str | os.PathLike, *, on_error: ErrorSink | None = None) -> Iterator[Trajectory]:
    on_error = on_error or _raise
    path = Path(path)
    source = str(path)
    for line, raw, _, _ in _rows(path, "jsonl", on_error, None):
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
        atomic_write_text(path, b"".join(json_line(e) for e in envs).decode("utf-8"))
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
