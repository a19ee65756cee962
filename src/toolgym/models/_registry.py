"""The backend registry and ``make_backend(config)``: one place that turns a :class:`BackendConfig` into a
backend, for the command line and the library alike.

``BACKENDS`` maps each name to a ``module:attr`` factory taking the config (nothing is imported until a
backend is made, so choosing ``openai`` never loads torch). A config may also name its own factory as
``module:attr``: a new backend needs no change here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from ..registry import lookup
from ._base import Backend
from ._config import BackendConfig
from ._hub import model_source

BACKENDS: dict[str, str] = {
    "openai": "toolgym.models._registry:openai_backend",
    "transformers": "toolgym.models._registry:transformers_backend",
    "vllm": "toolgym.models._registry:vllm_backend",
    "scripted": "toolgym.models._registry:scripted_backend",
}


def make_backend(config: BackendConfig) -> Backend:
    """The backend ``config`` describes. A wrong setup (unknown backend, no model, a missing extra) is a
    :class:`~toolgym.errors.ConfigError` naming the flag or package that fixes it."""
    factory: Callable[[BackendConfig], Backend] = lookup(BACKENDS, config.backend, what="backend",
                                                         flag=config.endpoint.flag("backend"), targets=True)
    return factory(config)


def openai_backend(config: BackendConfig) -> Backend:
    from ._openai import OpenAIBackend

    config.need_model()
    return OpenAIBackend(config.endpoint, config.sampling)


def _local_kwargs(config: BackendConfig) -> dict[str, Any]:
    s = config.sampling
    return {"max_new_tokens": s.max_tokens, "temperature": s.temperature, "top_p": 1.0 if s.top_p is None else s.top_p,
            "enable_thinking": s.thinking, "seed": s.seed, **config.options}


def _local_model(config: BackendConfig, extra: str, module: str) -> str:
    """The model of a local backend, checked before anything heavy is imported: the extra that runs it is
    installed, and the model is a folder here or a hub id that is cached or can be downloaded now."""
    model = config.need_model()
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"the {config.backend} backend needs the '{extra}' extra: pip install 'toolgym[{extra}]'")
    model_source(model, config.endpoint.flag("model"))
    return model


def transformers_backend(config: BackendConfig) -> Backend:
    from ._local import TransformersBackend

    model = _local_model(config, "train", "transformers")
    try:
        return TransformersBackend(model, **_local_kwargs(config))
    except (OSError, ValueError) as exc:  # a model that is there but cannot be put on the device, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot load the model {model!r} ({first[:300]}); give {config.endpoint.flag('model')} "
                          "a local model folder or a hub name that is available here") from exc


def vllm_backend(config: BackendConfig) -> Backend:
    from ._local import VLLMBackend

    return VLLMBackend(_local_model(config, "vllm", "vllm"), **_local_kwargs(config))


def scripted_backend(config: BackendConfig) -> Backend:
    from ._scripted import ScriptedPolicy

    return ScriptedPolicy(config.errors, seed=config.sampling.seed, **config.options)
