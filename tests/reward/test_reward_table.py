"""The step reward, worked out by hand, case by case, for all four variants and every branch.

The environment: ``f(city)`` returns ``{"capital": "Paris"}`` for France (anything else: "unknown city"),
``g(x)`` returns "values: 10, 20" for x=1 and "values: 30" otherwise. Expected: f -> ["Paris"],
g -> ["10, 20"]; the final answer is "Paris"; two items are unsolved at the start.
"""

import json

import pytest

from toolgym.reward import UnsolvedSet, answer_matches, contains_answer, score_response, trajectory_metrics

CODE = {
    "f": "def f(city):\n    if city == 'France':\n        return {'capital': 'Paris'}\n    return 'unknown city ' + str(city)",
    "g": "def g(x):\n    return 'values: 10, 20' if x == 1 else 'values: 30'",
}
EXPECTED = {"f": ["Paris"], "g": ["10, 20"]}


def call(name, **args):
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"


F_FR, F_ES, G1, G2 = call("f", city="France"), call("f", city="Spain"), call("g", x=1), call("g", x=2)

# (response, k solved, n calls) -> the four variants follow from k and n
TOOL_CASES = [
    ("one call that solves", F_FR, 1, 1),
    ("one call that solves, chat end marker and whitespace", "  " + F_FR + "<|im_end|>\n", 1, 1),
    ("two calls, one solves", F_FR + F_ES, 1, 2),
    ("the same item cannot be solved twice", F_FR + F_FR, 1, 2),
    ("three calls, two solve (multi-part answer)", F_FR + G1 + G2, 2, 3),
    ("unknown tool", call("h", y=1), 0, 1),
    ("malformed block dropped, good block counted", "<tool_call>{bad}</tool_call>" + F_FR, 1, 1),
    ("text between blocks: the following block is ignored", F_ES + " hmm " + F_FR, 0, 1),
    ("block without a name is dropped", '<tool_call>{"name": "", "arguments": {}}</tool_call>' + F_FR, 1, 1),
    ("arguments given as a JSON string", '<tool_call>{"name": "f", "arguments": "{\\"city\\": \\"France\\"}"}</tool_call>', 1, 1),
    ("non-object arguments: the call fails", '<tool_call>{"name": "f", "arguments": "[1]"}</tool_call>', 0, 1),
    ("the reference's lstrip eats 'call' after the tag", '<tool_call>call {"name": "f", "arguments": {"city": "France"}}</tool_call>', 1, 1),
    ("content before the calls is fine", "Let me look.\n" + G1, 1, 1),
    ("wrong arguments for the tool: the call fails", call("g", x=1).replace('"g"', '"f"'), 0, 1),
]


@pytest.mark.parametrize("label, response, k, n", TOOL_CASES, ids=[c[0] for c in TOOL_CASES])
@pytest.mark.parametrize("variant, formula", [
    ("f1", lambda k, n: 2 * k / (n + 1)),
    ("precision", lambda k, n: k / n),
    ("rate", lambda k, n: float(k)),
    ("product", lambda k, n: k * k / n),
])
def test_tool_call_branch(pool, label, response, k, n, variant, formula):
    scored = score_response(response, CODE, EXPECTED, 0.0, "Paris", variant=variant, executor=pool)
    assert scored.outcome.branch == "tool_calls"
    assert (scored.outcome.k, scored.outcome.calls) == (k, n)
    assert scored.reward == pytest.approx(formula(k, n))


# (label, response, unsolved, solve_rate, answer, reward)
NO_CALL_CASES = [
    ("empty", "", EXPECTED, 0.0, "Paris", -0.5),
    ("only an end marker", "  <|im_end|>", EXPECTED, 0.0, "Paris", -0.5),
    ("only whitespace and end-of-text", "\n<|endoftext|>", EXPECTED, 1.0, "Paris", -0.5),
    ("unreadable tool call", "<tool_call>{bad json}</tool_call>", EXPECTED, 0.0, "Paris", -0.3),
    ("a closing tag left in the text", "I will call </tool_call> later", EXPECTED, 1.0, "Paris", -0.3),
    ("tool_parsed_response tag", "<tool_parsed_response> Paris", EXPECTED, 0.0, "Paris", -0.3),
    ("call without arguments key", '<tool_call>{"name": "f"}</tool_call>', EXPECTED, 0.0, "Paris", -0.3),
    ("answer with two items unsolved", "The capital is PARIS.", EXPECTED, 0.0, "Paris", 1 / 3),
    ("answer with one item unsolved", "paris", {"f": [], "g": ["10, 20"]}, 0.5, "Paris", 1 / 2),
    ("answer with nothing unsolved", "Paris it is", {"f": [], "g": []}, 1.0, "Paris", 1.0),
    ("answer with commas is compared without them", "It is Paris France", EXPECTED, 0.0, "Paris, France", 1 / 3),
    ("the final answer is not split on ', '", "Paris and France", EXPECTED, 0.0, "Paris, France", 0.0),
    ("no answer, everything solved", "Done.", {"f": [], "g": []}, 1.0, "Paris", 0.5),
    ("no answer, almost everything solved", "Done.", {"f": [], "g": ["10, 20"]}, 0.99, "Paris", 0.0),
    ("no gold answer known", "Paris", {"f": [], "g": []}, 1.0, None, 0.5),
    ("no gold answer known, unsolved", "Paris", EXPECTED, 0.0, None, 0.0),
]


@pytest.mark.parametrize("label, response, unsolved, rate, answer, reward", NO_CALL_CASES,
                         ids=[c[0] for c in NO_CALL_CASES])
@pytest.mark.parametrize("variant", ["f1", "precision", "rate", "product"])
def test_no_call_branches(pool, label, response, unsolved, rate, answer, reward, variant):
    scored = score_response(response, CODE, unsolved, rate, answer, variant=variant, executor=pool)
    assert scored.outcome.calls == 0
    assert scored.reward == pytest.approx(reward)


def test_branch_names(pool):
    def branch(text, unsolved=EXPECTED, rate=0.0):
        return score_response(text, CODE, unsolved, rate, "Paris", executor=pool).outcome.branch

    assert branch("") == "empty"
    assert branch("<tool_call>x</tool_call>") == "malformed"
    assert branch("Paris") == "answer"
    assert branch("Done", {}, 1.0) == "all_solved"
    assert branch("Done") == "none"


def test_an_output_only_solves_items_of_its_own_tool(pool):
    scored = score_response(G1, CODE, {"f": ["10, 20"], "g": []}, executor=pool)
    assert scored.outcome.k == 0 and scored.results[0].output == "values: 10, 20"


def test_the_callers_unsolved_set_is_not_changed(pool):
    expected = {"f": ["Paris"], "g": ["10, 20"]}
    score_response(F_FR + G1, CODE, expected, executor=pool)
    assert expected == {"f": ["Paris"], "g": ["10, 20"]}


@pytest.mark.parametrize("output, expected, ok", [
    ('{"capital": "Paris"}', "Paris", True),
    ("PARIS", "paris", True),
    ("values: 10, 20", "10, 20", True),
    ("values: 10", "10, 20", False),
    ("1204339", "1,204,339", True),
    ("1,204,339 people", "1204339", True),
    ("  spaced  ", "  spaced ", True),
    ("anything", "", True),  # an empty expected part is in every output (as in the reference)
    ("a,b", "a, b", True),  # commas removed from the output: "ab" contains "a" and "b"
    ("Paris", "Paris,France", False),  # not split without the space: looks for "parisfrance"
])
def test_answer_matching(output, expected, ok):
    assert answer_matches(output, expected) is ok


def test_contains_answer_edge_cases():
    assert contains_answer("x", "") is True
    assert contains_answer(None, "x") is False
    assert contains_answer("x", None) is False


def test_unsolved_set_solves_first_matching_item_once():
    u = UnsolvedSet({"f": ["a", "b", "a"]})
    assert u.solve("f", "output with b and a") == "a"
    assert u.to_dict() == {"f": ["b", "a"]}
    assert u.solve("f", "b") == "b"
    assert u.solve("f", "nothing") is None
    assert u.solve("zzz", "a") is None
    assert u.remaining == 1


@pytest.mark.parametrize("calls, solved, needed, p, r, f1", [
    (0, 0, 3, 1.0, 0.0, 0.0),
    (4, 2, 3, 0.5, 2 / 3, 4 / 7),
    (2, 2, 2, 1.0, 1.0, 1.0),
    (5, 1, 1, 0.2, 1.0, 1 / 3),
    (0, 0, 0, 1.0, 1.0, 1.0),
])
def test_trajectory_metrics(calls, solved, needed, p, r, f1):
    m = trajectory_metrics(calls, solved, needed)
    assert (m.solve_precision, m.solve_rate, m.solve_f1) == pytest.approx((p, r, f1))


def test_unknown_variant_is_a_clear_error(pool):
    with pytest.raises(ValueError, match="f1, precision, rate, product"):
        score_response("x", CODE, EXPECTED, variant="recall", executor=pool)
