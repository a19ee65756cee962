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
    """A tiny random Qwen2 model over :func:`tokenizer`'s vocabulary (``toolgym model init``'s ``tiny`` size)."""
    pytest.importorskip("torch")
    from toolgym.train.starter import SIZES, init_model

    return init_model(tokenizer, SIZES["tiny"], seed=0, max_positions=4096)
