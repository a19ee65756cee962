"""Trajectory files as `toolgym score` reads them: toolgym's lines, the paper's evaluation output, anything
with messages; a broken line is data, not a crash."""

import json

from toolgym.formats import read_trajectory_lines, trajectory_line
from toolgym.io import Rejects
from toolgym.rollout import ToolEnv


def test_the_three_layouts(samples, pool, tmp_path):
    env = samples[0]
    tenv = ToolEnv(env, pool)
    tenv.reset()
    tenv.step(env.solution[0][0].to_hermes())
    tenv.step(f"The answer is {env.answer}.")
    ours = tenv.trajectory().model_dump(mode="json")
    # Code/evaluation/evaluation_self.py writes {"messages", "data_source", "model", "metrics"}
    reference = {"messages": ours["messages"], "data_source": "self", "model": "m",
                 "metrics": {"solve_precision": 1.0, "solve_rate": 0.5, "solve_f1": 2 / 3}}
    broken = {**ours, "metrics": {"solve_f1": "high"}}
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in (ours, reference, broken, {"messages": "no"}))
                    + "{not json\n")
    rejects = Rejects()
    a, b, c, d = read_trajectory_lines(path, rejects)
    assert rejects.records == 1  # the line that is not JSON
    assert a.layout == "toolgym" and a.env_id == env.id and a.metrics.solve_f1 == 1.0 and a.scenario == env.scenario
    assert a.question == env.question
    assert b.layout == "reference" and b.scenario == "self" and b.metrics.solve_rate == 0.5 and b.env_id is None
    assert c.layout == "toolgym" and c.metrics is None and c.env_id == env.id  # still matchable by id
    assert d is None
    assert trajectory_line({"messages": [{"role": "user", "content": [{"type": "text"}]}]}).question is None
