"""The records passed from stage to stage: sub-questions, the plan, tool specs and calls.

Internal to the builder (the public output is :class:`toolgym.schema.Environment`). Each stage takes
these and returns new ones; none keeps state between environments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SubQ:
    """One sub-question, answered by one tool call.

    ``lookup``: the value of ``attr`` of ``entity`` (of ``etype``; dated records also have ``date``);
    the entity is named in the question, or is the answer of sub-question ``source``.
    ``compute``: ``op`` applied to the answers of ``inputs`` (with ``extra`` arguments such as units).
    """

    id: int
    kind: str
    answer: str
    value: Any
    depth: int = 0
    etype: str | None = None
    entity: str | None = None
    date: str | None = None
    attr: str | None = None
    source: int | None = None
    unit: str | None = None  # the unit a lookup must answer in (None: the attribute's own unit)
    op: str | None = None
    inputs: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    phrase: str = ""


@dataclass(slots=True)
class Plan:
    """Stage 1's output: the sub-questions with their dependencies, the question and the answer."""

    scenario: str
    domain: str
    subqs: list[SubQ]
    question: str
    answer: str
    hops: int
    width: int


@dataclass(slots=True)
class Param:
    name: str
    schema: dict[str, Any]
    required: bool = True
    default: Any = None


@dataclass(slots=True)
class ToolSpec:
    """A tool as the later stages see it: its document and what its code must do.

    ``role``: ``lookup`` (answers attribute questions from rows of the world), ``compute``,
    ``related`` (a real tool of the world the task does not need) or ``near_miss`` (a look-alike of a
    needed tool that answers from a different source). ``features`` lists the scaling applied.
    """

    name: str
    description: str
    role: str
    etypes: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # attributes served (lookup/related/near_miss)
    field_param: str | None = None  # None: a single-attribute tool
    op: str | None = None  # compute variant (see toolgym.builder._compute)
    rows: list[str] = field(default_factory=list)  # entity names whose facts the code holds
    features: dict[str, Any] = field(default_factory=dict)
    params: list[Param] = field(default_factory=list)


@dataclass(slots=True)
class Call:
    subq: int
    tool: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class Draft:
    """Stages 2-4 refine this: the plan, the toolset and one call per sub-question."""

    plan: Plan
    tools: dict[str, ToolSpec]
    calls: list[Call]
    levels: dict[str, int]
