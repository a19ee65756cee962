"""A sandbox worker: a separate Python process that runs tool calls for the pool.

Started by :mod:`toolgym.sandbox._pool` as a script (not as part of the package, so it imports only
the standard library and its two siblings). Protocol over its original stdin/stdout, which it moves
to private descriptors before any tool code runs: frames of a 4-byte big-endian length and JSON.

parent -> worker  ``{"op": "run", "code": {key: source, ...}, "calls": [[index, key, name, args, timeout, cpu,
                  scoping], ...]}``
                  ``{"op": "exit"}``
worker -> parent  ``{"op": "ready", "layers": {...}}`` once, then one frame per call:
                  ``[index, status, output, seconds, retire]`` in the order the calls were sent.

``retire`` asks the parent to replace this worker after the call (a tool left threads running or
ran out of memory), so one tool's leftovers never reach the next.

Results are sent in small batches (every millisecond or 32 results, at the end of a run, at once on
``retire``), which saves the parent a wake-up per call. So that the parent still knows exactly which
call was running when it has to kill the worker, the worker writes the index of the call it starts into
a shared 8-byte progress file (``config["progress"]``, outside the tool's folder).
"""

from __future__ import annotations

import _thread
import json
import mmap
import os
import shutil
import signal
import struct
import sys
import time

import _call
import _confine

_setitimer, _ITIMER_REAL, _ITIMER_PROF = signal.setitimer, signal.ITIMER_REAL, signal.ITIMER_PROF
_perf = time.perf_counter
_loads, _dumps = json.loads, json.dumps
_read, _write = os.read, os.write
_listdir, _chdir, _stat = os.listdir, os.chdir, os.stat
_HEADER = struct.Struct(">I")
_PROGRESS = struct.Struct("<q")
_CACHE_CAPACITY = 8192
_FLUSH_EVERY_S, _FLUSH_EVERY_N = 0.001, 32


class _Limit(BaseException):
    """Raised inside tool code when its time is up; a BaseException so ``except Exception`` misses it."""

    status = "timeout"


class _CpuLimit(_Limit):
    pass


class _State:
    armed = False


def _on_timer(signum, _frame):
    # Raise once per call: a second raise could land inside our own handling of the first. A tool that
    # swallows the exception and keeps going is killed by the parent's watchdog instead.
    if _State.armed:
        _State.armed = False
        raise _CpuLimit() if signum == signal.SIGPROF else _Limit()


def _read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = _read(fd, n - got)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload)) + payload


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = _write(fd, view)
        view = view[n:]


def _clear_folder(folder: str) -> None:
    for name in _listdir(folder):
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def _thread_count() -> int:
    counter = getattr(_thread, "_count", None)
    return counter() if counter else 0


def run_call(cache: dict, key: str, name: str, arguments, timeout: float, cpu: float, output_chars: int,
             memory_mb: int, scoping: str = "module"):
    """One call: (status, output, seconds, retire). The tool's source is compiled on its first call, under
    the call's timers, as the reference compiles inside its timeout."""
    t0 = _perf()
    retire = False
    _State.armed = True
    _setitimer(_ITIMER_REAL, timeout)
    _setitimer(_ITIMER_PROF, cpu)
    try:
        try:
            code = cache[key]
            if type(code) is str:
                code = cache[key] = _call.compile_source(code)
            output = _call.invoke(code, name, arguments, scoping)
            status = "ok"
        except _Limit:
            raise
        except _call.ScopingMismatch as exc:
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
    return status, _call.truncate(output, output_chars), _perf() - t0, retire


def main() -> None:
    config = _loads(sys.argv[1])
    folder = config["folder"]
    debug = bool(config.get("debug"))

    # Move the protocol off fds 0/1 so tool code cannot read our commands or forge our replies by
    # printing; 0/1/2 become /dev/null.
    cmd_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    if not debug:
        os.dup2(devnull, 2)
    os.close(devnull)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    signal.signal(signal.SIGALRM, _on_timer)
    signal.signal(signal.SIGPROF, _on_timer)
    _chdir(folder)
    progress_fd = os.open(config["progress"], os.O_RDWR)
    progress = mmap.mmap(progress_fd, _PROGRESS.size)
    os.close(progress_fd)

    layers = {}
    _confine.die_with_parent()
    layers["rlimits"] = _confine.apply_rlimits(config["memory_mb"], config["file_mb"], config["open_files"])
    if config.get("confine", True):
        layers["landlock"] = _confine.landlock_restrict(_confine.default_read_paths(), [folder])
        layers["capabilities"] = _confine.drop_capabilities()
        layers["seccomp"] = _confine.seccomp_restrict()
        if layers["seccomp"] != "on":
            layers["nproc"] = _confine.limit_processes()
        layers["audit"] = _confine.install_audit_hook(folder)
        _confine.patch_python()
    _send(out_fd, _frame(_dumps({"op": "ready", "layers": layers, "pid": os.getpid()}).encode()))

    cache: dict = {}
    clean_mtime = _stat(folder).st_mtime_ns
    output_chars, memory_mb = config["output_chars"], config["memory_mb"]
    baseline_threads = _thread_count()
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exact(cmd_fd, 4))
            msg = _loads(_read_exact(cmd_fd, size))
        except EOFError:
            return
        if msg.get("op") != "run":
            return
        for key, source in msg.get("code", {}).items():
            if len(cache) >= _CACHE_CAPACITY:
                cache.clear()
            cache[key] = source
        pending: list[bytes] = []
        last_flush = _perf()
        for index, key, name, arguments, timeout, cpu, scoping in msg["calls"]:
            if key not in cache:
                pending.append(_frame(_dumps([index, "need_code", "", 0.0, False]).encode()))
                continue
            _PROGRESS.pack_into(progress, 0, index + 1)
            try:
                status, output, seconds, retire = run_call(cache, key, name, arguments, timeout, cpu, output_chars,
                                                           memory_mb, scoping)
            except _Limit:  # the deadline passed just as the call was being wrapped up
                status, seconds, retire = "timeout", timeout, True
                output = _call.error_message(name, f"the tool timed out after {timeout:g} seconds")
            _PROGRESS.pack_into(progress, 0, 0)
            if _stat(folder).st_mtime_ns != clean_mtime:  # something was created or removed in the folder
                _clear_folder(folder)
                clean_mtime = _stat(folder).st_mtime_ns
            _chdir(folder)
            if _thread_count() > baseline_threads:
                retire = True  # the tool left threads behind
            pending.append(_frame(_dumps([index, status, output, seconds, retire]).encode()))
            now = _perf()
            if retire or len(pending) >= _FLUSH_EVERY_N or now - last_flush >= _FLUSH_EVERY_S:
                _send(out_fd, b"".join(pending))
                pending, last_flush = [], now
        if pending:
            _send(out_fd, b"".join(pending))

if __name__ == "__main__":
    main()
