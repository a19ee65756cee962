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


def test_bench_list_says_what_runs_here():
    res = invoke("bench", "--list")
    assert res.exit_code == 0
    for entry in ("own", "bfcl", "toolhop", "taubench", "tau2", "rotbench", "general"):
        assert f" {entry} " in res.output
    assert "--bfcl-handler" in res.output and "web_search_base" in res.output


def _refusing_app():
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat():
        return JSONResponse({"error": {"message": "model not loaded"}}, status_code=400)

    return app


@pytest.mark.skipif(bfcl_unavailable() is not None, reason=bfcl_unavailable() or "")
def test_a_run_whose_items_failed_exits_non_zero(tmp_path):
    with ServerThread(_refusing_app()) as url:
        res = invoke("bench", "m", "--suite", "bfcl", "--base-url", url, "--out", tmp_path,
                     "--bfcl-categories", "irrelevance", "--per-category", "2")
    assert res.exit_code == 1 and "--max-failed-fraction" in res.output
    assert (tmp_path / "suite.json").exists() and len((tmp_path / "bfcl.jsonl").read_text().splitlines()) == 2


def _tau2_app():
    """One OpenAI-compatible server playing both sides of tau2's mock domain: the user (its system prompt is
    tau2's user guidelines) states its scenario, then stops once told "Done."; the agent finds the task by
    that scenario, does its gold actions, then says "Done."."""
    from fastapi import FastAPI, Request
    from tau2.domains.mock.environment import get_tasks

    tasks = get_tasks()
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        messages = body["messages"]
        if messages[0]["content"].startswith("# User Simulation Guidelines"):
            said = [m for m in messages if m["role"] == "user"]
            scenario = messages[0]["content"].split("<scenario>")[1].split("</scenario>")[0].strip()
            msg = {"role": "assistant", "content": "###STOP###" if str(said[-1]["content"]).startswith("Done")
                   else scenario}
        else:
            first = next((m["content"] for m in messages if m["role"] == "user"), "")
            task = next((t for t in tasks if t.user_scenario.instructions in str(first)), None)
            actions = (task.evaluation_criteria.actions or []) if task else []
            msg = {"role": "assistant", "content": "Done."}
            if messages[-1]["role"] == "user" and actions:
                msg = {"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"c{len(messages)}_{i}", "type": "function",
                     "function": {"name": a.name, "arguments": json.dumps(a.arguments)}} for i, a in enumerate(actions)]}
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    return app


def test_tau2_mock_domain_end_to_end_over_http(tmp_path):
    from toolgym.bench.tau2bench import tau2_unavailable

    if tau2_unavailable():
        pytest.skip(tau2_unavailable())
    with ServerThread(_tau2_app()) as url:
        res = invoke("bench", "agent", "--suite", "tau2", "--tau2-domains", "mock", "--base-url", url,
                     "--tau-user-model", "user", "--tau-user-base-url", url, "--out", tmp_path)
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "suite.json").read_text())["reports"]["tau2"]
    assert rep["counts"] == {"items": 9, "failed": 0}
    rows = {json.loads(line)["id"]: json.loads(line) for line in (tmp_path / "tau2.jsonl").read_text().splitlines()}
    assert rows["mock:create_task_1"]["metrics"]["reward"] == 1.0
    assert rows["mock:create_task_1"]["detail"]["reward_info"]["db_check"]["db_match"] is True
    assert 0 < rep["groups"]["mock"]["pass^1"]["mean"] <= 1
    assert "pass^1" in res.output
    missing_user = invoke("bench", "agent", "--suite", "tau2", "--base-url", url, "--out", tmp_path / "x")
    assert missing_user.exit_code == 2 and "--tau-user-model" in missing_user.output


def test_a_rerun_with_another_benchmark_option_is_refused_and_overwrite_starts_again(tmp_path, data_dir, samples):
    args = ("bench", "fake-model", "--suite", "rotbench", "--rotbench", data_dir / "rotbench", "--out", tmp_path)
    with ServerThread(create_app(samples)) as url:
        first = invoke(*args, "--base-url", url)
        assert first.exit_code == 0, first.output
        lines = (tmp_path / "rotbench.jsonl").read_text()
        again = invoke(*args, "--base-url", url)  # the same run: everything is done already
        assert again.exit_code == 0 and "0 run, 5 already in" in " ".join(again.output.split())
        other = invoke(*args, "--base-url", url, "--rotbench-variant", "ftrl")
        assert other.exit_code == 2 and (tmp_path / "rotbench.jsonl").read_text() == lines
        flat = " ".join(other.output.split())
        assert 'options.variant: "rotbench" -> "ftrl"' in flat and "--overwrite" in flat and "Traceback" not in flat
        fresh = invoke(*args, "--base-url", url, "--rotbench-variant", "ftrl", "--overwrite")
    assert fresh.exit_code == 0 and "5 run, 0 already in" in " ".join(fresh.output.split())


def test_the_model_can_be_given_as_rollout_and_eval_take_it(tmp_path, data_dir, samples):
    args = ("bench", "--model", "fake-model", "--suite", "rotbench", "--rotbench", data_dir / "rotbench")
    with ServerThread(create_app(samples)) as url:
        named = invoke(*args, "--out", tmp_path / "a", "--base-url", url)
        assert named.exit_code == 0, named.output
        assert json.loads((tmp_path / "a" / "suite.json").read_text())["model"] == "fake-model"
    both = invoke("bench", "one", "--model", "other", "--suite", "rotbench", "--out", tmp_path / "b")
    assert both.exit_code == 2 and "two models given" in " ".join(both.output.split())
