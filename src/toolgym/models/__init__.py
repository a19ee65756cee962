"""The model seam: every model source behind one protocol, ``generate(requests) -> generations``, used by
rollout, eval, the benchmarks (and their simulated user), the training loop and the LLM builder.

* :class:`BackendConfig` (with :class:`Endpoint` and :class:`Sampling`) says which model and how;
  :func:`make_backend` makes the backend from it through the ``BACKENDS`` registry: ``openai`` (any
  OpenAI-compatible server, through the one :class:`ChatClient`), ``transformers`` (a local Hugging Face
  model), ``vllm`` (vLLM's offline engine), ``scripted`` (a baseline that follows the gold solution with
  set error rates).
* :class:`CachedBackend` puts a :class:`ReplyCache` on disk in front of a backend.
* :class:`ChatRenderer` extends each episode's prompt with the model's own tokens (local backends).
* :func:`pretrained` loads a local model (a folder or a Hugging Face Hub id) after :func:`model_source`
  has checked, in well under a second and offline, that it can be: every local loader goes through it.
* :mod:`toolgym.models.fake_server` is an OpenAI-compatible server that plays the scripted baseline
  (``toolgym serve-fake``), for trying the tools without a GPU, tests and speed measurements.
"""

from __future__ import annotations

from ._base import Backend, Generation, GenerationRequest
from ._batch import MicroBatcher
from ._cache import CachedBackend, ReplyCache, request_key
from ._client import ChatClient, ChatResult
from ._config import DEFAULT_BASE_URL, BackendConfig, Endpoint, Sampling
from ._hub import model_source, pretrained
from ._local import local_options, set_threads, stop_token_ids
from ._openai import OpenAIBackend, api_messages
from ._registry import BACKENDS, make_backend
from ._render import ChatRenderer, template_messages
from ._scripted import ErrorRates, ScriptedPolicy

__all__ = [
    "BACKENDS",
    "DEFAULT_BASE_URL",
    "Backend",
    "BackendConfig",
    "CachedBackend",
    "ChatClient",
    "ChatRenderer",
    "ChatResult",
    "Endpoint",
    "ErrorRates",
    "Generation",
    "GenerationRequest",
    "MicroBatcher",
    "OpenAIBackend",
    "ReplyCache",
    "Sampling",
    "ScriptedPolicy",
    "api_messages",
    "local_options",
    "make_backend",
    "model_source",
    "pretrained",
    "request_key",
    "set_threads",
    "stop_token_ids",
    "template_messages",
]
