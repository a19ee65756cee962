"""The one client of OpenAI-compatible chat servers (vLLM, SGLang, hosted APIs), used by the OpenAI backend
and through it by rollout, eval, bench, the loop and the LLM builder.

It sends a request body to ``/chat/completions`` with the ``openai`` async client's plain ``post`` (its
documented way to send any request: the typed ``chat.completions.create`` walks every message and tool
schema to transform it, which costs more than the rest of a rollout step; auth, timeouts and errors are
the same). Around that: a concurrency limit, several servers sharing the load (each attempt goes to the
server with the fewest requests in flight), and retries with exponential backoff and jitter on 429, 5xx,
timeouts and connection errors.

Failures are split by who can fix them. A request that still fails after its retries is data: the
caller gets :class:`ChatResult` with ``error`` set (a rollout records a failed episode, a build rejects
an environment). A refusal that no retry can fix -- HTTP 401, 403 or 404: wrong key, URL or model -- and
a server that fails ``fail_limit`` requests in a row are a broken setup: :class:`~toolgym.errors.ConfigError`,
whose message names the flag that fixes it, and which stops the run.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ._config import Endpoint

#: HTTP statuses that mean the setup is wrong (key, URL, model), never worth a retry.
SETUP_STATUSES = (401, 403, 404)


@dataclass(frozen=True, slots=True)
class ChatResult:
    """The server's JSON reply, or why there is none after every retry; ``retries``: sent again how often."""

    response: dict[str, Any] | None
    error: str | None = None
    retries: int = 0


class ChatClient:
    """``await client.post(body) -> ChatResult``, shared by every coroutine of an event loop. The HTTP
    connections belong to the loop that opened them, so a client used from a new loop (a second
    ``asyncio.run``) opens new ones there."""

    def __init__(self, endpoint: Endpoint):
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - openai is a core dependency
            raise ConfigError("the OpenAI-compatible client needs the openai package: pip install openai") from exc
        self._openai = openai
        self.endpoint = endpoint
        self._key = os.environ.get(endpoint.api_key_env) or "EMPTY"
        # Several clients per server, each with a few connections: the HTTP connection pool scans all of
        # its connections on every request, so one pool for 64+ concurrent requests costs more CPU than
        # the rest of a rollout.
        per_url = max(1, endpoint.concurrency // 16)
        self.urls = [u for u in endpoint.base_urls for _ in range(per_url)]
        self.in_flight = [0] * len(self.urls)
        self.clients: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self.failed_in_a_row = 0
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0, "retries": 0, "failures": 0}

    def _open(self) -> None:
        """Clients and the concurrency limit for the running loop (those of a finished loop are dropped:
        their connections cannot be used, or closed, from another one)."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        e, o = self.endpoint, self._openai
        # our own HTTP client per server: the one ``openai`` makes by default closes itself, when dropped,
        # on whatever loop then runs -- not the one its connections belong to
        self.clients = [o.AsyncOpenAI(base_url=u, api_key=self._key, timeout=e.timeout_s, max_retries=0,
                                      http_client=o.DefaultAsyncHttpxClient(timeout=e.timeout_s))
                        for u in self.urls]
        self.in_flight = [0] * len(self.urls)
        self._semaphore = asyncio.Semaphore(e.concurrency)
        self._loop = loop

    def _retryable(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, (o.APITimeoutError, o.APIConnectionError, o.RateLimitError, o.InternalServerError)):
            return True
        return isinstance(exc, o.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)

    def _setup_error(self, exc: Exception, url: str) -> ConfigError | None:
        status = getattr(exc, "status_code", None)
        if not isinstance(exc, self._openai.APIStatusError) or status not in SETUP_STATUSES:
            return None
        what = {401: "refused the API key", 403: "refused the API key",
                404: f"does not serve model {self.endpoint.model!r} (or has no /chat/completions)"}[status]
        return ConfigError(f"the server at {url} {what} (HTTP {status}: {str(exc)[:200]}); "
                           f"{self.endpoint.setup_hint()}")

    async def post(self, body: dict[str, Any]) -> ChatResult:
        """Send one chat completion request; see the module's text for what is retried and what raises."""
        self._open()
        e, last = self.endpoint, ""
        async with self._semaphore:
            for attempt in range(e.max_retries + 1):
                i = min(range(len(self.clients)), key=self.in_flight.__getitem__)
                self.in_flight[i] += 1
                try:
                    response = await self.clients[i].post("/chat/completions", cast_to=dict, body=body)
                except Exception as exc:
                    fatal = self._setup_error(exc, self.urls[i])
                    if fatal is not None:
                        raise fatal from None
                    last = f"{type(exc).__name__}: {str(exc)[:300]}"
                    if not self._retryable(exc) or attempt == e.max_retries:
                        break
                    self.usage["retries"] += 1
                    await asyncio.sleep(e.backoff_s * (2 ** attempt) * (0.5 + random.random()))
                    continue
                finally:
                    self.in_flight[i] -= 1
                return self._answered(response, attempt)
        return self._failed(f"request failed after {attempt + 1} attempt(s): {last}", attempt)

    def _answered(self, response: Any, retries: int) -> ChatResult:
        self.failed_in_a_row = 0
        self.usage["requests"] += 1
        if not isinstance(response, dict):
            return ChatResult(None, f"the server's reply is not a JSON object: {str(response)[:200]}", retries)
        raw = response.get("usage") or {}
        for k in ("prompt_tokens", "completion_tokens"):
            self.usage[k] += int(raw.get(k) or 0)
        return ChatResult(response, None, retries)

    def _failed(self, error: str, retries: int) -> ChatResult:
        self.usage["failures"] += 1
        self.failed_in_a_row += 1
        limit = self.endpoint.fail_limit
        if limit is not None and self.failed_in_a_row >= limit:
            raise ConfigError(f"the server at {self.endpoint.base_url} failed {self.failed_in_a_row} requests in a "
                              f"row (last: {error}); check that it is up and that "
                              f"{self.endpoint.flag('base-url')} points at it")
        return ChatResult(None, error, retries)

    async def aclose(self) -> None:
        if self._loop is asyncio.get_running_loop():
            for c in self.clients:
                await c.close()
        self.clients, self._loop, self._semaphore = [], None, None
