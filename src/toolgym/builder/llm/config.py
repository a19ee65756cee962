"""Configuration of the LLM-driven and hybrid builders: every knob in one frozen record.

:class:`LLMBuildConfig` says what to build: the model (a :class:`~toolgym.models.Endpoint`, the one
endpoint record of every model user, and its :class:`~toolgym.models.Sampling`), the mode (``llm`` or
``hybrid``), the procedural :class:`~toolgym.builder.BuildConfig` it draws scenarios, shapes and levels from
(and, in hybrid mode, the world and skeletons), the seeds or domains, the prompts, and the retry and
verification limits. :data:`BUILD_ENDPOINT` and :data:`BUILD_SAMPLING` are a build's defaults (fewer
requests in flight and a longer timeout than a rollout's; the paper's sampling temperature of 0.7).

``to_dict`` holds only what decides the output (the model and its sampling, the prompts' digest, the
seeds' digest, the limits), so a rerun with more concurrency or another server of the same model still
resumes the same build.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...models import BackendConfig, Endpoint, Sampling
from ..config import BuildConfig

MODES = ("llm", "hybrid")
JSON_MODES = ("none", "object")
#: Domains the LLM builder cycles through when neither seeds nor domains are given.
DEFAULT_DOMAINS = ("travel", "finance", "weather", "sports", "science", "health", "geography", "cooking",
                   "music", "films and books", "shopping", "transport", "education", "technology")
#: A build's endpoint defaults (``replace(BUILD_ENDPOINT, model=..., base_urls=...)``); its errors name the
#: ``--llm-*`` flags of ``toolgym build``.
BUILD_ENDPOINT = Endpoint(concurrency=8, timeout_s=180.0, backoff_s=1.0, flags="llm-")
#: A build's sampling defaults.
BUILD_SAMPLING = Sampling(temperature=0.7, max_tokens=4096)


@dataclass(frozen=True)
class LLMBuildConfig:
    """What the LLM (``mode="llm"``) or hybrid (``mode="hybrid"``) builder builds.

    ``seeds``: topics or example questions, one per environment in turn (cycled); ``base.domains`` are
    cycled beside them (free text for the LLM builder; world domains in hybrid mode). ``attempts``: how
    many replies a stage may give (the first and the retries with the validation error fed back).
    ``budget``: the most indices one run tries (default ``10 * n + 20``), so a model that never
    produces a valid environment cannot keep a build running for ever."""

    endpoint: Endpoint
    mode: str = "llm"
    base: BuildConfig = field(default_factory=BuildConfig)
    seeds: tuple[str, ...] = ()
    prompts_dir: str | None = None  # files here replace the packaged prompts of the same name
    cache_dir: str | None = None  # None: <out>.llm-cache beside the output
    attempts: int = 3
    tool_timeout_s: float = 5.0  # per call of LLM-written tool code in the sandbox
    sandbox_workers: int = 2
    min_answer_chars: int = 3  # answers are matched as substrings: shorter ones are too easy to hit
    max_subquestions: int = 8
    budget: int | None = None
    sampling: Sampling = BUILD_SAMPLING
    json_mode: str = "none"  # "object": send response_format={"type": "json_object"} (vLLM, OpenAI)
    send_seed: bool = True  # a per-request seed (from the build seed, index, stage and attempt)

    def __post_init__(self) -> None:
        if not self.endpoint.flags:  # the builder's endpoint is always set by the --llm-* flags
            object.__setattr__(self, "endpoint", replace(self.endpoint, flags=BUILD_ENDPOINT.flags))
        if not self.endpoint.model:
            raise ConfigError("the LLM builder needs a model: give --llm-model NAME (as the server knows it)")
        if self.json_mode not in JSON_MODES:
            raise ConfigError(f"--llm-json-mode must be one of {', '.join(JSON_MODES)}; got {self.json_mode!r}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; use --builder llm or --builder hybrid")
        if self.attempts < 1:
            raise ConfigError("--llm-attempts must be >= 1")
        if self.tool_timeout_s <= 0 or self.sandbox_workers < 1:
            raise ConfigError("the tool timeout must be > 0 and the sandbox needs at least one worker")

    @property
    def seed(self) -> int:
        return self.base.seed

    @property
    def domains(self) -> tuple[str, ...]:
        if self.base.domains:
            return tuple(self.base.domains)
        return () if self.seeds else DEFAULT_DOMAINS

    def topic(self, index: int) -> tuple[str, str]:
        """(domain, seed) of environment ``index``: both lists cycled, either may be empty."""
        domains, seeds = self.domains, self.seeds
        return (domains[index % len(domains)] if domains else "any",
                seeds[index % len(seeds)] if seeds else "none: choose a topic of the domain")

    def model_identity(self) -> dict[str, Any]:
        """The part of the model's settings that changes what it writes."""
        return {"model": self.endpoint.model, "temperature": self.sampling.temperature,
                "max_tokens": self.sampling.max_tokens, "json_mode": self.json_mode, "send_seed": self.send_seed}

    def backend_config(self) -> BackendConfig:
        """The backend that answers the stages' prompts."""
        endpoint = self.endpoint
        if self.json_mode == "object":
            endpoint = replace(endpoint, extra_body={**(endpoint.extra_body or {}),
                                                     "response_format": {"type": "json_object"}})
        return BackendConfig("openai", endpoint, self.sampling)

    def to_dict(self, prompts_digest: str = "") -> dict[str, Any]:
        seeds = hashlib.sha256("\n".join(self.seeds).encode()).hexdigest()[:16] if self.seeds else None
        return {"builder": self.mode, **self.base.to_dict(), "llm": self.model_identity(),
                "seeds": {"count": len(self.seeds), "sha256": seeds}, "prompts": prompts_digest,
                "attempts": self.attempts, "tool_timeout_s": self.tool_timeout_s,
                "min_answer_chars": self.min_answer_chars, "max_subquestions": self.max_subquestions}


def read_seeds(path: str | Path) -> tuple[str, ...]:
    """Seeds from a text file: one topic or example question per line; blank lines and ``#`` comments
    are skipped."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--seeds: no file {p}")
    lines = [x.strip() for x in p.read_text(encoding="utf-8").splitlines()]
    seeds = tuple(x for x in lines if x and not x.startswith("#"))
    if not seeds:
        raise ConfigError(f"--seeds: {p} holds no seed (one topic or question per line)")
    return seeds
