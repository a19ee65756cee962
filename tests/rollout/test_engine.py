"""The rollout engine: resumable, append-only, concurrent; a resume never mixes two configurations."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from toolgym.errors import FailureKind
from toolgym.evaluate import evaluate
from toolgym.io import Run, RunRefused, read_manifest, write_environments
from toolgym.models import BackendConfig, Endpoint, ErrorRates, ScriptedPolicy, make_backend
from toolgym.models.fake_server import ServerThread, create_app
from toolgym.rollout import EpisodeConfig, RolloutConfig, load_trajectories, rollout, rollout_identity


def test_rerun_skips_finished_episodes(pool, samples, tmp_path):
    out = tmp_path / "t.jsonl"
    first = rollout(samples[:4], ScriptedPolicy(), out, config=RolloutConfig(samples=2), executor=pool)
    again = rollout(samples[:4], ScriptedPolicy(), out, config=RolloutConfig(samples=2, concurrency=3), executor=pool)
    assert (first.written, again.skipped, again.written) == (8, 8, 0)
    assert len(out.read_text().splitlines()) == 8 == len(load_trajectories(out))
    m = read_manifest(out)
    assert m["counts"]["trajectories"] == 8 and m["backend"] == "scripted" and m["counts"]["skipped_already_done"] == 8
    assert m["status"] == "complete" and m["config"]["samples"] == 2


@pytest.mark.parametrize("change", ["environments", "samples", "episode", "caller", "model"])
def test_resuming_with_another_configuration_is_refused(pool, samples, tmp_path, change):
    out = tmp_path / "t.jsonl"
    rollout(samples[:2], ScriptedPolicy(), out, executor=pool, identity={"seed": 0})
    before = out.read_bytes()
    envs, config, identity, backend = samples[:2], RolloutConfig(), {"seed": 0}, ScriptedPolicy()
    if change == "environments":
        envs = samples[:3]
    elif change == "samples":
        config = RolloutConfig(samples=2)
    elif change == "episode":
        config = RolloutConfig(episode=EpisodeConfig(max_turns=3))
    elif change == "caller":
        identity = {"seed": 1}
    else:
        backend.model = "another-model"
    with pytest.raises(RunRefused, match="--overwrite") as err:
        rollout(envs, backend, out, config=config, executor=pool, identity=identity)
    assert "\n" not in str(err.value) and out.read_bytes() == before  # one line; nothing written
    summary = rollout(envs, backend, out, config=config, executor=pool, identity=identity, overwrite=True)
    assert summary.skipped == 0 and len(load_trajectories(out)) == len(out.read_text().splitlines()) == summary.written


def test_failed_episodes_are_retried_on_resume(pool, samples, tmp_path):
    out = tmp_path / "t.jsonl"
    dead = make_backend(BackendConfig("openai", Endpoint(model="m", base_urls="http://127.0.0.1:9/v1", max_retries=0,
                                                         timeout_s=2)))
    first = rollout(samples[:3], dead, out, executor=pool)
    assert first.failed == first.failed_total == 3 and first.failed_fraction == 1.0
    assert read_manifest(out)["status"] == "incomplete" and "Connection" in next(iter(first.errors))
    assert first.kinds == {FailureKind.BACKEND: 3} and read_manifest(out)["failures_by_kind"] == {"backend": 3}
    assert {t.error_kind for t in load_trajectories(out)} == {FailureKind.BACKEND}
    assert '"error_kind":"backend"' in out.read_text()  # the stable string, as files hold it
    with ServerThread(create_app(samples)) as url:  # the same model, now served: only the failed ones run again
        second = rollout(samples[:3], make_backend(BackendConfig("openai", Endpoint(model="m", base_urls=url))), out,
                         executor=pool)
    assert (second.skipped, second.written, second.failed_total) == (0, 3, 0)
    latest = load_trajectories(out)
    assert len(out.read_text().splitlines()) == 6 and len(latest) == 3
    assert all(t.status == "completed" and t.metrics.solve_f1 == 1.0 for t in latest)
    assert read_manifest(out)["status"] == "complete"


def test_a_second_run_of_the_same_output_is_refused_while_the_first_runs(pool, samples, tmp_path):
    out = tmp_path / "t.jsonl"
    identity = rollout_identity(samples[:2], ScriptedPolicy(), RolloutConfig())
    with Run(out, kind="trajectories", identity=identity):
        with pytest.raises(RunRefused, match=f"another run \\(pid {os.getpid()}\\) is writing"):
            rollout(samples[:2], ScriptedPolicy(), out, executor=pool)
    assert rollout(samples[:2], ScriptedPolicy(), out, executor=pool).written == 2  # the lock went with the run
    assert not out.with_name(out.name + ".lock").exists()


def test_scripted_errors_are_reproducible(pool, samples, tmp_path):
    policy = lambda: ScriptedPolicy(ErrorRates(wrong_argument=0.3, missing_call=0.2, early_answer=0.1), seed=5)
    a = rollout(samples, policy(), tmp_path / "a.jsonl", config=RolloutConfig(samples=3, concurrency=1), executor=pool)
    b = rollout(samples, policy(), tmp_path / "b.jsonl", config=RolloutConfig(samples=3, concurrency=24), executor=pool)
    key = lambda p: sorted((r["env_id"], r["sample"], r["metrics"]["solve_f1"])
                           for r in map(json.loads, p.read_text().splitlines()))
    assert key(tmp_path / "a.jsonl") == key(tmp_path / "b.jsonl")
    assert 0 < a.mean_f1 == b.mean_f1 < 1


SCRIPT = textwrap.dedent("""
    import sys
    from toolgym.io import read_environments
    from toolgym.models import ScriptedPolicy
    from toolgym.rollout import RolloutConfig, rollout
    envs = list(read_environments(sys.argv[1]))
    rollout(envs, ScriptedPolicy(delay_s=0.05), sys.argv[2], config=RolloutConfig(samples=6, concurrency=4))
""")


def test_sigkill_halfway_then_rerun_loses_and_duplicates_nothing(samples, tmp_path):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, samples)
    out = tmp_path / "t.jsonl"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(envs), str(out)], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 12:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    halfway = len(load_trajectories(out))
    assert 12 <= halfway < 48, halfway
    subprocess.run([sys.executable, str(script), str(envs), str(out)], check=True, timeout=120)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    pairs = [(r["env_id"], r["sample"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 48
    # and its report is the uninterrupted run's (tests/evaluate shuffles the lines to show the order does not count)
    whole = tmp_path / "whole.jsonl"
    subprocess.run([sys.executable, str(script), str(envs), str(whole)], check=True, timeout=120)
    by_id = {e.id: e for e in samples}
    assert evaluate(load_trajectories(out), by_id).to_dict() == evaluate(load_trajectories(whole), by_id).to_dict()
