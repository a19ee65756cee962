"""Parquet and Hugging Face ``datasets`` in and out, with a flat, stable column layout.

Scalar fields are columns of their own; nested fields (tools, code, expected, solution, metadata)
are JSON strings, so every file has the same schema whatever the records hold. ``pyarrow`` and
``datasets`` are imported only when used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import safe_json
from ..errors import ConfigError, ErrorKind, RecordError

ENV_SCALARS = ("id", "scenario", "question", "answer")
ENV_NESTED = ("tools", "code", "expected", "solution", "metadata")
ENV_COLUMNS = ENV_SCALARS + ENV_NESTED


def env_to_row(env) -> dict[str, Any]:
    data = env.model_dump(mode="json")
    row = {k: data[k] for k in ENV_SCALARS}
    for k in ENV_NESTED:
        row[k] = json.dumps(data[k], ensure_ascii=False)
    return row


def row_to_env_data(row: dict[str, Any]) -> tuple[dict[str, Any], list[RecordError]]:
    """Plain record data from a flat row; JSON columns that do not parse are reported."""
    data: dict[str, Any] = {k: row.get(k) for k in ENV_SCALARS if row.get(k) is not None}
    errors = []
    for k in ENV_NESTED:
        value = row.get(k)
        if isinstance(value, str):
            value, why = safe_json.loads(value, deep=True)
            if why is not None:
                errors.append(RecordError(ErrorKind.JSON, f"column {k!r} is not valid JSON: {why}", field=k))
                continue
        if value is not None:
            data[k] = value
    return data, errors


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a core dependency
        raise ConfigError("parquet needs pyarrow: pip install pyarrow") from exc
    return pa, pq


def write_parquet(path: str | os.PathLike, rows: list[dict[str, Any]], schema=None) -> None:
    """Write rows atomically (temporary file + rename)."""
    pa, pq = _pyarrow()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def iter_parquet(path: str | os.PathLike, batch_size: int = 1024) -> Iterator[dict[str, Any]]:
    _, pq = _pyarrow()
    f = pq.ParquetFile(path)
    for batch in f.iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()


def _datasets():
    try:
        import datasets
    except ImportError as exc:
        raise ConfigError("Hugging Face datasets support needs the 'hf' extra: pip install 'toolgym[hf]'") from exc
    return datasets


def to_hf_dataset(rows: list[dict[str, Any]]):
    """A ``datasets.Dataset`` of flat rows."""
    return _datasets().Dataset.from_list(rows)


def save_hf(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    """``save_to_disk`` into a fresh folder, then move it into place."""
    p = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", dir=p.parent if p.parent.exists() else None))
    try:
        to_hf_dataset(rows).save_to_disk(str(tmp / "ds"))
        if p.exists():
            shutil.rmtree(p)
        shutil.move(str(tmp / "ds"), str(p))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def iter_hf(path_or_dataset: Any) -> Iterator[dict[str, Any]]:
    ds = path_or_dataset
    if isinstance(ds, (str, os.PathLike)):
        ds = _datasets().load_from_disk(str(ds))
    if is_dataset_dict(ds):  # every split (a DatasetDict has column_names too: ask its type)
        for split in ds:
            yield from ds[split]
        return
    yield from ds


def is_dataset_dict(ds: Any) -> bool:
    """Whether ``ds`` is a ``datasets.DatasetDict`` (splits by name) rather than one ``Dataset``."""
    return isinstance(ds, _datasets().DatasetDict)


def is_hf_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and ((p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists())


def rows_of(records: Iterable[Any]) -> list[dict[str, Any]]:
    return [env_to_row(r) for r in records]
