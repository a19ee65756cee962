"""``toolgym rollout``, ``eval`` and ``compare`` end to end (scripted baseline and a local HTTP server)."""

import json

import pytest
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import write_environments
from toolgym.models.fake_server import ServerThread, create_app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def envs(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples)
    return path


def test_rollout_eval_compare(tmp_path, envs):
    out = tmp_path / "careless.jsonl"
    r = invoke("rollout", "--envs", envs, "--backend", "scripted", "--error-rate", "wrong_argument=0.5",
               "--samples", 3, "--out", out, "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "24 new trajectories" in r.output
    again = invoke("rollout", "--envs", envs, "--backend", "scripted", "--error-rate", "wrong_argument=0.5",
                   "--samples", 3, "--out", out, "--workers", 1)
    assert "0 new trajectories (24 already done" in again.output
    report_a = tmp_path / "a.json"
    r = invoke("eval", "--envs", envs, "--trajectories", out, "--out", report_a, "--name", "careless")
    assert r.exit_code == 0 and "overall" in r.output and "24 trajectories" in r.output
    report_b = tmp_path / "b.json"
    r = invoke("eval", "--envs", envs, "--backend", "scripted", "--out", report_b, "--name", "gold", "--workers", 1)
    assert r.exit_code == 0, r.output
    assert json.loads(report_b.read_text())["groups"]["overall"]["solve_f1"]["mean"] == 1.0
    chart = tmp_path / "chart.png"
    r = invoke("compare", report_a, report_b, "--chart", chart)
    assert r.exit_code == 0 and "careless -> gold" in r.output and chart.exists()
    r = invoke("compare", out, report_b, "--envs", envs)
    assert r.exit_code == 0


def test_rollout_against_a_server(tmp_path, envs, samples):
    out = tmp_path / "t.jsonl"
    with ServerThread(create_app(samples)) as url:
        r = invoke("rollout", "--envs", envs, "--backend", "openai", "--base-url", url, "--model", "fake",
                   "--out", out, "--workers", 1, "--limit", 4)
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == 4


def test_clear_errors(tmp_path, envs):
    r = invoke("rollout", "--envs", envs, "--backend", "openai", "--out", tmp_path / "x.jsonl")
    assert r.exit_code == 2 and "--model" in r.output
    r = invoke("rollout", "--envs", envs, "--backend", "scripted", "--error-rate", "typo=0.1", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "wrong_argument" in r.output
    r = invoke("rollout", "--envs", envs, "--backend", "nope", "--model", "m", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "scripted" in r.output
    r = invoke("eval", "--envs", envs, "--trajectories", tmp_path / "missing.jsonl")
    assert r.exit_code == 2
    r = invoke("rollout", "--envs", envs, "--backend", "scripted", "--split", "train", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "split" in r.output


def test_a_refused_key_is_one_clear_error_not_failed_trajectories(tmp_path, envs, samples, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "t.jsonl"
    with ServerThread(create_app(samples, api_key="sesame")) as url:
        r = runner.invoke(app, ["rollout", "--envs", str(envs), "--base-url", url, "--model", "fake", "--out",
                                str(out), "--workers", "1", "--samples", "3"])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "HTTP 401" in text and "OPENAI_API_KEY" in text and "--base-url" in text
    assert "Traceback" not in r.output
    assert not out.exists() or out.read_text() == ""
