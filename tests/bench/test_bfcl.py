"""BFCL offline, scored as BFCL scores it: bfcl-eval's shipped data, toolgym backends, and item by item
agreement with bfcl-eval's own ``eval_runner.evaluate_task`` run with BFCL's own handler class on the very
results toolgym recorded (single-turn, multi-turn and memory, for each handler)."""

import asyncio
import json
import os
from types import SimpleNamespace

import pytest
from bench_helpers import Scripted
from bfcl_gold import MALFORMED, REPLIES, GoldBackend, blocks, native, single_turn_calls

from toolgym.bench import load_results, run_benchmark
from toolgym.bench.bfcl import BFCL, NON_LIVE, bfcl_unavailable, expand_categories
from toolgym.models import Generation

why = bfcl_unavailable()
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")

if why is None:
    from bfcl_reference import bfcl_handler, bfcl_verdicts

    from toolgym.bench._bfcl_handlers import make_handler

SINGLE = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
          "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
          "live_irrelevance", "live_relevance")


def run_replies(bench, items, make_reply, tmp_path, name):
    backend = Scripted({f"bfcl:{it.id}": [make_reply(single_turn_calls(it))] for it in items})
    return run_benchmark(bench, backend, tmp_path / f"{name}.jsonl", concurrency=64)


def agree_with_bfcl(run, handler, tmp_path):
    """Our verdict of every item equals evaluate_task's on the result we recorded; returns ours."""
    ours = {}
    for cat in sorted({r.category for r in run.results}):
        results = {r.id: r.detail["bfcl_result"] for r in run.results if r.category == cat}
        theirs = bfcl_verdicts(cat, results, handler, tmp_path / "scores")
        mine = {r.id: r.metrics["accuracy"] == 1.0 for r in run.results if r.category == cat}
        assert mine == theirs, (cat, {i for i in mine if mine[i] != theirs[i]})
        ours.update(mine)
    return ours


def test_loads_the_shipped_data_offline():
    items = BFCL(["all"]).items()
    counts = {c: sum(it.category == c for it in items) for c in {it.category for it in items}}
    assert counts["simple_python"] == 400 and counts["irrelevance"] == 240 and counts["live_relevance"] > 0
    assert counts["multi_turn_base"] == 200 and counts["memory_kv"] == 155 and counts["memory_rec_sum"] == 155
    assert len({it.id for it in items}) == len(items)
    java = next(it for it in items if it.category == "simple_java")
    assert "Java 8 SDK syntax" in java.data["function"][0]["description"]
    assert "Java 8 SDK syntax" not in java.data["checker_function"][0]["description"]


def test_category_groups_and_what_does_not_run_offline():
    from toolgym.bench import BenchDataError

    assert expand_categories(["non_live", "parallel"]) == list(NON_LIVE)
    assert expand_categories(["multi_turn"])[0] == "multi_turn_base"
    with pytest.raises(BenchDataError, match="needs the network"):
        expand_categories(["web_search_base"])
    with pytest.raises(BenchDataError, match="unknown BFCL category"):
        expand_categories(["format_sensitivity"])
    if not ({"sentence_transformers", "faiss"} <= set(__import__("sys").modules)):
        assert "memory_vector" not in expand_categories(["memory"])


# ---- the handlers' decoders against BFCL's handler classes ----------------------------------------------
DECODE_CASES = [
    [{"f": '{"a": 1}'}], [{"f": ""}], [{"f": "null"}], [{"f": "[1]"}], [{"f": '{"a": 1'}], "some text", "", [],
    '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>', '<tool_call>{"name": "f", "arguments": {}}</tool_call>',
    '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>\n' + MALFORMED, '<tool_call>\n[1]\n</tool_call>',
    '<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 1}"}\n</tool_call>', '<tool_call>\n{"arguments": {}}\n</tool_call>',
    "[f(a=1), g(b='x')]", "f(a=1)", "[]",
]


def _outcome(fn, *args):
    """What a decoder makes of a response: its value, or that it raised (BFCL: not decodable)."""
    try:
        return ("ok", fn(*args))
    except Exception:
        return ("raises", None)


@pytest.mark.parametrize("handler", ["openai", "qwen", "prompt"])
def test_decoders_match_bfcls_handler_classes(handler):
    from bfcl_eval.constants.enums import ReturnFormat

    ours, theirs = make_handler(handler), bfcl_handler(handler)[0]
    for case in DECODE_CASES:
        assert _outcome(ours.decode_ast, case, ReturnFormat.PYTHON) == _outcome(theirs.decode_ast, case, ReturnFormat.PYTHON, False), case
        assert _outcome(ours.decode_execute, case) == _outcome(theirs.decode_execute, case, False), case


def test_responses_are_what_bfcls_handlers_store():
    from openai.types.chat import ChatCompletion

    os.environ.setdefault("OPENAI_API_KEY", "unused-offline")
    openai_ours, openai_theirs = make_handler("openai"), bfcl_handler("openai")[0]
    for message in [native([("f", {"a": 1})], lambda a: ""), {"role": "assistant", "content": "hi"},
                    {"role": "assistant", "content": "", "tool_calls": []}]:
        completion = ChatCompletion.model_validate({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        gen = Generation(text=message.get("content") or "", message={k: v for k, v in message.items() if v is not None})
        assert openai_ours.response(gen) == openai_theirs._parse_query_response_FC(completion)["model_responses"]
    qwen_ours, qwen_theirs = make_handler("qwen"), bfcl_handler("qwen")[0]
    for text in ["<think>\nplan\n</think>\n\n" + blocks([("f", {"a": 1})]), "no think", "a</think>b</think>\n\nc"]:
        api = SimpleNamespace(choices=[SimpleNamespace(text=text)], usage=SimpleNamespace(prompt_tokens=1, completion_tokens=1))
        assert qwen_ours.response(Generation(text=text)) == qwen_theirs._parse_query_response_prompting(api)["model_responses"]


# ---- single turn: the findings, and a sample of every category -------------------------------------------
def test_native_calls_with_empty_or_null_arguments_are_not_calls(tmp_path):
    """BFCL's OpenAI-FC handler json.loads the arguments: "" fails to decode and "null" decodes to no call;
    so irrelevance passes and live_relevance fails on such replies."""
    bench = BFCL(["irrelevance", "live_irrelevance", "live_relevance", "simple_python"], handler="openai", per_category=4)
    items = bench.items()
    for kind in ("empty_args", "null_args"):
        run = run_replies(bench, items, REPLIES["openai"][kind], tmp_path, kind)
        ours = agree_with_bfcl(run, "openai", tmp_path / kind)
        by_cat = {c: [ours[i.id] for i in items if i.category == c] for c in ("irrelevance", "live_irrelevance",
                                                                               "live_relevance", "simple_python")}
        assert by_cat["irrelevance"] == [True] * 4 and by_cat["live_irrelevance"] == [True] * 4
        assert by_cat["live_relevance"] == [False] * 4 and by_cat["simple_python"] == [False] * 4


def test_qwen_reads_blocks_with_their_newlines_and_keeps_valid_ones(tmp_path):
    bench = BFCL(["simple_python", "irrelevance"], handler="qwen", per_category=4)
    items = bench.items()
    expect = {"no_newlines": ([False] * 4, [True] * 4), "one_malformed": ([True] * 4, [False] * 4),
              "only_malformed": ([False] * 4, [True] * 4)}
    for kind, (simple, irrelevance) in expect.items():
        run = run_replies(bench, items, REPLIES["qwen"][kind], tmp_path, kind)
        ours = agree_with_bfcl(run, "qwen", tmp_path / kind)
        assert [ours[i.id] for i in items if i.category == "simple_python"] == simple, kind
        assert [ours[i.id] for i in items if i.category == "irrelevance"] == irrelevance, kind
    # BFCL's OpenAI-FC handler reads native calls only: the same blocks in the text are no call at all
    openai = BFCL(["simple_python"], handler="openai", per_category=2)
    run = run_replies(openai, openai.items(), REPLIES["openai"]["text_blocks"], tmp_path, "text")
    assert not any(agree_with_bfcl(run, "openai", tmp_path / "text").values())


@pytest.mark.parametrize("handler, kinds", [("openai", ("gold", "broken_args", "prose")), ("qwen", ("gold", "think")),
                                            ("prompt", ("gold", "prose"))])
def test_every_single_turn_category_agrees_with_evaluate_task(handler, kinds, tmp_path):
    """A sample of every single-turn category, right and wrong replies, item by item as evaluate_task."""
    bench = BFCL(list(SINGLE), handler=handler, per_category=2)
    items = bench.items()
    right = {}
    for kind in kinds:
        run = run_replies(bench, items, REPLIES[handler][kind], tmp_path, kind)
        right[kind] = sum(agree_with_bfcl(run, handler, tmp_path / kind).values())
    assert right["gold"] >= 15  # BFCL's own answers pass, bar irrelevance and a few Java/JavaScript values


@pytest.mark.parametrize("handler", ["openai", "qwen", "prompt"])
def test_every_kind_of_reply_agrees_on_relevance_and_simple(handler, tmp_path):
    bench = BFCL(["simple_python", "irrelevance", "live_relevance"], handler=handler, per_category=2)
    items = bench.items()
    for kind, make in REPLIES[handler].items():
        agree_with_bfcl(run_replies(bench, items, make, tmp_path, kind), handler, tmp_path / kind)


def test_detail_names_the_checkers_error_only_when_it_failed(tmp_path):
    bench = BFCL(["simple_python"], handler="openai", per_category=3)
    items = bench.items()
    right = run_replies(bench, items, REPLIES["openai"]["gold"], tmp_path, "right")
    assert all(r.metrics["accuracy"] == 1.0 and "error_type" not in r.detail for r in right.results)
    wrong = run_replies(bench, items, lambda c: native([(n, {k: "WRONG" for k in a}) for n, a in c]), tmp_path, "wrong")
    assert all(r.metrics["accuracy"] == 0.0 and r.detail["error_type"] != "simple_function_checker:unclear"
               for r in wrong.results)


def test_function_names_reach_each_handler_as_bfcl_sends_them(tmp_path):
    for handler, dotted in (("openai", False), ("qwen", True)):
        bench = BFCL(["simple_python"], handler=handler, per_category=3)
        backend = Scripted({})
        run_benchmark(bench, backend, tmp_path / f"{handler}.jsonl")
        names = [t["function"]["name"] for r in backend.requests for t in r.tools]
        assert ("math.factorial" in names) == dotted and ("math_factorial" in names) == (not dotted)
    prompt = Scripted({})
    bench = BFCL(["simple_python"], handler="prompt", per_category=1)
    run_benchmark(bench, prompt, tmp_path / "p.jsonl")
    name = bench.items()[0].data["function"][0]["name"]
    assert prompt.requests[0].tools == [] and f'"name": "{name}"' in prompt.requests[0].messages[0]["content"]


# ---- multi-turn and memory ------------------------------------------------------------------------------
CONVERSATIONS = ["multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context",
                 "memory_kv", "memory_rec_sum"]


@pytest.mark.parametrize("handler, mode, memory", [("openai", "gold", "memory_rec_sum"), ("openai", "wrong_value", "memory_kv"),
                                                   ("openai", "skip", "memory_kv"), ("openai", "wrong_answer", "memory_kv"),
                                                   ("qwen", "gold", "memory_kv"), ("qwen", "loop", "memory_rec_sum"),
                                                   ("prompt", "gold", "memory_kv"), ("prompt", "wrong_value", "memory_rec_sum")])
def test_multi_turn_and_memory_agree_with_evaluate_task(handler, mode, memory, tmp_path):
    bench = BFCL([*CONVERSATIONS[:4], memory], handler=handler, per_category=1, workdir=tmp_path / "memory")
    items = bench.items()
    run = run_benchmark(bench, GoldBackend({i.id: i for i in items}, handler, mode=mode), tmp_path / "mt.jsonl",
                        concurrency=8)
    assert all(r.status == "ok" for r in run.results)
    ours = agree_with_bfcl(run, handler, tmp_path)
    multi = [ours[i.id] for i in items if i.category.startswith("multi_turn")]
    memory = [ours[i.id] for i in items if i.category.startswith("memory")]
    assert all(memory) == (mode != "wrong_answer")
    assert all(multi) == (mode in ("gold", "wrong_answer"))
    if mode == "loop":
        assert {r.detail["error_type"] for r in run.results if r.category.startswith("multi")} == {"multi_turn:force_terminated"}


def test_memory_prerequisites_fill_the_memory_the_entries_see(tmp_path):
    bench = BFCL(["memory_kv"], handler="openai", per_category=1, workdir=tmp_path / "memory")
    items = bench.items()
    backend = GoldBackend({i.id: i for i in items}, "openai")
    run_benchmark(bench, backend, tmp_path / "m.jsonl")
    prereq = [r for r in backend.requests if "prereq" in r.episode]
    entry = [r for r in backend.requests if "prereq" not in r.episode]
    assert prereq and entry
    snapshot = next((tmp_path / "memory").rglob("customer_final.json"))
    core = json.loads(snapshot.read_text())["core_memory"]
    assert core and all(json.dumps(v) in entry[0].messages[0]["content"] for v in core.values())
    # a rerun with the same model reuses the scenario's memory: no prerequisite conversation again
    again = GoldBackend({i.id: i for i in items}, "openai")
    run_benchmark(BFCL(["memory_kv"], handler="openai", per_category=1, workdir=tmp_path / "memory"), again,
                  tmp_path / "m2.jsonl")
    assert not [r for r in again.requests if "prereq" in r.episode]


def test_overall_score_is_bfcls_leaderboard(tmp_path):
    """BFCL's generate_leaderboard_csv on the per-category accuracies of a run: its Overall Acc (missing
    categories counted 0) is leaderboard_overall, and the sections that were run whole are its rows."""
    import csv

    from bfcl_eval.eval_checker.eval_runner_helper import generate_leaderboard_csv

    from toolgym.bench._base import ItemResult

    acc = {"simple_python": [1, 1, 0, 1], "simple_java": [1, 0], "simple_javascript": [0, 0, 1], "multiple": [1, 1],
           "parallel": [0, 1], "parallel_multiple": [1, 0, 0], "irrelevance": [1, 1, 1], "live_simple": [1, 0, 0],
           "live_multiple": [1, 1, 1, 1, 0], "live_parallel": [1, 0], "live_parallel_multiple": [0, 1],
           "live_irrelevance": [1, 0], "live_relevance": [1], "multi_turn_base": [1, 0],
           "multi_turn_long_context": [0, 0, 1], "memory_kv": [1, 1, 0]}
    results = [ItemResult(f"{c}_{i}", c, {"accuracy": float(v)}) for c, vs in acc.items() for i, v in enumerate(vs)]
    rep = BFCL(["simple_python"], handler="openai").report(results)
    model = bfcl_handler("openai")[1]
    table = {model: {c: {"accuracy": sum(vs) / len(vs), "total_count": len(vs)} for c, vs in acc.items()}}
    generate_leaderboard_csv(table, tmp_path)
    [row] = list(csv.DictReader((tmp_path / "data_overall.csv").open()))

    def pct(group):
        return f"{100 * rep.value(group, 'accuracy').mean:.2f}%"

    assert row["Overall Acc"] == pct("leaderboard_overall")
    assert (row["Non-Live AST Acc"], row["Live Acc"], row["Irrelevance Detection"], row["Relevance Detection"]) == (
        pct("non_live"), pct("live"), pct("irrelevance_detection"), pct("relevance_detection"))
    assert rep.value("irrelevance", "accuracy").n == 3  # the category keeps its own row
    # multi-turn was run in part: BFCL's row counts the two missing categories as 0, ours leaves them out
    assert row["Multi Turn Acc"] == "20.83%" and pct("multi_turn") == "41.67%"
    assert any("not run: multi_turn_miss_func" in n for n in rep.notes)
    assert rep.value("overall", "accuracy").mean > rep.value("leaderboard_overall", "accuracy").mean


def test_bench_prints_the_overall_score_and_the_categories_over_http(tmp_path):
    """``toolgym bench`` against an OpenAI-compatible server answering from BFCL's ground truth: multi-turn,
    memory and single-turn items end to end, the overall score and a row per category printed."""
    pytest.importorskip("fastapi")
    from bfcl_gold import gold_app
    from typer.testing import CliRunner

    from toolgym.cli import app
    from toolgym.models.fake_server import ServerThread

    cats = ["multi_turn_base", "memory_kv", "irrelevance"]  # miss_func shares base's questions: not both here
    items = BFCL(cats, handler="openai", per_category=2).items()
    with ServerThread(gold_app([i for i in items if "entry" in i.data], "openai")) as url:
        res = CliRunner().invoke(app, ["bench", "gold-model", "--suite", "bfcl", "--base-url", url, "--out", str(tmp_path),
                                       "--bfcl-categories", ",".join(cats), "--per-category", "2",
                                       "--bfcl-handler", "openai"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    for row in (*cats, "multi_turn", "memory", "overall", "leaderboard_overall"):
        assert any(line.split() and line.split()[0] == row for line in lines), row
    assert "not run: simple_python" in res.output.replace("\n", " ")
    rep = json.loads((tmp_path / "suite.json").read_text())["reports"]["bfcl"]
    assert {g: rep["groups"][g]["accuracy"]["mean"] for g in (*cats, "overall")} == dict.fromkeys((*cats, "overall"), 1.0)
    assert (tmp_path / "bfcl_memory" / "prereq_done").is_dir()


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
    assert 0.0 <= run.report.value("non_live", "accuracy").mean <= 1.0
    assert all(r.detail.get("error_type") for r in run.results if r.metrics["accuracy"] == 0.0)
    again = run_benchmark(bench, backend, out)
    assert again.ran == 0 and again.reused == 14
    assert len(load_results(out)) == 14
    asyncio.run(backend.aclose())
