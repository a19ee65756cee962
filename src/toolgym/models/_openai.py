"""Any OpenAI-compatible chat server: vLLM (``vllm serve MODEL --enable-auto-tool-choice
--tool-call-parser hermes``), SGLang, hosted APIs.

Async (the ``openai`` client), with a concurrency limit, per-request timeouts, retries with exponential
backoff and jitter on 429/5xx/timeouts/connection errors, token accounting, and several servers sharing
the load (each request goes to the server with the fewest requests in flight). Replies are returned
both as the native message and as text, so tool calls written in the text (a server without a tool
parser) are found by the one parser too.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from ..errors import ConfigError
from ._base import Generation, GenerationRequest

_API_FIELDS = {"system": ("role", "content", "name"), "user": ("role", "content", "name"),
               "assistant": ("role", "content", "tool_calls", "name"), "tool": ("role", "content", "tool_call_id")}


def api_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the fields the chat API knows (our messages also carry e.g. ``reasoning_content``)."""
    out = []
    for m in messages:
        keep = _API_FIELDS.get(m.get("role"), ("role", "content"))
        out.append({k: m[k] for k in keep if k in m and m[k] is not None})
    return out


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, base_urls: list[str] | str = "http://localhost:8000/v1", *,
                 api_key: str | None = None, concurrency: int = 64, timeout_s: float = 120.0,
                 max_retries: int = 5, backoff_s: float = 0.5, temperature: float = 0.0,
                 max_tokens: int = 1024, top_p: float | None = None, extra_body: dict | None = None):
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - openai is a core dependency
            raise ConfigError("the OpenAI backend needs the openai package: pip install openai") from exc
        self._openai = openai
        self.model = model
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ConfigError("give at least one --base-url")
        # Several clients per server, each with a few connections: the HTTP connection pool scans all
        # of its connections on every request, so one pool for 64+ concurrent requests costs more CPU
        # than the rest of the rollout.
        per_url = max(1, concurrency // 16)
        self.clients = [openai.AsyncOpenAI(base_url=u, api_key=api_key or "EMPTY", timeout=timeout_s, max_retries=0)
                        for u in urls for _ in range(per_url)]
        self.in_flight = [0] * len(self.clients)
        self.semaphore = asyncio.Semaphore(concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.params: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        if top_p is not None:
            self.params["top_p"] = top_p
        if extra_body:
            self.params["extra_body"] = extra_body
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0, "retries": 0, "failures": 0}

    def _retryable(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, (o.APITimeoutError, o.APIConnectionError, o.RateLimitError, o.InternalServerError)):
            return True
        return isinstance(exc, o.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)

    async def _one(self, req: GenerationRequest) -> Generation:
        async with self.semaphore:
            i = min(range(len(self.clients)), key=self.in_flight.__getitem__)
            self.in_flight[i] += 1
            try:
                return await self._call(self.clients[i], req)
            finally:
                self.in_flight[i] -= 1

    async def _call(self, client, req: GenerationRequest) -> Generation:
        body = dict(model=self.model, messages=api_messages(req.messages), **self.params)
        if req.tools:
            body["tools"] = req.tools
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                # The client's plain ``post`` (its documented way to send any request): the typed
                # ``chat.completions.create`` walks every message and tool schema to transform it, which
                # costs more than the rest of a rollout step. Auth, timeouts and errors are the same.
                response = await client.post("/chat/completions", cast_to=dict, body=body)
            except Exception as exc:
                last = f"{type(exc).__name__}: {exc}"
                if not self._retryable(exc) or attempt == self.max_retries:
                    break
                self.usage["retries"] += 1
                await asyncio.sleep(self.backoff_s * (2 ** attempt) * (0.5 + random.random()))
                continue
            self.usage["requests"] += 1
            raw_usage = response.get("usage") or {}
            usage = {"prompt_tokens": int(raw_usage.get("prompt_tokens") or 0),
                     "completion_tokens": int(raw_usage.get("completion_tokens") or 0)}
            for k, v in usage.items():
                self.usage[k] += v
            choices = response.get("choices") or []
            if not choices or not isinstance(choices[0].get("message"), dict):
                return Generation(error=f"the server returned no message: {str(response)[:200]}", usage=usage)
            message = {k: v for k, v in choices[0]["message"].items() if v is not None}
            message.setdefault("content", "")
            return Generation(text=message.get("content") or "", message=message, usage=usage)
        self.usage["failures"] += 1
        return Generation(error=f"request failed after {attempt + 1} attempt(s): {last}")

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        return list(await asyncio.gather(*(self._one(r) for r in requests)))

    async def aclose(self) -> None:
        for c in self.clients:
            await c.close()
