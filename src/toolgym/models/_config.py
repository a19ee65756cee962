"""What a backend is made from: where the model is (:class:`Endpoint`), how it samples (:class:`Sampling`),
and which backend (:class:`BackendConfig`, the one argument of ``make_backend``). Every default of every
caller (rollout, eval, bench, the loop, the LLM builder) is written here once.

The endpoint's fields are transport only (URLs, key, timeout, retries, concurrency) plus the model and
any extra request fields; they are checked when the record is made, and each error names the
command-line flag that sets the field (``--base-url``, or ``--llm-base-url`` for ``toolgym build``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ._scripted import ErrorRates

#: Where an OpenAI-compatible server is looked for when no URL is given (``vllm serve`` listens here).
DEFAULT_BASE_URL = "http://localhost:8000/v1"


@dataclass(frozen=True)
class Endpoint:
    """A model and, when it is served, the OpenAI-compatible server(s) serving it.

    ``model``: the name the server knows (a path or hub name for the local backends, which read only
    this field). ``base_urls``: one or more servers sharing the load (a string is one URL; empty means
    :data:`DEFAULT_BASE_URL`). The API key is read from the environment variable ``api_key_env`` when
    the client is made (unset: ``EMPTY``, what local servers accept). ``max_retries``: HTTP retries on
    429, 5xx, timeouts and connection errors, with exponential backoff from ``backoff_s`` and jitter.
    ``concurrency``: requests in flight. ``extra_body``: fields added to every request (e.g.
    ``{"chat_template_kwargs": {...}}`` for vLLM). ``fail_limit``: after this many requests in a row
    failed for good, the server is taken to be gone and the run stops with a :class:`ConfigError`
    (``None``: never). ``flags``: the prefix of the command-line flags that set these fields, named in
    error messages (``"llm-"`` for the builder's ``--llm-base-url``)."""

    model: str = ""
    base_urls: tuple[str, ...] = (DEFAULT_BASE_URL,)
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_s: float = 0.5
    concurrency: int = 64
    extra_body: Mapping[str, Any] | None = None
    fail_limit: int | None = 20
    flags: str = ""

    def __post_init__(self) -> None:
        urls = self.base_urls
        urls = (urls,) if isinstance(urls, str) else tuple(urls or ())
        object.__setattr__(self, "base_urls", tuple(u.rstrip("/") for u in urls) or (DEFAULT_BASE_URL,))
        for url in self.base_urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"{self.flag('base-url')} must be an http(s) URL such as {DEFAULT_BASE_URL}; "
                                  f"got {url!r}")
        if self.concurrency < 1:
            raise ConfigError(f"{self.flag('concurrency')} must be >= 1")
        if self.max_retries < 0:
            raise ConfigError(f"{self.flag('retries') if self.flags else 'max_retries'} must be >= 0")
        if self.timeout_s <= 0:
            raise ConfigError(f"{self.flag('timeout') if self.flags else 'timeout_s'} must be > 0")
        if self.fail_limit is not None and self.fail_limit < 1:
            raise ConfigError("fail_limit must be >= 1 (or None: never stop)")

    def flag(self, name: str) -> str:
        """The command-line flag that sets ``name`` (``--base-url``, ``--llm-base-url``)."""
        return f"--{self.flags}{name}"

    @property
    def base_url(self) -> str:
        """The first server (where a single URL is wanted: messages, manifests)."""
        return self.base_urls[0]

    def setup_hint(self) -> str:
        """What to check when the server refuses requests: the flags and the key's variable."""
        key = f"the API key in ${self.api_key_env}"
        if self.flags:
            key += f" (another variable: {self.flag('api-key-env')})"
        return f"check {self.flag('base-url')}, {self.flag('model')} and {key}"


@dataclass(frozen=True)
class Sampling:
    """How replies are sampled. ``max_tokens``: new tokens per reply. ``top_p``: ``None`` leaves the
    server's default (local backends: 1.0). ``thinking``: the reasoning mode of templates that have one
    (Qwen3's ``enable_thinking``; ``None`` leaves the template's default). ``seed``: the seed of local
    sampling and of the scripted baseline (servers get per-request seeds only)."""

    temperature: float = 0.0
    max_tokens: int = 1024
    top_p: float | None = None
    thinking: bool | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ConfigError(f"the sampling temperature must be >= 0 (--temperature; for toolgym build "
                              f"--llm-temperature); got {self.temperature}")
        if self.max_tokens < 1:
            raise ConfigError(f"the most new tokens per reply must be >= 1 (--max-tokens; for toolgym build "
                              f"--llm-max-tokens); got {self.max_tokens}")


@dataclass(frozen=True)
class BackendConfig:
    """Everything ``make_backend`` needs. ``backend``: a name of ``BACKENDS`` or a ``module:attr`` factory
    taking this config. ``errors``: the scripted baseline's error rates. ``options``: passed on to the
    backend's constructor (transformers: ``device``, ``dtype``, ``batch_size``; vLLM: engine arguments
    such as ``tensor_parallel_size``)."""

    backend: str = "openai"
    endpoint: Endpoint = field(default_factory=Endpoint)
    sampling: Sampling = field(default_factory=Sampling)
    errors: ErrorRates = field(default_factory=ErrorRates)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.endpoint.model

    def need_model(self) -> str:
        """The model, or the error that says which flag gives it."""
        if not self.endpoint.model:
            raise ConfigError(f"the {self.backend} backend needs a model: give {self.endpoint.flag('model')} NAME")
        return self.endpoint.model
