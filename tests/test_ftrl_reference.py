"""The oracle of the paper's code behaves as the reference does on the cases its scoping decides."""

from ftrl_reference import compute_solve, get_feedback, parse_qwen


def _call(code: str, name: str = "f", arguments: str = '{"k": "x"}') -> str:
    return get_feedback([{"id": "c", "function": {"name": name, "arguments": arguments}}], {name: code})[0]["content"]


def test_module_level_names_of_the_source_are_not_visible_to_the_tool():
    assert _call("S = {'x': 1}\ndef f(k):\n    return S[k]") == "an error occured when call f: name 'S' is not defined"
    assert _call("import re\ndef f(k):\n    return re.escape(k)") == "an error occured when call f: name 're' is not defined"


def test_self_contained_sources_and_the_utils_globals_work():
    assert _call("def f(k):\n    S = {'x': 1}\n    return S[k]") == "1"
    assert _call("def f(k):\n    import re\n    return re.escape(k)") == "x"
    assert _call("def f(k):\n    return json.dumps({'k': k})") == '{"k": "x"}'  # json is a global of utils.py
    assert _call("def f(k):\n    return {'ü': [1]}") == '{"ü": [1]}'


def test_reward_and_parser():
    reply = '<tool_call>\n{"name": "f", "arguments": {"k": "x"}}\n</tool_call>'
    assert parse_qwen(reply)["tool_calls"][0]["function"]["name"] == "f"
    assert compute_solve("f1", reply, {"f": "def f(k):\n    return 'v1'"}, {"f": ["v1"]}, 0.0) == 1.0
    assert compute_solve("f1", reply, {"f": "V = 'v1'\ndef f(k):\n    return V"}, {"f": ["v1"]}, 0.0) == 0.0
    assert compute_solve("f1", "", {}, {"f": ["v1"]}, 0.0) == -0.5
