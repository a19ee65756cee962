"""Sandboxed execution of environment tool code.

Two executors behind one protocol (:class:`Executor`):

* :class:`SandboxPool` (default): warm, confined worker processes that never run tool code themselves;
  each environment's calls run in a fresh call process forked by a worker's clean template, confined, and
  killed after them, so no environment reaches another, the protocol or the caller. See ``docs/sandbox.md`` for the
  threat model, the layers of isolation and what each stops (``toolgym sandbox-info`` checks them).
* :class:`UnsafeInProcessExecutor`: runs tool code in the calling process; fast, not isolated.

Tool behaviour (raising, looping, crashing, allocating) is never an exception to the caller: every call
returns an :class:`ExecResult` whose ``output`` is the tool message the model sees (valid Unicode, capped).
Build requests from the shared :class:`~toolgym.schema.ToolCall` with :meth:`ExecRequest.of`; the
conformance suite (``tests/sandbox/test_executor_conformance.py``) holds every executor in :data:`EXECUTORS` to this.

Both run a call under the scoping its request names (``ExecRequest.scoping``): ``module`` (default: the
source is a module of its own), ``reference`` (exactly the paper's ``call_function``: ``exec`` inside a
function with the paper's ``utils`` module as globals, then ``eval(name)``), or ``compare`` (both; status
``scoping`` when they differ).
"""

from ._call import REFERENCE_LOCALS, SCOPINGS
from ._inprocess import UnsafeInProcessExecutor
from ._pool import SandboxPool, default_pool
from ._protocol import ExecRequest, ExecResult, Executor, RequestScoping, SandboxLimits
from ._selftest import LAYER_GUARANTEES, THREAT_MODEL, Check, self_test

EXECUTORS = {
    "sandbox": "toolgym.sandbox:SandboxPool",
    "unsafe-inprocess": "toolgym.sandbox:UnsafeInProcessExecutor",
}


def make_executor(kind: str = "sandbox", **kwargs) -> Executor:
    """An executor by its name in :data:`EXECUTORS`: ``sandbox`` (isolated, default) or ``unsafe-inprocess``;
    ``kwargs`` go to its constructor. An unknown name is a ``ConfigError`` naming ``--executor``."""
    from ..registry import lookup

    return lookup(EXECUTORS, kind, what="executor", flag="--executor")(**kwargs)


__all__ = [
    "EXECUTORS",
    "LAYER_GUARANTEES",
    "REFERENCE_LOCALS",
    "SCOPINGS",
    "THREAT_MODEL",
    "Check",
    "ExecRequest",
    "ExecResult",
    "Executor",
    "RequestScoping",
    "SandboxLimits",
    "SandboxPool",
    "UnsafeInProcessExecutor",
    "default_pool",
    "make_executor",
    "self_test",
]
