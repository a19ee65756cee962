"""The step reward against the paper's own reward (``compute_solve_f1``/``_precision``/``_rate``/``_pr`` of
``Code/verl/utils/reward_score/tool.py``, re-created in ``tests/helpers/ftrl_reference.py``), item by item,
on a corpus of responses over the sample environments at every state of their gold paths.

Both sides see the same tool outputs: the reference's ``get_feedback`` is given toolgym's sandbox as its
executor (the samples' tools read module-level data, which the reference's exec-in-a-function scoping
does not provide; that scoping is the sandbox's own subject). Everything else -- parsing, matching,
counting, the branches -- is the reference's code on one side and toolgym's on the other.
"""

import json
from copy import deepcopy

import ftrl_reference
import pytest
from reference_sandbox import feedback_from

from toolgym.reward import score_batch
from toolgym.reward.verl import compute_score
from toolgym.sandbox import ExecRequest
from toolgym.schema import TurnState
from toolgym.verify import perturb

VARIANTS = ("f1", "precision", "rate", "product")


@pytest.fixture
def reference(pool, monkeypatch):
    """ftrl_reference.compute_solve with toolgym's sandbox as the executor behind ``get_feedback``."""
    monkeypatch.setattr(ftrl_reference, "get_feedback", feedback_from(pool))
    return ftrl_reference.compute_solve


def _hermes(calls) -> str:
    return "\n".join(c.to_hermes() for c in calls)


def corpus(env, turn: int) -> list[str]:
    """Responses at gold turn ``turn``: gold, wrong, malformed, answers, empty, junk."""
    gold = env.solution[turn] if turn < len(env.solution) else []
    first = gold[0] if gold else env.solution[0][0]
    wrong = first.model_copy(update={"arguments": perturb(first.arguments)})
    every = [c for t in env.solution for c in t]
    body = json.dumps({"name": first.name, "arguments": first.arguments}, ensure_ascii=False)
    as_string = json.dumps({"name": first.name, "arguments": json.dumps(first.arguments)}, ensure_ascii=False)
    out = [
        _hermes(gold) if gold else "",
        "Let me look this up.\n" + _hermes(gold or [first]),
        _hermes(gold or [first]) + "<|im_end|>",
        _hermes(gold or [first]) + "<|endoftext|>",
        _hermes([wrong]),
        _hermes([first, first]),  # the same call twice: the second solves nothing
        _hermes(every),  # every gold call at once
        _hermes([first]) + "\nthen\n" + _hermes(every),  # free text between blocks: the later block is ignored
        f"<tool_call>\n{as_string}\n</tool_call>",  # arguments as a JSON string
        '<tool_call>\n{"name": "no_such_tool", "arguments": {}}\n</tool_call>',
        f"<tool_call>\n{body[:-2]}\n</tool_call>",  # broken JSON
        '<tool_call>\n{"arguments": {}}\n</tool_call>',  # no name
        "<tool_call>",
        "I will call </tool_call> now",
        "<tool_parsed_response> nothing",
        "",
        "   \n",
        "I do not know.",
        f"The answer is {env.answer}.",
        f"the answer is {str(env.answer).lower().replace(',', '')}",
        f"The answer is {env.answer}.<|im_end|>",
        f"Maybe {str(env.answer)[: max(1, len(str(env.answer)) // 2)]}",
    ]
    return out


def gold_states(env, pool):
    """(unsolved set, solve rate) before each gold turn and after the last, computed as the reference does."""
    unsolved = deepcopy(env.expected)
    total = sum(len(v) for v in unsolved.values())
    states = []
    for turn in env.solution + [[]]:
        states.append((deepcopy(unsolved), 1 - sum(len(v) for v in unsolved.values()) / total))
        for call, r in zip(turn, pool.run([ExecRequest(c.name, c.arguments, env.code) for c in turn])):
            answers = unsolved.get(call.name, [])
            for answer in answers:
                if ftrl_reference.answer_verify(r.output, answer):
                    answers.remove(answer)
                    break
    return states


def test_step_reward_equals_the_reference_item_by_item(samples, pool, reference):
    checked = 0
    for env in samples:
        for turn, (unsolved, rate) in enumerate(gold_states(env, pool)):
            responses = corpus(env, turn)
            states = [TurnState(response=r, codes=env.code, unsolved=unsolved, solve_rate=rate, answer=env.answer)
                      for r in responses]
            for variant in VARIANTS:
                ours = [s.reward for s in score_batch(states, variant=variant, executor=pool)]
                theirs = [reference(variant, r, env.code, deepcopy(unsolved), rate, "train", env.answer)
                          for r in responses]
                for response, a, b in zip(responses, ours, theirs):
                    assert a == pytest.approx(b), f"{env.id} turn {turn} {variant}: {response!r}: {a} != {b}"
                checked += len(responses)
    assert checked > 8 * 4 * 20


def test_verl_entry_point_equals_the_reference(samples, pool, reference, monkeypatch):
    """The same through verl's entry point, on the row layout toolgym writes (JSON strings)."""
    import toolgym.reward.verl as verl_reward

    monkeypatch.setattr(verl_reward, "worker_executor", lambda: pool)
    env = samples[-1]
    for turn, (unsolved, rate) in enumerate(gold_states(env, pool)):
        truth = json.dumps({"unsolved_set": unsolved, "solve_rate": rate, "answer": env.answer})
        for variant in VARIANTS:
            extra = {"codes": json.dumps(env.code), "split": "train", "reward_variant": variant}
            for r in corpus(env, turn):
                assert compute_score("toolgym", r, truth, extra) == pytest.approx(
                    reference(variant, r, env.code, deepcopy(unsolved), rate, "train", env.answer))
