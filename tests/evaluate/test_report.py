import json
import random

import pytest

from toolgym.evaluate import compare_rows, evaluate, load_report, plot_comparison
from toolgym.evaluate._report import bootstrap
from toolgym.models import ErrorRates, ScriptedPolicy
from toolgym.rollout import RolloutConfig, rollout
from toolgym.schema import Trajectory, TrajectoryMetrics


def _traj(env_id, scenario, f1, correct=True, status="completed"):
    m = TrajectoryMetrics(calls=2, solved=1, needed=2, solve_precision=0.5, solve_rate=0.5, solve_f1=f1,
                          answer_correct=correct)
    return Trajectory(env_id=env_id, metrics=m, scenario=scenario, status=status)


def test_means_per_scenario_and_overall():
    ts = [_traj("a", "single_hop", 1.0), _traj("b", "single_hop", 0.5, False), _traj("c", "multi_hop", 0.0),
          _traj("d", "multi_hop", 0.0, status="failed")]
    r = evaluate(ts, resamples=200)
    assert r.groups["single_hop"]["solve_f1"].mean == 0.75 and r.groups["single_hop"]["solve_f1"].n == 2
    assert r.groups["overall"]["solve_f1"].mean == pytest.approx(1.5 / 4)
    assert r.groups["overall"]["answer_accuracy"].mean == 0.75
    assert r.counts == {"trajectories": 4, "failed": 1, "truncated": 0, "unknown_env": 0}
    excluded = evaluate(ts, include_failed=False)
    assert excluded.groups["multi_hop"]["solve_f1"].n == 1 and excluded.counts["failed"] == 1


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
