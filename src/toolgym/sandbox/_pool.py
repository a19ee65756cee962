"""The isolated executor: a pool of warm, confined worker processes.

Speed comes from three things: workers stay alive between calls; each compiles a tool's source once
and keeps the code object (keyed by a digest of the source; the parent remembers which worker has
which code, so source crosses the pipe once); and calls travel in chunks, many per round trip,
spread over the workers. Safety comes from the confinement in :mod:`._confine` and from the parent:
it watches every call's deadline, kills a worker that overruns it or dies, answers that call with a
typed error, replaces the worker and re-sends the rest of the chunk.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import math
import os
import selectors
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SandboxUnavailable
from . import _call
from ._protocol import ExecRequest, ExecResult, SandboxLimits

_HEADER = struct.Struct(">I")
_WORKER_SCRIPT = str(Path(__file__).with_name("_worker.py"))
_CODE_CACHE_CAPACITY = 8192  # must match the worker's
_STATUSES = {"ok", "tool_error", "timeout", "memory", "crashed", "need_code", "scoping"}


def _json_name(name: str, _cache: dict[str, str] = {}) -> str:
    text = _cache.get(name)
    if text is None:
        if len(_cache) > 65536:
            _cache.clear()
        text = _cache[name] = json.dumps(name)
    return text


def _digest(source: str, _cache: dict[str, str] = {}) -> str:
    key = _cache.get(source)
    if key is None:
        if len(_cache) > 65536:
            _cache.clear()
        key = _cache[source] = hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    return key


@dataclass(slots=True)
class _Call:
    index: int  # position in the caller's request list
    key: str
    name: str
    args_json: str
    timeout: float
    cpu: float
    scoping: str = "module"


@dataclass(eq=False)
class _Worker:
    proc: subprocess.Popen
    folder: str
    layers: dict
    progress: str = ""  # file where the worker writes 1 + the index of the call it is running (0: none)
    known: set = field(default_factory=set)
    buf: bytearray = field(default_factory=bytearray)
    # the chunk in flight
    chunk: list = field(default_factory=list)
    received: int = 0
    last_progress: float = 0.0

    @property
    def fd_out(self) -> int:
        return self.proc.stdout.fileno()

    def send(self, payload: bytes) -> None:
        self.proc.stdin.write(_HEADER.pack(len(payload)) + payload)
        self.proc.stdin.flush()

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.progress:
            try:
                os.unlink(self.progress)
            except OSError:
                pass

    def running(self) -> int | None:
        """The request index of the call the worker was running, if any."""
        try:
            with open(self.progress, "rb") as f:
                value = struct.unpack("<q", f.read(8))[0]
        except (OSError, struct.error):
            return None
        return value - 1 if value > 0 else None


def _clean_env(folder: str) -> dict[str, str]:
    """Nothing of the parent's environment (API keys, tokens) reaches a worker."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": folder,
        "TMPDIR": folder,
        "PYTHONHASHSEED": "0",  # set iteration order in tool outputs is the same in every worker
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "MALLOC_ARENA_MAX": "2",
    }


class SandboxPool:
    """Runs tool calls in isolated worker processes (the default executor).

    >>> with SandboxPool(workers=2) as pool:
    ...     pool.run([ExecRequest("add", {"a": 1, "b": 2}, {"add": "def add(a, b):\\n    return a + b"})])
    [ExecResult(output='3', status='ok', seconds=...)]
    """

    name = "sandbox"

    def __init__(self, workers: int | None = None, limits: SandboxLimits | None = None, *,
                 confine: bool = True, chunk_size: int = 256, start_timeout_s: float = 30.0):
        self.size = max(1, workers or os.cpu_count() or 1)
        self.limits = limits or SandboxLimits()
        self.confine = confine
        self.chunk_size = max(1, chunk_size)
        self.start_timeout_s = start_timeout_s
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._cond = threading.Condition()
        self._started = False
        self._closed = False
        self._spawning = 0
        self._spawner = None  # the long-lived thread that starts every worker (see _spawn)
        self._root: str | None = None
        self.layers: dict[str, str] = {}
        self.stats = {"calls": 0, "worker_restarts": 0, "timeouts": 0, "crashes": 0}
        self._debug = bool(os.environ.get("TOOLGYM_SANDBOX_DEBUG"))

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> SandboxPool:
        """Start the workers now (otherwise the first ``run`` does). Raises :class:`SandboxUnavailable`."""
        with self._cond:
            if self._closed:
                raise SandboxUnavailable("the sandbox pool is closed")
            if self._started:
                return self
            self._root = tempfile.mkdtemp(prefix="toolgym-sandbox-")
            procs = [self._spawn() for _ in range(self.size)]
            workers = [self._await_ready(*p) for p in procs]
            self._idle.extend(workers)
            self._all.update(workers)
            self.layers = dict(workers[0].layers)
            self._started = True
            atexit.register(self.close)
        return self

    def _launch(self) -> tuple[subprocess.Popen, str, str]:
        folder = tempfile.mkdtemp(prefix="w-", dir=self._root)
        progress = folder + ".progress"  # beside the tool's folder, not in it
        with open(progress, "wb") as f:
            f.write(bytes(8))
        config = {
            "folder": folder, "progress": progress, "memory_mb": self.limits.memory_mb, "file_mb": self.limits.file_mb,
            "open_files": self.limits.open_files, "output_chars": self.limits.output_chars,
            "confine": self.confine, "debug": self._debug,
        }
        try:
            proc = subprocess.Popen(
                [sys.executable, _WORKER_SCRIPT, json.dumps(config)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=None if self._debug else subprocess.DEVNULL,
                env=_clean_env(folder), cwd=folder, start_new_session=True, close_fds=True,
            )
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            os.unlink(progress)
            raise SandboxUnavailable(f"cannot start a sandbox worker ({sys.executable}): {exc}") from exc
        return proc, folder, progress

    def _await_ready(self, proc: subprocess.Popen, folder: str, progress: str) -> _Worker:
        worker = _Worker(proc, folder, {}, progress=progress)
        deadline = time.monotonic() + self.start_timeout_s
        frames = self._read_frames(worker, deadline)
        if not frames or not isinstance(frames[0], dict) or frames[0].get("op") != "ready":
            code = proc.poll()
            worker.kill()
            raise SandboxUnavailable(
                f"a sandbox worker failed to start (exit code {code}); run with TOOLGYM_SANDBOX_DEBUG=1 to see "
                "its error output")
        worker.layers = frames[0].get("layers", {})
        return worker

    def _read_frames(self, worker: _Worker, deadline: float) -> list:
        """Block until at least one frame arrives from ``worker`` (or EOF / deadline)."""
        sel = selectors.DefaultSelector()
        sel.register(worker.fd_out, selectors.EVENT_READ)
        try:
            while True:
                frames, bad = self._parse(worker)
                if frames or bad:
                    return frames
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    return []
                data = os.read(worker.fd_out, 1 << 20)
                if not data:
                    return []
                worker.buf += data
        finally:
            sel.close()

    def _replace(self, worker: _Worker) -> _Worker | None:
        """Kill ``worker`` and start another in its place. While the new one starts, the pool counts it as
        on its way, so a caller waiting for a worker waits instead of concluding there is none."""
        worker.kill()
        with self._cond:
            self._spawning += 1
            self._all.discard(worker)
            self.stats["worker_restarts"] += 1
        new = None
        try:
            new = self._await_ready(*self._spawn())
        except SandboxUnavailable:
            return None
        finally:
            with self._cond:
                self._spawning -= 1
                if new is not None:
                    self._all.add(new)
                self._cond.notify_all()
        return new

    def _spawn(self) -> tuple[subprocess.Popen, str, str]:
        """Start a worker process from the pool's own long-lived thread. The worker's parent-death signal
        is tied to the *thread* that started it (Linux), so a worker started from a short-lived thread -- an
        ``asyncio.to_thread`` call, a caller's temporary thread -- would be killed when that thread ends."""
        if self._spawner is None:
            from concurrent.futures import ThreadPoolExecutor

            self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toolgym-sandbox-spawner")
        return self._spawner.submit(self._launch).result()

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
        for w in workers:
            try:
                w.send(b'{"op": "exit"}')
            except OSError:
                pass
            w.kill()
        if self._spawner is not None:
            self._spawner.shutdown(wait=False)
        if self._root:
            shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> SandboxPool:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- running calls --------------------------------------------------------------------------
    def run_one(self, name: str, arguments, code) -> ExecResult:
        return self.run([ExecRequest(name, arguments, code)])[0]

    async def arun(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return await asyncio.to_thread(self.run, requests)

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        results: list[ExecResult | None] = [None] * len(requests)
        calls: list[_Call] = []
        sources: dict[str, str] = {}
        limits = self.limits
        for i, req in enumerate(requests):
            source = req.code.get(req.name)
            if not isinstance(source, str):
                results[i] = ExecResult(_call.unknown_tool_message(req.name), "tool_error")
                continue
            try:
                args_json = json.dumps(req.arguments)
            except (TypeError, ValueError) as exc:
                results[i] = ExecResult(_call.error_message(req.name, f"arguments are not JSON: {exc}"), "tool_error")
                continue
            key = _digest(source)
            sources[key] = source
            timeout = req.timeout_s or limits.timeout_s
            calls.append(_Call(i, key, req.name, args_json, timeout, min(limits.cpu, timeout), req.scoping))
        if calls:
            self.stats["calls"] += len(calls)
            try:
                self._dispatch(calls, sources, results)
            except SandboxUnavailable as exc:
                for c in calls:
                    if results[c.index] is None:
                        results[c.index] = ExecResult(_call.error_message(c.name, f"sandbox unavailable: {exc}"),
                                                      "infra_error")
        return results  # type: ignore[return-value]

    def _acquire(self, wanted: int) -> list[_Worker]:
        self.start()
        with self._cond:
            while not self._idle:
                if self._closed:
                    raise SandboxUnavailable("the sandbox pool is closed")
                if not self._all and not self._spawning:
                    raise SandboxUnavailable("no sandbox worker could be started")
                self._cond.wait()
            taken, self._idle = self._idle[:wanted], self._idle[wanted:]
            return taken

    def _release(self, workers: list[_Worker]) -> None:
        with self._cond:
            if self._closed:
                for w in workers:
                    w.kill()
                return
            self._idle.extend(workers)
            self._cond.notify_all()

    def _dispatch(self, calls: list[_Call], sources: dict[str, str], results: list) -> None:
        n_chunks_wanted = max(1, math.ceil(len(calls) / self.chunk_size))
        workers = self._acquire(min(self.size, n_chunks_wanted))
        # Smaller chunks than the cap when there are few calls, so every worker gets a share.
        size = max(1, min(self.chunk_size, math.ceil(len(calls) / (len(workers) * 2))))
        queue: deque[list[_Call]] = deque(calls[i:i + size] for i in range(0, len(calls), size))
        sel = selectors.DefaultSelector()
        active: dict[int, _Worker] = {}
        idle: list[_Worker] = list(workers)
        grace = self.limits.grace_s
        try:
            while queue or active:
                while queue and idle:
                    w = idle.pop()
                    chunk = queue.popleft()
                    if not self._send_chunk(w, chunk, sources):
                        new = self._fail_current(w, chunk, 0, results, "crashed", queue)
                        if new is not None:
                            idle.append(new)
                        continue
                    sel.register(w.fd_out, selectors.EVENT_READ, w)
                    active[w.fd_out] = w
                if not active:
                    if queue and not idle:
                        raise SandboxUnavailable("no sandbox worker could be started")
                    continue
                now = time.monotonic()
                deadline = min(w.last_progress + w.chunk[w.received].timeout + grace for w in active.values())
                events = sel.select(max(0.0, deadline - now))
                ready = {key.data for key, _ in events}
                now = time.monotonic()
                for w in list(active.values()):
                    verdict = None
                    if w in ready:
                        data = os.read(w.fd_out, 1 << 20)
                        if data:
                            w.buf += data
                            verdict = self._consume(w, sources, results, queue)
                        else:
                            verdict = "crashed"
                    elif now >= w.last_progress + w.chunk[w.received].timeout + grace:
                        verdict = "timeout"
                    if verdict is None:
                        continue
                    sel.unregister(w.fd_out)
                    del active[w.fd_out]
                    if verdict == "done":
                        idle.append(w)
                        continue
                    new = self._fail_current(w, w.chunk, w.received, results, verdict, queue)
                    if new is not None:
                        idle.append(new)
        finally:
            sel.close()
            for w in list(active.values()):  # interrupted (Ctrl-C): these workers are mid-chunk
                replacement = self._replace(w)
                if replacement is not None:
                    idle.append(replacement)
            self._release(idle)

    def _send_chunk(self, w: _Worker, chunk: list[_Call], sources: dict[str, str]) -> bool:
        code = {}
        for c in chunk:
            if c.key not in w.known:
                if len(w.known) >= _CODE_CACHE_CAPACITY:
                    w.known.clear()  # the worker clears its cache at the same point
                w.known.add(c.key)
                code[c.key] = sources[c.key]
        parts = [f'[{c.index},"{c.key}",{_json_name(c.name)},{c.args_json},{c.timeout!r},{c.cpu!r},"{c.scoping}"]'
                 for c in chunk]
        payload = ('{"op":"run","code":' + json.dumps(code) + ',"calls":[' + ",".join(parts) + "]}").encode()
        w.chunk, w.received, w.last_progress = chunk, 0, time.monotonic()
        try:
            w.send(payload)
        except OSError:
            return False
        return True

    def _parse(self, w: _Worker) -> tuple[list, bool]:
        """Complete frames in the buffer, and whether an unreadable frame followed them (the frames
        before it are still good: a result must not be lost because a tool wrote junk after it)."""
        frames = []
        buf = w.buf
        pos = 0
        limit = self.limits.output_chars * 6 + 4096
        bad = False
        while len(buf) - pos >= 4:
            (size,) = _HEADER.unpack_from(buf, pos)
            if size > limit:
                bad = True
                break
            if len(buf) - pos - 4 < size:
                break
            try:
                frames.append(json.loads(bytes(buf[pos + 4:pos + 4 + size])))
            except (ValueError, UnicodeDecodeError):
                bad = True
                break
            pos += 4 + size
        if pos:
            del buf[:pos]
        return frames, bad

    def _consume(self, w: _Worker, sources, results, queue) -> str | None:
        """Take the frames that arrived. Returns ``"done"`` when the chunk is complete, a failure verdict
        if the worker must go, ``None`` to keep waiting."""
        frames, bad = self._parse(w)
        for frame in frames:
            expected = w.chunk[w.received]
            if (not isinstance(frame, list) or len(frame) != 5 or frame[0] != expected.index
                    or frame[1] not in _STATUSES or not isinstance(frame[2], str)):
                return "corrupt"  # protocol violation: the worker is not trustworthy any more
            index, status, output, seconds, retire = frame
            w.received += 1
            w.last_progress = time.monotonic()
            if status == "need_code":
                w.known.discard(expected.key)
                queue.appendleft([expected])
            else:
                if status == "timeout":
                    self.stats["timeouts"] += 1
                results[index] = ExecResult(output[: self.limits.output_chars + 200], status, float(seconds or 0.0))
            if retire:
                if w.received < len(w.chunk):
                    queue.appendleft(w.chunk[w.received:])
                w.chunk = []
                return "retire"
        if bad:
            return "corrupt"
        return "done" if w.received >= len(w.chunk) else None

    def _fail_current(self, w: _Worker, chunk: list[_Call], position: int, results, verdict: str,
                      queue: deque) -> _Worker | None:
        """The worker failed while running part of ``chunk`` (results from ``position`` on are missing).

        The call it was running (from its progress file) is answered with the failure and the others are
        re-queued; those that ran but whose results were not sent yet run again (tools are stateless).
        When the guilty call is not known for sure -- junk in the result pipe (``corrupt``), a death
        between calls -- each call is re-run alone, where a failure can only be its own."""
        rest = chunk[position:]
        if verdict != "retire" and rest:
            running = w.running() if verdict != "corrupt" else None
            guilty = next((i for i, c in enumerate(rest) if c.index == running), None)
            if guilty is None and len(rest) > 1:
                for c in reversed(rest):
                    queue.appendleft([c])
                return self._replace(w)
            c = rest[guilty or 0]
            if verdict == "timeout":
                self.stats["timeouts"] += 1
                msg = f"the tool timed out after {c.timeout:g} seconds"
            else:
                verdict = "crashed"
                self.stats["crashes"] += 1
                w.proc.poll()
                msg = f"the tool crashed the sandbox worker (exit status {w.proc.returncode})"
            results[c.index] = ExecResult(_call.error_message(c.name, msg), verdict,
                                          c.timeout if verdict == "timeout" else 0.0)
            others = rest[:guilty or 0] + rest[(guilty or 0) + 1:]
            if others:
                queue.appendleft(others)
        return self._replace(w)

_default: SandboxPool | None = None
_default_pid: int | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """The process-wide pool (created on first use, replaced after a fork). ``TOOLGYM_SANDBOX_WORKERS`` sets
    its size (default: the CPU count) -- lower it where many processes each have a pool, as verl's reward and
    agent-loop workers do."""
    global _default, _default_pid
    with _default_lock:
        if _default is None or _default_pid != os.getpid() or _default._closed:
            size = os.environ.get("TOOLGYM_SANDBOX_WORKERS")
            _default = SandboxPool(workers=int(size) if size and size.isdigit() else None)
            _default_pid = os.getpid()
        return _default
