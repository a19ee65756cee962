"""A reply cache on disk, and :class:`CachedBackend`, which puts it in front of any backend that says what
decides its replies. A rerun of the same requests (a resumed build, a repeated rollout) costs nothing.

The key is the sha256 of the request's identity, as the backend gives it (``request_identity``: for the
OpenAI backend the body as sent -- model, messages, tools, sampling parameters, per-request seed -- and
the episode): the same request always gets the same reply back, and any change of prompt, model or
parameters is a new key. One small JSON file per reply, under ``<dir>/<key[:2]>/<key>.json``, written
atomically (temporary file + rename), so concurrent runs may share a directory and an interrupted write
leaves nothing half-written. Failed requests are never cached.

Backends that keep state per episode (the local ones extend each episode's prompt with the model's own
tokens) cannot skip a turn, so they are refused rather than served replies they never generated.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import atomic_write_text
from ._base import Backend, Generation, GenerationRequest


def request_key(identity: dict[str, Any]) -> str:
    canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ReplyCache:
    """Generations by request key. ``None`` as the directory turns the cache off."""

    def __init__(self, directory: str | Path | None):
        self.dir = Path(directory) if directory is not None else None
        self.hits = 0
        self.stores = 0

    def _path(self, key: str) -> Path:
        assert self.dir is not None
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> Generation | None:
        if self.dir is None:
            return None
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            message = data.get("message")
            gen = Generation(text=str(data["text"]), message=message if isinstance(message, dict) else None,
                             usage={k: int(v) for k, v in (data.get("usage") or {}).items()},
                             finish_reason=str(data.get("finish_reason") or ""), cached=True)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # absent, or damaged by something else: asked again and rewritten
        self.hits += 1
        return gen

    def put(self, key: str, gen: Generation) -> None:
        if self.dir is None or gen.error is not None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"text": gen.text or "", "finish_reason": gen.finish_reason, "usage": gen.usage}
        if gen.message is not None:
            payload["message"] = gen.message
        atomic_write_text(path, json.dumps(payload, ensure_ascii=False))
        self.stores += 1


class CachedBackend:
    """A backend whose replies are looked up in ``cache`` first; misses go to ``backend`` and are stored."""

    def __init__(self, backend: Backend, cache: ReplyCache):
        if not callable(getattr(backend, "request_identity", None)) or callable(getattr(backend, "forget", None)):
            raise ConfigError(f"the {backend.name} backend cannot be put behind a reply cache: it keeps state per "
                              "episode or does not say what decides its replies (request_identity); the cache "
                              "serves the openai and scripted backends")
        self.backend = backend
        self.cache = cache
        self.name = backend.name
        self.model = backend.model

    @property
    def usage(self) -> dict[str, int]:
        return {**(getattr(self.backend, "usage", None) or {}), "cache_hits": self.cache.hits}

    def key(self, req: GenerationRequest) -> str:
        return request_key(self.backend.request_identity(req))

    def lookup(self, req: GenerationRequest) -> Generation | None:
        """The cached reply to ``req``, or ``None`` (nothing is sent)."""
        return self.cache.get(self.key(req))

    def request_identity(self, req: GenerationRequest) -> dict[str, Any]:
        return self.backend.request_identity(req)

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        keys = [self.key(r) for r in requests]
        out: list[Generation | None] = [self.cache.get(k) for k in keys]
        missing = [i for i, g in enumerate(out) if g is None]
        if missing:
            fresh = await self.backend.generate([requests[i] for i in missing])
            for i, gen in zip(missing, fresh):
                self.cache.put(keys[i], gen)
                out[i] = gen
        return out  # type: ignore[return-value]

    async def aclose(self) -> None:
        await self.backend.aclose()
