"""The procedural builder: verified tool-use environments from a seeded world, no LLM, no network.

The paper's five stages, one module each, each a pure function of its inputs and a seeded RNG:
:mod:`.decompose` (scenario decomposition), :mod:`.document` (document generation),
:mod:`.integrate` (function integration), :mod:`.scale` (complexity scaling) and :mod:`.deploy`
(localized deployment); :mod:`.pipeline` chains them and verifies in the sandbox; :mod:`.runner`
spreads the work over processes (or Ray), resumes, and writes the manifest. See ``docs/builder.md``.

The LLM-driven and hybrid builders (the same stages over an OpenAI-compatible endpoint) live in
:mod:`toolgym.builder.llm`, registered in :data:`BUILDERS` and imported only when used.
"""

from .config import BuildConfig, parse_levels, parse_range, parse_weights
from .pipeline import Rejection, build_candidate, build_shard
from .runner import BUILDERS, BuildReport, build
from .world import DOMAINS, WORLDS, make_world

__all__ = [
    "BUILDERS",
    "DOMAINS",
    "WORLDS",
    "BuildConfig",
    "BuildReport",
    "Rejection",
    "build",
    "build_candidate",
    "build_shard",
    "make_world",
    "parse_levels",
    "parse_range",
    "parse_weights",
]
