"""The per-turn cut against the paper's ``Code/data_sample/data_sample.py`` (bytedance/FTRL at HEAD).

:func:`reference_sample_process` is that script's ``sample_process``, statement for statement, with its
two outside calls replaced: ``chat_open`` (the model) by scripted replies, and ``get_feedback``'s
executor by toolgym's sandbox (the samples' tools read module-level data, which the reference's
exec-in-a-function scoping does not give them; that scoping is the sandbox's own subject). Its input row
is the environment exported with ``toolgym export --format ftrl``'s codec, as the paper's data is.

The same replies are played in toolgym's ``ToolEnv`` (ending the episode on a reply without tool calls, as
the reference does) and the trajectory is cut by :func:`toolgym.train.data.turn_prompts`. Row by row: the
cut points (the conversation each row ends with), ``unsolved_set``, ``solve_rate``, ``tools``, ``codes``,
``answer``, ``data_source`` and ``split`` must agree, and the step reward the rollout gave each reply must
equal the paper's reward at the reference's row.
"""

import json
from copy import deepcopy

import ftrl_reference
import pytest
from ftrl_reference import answer_verify, parse_qwen
from reference_sandbox import feedback_from

from toolgym.formats import env_to_ftrl
from toolgym.rollout import EpisodeConfig, ToolEnv
from toolgym.train.data import turn_prompts
from toolgym.verify import perturb


def reference_sample_process(sample, replies, max_turns, get_feedback):
    """``data_sample.py``'s ``sample_process`` (``args.parse_output`` is ``parse_qwen`` for the qwen series)."""
    replies = iter(replies)
    save_samples = [deepcopy(sample)]
    messages: list = deepcopy(sample['messages'])
    tools = json.loads(sample['tools'])  # noqa: F841  (the reference passes them to the model)
    codes = json.loads(sample['codes'])
    unsolved_set: dict = json.loads(sample['unsolved_set'])
    unsolved_cnt = sum([len(item) for item in unsolved_set.values()])

    for _ in range(max_turns):
        response = next(replies)  # chat_open([messages], args, tools)[0]
        response = parse_qwen(response)
        messages.append(response)
        if response.get('tool_calls', None):
            feedback = get_feedback(response['tool_calls'], codes)
            messages.extend(feedback)

            for tool_call, feed in zip(response['tool_calls'], feedback):
                assert tool_call['id'] == feed['tool_call_id'], f"{tool_call['id']} != {feed['tool_call_id']}"
                tool_name = tool_call['function']['name']
                answers = unsolved_set.get(tool_name, [])
                for answer in answers:
                    if answer_verify(feed['content'], answer):
                        answers.remove(answer)
                        break

            save_samples.append(
                {
                    "messages": deepcopy(messages),
                    "tools": sample["tools"],
                    "codes": sample["codes"],
                    "unsolved_set": json.dumps(unsolved_set, ensure_ascii=False),
                    "solve_rate": 1 - sum([len(item) for item in unsolved_set.values()]) / unsolved_cnt,
                    "data_source": sample["data_source"],
                    "split": sample["split"],
                    "answer": sample["answer"]
                }
            )
        else:
            break

    return save_samples


@pytest.fixture
def sandbox_feedback(pool, monkeypatch):
    """The reference's get_feedback with toolgym's sandbox as the executor (compute_solve uses it too)."""
    get_feedback = feedback_from(pool)
    monkeypatch.setattr(ftrl_reference, "get_feedback", get_feedback)
    return get_feedback


def _hermes(calls) -> str:
    return "\n".join(c.to_hermes() for c in calls)


def scripts(env) -> dict[str, tuple[list[str], int]]:
    """Named reply sequences and the turn limit they run under."""
    gold = [_hermes(t) for t in env.solution]
    answer = f"The answer is {env.answer}."
    first = env.solution[0][0]
    wrong = first.model_copy(update={"arguments": perturb(first.arguments)})
    unknown = '<tool_call>\n{"name": "no_such_tool", "arguments": {}}\n</tool_call>'
    return {
        "gold": (gold + [answer], 20),
        "wrong first call": ([_hermes([wrong] + env.solution[0][1:])] + gold + [answer], 20),
        "twice the same call, an unknown tool": ([_hermes([first, first]), unknown] + gold[1:] + [answer], 20),
        "a broken block beside a call": ([gold[0] + "\n<tool_call>\n{broken\n</tool_call>"] + gold[1:] + [answer], 20),
        "broken call mid-episode": ([gold[0], '<tool_call>\n{"name": broken\n</tool_call>'] + gold[1:], 20),
        "early answer": ([gold[0], answer], 20),
        "empty reply": ([""], 20),
        "turn limit": (gold + [answer], max(1, len(gold) - 1)),
    }


def _roles(messages) -> list[str]:
    return [m["role"] for m in messages]


def test_cut_points_unsolved_sets_and_solve_rates_match_data_sample(samples, pool, sandbox_feedback):
    compared = 0
    for env in samples:
        sample = env_to_ftrl(env)  # the reference's input row
        for name, (replies, max_turns) in scripts(env).items():
            theirs = reference_sample_process(sample, replies, max_turns, sandbox_feedback)
            tenv = ToolEnv(env, pool, EpisodeConfig(max_turns=max_turns, malformed="end"))
            tenv.reset()
            for reply in replies:
                *_, terminated, truncated, _ = tenv.step(reply)
                if terminated or truncated:
                    break
            ours = list(turn_prompts(tenv.trajectory(), env))
            where = f"{env.id} ({name})"
            assert len(ours) == len(theirs), f"{where}: {len(ours)} rows, the reference {len(theirs)}"
            for i, (a, b) in enumerate(zip(ours, theirs)):
                at = f"{where} row {i}"
                assert _roles(a.messages) == _roles(b["messages"]), f"{at}: cut at a different point"
                tool_outputs = [m["content"] for m in b["messages"] if m["role"] == "tool"]
                assert [m["content"] for m in a.messages if m["role"] == "tool"] == tool_outputs, at
                assert a.unsolved == json.loads(b["unsolved_set"]), at
                assert a.solve_rate == pytest.approx(b["solve_rate"]), at
                assert a.tools == json.loads(b["tools"]) and a.codes == json.loads(b["codes"]), at
                assert (a.answer, a.data_source, a.split) == (b["answer"], b["data_source"], b["split"]), at
                if a.response:  # the rollout's step reward for the reply given at this row = the paper's reward
                    paper = ftrl_reference.compute_solve("f1", a.response, json.loads(b["codes"]),
                                                         json.loads(b["unsolved_set"]), b["solve_rate"], "train",
                                                         b["answer"])
                    assert a.reward == pytest.approx(paper), f"{at}: reward {a.reward} != {paper}"
                compared += 1
    assert compared > 8 * 8
