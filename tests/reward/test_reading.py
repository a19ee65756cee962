"""A reply is read the same way in the rollout and in training: the verl and TRL reward entry points read it
in the tool format and thinking setting the rollout used (carried by the row, or set run-wide), so the
step reward a reply earns in training is the one it earned in the rollout."""

import pytest

from toolgym.formats import turn_to_row, turn_to_trl, turn_to_verl
from toolgym.parse import tool_format
from toolgym.reward.trl import StepReward
from toolgym.reward.verl import compute_score, compute_score_batch
from toolgym.rollout import EpisodeConfig, ToolEnv
from toolgym.train.data import turn_prompts


def first_row(env, pool, config, reply):
    """The training row of the first turn of an episode in which the model answered ``reply``."""
    tenv = ToolEnv(env, pool, config)
    tenv.reset()
    _, reward, *_ = tenv.step(reply)
    state = next(turn_prompts(tenv.trajectory(), env))
    assert state.response == reply
    return state, reward


def training_rewards(state, reply, pool, **run_wide):
    verl = turn_to_verl(state, 0)
    by_verl = compute_score(verl["data_source"], reply, verl["reward_model"]["ground_truth"], verl["extra_info"],
                            **run_wide)
    batch = compute_score_batch([verl["data_source"]], [reply], [verl["reward_model"]["ground_truth"]],
                                [verl["extra_info"]], **run_wide)[0]
    trl = turn_to_trl(state, "prompt")
    columns = {k: [v] for k, v in trl.items() if k != "prompt"}
    by_trl = StepReward("f1", executor=pool, format=run_wide.get("tool_format"),
                        strip_thinking=run_wide.get("strip_thinking"))(prompts=["prompt"], completions=[reply], **columns)[0]
    return by_verl, batch, by_trl


@pytest.mark.parametrize("strip", [False, True], ids=["the paper's reading", "--strip-thinking"])
def test_a_reasoning_block_that_mentions_tool_call_scores_the_same_in_rollout_and_training(samples, pool, strip,
                                                                                          monkeypatch):
    monkeypatch.setenv("TOOLGYM_EXECUTOR", "unsafe-inprocess")
    env = samples[0]
    gold = tool_format("hermes").write(env.solution[0])
    reply = f"<think>\nI will answer with a <tool_call> block.\n</think>\n\n{gold}"
    state, rollout_reward = first_row(env, pool, EpisodeConfig(strip_thinking=strip), reply)
    assert rollout_reward == (1.0 if strip else -0.3)  # the paper's parse_qwen stops at the first tag
    assert training_rewards(state, reply, pool) == (rollout_reward,) * 3
    assert turn_to_row(state)["strip_thinking"] is strip


def test_a_llama_reply_is_read_as_llama_in_training(samples, pool, monkeypatch):
    monkeypatch.setenv("TOOLGYM_EXECUTOR", "unsafe-inprocess")
    env = samples[0]
    reply = tool_format("llama3").write(env.solution[0])
    state, rollout_reward = first_row(env, pool, EpisodeConfig(format="llama3"), reply)
    assert rollout_reward == 1.0 and state.tool_format == "llama3"
    assert training_rewards(state, reply, pool) == (1.0, 1.0, 1.0)  # the row says how to read it
    unmarked = state.model_copy(update={"tool_format": None})  # a row written without it: the run-wide setting
    assert training_rewards(unmarked, reply, pool, tool_format="llama3") == (1.0, 1.0, 1.0)
    assert training_rewards(unmarked, reply, pool)[0] != 1.0  # read as the paper's Hermes, the call is not seen


def test_score_reads_calls_written_in_the_text_in_the_format_given(samples, pool):
    """``toolgym score --tool-format``: a conversation logged as raw model text (no structured tool_calls)."""
    from toolgym.reward import replay_messages

    env = samples[0]
    tenv = ToolEnv(env, pool, EpisodeConfig(format="llama3"))
    tenv.reset()
    reply = tool_format("llama3").write(env.solution[0])
    tenv.step(reply)
    tenv.step(f"The answer is {env.answer}.")
    logged = [{k: v for k, v in m.items() if k != "tool_calls"} for m in tenv.messages]
    logged[next(i for i, m in enumerate(logged) if m["role"] == "assistant")]["content"] = reply
    assert replay_messages(logged, env.expected, env.answer, "llama3").solve_f1 == 1.0
    assert replay_messages(logged, env.expected, env.answer).solve_f1 == 0.0  # structured calls only
