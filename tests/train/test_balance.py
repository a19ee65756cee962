"""``train prepare --question-share``: question-turn prompts resampled to a chosen share, the rest kept."""

from dataclasses import dataclass

import pytest

from toolgym.errors import ConfigError
from toolgym.train.balance import question_share


@dataclass(frozen=True)
class P:
    env: int
    turn: int


def test_question_turns_reach_the_share_and_later_turns_stay():
    prompts = [P(e, 0) for e in range(20)] + [P(e, t) for e in range(20) for t in (1, 2, 3, 4)]
    out = question_share(prompts, 0.5, seed=1)
    questions = [p for p in out if p.turn == 0]
    assert [p for p in out if p.turn] == [p for p in prompts if p.turn]
    assert len(questions) == 80 and {p.env for p in questions} == set(range(20))  # each repeated 4 times
    fractional = question_share(prompts, 0.3, seed=1)  # weight 80 * 0.3 / (0.7 * 20) = 1.71: each kept, some twice
    n = sum(p.turn == 0 for p in fractional)
    assert {p.env for p in fractional if p.turn == 0} == set(range(20)) and 20 < n < 40
    assert question_share(prompts, 0.3, seed=1) == fractional  # seeded
    down = question_share(prompts, 0.05, seed=1)  # below the natural 0.2: sampled down
    assert sum(p.turn == 0 for p in down) < 20


def test_nothing_to_balance_and_bad_shares():
    only = [P(0, 0), P(1, 0)]
    assert question_share(only, 0.5) == only
    with pytest.raises(ConfigError, match="--question-share"):
        question_share(only, 1.0)


def test_prepare_question_share_from_the_command_line(trajectories, train_envs, tmp_path):
    import json

    from typer.testing import CliRunner

    from toolgym.cli import app
    from toolgym.io import write_environments

    envs, traj = tmp_path / "envs.jsonl", tmp_path / "t.jsonl"
    write_environments(envs, train_envs)
    traj.write_text("".join(t.model_dump_json() + "\n" for t in trajectories))

    def turns(*extra):
        out = tmp_path / f"data{len(extra)}"
        r = CliRunner().invoke(app, ["train", "prepare", "--trajectories", str(traj), "--envs", str(envs), "--out",
                                     str(out), *extra], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return [json.loads(line)["turn"] for line in (out / "turns.jsonl").read_text().splitlines()]

    natural, balanced = turns(), turns("--question-share", "0.5")
    assert natural.count(0) / len(natural) < 0.4
    assert abs(balanced.count(0) / len(balanced) - 0.5) < 0.1
    assert sorted(t for t in balanced if t) == sorted(t for t in natural if t)
