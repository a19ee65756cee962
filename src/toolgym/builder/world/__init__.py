"""The knowledge world the procedural builder draws from: typed entities, attributes, relations.

``make_world("synthetic", seed)`` invents a consistent world (plausible names, no real facts) as a
pure function of the seed; ``make_world("real")`` loads the small real-facts world shipped with the
package. Registries are explicit: :data:`WORLDS`.
"""

from __future__ import annotations

from ._domains import ALT_UNIT, DATE_PHRASES, MONTHS, TYPES, UNIT_WORDS, UNITS
from ._model import Attr, Entity, EntityType, World
from ._real import real_world
from ._synth import synthetic_world

WORLDS = {"synthetic": synthetic_world, "real": real_world}
DOMAINS: tuple[str, ...] = tuple(sorted({t.domain for t in TYPES.values()}))


def make_world(kind: str = "synthetic", seed: int = 0) -> World:
    if kind not in WORLDS:
        raise ValueError(f"unknown world {kind!r}; choose one of {', '.join(WORLDS)} (--world)")
    return WORLDS[kind](seed)


__all__ = [
    "ALT_UNIT",
    "DATE_PHRASES",
    "DOMAINS",
    "MONTHS",
    "TYPES",
    "UNITS",
    "UNIT_WORDS",
    "WORLDS",
    "Attr",
    "Entity",
    "EntityType",
    "World",
    "make_world",
]
