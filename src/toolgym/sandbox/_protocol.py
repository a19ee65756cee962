"""The executor protocol: run tool calls against an environment's code, get typed results back."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ..schema import CallStatus, ToolCall
from ._call import SCOPINGS

#: ``module`` and ``reference`` (see :data:`~toolgym.schema.Scoping`), or ``compare``: run both and return
#: the module result, with status ``scoping`` if the reference one differs (used by verification; the
#: call's timeout covers both runs).
RequestScoping = Literal["module", "reference", "compare"]  # the names of _call.SCOPINGS


def _positive(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0 \
            or math.isinf(value):
        raise ValueError(f"{name} must be a positive, finite number; got {value!r}")


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Per-call limits. ``cpu_s`` defaults to ``timeout_s``; ``grace_s`` is how long past the timeout
    a tool that ignores it may run before its process is killed; ``disk_mb`` caps everything one call
    writes (all files together, where the machine allows a private tmpfs; each file otherwise).

    Every value must be positive: a zero or negative timeout would fail every call, so it is refused
    here with a ``ValueError`` that names the field."""

    timeout_s: float = 10.0
    cpu_s: float | None = None
    memory_mb: int = 1024
    disk_mb: int = 16
    open_files: int = 256
    output_chars: int = 1_000_000
    grace_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("timeout_s", "cpu_s", "memory_mb", "disk_mb", "open_files", "output_chars", "grace_s"):
            _positive(name, getattr(self, name))

    @property
    def cpu(self) -> float:
        return self.cpu_s if self.cpu_s is not None else self.timeout_s


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """Call ``name(**arguments)`` using the tool code of one environment (``code``: tool name -> source),
    under ``scoping`` (``module``: toolgym's; ``reference``: the paper's ``call_function``).

    Build it from the shared :class:`~toolgym.schema.ToolCall` with :meth:`of`. Calls whose ``code`` is the
    same mapping belong to the same environment: the sandbox runs them in one process of their own."""

    name: str
    arguments: Any
    code: Mapping[str, str]
    timeout_s: float | None = None
    scoping: RequestScoping = "module"

    def __post_init__(self) -> None:
        _positive("timeout_s", self.timeout_s)
        if self.scoping not in SCOPINGS:
            raise ValueError(f"unknown scoping {self.scoping!r}; choose one of {', '.join(SCOPINGS)}")

    @classmethod
    def of(cls, call: ToolCall, code: Mapping[str, str], timeout_s: float | None = None,
           scoping: RequestScoping = "module") -> ExecRequest:
        """The request for one parsed or gold tool call against an environment's code (``env.code``)."""
        return cls(call.name, call.arguments, code, timeout_s, scoping)


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What the model sees (``output``: always valid Unicode text) and how the call ended (``status``,
    see ``CallStatus``). Decide whether a call failed from ``status`` (or :attr:`ok`), never from the text:
    a tool may return any text, including the words of an error message."""

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
