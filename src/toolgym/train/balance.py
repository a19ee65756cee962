"""The share of question-turn prompts in per-turn training data (``toolgym train prepare --question-share``).

The paper's recipe cuts every trajectory into the prompts of all its turns and keeps identical prompts once, so
the question -- the same prompt in every sample of an environment -- appears once per environment while the later
turns appear once per distinct sample: with 4 samples per environment, fewer than one prompt in five is the
question turn (160 of 845 in one collection), yet that is where the model decides which tools to call with which
arguments. ``question_share`` resamples the prompts so that question-turn prompts make a chosen fraction of them:
question prompts are repeated (or, for a share below the natural one, sampled down), later turns kept as they are.
Off by default (the paper's mix).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

from ..errors import ConfigError


class _HasTurn(Protocol):
    turn: int


P = TypeVar("P", bound=_HasTurn)


def question_share(prompts: Sequence[P], share: float, *, seed: int = 0) -> list[P]:
    """``prompts`` resampled so that those of turn 0 make ``share`` of the result (as nearly as whole prompts
    allow): each question prompt is repeated ``w`` times on average, the whole part of ``w`` exactly and the
    fraction by a seeded draw, so every question prompt stays at least once when ``w >= 1``. The order is kept."""
    if not 0.0 < share < 1.0:
        raise ConfigError(f"--question-share must be between 0 and 1 (exclusive), got {share}")
    questions = sum(1 for p in prompts if p.turn == 0)
    later = len(prompts) - questions
    if not questions or not later:
        return list(prompts)
    weight = share * later / ((1.0 - share) * questions)
    rng = random.Random(seed)
    out: list[P] = []
    for p in prompts:
        if p.turn != 0:
            out.append(p)
            continue
        copies = int(weight) + (rng.random() < weight - int(weight))
        out.extend([p] * copies)
    return out
