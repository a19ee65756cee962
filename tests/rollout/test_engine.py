"""The rollout engine: resumable, append-only, concurrent."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from toolgym.io import read_manifest, write_environments
from toolgym.models import ErrorRates, ScriptedPolicy
from toolgym.rollout import RolloutConfig, finished_pairs, rollout


def test_rerun_skips_finished_pairs(pool, samples, tmp_path):
    out = tmp_path / "t.jsonl"
    first = rollout(samples[:4], ScriptedPolicy(), out, config=RolloutConfig(samples=2), executor=pool)
    again = rollout(samples, ScriptedPolicy(), out, config=RolloutConfig(samples=3), executor=pool)
    assert (first.written, again.skipped, again.written) == (8, 8, 16)
    assert len(out.read_text().splitlines()) == 24 == len(finished_pairs(out))
    m = read_manifest(out)
    assert m["counts"]["trajectories"] == 24 and m["backend"] == "scripted" and m["counts"]["skipped_already_done"] == 8


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
    halfway = len(finished_pairs(out))
    assert 12 <= halfway < 48, halfway
    subprocess.run([sys.executable, str(script), str(envs), str(out)], check=True, timeout=120)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    pairs = [(r["env_id"], r["sample"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 48
