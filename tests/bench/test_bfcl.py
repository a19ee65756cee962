"""BFCL offline, end to end: bfcl-eval's shipped data and loaders, toolgym backends, bfcl-eval's AST checker.

An oracle that answers with BFCL's own possible answers must score 100%, a backend that gets the values
wrong must score 0, and the tiny random model must run through every category without a failed item."""

import json

import pytest
from bench_helpers import Scripted

from toolgym.bench import load_results, run_benchmark
from toolgym.bench.bfcl import BFCL, NON_LIVE, bfcl_unavailable, expand_categories

why = bfcl_unavailable()
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")

PYTHON_AST = ("simple_python", "multiple", "parallel", "parallel_multiple")


def _value(v):
    """The first acceptable value of a BFCL possible-answer list ("" means: leave the parameter out)."""
    if isinstance(v, list):
        v = next((x for x in v if x != ""), "")
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items() if _value(x) != ""}
    return v


def _gold_calls(item):
    calls = []
    for call in item.data.get("ground_truth", []):
        (name, args), = call.items()
        calls.append((name, {k: _value(v) for k, v in args.items() if _value(v) != ""}))
    return calls


def oracle(items, *, mode="fc", corrupt=False):
    replies = {}
    for it in items:
        calls = _gold_calls(it)
        if corrupt:
            calls = [(n, {k: "WRONG" for k in a} or {"x": 1}) for n, a in calls] or [("determine_body_mass_index",
                                                                                      {"weight": 1.0, "height": 2.0})]
        if mode == "fc":
            text = "\n".join("<tool_call>\n" + json.dumps({"name": n.replace(".", "_"), "arguments": a}) + "\n</tool_call>"
                             for n, a in calls) or "No function fits this request."
        else:
            text = "[" + ", ".join(f"{n}(" + ", ".join(f"{k}={v!r}" for k, v in a.items()) + ")" for n, a in calls) + "]"
            text = text if calls else "None of the functions can be used."
        replies[f"bfcl:{it.id}"] = [text]
    return Scripted(replies)


def test_loads_the_shipped_data_offline():
    bench = BFCL(["non_live"])
    items = bench.items()
    counts = {c: sum(it.category == c for it in items) for c in NON_LIVE}
    assert counts["simple_python"] == 400 and counts["multiple"] == 200 and counts["irrelevance"] == 240
    assert len({it.id for it in items}) == len(items)
    assert all("ground_truth" in it.data for it in items if it.category != "irrelevance")
    # the model sees BFCL's language hint; the checker keeps the original documents
    java = next(it for it in items if it.category == "simple_java")
    assert "Java 8 SDK syntax" in java.data["function"][0]["description"]
    assert "Java 8 SDK syntax" not in java.data["checker_function"][0]["description"]


def test_category_groups_and_unknown_names():
    assert expand_categories(["non_live", "parallel"]) == list(NON_LIVE)
    assert "live_simple" in expand_categories(["live"])
    with pytest.raises(ValueError, match="multi_turn_base"):
        expand_categories(["multi_turn_base"])


@pytest.mark.parametrize("mode", ["fc", "prompt"])
def test_oracle_scores_full_marks_with_bfcls_checker(tmp_path, mode):
    bench = BFCL([*PYTHON_AST, "irrelevance"], mode=mode, per_category=6)
    items = bench.items()
    run = run_benchmark(bench, oracle(items, mode=mode), tmp_path / "bfcl.jsonl")
    wrong = [(r.id, r.detail) for r in run.results if r.metrics["accuracy"] != 1.0]
    assert not wrong
    assert run.report.value("non_live", "accuracy").mean == 1.0
    assert run.report.value("overall", "accuracy").n == len(items) == 30


def test_wrong_values_and_unwanted_calls_score_zero(tmp_path):
    bench = BFCL([*PYTHON_AST, "irrelevance"], per_category=4)
    run = run_benchmark(bench, oracle(bench.items(), corrupt=True), tmp_path / "bfcl.jsonl")
    assert all(r.metrics["accuracy"] == 0.0 for r in run.results)
    kinds = {r.detail.get("error_type", "").split(":")[0] for r in run.results}
    assert {"irrelevance_error", "value_error"} <= kinds or {"irrelevance_error", "type_error"} <= kinds


def test_function_names_reach_the_model_without_dots(tmp_path):
    bench = BFCL(["simple_python"], per_category=3)
    backend = oracle(bench.items())
    run_benchmark(bench, backend, tmp_path / "bfcl.jsonl")
    names = [t["function"]["name"] for r in backend.requests for t in r.tools]
    assert "math_factorial" in names and not any("." in n for n in names)
    assert all(t["function"]["parameters"]["type"] == "object" for r in backend.requests for t in r.tools)


def test_live_categories_run_offline_too(tmp_path):
    bench = BFCL(["live_simple", "live_parallel", "live_irrelevance"], per_category=3)
    run = run_benchmark(bench, oracle(bench.items()), tmp_path / "live.jsonl")
    assert run.report.value("live", "accuracy").mean == 1.0
    assert run.report.value("live_irrelevance", "accuracy").mean == 1.0


def test_tiny_model_end_to_end_and_resume(tmp_path, tiny_chat_model):
    """The real plumbing with a real (random, tiny) transformers model: every non-live category is
    prompted through the chat template, every reply decoded and checked; the score is whatever it is."""
    from toolgym.models._local import TransformersBackend

    model, tokenizer = tiny_chat_model
    backend = TransformersBackend(model, tokenizer, device="cpu", max_new_tokens=8, batch_size=8, seed=0)
    bench = BFCL(["non_live"], per_category=2)
    out = tmp_path / "bfcl-tiny.jsonl"
    run = run_benchmark(bench, backend, out, concurrency=8)
    assert run.ran == 14 and all(r.status == "ok" for r in run.results)
    assert {r.category for r in run.results} == set(NON_LIVE)
    assert all(r.messages[-1]["role"] == "assistant" for r in run.results)
    assert 0.0 <= run.report.value("non_live", "accuracy").mean <= 1.0
    # garbage is scored, with BFCL's error types, not crashed on
    assert all(r.detail.get("error_type") for r in run.results if r.metrics["accuracy"] == 0.0)
    again = run_benchmark(bench, backend, out)
    assert again.ran == 0 and again.reused == 14
    assert len(load_results(out)) == 14
