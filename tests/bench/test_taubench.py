"""tau-bench: a retail domain in the paper's layout, the database-hash + outputs reward, a simulated
user (any backend) and a recorded user (offline replay)."""

import pytest
from bench_helpers import Scripted, call

from toolgym.bench import BenchDataError, run_benchmark
from toolgym.bench._tau_user import GREETING, STOP, BackendUser, RecordedUser, load_user_log
from toolgym.bench.taubench import Domain, TauBench, _actions, load_tasks, tasks_from_python

EMAIL = "ana.lopez@example.com"
GOOD = {
    "tau:retail-0": [call("find_user_id_by_email", email=EMAIL), call("get_order_details", order_id="#W100"),
                     "Order #W100 is pending. Shall I cancel it as no longer needed?",
                     call("cancel_pending_order", order_id="#W100", reason="no longer needed"),
                     "Your order #W100 is cancelled."],
    "tau:retail-1": [call("find_user_id_by_email", email=EMAIL), call("get_order_details", order_id="#W101"),
                     call("calculate", expression="12.0 + 10.0"), "Your order #W101 cost 22.0 in total."],
    "tau:retail-2": [call("find_user_id_by_email", email="ben.okafor@example.com"),
                     call("get_order_details", order_id="#W200"),
                     call("transfer_to_human_agents", summary="Wants to cancel a processed order.")],
}
USER_LOG = {
    "retail-0": [f"Hi, I'd like to cancel my order #W100. My email is {EMAIL}.", "Yes please, I no longer need it.", STOP],
    "retail-1": [f"How much did my order #W101 cost? My email is {EMAIL}.", STOP],
    "retail-2": ["I want to cancel order #W200, email ben.okafor@example.com.", "Then get me a human.", STOP],
}


@pytest.fixture()
def bench(data_dir):
    return TauBench(data_dir / "taubench" / "tasks.jsonl", data_dir / "taubench", RecordedUser(USER_LOG))


def test_tasks_and_domain_load_from_the_papers_layout(bench, data_dir):
    items = bench.items()
    assert [i.id for i in items] == ["retail-0", "retail-1", "retail-2"] and {i.category for i in items} == {"retail"}
    dom = bench.domain("retail")
    assert set(dom.data) == {"users", "orders", "products"} and len(dom.tools) == 5
    assert dom.call(dom.data, "calculate", {"expression": "2 * 3"}) == "6.0"
    assert dom.call(dom.data, "get_order_details", {"order_id": "#W999"}) == "Error: order not found"
    assert dom.call(dom.data, "cancel_pending_order", {"order_id": "#W100"}).startswith("Error: ")  # missing arg
    assert dom.call(dom.data, "refund", {}) == "Unknown action refund"


def test_taubench_python_task_files_are_read_as_data(data_dir):
    py = tasks_from_python(data_dir / "taubench" / "retail" / "tasks_dev.py")
    jsonl = load_tasks(data_dir / "taubench" / "tasks.jsonl", None)
    assert [t["instruction"] for t in py] == [i.data["instruction"] for i in jsonl[:2]]
    assert [_actions(t["actions"]) for t in py] == [_actions(i.data["actions"]) for i in jsonl[:2]]
    items = load_tasks(data_dir / "taubench" / "retail" / "tasks_dev.py", None)
    assert [i.id for i in items] == ["retail-0", "retail-1"] and items[1].data["outputs"] == ["22"]


def test_right_actions_pass_and_the_database_is_per_episode(bench, tmp_path):
    run = run_benchmark(bench, Scripted(GOOD), tmp_path / "tau.jsonl", concurrency=3)
    assert [r.metrics["pass^1"] for r in run.results] == [1.0, 1.0, 1.0]
    assert bench.domain("retail").data["orders"]["#W100"]["status"] == "pending"  # the shared copy is untouched
    conv = run.results[0].messages
    assert conv[0]["role"] == "system" and "Retail agent policy" in conv[0]["content"]
    assert [m["content"] for m in conv if m["role"] == "user"] == USER_LOG["retail-0"]
    assert run.results[1].detail["outputs"] == {"22": True}
    assert conv[-1] == {"role": "user", "content": STOP}
    assert run.results[2].messages[-1]["content"] == "Transfer successful"  # the terminate tool ends the episode
    assert run.report.value("retail", "pass^1").mean == 1.0


def test_wrong_state_or_missing_output_fails(bench, tmp_path):
    bad = dict(GOOD)
    bad["tau:retail-0"] = [*GOOD["tau:retail-0"][:3], call("cancel_pending_order", order_id="#W100",
                                                            reason="ordered by mistake"), "Done."]
    bad["tau:retail-1"] = [*GOOD["tau:retail-1"][:3], "It cost twenty-two dollars."]
    bad["tau:retail-2"] = [call("cancel_pending_order", order_id="#W100", reason="no longer needed"),  # wrong order
                           "I cannot cancel it, sorry."]
    run = run_benchmark(bench, Scripted(bad), tmp_path / "tau.jsonl")
    assert [r.metrics["pass^1"] for r in run.results] == [0.0, 0.0, 0.0]
    assert run.results[0].detail["database_ok"] is False
    assert run.results[1].detail == {"database_ok": True, "outputs": {"22": False}, "user": "recorded-user"}


def test_a_failed_write_leaves_the_database_as_the_gold_path_does(bench, tmp_path):
    """tau-bench scores the final database: a refused cancellation plus no transfer still passes task 2,
    whose gold path changes nothing."""
    replies = {"tau:retail-2": [call("cancel_pending_order", order_id="#W200", reason="no longer needed"),
                                "It cannot be cancelled, sorry."]}
    run = run_benchmark(bench, Scripted(replies), tmp_path / "tau.jsonl")
    assert "non-pending" in run.results[2].messages[3]["content"] and run.results[2].metrics["pass^1"] == 1.0


def test_only_the_first_call_of_a_reply_runs(bench, tmp_path):
    two = {"tau:retail-2": [call("find_user_id_by_email", email="ben.okafor@example.com")
                            + call("transfer_to_human_agents", summary="x"), "Bye."]}
    run = run_benchmark(bench, Scripted(two), tmp_path / "tau.jsonl", limit=None)
    conv = next(r for r in run.results if r.id == "retail-2").messages
    assert len(conv[2]["tool_calls"]) == 1 and conv[3]["content"] == "ben_okafor_2020"


def test_a_backend_plays_the_user_with_roles_flipped(data_dir, tmp_path):
    def customer(req):
        said = sum(m["role"] == "assistant" for m in req.messages)
        return [f"Cancel #W100 please, email {EMAIL}.", "Yes, I no longer need it.", STOP][min(said, 2)]

    user_backend = Scripted({"tau-user:retail-0": customer})
    bench = TauBench(data_dir / "taubench" / "tasks.jsonl", data_dir / "taubench", BackendUser(user_backend),
                     domain="retail")
    run = run_benchmark(bench, Scripted(GOOD), tmp_path / "tau.jsonl", limit=1)
    assert run.results[0].metrics["pass^1"] == 1.0
    first = user_backend.requests[0]
    assert first.messages[0]["role"] == "system" and bench.items()[0].data["instruction"] in first.messages[0]["content"]
    assert "###STOP###" in first.messages[0]["content"] and first.messages[1] == {"role": "user", "content": GREETING}
    last = user_backend.requests[-1].messages
    assert last[-1] == {"role": "user", "content": "Your order #W100 is cancelled."}  # the agent speaks as "user"


def test_recorded_user_log_from_a_previous_run(bench, tmp_path):
    out = tmp_path / "tau.jsonl"
    run_benchmark(bench, Scripted(GOOD), out)
    log = load_user_log(out)
    assert log["retail-0"] == USER_LOG["retail-0"]
    replay = TauBench(bench.tasks_path, bench.info, RecordedUser(out))
    again = run_benchmark(replay, Scripted(GOOD), tmp_path / "tau2.jsonl")
    assert [r.messages for r in again.results] == [r.messages for r in run_benchmark(bench, Scripted(GOOD), out).results]


def test_missing_recording_or_data_is_reported(data_dir, tmp_path):
    bench = TauBench(data_dir / "taubench" / "tasks.jsonl", data_dir / "taubench", RecordedUser({"retail-0": ["hi"]}))
    run = run_benchmark(bench, Scripted(GOOD), tmp_path / "tau.jsonl")
    assert [r.status for r in run.results] == ["ok", "failed", "failed"]
    assert "no recorded user turns" in run.results[1].error
    with pytest.raises(BenchDataError, match="--tau-info"):
        Domain.load(tmp_path)
