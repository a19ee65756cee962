"""A content-addressed cache of LLM replies on disk, so a rerun of a build costs no request.

The key is the sha256 of the request as sent (model, messages, sampling parameters, the per-request
seed): the same request always gets the same reply back, and any change of prompt, model or
parameters is a new key. One small JSON file per reply, under ``<dir>/<key[:2]>/<key>.json``, written
atomically (temporary file + rename), so concurrent builds may share a directory and an interrupted
write leaves nothing half-written. Failed requests are never cached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...io import atomic_write_text


@dataclass(frozen=True, slots=True)
class CachedReply:
    text: str
    finish_reason: str
    usage: dict[str, int]


def request_key(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies by request key. ``None`` as the directory turns the cache off."""

    def __init__(self, directory: str | Path | None):
        self.dir = Path(directory) if directory is not None else None
        self.hits = 0
        self.stores = 0

    def _path(self, key: str) -> Path:
        assert self.dir is not None
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        if self.dir is None:
            return None
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            reply = CachedReply(str(data["text"]), str(data.get("finish_reason") or ""), dict(data.get("usage") or {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or damaged by something else: asked again and rewritten
        self.hits += 1
        return reply

    def put(self, key: str, reply: CachedReply) -> None:
        if self.dir is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"text": reply.text, "finish_reason": reply.finish_reason, "usage": reply.usage},
                             ensure_ascii=False)
        atomic_write_text(path, payload)
        self.stores += 1
