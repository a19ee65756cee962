"""A manifest beside every dataset written: what made it and what it holds.

``<data>.manifest.json`` records the toolgym version, the command's configuration and seed, record
counts, the sha256 of the data and the versions of the main libraries, so a dataset can be traced and
reproduced. Written atomically (temporary file + rename).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

_TRACKED = ("pydantic", "pyarrow", "datasets", "torch", "transformers", "trl", "verl", "vllm")


def manifest_path(data_path: str | os.PathLike) -> Path:
    p = Path(data_path)
    return p.with_name(p.name + ".manifest.json")


def sha256_of(path: str | os.PathLike) -> str:
    """sha256 of a file, or of every file under a directory (in sorted order, names included)."""
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    for name in _TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_manifest(data_path: str | os.PathLike, *, kind: str, config: dict[str, Any] | None = None,
                   seed: int | None = None, counts: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> Path:
    from .. import __version__

    data = Path(data_path)
    manifest = {
        "kind": kind,
        "data": data.name,
        "toolgym_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "config": config or {},
        "seed": seed,
        "counts": counts or {},
        "sha256": sha256_of(data) if data.exists() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": _versions(),
    }
    if extra:
        manifest.update(extra)
    out = manifest_path(data)
    atomic_write_text(out, json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return out


def read_manifest(data_path: str | os.PathLike) -> dict[str, Any] | None:
    p = manifest_path(data_path)
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))
