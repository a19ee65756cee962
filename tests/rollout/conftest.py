"""Fixtures of the rollout tests: a tokenizer and a tiny random Qwen2 model built here."""

import pytest
from chat_fixtures import make_tokenizer


@pytest.fixture(scope="session")
def tokenizer():
    pytest.importorskip("transformers")
    return make_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    torch = pytest.importorskip("torch")
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return Qwen2ForCausalLM(config)
