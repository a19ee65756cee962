import json
import random

import pytest

from toolgym.evaluate import (
    NO_CALL_MARK,
    bootstrap,
    compare_rows,
    evaluate,
    evaluate_metrics,
    load_report,
    plot_comparison,
)
from toolgym.models import ErrorRates, ScriptedPolicy
from toolgym.reward import answer_matches
from toolgym.rollout import RolloutConfig, rollout
from toolgym.schema import Trajectory, TrajectoryMetrics


def _traj(env_id, scenario, f1, correct=True, status="completed", calls=2, sample=0):
    m = TrajectoryMetrics(calls=calls, solved=1 if calls else 0, needed=2, solve_precision=0.5 if calls else 1.0,
                          solve_rate=0.5, solve_f1=f1, answer_correct=correct)
    return Trajectory(env_id=env_id, sample=sample, metrics=m, scenario=scenario, status=status)


def test_means_per_scenario_and_overall():
    ts = [_traj("a", "single_hop", 1.0), _traj("b", "single_hop", 0.5, False), _traj("c", "multi_hop", 0.0),
          _traj("d", "multi_hop", 0.0, status="failed")]
    r = evaluate(ts, resamples=200)
    assert r.groups["single_hop"]["solve_f1"].mean == 0.75 and r.groups["single_hop"]["solve_f1"].n == 2
    assert r.groups["overall"]["solve_f1"].mean == pytest.approx(1.5 / 4)
    assert r.groups["overall"]["answer_accuracy"].mean == 0.75
    assert r.counts == {"episodes": 4, "trajectories": 4, "failed": 1, "truncated": 0, "unknown_env": 0}
    assert r.failed_fraction == 0.25
    excluded = evaluate(ts, include_failed=False)
    assert excluded.groups["multi_hop"]["solve_f1"].n == 1 and excluded.counts["failed"] == 1
    assert "1 failed episode(s) (the model never answered) left out" in excluded.notes()
    assert any("count with what they did" in n for n in r.notes())


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_n():
    rng = random.Random(1)
    small = [rng.random() for _ in range(20)]
    big = small * 25
    lo, hi = bootstrap(small, rng=random.Random(0))
    lo2, hi2 = bootstrap(big, rng=random.Random(0))
    mean = sum(small) / len(small)
    assert lo < mean < hi and lo2 < mean < hi2 and (hi2 - lo2) < (hi - lo) / 3


def test_recomputing_against_environments(pool, samples, tmp_path):
    out = tmp_path / "t.jsonl"
    rollout(samples, ScriptedPolicy(ErrorRates(wrong_argument=0.4), seed=2), out, config=RolloutConfig(samples=4),
            executor=pool)
    ts = [Trajectory.model_validate_json(x) for x in out.read_text().splitlines()]
    stored = evaluate(ts)
    replayed = evaluate(ts, {e.id: e for e in samples})
    for g in stored.groups:
        for m in ("solve_precision", "solve_rate", "solve_f1", "answer_accuracy"):
            assert stored.groups[g][m].mean == pytest.approx(replayed.groups[g][m].mean)
    unknown = evaluate(ts, {samples[0].id: samples[0]})
    assert unknown.counts["unknown_env"] == len(ts) - 4


def test_save_load_compare_and_chart(tmp_path):
    a = evaluate([_traj("a", "single_hop", 0.2), _traj("b", "multi_hop", 0.4)], name="before")
    b = evaluate([_traj("a", "single_hop", 0.6), _traj("b", "multi_hop", 0.9)], name="after")
    a.save(tmp_path / "a.json")
    again = load_report(tmp_path / "a.json")
    assert again.groups["overall"]["solve_f1"].mean == pytest.approx(0.3) and again.name == "before"
    rows = compare_rows(again, b, "solve_f1")
    assert [r[0] for r in rows] == ["multi_hop", "single_hop", "overall"]
    assert rows[-1][3] == pytest.approx(0.45)
    png = plot_comparison(again, b, tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "a.json").read_text())["groups"]["single_hop"]["solve_f1"]["n"] == 1


def test_the_report_does_not_depend_on_the_order_of_the_trajectories(pool, samples, tmp_path):
    """A run killed and resumed writes its lines in another order: the report must be the same."""
    out = tmp_path / "t.jsonl"
    rollout(samples, ScriptedPolicy(ErrorRates(wrong_argument=0.4, missing_call=0.2), seed=7), out,
            config=RolloutConfig(samples=5), executor=pool)
    ts = [Trajectory.model_validate_json(x) for x in out.read_text().splitlines()]
    envs = {e.id: e for e in samples}
    reference = evaluate(ts, envs, name="r").to_dict()
    for seed in range(3):
        shuffled = list(ts)
        random.Random(seed).shuffle(shuffled)
        assert evaluate(shuffled, envs, name="r").to_dict() == reference
    # nor on which other scenarios are in the file: a group's interval is its own
    one = [t for t in ts if t.scenario == "multi_hop"]
    assert evaluate(one, envs).groups["multi_hop"] == evaluate(ts, envs).groups["multi_hop"]


def test_a_run_without_tool_calls_is_marked(tmp_path):
    silent = evaluate([_traj("a", "single_hop", 0.0, calls=0), _traj("b", "multi_hop", 0.0, calls=0)], name="silent")
    assert silent.groups["overall"]["solve_precision"].mean == 1.0  # the paper's convention, kept
    assert silent.made_no_calls("overall") and silent.mark("overall", "solve_precision") == NO_CALL_MARK
    assert silent.cell("overall", "solve_precision").startswith("100.00" + NO_CALL_MARK)
    assert silent.mark("overall", "solve_f1") == "" and any("no tool call" in n for n in silent.notes())
    some = evaluate([_traj("a", "single_hop", 0.0, calls=0), _traj("b", "single_hop", 0.5)])
    assert not some.made_no_calls("overall") and some.mark("overall", "solve_precision") == ""
    assert any("1 of 2 trajectories made no tool call" in n for n in some.notes())
    silent.save(tmp_path / "r.json")
    again = load_report(tmp_path / "r.json")
    assert again.made_no_calls("overall") and again.calls == silent.calls


def test_scored_items_use_the_same_aggregation():
    ts = [_traj("a", "single_hop", 1.0), _traj("b", "single_hop", 0.5, False), _traj("c", "multi_hop", 0.0)]
    from_items = evaluate_metrics([(t.scenario, t.metrics) for t in ts], name="x")
    assert from_items.to_dict() == evaluate(ts, name="x").to_dict()


def test_the_scripted_baseline_answers_only_what_its_tools_returned(pool, samples, tmp_path):
    """Answer accuracy checks the final reply; a baseline that makes wrong calls must not know the answer."""
    gold, careless = tmp_path / "gold.jsonl", tmp_path / "careless.jsonl"
    rollout(samples, ScriptedPolicy(), gold, config=RolloutConfig(samples=2), executor=pool)
    rollout(samples, ScriptedPolicy(ErrorRates(wrong_argument=0.3), seed=1), careless,
            config=RolloutConfig(samples=4), executor=pool)
    envs = {e.id: e for e in samples}
    ts = [Trajectory.model_validate_json(x) for x in careless.read_text().splitlines()]
    assert evaluate([Trajectory.model_validate_json(x) for x in gold.read_text().splitlines()],
                    envs).groups["overall"]["answer_accuracy"].mean == 1.0
    accuracy = evaluate(ts, envs).groups["overall"]["answer_accuracy"].mean
    assert 0 < accuracy < 1
    for t in ts:  # it answers exactly when everything the answer needs was returned
        outputs = "\n".join(m["content"] for m in t.messages if m["role"] == "tool")
        assert t.metrics.answer_correct == answer_matches(outputs, envs[t.env_id].answer)
