"""Where a local model comes from, checked before anything heavy is loaded.

A model is a folder here (what ``save_pretrained`` wrote) or a Hugging Face Hub id. :func:`model_source`
decides in well under a second, without torch or transformers: an existing folder or a hub id found in
the local cache loads with ``local_files_only`` (no request leaves the machine, so a machine without a
network never waits on retries); a path that does not exist, a name that is neither a path nor a hub id, or
a hub id that is not cached while the hub cannot be reached (or ``HF_HUB_OFFLINE`` is set) is a
:class:`~toolgym.errors.ConfigError` naming the flag and the fix at once. :func:`pretrained` loads through
it and turns what transformers still raises (a 404 from the hub, a folder without weights) into the same
kind of one-line error. Every local model loader (the transformers backend, the training loaders) uses it.
"""

from __future__ import annotations

import os
import re
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import ConfigError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_TRUE = ("1", "true", "yes", "on")


def _looks_like_path(name: str) -> bool:
    return (name.startswith(("/", "./", "../", "~", ".\\")) or name in (".", "..") or "\\" in name
            or name.count("/") > 1 or name.endswith("/"))


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


@lru_cache(maxsize=4)
def _reachable(endpoint: str, timeout_s: float = 3.0) -> bool:
    """Whether a TCP connection to the hub opens within ``timeout_s`` (one try: no retries)."""
    url = urlparse(endpoint)
    try:
        with socket.create_connection((url.hostname or "", url.port or (443 if url.scheme == "https" else 80)),
                                      timeout=timeout_s):
            return True
    except OSError:
        return False


def _cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def model_source(name: str, flag: str = "--model") -> dict[str, Any]:
    """The keyword arguments ``from_pretrained`` needs to load ``name`` without waiting on a network that is
    not there (``local_files_only`` for a folder or a cached hub id), or the ``ConfigError`` that says what
    to give ``flag`` instead."""
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{flag} {name} is a file; give the folder a model was saved to (with its config.json)")
        if not (path / "config.json").exists():
            raise ConfigError(f"{flag} {name} is a folder without a config.json, not a saved model; give the folder "
                              "a model was saved to (save_pretrained) or a Hugging Face Hub id (org/name)")
        return {"local_files_only": True}
    if _looks_like_path(name):
        raise ConfigError(f"{flag} {name}: no such folder; give the folder of a saved model that exists here, or a "
                          "Hugging Face Hub id (org/name)")
    if not _HUB_ID.match(name) or "--" in name or ".." in name:
        raise ConfigError(f"{flag} {name!r} is neither a folder here nor a Hugging Face Hub id (org/name)")
    if _cached(name):
        return {"local_files_only": True}
    from huggingface_hub import constants

    fix = f"download it first (hf download {name}) or give {flag} a local model folder"
    if _offline():
        raise ConfigError(f"{flag} {name} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                          f"HF_HUB_OFFLINE is set; {fix}")
    if not _reachable(constants.ENDPOINT):
        raise ConfigError(f"{flag} {name} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                          f"{constants.ENDPOINT} cannot be reached; {fix}")
    return {}


def pretrained(cls: Any, name: str, *, flag: str = "--model", **kwargs: Any) -> Any:
    """``cls.from_pretrained(name, **kwargs)`` (a transformers Auto class), checked first by
    :func:`model_source`; what transformers raises about the model is a one-line ``ConfigError``."""
    options = model_source(name, flag)
    try:
        return cls.from_pretrained(name, **options, **kwargs)
    except (OSError, ValueError) as exc:  # a hub id the hub does not have, a folder without weights, ...
        text = str(exc).strip()
        first = text.splitlines()[0][:300] if text else type(exc).__name__
        raise ConfigError(f"{flag} {name}: cannot load it ({first}); give {flag} a local model folder or a "
                          "Hugging Face Hub id that is available here") from exc
