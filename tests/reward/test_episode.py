"""The one Episode (books of an episode), the one solve-rate formula, and the TRL reward as a picklable class."""

import importlib
import json
import pickle

import pytest

from toolgym.parse import parse
from toolgym.reward import Episode, solve_rate
from toolgym.reward.trl import StepReward, make_reward_func, step_reward_f1

CODE = {"f": "def f(city):\n    return {'capital': 'Paris'} if city == 'France' else 'unknown'",
        "g": "def g(x):\n    return 'Berlin'"}
EXPECTED = {"f": ["Paris"], "g": ["Berlin"]}
GOOD = '<tool_call>\n{"name": "f", "arguments": {"city": "France"}}\n</tool_call>'


def test_solve_rate_is_the_reference_formula_with_one_zero_guard():
    # data_sample.py: 1 - sum(len(v) for v in unsolved_set.values()) / unsolved_cnt
    assert solve_rate(3, 5) == 1 - 3 / 5
    assert solve_rate(0, 5) == 1.0 and solve_rate(5, 5) == 0.0
    assert solve_rate(0, 0) == 1.0  # nothing expected: all solved (the reference divides by zero)


def test_episode_books_steps_calls_and_recorded_turns():
    e = Episode(EXPECTED, "Paris")
    assert (e.needed, e.solve_rate, e.calls, e.turns) == (2, 0.0, 0, 0)
    out = e.step(parse(GOOD, "hermes"), ['{"capital": "Paris"}'])
    assert out.reward == pytest.approx(1.0) and out.branch == "tool_calls"
    assert (e.calls, e.solved, e.turns, e.solve_rate) == (1, 1, 1, 0.5)
    assert e.unsolved.to_dict() == {"f": [], "g": ["Berlin"]}
    assert EXPECTED == {"f": ["Paris"], "g": ["Berlin"]}  # the caller's mapping is never changed
    assert e.call("g", "Berlin!") == "Berlin" and e.call(None, "Berlin") is None  # unreadable name: counted only
    e.record(["f"], ["Paris"])  # a recorded turn: the item is already solved
    assert (e.calls, e.solved, e.turns, e.solve_rate) == (4, 2, 2, 1.0)
    final = e.step(parse("It is Paris.", "hermes"), [])
    assert final.reward == 1.0 and final.branch == "answer"
    m = e.metrics("It is Paris.")
    assert (m.calls, m.solved, m.needed, m.turns, m.answer_correct) == (4, 2, 2, 3, True)
    assert m.solve_f1 == pytest.approx(2 * 2 / (4 + 2))
    assert e.metrics(None).answer_correct is False and Episode(EXPECTED).metrics("x").answer_correct is None


def test_an_episode_with_nothing_to_solve_is_all_solved():
    e = Episode({}, None)
    assert e.solve_rate == 1.0
    assert e.step(parse("Nothing to do.", "hermes"), []).branch == "all_solved"


def test_the_trl_reward_is_a_picklable_class(pool):
    columns = {"codes": [json.dumps(CODE)] * 2, "unsolved_set": [json.dumps(EXPECTED)] * 2, "solve_rate": [0.0] * 2,
               "answer": ["Paris"] * 2, "completion_ids": [[1], [2]], "trainer_state": None}
    local = make_reward_func("f1", executor=pool)
    assert isinstance(local, StepReward) and local.__name__ == "toolgym_f1"
    expected = local(prompts=["p", "p"], completions=[GOOD, "It is Paris."], **columns)
    assert expected == pytest.approx([1.0, 1 / 3])
    copy = pickle.loads(pickle.dumps(StepReward("f1")))  # what TRL does to send it to another process
    assert copy.__name__ == "toolgym_f1" and copy.variant == "f1"
    with pytest.raises(TypeError, match="another process"):
        pickle.dumps(local)  # an executor object cannot travel; refused, not swapped silently


def test_module_level_rewards_load_by_dotted_path_as_trl_grpo_does():
    # trl/scripts/grpo.py: module_path, func_name = name.rsplit(".", 1); getattr(import_module(module_path), func_name)
    columns = {"codes": [json.dumps(CODE)] * 2, "unsolved_set": [json.dumps(EXPECTED)] * 2, "solve_rate": [0.0] * 2,
               "answer": ["Paris"] * 2}
    for variant in ("f1", "precision", "rate", "product"):
        module_path, name = f"toolgym.reward.trl.step_reward_{variant}".rsplit(".", 1)
        fn = getattr(importlib.import_module(module_path), name)
        assert isinstance(fn, StepReward) and fn.variant == variant and fn.__name__ == f"toolgym_{variant}"
        # called as TRL calls it: a batch of completions with the dataset's columns, tools in the sandbox
        rewards = fn(prompts=["p", "p"], completions=[GOOD, "It is Paris."], **columns)
        assert len(rewards) == 2 and rewards[0] > rewards[1]
        if variant == "f1":
            assert rewards == pytest.approx([1.0, 1 / 3])
    assert pickle.loads(pickle.dumps(step_reward_f1)).variant == "f1"
    trl_utils = pytest.importorskip("trl.trainer.utils")
    assert trl_utils.get_callable_name(step_reward_f1) == "toolgym_f1"  # the name TRL logs the reward under


def test_trl_reward_columns_must_line_up(pool):
    fn = StepReward("f1", executor=pool)
    with pytest.raises(ValueError, match="unsolved_set"):
        fn(prompts=["p"], completions=[GOOD], codes=[CODE], unsolved_set=[EXPECTED, EXPECTED])
    with pytest.raises(ValueError, match="codes"):
        fn(prompts=["p"], completions=[GOOD], unsolved_set=[EXPECTED])
