"""Training on the feedback: the paper's per-turn data and preference pairs (``data``, ``layouts``),
TRL on one machine (``trl_run``, whole episodes in ``trl_env``), verl on a cluster (``verl_run``), and
the collect -> train -> evaluate loop (``loop``). A per-turn prompt is a ``toolgym.schema.TurnState``.
Heavy libraries are imported only when a run starts."""

from .data import PreferencePair, initial_prompt, preference_pairs, prefixes, turn_prompts
from .layouts import read_pairs, read_turns, render_prompt, write_data

__all__ = [
    "PreferencePair",
    "initial_prompt",
    "preference_pairs",
    "prefixes",
    "read_pairs",
    "read_turns",
    "render_prompt",
    "turn_prompts",
    "write_data",
]
