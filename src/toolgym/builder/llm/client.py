"""The builders' connection to their model: the stages' prompts through one backend of
:mod:`toolgym.models` (the OpenAI-compatible one), behind the reply cache, counted per stage.

The backend does the sending (its client's concurrency limit, retries with backoff, and the setup
errors: a refusal no retry can fix -- 401, 403, 404 -- or a server failing ``fail_limit`` requests in a
row is a :class:`~toolgym.errors.ConfigError` that stops the build with the flag to fix). The
:class:`~toolgym.models.CachedBackend` in front of it answers every request it has seen before, so a
rerun costs nothing. On top, here: token accounting per build stage, the hook awaited before a request
really leaves, and a request that failed for good as :class:`RequestFailed` (data: that environment is
rejected).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from ...models import Backend, CachedBackend, Generation, GenerationRequest, ReplyCache, make_backend
from .config import LLMBuildConfig


class RequestFailed(Exception):
    """A request that failed after every retry (or that the server cannot serve, e.g. too long)."""


@dataclass
class StageUsage:
    """What one stage cost. Tokens count requests the server answered; ``cached_tokens`` what the cache
    saved. ``invalid_replies`` counts replies that failed validation (each was retried or rejected)."""

    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    http_retries: int = 0
    failures: int = 0
    invalid_replies: int = 0

    def add(self, other: dict[str, int]) -> None:
        for k, v in other.items():
            if hasattr(self, k):
                setattr(self, k, getattr(self, k) + int(v))

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def merge_usage(*tables: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Sum per-stage usage tables (e.g. the manifest's earlier runs and this one)."""
    out: dict[str, StageUsage] = {}
    for table in tables:
        for stage, counts in (table or {}).items():
            out.setdefault(stage, StageUsage()).add(counts)
    return {k: v.to_dict() for k, v in sorted(out.items())}


class LLMClient:
    """Chat completions for the build stages: ``await complete(stage, messages, seed) -> Generation``.
    ``backend``: another model source than the configured endpoint (any backend the cache accepts)."""

    def __init__(self, config: LLMBuildConfig, cache: ReplyCache, backend: Backend | None = None):
        self.backend = CachedBackend(backend or make_backend(config.backend_config()), cache)
        self.cache = cache
        self.send_seed = config.send_seed
        self.usage: dict[str, StageUsage] = {}

    def stage(self, name: str) -> StageUsage:
        return self.usage.setdefault(name, StageUsage())

    def _request(self, messages: list[dict[str, str]], seed: int) -> GenerationRequest:
        if self.send_seed:
            return GenerationRequest(messages=messages, tools=[], seed=seed)
        # the seed still keys the cache when it is not sent: environments never share a reply
        return GenerationRequest(messages=messages, tools=[], episode=f"seed-{seed}")

    async def complete(self, stage: str, messages: list[dict[str, str]], seed: int,
                       before_send: Callable[[], Awaitable[None]] | None = None) -> Generation:
        """The reply, from the cache or the model (``before_send`` is awaited before a request is sent)."""
        req = self._request(messages, seed)
        usage = self.stage(stage)
        cached = self.backend.lookup(req)
        if cached is not None:
            usage.cache_hits += 1
            usage.cached_tokens += sum(cached.usage.values())
            return cached
        if before_send is not None:
            await before_send()
        [reply] = await self.backend.generate([req])
        usage.http_retries += reply.retries
        if reply.error is not None:
            usage.failures += 1
            raise RequestFailed(reply.error)
        usage.requests += 1
        usage.prompt_tokens += reply.usage.get("prompt_tokens", 0)
        usage.completion_tokens += reply.usage.get("completion_tokens", 0)
        return reply

    async def aclose(self) -> None:
        await self.backend.aclose()
