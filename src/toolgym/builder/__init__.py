"""The procedural builder: verified tool-use environments from a seeded world, no LLM, no network.

The paper's five stages, one module each, each a pure function of its inputs and a seeded RNG:
:mod:`.decompose` (scenario decomposition), :mod:`.document` (document generation),
:mod:`.integrate` (function integration), :mod:`.scale` (complexity scaling) and :mod:`.deploy`
(localized deployment); :mod:`.pipeline` chains them and verifies in the sandbox. See ``docs/builder.md``.

Every builder is a :class:`Builder` (procedural, LLM, hybrid), chosen by name through :data:`BUILDERS`
(:func:`make_builder`), and feeds the one ordered, resumable sink :func:`run_build` (:mod:`.runner`: index
order, the test split, rejections, the manifest, resuming). The procedural one spreads its shards over
processes (or Ray); the LLM-driven and hybrid builders (the same stages over an OpenAI-compatible
endpoint) live in :mod:`toolgym.builder.llm`, imported only when used.
"""

from .config import BuildConfig, parse_levels, parse_range, parse_weights
from .pipeline import Rejection, build_candidate, build_shard
from .runner import (
    BUILDERS,
    Builder,
    BuildReport,
    BuildState,
    ProceduralBuilder,
    build,
    make_builder,
    rejects_path,
    run_build,
)
from .world import DOMAINS, WORLDS, make_world

__all__ = [
    "BUILDERS",
    "DOMAINS",
    "WORLDS",
    "BuildConfig",
    "BuildReport",
    "BuildState",
    "Builder",
    "ProceduralBuilder",
    "Rejection",
    "build",
    "build_candidate",
    "build_shard",
    "make_builder",
    "make_world",
    "parse_levels",
    "parse_range",
    "parse_weights",
    "rejects_path",
    "run_build",
]
