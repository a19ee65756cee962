"""The build configuration: every knob of the procedural builder in one frozen record.

The same config and seed give the same environments, byte for byte, however the work is spread
(``--workers``, Ray): every environment is a function of (seed, index) alone.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError
from ..schema import SCENARIOS
from .scale import STRATEGIES


def _default_levels() -> dict[str, tuple[int, int]]:
    return {s: (0, 3) for s in STRATEGIES}


@dataclass(frozen=True)
class BuildConfig:
    """What to build. Ranges are inclusive ``(low, high)``; ``levels`` per scaling strategy."""

    seed: int = 0
    world: str = "synthetic"
    scenarios: dict[str, float] = field(default_factory=lambda: {s: 1.0 for s in SCENARIOS})
    hops: tuple[int, int] = (2, 5)  # chain length of multi-hop questions (parallel multi-hop: at most 4)
    width: tuple[int, int] = (2, 4)  # branches of parallel questions
    levels: dict[str, tuple[int, int]] = field(default_factory=_default_levels)
    domains: tuple[str, ...] | None = None  # None: every domain of the world
    distractors: int = 3  # extra tools at toolset levels >= 1
    test_per_scenario: int = 50  # the first N verified environments of each scenario form the test split

    def __post_init__(self) -> None:
        unknown = set(self.scenarios) - set(SCENARIOS)
        if unknown or not any(w > 0 for w in self.scenarios.values()):
            raise ConfigError(f"--scenarios must weight some of {', '.join(SCENARIOS)}; got {dict(self.scenarios)}")
        lo, hi = self.hops
        if not 2 <= lo <= hi <= 5:
            raise ConfigError(f"--hops must be a range within 2-5 (e.g. 2-5); got {lo}-{hi}")
        lo, hi = self.width
        if not 2 <= lo <= hi <= 4:
            raise ConfigError(f"--width must be a range within 2-4 (e.g. 2-4); got {lo}-{hi}")
        for s, (lo, hi) in self.levels.items():
            if s not in STRATEGIES or not 0 <= lo <= hi <= 3:
                raise ConfigError(f"--levels: {s}={lo}-{hi} is not valid; strategies are {', '.join(STRATEGIES)} "
                                  "with levels 0-3")
        if self.distractors < 0:
            raise ConfigError("--distractors must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hops"], d["width"] = list(self.hops), list(self.width)
        d["levels"] = {k: list(v) for k, v in self.levels.items()}
        d["domains"] = list(self.domains) if self.domains else None
        return d


@dataclass(frozen=True, slots=True)
class EnvSpec:
    """What one environment (by index) is asked to be, drawn from the config."""

    index: int
    scenario: str
    hops: int
    width: int
    levels: dict[str, int]


_STAGES = {"spec": 0, "decompose": 1, "document": 2, "integrate": 3, "scale": 4, "deploy": 5}


def env_rng(config: BuildConfig, index: int, stage: str) -> random.Random:
    """The RNG of one stage of one environment: independent of every other environment and stage.
    Seeded with an integer (Python seeds ints identically on every platform and process)."""
    return random.Random(((config.seed * 1_000_000_007 + index) << 4) + _STAGES[stage])


def env_spec(config: BuildConfig, index: int) -> EnvSpec:
    rng = env_rng(config, index, "spec")
    names = [s for s in SCENARIOS if self_weight(config, s) > 0]
    scenario = rng.choices(names, weights=[self_weight(config, s) for s in names])[0]
    if scenario in ("single_hop", "parallel_single_hop"):
        hops = 1
    elif scenario == "multi_hop":
        hops = rng.randint(*config.hops)
    else:
        hops = rng.randint(config.hops[0], min(config.hops[1], 4))
    width = rng.randint(*config.width) if scenario.startswith("parallel") else 1
    levels = {s: rng.randint(*config.levels.get(s, (0, 3))) for s in STRATEGIES}
    return EnvSpec(index, scenario, hops, width, levels)


def self_weight(config: BuildConfig, scenario: str) -> float:
    return float(config.scenarios.get(scenario, 0.0))


def parse_range(text: str, name: str) -> tuple[int, int]:
    """``"2-5"`` or ``"3"`` -> (2, 5) / (3, 3)."""
    try:
        lo, _, hi = text.partition("-")
        return (int(lo), int(hi or lo))
    except ValueError:
        raise ConfigError(f"--{name} must be a number or a range like 2-4; got {text!r}") from None


def parse_weights(text: str) -> dict[str, float]:
    """``"single_hop=1,multi_hop=2"`` or ``"single_hop,multi_hop"`` -> weights."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, w = part.partition("=")
        try:
            out[name.strip()] = float(w) if w else 1.0
        except ValueError:
            raise ConfigError(f"--scenarios: bad weight in {part!r}") from None
    return out


def parse_levels(text: str) -> dict[str, tuple[int, int]]:
    """``"0-3"`` for every strategy, or ``"functional=1-2,toolset=3"``; unnamed strategies keep 0-3."""
    if "=" not in text:
        r = parse_range(text, "levels")
        return {s: r for s in STRATEGIES}
    out = _default_levels()
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, r = part.partition("=")
        out[name.strip()] = parse_range(r, "levels")
    return out
