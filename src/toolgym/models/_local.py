"""Local models: Hugging Face ``transformers`` and vLLM's offline engine.

Both render prompts with the model's own chat template through :class:`ChatRenderer` (tools passed
with ``tools=``, reasoning mode with ``enable_thinking``), batch requests from many concurrent episodes
(micro-batching, up to ``batch_size`` prompts per ``generate``), and return the raw text, cut at the first
stop token. torch, transformers and vllm are imported only when a backend is created.

On a CPU, ``threads`` sets torch's thread count for the whole process (:func:`set_threads`). A small model
gains little from more threads, and on a machine whose cores are busy with other work (the sandbox workers,
other jobs) extra threads wait on each other: there, 1 thread can be several times faster than 2.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ..errors import ConfigError
from ._base import Generation, GenerationRequest
from ._batch import MicroBatcher
from ._hub import pretrained
from ._render import ChatRenderer

_STOP_STRINGS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "</s>", "<|end|>")


def set_threads(threads: int | None) -> None:
    """torch's CPU thread count for this process (``None`` leaves torch's default: one per core)."""
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def local_options(backend: str, *, threads: int | None = None, batch_size: int | None = None) -> dict[str, Any]:
    """``BackendConfig.options`` for a local model's ``--threads`` (transformers) and ``--gen-batch-size``
    (transformers, vllm); nothing for the other backends, whose work is elsewhere."""
    options: dict[str, Any] = {}
    if backend in ("transformers", "vllm") and batch_size:
        options["batch_size"] = batch_size
    if backend == "transformers" and threads is not None:
        options["threads"] = threads
    return options


def stop_token_ids(tokenizer, generation_config=None) -> list[int]:
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    eos = getattr(generation_config, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, (list, tuple)):
        ids.update(int(x) for x in eos)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[s] for s in _STOP_STRINGS if s in vocab)
    return sorted(ids)


class _LocalBackend:
    """Shared by the local backends: rendering, micro-batching, one generation at a time."""

    def __init__(self, tokenizer, *, batch_size: int, batch_wait_s: float, enable_thinking: bool | None,
                 template_kwargs: dict[str, Any] | None):
        kwargs = dict(template_kwargs or {})
        if enable_thinking is not None:
            kwargs["enable_thinking"] = enable_thinking
        self.tokenizer = tokenizer
        self.renderer = ChatRenderer(tokenizer, kwargs)
        self._batcher = MicroBatcher(self._run_batch, max_size=batch_size, max_wait_s=batch_wait_s)
        self._lock = threading.Lock()
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0}

    async def _run_batch(self, requests: list[GenerationRequest]) -> list[Generation]:
        return await asyncio.to_thread(self.generate_sync, requests)

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        return await self._batcher.submit(requests)

    def generate_sync(self, requests: list[GenerationRequest]) -> list[Generation]:
        rendered = [self.renderer.next_prompt(r.episode, r.messages, r.tools) for r in requests]
        with self._lock:
            outputs = self._generate([ids for _, ids in rendered])
        gens = []
        for req, (prompt, ids), (text, new_ids, n_completion) in zip(requests, rendered, outputs):
            self.renderer.record(req.episode, text, new_ids)
            usage = {"prompt_tokens": len(ids), "completion_tokens": n_completion}
            for k, v in usage.items():
                self.usage[k] += v
            self.usage["requests"] += 1
            # what the model saw and wrote, token for token: the rollout records it for training
            gens.append(Generation(text=text, usage=usage, prompt_text=prompt, prompt_ids=list(ids),
                                   token_ids=list(new_ids)))
        return gens

    def forget(self, episode: str) -> None:
        self.renderer.forget(episode)

    async def aclose(self) -> None:
        return None

    def _generate(self, prompts: list[list[int]]) -> list[tuple[str, list[int], int]]:  # pragma: no cover
        """For each prompt (token ids): the reply text and ids up to the stop token, and how many tokens
        were generated (the stop token included)."""
        raise NotImplementedError


class TransformersBackend(_LocalBackend):
    """A Hugging Face causal LM: batched ``generate`` with left padding and the model's stop tokens."""

    name = "transformers"

    def __init__(self, model: Any, tokenizer: Any = None, *, device: str | None = None, dtype: str = "auto",
                 max_new_tokens: int = 1024, temperature: float = 0.0, top_p: float = 1.0, batch_size: int = 16,
                 batch_wait_s: float = 0.01, enable_thinking: bool | None = None,
                 template_kwargs: dict[str, Any] | None = None, seed: int = 0, threads: int | None = None):
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise ConfigError("the transformers backend needs the 'train' extra: pip install 'toolgym[train]'") from exc
        set_threads(threads)
        self.torch = torch
        if isinstance(model, str):  # checked (a folder, a cached or reachable hub id) before anything loads
            tokenizer = tokenizer or pretrained(transformers.AutoTokenizer, model)
            model = pretrained(transformers.AutoModelForCausalLM, model, dtype=dtype)
        if tokenizer is None:
            raise ConfigError("give the tokenizer with the model object (or a model name to load both)")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.hf_model = model.to(self.device).eval()
        self.model = getattr(model, "name_or_path", None) or type(model).__name__
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.stop_ids = stop_token_ids(tokenizer, getattr(model, "generation_config", None))
        self.params = {"max_new_tokens": max_new_tokens, "do_sample": temperature > 0}
        if temperature > 0:
            self.params.update(temperature=temperature, top_p=top_p)
        self.seed = seed
        super().__init__(tokenizer, batch_size=batch_size, batch_wait_s=batch_wait_s,
                         enable_thinking=enable_thinking, template_kwargs=template_kwargs)

    def _generate(self, prompts: list[list[int]]) -> list[tuple[str, list[int], int]]:
        torch = self.torch
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        torch.manual_seed(self.seed)
        self.seed += 1
        with torch.no_grad():
            out = self.hf_model.generate(input_ids=input_ids, attention_mask=mask, **self.params,
                                         eos_token_id=self.stop_ids, pad_token_id=pad)
        stops = set(self.stop_ids)
        results = []
        for i in range(len(prompts)):
            tokens = out[i, width:].tolist()
            cut = next((j for j, t in enumerate(tokens) if t in stops), len(tokens))
            reply = tokens[:cut]
            results.append((self.tokenizer.decode(reply, skip_special_tokens=False), reply, min(cut + 1, len(tokens))))
        return results


class VLLMBackend(_LocalBackend):
    """vLLM's offline engine (GPU machines): the same rendering, vLLM's continuous batching."""

    name = "vllm"

    def __init__(self, model: str, *, max_new_tokens: int = 1024, temperature: float = 0.0, top_p: float = 1.0,
                 batch_size: int = 256, batch_wait_s: float = 0.02, enable_thinking: bool | None = None,
                 template_kwargs: dict[str, Any] | None = None, seed: int = 0, **engine_kwargs: Any):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise ConfigError("the vllm backend needs vLLM on a GPU machine: pip install 'toolgym[vllm]'") from exc
        self.llm = LLM(model=model, seed=seed, **engine_kwargs)
        self.model = model
        tokenizer = self.llm.get_tokenizer()
        self.sampling = SamplingParams(max_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                       stop_token_ids=stop_token_ids(tokenizer), seed=seed)
        super().__init__(tokenizer, batch_size=batch_size, batch_wait_s=batch_wait_s,
                         enable_thinking=enable_thinking, template_kwargs=template_kwargs)

    def _generate(self, prompts: list[list[int]]) -> list[tuple[str, list[int], int]]:
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], self.sampling, use_tqdm=False)
        stops = set(self.sampling.stop_token_ids or [])
        results = []
        for o in outputs:
            ids = list(o.outputs[0].token_ids)
            reply = ids[:-1] if ids and ids[-1] in stops else ids
            results.append((self.tokenizer.decode(reply, skip_special_tokens=False), reply, len(ids)))
        return results
