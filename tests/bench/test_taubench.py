"""tau-bench: a retail domain in both published layouts (tau-bench's own tau_bench/envs folders with Python
tool classes, and the paper's converted tools.json/codes.json), episodes and rewards as tau-bench's
ToolCallingAgent.solve and Env give them, pass^k over trials, a simulated and a recorded user.

The expected rewards of ``SCENARIOS`` were produced by tau-bench's own code (sierra-research/tau-bench
59a200c: ``ToolCallingAgent.solve`` on ``MockRetailDomainEnv`` with the retail folder replaced by the test
domain under data/tau_bench, litellm's completion answering with the same scripts; an exception scored 0
as its run.py does)."""

import json

import pytest
from bench_helpers import Scripted

from toolgym.bench import BenchDataError, run_benchmark
from toolgym.bench._base import ItemResult
from toolgym.bench._report import BenchReport, add_pass_hat_k
from toolgym.bench._tau_domain import data_hash, to_hashable
from toolgym.bench._tau_user import (
    GREETING,
    STOP,
    BackendUser,
    RecordedUser,
    load_user_log,
    user_system_prompt,
)
from toolgym.bench.taubench import Domain, TauBench, _actions, load_tasks, tasks_from_python
from toolgym.errors import FailureKind

EMAIL = "ana.lopez@example.com"


def call(name, args=None, raw=None, extra=()):
    calls = [{"id": f"c_{name}", "type": "function",
              "function": {"name": name, "arguments": raw if raw is not None else json.dumps(args)}}, *extra]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def say(text):
    return {"role": "assistant", "content": text}


GOLD0 = [call("find_user_id_by_email", {"email": EMAIL}), call("get_order_details", {"order_id": "#W100"}),
         say("Order #W100 is pending. Shall I cancel it as no longer needed?"),
         call("cancel_pending_order", {"order_id": "#W100", "reason": "no longer needed"}),
         say("Your order #W100 is cancelled.")]
USER0 = [f"Hi, I'd like to cancel my order #W100. My email is {EMAIL}.", "Yes please, I no longer need it.", STOP]
BAD = {"id": "c_bad", "type": "function", "function": {"name": "cancel_pending_order", "arguments": '{"order_id": '}}
# scenario: (task index, agent replies, user turns, tau-bench's reward)
SCENARIOS = {
    "gold": (0, GOLD0, USER0, 1.0),
    "never_stops": (0, GOLD0[:4] + [say("Anything else?")] * 40, USER0[:2] + ["Hmm, let me think."] * 40, 0.0),
    "bad_json": (0, [call("find_user_id_by_email", raw='{"email": '), *GOLD0], USER0, 0.0),
    "null_args": (0, [call("find_user_id_by_email", raw="null"), *GOLD0], USER0, 0.0),
    "second_call_bad": (0, [call("find_user_id_by_email", {"email": EMAIL}, extra=[BAD]), *GOLD0[1:]], USER0, 1.0),
    "transfer": (2, [call("find_user_id_by_email", {"email": "ben.okafor@example.com"}),
                     call("get_order_details", {"order_id": "#W200"}),
                     call("transfer_to_human_agents", {"summary": "Wants to cancel a processed order."})],
                 ["I want to cancel order #W200, email ben.okafor@example.com.", STOP], 1.0),
    "missing_output": (1, [call("find_user_id_by_email", {"email": EMAIL}), call("get_order_details", {"order_id": "#W101"}),
                           say("It cost twenty-two dollars.")],
                       [f"How much did my order #W101 cost? My email is {EMAIL}.", STOP], 0.0),
    "right_output": (1, [call("find_user_id_by_email", {"email": EMAIL}), call("get_order_details", {"order_id": "#W101"}),
                         say("Your order #W101 cost 22.0 in total.")],
                     [f"How much did my order #W101 cost? My email is {EMAIL}.", STOP], 1.0),
}


@pytest.fixture(params=["tau-bench", "ftrl"])
def layout(request, data_dir):
    """(tasks file or None, domain folders) of the test domain in each layout."""
    if request.param == "tau-bench":
        return None, data_dir / "tau_bench" / "envs"
    return data_dir / "taubench" / "tasks.jsonl", data_dir / "taubench"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_rewards_are_tau_benchs(layout, scenario, tmp_path):
    task, agent, user, expected = SCENARIOS[scenario]
    tasks, info = layout
    item_id = f"retail-{task}"
    bench = TauBench(tasks, info, RecordedUser({item_id: user}), domain="retail")
    run = run_benchmark(bench, Scripted({f"tau:{item_id}": agent}, default=say("...")), tmp_path / "tau.jsonl")
    result = next(r for r in run.results if r.id == item_id)
    assert result.status == "ok" and result.metrics["reward"] == expected, result.detail


def test_ending_is_recorded(data_dir, tmp_path):
    info = data_dir / "tau_bench" / "envs"
    _, agent, user, _ = SCENARIOS["never_stops"]
    run = run_benchmark(TauBench(None, info, RecordedUser({"retail-0": user})), Scripted({"tau:retail-0": agent}),
                        tmp_path / "a.jsonl", limit=1)
    assert run.results[0].detail == {"done": False, "ended": "ran out of steps (30)", "user": "recorded-user"}
    assert sum(m["role"] == "assistant" for m in run.results[0].messages) == 30
    _, agent, user, _ = SCENARIOS["bad_json"]
    run = run_benchmark(TauBench(None, info, RecordedUser({"retail-0": user})), Scripted({"tau:retail-0": agent}),
                        tmp_path / "b.jsonl", limit=1)
    assert run.results[0].detail["ended"].startswith("error: arguments of find_user_id_by_email are not JSON")


def test_both_layouts_are_the_same_domain(data_dir):
    ours = Domain.load(data_dir / "tau_bench" / "envs" / "retail")
    paper = Domain.load(data_dir / "taubench" / "retail")
    assert ours.layout == "tau-bench" and paper.layout == "ftrl"
    assert ours.tools == paper.tools and ours.wiki == paper.wiki and ours.data == paper.data
    for name, args in [("calculate", {"expression": "2 * 3"}), ("get_order_details", {"order_id": "#W999"}),
                       ("get_order_details", {"order_id": "#W100"}), ("refund", {})]:
        assert ours.call(ours.fresh_data(), name, args) == paper.call(paper.fresh_data(), name, args)
    assert ours.call(ours.data, "refund", {}) == "Unknown action refund"
    assert ours.call(ours.data, "cancel_pending_order", {"order_id": "#W100"}).startswith("Error: ")  # missing arg


def test_task_splits_of_the_domain_folders(data_dir):
    info = data_dir / "tau_bench" / "envs"
    assert [i.id for i in load_tasks(None, None, info=info)] == ["retail-0", "retail-1", "retail-2"]
    assert [i.id for i in load_tasks(None, "retail", info=info, split="dev")] == ["retail-dev-0", "retail-dev-1"]
    assert [i.id for i in load_tasks(None, None, info=info, split="train")] == ["retail-train-0"]
    with pytest.raises(BenchDataError, match="--tau-split"):
        load_tasks(None, None, info=info, split="valid")
    py = tasks_from_python(data_dir / "taubench" / "retail" / "tasks_dev.py")
    jsonl = load_tasks(data_dir / "taubench" / "tasks.jsonl", None)
    assert [t["instruction"] for t in py] == [i.data["instruction"] for i in jsonl[:2]]
    assert [_actions(t["actions"]) for t in py] == [_actions(i.data["actions"]) for i in jsonl[:2]]


def test_hash_is_tau_benchs():
    # tau-bench's to_hashable keeps 1 and "1" apart, where a JSON dump with sort_keys would not
    assert to_hashable({"b": [1, {"c": {2, 1}}], "a": 1}) == (("a", 1), ("b", (1, (("c", (1, 2)),))))
    assert data_hash({1: "x"}) != data_hash({"1": "x"})


def test_pass_hat_k_is_tau_benchs_c_choose_k():
    """tau-bench's display_metrics on 3 tasks x 3 trials with 3, 1 and 0 successes: pass^1 = 4/9,
    pass^2 = (3/3 + 0 + 0)/3, pass^3 = 1/3."""
    wins = {"a": [1, 1, 1], "b": [0, 1, 0], "c": [0, 0, 0]}
    results = [ItemResult(t if k == 0 else f"{t}@{k}", "retail", {"reward": float(w)})
               for t, ws in wins.items() for k, w in enumerate(ws)]
    rep = BenchReport("taubench")
    assert add_pass_hat_k(rep, results) == 3
    assert rep.value("retail", "pass^1").mean == pytest.approx(4 / 9)
    assert rep.value("retail", "pass^2").mean == pytest.approx(1 / 3)
    assert rep.value("overall", "pass^3").mean == pytest.approx(1 / 3)


def test_trials_run_each_task_again(data_dir, tmp_path):
    _, agent, user, _ = SCENARIOS["gold"]
    bench = TauBench(None, data_dir / "tau_bench" / "envs", RecordedUser({"retail-0": user, "retail-0@1": user[:1]}),
                     trials=2)
    replies = {"tau:retail-0": agent, "tau:retail-0@1": agent}
    run = run_benchmark(bench, Scripted(replies), tmp_path / "k.jsonl", limit=2)
    assert [r.id for r in run.results] == ["retail-0", "retail-0@1"]
    assert [r.metrics["reward"] for r in run.results] == [1.0, 0.0]  # the second trial's user stops at once
    assert run.report.value("retail", "pass^1").mean == 0.5 and run.report.value("retail", "pass^2").mean == 0.0


def test_a_backend_plays_the_user_with_taus_prompt(data_dir, tmp_path):
    def customer(req):
        said = sum(m["role"] == "assistant" for m in req.messages)
        return USER0[min(said, 2)]

    user_backend = Scripted({"tau-user:retail-0": customer})
    bench = TauBench(None, data_dir / "tau_bench" / "envs", BackendUser(user_backend), domain="retail")
    run = run_benchmark(bench, Scripted({"tau:retail-0": GOLD0}), tmp_path / "tau.jsonl", limit=1)
    assert run.results[0].metrics["reward"] == 1.0
    first = user_backend.requests[0]
    instruction = bench.items()[0].data["instruction"]
    # tau-bench's LLMUserSimulationEnv.build_system_prompt: a blank line before "Rules:"
    assert first.messages[0]["content"] == user_system_prompt(instruction)
    assert f"Instruction: {instruction}\n\nRules:\n- Just generate one line" in first.messages[0]["content"]
    assert first.messages[1] == {"role": "user", "content": GREETING}
    assert user_backend.requests[-1].messages[-1] == {"role": "user", "content": "Your order #W100 is cancelled."}


def test_recorded_user_log_from_a_previous_run(data_dir, tmp_path):
    bench = TauBench(None, data_dir / "tau_bench" / "envs", RecordedUser({"retail-0": USER0}))
    out = tmp_path / "tau.jsonl"
    run_benchmark(bench, Scripted({"tau:retail-0": GOLD0}), out, limit=1)
    assert load_user_log(out)["retail-0"] == USER0
    replay = run_benchmark(TauBench(None, bench.info, RecordedUser(out)), Scripted({"tau:retail-0": GOLD0}),
                           tmp_path / "again.jsonl", limit=1)
    assert replay.results[0].metrics["reward"] == 1.0


def test_the_shared_database_is_untouched(data_dir, tmp_path):
    bench = TauBench(None, data_dir / "tau_bench" / "envs", RecordedUser({"retail-0": USER0}))
    run_benchmark(bench, Scripted({"tau:retail-0": GOLD0}), tmp_path / "tau.jsonl", limit=1)
    assert bench.domain("retail").data["orders"]["#W100"]["status"] == "pending"


def test_missing_recording_or_data_is_reported(data_dir, tmp_path):
    bench = TauBench(data_dir / "taubench" / "tasks.jsonl", data_dir / "taubench", RecordedUser({"retail-0": ["hi"]}))
    run = run_benchmark(bench, Scripted({}), tmp_path / "tau.jsonl")
    assert [r.status for r in run.results] == ["ok", "failed", "failed"]
    assert "no recorded user turns" in run.results[1].error and run.results[1].error_kind == FailureKind.DATA
    with pytest.raises(BenchDataError, match="--tau-info"):
        Domain.load(tmp_path)


def test_calls_written_in_the_text_are_read_in_the_tool_format_given(data_dir, tmp_path):
    """A model without a server-side tool parser writes its calls in the text: read in --tool-format."""
    def llama(name, args):
        return json.dumps({"name": name, "parameters": args})

    agent = [llama("find_user_id_by_email", {"email": EMAIL}), llama("get_order_details", {"order_id": "#W100"}),
             say("Order #W100 is pending. Shall I cancel it as no longer needed?"),
             llama("cancel_pending_order", {"order_id": "#W100", "reason": "no longer needed"}),
             say("Your order #W100 is cancelled.")]
    info = data_dir / "tau_bench" / "envs"
    for fmt, reward in (("llama3", 1.0), ("hermes", 0.0)):  # read as Qwen's, the JSON is said to the user
        bench = TauBench(None, info, RecordedUser({"retail-0": USER0}), tool_format=fmt)
        run = run_benchmark(bench, Scripted({"tau:retail-0": agent}, default=say("...")), tmp_path / f"{fmt}.jsonl",
                            limit=1)
        assert run.results[0].metrics["reward"] == reward, fmt
    assert run.results[0].messages[2] == {"role": "assistant", "content": agent[0]}


def test_the_papers_codes_run_alike_under_its_call_function(data_dir):
    """The paper's evaluation_taubench.py runs codes.json with get_feedback (exec inside call_function, the
    database passed as ``data``); toolgym runs each source as a module. For these sources the two agree on
    every gold action: the same output and the same database afterwards (tau-bench's hash)."""
    from ftrl_utils import get_feedback

    dom = Domain.load(data_dir / "taubench" / "retail")
    codes = json.loads((data_dir / "taubench" / "retail" / "codes.json").read_text())
    tasks = [json.loads(line) for line in (data_dir / "taubench" / "tasks.jsonl").read_text().splitlines()]
    checked = 0
    for task in tasks:
        ours, theirs = dom.fresh_data(), dom.fresh_data()
        for action in task["actions"]:
            fn = action["function"]
            out = dom.call(ours, fn["name"], json.loads(fn["arguments"]))
            [feedback] = get_feedback([action], codes, data=theirs)
            assert out == feedback["content"], fn
            checked += 1
        assert data_hash(ours) == data_hash(theirs)
    assert checked >= 8
