"""The world's records: entity types with typed attributes, entities, and the world that holds them.

Plain data. A world is built once per seed (see :mod:`._synth`, :mod:`._real`) and then only read by
the build stages, so every environment built from it agrees with every other on every fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Attribute kinds. ``ref:<type>`` points at another entity (a relation the chains follow);
#: ``qty:<unit>`` is a measured quantity (unit conversion applies); ``money`` an amount in the
#: currency named by the entity's ``currency`` attribute (currency conversion applies).
SCALAR_KINDS = ("str", "int", "float", "year", "date")


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute of an entity type: how its values look and how a question names it.

    ``phrases`` are noun-phrase templates with ``{x}`` for the entity's own phrase (``{d}`` for the
    date of a dated record); ``lo``/``hi`` bound generated numbers, ``digits`` the decimals of floats.
    """

    name: str
    kind: str
    phrases: tuple[str, ...]
    lo: float = 0
    hi: float = 0
    digits: int = 0
    choices: tuple[str, ...] = ()
    # derived from ``kind`` once (the stages read them for every row of every tool)
    ref: str | None = field(init=False, repr=False, compare=False)
    unit: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", self.kind[4:] if self.kind.startswith("ref:") else None)
        object.__setattr__(self, "unit", self.kind[4:] if self.kind.startswith("qty:") else None)

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float", "year", "money") or self.kind.startswith("qty:")


@dataclass(frozen=True, slots=True)
class EntityType:
    """A kind of entity. ``dated`` types are records keyed by (owner entity, date), e.g. the weather
    in a city on a day; their ``owner`` is the type of the first key."""

    name: str
    domain: str
    nouns: tuple[str, ...]
    key: str  # the parameter name tools use for the entity ("city", "title", ...)
    attrs: tuple[Attr, ...]
    owner: str | None = None  # for dated records
    source: str = "registry"  # what a tool's description says the data comes from
    by_name: dict[str, Attr] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {a.name: a for a in self.attrs})

    @property
    def dated(self) -> bool:
        return self.owner is not None

    def attr(self, name: str) -> Attr:
        a = self.by_name.get(name)
        if a is None:
            raise KeyError(f"{self.name} has no attribute {name!r}")
        return a


@dataclass(slots=True)
class Entity:
    """One entity. ``name`` is unique within its type; for a dated record it is ``owner|date``."""

    type: str
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    date: str | None = None


@dataclass(slots=True)
class World:
    """All entity types and entities, plus world-level knowledge used by computation tools."""

    seed: int
    kind: str  # "synthetic" or "real"
    types: dict[str, EntityType]
    entities: dict[str, list[Entity]]  # type -> entities in a stable order
    rates: dict[str, float]  # currency code -> units per 1 USD
    index: dict[str, dict[str, Entity]] = field(default_factory=dict)
    dated: dict[str, dict[str, list[Entity]]] = field(default_factory=dict)  # type -> owner -> records
    derived: dict[str, Any] = field(default_factory=dict)  # indexes computed from the above, on first use

    def __post_init__(self) -> None:
        for t, ents in self.entities.items():
            self.index[t] = {e.name: e for e in ents}
            if self.types[t].dated:
                by_owner: dict[str, list[Entity]] = {}
                for e in ents:
                    by_owner.setdefault(e.owner, []).append(e)
                self.dated[t] = by_owner

    @property
    def domains(self) -> list[str]:
        return sorted({t.domain for t in self.types.values()})

    def get(self, type_name: str, name: str) -> Entity:
        return self.index[type_name][name]

    def types_in(self, domains: set[str] | None) -> list[EntityType]:
        return [t for t in self.types.values() if (domains is None or t.domain in domains) and self.entities.get(t.name)]
