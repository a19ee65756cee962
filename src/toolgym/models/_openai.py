"""Any OpenAI-compatible chat server as a backend: vLLM (``vllm serve MODEL --enable-auto-tool-choice
--tool-call-parser hermes``), SGLang, hosted APIs.

Each request becomes one body for :class:`~toolgym.models._client.ChatClient` (model, the messages'
API fields, tools, sampling, the per-request seed, the endpoint's extra fields); each reply comes back
both as the native message and as text, so tool calls written in the text (a server without a tool
parser) are found by the one parser too. The body is also the request's identity for a reply cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._base import Generation, GenerationRequest
from ._client import ChatClient
from ._config import Endpoint, Sampling

_API_FIELDS = {"system": ("role", "content", "name"), "user": ("role", "content", "name"),
               "assistant": ("role", "content", "tool_calls", "name"), "tool": ("role", "content", "tool_call_id")}


def api_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the fields the chat API knows (our messages also carry e.g. ``reasoning_content``)."""
    out = []
    for m in messages:
        keep = _API_FIELDS.get(m.get("role"), ("role", "content"))
        out.append({k: m[k] for k in keep if k in m and m[k] is not None})
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, merging nested objects (``chat_template_kwargs`` from two sources)."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class OpenAIBackend:
    name = "openai"

    def __init__(self, endpoint: Endpoint, sampling: Sampling | None = None):
        sampling = sampling or Sampling()
        self.endpoint = endpoint
        self.model = endpoint.model
        self.client = ChatClient(endpoint)
        params: dict[str, Any] = {"temperature": sampling.temperature, "max_tokens": sampling.max_tokens}
        if sampling.top_p is not None:
            params["top_p"] = sampling.top_p
        if sampling.thinking is not None:
            params["chat_template_kwargs"] = {"enable_thinking": sampling.thinking}
        # the extra fields go into the body itself: the client's ``post`` sends the body as it is
        self.params = _merge(params, dict(endpoint.extra_body or {}))

    @property
    def usage(self) -> dict[str, int]:
        return self.client.usage

    def body(self, req: GenerationRequest) -> dict[str, Any]:
        """The request as sent."""
        body = {"model": self.model, "messages": api_messages(req.messages), **self.params}
        if req.tools:
            body["tools"] = req.tools
        if req.seed is not None:
            body["seed"] = req.seed
        return body

    def request_identity(self, req: GenerationRequest) -> dict[str, Any]:
        """The body as sent, and the episode: episodes sampled from the same prompt must not share a reply."""
        body = self.body(req)
        return {**body, "episode": req.episode} if req.episode else body

    async def _one(self, req: GenerationRequest) -> Generation:
        result = await self.client.post(self.body(req))
        if result.response is None:
            return Generation(error=result.error, retries=result.retries)
        response = result.response
        raw = response.get("usage") or {}
        usage = {"prompt_tokens": int(raw.get("prompt_tokens") or 0),
                 "completion_tokens": int(raw.get("completion_tokens") or 0)}
        choices = response.get("choices") or []
        if not choices or not isinstance(choices[0].get("message"), dict):
            return Generation(error=f"the server returned no message: {str(response)[:200]}", usage=usage,
                              retries=result.retries)
        message = {k: v for k, v in choices[0]["message"].items() if v is not None}
        message.setdefault("content", "")
        return Generation(text=message.get("content") or "", message=message, usage=usage,
                          finish_reason=str(choices[0].get("finish_reason") or ""), retries=result.retries)

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        return list(await asyncio.gather(*(self._one(r) for r in requests)))

    async def aclose(self) -> None:
        await self.client.aclose()
