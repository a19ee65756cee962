"""Property tests over the reward's entry points: no model output makes them raise (one bad sample must
never fail a training step's reward batch), and the step reward equals the paper's ``compute_solve_*`` on
the same fuzzed replies."""

import copy
import json

import pytest
from ftrl_reference import compute_solve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_outputs import DEEP, HUGE_INT, replies, responses

import toolgym.reward.verl as verl_reward
from toolgym.reward import score_batch, score_response
from toolgym.reward.trl import StepReward
from toolgym.schema import TurnState

CODE = {"f": "def f(city='France'):\n    return {'capital': 'Paris'} if city == 'France' else 'unknown'",
        "g": "def g(**kw):\n    return sorted(kw)"}
UNSOLVED = {"f": ["Paris"], "g": ["x"]}
TRUTH = {"unsolved_set": UNSOLVED, "solve_rate": 0.0, "answer": "Paris"}
BATCH = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
CRASHERS = ['<tool_call>{"name": "f", "arguments": {"x": ' + HUGE_INT + "}}</tool_call>",
            "<tool_call>" + DEEP + "</tool_call>", '<tool_call>{"name": "f", "arguments": {"city": "\ud800"}}',
            '<tool_call>{"name": 7, "arguments": {}}</tool_call>']


def _is_reward(x) -> bool:
    return isinstance(x, float) and -0.5 <= x <= 2.0


# a reward scores a reply given as text or as a server's message (a dict, whatever it holds)
reward_responses = responses.filter(lambda r: isinstance(r, (str, dict)))


@BATCH
@given(st.lists(reward_responses, min_size=1, max_size=12))
def test_score_batch_and_score_response_never_raise(pool, batch):
    batch = batch + CRASHERS
    scored = score_batch([_input(r) for r in batch], executor=pool)
    assert len(scored) == len(batch) and all(_is_reward(s.reward) for s in scored)
    assert _is_reward(score_response(batch[0], CODE, UNSOLVED, 0.0, "Paris", executor=pool).reward)


def _input(response):
    return TurnState(response=response, codes=CODE, unsolved=UNSOLVED, solve_rate=0.0, answer="Paris")


@BATCH
@given(st.lists(replies, min_size=1, max_size=12))
def test_verl_entry_points_never_raise(batch):
    batch = batch + CRASHERS
    extras = [{"codes": CODE, "split": "train"}] * len(batch)
    scores = verl_reward.compute_score_batch(["toolgym"] * len(batch), batch, [json.dumps(TRUTH)] * len(batch),
                                             extras)
    assert len(scores) == len(batch) and all(_is_reward(s) for s in scores)
    assert verl_reward.compute_score("toolgym", batch[0], TRUTH, extras[0]) == scores[0]


completions = st.one_of(replies, reward_responses, st.lists(st.one_of(
    st.fixed_dictionaries({"role": st.just("assistant"), "content": replies}),
    responses.filter(lambda r: isinstance(r, dict))), max_size=2))


@BATCH
@given(st.lists(completions, min_size=1, max_size=12))
def test_trl_reward_never_raises(pool, batch):
    reward = StepReward("f1", executor=pool)
    n = len(batch)
    scores = reward(prompts=[""] * n, completions=batch, codes=[json.dumps(CODE)] * n,
                    unsolved_set=[UNSOLVED] * n, solve_rate=[0.0] * n, answer=["Paris"] * n)
    assert len(scores) == n and all(_is_reward(s) for s in scores)


@pytest.mark.parametrize("variant", ["f1", "precision", "rate", "product"])
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(replies, min_size=1, max_size=8))
def test_step_reward_is_the_papers_on_fuzzed_replies(pool, variant, batch):
    batch = batch + CRASHERS[:2] + CRASHERS[3:]
    ours = [s.reward for s in score_batch([_input(r) for r in batch], variant=variant, executor=pool)]
    for reply, reward in zip(batch, ours):
        theirs = _reference(variant, reply)
        if theirs is not None:
            assert reward == pytest.approx(theirs), reply


def _reference(variant: str, reply: str) -> float | None:
    """The reference's step reward, or None where the reference itself raises (a call named by an
    unhashable value, ``[0]``, makes its ``unsolved_set.get`` raise: its whole batch would fail)."""
    try:
        return compute_solve(variant, reply, CODE, copy.deepcopy(UNSOLVED), 0.0, answer="Paris")
    except TypeError as exc:
        assert "unhashable" in str(exc)
        return None
