"""Shared fixtures: one warm sandbox pool for the whole session, the sample environments."""

from __future__ import annotations

import pytest

from toolgym.samples import sample_environments
from toolgym.sandbox import SandboxLimits, SandboxPool


@pytest.fixture(scope="session")
def pool():
    with SandboxPool(workers=2, limits=SandboxLimits(timeout_s=5.0, grace_s=1.0)) as p:
        yield p


@pytest.fixture(scope="session")
def samples():
    return sample_environments()


@pytest.fixture(scope="session")
def tokenizer():
    """A small tokenizer with a real Qwen-style chat template, built here (no download)."""
    pytest.importorskip("transformers")
    from chat_fixtures import make_tokenizer

    return make_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    """A tiny random Qwen2 model over :func:`tokenizer`'s vocabulary."""
    torch = pytest.importorskip("torch")
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return Qwen2ForCausalLM(config)
