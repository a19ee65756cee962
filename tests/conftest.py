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
