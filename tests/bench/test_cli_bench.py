"""``toolgym bench``, ``bench-compare`` and ``contamination`` end to end: a real OpenAI-compatible server on
loopback, real files, the combined before/after table."""

import json

import pytest
from typer.testing import CliRunner

from toolgym.bench.bfcl import bfcl_unavailable
from toolgym.cli import app
from toolgym.io import write_environments
from toolgym.models import ErrorRates
from toolgym.models.fake_server import ServerThread, create_app

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def envs_file(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples)
    return path


def _bench(url, out, envs_file, data_dir, name, *extra):
    return invoke("bench", "fake-model", "--suite", "own,rotbench,toolhop", "--backend", "openai", "--base-url", url,
                  "--out", out, "--name", name, "--envs", envs_file, "--executor", "unsafe-inprocess",
                  "--rotbench", data_dir / "rotbench", "--toolhop", data_dir / "toolhop.json", *extra)


def test_bench_before_after_table(tmp_path, envs_file, data_dir, samples):
    with ServerThread(create_app(samples, errors=ErrorRates(wrong_argument=1.0))) as url:
        before = _bench(url, tmp_path / "base", envs_file, data_dir, "base")
    assert before.exit_code == 0, before.output
    with ServerThread(create_app(samples)) as url:
        after = _bench(url, tmp_path / "trained", envs_file, data_dir, "trained",
                       "--compare-to", tmp_path / "base" / "suite.json")
    assert after.exit_code == 0, after.output
    suite = json.loads((tmp_path / "trained" / "suite.json").read_text())
    assert set(suite["reports"]) == {"own", "rotbench", "toolhop"}
    own = suite["reports"]["own"]["groups"]["overall"]
    assert own["solve_f1"]["mean"] == 1.0 and own["solve_f1"]["n"] == len(samples)
    assert suite["reports"]["rotbench"]["counts"] == {"items": 5, "failed": 0}  # the server does not know them: 0
    md = (tmp_path / "trained" / "compare.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| own | overall | solve_f1 |"))
    assert "| 100.00 [" in row and not row.endswith("| +0.00 |")
    assert (tmp_path / "trained" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "trained" / "rotbench.jsonl").exists()
    again = invoke("bench-compare", tmp_path / "base" / "suite.json", tmp_path / "trained" / "suite.json",
                   "--markdown", tmp_path / "c.md", "--chart", tmp_path / "c.png")
    assert again.exit_code == 0 and (tmp_path / "c.md").read_text() == md


@pytest.mark.skipif(bfcl_unavailable() is not None, reason=bfcl_unavailable() or "")
def test_bench_bfcl_over_http(tmp_path, samples):
    with ServerThread(create_app(samples)) as url:  # answers BFCL questions with "I do not know."
        res = invoke("bench", "fake-model", "--suite", "bfcl", "--base-url", url, "--out", tmp_path,
                     "--bfcl-categories", "simple_python,irrelevance", "--per-category", "3")
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "suite.json").read_text())["reports"]["bfcl"]
    assert rep["groups"]["irrelevance"]["accuracy"]["mean"] == 1.0
    assert rep["groups"]["simple_python"]["accuracy"]["mean"] == 0.0


def test_scripted_backend_only_runs_own(tmp_path):
    res = invoke("bench", "x", "--suite", "bfcl", "--backend", "scripted", "--out", tmp_path)
    assert res.exit_code == 2 and "--suite own" in res.output


def test_missing_data_names_the_option(tmp_path, envs_file):
    res = invoke("bench", "x", "--suite", "toolhop", "--base-url", "http://127.0.0.1:9/v1", "--out", tmp_path)
    assert res.exit_code == 2 and "--toolhop" in res.output


def test_general_is_skipped_with_a_reason(tmp_path, samples):
    with ServerThread(create_app(samples)) as url:
        res = invoke("bench", "fake-model", "--suite", "general", "--base-url", url, "--out", tmp_path)
    assert res.exit_code == 0
    suite = json.loads((tmp_path / "suite.json").read_text())
    assert "general" in suite["skipped"] and "lm-eval" in suite["skipped"]["general"]


def test_contamination_cli(tmp_path, envs_file, data_dir):
    out = tmp_path / "overlap.json"
    res = invoke("contamination", envs_file, "--against", "toolhop,rotbench", "--toolhop", data_dir / "toolhop.json",
                 "--rotbench", data_dir / "rotbench", "--out", out)
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["benchmarks"]["toolhop"]["items"] == 3 and report["benchmarks"]["rotbench"]["items"] == 5
    assert report["benchmarks"]["toolhop"]["identical_questions"] == 0
