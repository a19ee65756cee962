"""RoTBench: the release's format, TS/PI/CF exactly as its evaluate.py counts them, and the paper's variant."""

import pytest
from bench_helpers import Scripted

from toolgym.bench import BenchDataError, run_benchmark
from toolgym.bench.rotbench import RoTBench, load_items, score_ftrl, score_rotbench, split_action, tool_list

TOOLS = [{"name": "get_weather"}, {"name": "get_forecast"}, {"name": "ask_to_user"}, {"name": "finish"}]
GOLD = ['Thought:\nAction: get_weather\nAction Input: {"city": "Paris", "unit": "None"}',
        'Thought:\nAction: get_forecast\nAction Input: {"city": "Paris", "days": "1"}']


def act(tool, args):
    return f"Thought: the user wants this.\nAction: {tool}\nAction Input: {args}"


@pytest.mark.parametrize("reply, expected", [
    (act("get_weather", '{"city": "Paris", "unit": "celsius"}'), (1, 1, 1)),  # "None" gold values are not compared
    (act("get_weather", '{"city": "Lyon", "unit": "celsius"}'), (1, 1, 0)),
    (act("get_weather", '{"city": "Paris"}'), (1, 0, 0)),
    (act("get_forecast", '{"city": "Paris", "days": "1"}'), (1, 1, 1)),  # any acceptable answer
    (act("get_time", '{"city": "Paris"}'), (0, 0, 0)),
    (act("get_weather", '{"city": "Paris", "unit": "celsius"} and more'), (0, 0, 0)),  # not JSON
    ("The weather in Paris is nice.", (0, 0, 0)),
])
def test_official_scores(reply, expected):
    assert tuple(score_rotbench(reply, GOLD, TOOLS).values()) == expected


def test_official_special_tools_and_quirks():
    noisy = [{"name": "get_weather"}, {"name": "ask_to_user"}, {"name": "fnish"}]
    gold = ['Action: fnish\nAction Input: {"answer": "It is sunny."}']
    # a reply "finish" matches the (noisily renamed) last tool, and finish answers need no value match
    assert score_rotbench(act("finish", '{"answer": "Cloudy."}'), gold, noisy) == {"TS": 1, "PI": 1, "CF": 1}
    assert score_rotbench(act("fnish", '{"text": "Cloudy."}'), gold, noisy) == {"TS": 1, "PI": 0, "CF": 0}
    ask = ['Action: ask_to_user\nAction Input: {"question": "Which city?"}']
    assert score_rotbench(act("ask_to_user", '{"question": "Where?"}'), ask, noisy)["CF"] == 1
    # as in the original, an empty Action Input scores nothing even when the gold one is empty too
    assert score_rotbench(act("get_random_event", "{}"), ["Action: get_random_event\nAction Input: {}"],
                          [{"name": "get_random_event"}, {"name": "finish"}]) == {"TS": 0, "PI": 0, "CF": 0}


def test_papers_variant_compares_value_multisets():
    gold = ['Action: get_weather\nAction Input: {"city": "Paris", "unit": "None"}']
    assert score_ftrl(act("get_weather", '{"city": "Paris", "unit": "None"}'), gold) == {"TS": 1, "PI": 1, "CF": 1}
    assert score_ftrl(act("get_weather", '{"city": "Paris", "unit": "celsius"}'), gold) == {"TS": 1, "PI": 1, "CF": 0}
    assert score_ftrl(act("get_weather", "{}"), ['Action: get_weather\nAction Input: {}'])["CF"] == 1


def test_reading_the_release_folders(data_dir):
    items = load_items(data_dir / "rotbench")
    cats = [i.category for i in items]
    assert cats.count("first_turn/clean") == 3 and cats.count("first_turn/slight") == 1
    assert cats.count("third_turn/clean") == 1
    third = next(i for i in items if i.category == "third_turn/clean")
    assert [m["role"] for m in third.data["messages"]] == ["system", "user", "assistant", "user"]
    assert [t["name"] for t in tool_list(items[0].data["messages"][0]["content"])][-1] == "finish"
    assert split_action(items[0].data["answers"][0]) == ("get_weather", {"city": "Paris", "unit": "celsius"})


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


def test_thinking_is_removed_before_scoring(data_dir, tmp_path):
    bench = RoTBench(data_dir / "rotbench" / "First_Turn" / "clean.json")
    item = bench.items()[0]
    reply = "<think>maybe get_forecast</think>\n" + item.data["answers"][0]
    run = run_benchmark(bench, Scripted({f"rotbench:{item.id}": [reply]}), tmp_path / "rot.jsonl", limit=1)
    assert run.results[0].metrics == {"TS": 1.0, "PI": 1.0, "CF": 1.0}


def test_errors_name_the_option(tmp_path):
    with pytest.raises(BenchDataError, match="--rotbench"):
        RoTBench(tmp_path / "nope").items()
    with pytest.raises(BenchDataError, match="variant"):
        RoTBench(tmp_path, variant="strict")
