"""The builders' connection to an OpenAI-compatible chat server: cached, retried, counted per stage.

Like the rollout's OpenAI backend (``toolgym.models._openai``): the ``openai`` async client's
plain ``post`` to ``/chat/completions``, a concurrency limit, exponential backoff with jitter on 429,
5xx, timeouts and connection errors. On top: the on-disk reply cache (a cached request sends nothing),
token accounting per build stage, and a typed split of failures. A request that fails for good is
:class:`RequestFailed` (data: that environment is rejected); a refusal that no retry can fix (401, 403,
404: wrong key, URL or model) or a server that fails ``fail_limit`` requests in a row is a
:class:`~toolgym.errors.ConfigError` that stops the build with the flag to fix.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from ...errors import ConfigError
from .cache import CachedReply, ResponseCache, request_key
from .config import LLMEndpoint


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
    """Chat completions for the build stages: ``await complete(stage, messages, seed) -> CachedReply``."""

    def __init__(self, endpoint: LLMEndpoint, cache: ResponseCache):
        import openai

        self._openai = openai
        self.endpoint = endpoint
        self.cache = cache
        self.client = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=os.environ.get(endpoint.api_key_env)
                                         or "EMPTY", timeout=endpoint.timeout_s, max_retries=0)
        self._semaphore: asyncio.Semaphore | None = None
        self.usage: dict[str, StageUsage] = {}
        self.failed_in_a_row = 0

    def stage(self, name: str) -> StageUsage:
        return self.usage.setdefault(name, StageUsage())

    def _body(self, messages: list[dict[str, str]], seed: int) -> tuple[dict[str, Any], str]:
        e = self.endpoint
        body: dict[str, Any] = {"model": e.model, "messages": messages, "temperature": e.temperature,
                                "max_tokens": e.max_tokens}
        if e.send_seed:
            body["seed"] = seed
        if e.json_mode == "object":
            body["response_format"] = {"type": "json_object"}
        # the seed is part of the key even when it is not sent: environments never share a reply
        return body, request_key(body if e.send_seed else {**body, "_seed": seed})

    async def complete(self, stage: str, messages: list[dict[str, str]], seed: int,
                       before_send: Callable[[], Awaitable[None]] | None = None) -> CachedReply:
        """The reply, from the cache or the server (``before_send`` is awaited before a request is sent)."""
        body, key = self._body(messages, seed)
        usage = self.stage(stage)
        cached = self.cache.get(key)
        if cached is not None:
            usage.cache_hits += 1
            usage.cached_tokens += sum(cached.usage.values())
            return cached
        if before_send is not None:
            await before_send()
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.endpoint.concurrency)
        async with self._semaphore:
            reply = await self._send(body, usage)
        self.cache.put(key, reply)
        return reply

    def _fatal(self, exc: Exception) -> ConfigError | None:
        status = getattr(exc, "status_code", None)
        if isinstance(exc, self._openai.APIStatusError) and status in (401, 403, 404):
            return ConfigError(f"the LLM server at {self.endpoint.base_url} refused the request (HTTP {status}: "
                               f"{str(exc)[:200]}); check --llm-base-url, --llm-model and the API key in "
                               f"${self.endpoint.api_key_env}")
        return None

    def _retryable(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, (o.APITimeoutError, o.APIConnectionError, o.RateLimitError, o.InternalServerError)):
            return True
        return isinstance(exc, o.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)

    async def _send(self, body: dict[str, Any], usage: StageUsage) -> CachedReply:
        e, last = self.endpoint, ""
        for attempt in range(e.max_retries + 1):
            try:
                response = await self.client.post("/chat/completions", cast_to=dict, body=body)
            except Exception as exc:
                fatal = self._fatal(exc)
                if fatal is not None:
                    raise fatal from None
                last = f"{type(exc).__name__}: {str(exc)[:300]}"
                if not self._retryable(exc) or attempt == e.max_retries:
                    break
                usage.http_retries += 1
                await asyncio.sleep(e.backoff_s * (2 ** attempt) * (0.5 + random.random()))
                continue
            return self._reply(response, usage)
        usage.failures += 1
        self.failed_in_a_row += 1
        if self.failed_in_a_row >= e.fail_limit:
            raise ConfigError(f"the LLM server at {e.base_url} failed {self.failed_in_a_row} requests in a row "
                              f"(last: {last}); check that it is up and that --llm-base-url points at it")
        raise RequestFailed(f"request failed after {attempt + 1} attempt(s): {last}")

    def _reply(self, response: Any, usage: StageUsage) -> CachedReply:
        self.failed_in_a_row = 0
        usage.requests += 1
        raw = (response.get("usage") if isinstance(response, dict) else None) or {}
        tokens = {"prompt_tokens": int(raw.get("prompt_tokens") or 0),
                  "completion_tokens": int(raw.get("completion_tokens") or 0)}
        usage.prompt_tokens += tokens["prompt_tokens"]
        usage.completion_tokens += tokens["completion_tokens"]
        choices = (response.get("choices") if isinstance(response, dict) else None) or [{}]
        message = choices[0].get("message") or {}
        return CachedReply(str(message.get("content") or ""), str(choices[0].get("finish_reason") or ""), tokens)

    async def aclose(self) -> None:
        await self.client.close()
