"""Sandboxed execution of environment tool code.

Two executors behind one protocol (:class:`Executor`):

* :class:`SandboxPool` (default): warm, confined worker processes; see ``docs/sandbox.md`` for the
  layers of isolation and what each stops.
* :class:`UnsafeInProcessExecutor`: runs tool code in the calling process; fast, not isolated.

Tool behaviour (raising, looping, crashing, allocating) is never an exception to the caller: every call
returns an :class:`ExecResult` whose ``output`` is the tool message the model sees.
"""

from ._inprocess import UnsafeInProcessExecutor
from ._pool import SandboxPool, default_pool
from ._protocol import ExecRequest, ExecResult, Executor, SandboxLimits

EXECUTORS = {
    "sandbox": "toolgym.sandbox:SandboxPool",
    "unsafe-inprocess": "toolgym.sandbox:UnsafeInProcessExecutor",
}


def make_executor(kind: str = "sandbox", **kwargs) -> Executor:
    """An executor by name: ``sandbox`` (isolated, default) or ``unsafe-inprocess``."""
    if kind == "sandbox":
        return SandboxPool(**kwargs)
    if kind == "unsafe-inprocess":
        return UnsafeInProcessExecutor(**kwargs)
    raise ValueError(f"unknown executor {kind!r}; choose one of {sorted(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "ExecRequest",
    "ExecResult",
    "Executor",
    "SandboxLimits",
    "SandboxPool",
    "UnsafeInProcessExecutor",
    "default_pool",
    "make_executor",
]
