"""The model seam: backends behind one protocol, ``generate(requests) -> generations``, the chat-template
renderer they share, and a fake OpenAI-compatible server for tests and benchmarks.

Registry of ``module:attr`` strings (nothing is imported until a backend is made):
``openai`` (any OpenAI-compatible server), ``transformers`` (a local Hugging Face model), ``vllm``
(vLLM's offline engine), ``scripted`` (a baseline that follows the gold solution with set error rates).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._base import Backend, Generation, GenerationRequest
from ._batch import MicroBatcher
from ._render import ChatRenderer, template_messages
from ._scripted import ErrorRates, ScriptedPolicy

BACKENDS = {
    "openai": "toolgym.models._openai:OpenAIBackend",
    "transformers": "toolgym.models._local:TransformersBackend",
    "vllm": "toolgym.models._local:VLLMBackend",
    "scripted": "toolgym.models._scripted:ScriptedPolicy",
}


def make_backend(name: str, **kwargs: Any) -> Backend:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(**kwargs)


__all__ = [
    "BACKENDS",
    "Backend",
    "ChatRenderer",
    "ErrorRates",
    "Generation",
    "GenerationRequest",
    "MicroBatcher",
    "ScriptedPolicy",
    "make_backend",
    "template_messages",
]
