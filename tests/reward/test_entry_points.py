"""verl and TRL entry points, and the promise that the reward imports nothing heavy."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import toolgym.reward.verl as verl_reward
from toolgym.reward import replay_messages
from toolgym.reward.trl import make_reward_func

CODE = {"f": "def f(city):\n    return {'capital': 'Paris'} if city == 'France' else 'unknown'"}
TRUTH = {"unsolved_set": {"f": ["Paris"]}, "solve_rate": 0.0, "answer": "Paris"}
GOOD = '<tool_call>\n{"name": "f", "arguments": {"city": "France"}}\n</tool_call>'
BAD = '<tool_call>\n{"name": "f", "arguments": {"city": "Spain"}}\n</tool_call>'


def test_compute_score_accepts_json_strings_and_dicts():
    assert verl_reward.compute_score("d", GOOD, json.dumps(TRUTH), {"codes": json.dumps(CODE), "split": "train"}) == 1.0
    assert verl_reward.compute_score("d", GOOD, TRUTH, {"codes": CODE}) == 1.0
    assert verl_reward.compute_score("d", GOOD + BAD, TRUTH, {"codes": CODE}) == pytest.approx(2 / 3)


def test_compute_score_variants():
    extra = {"codes": CODE, "reward_variant": "product"}
    assert verl_reward.compute_score("d", GOOD + BAD, TRUTH, extra) == pytest.approx(0.5)
    extra["reward_variant"] = "rate"
    assert verl_reward.compute_score("d", GOOD + BAD, TRUTH, extra) == 1.0


def test_compute_score_batch_matches_single():
    responses = [GOOD, BAD, "", "Paris", GOOD + BAD, "<tool_call>oops</tool_call>"]
    extras = [{"codes": CODE, "reward_variant": v} for v in ("f1", "f1", "f1", "f1", "precision", "f1")]
    batch = verl_reward.compute_score_batch(["d"] * 6, responses, [TRUTH] * 6, extras)
    single = [verl_reward.compute_score("d", r, TRUTH, e) for r, e in zip(responses, extras)]
    assert batch == single == pytest.approx([1.0, 0.0, -0.5, 0.5, 0.5, -0.3])


def test_compute_score_reports_bad_ground_truth_clearly():
    with pytest.raises(ValueError):
        verl_reward.compute_score("d", GOOD, "{not json", {"codes": CODE})
    with pytest.raises(ValueError, match="ground_truth"):
        verl_reward.compute_score("d", GOOD, 42, {"codes": CODE})


def test_verl_module_loads_by_file_path_like_verl_does():
    path = Path(verl_reward.__file__)
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.compute_score("d", GOOD, TRUTH, {"codes": CODE}) == 1.0


def test_reward_and_schema_import_nothing_heavy():
    code = ("import sys, toolgym.reward.verl, toolgym.reward.trl, toolgym.schema, toolgym.sandbox;"
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'verl', 'ray', 'vllm', 'datasets', 'pandas') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_trl_reward_function_signature_and_values(pool):
    fn = make_reward_func("f1", executor=pool)
    assert fn.__name__ == "toolgym_f1"
    completions = [GOOD, [{"role": "assistant", "content": BAD}], "", "The answer is Paris"]
    rewards = fn(prompts=["p"] * 4, completions=completions, codes=[json.dumps(CODE)] * 4,
                 unsolved_set=[json.dumps(TRUTH["unsolved_set"])] * 4, solve_rate=[0.0] * 4, answer=["Paris"] * 4,
                 completion_ids=[[1]] * 4, trainer_state=None)
    assert rewards == pytest.approx([1.0, 0.0, -0.5, 0.5])


def test_trl_reward_reads_native_tool_calls(pool):
    fn = make_reward_func("precision", executor=pool)
    completion = [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": '{"city": "France"}'}}]}]
    assert fn(prompts=["p"], completions=[completion], codes=[CODE], unsolved_set=[{"f": ["Paris"]}]) == [1.0]


def test_replay_of_a_reference_style_trajectory():
    messages = [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"city": "Spain"}'}},
            {"id": "b", "type": "function", "function": {"name": "f", "arguments": '{"city": "France"}'}}]},
        {"role": "tool", "content": "unknown", "tool_call_id": "a"},
        {"role": "tool", "content": '{"capital": "Paris"}', "tool_call_id": "b"},
        {"role": "assistant", "content": "It is Paris."},
    ]
    m = replay_messages(messages, {"f": ["Paris"]}, "Paris")
    assert (m.calls, m.solved, m.needed, m.turns, m.answer_correct) == (2, 1, 1, 2, True)
    assert m.solve_f1 == pytest.approx(2 / 3)


def test_run_wide_reward_variant_and_the_row_wins():
    assert verl_reward.compute_score("d", GOOD + BAD, TRUTH, {"codes": CODE}, reward_variant="rate") == 1.0
    row = {"codes": CODE, "reward_variant": "precision"}
    assert verl_reward.compute_score("d", GOOD + BAD, TRUTH, row, reward_variant="rate") == 0.5
    assert verl_reward.compute_score_batch(["d"], [GOOD + BAD], [TRUTH], [{"codes": CODE}], reward_variant="product") \
        == [0.5]


def test_score_response_takes_an_openai_message_object(pool):
    """A reply as the ``openai`` client returns it (a ``ChatCompletionMessage``, native calls or text) is scored
    as its plain dict is, and the call is executed."""
    from openai.types.chat import ChatCompletionMessage

    from toolgym.reward import score_response

    native = ChatCompletionMessage.model_validate({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"city": "France"}'}}]})
    text = ChatCompletionMessage(role="assistant", content=GOOD)
    for message in (native, text):
        scored = score_response(message, CODE, TRUTH["unsolved_set"], executor=pool)
        assert scored.reward == 1.0 and [r.output for r in scored.results] == ['{"capital": "Paris"}']
        assert scored.reward == score_response(message.model_dump(), CODE, TRUTH["unsolved_set"], executor=pool).reward
