"""The LLM-driven and hybrid builders: the paper's five stages over any OpenAI-compatible endpoint.

``llm``: each stage is one prompt (``toolgym/builder/prompts/``, overridable with ``--prompts DIR``) whose
reply is JSON checked against a schema and the stage's own rules, retried with the error fed back;
the model writes the tools' code and the sandbox verification of the procedural builder decides.
``hybrid``: the procedural skeleton keeps the ground truth and the model rewrites only the surface
(question, tool names and descriptions, error messages), applied mechanically and verified again.
:mod:`.runner` makes them a :class:`~toolgym.builder.Builder` (:class:`LLMBuilder`) that builds concurrently,
caches every reply on disk and counts tokens per stage; the build's one sink writes and resumes.
See ``docs/builder.md``, section "The LLM and hybrid builders".
"""

from .client import LLMClient, RequestFailed, StageUsage
from .config import BUILD_ENDPOINT, BUILD_SAMPLING, DEFAULT_DOMAINS, MODES, LLMBuildConfig, read_seeds
from .prompts import STAGES, Prompts, export_prompts, load_prompts
from .runner import LLMBuilder, build_llm, hybrid_builder, llm_builder
from .structured import Invalid, StageRejected, extract_json

__all__ = [
    "BUILD_ENDPOINT",
    "BUILD_SAMPLING",
    "DEFAULT_DOMAINS",
    "MODES",
    "STAGES",
    "Invalid",
    "LLMBuildConfig",
    "LLMBuilder",
    "LLMClient",
    "Prompts",
    "RequestFailed",
    "StageRejected",
    "StageUsage",
    "build_llm",
    "export_prompts",
    "extract_json",
    "hybrid_builder",
    "llm_builder",
    "load_prompts",
    "read_seeds",
]
