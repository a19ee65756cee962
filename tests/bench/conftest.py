"""Fixtures of the benchmark tests: the sample data written for each benchmark's format, and a tiny
tokenizer and random Qwen2 model built here (no model hub)."""

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
collect_ignore_glob = ["data/*"]  # tau-bench's task file is Python data, not a test



@pytest.fixture(scope="session")
def data_dir():
    return DATA


@pytest.fixture(scope="session")
def tiny_chat_model():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch
    from chat_fixtures import make_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = make_tokenizer()
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16384,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return Qwen2ForCausalLM(config), tokenizer
