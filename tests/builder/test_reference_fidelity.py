"""Procedurally built environments run under the paper's executor exactly as in the sandbox.

Every call verification makes (gold, wrong arguments, no arguments, reward-hacking probes) gives the same
output through the oracle of the paper's ``call_function`` (``exec`` inside a function, ``eval(name)``) as
through our sandbox pool, and the oracle's ``compute_solve`` solves every expected item on each gold path.
A sample here; the 2,000-environment build in the slow test.
"""

import time

import pytest
from ftrl_fidelity import fidelity

from toolgym.builder import BuildConfig, build
from toolgym.builder.runner import rejects_path
from toolgym.io import read_environments


def _built(tmp_path, config: BuildConfig, n: int, workers: int = 1):
    out = tmp_path / "envs.jsonl"
    report = build(config, out, n, workers=workers)
    return list(read_environments(out)), report


@pytest.mark.parametrize("world", ["synthetic", "real"])
def test_a_sample_of_built_environments_runs_under_the_papers_executor(tmp_path, pool, world):
    envs, _ = _built(tmp_path, BuildConfig(seed=13, world=world, hops=(2, 5), width=(2, 3)), 60)
    report = fidelity(envs, pool)
    assert report.ok, (report.summary(), report.differ[:3], report.unsolved[:3])
    assert report.calls > 20 * len(envs)
    assert not any("scoping" in line for line in rejects_path(tmp_path / "envs.jsonl").read_text().splitlines())


@pytest.mark.slow
def test_a_2000_environment_build_runs_under_the_papers_executor(tmp_path, pool):
    t0 = time.perf_counter()
    envs, report = _built(tmp_path, BuildConfig(seed=0), 2000, workers=2)
    t1 = time.perf_counter()
    check = fidelity(envs, pool)
    t2 = time.perf_counter()
    print(f"\n{check.summary()}; {report.stats['rejected']} candidates rejected "
          f"({report.stats['rejections']['by_reason']}); build {t1 - t0:.1f} s, check {t2 - t1:.1f} s")
    assert len(envs) == 2000
    assert check.ok, (check.differ[:3], check.unsolved[:3])
    assert min(check.rewards) > 0
