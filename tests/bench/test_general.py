"""The general-capability check: a real lm-eval run of the tiny model on a task whose data is a local
file (nothing is downloaded), and clear skips when it cannot run."""

import json

import pytest

from toolgym.bench.general import GeneralSkipped, LmEvalModel, lm_eval_unavailable, run_general, to_report

TASK = """task: toolgym_tiny_qa
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""
ROWS = [{"question": "What colour is a clear sky?", "choices": ["blue", "green"], "answer": 0},
        {"question": "How much is 2 + 2?", "choices": ["4", "5"], "answer": 0},
        {"question": "What is the capital of France?", "choices": ["Rome", "Paris"], "answer": 1},
        {"question": "Which is a fruit?", "choices": ["apple", "stone"], "answer": 0}]


def test_model_types_for_each_backend():
    assert LmEvalModel("transformers", "Qwen/Qwen2.5-7B-Instruct").lm_eval_args()[0] == "hf"
    kind, args = LmEvalModel("openai", "m", "http://127.0.0.1:8000/v1/").lm_eval_args()
    assert kind == "local-completions" and args["base_url"] == "http://127.0.0.1:8000/v1/completions"
    with pytest.raises(GeneralSkipped, match="transformers, vllm or openai"):
        LmEvalModel("scripted", "x").lm_eval_args()


def test_lm_eval_results_become_a_report():
    out = {"results": {"gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.5, "exact_match_stderr,strict-match": 0.1,
                                 "exact_match,flexible-extract": 0.6, "exact_match_stderr,flexible-extract": "N/A"}},
           "n-samples": {"gsm8k": {"original": 1319, "effective": 100}}}
    rep = to_report(out, "m")
    s = rep.value("gsm8k", "exact_match (strict-match)")
    assert s.mean == 0.5 and s.low == pytest.approx(0.5 - 0.196, abs=1e-3) and s.n == 100
    assert rep.headline == [("gsm8k", "exact_match (strict-match)")]


@pytest.mark.skipif(lm_eval_unavailable() is not None, reason=lm_eval_unavailable() or "")
def test_unknown_task_is_a_clear_skip(tmp_path):
    with pytest.raises(GeneralSkipped, match="does not know the task"):
        run_general(LmEvalModel("transformers", "x"), ["no_such_task_xyz"], include_path=str(tmp_path), defaults=False)
    with pytest.raises(GeneralSkipped, match="no lm-eval tasks named"):
        run_general(LmEvalModel("transformers", "x"), [])


@pytest.mark.skipif(lm_eval_unavailable() is not None, reason=lm_eval_unavailable() or "")
def test_tiny_model_on_a_local_task(tmp_path, tiny_chat_model, monkeypatch):
    pytest.importorskip("accelerate")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lm_eval.models.huggingface import HFLM

    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "tiny_qa.yaml").write_text(TASK.format(data=data))
    model, tokenizer = tiny_chat_model
    rep = run_general(HFLM(pretrained=model, tokenizer=tokenizer, device="cpu", batch_size=4), ["toolgym_tiny_qa"],
                      include_path=str(tmp_path), name="tiny", defaults=False)
    acc = rep.value("toolgym_tiny_qa", "acc")
    assert acc.n == 4 and acc.mean in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert rep.headline == [("toolgym_tiny_qa", "acc")] and rep.model == "tiny"
