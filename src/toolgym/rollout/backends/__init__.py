"""Model backends behind one protocol, ``generate(requests) -> generations``.

Registry of ``module:attr`` strings (nothing is imported until a backend is made):
``openai`` (any OpenAI-compatible server), ``transformers`` (a local Hugging Face model), ``vllm``
(vLLM's offline engine), ``scripted`` (a baseline that follows the gold solution with set error rates).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._base import Backend, Generation, GenerationRequest
from ._scripted import ErrorRates, ScriptedPolicy

BACKENDS = {
    "openai": "toolgym.rollout.backends._openai:OpenAIBackend",
    "transformers": "toolgym.rollout.backends._local:TransformersBackend",
    "vllm": "toolgym.rollout.backends._local:VLLMBackend",
    "scripted": "toolgym.rollout.backends._scripted:ScriptedPolicy",
}


def make_backend(name: str, **kwargs: Any) -> Backend:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(**kwargs)


__all__ = ["BACKENDS", "Backend", "ErrorRates", "Generation", "GenerationRequest", "ScriptedPolicy", "make_backend"]
