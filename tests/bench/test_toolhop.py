"""ToolHop: the release's file format, the tools run in toolgym's sandbox, the paper's answer check."""

import json

import pytest
from bench_helpers import Failing, Scripted, call

from toolgym.bench import BenchDataError, ItemResult, load_results, run_benchmark
from toolgym.bench.toolhop import ToolHop, answer_correct, answer_verify, tool_code
from toolgym.errors import FailureKind
from toolgym.io import RunRefused, read_manifest

SOLVE = {
    "toolhop:0": [call("get_film_director", film="The Glass Orchard"), call("get_birth_year", person="Marta Velsen"),
                  "<answer>1968</answer>"],
    "toolhop:1": [call("get_book_author", title="Winter of Ash"), call("extract_first_name", full_name="Ilsa Brandt"),
                  call("count_letters", word="Ilsa"), "<answer>4</answer>"],
    "toolhop:2": [call("find_lake_country", lake="Lake Vantor"), call("get_country_capital", country="Keldria"),
                  "The capital is <answer>Orlay</answer>."],
}


def test_answer_check_is_the_papers():
    assert answer_verify("<answer>Marta Velsen</answer>", "marta velsen")
    assert answer_verify("1,968", "1968")  # commas removed on both sides
    assert answer_verify("Paris and Rome", "Rome, Paris") and not answer_verify("Paris", "Rome, Paris")
    msgs = [{"role": "user", "content": "q"}, {"role": "tool", "content": '{"capital": "Orlay"}'},
            {"role": "assistant", "content": "done"}]
    assert answer_correct(msgs, "Orlay")  # the last tool message counts too
    assert not answer_correct(msgs[:2], "Orlay")  # but only when an assistant reply closes the conversation
    assert not answer_correct([*msgs[:2], {"role": "assistant", "content": ""}], "Orlay")


def test_functions_as_a_list_of_sources_are_mapped_by_name(data_dir):
    row = json.loads((data_dir / "toolhop.json").read_text())[1]
    code = tool_code(row["functions"])
    assert set(code) == {"get_book_author", "extract_first_name", "count_letters"}
    assert tool_code({"f": "def f(): pass"}) == {"f": "def f(): pass"}


def test_multi_hop_solved_in_the_sandbox(pool, data_dir, tmp_path):
    bench = ToolHop(data_dir / "toolhop.json", executor=pool)
    run = run_benchmark(bench, Scripted(SOLVE), tmp_path / "th.jsonl")
    assert [r.metrics["answer_correctness"] for r in run.results] == [1.0, 1.0, 1.0]
    first = run.results[0]
    tool_msgs = [m["content"] for m in first.messages if m["role"] == "tool"]
    assert tool_msgs == ['{"director": "Marta Velsen"}', '{"birth_year": 1968}']  # real tool output, paper's format
    assert first.detail == {"tool_calls": 2, "turns": 3}
    assert run.report.value("overall", "answer_correctness").mean == 1.0


def test_wrong_answers_errors_and_turn_limit(pool, data_dir, tmp_path):
    replies = {
        "toolhop:0": [call("get_film_director", film="Glass"), "<answer>1975</answer>"],  # tool error, wrong answer
        "toolhop:1": [call("count_letters", word="Ilsa")] * 20,  # never stops calling: cut at max_turns
        "toolhop:2": ["<answer>Tessen</answer>"],
    }
    bench = ToolHop(data_dir / "toolhop.json", executor=pool, max_turns=3)
    run = run_benchmark(bench, Scripted(replies), tmp_path / "th.jsonl")
    assert [r.metrics["answer_correctness"] for r in run.results] == [0.0, 0.0, 0.0]
    assert "no film named" in run.results[0].messages[2]["content"]
    assert run.results[1].detail["turns"] == 3


def test_direct_mode_offers_no_tools(data_dir, tmp_path):
    backend = Scripted({"toolhop:2": ["<answer>Orlay</answer>"]})
    bench = ToolHop(data_dir / "toolhop.json", mode="direct")
    run = run_benchmark(bench, backend, tmp_path / "th.jsonl")
    assert [r.metrics["answer_correctness"] for r in run.results] == [0.0, 0.0, 1.0]
    assert all(r.tools == [] for r in backend.requests)
    assert backend.requests[0].messages[0]["content"].startswith("You will be asked a question, and should")


def test_failed_backend_is_recorded_and_retried_on_resume(pool, data_dir, tmp_path):
    out = tmp_path / "th.jsonl"
    bench = ToolHop(data_dir / "toolhop.json", executor=pool)
    run = run_benchmark(bench, Failing(), out)
    assert run.report.counts == {"items": 3, "failed": 3}
    assert all("HTTP 500" in r.error and r.error_kind == FailureKind.BACKEND for r in run.results)
    assert run.report.failures == {"backend": 3}
    assert read_manifest(out)["status"] == "incomplete" and read_manifest(out)["failures_by_kind"] == {"backend": 3}
    with pytest.raises(RunRefused, match=r'model: "failing" -> "another-model"\); use --overwrite'):
        run_benchmark(bench, Scripted(SOLVE, model="another-model"), out)
    served = Scripted(SOLVE, model="failing")  # the same backend and model, now answering
    served.name = Failing.name
    again = run_benchmark(bench, served, out)
    assert again.ran == 3 and again.report.value("overall", "answer_correctness").mean == 1.0
    assert read_manifest(out)["status"] == "complete" and run_benchmark(bench, served, out).ran == 0


def test_bad_files_say_what_is_wrong(tmp_path):
    with pytest.raises(BenchDataError, match="--toolhop"):
        ToolHop(tmp_path / "missing.json").items()
    (tmp_path / "x.json").write_text(json.dumps([{"question": "q"}]))
    with pytest.raises(BenchDataError, match="not the ToolHop format"):
        ToolHop(tmp_path / "x.json").items()


# Replies to item 0 (gold "1968") and the paper's verdict: its evaluation_toolhop.py (bytedance/FTRL 3ea979b4)
# reads the raw output with parse_qwen and checks _answer_correct, so an answer in the reasoning counts.
THINKING = [("<think>\nThe film came out in 1968.\n</think>\n\n<answer>1975</answer>", True),
            ("<think>\nIt is 1968 or 1975.\n</think>\n\nI do not know.", True),
            ("<think>\nmaybe 1975\n</think>\n\n<answer>1968</answer>", True)]


@pytest.mark.parametrize("reply, paper", THINKING)
def test_reasoning_is_scored_as_the_paper_reads_it(data_dir, tmp_path, reply, paper):
    bench = ToolHop(data_dir / "toolhop.json", mode="direct")
    run = run_benchmark(bench, Scripted({"toolhop:0": [reply]}), tmp_path / "th.jsonl", limit=1)
    assert run.results[0].metrics["answer_correctness"] == float(paper)
    assert run.results[0].messages[-1]["content"].startswith("<think>")  # the content the paper's check reads
    stripped = run_benchmark(ToolHop(data_dir / "toolhop.json", mode="direct", think="strip"),
                             Scripted({"toolhop:0": [reply]}), tmp_path / "strip.jsonl", limit=1)
    assert stripped.results[0].metrics["answer_correctness"] == float("1968" in reply.split("</think>")[1])
    assert any("not the paper's protocol" in n for n in stripped.report.notes)


def test_reasoning_returned_apart_is_put_back_for_the_papers_check(data_dir, tmp_path):
    from toolgym.models import Generation

    class Split:
        model = name = "split"

        async def generate(self, requests):
            return [Generation(text="I do not know.", message={"role": "assistant", "content": "I do not know.",
                                                               "reasoning_content": "It was 1968."})]

        async def aclose(self):
            return None

    run = run_benchmark(ToolHop(data_dir / "toolhop.json", mode="direct"), Split(), tmp_path / "th.jsonl", limit=1)
    assert run.results[0].metrics["answer_correctness"] == 1.0


def test_results_written_before_runs_had_a_manifest_are_read_but_not_resumed(pool, data_dir, tmp_path):
    out = tmp_path / "old.jsonl"
    row = ItemResult("toolhop:0", "toolhop", {"answer_correctness": 1.0}).to_json()
    del row["error_kind"]  # as an earlier toolgym wrote it, with <out>.meta.json beside it
    out.write_text(json.dumps(row) + "\n")
    (tmp_path / "old.jsonl.meta.json").write_text(json.dumps({"benchmark": "toolhop", "model": "m"}))
    assert load_results(out)["toolhop:0"].metrics == {"answer_correctness": 1.0}  # still readable
    bench = ToolHop(data_dir / "toolhop.json", executor=pool)
    with pytest.raises(RunRefused) as err:
        run_benchmark(bench, Scripted(SOLVE, model="m"), out)
    assert "\n" not in str(err.value) and "written before runs recorded their configuration" in str(err.value)
    assert "--overwrite" in str(err.value) and out.read_text() == json.dumps(row) + "\n"
    fresh = run_benchmark(bench, Scripted(SOLVE, model="m"), out, overwrite=True)
    assert fresh.ran == 3 and not (tmp_path / "old.jsonl.meta.json").exists()
    assert read_manifest(out)["config"]["model"] == "m"


# ---- the paper's tool execution: get_feedback -> call_function (exec inside a function) -------------------

# Gold calls of the sample items and calls with wrong or missing arguments (the tools' error paths, and the
# error message of a call that does not fit the function's signature).
CALLS = {
    "toolhop:0": [("get_film_director", {"film": "The Glass Orchard"}), ("get_birth_year", {"person": "Marta Velsen"}),
                  ("get_film_director", {"film": "Glass"}), ("get_birth_year", {})],
    "toolhop:1": [("get_book_author", {"title": "Winter of Ash"}), ("extract_first_name", {"full_name": "Ilsa Brandt"}),
                  ("count_letters", {"word": "Ilsa"}), ("count_letters", {"word": 4, "extra": 1})],
    "toolhop:2": [("find_lake_country", {"lake": "Lake Vantor"}), ("get_country_capital", {"country": "Keldria"}),
                  ("get_country_capital", {"country": ""}), ("no_such_tool", {})],
}


def _one_call_per_turn(calls):
    return [call(name, **args) for name, args in calls] + ["<answer>done</answer>"]


def _oracle(calls, functions):
    """The tool messages the paper's evaluation_toolhop.py appends: get_feedback over tool_code(functions)."""
    from ftrl_utils import get_feedback

    items = [{"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
             for i, (name, args) in enumerate(calls)]
    return [m["content"] for m in get_feedback(items, tool_code(functions))]


def test_tools_run_as_the_papers_get_feedback_runs_them(pool, data_dir, tmp_path):
    rows = json.loads((data_dir / "toolhop.json").read_text())
    bench = ToolHop(data_dir / "toolhop.json", executor=pool, max_turns=9)
    assert bench.scoping == "reference"  # the paper's, by default
    run = run_benchmark(bench, Scripted({k: _one_call_per_turn(v) for k, v in CALLS.items()}), tmp_path / "th.jsonl")
    for result, row in zip(run.results, rows, strict=True):
        ours = [m["content"] for m in result.messages if m["role"] == "tool"]
        assert ours == _oracle(CALLS[f"toolhop:{result.id}"], row["functions"]), result.id
    assert any(text.startswith("an error occured when call") for r in run.results for text in
               (m["content"] for m in r.messages if m["role"] == "tool"))


# A tool in ToolHop's format whose function reads names of its own source's top level (an import, a table):
# the paper's call_function does not see them, so the call fails there.
SCOPED = [{"id": "s0", "question": "Which country is abbreviated 'usa'?", "answer": "United States",
           "tools": {"q": {"name": "expand_country", "description": "Expand a country abbreviation.",
                           "parameters": {"type": "object", "properties": {"abbreviation": {"type": "string"}},
                                          "required": ["abbreviation"]}}},
           "functions": [("import re\n\nNAMES = {'usa': 'United States'}\n\n\ndef expand_country(abbreviation: str):\n"
                          "    key = re.sub(r'\\W', '', abbreviation).lower()\n"
                          "    return {'country': NAMES.get(key, 'unknown')}\n")]}]


@pytest.mark.parametrize("scoping", ["reference", "module"])
def test_a_tool_reading_its_own_top_level_fails_as_in_the_paper(pool, tmp_path, scoping):
    path = tmp_path / "scoped.json"
    path.write_text(json.dumps(SCOPED))
    replies = {"toolhop:s0": [call("expand_country", abbreviation="USA"), "<answer>I could not tell</answer>"]}
    run = run_benchmark(ToolHop(path, executor=pool, scoping=scoping), Scripted(replies), tmp_path / "o.jsonl")
    [output] = [m["content"] for m in run.results[0].messages if m["role"] == "tool"]
    oracle = _oracle([("expand_country", {"abbreviation": "USA"})], SCOPED[0]["functions"])[0]
    assert oracle == "an error occured when call expand_country: name 're' is not defined"
    if scoping == "reference":
        assert output == oracle and run.results[0].metrics["answer_correctness"] == 0.0
        assert any("as the paper's call_function runs them" in n for n in run.report.notes)
    else:
        assert output == '{"country": "United States"}' and run.results[0].metrics["answer_correctness"] == 1.0
        assert any("not the paper's protocol" in n for n in run.report.notes)


def test_an_unknown_scoping_names_the_option(data_dir):
    with pytest.raises(BenchDataError, match="--toolhop-scoping"):
        ToolHop(data_dir / "toolhop.json", scoping="global")


# ---- replies read with toolgym.parse.read_reply in the run's --tool-format ---------------------------------

def _llama(name, **arguments):
    return json.dumps({"name": name, "parameters": arguments})


def test_replies_are_read_in_the_tool_format_given(pool, data_dir, tmp_path):
    replies = {"toolhop:2": [_llama("find_lake_country", lake="Lake Vantor"),
                             _llama("get_country_capital", country="Keldria"), "<answer>Orlay</answer>"]}
    llama = run_benchmark(ToolHop(data_dir / "toolhop.json", executor=pool, tool_format="llama3"),
                          Scripted(replies), tmp_path / "llama.jsonl")
    assert llama.results[2].metrics["answer_correctness"] == 1.0 and llama.results[2].detail["tool_calls"] == 2
    assert any("llama3 tool format" in n for n in llama.report.notes)
    # the paper's --series qwen reads the same text with parse_qwen: no call, the reply is the final answer
    hermes = run_benchmark(ToolHop(data_dir / "toolhop.json", executor=pool), Scripted(replies),
                           tmp_path / "hermes.jsonl")
    assert hermes.results[2].detail == {"tool_calls": 0, "turns": 1}


def test_the_cli_passes_the_tool_format_and_scoping(data_dir):
    from toolgym.cli._bench import DataOptions, make_bench

    bench = make_bench("toolhop", DataOptions(toolhop=data_dir / "toolhop.json", tool_format="llama3",
                                              toolhop_scoping="module"))
    assert (bench.format, bench.scoping) == ("llama3", "module")
    assert make_bench("toolhop", DataOptions(toolhop=data_dir / "toolhop.json")).scoping == "reference"
    for name in ("taubench", "tau2"):  # the other benchmarks whose model writes tool calls
        assert make_bench(name, DataOptions(tau_info=data_dir / "taubench", tool_format="llama3")).format == "llama3"
