"""One append-only run: an output, the identity of what wrote it, the records already done, and a lock.

Every command that writes an output it can resume (build, rollout and eval, bench, the loop, train
prepare, TRL training) goes through :class:`Run`:

* **identity** -- what decides the output's content (model, backend, seed, sampling settings, a digest
  of the environments, ...). It is the ``config`` of the manifest. Resuming an output that another
  identity wrote is refused with a one-line message that names ``--overwrite``; ``overwrite=True``
  removes the output and the files the run owns, then starts again.
* **done keys** -- a records file holds one JSON record per line; ``key(row)`` names a record and
  ``done(row)`` says whether it is finished. A record that is not (a failed episode) is done again by the
  next run, whose line comes later: the latest line of a key wins (:func:`latest`, :meth:`Run.records`).
* **manifest of one shape** -- ``<out>.manifest.json`` beside a file (``<folder>/manifest.json`` for a
  folder output): kind, identity (``config``), seed, counts, ``status`` (``running`` until the work is
  complete), the data's sha256 and the library versions (:func:`~toolgym.io.write_manifest`).
* **lock** -- ``<out>.lock`` (``<folder>/.lock``), an ``flock`` held while the run is open: a second run
  of the same output is refused instead of both writing duplicates. The kernel drops the lock when its
  process dies, so a killed run never blocks the next one.

The output path is also checked against the command's inputs (:func:`check_outputs`): writing over an
input would destroy it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError
from .jsonl import JsonlWriter, iter_jsonl
from .manifest import manifest_path, write_manifest

T = TypeVar("T")
Key = Callable[[dict[str, Any]], Hashable | None]
"""Names the record of a row (``None``: the row is not one of this run's records)."""


class RunRefused(ConfigError):
    """The run must not write its output: another configuration wrote it, another run is writing it,
    or it is one of the command's inputs. The message says which option fixes it."""


def check_outputs(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> None:
    """Refuse an output that is one of the inputs (same file after resolving links and ``..``).
    ``inputs`` and ``outputs`` map the option that names a path (``--envs``, ``PATH``) to the path;
    ``None`` values are ignored."""
    seen = {}
    for flag, path in inputs.items():
        if path is not None:
            seen[Path(path).resolve()] = flag
    for flag, path in outputs.items():
        if path is None:
            continue
        resolved = Path(path).resolve()
        if resolved in seen:
            raise RunRefused(f"{flag} {path} is also {seen[resolved]}: writing it would destroy the input; "
                             f"give another {flag}")
        seen[resolved] = flag


def digest(values: Iterable[str]) -> str:
    """A short sha256 of an ordered list of strings (environment ids, say): part of an identity."""
    h = hashlib.sha256()
    for v in values:
        h.update(v.encode("utf-8", "surrogatepass"))
        h.update(b"\n")
    return h.hexdigest()[:20]


def latest(items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """The last item of every key (a record done again by a resumed run replaces the earlier one), in
    the order the keys first appear."""
    out: dict[Hashable, T] = {}
    for item in items:
        out[key(item)] = item
    return list(out.values())


def _plain(value: Any) -> Any:
    """``value`` as the manifest will hold it (tuples become lists, paths strings)."""
    return json.loads(json.dumps(value, default=str))


def _short(value: Any, width: int = 60) -> str:
    text = "unset" if value is _UNSET else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


_UNSET = object()


def identity_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``field: old -> new`` for every field of two identities that differs (``a.b`` inside a mapping)."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, _UNSET), new.get(k, _UNSET)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(identity_changes(a, b, f"{prefix}{k}."))
        else:
            out.append(f"{prefix}{k}: {_short(a)} -> {_short(b)}")
    return out


# ---- the lock -----------------------------------------------------------------------------------------

_HELD: set[int] = set()  # lock descriptors of this process: a forked child closes its copies


def _close_in_child() -> None:
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class _Lock:
    def __init__(self, path: Path):
        self.path = path
        self.fd = -1

    def acquire(self, what: Path) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise RunRefused(f"another run (pid {holder}) is writing {what}; wait for it to end, "
                                 "or give another --out") from None
            try:  # a run that just ended removed the file we opened: lock the one on disk instead
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        _HELD.add(fd)

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        _HELD.discard(self.fd)
        os.close(self.fd)
        self.fd = -1


# ---- the run ------------------------------------------------------------------------------------------

class Run:
    """One output written by one identity. Use as a context manager (or :meth:`open` / :meth:`close`).

    ``path`` is a records file (JSONL, appended one line per :meth:`write`) or, with ``folder=True``, a
    folder whose content the caller writes (a training run, a data folder). ``owns`` lists the other
    paths the run writes (side files; for a folder, its entries; ``*`` patterns allowed): they count as
    the output when deciding whether there is something to resume, and ``overwrite`` removes them.
    After :meth:`open`, ``previous`` is the manifest found (``None`` for a new output) and, for a
    records file read with ``key``, :meth:`is_done` says which records are finished."""

    def __init__(self, path: str | os.PathLike, *, kind: str, identity: Mapping[str, Any], key: Key | None = None,
                 done: Callable[[dict[str, Any]], bool] | None = None, overwrite: bool = False,
                 owns: Sequence[str | os.PathLike] = (), folder: bool = False, seed: int | None = None):
        self.path = Path(path)
        self.kind = kind
        self.identity = _plain(dict(identity))
        self.key = key
        self.done = done or (lambda _row: True)
        self.overwrite = overwrite
        self.folder = folder
        self.seed = seed
        self.owns = [Path(p) for p in owns]
        if folder:
            self.manifest_path = self.path / "manifest.json"
            lock = self.path / ".lock"
        else:
            self.manifest_path = manifest_path(self.path)
            lock = self.path.with_name(self.path.name + ".lock")
            self.owns.append(self.path.with_name(self.path.name + ".partial"))
        self._lock = _Lock(lock)
        self.previous: dict[str, Any] | None = None
        self.repaired = 0  # bytes of a partial last line moved aside when the file was opened
        self.written = 0  # records written by this run
        self._state: dict[Hashable, bool] = {}  # key -> done, for the latest record of each key
        self._writer: JsonlWriter | None = None

    # ---- opening ---------------------------------------------------------------------------------
    def open(self) -> Run:
        """Lock the output, check (or clear) what is there, and record this run's identity."""
        (self.path if self.folder else self.path.parent).mkdir(parents=True, exist_ok=True)
        self._lock.acquire(self.path)
        try:
            if self.overwrite:
                self._clear()
            else:
                self.previous = self._check()
            if not self.folder:
                self._writer = JsonlWriter(self.path)
                self.repaired = self._writer.repaired_bytes
                if self.key is not None:
                    self._scan()
            if self.previous is None:  # a resumed output keeps its manifest until the caller saves
                self.save("running")
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Run:
        return self if self._lock.fd >= 0 else self.open()  # a run opened already is closed on exit

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._lock.release()

    def _owned(self) -> list[Path]:
        paths = [] if self.folder else [self.path]
        for p in self.owns:
            paths.extend(sorted(p.parent.glob(p.name)) if "*" in p.name else [p])
        return [p for p in paths if p.exists()]

    def _has_output(self) -> bool:
        return any(p.is_dir() or p.stat().st_size > 0 for p in self._owned())

    def _check(self) -> dict[str, Any] | None:
        try:
            old = json.loads(self.manifest_path.read_text(encoding="utf-8")) if self.manifest_path.exists() else None
        except (OSError, ValueError):
            old = None
        if not self._has_output():
            return None  # nothing to resume or to protect (a manifest left alone is replaced)
        if not isinstance(old, dict) or "kind" not in old:
            raise RunRefused(f"{self.path} exists, but no manifest says what wrote it; use --overwrite to replace "
                             "it, or give another --out")
        if old.get("kind") != self.kind:
            raise RunRefused(f"{self.path} holds the output of a {old.get('kind')} run, not of a {self.kind} run; "
                             "use --overwrite to replace it, or give another --out")
        changes = identity_changes(old.get("config") or {}, self.identity)
        if changes:
            raise RunRefused(f"{self.path} was written by another configuration ({'; '.join(changes)}); use "
                             "--overwrite to start again, or give another --out")
        return old

    def _clear(self) -> None:
        for p in [*self._owned(), self.manifest_path]:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()

    def _scan(self) -> None:
        for _, row in iter_jsonl(self.path, on_error=lambda *_: None):
            if isinstance(row, dict):
                k = self.key(row)
                if k is not None:
                    self._state[k] = bool(self.done(row))

    # ---- state -------------------------------------------------------------------------------------
    @property
    def resumed(self) -> bool:
        """Whether an earlier run of this identity left output here."""
        return self.previous is not None

    @property
    def complete(self) -> bool:
        """Whether an earlier run of this identity finished its work (its manifest says ``complete``)."""
        return self.previous is not None and self.previous.get("status") == "complete"

    def is_done(self, key: Hashable) -> bool:
        return self._state.get(key, False)

    @property
    def keys(self) -> dict[Hashable, bool]:
        """Every key in the output and whether its latest record is done."""
        return dict(self._state)

    # ---- writing -----------------------------------------------------------------------------------
    def write(self, record: Any, *, key: Hashable | None = None, done: bool | None = None) -> None:
        """Append one record (a dict, a pydantic model, or a :class:`Line`). ``key`` and ``done`` default
        to the run's functions applied to a dict record."""
        if self._writer is None:
            raise RuntimeError("open the run before writing to it")
        self._writer.write(record)
        self.written += 1
        if key is None and self.key is not None and isinstance(record, dict):
            key = self.key(record)
        if key is not None:
            if done is None:
                done = self.done(record) if isinstance(record, dict) else True
            self._state[key] = bool(done)

    def records(self) -> Iterator[dict[str, Any]]:
        """The latest record of every key, read back from the file (in file order)."""
        if self.key is None:
            raise RuntimeError("records() needs the run's key function")
        left: dict[Hashable, int] = {}
        for _, row in iter_jsonl(self.path, on_error=lambda *_: None):
            if isinstance(row, dict) and (k := self.key(row)) is not None:
                left[k] = left.get(k, 0) + 1
        for _, row in iter_jsonl(self.path, on_error=lambda *_: None):
            if isinstance(row, dict) and (k := self.key(row)) is not None:
                left[k] -= 1
                if left[k] == 0:
                    yield row

    def save(self, status: str = "running", *, counts: Mapping[str, Any] | None = None,
             extra: Mapping[str, Any] | None = None) -> Path:
        """Write the manifest: this run's identity, ``status`` (``complete`` once the work is done),
        counts and anything else the caller records."""
        return write_manifest(self.path, kind=self.kind, config=self.identity, seed=self.seed,
                              counts=dict(counts or {}), extra={"status": status, **(extra or {})},
                              to=self.manifest_path if self.folder else None)


class Line:
    """A record already serialised as one JSON line (the build's workers serialise in parallel)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def model_dump_json(self) -> str:
        return self.text
