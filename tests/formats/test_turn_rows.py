"""The per-turn record through every row layout and back: toolgym's flat rows (turns.jsonl, the trl/
dataset), verl rows and TRL rows; and the verl and TRL rewards score the same turn alike."""

import json

import pyarrow.parquet as pq
import pytest

from toolgym.errors import InvalidRecord
from toolgym.formats import (
    TRL_COLUMNS,
    row_to_turn,
    trl_turns,
    turn_to_row,
    turn_to_trl,
    turn_to_verl,
    verl_reward_turn,
    verl_to_turn,
)
from toolgym.reward.trl import StepReward
from toolgym.rollout import ToolEnv
from toolgym.schema import TurnState
from toolgym.train.data import initial_prompt, turn_prompts
from toolgym.train.layouts import read_turns, write_data

REWARD_FIELDS = ("codes", "unsolved", "solve_rate", "answer", "env_id", "sample", "turn", "scenario", "split",
                 "data_source")


@pytest.fixture(scope="module")
def states(samples, pool):
    """Per-turn states of gold rollouts of every sample (tool turns, answers, several unsolved sets), plus
    states a writer could hand over: a rendered prompt, a non-default split and source, no answer."""
    out = []
    for i, env in enumerate(samples):
        tenv = ToolEnv(env, pool)
        tenv.reset()
        for turn in env.solution:
            tenv.step("\n".join(c.to_hermes() for c in turn))
        tenv.step(f"The answer is {env.answer}.")
        out += [s.model_copy(update={"sample": i}) for s in turn_prompts(tenv.trajectory(), env)]
    env = samples[0]
    out.append(initial_prompt(env).model_copy(update={
        "prompt_text": "<|im_start|>user\nrendered<|im_end|>\n", "prompt_ids": [1, 2, 3],
        "data_source": "elsewhere/x", "scenario": None, "answer": None}))
    out.append(initial_prompt(env).model_copy(update={"split": "train"}))
    return out


def test_states_hold_the_environment_and_its_data_source(states, samples):
    by_id = {e.id: e for e in samples}
    for s in states[:-2]:
        env = by_id[s.env_id]
        assert (s.data_source, s.split, s.scenario) == (env.data_source, env.split, env.scenario)
    assert all(s.data_source.startswith("toolgym/") for s in states[:-2])


def test_flat_rows_round_trip_exactly(states, tmp_path):
    for s in states:
        row = turn_to_row(s)
        assert row_to_turn(row) == s
        assert row_to_turn(json.loads(json.dumps(row))) == s  # as turns.jsonl stores it
        assert row["data_source"] == s.data_source
    write_data(tmp_path / "d", states)
    assert read_turns(tmp_path / "d", split=None) == states
    from datasets import load_from_disk

    assert [row_to_turn(r) for r in load_from_disk(str(tmp_path / "d" / "trl"))] == states


def test_verl_rows_round_trip(states, tmp_path):
    """A verl row holds the prompt and the reward's state; the trajectory's own response stays in turns.jsonl."""
    for i, s in enumerate(states):
        row = turn_to_verl(s, i)
        prompt_only = s.model_copy(update={"response": "", "reward": None})
        assert verl_to_turn(row) == prompt_only
        assert row["data_source"] == s.data_source and row["extra_info"]["index"] == i
    write_data(tmp_path / "d", states)
    for split in sorted({s.split for s in states}):
        rows = pq.read_table(tmp_path / "d" / "verl" / f"{split}.parquet").to_pylist()
        mine = [s for s in states if s.split == split]
        assert [verl_to_turn(r) for r in rows] == [s.model_copy(update={"response": "", "reward": None})
                                                   for s in mine]


def test_trl_rows_round_trip_and_the_reward_reads_them(states):
    for s in states:
        row = turn_to_trl(s, "PROMPT")
        assert set(row) == set(TRL_COLUMNS) and row["data_source"] == s.data_source
        back = row_to_turn(row)
        assert back.prompt_text == "PROMPT"
        assert all(getattr(back, f) == getattr(s, f) for f in REWARD_FIELDS)
    rows = [turn_to_trl(s, "PROMPT") for s in states]
    # TRL hands a reward function every column but the prompt, one list per column
    columns = {k: [r[k] for r in rows] for k in TRL_COLUMNS[1:]}
    completions = [s.response or "x" for s in states]
    for s, c, t in zip(states, completions, trl_turns(completions, {**columns, "completion_ids": [[0]] * len(rows)})):
        assert t.response == c and t.reward is None
        assert all(getattr(t, f) == getattr(s, f) for f in REWARD_FIELDS)


def test_verl_and_trl_rewards_score_a_turn_alike(states, pool, monkeypatch):
    """The same turns, written as verl rows and as TRL rows, get the same step rewards (and the rewards the
    live rollout gave, for the replies it gave)."""
    import toolgym.reward.verl as verl_reward

    monkeypatch.setattr(verl_reward, "worker_executor", lambda: pool)
    replies = [s.response for s in states if s.response] + ["", "junk <tool_call>", "The answer is nothing."]
    pairs = [(s, r) for s in states for r in replies[:: max(1, len(replies) // 12)]]
    verl_rows = [turn_to_verl(s, i) for i, (s, _) in enumerate(pairs)]
    by_verl = verl_reward.compute_score_batch([r["data_source"] for r in verl_rows], [r for _, r in pairs],
                                              [r["reward_model"]["ground_truth"] for r in verl_rows],
                                              [r["extra_info"] for r in verl_rows])
    trl = [turn_to_trl(s, "p") for s, _ in pairs]
    by_trl = StepReward("f1", executor=pool)(prompts=["p"] * len(trl), completions=[r for _, r in pairs],
                                             **{k: [row[k] for row in trl] for k in TRL_COLUMNS[1:]})
    assert by_verl == pytest.approx(by_trl)
    for s in states:
        if s.response:
            row = turn_to_verl(s, 0)
            assert verl_reward.compute_score(row["data_source"], s.response, row["reward_model"]["ground_truth"],
                                             row["extra_info"]) == pytest.approx(s.reward)


def test_bad_rows_are_typed_errors_naming_the_column():
    s = TurnState(codes={"f": "def f():\n    return 1"}, unsolved={"f": ["1"]})
    row = turn_to_verl(s, 0)
    with pytest.raises(InvalidRecord, match="extra_info.codes"):
        verl_to_turn({**row, "extra_info": {**row["extra_info"], "codes": None}})
    with pytest.raises(InvalidRecord, match="ground_truth"):
        verl_reward_turn("d", "x", "{not json", row["extra_info"])
    with pytest.raises(InvalidRecord, match="ground_truth"):
        verl_reward_turn("d", "x", 42, row["extra_info"])
    with pytest.raises(InvalidRecord, match="unsolved_set"):
        row_to_turn({"codes": "{}"})
    with pytest.raises(InvalidRecord, match="per-turn row"):
        row_to_turn({"codes": "{}", "unsolved_set": '{"f": "not a list"}', "sample": "x"})


def test_the_reward_decodes_each_distinct_row_once_and_alike(states):
    """Rows given as JSON text are decoded once per distinct row (a GRPO step repeats each row per reply);
    the result is the decoding of the same row given as dicts, and rows that differ never share one."""
    for i, s in enumerate(states):
        row = turn_to_verl(s, i)
        truth, extra = row["reward_model"]["ground_truth"], row["extra_info"]
        cached = [verl_reward_turn(row["data_source"], r, truth, dict(extra)) for r in ("a", "b")]
        plain = verl_reward_turn(row["data_source"], "a", json.loads(truth),
                                 {**extra, "codes": json.loads(extra["codes"]), "rollout_reward_scores": {}})
        assert cached[0] == plain and cached[1].response == "b"
        assert cached[0].model_copy(update={"response": "b"}) == cached[1]
        other = verl_reward_turn(row["data_source"], "a", truth, {**extra, "turn": s.turn + 1, "split": "x"})
        assert (other.turn, other.split) == (s.turn + 1, "x")


@pytest.mark.parametrize("text, why", [
    ('{"f": ' + "1" * 5000 + "}", "4300 digits"),  # past Python's integer digit limit
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (b'{"f": "\xff"}', "utf-8"),  # bytes that are not UTF-8
], ids=["5,000-digit integer", "100,000-deep nesting", "not UTF-8"])
def test_hostile_column_text_is_a_typed_error_naming_the_column(text, why):
    """Row text anyone may have written: never a bare ValueError or RecursionError out of the decoder."""
    s = TurnState(codes={"f": "def f():\n    return 1"}, unsolved={"f": ["1"]})
    row = turn_to_verl(s, 0)
    with pytest.raises(InvalidRecord, match="ground_truth") as caught:
        verl_reward_turn("d", "x", text, row["extra_info"])
    assert why in str(caught.value).lower()
    with pytest.raises(InvalidRecord, match="unsolved_set"):
        row_to_turn({"codes": "{}", "unsolved_set": text})
