"""A call process: forked from a sandbox worker for the calls of one environment, confined, then killed.

It holds nothing of the sandbox's machinery that a tool could use against anyone else: the worker closes
its end of the protocol in the child before any tool code runs, so the only channel out is the write end
of a pipe that the worker alone reads -- and the worker checks every frame on it against the calls it
handed over (one result per call, in order, of the expected shape; anything else ends the process and is
that call's failure). The calls and sources of one environment are all it ever sees: the worker reads one
environment's calls at a time and forks from a clean state, so no other environment's code, arguments or
results are in its memory, and nothing it changes (modules, builtins, threads, memory, files, descriptors)
survives it.

Standard library only: imported by the worker as a top-level module.
"""

from __future__ import annotations

import _thread
import marshal
import os
import signal
import struct
import time

import _call
import _confine
import _wire

_setitimer, _ITIMER_REAL, _ITIMER_PROF = signal.setitimer, signal.ITIMER_REAL, signal.ITIMER_PROF
_perf, _monotonic = time.perf_counter, time.monotonic
_stat, _chdir, _listdir = os.stat, os.chdir, os.listdir
_exit = os._exit  # bound before the worker's confinement replaces os._exit (it refuses tools the call)
# The builtins of this process's tool calls: one dict for the environment's calls, as the paper's code shares
# its process's (a copy of the real ones, so a tool that writes to it does not change this module's own).
_BUILTINS = dict(_call._BUILTINS)
PROGRESS = struct.Struct("<qd")  # 1 + the position of the call running (0: between calls), when it started
_FLUSH_EVERY_S = 0.001
LOCKDOWN_FAILED = 71  # exit status of a call process that could not confine itself


class _Limit(BaseException):
    """Raised inside tool code when its time is up; a BaseException so ``except Exception`` misses it."""


class _CpuLimit(_Limit):
    pass


class _State:
    armed = False


def on_timer(signum, _frame):
    """SIGALRM / SIGPROF handler (installed by the worker, inherited by every call process). Raises once
    per call: a second raise could land in our own handling of the first. A tool that swallows it and
    goes on is killed by the worker instead."""
    if _State.armed:
        _State.armed = False
        raise _CpuLimit() if signum == signal.SIGPROF else _Limit()


def clear_folder(folder: str) -> None:
    """Remove everything in ``folder`` (symlinks are removed, never followed)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                clear_folder(entry.path)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def _thread_count() -> int:
    counter = getattr(_thread, "_count", None)
    return counter() if counter else 0


class Lockdown:
    """What a call process applies to itself after the fork, prepared by the worker: the parent-death
    signal, a Landlock layer of its own (writes only to its folder; with ABI >= 6 no signal leaves it), the
    call filter (seccomp), and the Python-level policy."""

    def __init__(self, parent: int, call_filter, audit: bool, nproc: bool, max_fd: int):
        self.parent = parent
        self.call_filter = call_filter
        self.audit = audit
        self.nproc = nproc
        self.max_fd = max_fd

    def apply(self, cmd_fd: int, out_fd: int, folder: str, landlock_fd: int | None) -> None:
        """Confine this process to ``folder``. Afterwards its only descriptors besides 0-2 (``/dev/null``)
        are ``cmd_fd`` (moved to 3) and ``out_fd`` (moved to 4)."""
        if not _confine.die_with_parent(self.parent):
            _exit(0)  # the template (and so the worker) is gone: nobody is waiting for results
        if landlock_fd is not None and not _confine.landlock_enforce(landlock_fd):
            _exit(LOCKDOWN_FAILED)
        if out_fd == 3:  # moving cmd_fd to 3 would close it
            out_fd = os.dup(out_fd)
        for fd, target in ((cmd_fd, 3), (out_fd, 4)):
            if fd != target:
                os.dup2(fd, target)
        os.closerange(5, self.max_fd)  # the worker's protocol, the Landlock rulesets, anything else
        if self.call_filter is not None and not self.call_filter.install():
            _exit(LOCKDOWN_FAILED)
        if self.nproc:
            _confine.limit_processes()
        _chdir(folder)
        if self.audit:
            _confine.arm_audit_hook()


def main(lockdown: Lockdown, cmd_fd: int, out_fd: int, progress, folder: str, landlock_fd: int | None,
         output_chars: int, memory_mb: int) -> None:
    """The life of a call process: confine itself, wait for its calls (the plan, then the group as the pool
    sent it: the calls and sources, and the sources compiled by the pool), run them, report, and end at
    once: freeing what the calls built would cost more than the calls themselves."""
    exit_now = _exit  # a local: no tool can rebind it
    lockdown.apply(cmd_fd, out_fd, folder, landlock_fd)
    try:
        plan = _wire.read_frame(3)
        group = _wire.read_frame(3)
        (size,) = _wire.HEADER.unpack(_wire.read_exact(3, 4))
        compiled = marshal.loads(_wire.read_exact(3, size))
    except EOFError:
        exit_now(0)
    os.close(3)
    sources = dict(group["code"])
    for key, pieces in compiled.items():
        if pieces is not None:  # compiled by the pool; the reference scoping also hands the source on
            code = sources[key] = _call.Compiled(pieces)
            code.source = group["code"].get(key)  # sent only where a call's scoping needs it
    serve(4, progress, sources, group["calls"], plan, output_chars, memory_mb, folder)
    exit_now(0)


def run_call(cache: dict, sources: dict, key: str, name: str, arguments, timeout: float, cpu: float,
             output_chars: int, memory_mb: int, scoping: str = "module"):
    """One call: (status, output, seconds, retire). ``sources`` maps a source's key to its code, compiled by the pool,
    or to its source, compiled here on its first call under the call's timers (the pool leaves it to us when
    it does not compile: the error is reported on every call, as the reference reports it)."""
    t0 = _perf()
    retire = False
    _State.armed = True
    _setitimer(_ITIMER_REAL, timeout)
    _setitimer(_ITIMER_PROF, cpu)
    try:
        try:
            code = cache.get(key)
            if code is None:
                code = sources[key]
                code = cache[key] = _call.compile_source(code) if type(code) is str else code
            output = _call.invoke(code, name, arguments, scoping, _BUILTINS)
            status = "ok"
        except _Limit:
            raise
        except _call.ScopingMismatch as exc:  # compare: the paper's scoping gives another outcome
            status, output = "scoping", exc.module_output
        except MemoryError:
            status, retire = "memory", True
            output = _call.error_message(name, f"MemoryError: the tool exceeded the sandbox memory limit "
                                               f"({memory_mb} MB)")
        except BaseException as exc:
            status = "tool_error"
            output = _call.error_message(name, _call.describe_exception(exc))
    except _Limit as exc:
        if isinstance(exc, _CpuLimit):
            output = _call.error_message(name, f"the tool exceeded the CPU time limit of {cpu:g} seconds")
        else:
            output = _call.error_message(name, f"the tool timed out after {timeout:g} seconds")
        status, retire = "timeout", True
    except BaseException:
        status, output, retire = "tool_error", _call.error_message(name, "<unprintable error>"), True
    finally:
        _State.armed = False
        _setitimer(_ITIMER_REAL, 0)
        _setitimer(_ITIMER_PROF, 0)
    return status, _call.finish(output, output_chars), _perf() - t0, retire


def serve(fd: int, progress, sources: dict, calls: list, plan: list[int], output_chars: int, memory_mb: int,
          folder: str) -> None:
    """Run ``calls[p]`` for each position ``p`` in ``plan``, in order; report ``[status, output, seconds,
    retire]`` per call, several to a frame. Stops after a call that asks to ``retire`` (it timed out, ran out
    of memory or left threads running): the worker continues in a fresh process."""
    send, encode = _wire.send_all, _wire.encode
    cache: dict = {}
    pending: list = []
    pending_chars = 0
    last_flush = _perf()
    threads = _thread_count()
    clean_mtime = _stat(folder).st_mtime_ns
    for pos in plan:
        # Results travel in batches, but never more than a millisecond's worth is held back while a call
        # runs: if this call has to be killed, the worker's guess of which call it was stays exact.
        if pending and (len(pending) >= _wire.BATCH or pending_chars >= output_chars
                        or _perf() - last_flush >= _FLUSH_EVERY_S):
            send(fd, encode(pending))
            pending, pending_chars, last_flush = [], 0, _perf()
        name, key, arguments, timeout, cpu, scoping = calls[pos]
        PROGRESS.pack_into(progress, 0, pos + 1, _monotonic())
        try:
            status, output, seconds, retire = run_call(cache, sources, key, name, arguments, timeout, cpu,
                                                       output_chars, memory_mb, scoping)
        except _Limit:  # the deadline passed just as the call was being wrapped up
            status, seconds, retire = "timeout", timeout, True
            output = _call.error_message(name, f"the tool timed out after {timeout:g} seconds")
        PROGRESS.pack_into(progress, 0, 0, 0.0)
        if _stat(folder).st_mtime_ns != clean_mtime:  # the call created or removed something: its own quota
            clear_folder(folder)                     # is free again for the next call
            clean_mtime = _stat(folder).st_mtime_ns
        _chdir(folder)
        if _thread_count() > threads:
            retire = True
        pending.append([status, output, seconds, retire])
        pending_chars += len(output)
        if retire:
            break
    if pending:
        send(fd, encode(pending))
