"""Runs that never report a failed run as a result, never mix two configurations in one output, and never
write over their input: rollout, eval, compare, verify, score, import and export from the command line."""

import json

import pytest
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import Run, write_environments
from toolgym.models.fake_server import Faults, ServerThread, create_app

runner = CliRunner()
DEAD = "http://127.0.0.1:9/v1"  # nothing listens on the discard port: every request is refused


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def flat(result) -> str:
    return " ".join(result.output.split())


@pytest.fixture()
def envs(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples)
    return path


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_resuming_with_another_model_or_setting_is_refused_and_overwrite_starts_again(tmp_path, envs, samples):
    out = tmp_path / "t.jsonl"
    with ServerThread(create_app(samples)) as url:
        common = ("--envs", envs, "--backend", "openai", "--base-url", url, "--out", out, "--workers", 1)
        assert invoke("rollout", *common, "--model", "model-a").exit_code == 0
        before = out.read_bytes()
        for change in (("--model", "model-b"), ("--model", "model-a", "--seed", 1),
                       ("--model", "model-a", "--limit", 4), ("--model", "model-a", "--temperature", 1.0)):
            r = invoke("rollout", *common, *change)
            assert r.exit_code == 2 and "--overwrite" in flat(r) and "Traceback" not in r.output, change
            assert out.read_bytes() == before
        r = invoke("rollout", *common, "--model", "model-b")
        assert "model: \"model-a\" -> \"model-b\"" in flat(r)
        r = invoke("rollout", *common, "--model", "model-b", "--overwrite")
        assert r.exit_code == 0 and "8 new trajectories (0 already done" in flat(r)
    assert {row["model"] for row in _lines(out)} == {"model-b"} and len(_lines(out)) == 8


def test_eval_refuses_to_resume_another_configuration(tmp_path, envs):
    report = tmp_path / "r.json"
    common = ("--envs", envs, "--backend", "scripted", "--out", report, "--workers", 1)
    assert invoke("eval", *common, "--error-rate", "wrong_argument=0.3").exit_code == 0
    r = invoke("eval", *common, "--error-rate", "wrong_argument=0.6")
    assert r.exit_code == 2 and "errors.wrong_argument: 0.3 -> 0.6" in flat(r) and "--overwrite" in flat(r)
    r = invoke("eval", *common, "--error-rate", "wrong_argument=0.6", "--overwrite")
    assert r.exit_code == 0 and "8 new trajectories" in flat(r)


def test_a_dead_server_is_a_failed_run_not_a_result(tmp_path, envs):
    report = tmp_path / "r.json"
    r = invoke("eval", "--envs", envs, "--backend", "openai", "--base-url", DEAD, "--model", "m", "--limit", 2,
               "--out", report, "--workers", 1)
    text = flat(r)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "2 of 2 episode(s) failed" in text and "Connection" in text and "--max-failed-fraction" in text
    assert "100.00" not in text and not report.exists()  # no Solve-P 100 for a run that never ran
    kept = _lines(tmp_path / "r.trajectories.jsonl")
    assert len(kept) == 2 and all(row["status"] == "failed" for row in kept)


def test_failed_episodes_are_counted_kept_and_retried(tmp_path, envs, samples):
    out = tmp_path / "t.jsonl"
    broken = create_app(samples, faults=Faults(always_fail={samples[0].question}))
    with ServerThread(broken) as url:
        args = ("--envs", envs, "--backend", "openai", "--base-url", url, "--model", "m", "--out", out, "--workers", 1)
        r = invoke("rollout", *args)
    # 1 of 8 failed: more than the default share of 0.1, so no success, but the 7 others are kept
    assert r.exit_code == 1 and "1 of 8 episode(s) failed" in flat(r) and "500" in flat(r)
    assert len(_lines(out)) == 8
    r = invoke("eval", "--envs", envs, "--trajectories", out, "--out", tmp_path / "r.json")
    assert r.exit_code == 1 and "1 of 8 episode(s) failed" in flat(r) and not (tmp_path / "r.json").exists()
    # a share below the limit: shown and counted in the report, not fatal
    r = invoke("eval", "--envs", envs, "--trajectories", out, "--out", tmp_path / "r.json", "--max-failed-fraction", 0.5)
    assert r.exit_code == 0 and "1 of 8 episode(s) failed" in flat(r) and "1 failed episode(s)" in flat(r)
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["failed"] == 1
    with ServerThread(create_app(samples)) as url:
        args = ("--envs", envs, "--backend", "openai", "--base-url", url, "--model", "m", "--out", out, "--workers", 1)
        r = invoke("rollout", *args)
        assert r.exit_code == 0 and "1 new trajectories (7 already done, 0 failed" in flat(r)
    r = invoke("eval", "--envs", envs, "--trajectories", out)
    assert r.exit_code == 0 and "8 trajectories (0 failed" in flat(r)


def test_two_runs_of_one_output_cannot_run_at_once(tmp_path, envs, samples):
    out = tmp_path / "t.jsonl"
    with Run(out, kind="trajectories", identity={}):
        r = invoke("rollout", "--envs", envs, "--backend", "scripted", "--out", out, "--workers", 1)
        assert r.exit_code == 2 and "another run" in flat(r) and "is writing" in flat(r)
        r = invoke("build", "--n", 5, "--out", out, "--workers", 1)
        assert r.exit_code == 2 and "another run" in flat(r)
    r = invoke("rollout", "--envs", envs, "--backend", "scripted", "--out", out, "--workers", 1)
    assert r.exit_code == 0 and len(_lines(out)) == 8


def test_a_run_without_calls_is_marked_in_every_table(tmp_path, envs):
    traj = tmp_path / "t.jsonl"
    r = invoke("rollout", "--envs", envs, "--backend", "scripted", "--error-rate", "missing_call=1", "--out", traj,
               "--workers", 1)
    assert r.exit_code == 0
    r = invoke("eval", "--envs", envs, "--trajectories", traj, "--out", tmp_path / "silent.json")
    assert r.exit_code == 0 and "100.00\u2020" in r.output and "no tool call was made" in flat(r)
    assert "Answer acc.: the final reply contains the gold answer" in flat(r)
    r = invoke("score", traj, "--envs", envs)
    assert r.exit_code == 0 and "100.00\u2020" in r.output
    gold = tmp_path / "gold.json"
    assert invoke("eval", "--envs", envs, "--backend", "scripted", "--out", gold, "--workers", 1).exit_code == 0
    r = invoke("compare", tmp_path / "silent.json", gold)
    assert r.exit_code == 0 and "100.00\u2020 ->" in r.output and "t: \u2020 no tool call" in flat(r)


@pytest.mark.parametrize("case", ["verify", "eval", "eval-trajectories", "rollout", "score", "import", "export",
                                  "compare"])
def test_an_output_over_an_input_is_refused(tmp_path, envs, case):
    traj = tmp_path / "t.jsonl"
    assert invoke("rollout", "--envs", envs, "--backend", "scripted", "--out", traj, "--workers", 1).exit_code == 0
    args = {
        "verify": ("verify", envs, "--report", envs),
        "eval": ("eval", "--envs", envs, "--backend", "scripted", "--out", envs),
        "eval-trajectories": ("eval", "--envs", envs, "--trajectories", traj, "--out", tmp_path / "x" / ".." / "t.jsonl"),
        "rollout": ("rollout", "--envs", envs, "--backend", "scripted", "--out", envs),
        "score": ("score", traj, "--json", traj),
        "import": ("import", envs, envs, "--format", "toolgym"),
        "export": ("export", envs, envs),
        "compare": ("compare", traj, traj, "--chart", traj),
    }[case]
    before = {p: p.read_bytes() for p in (envs, traj)}
    r = invoke(*args)
    assert r.exit_code == 2 and "would destroy the input" in flat(r) and "Traceback" not in r.output
    assert flat(r).startswith("error:") and r.output.count("error:") == 1  # the one message, nothing else
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize("args, flag", [
    (("eval", "--backend", "scripted", "--limit", -5), "--limit"),
    (("rollout", "--backend", "scripted", "--out", "x.jsonl", "--samples", 0), "--samples"),
    (("eval", "--backend", "scripted", "--timeout", -1), "--timeout"),
    (("eval", "--backend", "scripted", "--max-failed-fraction", 2), "--max-failed-fraction"),
])
def test_bad_numbers_are_refused_before_anything_runs(tmp_path, envs, args, flag, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke(*args[:1], "--envs", envs, *args[1:])
    assert r.exit_code == 2 and flag in r.output and "Traceback" not in r.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "x.jsonl").exists()


def test_verify_batch_zero_is_refused(envs):
    r = invoke("verify", envs, "--batch", 0)
    assert r.exit_code == 2 and "--batch" in r.output
