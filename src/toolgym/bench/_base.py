"""The adapter protocol every public benchmark implements, and the records it works with.

A benchmark is DATA (its items, read from the benchmark's own published files) plus BEHAVIOUR (how one
item is put to a model and scored with the benchmark's own metric). :class:`Benchmark` is that seam:

* ``items()`` reads the benchmark's files into :class:`BenchItem` records (the benchmark's row, kept
  verbatim in ``data``);
* ``run_item(item, backend)`` talks to any toolgym model backend and returns an :class:`ItemResult`
  with the benchmark's per-item metrics and the conversation;
* ``report(results)`` aggregates them the way the benchmark does (a :class:`~toolgym.bench.BenchReport`);
* ``texts(item)`` gives the item's question and tool documents, for the contamination check.

A bad model output is data (a score of 0 with a reason), never an exception. Only a backend that failed
for good (after its own retries) marks the item ``failed``; a resumed run tries failed items again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ..errors import DataFileError, FailureKind

if TYPE_CHECKING:
    from ..models import Backend
    from ._report import BenchReport


class BenchDataError(DataFileError):
    """A benchmark's files are missing or not in the expected format (a broken setup: the message says
    what was expected and which option points at the data). Raised while one item runs, it fails that item
    (``FailureKind.DATA``)."""


class BackendFailed(RuntimeError):
    """The model backend could not answer (it already retried); the item is recorded as failed."""


@dataclass(frozen=True, slots=True)
class BenchItem:
    """One benchmark item: a stable ``id``, the ``category`` it is reported under, and the benchmark's
    own record in ``data`` (whatever fields the benchmark's file has)."""

    id: str
    category: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItemText:
    """What of an item a training set could leak: the question(s) and the tool documents (as text)."""

    questions: list[str]
    tool_docs: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one item. ``metrics`` are the benchmark's per-item scores (0/1 for all the
    benchmarks here); ``detail`` is what the checker said (error type, decoded calls, ...). A ``failed``
    item (it could not be run) says why in ``error_kind`` (counted in the report) and ``error``."""

    id: str
    category: str
    metrics: dict[str, float]
    messages: list[dict[str, Any]] = field(default_factory=list)
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error_kind: FailureKind | None = None

    @property
    def failure(self) -> FailureKind | None:
        """The kind of failure of a failed item (``UNKNOWN`` for one written before kinds were recorded)."""
        if self.status != "failed":
            return None
        return self.error_kind or FailureKind.UNKNOWN

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["error_kind"] = None if self.error_kind is None else str(self.error_kind)
        return row

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> ItemResult:
        keys = cls.__dataclass_fields__
        data = {k: v for k, v in row.items() if k in keys}
        kind = data.get("error_kind")
        data["error_kind"] = FailureKind(kind) if kind in FailureKind._value2member_map_ else None
        return cls(**data)


@runtime_checkable
class Benchmark(Protocol):
    """A public benchmark behind one small protocol (see the module docstring)."""

    name: str
    metrics: tuple[str, ...]

    def items(self) -> list[BenchItem]: ...

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult: ...

    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport: ...

    def texts(self, item: BenchItem) -> ItemText: ...
