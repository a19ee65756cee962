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
    from chat_fixtures import make_tokenizer

    from toolgym.train.starter import SIZES, init_model

    tokenizer = make_tokenizer()
    return init_model(tokenizer, SIZES["tiny"], seed=0, max_positions=16384), tokenizer
