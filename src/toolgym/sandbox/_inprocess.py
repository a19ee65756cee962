"""The in-process executor: fast and UNSAFE. Tool code runs inside the calling process with no
isolation at all; use it only for code you trust (e.g. environments you built yourself, in a
benchmark). The timeout works only when called from the main thread (it uses SIGALRM)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence

from . import _call
from ._protocol import ExecRequest, ExecResult, SandboxLimits


class _Timeout(BaseException):
    pass


def _raise_timeout(_signum, _frame):
    raise _Timeout()


class UnsafeInProcessExecutor:
    """Executes tool code in this process. Same outputs as the sandbox for well-behaved tools."""

    name = "unsafe-inprocess"

    def __init__(self, limits: SandboxLimits | None = None):
        self.limits = limits or SandboxLimits()
        self._compiled: dict[str, object] = {}

    def _code(self, source: str):
        code = self._compiled.get(source)
        if code is None:
            if len(self._compiled) > 8192:
                self._compiled.clear()
            code = self._compiled[source] = _call.compile_source(source)
        return code

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return [self._run_one(r) for r in requests]

    def _run_one(self, req: ExecRequest) -> ExecResult:
        source = req.code.get(req.name)
        if not isinstance(source, str):
            return ExecResult(_call.finish(_call.unknown_tool_message(req.name), self.limits.output_chars),
                              "tool_error")
        timeout = req.timeout_s or self.limits.timeout_s
        use_alarm = threading.current_thread() is threading.main_thread()
        t0 = time.perf_counter()
        previous = signal.signal(signal.SIGALRM, _raise_timeout) if use_alarm else None
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            output, status = _call.invoke(self._code(source), req.name, req.arguments, req.scoping), "ok"
        except _call.ScopingMismatch as exc:
            output, status = exc.module_output, "scoping"
        except _Timeout:
            output, status = _call.error_message(req.name, f"the tool timed out after {timeout:g} seconds"), "timeout"
        except MemoryError:
            output, status = _call.error_message(req.name, "MemoryError: out of memory"), "memory"
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            output, status = _call.error_message(req.name, _call.describe_exception(exc)), "tool_error"
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        return ExecResult(_call.finish(output, self.limits.output_chars), status, time.perf_counter() - t0)

    def close(self) -> None:
        self._compiled.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
