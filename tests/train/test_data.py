"""Per-turn prefixes and preference pairs from trajectories."""

import json

import pyarrow.parquet as pq
import pytest

from toolgym.reward.verl import compute_score
from toolgym.rollout import ToolEnv
from toolgym.train.data import initial_prompt, preference_pairs, prefixes, turn_prompts
from toolgym.train.layouts import read_pairs, read_turns, write_data


def _gold_trajectory(env, pool):
    tenv = ToolEnv(env, pool)
    tenv.reset()
    for turn in env.solution:
        tenv.step("Checking.\n" + "\n".join(c.to_hermes() for c in turn))
    tenv.step(f"The answer is {env.answer}.")
    return tenv.trajectory()


def test_prefixes_follow_the_reference_recipe(pool, train_envs):
    env = train_envs[6]  # three tool-calling turns, then the answer
    t = _gold_trajectory(env, pool)
    ps = list(turn_prompts(t, env))
    # the question, then the conversation after each turn that called tools (so the final answer's turn too,
    # but nothing after it)
    assert [p.turn for p in ps] == [0, 1, 2, 3]
    assert ps[0].messages == [{"role": "user", "content": env.question}] and ps[0].solve_rate == 0.0
    assert ps[0].unsolved == env.expected
    # after turn 0 the two books are solved, so the state shrinks; earlier turns are kept verbatim
    assert ps[1].unsolved["get_book"] == [] and ps[1].solve_rate == pytest.approx(2 / 5)
    assert ps[1].messages[1] == {"role": "assistant", "content": t.steps[0].response}
    assert [m["role"] for m in ps[1].messages] == ["user", "assistant", "tool", "tool"]
    assert ps[2].solve_rate == pytest.approx(4 / 5) and ps[2].response == t.steps[2].response
    assert all(p.codes == env.code and p.tools == env.tools and p.answer == env.answer for p in ps)


def test_a_prefix_row_scores_like_the_live_episode(pool, train_envs):
    """The reward of a response at a prefix equals the step reward the live episode gave it."""
    env = train_envs[7]
    t = _gold_trajectory(env, pool)
    ps = list(turn_prompts(t, env))
    assert len(ps) == len(t.steps)
    for p, step in zip(ps, t.steps):
        truth = {"unsolved_set": p.unsolved, "solve_rate": p.solve_rate, "answer": p.answer}
        assert compute_score("d", p.response, truth, {"codes": p.codes}) == pytest.approx(step.reward)


def test_native_calls_become_hermes_text(pool, train_envs):
    env = train_envs[0]
    tenv = ToolEnv(env, pool)
    tenv.reset()
    call = env.solution[0][0]
    tenv.step({"role": "assistant", "content": "", "tool_calls": [call.to_openai("x")]})
    tenv.step("done")
    ps = list(turn_prompts(tenv.trajectory(), env))
    assert ps[1].messages[1]["content"] == call.to_hermes()


def test_a_truncated_episode_also_gives_the_state_after_its_last_calls(pool, train_envs):
    from toolgym.rollout import EpisodeConfig

    env = train_envs[6]
    tenv = ToolEnv(env, pool, EpisodeConfig(max_turns=2))
    tenv.reset()
    for turn in env.solution[:2]:
        tenv.step("\n".join(c.to_hermes() for c in turn))
    ps = list(turn_prompts(tenv.trajectory(), env))
    assert [p.turn for p in ps] == [0, 1, 2] and ps[2].response == "" and ps[2].solve_rate == pytest.approx(4 / 5)


def test_dedupe_keeps_each_prompt_once(trajectories, train_envs):
    envs = {e.id: e for e in train_envs}
    all_ = list(prefixes(trajectories, envs, dedupe=False))
    unique = list(prefixes(trajectories, envs))
    assert len(unique) < len(all_)
    assert len({p.key for p in unique}) == len(unique)
    # every environment's question appears once
    assert sum(1 for p in unique if p.turn == 0) == len(train_envs)
    assert initial_prompt(train_envs[0]).key in {p.key for p in unique}


def test_preference_pairs(trajectories, train_envs):
    envs = {e.id: e for e in train_envs}
    steps = preference_pairs(trajectories, envs, level="step")
    assert steps and all(p.chosen_score > p.rejected_score and p.chosen != p.rejected for p in steps)
    whole = preference_pairs(trajectories, envs, level="trajectory")
    assert whole and all(p.chosen_score > p.rejected_score for p in whole)
    assert all(p.prompt == [{"role": "user", "content": envs[p.env_id].question}] for p in whole)
    assert "<tool_response>" in whole[0].chosen + whole[0].rejected
    # a huge margin drops everything (ties and small differences are not preferences)
    assert preference_pairs(trajectories, envs, margin=10) == []


def test_data_folder_layouts(data_dir, train_envs):
    counts = json.loads((data_dir / "manifest.json").read_text())["counts"]
    turns = read_turns(data_dir)
    assert counts["prompts"] == len(turns) > 0 and counts["pairs"] == len(read_pairs(data_dir)) > 0
    rows = pq.read_table(data_dir / "verl" / "train.parquet").to_pylist()
    assert len(rows) == len(turns)
    row = rows[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info", "tools"}
    assert all(set(m) == {"role", "content"} for r in rows for m in r["prompt"])
    truth = json.loads(row["reward_model"]["ground_truth"])
    assert truth["unsolved_set"] == turns[0].unsolved and truth["solve_rate"] == turns[0].solve_rate
    from datasets import load_from_disk

    ds = load_from_disk(str(data_dir / "trl"))
    assert len(ds) == len(turns) and json.loads(ds[0]["unsolved_set"]) == turns[0].unsolved


def test_empty_data_is_written_without_layouts(tmp_path):
    counts = write_data(tmp_path / "d", [])
    assert counts == {"prompts": 0, "pairs": 0} and not (tmp_path / "d" / "trl").exists()
