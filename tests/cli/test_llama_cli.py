"""Llama 3.1 end to end from the command line against the fake OpenAI-compatible server (``toolgym
serve-fake --tool-format llama3``): the rollout reads Llama's JSON calls (``--tool-format llama3``), the
episodes run to the answer, ``eval`` and ``score`` read them, and ``train prepare`` keeps the model's JSON
calls in the rows, in toolgym's layout and the paper's."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import read_trajectories, write_environments
from toolgym.models.fake_server import free_port
from toolgym.parse import tool_format

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def envs(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "train"})})
                              for e in samples])
    return path


def serve_fake(envs, *options):
    """``toolgym serve-fake`` as its own process; yields its URL once it announces it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "toolgym", "serve-fake", "--envs", str(envs), "--port", str(port),
                             *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if "fake OpenAI-compatible server at" in line:
            return proc, f"http://127.0.0.1:{port}/v1"
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError("serve-fake did not start")


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.parametrize("native", [False, True], ids=["calls in the text", "native calls"])
def test_llama_runs_end_to_end_from_the_cli(tmp_path, envs, samples, native):
    proc, url = serve_fake(envs, "--tool-format", "llama3", *([] if native else ["--text-tools"]))
    try:
        out = tmp_path / "t.jsonl"
        r = invoke("rollout", "--envs", envs, "--base-url", url, "--model", "llama", "--tool-format", "llama3",
                   "--out", out, "--workers", 1)
        assert r.exit_code == 0, r.output
        wrong = tmp_path / "wrong.jsonl"  # read as Hermes, a Llama episode ends at its first reply
        r = invoke("rollout", "--envs", envs, "--base-url", url, "--model", "llama", "--out", wrong, "--workers", 1)
        assert r.exit_code == 0, r.output
    finally:
        stop(proc)
    trajectories = list(read_trajectories(out))
    assert len(trajectories) == len(samples)
    assert all(t.metrics.solve_f1 == 1.0 and t.metrics.answer_correct for t in trajectories)
    # a Llama 3.1 model writes one call a turn (its templates render no more), and the paper's reading takes one
    one_call = [sum(len(turn) for turn in e.solution) for e in samples]
    assert one_call == [len(tool_format("llama3").turns(e.solution)) for e in samples]
    assert [len(t.steps) for t in trajectories] == [n + 1 for n in one_call]
    assert all(t.metadata["tool_format"] == "llama3" for t in trajectories)
    if not native:
        assert all(len(t.steps) == 1 and t.metrics.solve_f1 == 0.0 for t in read_trajectories(wrong))

    r = invoke("eval", "--envs", envs, "--trajectories", out)
    assert r.exit_code == 0 and "overall" in r.output, r.output
    report = tmp_path / "score.json"
    r = invoke("score", out, "--envs", envs, "--tool-format", "llama3", "--json", report)
    assert r.exit_code == 0, r.output
    assert "100.00" in r.output

    data = tmp_path / "data"
    r = invoke("train", "prepare", "--trajectories", out, "--envs", envs, "--out", data)
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (data / "turns.jsonl").read_text().splitlines()]
    replies = [r["response"] for r in rows if r["response"] and r["response"].startswith("{")]
    assert replies and all(r["tool_format"] == "llama3" for r in rows)
    assert not any("<tool_call>" in json.dumps(r["messages"]) + (r["response"] or "") for r in rows)
    for reply in replies:
        assert all(set(json.loads(part)) == {"name", "parameters"} for part in reply.split("; "))

    ref = tmp_path / "ref"
    r = invoke("train", "prepare", "--trajectories", out, "--envs", envs, "--out", ref, "--layout", "reference")
    assert r.exit_code == 0, r.output
    ref_rows = [json.loads(x) for x in (ref / "reference" / "train.jsonl").read_text().splitlines()]
    assert len(ref_rows) == len(rows) and (ref / "reference" / "train.parquet").exists()
    calls = [c for row in ref_rows for m in row["messages"] if m["role"] == "assistant" for c in m["tool_calls"] or []]
    assert calls and all(isinstance(c["function"]["arguments"], str) for c in calls)


def test_unknown_tool_format_is_one_line_naming_the_flag(tmp_path, envs):
    r = invoke("rollout", "--envs", envs, "--backend", "scripted", "--tool-format", "mistral", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "--tool-format" in r.output and "llama3" in r.output
    assert "Traceback" not in r.output
