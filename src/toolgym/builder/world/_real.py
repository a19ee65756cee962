"""A small world of real facts shipped with the package (``toolgym/data/real_world.json``).

Fewer types and attributes than the synthetic world (only facts we are sure of; an entity may lack an
attribute, and the builder then does not ask about it). Useful to build environments a model *could*
answer from memory, e.g. to measure how much it relies on the tools.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from ._domains import TYPES
from ._model import Entity, World


@lru_cache(maxsize=1)
def real_world(seed: int = 0) -> World:
    """The shipped real-facts world (the seed only labels it: the facts do not vary)."""
    text = resources.files("toolgym").joinpath("data/real_world.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    entities = {t: [Entity(t, e["name"], dict(e["values"])) for e in rows] for t, rows in doc["entities"].items()}
    types = {t: TYPES[t] for t in entities}
    return World(seed=seed, kind="real", types=types, entities=entities, rates=dict(doc["rates"]))
