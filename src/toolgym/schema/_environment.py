"""The environment record: one task, the unit everything else works on.

Data only. Building, executing and scoring live in other packages; this module imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._calls import Scoping, ToolCall
from ._tools import tool_name

Scenario = Literal["single_hop", "parallel_single_hop", "multi_hop", "parallel_multi_hop"]
SCENARIOS: tuple[str, ...] = get_args(Scenario)

#: The fields whose content defines an environment's identity (metadata does not).
IDENTITY_FIELDS = ("scenario", "question", "tools", "code", "expected", "answer", "solution")


class Metadata(BaseModel):
    """Where an environment came from and how hard it is. ``extra`` keeps anything else, verbatim.
    ``scoping``: how its tools are run (see :data:`~toolgym.schema.Scoping`); ``reference`` for data
    imported from the paper's layout, which the paper's code runs that way."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str | None = None
    complexity: dict[str, int] = Field(default_factory=dict)
    builder: str | None = None
    model: str | None = None
    seed: int | None = None
    split: str | None = None
    data_source: str | None = None
    scoping: Scoping = "module"
    extra: dict[str, Any] = Field(default_factory=dict)


def canonical_json(value: Any) -> str:
    """Deterministic JSON used for hashing: sorted keys, no whitespace, unicode kept."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_id(content: dict[str, Any]) -> str:
    """Stable id from the identity fields of a record given as plain JSON data."""
    payload = canonical_json({k: content.get(k) for k in IDENTITY_FIELDS})
    # surrogatepass: text holding a lone surrogate (valid JSON, not valid UTF-8) still gets an id
    return "env_" + hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _solution_json(solution: Any) -> Any:
    if not isinstance(solution, list):
        return solution
    out = []
    for turn in solution:
        if not isinstance(turn, list):
            out.append(turn)
            continue
        out.append([
            {"name": c.name, "arguments": c.arguments} if isinstance(c, ToolCall)
            else {"name": c.get("name"), "arguments": c.get("arguments", {})} if isinstance(c, dict) else c
            for c in turn
        ])
    return out


class Environment(BaseModel):
    """One executable, verifiable tool-use task.

    ``expected`` maps a tool name to the answers that correct calls of that tool must return (the
    reference code's ``unsolved_set``); ``solution`` is the gold call path, a list of turns, each a list
    of calls that can be made in parallel. It is empty when unknown (e.g. imported data).
    ``id`` is derived from the content when not given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    scenario: Scenario | None = None
    question: str
    tools: list[dict[str, Any]]
    code: dict[str, str]
    expected: dict[str, list[str]]
    answer: str | None = None
    solution: list[list[ToolCall]] = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=Metadata)

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id"):
            data = dict(data)
            content = {k: data.get(k) for k in IDENTITY_FIELDS}
            content["solution"] = _solution_json(content.get("solution") or [])
            data["id"] = content_id(content)
        return data

    # ---- derived views (computed once; the record is frozen) -------------------------------------
    @cached_property
    def tool_names(self) -> list[str]:
        return [n for n in (tool_name(t) for t in self.tools) if n is not None]

    @cached_property
    def needed(self) -> int:
        """How many expected items a perfect trajectory solves."""
        return sum(len(v) for v in self.expected.values())

    @property
    def data_source(self) -> str:
        """The paper's ``data_source`` of this task: the metadata's, else ``toolgym/<scenario>``."""
        return self.metadata.data_source or (f"toolgym/{self.scenario}" if self.scenario else "toolgym")

    @property
    def split(self) -> str:
        """The split this task belongs to: the metadata's, else ``train``."""
        return self.metadata.split or "train"

    @property
    def solution_calls(self) -> list[ToolCall]:
        return [c for turn in self.solution for c in turn]

    def computed_id(self) -> str:
        """The id this record's content would get; differs from ``id`` if the content was edited."""
        data = self.model_dump(mode="json", include=set(IDENTITY_FIELDS))
        return content_id(data)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
