"""The backend protocol: ``generate(requests) -> generations``, one small seam for every model source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..schema import Environment


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One conversation to continue. ``episode`` identifies the episode across turns (stateful
    backends use it to extend their prompt instead of re-rendering it); ``env`` is only read by
    scripted baselines. ``seed``: a per-request sampling seed, sent to servers that honour it (the LLM
    builder gives one per environment, stage and attempt); ``None`` sends none."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    episode: str = ""
    turn: int = 0
    env: Environment | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    """A model's reply: raw ``text`` (Hermes/Llama formats) and/or a native OpenAI ``message``.
    ``error`` set means the request failed for good (after retries): the episode is recorded as failed.
    ``finish_reason`` as the server gave it (``"length"``: cut at the token limit; empty when unknown),
    ``retries`` how many times the request was sent again, ``cached`` whether it came from a reply cache.
    Backends that render the prompt themselves report it: ``prompt_text``/``prompt_ids`` (what the model
    saw) and ``token_ids`` (the reply's own tokens, without the stop token); the rollout records them."""

    text: str | None = None
    message: dict[str, Any] | None = None
    usage: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    finish_reason: str = ""
    retries: int = 0
    cached: bool = False
    prompt_text: str | None = None
    prompt_ids: list[int] | None = None
    token_ids: list[int] | None = None


@runtime_checkable
class Backend(Protocol):
    """What every model source provides. Optional extras: ``usage`` (a dict of counters the rollout
    reports), ``forget(episode)`` (drop an episode's state), ``request_identity(request)`` (everything
    that decides the reply to a request: what makes a backend cacheable, see :class:`CachedBackend`)."""

    name: str
    model: str

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]: ...

    async def aclose(self) -> None: ...
