"""A manifest beside every dataset written: what made it and what it holds.

``<data>.manifest.json`` records the toolgym version, the command's configuration and seed, record
counts, the sha256 of the data and the versions of the main libraries, so a dataset can be traced and
reproduced. Written atomically (temporary file + rename).

A manifest also lets a reader trust its data (:class:`Trust`): a file whose manifest is of a kind written
only with checked records, and whose sha256 is the one the manifest holds, is exactly what toolgym wrote.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import threading
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
                   extra: dict[str, Any] | None = None, to: str | os.PathLike | None = None) -> Path:
    """Write the manifest of ``data_path`` (beside it, or at ``to``: a folder's ``manifest.json``, whose
    files are not hashed: a training run's checkpoints would take minutes)."""
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
        "sha256": sha256_of(data) if to is None and data.exists() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": _versions(),
    }
    if extra:
        manifest.update(extra)
    out = Path(to) if to is not None else manifest_path(data)
    atomic_write_text(out, json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return out


def read_manifest(data_path: str | os.PathLike) -> dict[str, Any] | None:
    p = manifest_path(data_path)
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


#: Manifest kinds written only with records that passed validation: a build (every record verified in the
#: sandbox), an import and an export of our own layout (every record read through ``read_environments``),
#: the demo's samples.
VALIDATED_KINDS = frozenset({"build", "environments", "environments/jsonl", "environments/parquet",
                             "environments/hf"})


def _validated_digest(data_path: str | os.PathLike) -> str | None:
    """The sha256 the manifest of ``data_path`` promises, if it is a manifest of checked records."""
    try:
        manifest = read_manifest(data_path)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("kind") not in VALIDATED_KINDS:
        return None
    config = manifest.get("config")
    if isinstance(config, dict) and config.get("compile_code") is False:  # imported without the code check
        return None
    digest = manifest.get("sha256")
    return digest if isinstance(digest, str) else None


class Trust:
    """Whether a data file may be read without checking its records again: its manifest is of a checked kind
    and the file's sha256 -- recomputed, since a manifest may be stale -- is the manifest's. The digest is
    computed in a background thread (hashlib releases the GIL), so a reader parses records meanwhile."""

    def __init__(self, data_path: str | os.PathLike):
        self._expected = _validated_digest(data_path)
        self._verdict = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self._expected is not None:
            self._thread = threading.Thread(target=self._hash, args=(Path(data_path),), daemon=True,
                                            name="toolgym-trust")
            self._thread.start()

    def _hash(self, path: Path) -> None:
        try:
            if path.is_dir():
                digest = sha256_of(path)
            else:
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    while not self._stop.is_set() and (block := f.read(1 << 22)):
                        h.update(block)
                if self._stop.is_set():
                    return
                digest = h.hexdigest()
        except OSError:
            return
        self._verdict = digest == self._expected

    def decided(self) -> bool:
        return self._thread is None or not self._thread.is_alive()

    def wait(self) -> bool:
        """The verdict (waits for the digest)."""
        if self._thread is not None:
            self._thread.join()
        return self._verdict

    def cancel(self) -> None:
        """Stop hashing (the reader is done); an undecided file is not trusted."""
        self._stop.set()


def is_trusted(data_path: str | os.PathLike) -> bool:
    """Is ``data_path`` exactly the data its manifest describes, written by toolgym after checking every
    record? The digest is recomputed: a manifest left behind by an earlier version of the file does not count."""
    return Trust(data_path).wait()
