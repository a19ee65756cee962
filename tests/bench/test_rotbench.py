"""RoTBench: each variant reads a reply exactly as its reference does.

The expected verdicts below were produced by running the references themselves on these records and
replies: RoTBench's ``Code/Evaluation/evaluate.py`` (``general_eval`` over one test/answer pair at a time;
Junjie-Ye/RoTBench 637e43ae) and the scoring lines of the paper's ``Code/evaluation/evaluation_rotbench.py``
(bytedance/FTRL 3ea979b4). The records are written here in RoTBench's release format."""

import json

import pytest
from bench_helpers import Scripted

from toolgym.bench import BenchDataError, run_benchmark
from toolgym.bench.rotbench import (
    RoTBench,
    lenient_form,
    load_items,
    official_action,
    score_ftrl,
    score_rotbench,
    tool_list,
)
from toolgym.models import Generation


def system(tools):
    return ("You are an expert in using tools.\nTask description: You should use tools. Specifically, you have access "
            "of the following tools:\n" + json.dumps(tools) + "\n\nLet's Begin!")


def tool(name, *params):
    return {"name": name, "description": f"{name} tool", "parameters": {
        "type": "object", "properties": {p: {"type": "string"} for p in params}, "required": list(params)}}


CLEAN = [tool("get_weather", "city", "unit"), tool("get_forecast", "city", "days"), tool("ask_to_user", "question"),
         tool("finish", "answer")]
NOISY = [*CLEAN[:3], tool("fnish", "answer")]  # the finish tool renamed by noise
HEAVY = [tool("finish", "city"), tool("get_forecast", "city", "days"), tool("qz_ask", "question"), tool("zz_end", "answer")]


def rec(tools, answers, q="What is the weather in Paris?"):
    return {"id": f"Turn 1: {q}", "scenario": "RS", "conversations": [
        {"from": "system", "value": system(tools)}, {"from": "user", "value": q}, {"from": "assistant", "value": answers}]}


W = 'Thought: x\nAction: get_weather\nAction Input: {"city": "Paris", "unit": "None"}'
F = 'Thought: x\nAction: get_forecast\nAction Input: {"city": "Paris", "days": "1"}'
RECORDS = {
    "clean": rec(CLEAN, [W, F]),
    "noisy_finish": rec(NOISY, ['Thought: done\nAction: fnish\nAction Input: {"answer": "Sunny."}']),
    "ask": rec(CLEAN, ['Thought: ask\nAction: ask_to_user\nAction Input: {"question": "Which city?"}']),
    "heavy_literal": rec(HEAVY, ['Thought: x\nAction: finish\nAction Input: {"city": "Paris"}']),
    "list_value": rec(CLEAN, ['Thought: x\nAction: get_forecast\nAction Input: {"city": ["Paris", "Lyon"], "days": "1"}']),
}


def act(name, args, thought="Thought: the user wants this.\n"):
    return f"{thought}Action: {name}\nAction Input: {args}"


# (record, case, reply, RoTBench evaluate.py (TS, PI, CF), the paper's script (TS, PI, CF))
CASES = [
    ("clean", "gold_first", act("get_weather", '{"city": "Paris", "unit": "celsius"}'), (1, 1, 1), (1, 1, 0)),
    ("clean", "gold_second", act("get_forecast", '{"city": "Paris", "days": "1"}'), (1, 1, 1), (1, 1, 1)),
    ("clean", "wrong_value", act("get_weather", '{"city": "Lyon", "unit": "celsius"}'), (1, 1, 0), (1, 1, 0)),
    ("clean", "missing_param", act("get_weather", '{"city": "Paris"}'), (1, 0, 0), (1, 0, 0)),
    ("clean", "no_space_after_action", 'Thought: x\nAction:get_weather\nAction Input: {"city": "Paris", "unit": "c"}',
     (0, 0, 0), (0, 0, 0)),
    ("clean", "space_before_newline", 'Thought: x\nAction: get_weather \nAction Input: {"city": "Paris", "unit": "c"}',
     (0, 0, 0), (1, 1, 0)),
    ("clean", "two_newlines", 'Thought: x\nAction: get_weather\n\nAction Input: {"city": "Paris", "unit": "c"}',
     (0, 0, 0), (1, 1, 0)),
    ("clean", "no_space_after_input", 'Thought: x\nAction: get_weather\nAction Input:{"city": "Paris", "unit": "c"}',
     (0, 0, 0), (0, 0, 0)),
    ("clean", "trailing_text", act("get_weather", '{"city": "Paris", "unit": "c"}\nObservation: waiting'), (0, 0, 0),
     (0, 0, 0)),
    ("clean", "empty_input", act("get_weather", "{}"), (0, 0, 0), (1, 0, 0)),
    ("clean", "string_input", act("get_weather", '"Paris"'), (0, 0, 0), (0, 0, 0)),
    ("clean", "prose", "The weather in Paris is nice.", (0, 0, 0), (0, 0, 0)),
    ("clean", "think_other_action", "<think>\nAction: get_forecast\nAction Input: maybe\n</think>\n\n"
     + act("get_weather", '{"city": "Paris", "unit": "c"}'), (0, 0, 0), (0, 0, 0)),
    ("clean", "think_then_answer", "<think>\nI should call get_weather.\n</think>\n\n"
     + act("get_weather", '{"city": "Paris", "unit": "c"}'), (1, 1, 1), (1, 1, 0)),
    ("noisy_finish", "finish_alias", act("finish", '{"answer": "Cloudy."}'), (1, 1, 1), (0, 0, 0)),
    ("noisy_finish", "noisy_name_other_keys", act("fnish", '{"text": "Cloudy."}'), (1, 0, 0), (1, 0, 0)),
    ("ask", "ask_any_value", act("ask_to_user", '{"question": "Where?"}'), (1, 1, 1), (1, 1, 0)),
    ("heavy_literal", "literal_finish_wrong_value", act("finish", '{"city": "Lyon"}'), (1, 1, 1), (1, 1, 0)),
    ("list_value", "list_value_equal", act("get_forecast", '{"city": ["Paris", "Lyon"], "days": "1"}'), (1, 1, 1),
     (1, 1, 0)),
]


def _scores(d):
    return tuple(int(v) for v in d.values())


@pytest.mark.parametrize("record, case, reply, official, paper", CASES, ids=[c[1] for c in CASES])
def test_each_variant_gives_its_references_verdict(record, case, reply, official, paper):
    conv = RECORDS[record]["conversations"]
    assert _scores(score_rotbench(reply, conv[-1]["value"], tool_list(conv[0]["value"]))) == official
    assert _scores(score_ftrl(reply, conv[-1]["value"])) == paper


def test_official_slicing():
    assert official_action('Action: get_x\nAction Input: {"a": 1}') == ("get_x", {"a": 1})
    assert official_action('Action:get_x\nAction Input: {"a": 1}') == ("et_x", {"a": 1})  # +8 eats a character
    assert official_action('Action: get_x\n\nAction Input: {"a": 1}') == ("get_x\n", {"a": 1})  # one newline removed
    assert official_action('Action: get_x\nAction Input: not json')[1] == 0


def _dump(tmp_path, records):
    folder = tmp_path / "Data" / "First_Turn"
    folder.mkdir(parents=True)
    (folder / "heavy.json").write_text(json.dumps(records))
    return tmp_path / "Data"


def _run(tmp_path, replies, **options):
    bench = RoTBench(_dump(tmp_path, [RECORDS[r] for r, *_ in replies]), **options)
    items = bench.items()
    backend = Scripted({f"rotbench:{it.id}": [reply] for it, (_, reply) in zip(items, replies)})
    return run_benchmark(bench, backend, tmp_path / "rot.jsonl")


def test_run_scores_the_raw_reply_and_reports_how(tmp_path):
    cases = [(r, reply) for r, case, reply, *_ in CASES if case.startswith("think")]
    run = _run(tmp_path, cases)
    assert [_scores(r.metrics) for r in run.results] == [(0, 0, 0), (1, 1, 1)]  # as evaluate.py: think kept
    assert any("reasoning kept" in n for n in run.report.notes)
    strip = _run(tmp_path / "strip", cases, think="strip")
    assert [_scores(r.metrics) for r in strip.results] == [(1, 1, 1), (1, 1, 1)]
    assert any("reasoning removed" in n for n in strip.report.notes)


def test_reasoning_returned_apart_is_scored_with_the_reply(tmp_path):
    """A server that splits the reasoning off (reasoning_content) gets it put back in front, as a local
    model's raw output has it: the think_other_action reply scores as evaluate.py scores its raw text."""
    reply = act("get_weather", '{"city": "Paris", "unit": "c"}')
    bench = RoTBench(_dump(tmp_path, [RECORDS["clean"]]))
    item = bench.items()[0]

    class Split:
        model = name = "split"

        async def generate(self, requests):
            return [Generation(text=reply, message={"role": "assistant", "content": reply, "reasoning_content":
                                                    "Action: get_forecast\nAction Input: maybe"})]

        async def aclose(self):
            return None

    run = run_benchmark(bench, Split(), tmp_path / "r.jsonl")
    assert _scores(run.results[0].metrics) == (0, 0, 0) and item.id == run.results[0].id


def test_lenient_reading_is_an_option(tmp_path):
    assert lenient_form('Thought: x\nAction:get_weather  \nAction Input:{"city": "Paris", "unit": "c"} more') == \
        'Action: get_weather\nAction Input: {"city": "Paris", "unit": "c"}'
    sloppy = [("clean", 'Thought: x\nAction:get_weather \nAction Input:{"city": "Paris", "unit": "c"}\nDone.')]
    assert _scores(_run(tmp_path, sloppy).results[0].metrics) == (0, 0, 0)
    lenient = _run(tmp_path / "l", sloppy, lenient=True)
    assert _scores(lenient.results[0].metrics) == (1, 1, 1) and any("lenient" in n for n in lenient.report.notes)


def test_reading_the_release_folders(data_dir):
    items = load_items(data_dir / "rotbench")
    cats = [i.category for i in items]
    assert cats.count("first_turn/clean") == 3 and cats.count("first_turn/slight") == 1
    assert cats.count("third_turn/clean") == 1
    third = next(i for i in items if i.category == "third_turn/clean")
    assert [m["role"] for m in third.data["messages"]] == ["system", "user", "assistant", "user"]
    assert [t["name"] for t in tool_list(items[0].data["messages"][0]["content"])][-1] == "finish"


def test_run_and_report_per_noise_level(data_dir, tmp_path):
    bench = RoTBench(data_dir / "rotbench")
    items = bench.items()
    replies = {f"rotbench:{i.id}": [i.data["answers"][0]] for i in items}
    replies[f"rotbench:{items[1].id}"] = [act("get_forecast", '{"city": "Oslo", "days": "2"}')]  # wrong value
    run = run_benchmark(bench, Scripted(replies), tmp_path / "rot.jsonl")
    assert run.report.value("first_turn/clean", "TS").mean == 1.0
    assert run.report.value("first_turn/clean", "CF").mean == pytest.approx(2 / 3)
    assert run.report.value("overall", "PI").mean == 1.0 and run.report.value("overall", "CF").n == 5
    assert [h[1] for h in run.report.headline] == ["TS", "PI", "CF"]


def test_errors_name_the_option(tmp_path):
    with pytest.raises(BenchDataError, match="--rotbench"):
        RoTBench(tmp_path / "nope").items()
    with pytest.raises(BenchDataError, match="--rotbench-variant"):
        RoTBench(tmp_path, variant="strict")
    with pytest.raises(BenchDataError, match="ftrl variant scores the raw reply"):
        RoTBench(tmp_path, variant="ftrl", think="strip")
