"""The episode API over one environment."""

import json

import pytest

from toolgym.reward import replay_messages
from toolgym.rollout import EpisodeConfig, ToolEnv, check_env


def test_check_env_over_every_sample(pool, samples):
    for env in samples:
        check_env(env, pool)


def test_check_env_catches_a_broken_environment(pool, samples):
    broken = samples[0].model_copy(update={"expected": {"get_city_info": ["nope"]}})
    with pytest.raises(AssertionError, match="positive reward"):
        check_env(broken, pool)


def test_gold_episode_rewards_and_messages(pool, samples):
    env = samples[6]  # parallel multi-hop, three turns
    tenv = ToolEnv(env, pool)
    obs, info = tenv.reset(seed=3)
    assert info["needed"] == 5
    rewards = []
    for turn in env.solution:
        obs, r, term, trunc, info = tenv.step("\n".join(c.to_hermes() for c in turn))
        rewards.append(r)
    obs, r, term, trunc, info = tenv.step("They were born 17 years apart.")
    rewards.append(r)
    assert rewards == pytest.approx([4 / 3, 4 / 3, 1.0, 1.0]) and term and not trunc
    roles = [m["role"] for m in obs["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "assistant", "tool", "tool", "assistant", "tool", "assistant"]
    call = obs["messages"][1]["tool_calls"][0]
    assert call["id"] == "call_0_0" and json.loads(call["function"]["arguments"]) == {"title": "The Glass Orchard"}
    assert obs["messages"][2]["tool_call_id"] == "call_0_0"
    t = tenv.trajectory(sample=2, model="scripted")
    assert t.metrics.solve_f1 == 1.0 and t.metrics.answer_correct and t.status == "completed"
    assert t.metadata == {"seed": 3, "tool_format": "hermes", "strip_thinking": False}
    assert [s.reward for s in t.steps] == pytest.approx(rewards)
    assert replay_messages(t.messages, env.expected, env.answer) == t.metrics


def test_unknown_tool_and_wrong_argument_types_are_told_and_the_episode_goes_on(pool, samples):
    tenv = ToolEnv(samples[0], pool)
    tenv.reset()
    _, r, term, _, _ = tenv.step('<tool_call>{"name": "get_weather", "arguments": {"city": "Orlay"}}</tool_call>')
    assert r == 0 and not term
    assert tenv.messages[-1]["content"] == "an error occured when call get_weather: 'get_weather'"
    _, r, term, _, _ = tenv.step('<tool_call>{"name": "get_city_info", "arguments": {"city": 7, "field": "x"}}</tool_call>')
    assert r == 0 and not term and "must be a non-empty string" in tenv.messages[-1]["content"]
    _, r, term, _, _ = tenv.step('<tool_call>{"name": "get_city_info", "arguments": {"town": "Orlay"}}</tool_call>')
    assert "unexpected keyword argument 'town'" in tenv.messages[-1]["content"] and not term


def test_malformed_calls_end_the_episode_as_the_paper_does_or_get_feedback(pool, samples):
    bad = '<tool_call>{"name": "get_city_info", "arguments": {"city": </tool_call>'
    strict = ToolEnv(samples[0], pool)  # the default: data_sample.py and evaluation_self.py stop here
    assert strict.config.malformed == "end"
    strict.reset()
    _, r, term, _, info = strict.step(bad)
    assert r == -0.3 and term and info["branch"] == "malformed"
    tenv = ToolEnv(samples[0], pool, EpisodeConfig(malformed="feedback"))
    tenv.reset()
    _, r, term, trunc, info = tenv.step(bad)
    assert r == -0.3 and not term and not trunc and info["branch"] == "malformed"
    assert tenv.messages[-1]["role"] == "user" and "could not be read" in tenv.messages[-1]["content"]
    with pytest.raises(ValueError, match="--malformed"):
        EpisodeConfig(malformed="retry")


def test_native_calls_and_thinking(pool, samples):
    env = samples[0]
    native = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "x", "type": "function", "function": {"name": "get_city_info",
                                                     "arguments": '{"city": "Varenholm", "field": "population"}'}}]}
    final = "<think>\nThe tool said 482113.\n</think>\n\nAbout 482113 people live there."
    tenv = ToolEnv(env, pool, EpisodeConfig(strip_thinking=True))
    tenv.reset()
    _, r, _, _, info = tenv.step(native)
    assert r == 1.0 and info["solve_rate"] == 1.0
    _, r, term, _, _ = tenv.step(final)
    assert term and r == 1.0
    last = tenv.messages[-1]
    assert last["reasoning_content"] == "The tool said 482113." and last["content"] == "About 482113 people live there."
    # the paper's reading (the default) keeps the whole reply as the content
    paper = ToolEnv(env, pool)
    paper.reset()
    paper.step(native)
    _, r, term, _, _ = paper.step(final)
    assert term and r == 1.0 and paper.messages[-1]["content"] == final and "reasoning_content" not in paper.messages[-1]


def test_turn_limit_truncates(pool, samples):
    env = samples[4]
    tenv = ToolEnv(env, pool, EpisodeConfig(max_turns=1))
    tenv.reset()
    _, _, term, trunc, _ = tenv.step(env.solution[0][0].to_hermes())
    assert trunc and not term
    assert tenv.trajectory().status == "truncated" and tenv.trajectory().metrics.answer_correct is False
    with pytest.raises(RuntimeError):
        tenv.step("x")


def test_reward_variant_is_used(pool, samples):
    env = samples[2]
    tenv = ToolEnv(env, pool, EpisodeConfig(reward_variant="product"))
    tenv.reset()
    _, r, *_ = tenv.step("\n".join(c.to_hermes() for c in env.solution[0]))
    assert r == pytest.approx(2.0)  # k^2 / n = 4 / 2
    with pytest.raises(ValueError):
        ToolEnv(env, pool, EpisodeConfig(reward_variant="nope"))


async def _astep(tenv, text):
    return await tenv.astep(text)


def test_async_step(pool, samples):
    import asyncio

    env = samples[1]
    tenv = ToolEnv(env, pool)
    tenv.reset()
    _, r, *_ = asyncio.run(_astep(tenv, env.solution[0][0].to_hermes()))
    assert r == 1.0


def test_check_env_over_built_environments(pool, tmp_path):
    """The contract test: every environment the procedural builder writes passes check_env."""
    from toolgym.builder import BuildConfig, build
    from toolgym.io import read_environments

    out = tmp_path / "built.jsonl"
    build(BuildConfig(seed=11), out, 240)
    envs = list(read_environments(out))
    assert len(envs) == 240 and len({e.scenario for e in envs}) == 4
    assert {lvl for e in envs for lvl in e.metadata.complexity.values()} == {0, 1, 2, 3}
    for env in envs:
        check_env(env, pool)
