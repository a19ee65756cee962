"""The isolated executor: a pool of warm, confined worker processes, each forking one call process per
environment.

The pool groups a batch's calls by environment (the same ``code`` mapping) and hands the groups to its
workers, a few in flight per worker; it writes without ever blocking and reads results as they come.
A worker never runs tool code: it forks a fresh call process per group from its own clean state, so one
environment's tool cannot reach another environment, the worker's protocol, or the pool's bookkeeping
(see :mod:`._worker` and :mod:`._child`). The pool checks every frame a worker sends against what it sent
(one result per call, in order, of the expected shape) and replaces a worker that breaks the protocol,
dies or stops answering, re-sending its unanswered calls (alone, if it happens twice).

Worker folders live under one root per pool in the temporary folder, named after the pool's process; a
pool that starts removes the roots of processes that no longer exist (a run killed with ``kill -9``).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import hashlib
import json
import marshal
import os
import selectors
import shutil
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
from . import _call, _wire
from ._protocol import ExecRequest, ExecResult, SandboxLimits

_WORKER_SCRIPT = str(Path(__file__).with_name("_worker.py"))
_ROOT_PREFIX = "toolgym-sandbox-"
_WORKER_MARGIN_S = 5.0  # what a worker may need beyond a call's own deadline (killing, forking afresh)
_COMPILE_HERE_CHARS = 1 << 18  # larger sources are compiled in the call process, under the call's timers
_EXIT = _wire.HEADER.pack(14) + b'{"op": "exit"}'


def _digest(source: str, _cache: dict[str, str] = {}) -> str:
    key = _cache.get(source)
    if key is None:
        if len(_cache) > 65536:
            _cache.clear()
        key = _cache[source] = hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    return key


def _compiled(source: str, _cache: dict[str, object] = {}):
    """``source`` compiled (a tuple of code objects, one per top-level statement), or ``None`` if it does not
    compile or is too large to compile here (the call process then compiles it, under the call's timers, and
    reports the error on each call as the reference does). Compiling here, in a warm process, costs a
    fraction of what it costs in a freshly forked one; a source is compiled once however many environments
    and batches hold it, and a statement once however many sources hold it."""
    key = _digest(source)
    code = _cache.get(key, _cache)
    if code is not _cache:
        return code
    code = None
    if len(source) <= _COMPILE_HERE_CHARS:
        code = _call.compile_source(source)  # statement by statement: shared ones are compiled once
        # marshal writes plain tuples (the call process has the source beside them)
        code = None if isinstance(code, BaseException) else tuple(code)  # an error: the call process says so
    if len(_cache) >= 8192:
        _cache.clear()
    _cache[key] = code
    return code


def _env_key(code) -> frozenset:
    """What identifies an environment: all of its tools and sources (not only the called ones), so two
    environments that share one tool's source still never share a process. (Strings cache their hash, so
    this costs little even when every request carries its own copy of the mapping.)"""
    try:
        return frozenset(code.items())
    except TypeError:  # a source that is not hashable: compare by its text
        return frozenset((name, repr(src)) for name, src in code.items())


@dataclass(slots=True)
class _Call:
    index: int  # position in the caller's request list
    name: str
    key: str  # digest of the tool's source
    arguments: object
    timeout: float
    cpu: float
    scoping: str = "module"  # see _call.SCOPINGS


_dumps = json.JSONEncoder().encode  # json.dumps with its defaults, without its per-call checks


@dataclass(eq=False)
class _Group:
    """Calls of one environment, sent to a worker as one message."""

    calls: list[_Call]
    code: dict[str, str]  # digest -> source, for the tools these calls name
    attempts: int = 0  # how many workers died while it was in flight
    ready: bytes | None = None  # its payload, made before it was dispatched

    def body(self) -> bytes:
        """The calls, and the sources a call process needs as text: those the pool did not compile, and
        those a call runs under the reference scoping (which hands its source on). Raises what ``json``
        raises for arguments that are not JSON (see :meth:`SandboxPool._not_json`)."""
        text = {c.key for c in self.calls if c.scoping != "module"}
        sources = {key: source for key, source in self.code.items() if key in text or _compiled(source) is None}
        return _dumps({"code": sources, "calls": [[c.name, c.key, c.arguments, c.timeout, c.cpu, c.scoping]
                                                  for c in self.calls]}).encode()

    def payload(self, body: bytes | None = None) -> bytes:
        """The header the worker reads, then what it hands on unread: the calls (and sources, see
        :meth:`body`), and the sources compiled (``marshal`` data, which only the pool writes)."""
        header = ('{"op":"run","timeouts":[' + ",".join(repr(c.timeout) for c in self.calls) + "]}").encode()
        body = body or self.body()
        compiled = marshal.dumps({key: _compiled(source) for key, source in self.code.items()})
        return b"".join((_wire.HEADER.pack(len(header)), header, _wire.HEADER.pack(len(body)), body,
                         _wire.HEADER.pack(len(compiled)), compiled))


@dataclass(eq=False)
class _Worker:
    proc: subprocess.Popen
    folder: str
    layers: dict
    frames: _wire.FrameBuffer
    inflight: deque = field(default_factory=deque)  # groups sent, in order; the first one is running
    answered: int = 0  # results received for the first group
    outbuf: bytearray = field(default_factory=bytearray)
    last_progress: float = 0.0

    @property
    def fd_in(self) -> int:
        return self.proc.stdin.fileno()

    @property
    def fd_out(self) -> int:
        return self.proc.stdout.fileno()

    def busy(self) -> bool:
        return bool(self.inflight or self.outbuf)

    def deadline(self, grace: float) -> float:
        call = self.inflight[0].calls[self.answered]
        return self.last_progress + call.timeout + 2 * grace + _WORKER_MARGIN_S

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


def _clean_env(folder: str) -> dict[str, str]:
    """Nothing of the parent's environment (API keys, tokens) reaches a worker."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": folder,
        "TMPDIR": folder,
        "PYTHONHASHSEED": "0",  # set iteration order in tool outputs is the same in every process
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "MALLOC_ARENA_MAX": "2",
    }


def _start_ticks(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), to tell it from a later process with its id."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def clean_stale_roots(tmp: str | None = None) -> int:
    """Remove the worker folders of pools whose process is gone (killed with ``kill -9``, say). Returns how
    many roots were removed. A root's name holds its process's id and start time; roots of living
    processes are left alone."""
    tmp = tmp or tempfile.gettempdir()
    removed = 0
    try:
        names = os.listdir(tmp)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(_ROOT_PREFIX):
            continue
        parts = name[len(_ROOT_PREFIX):].split("-")
        if len(parts) < 3 or not parts[0].isdigit():
            continue  # not named by this version
        pid, ticks = int(parts[0]), parts[1]
        if pid == os.getpid() or _start_ticks(pid) == ticks:
            continue
        shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
        removed += 1
    return removed


class SandboxPool:
    """Runs tool calls in isolated processes (the default executor).

    >>> with SandboxPool(workers=2) as pool:
    ...     pool.run([ExecRequest("add", {"a": 1, "b": 2}, {"add": "def add(a, b):\\n    return a + b"})])
    [ExecResult(output='3', status='ok', seconds=...)]
    """

    name = "sandbox"

    def __init__(self, workers: int | None = None, limits: SandboxLimits | None = None, *,
                 confine: bool = True, chunk_size: int = 256, start_timeout_s: float = 30.0, concurrency: int = 2,
                 isolate_environments: bool = True):
        self.size = max(1, workers or os.cpu_count() or 1)
        # False: calls of several environments may share a call process, up to chunk_size at a time. Faster
        # where environments have few calls each; only for tool code you trust (your own procedural build):
        # a tool could then change what another environment of its chunk returns.
        self.isolate_environments = isolate_environments
        # call processes each worker runs at once: while one waits for the CPU (a busy machine) or starts,
        # another works; groups in flight per worker is one more, so the next always waits in its pipe
        self.concurrency = max(1, concurrency)
        self.limits = limits or SandboxLimits()
        self.confine = confine
        self.chunk_size = max(1, chunk_size)  # most calls of one environment in one message
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
            clean_stale_roots()
            me = os.getpid()
            self._root = tempfile.mkdtemp(prefix=f"{_ROOT_PREFIX}{me}-{_start_ticks(me) or 0}-")
            procs = [self._spawn() for _ in range(self.size)]
            workers = []
            try:
                for p in procs:
                    workers.append(self._await_ready(*p))
            except SandboxUnavailable:
                for w in workers:
                    w.kill()
                shutil.rmtree(self._root, ignore_errors=True)
                raise
            self._idle.extend(workers)
            self._all.update(workers)
            self.layers = dict(workers[0].layers)
            if not self.isolate_environments:
                self.layers["processes"] = "shared by the calls of several environments (isolate_environments=False)"
            self._started = True
            atexit.register(self.close)
        return self

    def _launch(self) -> tuple[subprocess.Popen, str]:
        folder = tempfile.mkdtemp(prefix="w-", dir=self._root)
        lim = self.limits
        config = {
            "folder": folder, "parent": os.getpid(), "memory_mb": lim.memory_mb, "disk_mb": lim.disk_mb,
            "open_files": lim.open_files, "output_chars": lim.output_chars, "grace_s": lim.grace_s,
            "confine": self.confine, "debug": self._debug, "concurrency": self.concurrency,
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
            raise SandboxUnavailable(f"cannot start a sandbox worker ({sys.executable}): {exc}") from exc
        os.set_blocking(proc.stdin.fileno(), False)
        return proc, folder

    def _await_ready(self, proc: subprocess.Popen, folder: str) -> _Worker:
        worker = _Worker(proc, folder, {}, _wire.FrameBuffer(_wire.frame_limit(self.limits.output_chars)))
        deadline = time.monotonic() + self.start_timeout_s
        sel = selectors.DefaultSelector()
        sel.register(worker.fd_out, selectors.EVENT_READ)
        frames: list = []
        try:
            while not frames and not worker.frames.bad:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    break
                data = os.read(worker.fd_out, 1 << 20)
                if not data:
                    break
                worker.frames.feed(data)
                frames = worker.frames.frames()
        finally:
            sel.close()
        ready = frames[0] if frames and isinstance(frames[0], dict) and frames[0].get("op") == "ready" else None
        if ready is None or not ready.get("ok"):
            code = proc.poll()
            worker.kill()
            why = (ready or {}).get("layers", {}).get("self-test") or f"exit code {code}"
            raise SandboxUnavailable(f"a sandbox worker failed to start ({why}); run with TOOLGYM_SANDBOX_DEBUG=1 "
                                     "to see its error output")
        worker.layers = ready.get("layers", {})
        return worker

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

    def _spawn(self) -> tuple[subprocess.Popen, str]:
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
                os.write(w.fd_in, _EXIT)
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
        # A batch allocates a few objects per call (its record, the decoded result, the ExecResult) and keeps
        # them to the end; each cyclic garbage collection they trigger walks the caller's whole heap -- half of
        # what the pool costs the caller in a training process. They hold no cycles: collection waits until
        # the batch is done (and is back on for other threads once the last concurrent batch ends).
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._run(requests)
        finally:
            if paused:
                gc.enable()

    def _run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        results: list[ExecResult | None] = [None] * len(requests)
        groups: dict[tuple, list[_Group]] = {}
        keys: dict[int, tuple] = {}
        limits = self.limits
        default_timeout, cpu, chunk_size, isolate = limits.timeout_s, limits.cpu, self.chunk_size, self.isolate_environments
        for i, req in enumerate(requests):
            source = req.code.get(req.name)
            if not isinstance(source, str):
                results[i] = ExecResult(_call.finish(_call.unknown_tool_message(req.name), limits.output_chars),
                                        "tool_error")
                continue
            key = keys.get(id(req.code))
            if key is None:
                key = keys[id(req.code)] = _env_key(req.code) if isolate else None
            timeout = req.timeout_s or default_timeout
            call = _Call(i, req.name, _digest(source), req.arguments, timeout, min(cpu, timeout), req.scoping)
            chain = groups.get(key)
            if chain is None:
                chain = groups[key] = [_Group([], {})]
            group = chain[-1]
            if len(group.calls) >= chunk_size:
                group = _Group([], {})
                chain.append(group)
            group.calls.append(call)
            group.code[call.key] = source
        if groups:
            ordered = []
            for chain in groups.values():
                for g in chain:
                    try:
                        g.ready = g.payload()
                    except (TypeError, ValueError, RecursionError):
                        self._not_json(g, results)
                        if not g.calls:
                            continue
                        g.ready = g.payload()
                    ordered.append(g)
            self.stats["calls"] += sum(len(g.calls) for g in ordered)
            try:
                self._dispatch(ordered, results)
            except SandboxUnavailable as exc:
                for g in ordered:
                    for c in g.calls:
                        if results[c.index] is None:
                            results[c.index] = ExecResult(_call.finish(_call.error_message(
                                c.name, f"sandbox unavailable: {exc}"), limits.output_chars), "infra_error")
        return results  # type: ignore[return-value]

    def _not_json(self, group: _Group, results: list) -> None:
        """Answer the calls whose arguments are not JSON (a tool error each) and take them out of the group."""
        keep = []
        for c in group.calls:
            try:
                _dumps(c.arguments)
                keep.append(c)
            except (TypeError, ValueError, RecursionError) as exc:
                results[c.index] = ExecResult(_call.finish(_call.error_message(
                    c.name, f"arguments are not JSON: {exc}"), self.limits.output_chars), "tool_error")
        group.calls = keep
        group.code = {c.key: group.code[c.key] for c in keep}

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

    def _dispatch(self, groups: list[_Group], results: list) -> None:
        queue: deque[_Group] = deque(groups)
        live = self._acquire(min(self.size, len(groups)))
        sel = selectors.DefaultSelector()
        for w in live:
            sel.register(w.fd_out, selectors.EVENT_READ, w)
        grace = self.limits.grace_s
        depth = 4 * self.concurrency  # groups in flight per worker: the next ones wait in its pipe
        try:
            while True:
                now = time.monotonic()
                for w in live:
                    if queue and len(w.inflight) < depth:
                        if not w.inflight:
                            w.last_progress, w.answered = now, 0
                        while queue and len(w.inflight) < depth:
                            g = queue.popleft()
                            w.inflight.append(g)
                            w.outbuf += g.ready or g.payload()
                            g.ready = None
                        self._write(w, sel)
                busy = [w for w in live if w.inflight]
                if not busy:
                    if not queue:
                        break
                    raise SandboxUnavailable("no sandbox worker could be started")
                deadline = min(w.deadline(grace) for w in busy)
                events = sel.select(max(0.0, deadline - time.monotonic()))
                lost: list[_Worker] = []
                for key, mask in events:
                    w = key.data
                    if w in lost:
                        continue
                    if key.fd == w.fd_in:  # room in the worker's pipe for more of what it was sent
                        if not self._write(w, sel):
                            lost.append(w)
                        continue
                    if mask & selectors.EVENT_READ:
                        try:
                            data = os.read(w.fd_out, 1 << 20)
                        except OSError:
                            data = b""
                        if not data:
                            lost.append(w)
                            continue
                        w.frames.feed(data)
                        if not self._take(w, results):
                            lost.append(w)
                now = time.monotonic()
                lost.extend(w for w in live if w.inflight and w not in lost and now >= w.deadline(grace))
                for w in lost:
                    self._lose(w, live, sel, queue, results)
        finally:
            sel.close()
            keep = []
            for w in live:
                if w.busy():  # interrupted (Ctrl-C) while this worker was mid-group
                    w = self._replace(w)
                if w is not None:
                    keep.append(w)
            self._release(keep)

    def _write(self, w: _Worker, sel: selectors.BaseSelector) -> bool:
        """Send what fits into the worker's pipe now; watch for room for the rest. False if the pipe broke."""
        if w.outbuf:
            try:
                n = os.write(w.fd_in, w.outbuf)
                del w.outbuf[:n]
            except BlockingIOError:
                pass
            except OSError:
                return False
        watched = w.fd_in in sel.get_map()
        if w.outbuf and not watched:
            sel.register(w.fd_in, selectors.EVENT_WRITE, w)
        elif watched and not w.outbuf:
            sel.unregister(w.fd_in)
        return True

    def _take(self, w: _Worker, results: list) -> bool:
        """Record the results that arrived. False if the worker broke the protocol."""
        longest = self.limits.output_chars + _call.NOTE_ROOM
        for frame in w.frames.frames():
            if not _wire.valid_results(frame, _wire.RESULT_STATUSES, 4):
                return False
            for status, output, seconds, detail in frame:
                if not w.inflight or not (detail is None or type(detail) is str):
                    return False
                group = w.inflight[0]
                call = group.calls[w.answered]
                if detail is not None:  # the worker ended this call itself
                    output = _call.finish(_call.error_message(call.name, detail), self.limits.output_chars)
                elif len(output) > longest:
                    return False  # the worker checked and capped every output of its call processes
                if status == "timeout":
                    self.stats["timeouts"] += 1
                elif status == "crashed":
                    self.stats["crashes"] += 1
                results[call.index] = ExecResult(output, status, float(seconds))
                w.answered += 1
                if w.answered == len(group.calls):
                    w.inflight.popleft()
                    w.answered = 0
            w.last_progress = time.monotonic()
        return not w.frames.bad

    def _lose(self, w: _Worker, live: list[_Worker], sel: selectors.BaseSelector, queue: deque,
              results: list) -> None:
        """The worker died, broke the protocol or stopped answering: replace it and send its unanswered
        calls again. A group that was running is sent again whole the first time, call by call the second;
        a call that took a worker down on its own twice more is answered ``crashed``."""
        sel.unregister(w.fd_out)
        if w.fd_in in sel.get_map():
            sel.unregister(w.fd_in)
        live.remove(w)
        again: list[_Group] = []
        for n, group in enumerate(w.inflight):
            if n:
                again.append(group)  # never started
                continue
            rest = _Group(group.calls[w.answered:], group.code, group.attempts + 1)
            if rest.attempts >= 3:
                c = rest.calls[0]
                self.stats["crashes"] += 1
                results[c.index] = ExecResult(_call.finish(_call.error_message(
                    c.name, "the sandbox worker died while running this call"), self.limits.output_chars), "crashed")
                if len(rest.calls) > 1:
                    again.append(_Group(rest.calls[1:], group.code, group.attempts))
            elif rest.attempts == 2 and len(rest.calls) > 1:
                again.extend(_Group([c], group.code, 2) for c in rest.calls)
            else:
                again.append(rest)
        w.inflight.clear()
        w.outbuf.clear()
        queue.extendleft(reversed(again))
        new = self._replace(w)
        if new is not None:
            live.append(new)
            sel.register(new.fd_out, selectors.EVENT_READ, new)


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
