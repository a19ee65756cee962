"""The executor protocol: run tool calls against an environment's code, get typed results back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ..schema import CallStatus, ToolCall
from ._call import SCOPINGS

#: ``module`` and ``reference`` (see :data:`~toolgym.schema.Scoping`), or ``compare``: run both and return
#: the module result, with status ``scoping`` if the reference one differs (used by verification; the
#: call's timeout covers both runs).
RequestScoping = Literal["module", "reference", "compare"]  # the names of _call.SCOPINGS


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Per-call limits. ``cpu_s`` defaults to ``timeout_s``; ``grace_s`` is how long past the timeout
    the pool waits before it kills a worker whose tool ignores the timeout."""

    timeout_s: float = 10.0
    cpu_s: float | None = None
    memory_mb: int = 1024
    file_mb: int = 16
    open_files: int = 256
    output_chars: int = 1_000_000
    grace_s: float = 1.0

    @property
    def cpu(self) -> float:
        return self.cpu_s if self.cpu_s is not None else self.timeout_s


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """Call ``name(**arguments)`` using the tool code of one environment (``code``: tool name -> source),
    under ``scoping`` (``module``: toolgym's; ``reference``: the paper's ``call_function``)."""

    name: str
    arguments: Any
    code: Mapping[str, str]
    timeout_s: float | None = None
    scoping: RequestScoping = "module"

    def __post_init__(self) -> None:
        if self.scoping not in SCOPINGS:
            raise ValueError(f"unknown scoping {self.scoping!r}; choose one of {', '.join(SCOPINGS)}")

    @classmethod
    def of(cls, call: ToolCall, code: Mapping[str, str], timeout_s: float | None = None,
           scoping: RequestScoping = "module") -> ExecRequest:
        return cls(call.name, call.arguments, code, timeout_s, scoping)


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What the model sees (``output``) and how the call ended (``status``, see ``CallStatus``)."""

    output: str
    status: CallStatus = "ok"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@runtime_checkable
class Executor(Protocol):
    """Runs tool calls. Never raises for anything a tool does; results come back in request order."""

    name: str

    def run(self, requests: Sequence[ExecRequest]) -> list[ExecResult]: ...

    def close(self) -> None: ...
