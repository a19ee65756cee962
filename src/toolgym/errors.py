"""Typed errors, one class per boundary.

* :class:`RecordError` is *data*: one problem with one record (line, id, field, kind, message).
  Readers and validators collect them; commands write them to a side file.
* :class:`InvalidRecord` wraps the record errors of a single record when a caller wants an exception.
* :class:`DataFileError` is a data file that cannot be read at all (missing, a folder, not the format its
  name says); its message names the file and the fix.
* :class:`SandboxUnavailable` is an infrastructure failure of the sandbox (no worker can be started).
* :class:`ConfigError` is a broken setup; its message says how to fix it.

A bad tool call, a crashing tool or a malformed model output is never an exception: the sandbox and
the parser return them as typed results.

Failures that are data carry a typed kind beside their human message, written to files as stable strings
and counted by kind in summaries: :class:`FailureKind` for an episode or a benchmark item that could not be
run to its end, :class:`RejectionKind` for an environment a builder did not write.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What is wrong with a record. Stable strings: they are written to reject files."""

    JSON = "json"  # a line or a JSON-string field does not parse
    TRUNCATED = "truncated"  # the last line of a file has no newline: an interrupted write
    SCHEMA = "schema"  # a field is missing or has the wrong type
    TOOL_SCHEMA = "tool_schema"  # a tool is not a valid OpenAI function schema
    DUPLICATE_TOOL = "duplicate_tool"
    EXPECTED_UNKNOWN_TOOL = "expected_unknown_tool"  # expected names a tool that does not exist
    CODE_MISSING = "code_missing"  # a tool has no implementation
    CODE_COMPILE = "code_compile"  # a tool's code does not compile
    CODE_MISSING_FUNCTION = "code_missing_function"  # the code does not define the named function
    SOLUTION = "solution"  # the gold call path names an unknown tool or has non-object arguments
    FORMAT = "format"  # a row of an external layout cannot be mapped to a record
    DUPLICATE_ID = "duplicate_id"  # another record of the file already has this id


class FailureKind(StrEnum):
    """Why an episode (``Trajectory.error_kind``) or a benchmark item (``ItemResult.error_kind``) could not be
    run to its end. Always infrastructure or a bug, never the model's fault: a bad model output is scored,
    not failed. Stable strings: they are written to trajectory and result files."""

    BACKEND = "backend"  # the model backend gave no reply after its retries (connection, timeout, HTTP 5xx)
    SANDBOX = "sandbox"  # the executor could not run the tools at all
    DATA = "data"  # the benchmark's data of the item is missing or unreadable
    INTERNAL = "internal"  # an unexpected exception in toolgym's or a benchmark's code (a bug)
    UNKNOWN = "unknown"  # a failure recorded before kinds were written

    @property
    def meaning(self) -> str:
        return _FAILURE_MEANING[self]


_FAILURE_MEANING = {
    FailureKind.BACKEND: "the model never answered",
    FailureKind.SANDBOX: "the sandbox could not run the tools",
    FailureKind.DATA: "the item's data is missing or unreadable",
    FailureKind.INTERNAL: "an error in the code around the model",
    FailureKind.UNKNOWN: "recorded without a kind",
}


class RejectionKind(StrEnum):
    """Why a builder did not write an environment (``Rejection.kind``; the stage and a finer reason are
    recorded beside it). Stable strings: they are written to ``<out>.rejects.jsonl`` and the manifest."""

    NO_PLAN = "no_plan"  # decomposition found no question of the asked shape in the world
    INVALID_REPLY = "invalid_reply"  # the LLM's replies never passed the stage's checks (JSON, schema, rules)
    REQUEST_FAILED = "request_failed"  # an LLM request failed after its retries
    VERIFICATION = "verification"  # the environment failed sandbox verification (gold solution, probes)
    INTERNAL = "internal"  # an exception in a stage (a bug), recorded instead of stopping the build


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem with one record. ``line`` is 1-based; ``field`` is a dotted path."""

    kind: ErrorKind
    message: str
    field: str | None = None
    line: int | None = None
    record_id: str | None = None
    source: str | None = None

    def with_context(self, *, line: int | None = None, record_id: str | None = None,
                     source: str | None = None) -> RecordError:
        return RecordError(self.kind, self.message, self.field,
                           line if line is not None else self.line,
                           record_id if record_id is not None else self.record_id,
                           source if source is not None else self.source)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = str(self.kind)
        return d

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.record_id:
            where.append(f"id {self.record_id}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message} [{self.kind}]" if prefix else f"{self.message} [{self.kind}]"


class ToolgymError(Exception):
    """Base class of every exception toolgym raises on purpose."""


class InvalidRecord(ToolgymError, ValueError):
    """A record failed validation; ``errors`` lists every problem found, not just the first."""

    def __init__(self, errors: list[RecordError]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"invalid record ({len(self.errors)} problem(s)):\n{lines}")


class DataFileError(ToolgymError, ValueError):
    """A data file cannot be read at all (not one bad record: the whole file). The message names the file
    and says what to give instead."""


class ConfigError(ToolgymError):
    """The setup is wrong (missing extra, bad option). The message says how to fix it."""


class SandboxUnavailable(ToolgymError):
    """The isolated executor cannot run at all (workers fail to start). Infrastructure, not a tool error."""
