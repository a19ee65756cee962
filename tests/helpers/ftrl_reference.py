"""A faithful re-creation of the paper's released executor, reward and parsers (bytedance/FTRL at HEAD:
``Code/utils/utils.py``, ``Code/utils/parse_output.py``, ``Code/verl/utils/reward_score/tool.py``), used as
the test oracle wherever toolgym claims to match the paper's code.

Written from the reference's source, statement for statement, not from toolgym's docs. What makes it
faithful is the scoping: the reference runs ``exec(code)`` *inside* ``call_function`` and then
``eval(name)(**arguments)``. The tool source's top-level names land in that function's locals; the tool
function's own globals are the ``utils`` module's, which hold only what ``utils.py`` imports and defines.
``ftrl_utils.py`` stands in for ``utils.py``: its global names are the same set, and its
``call_function`` is the reference's, so a tool that reads a module-level name of its own source fails
here exactly as there.
The reference's ``func_set_timeout(10)`` is not reproduced (the oracle runs trusted test inputs).
"""

import json
from hashlib import sha256

from ftrl_utils import answer_verify, call_function, get_feedback  # noqa: F401  (re-exported for tests)

_call_ids = iter(range(1 << 62))


def parse_qwen(inputs: str, one_tool_only=False):
    """``Code/utils/parse_output.py``. The reference's call ids are sha256 of ``datetime.now()``; two calls
    parsed in the same microsecond would share an id, so the oracle numbers them instead (ids are only
    compared with themselves)."""
    output = {"role": "assistant", "content": None, "tool_calls": None}
    start_tool = '<tool_call>'
    end_tool = '</tool_call>'

    start = inputs.find(start_tool)

    if start == -1:
        output['content'] = inputs.strip()
    else:
        output["content"] = inputs[:start].strip() if start != 0 else ''
        tool_calls = inputs[start:]
        tool_calls = tool_calls.split(end_tool)
        if one_tool_only:
            tool_calls = tool_calls[:1]
        for tool_call in tool_calls:
            if tool_call.strip():
                try:
                    if tool_call.strip().startswith(start_tool):
                        tool_call = tool_call.strip().lstrip(start_tool).strip()
                        tool_call = json.loads(tool_call)
                        if tool_call.get("name", None):
                            if type(tool_call['arguments']) != dict:  # noqa: E721
                                tool_call['arguments'] = json.loads(
                                    tool_call['arguments'])
                            if not output['tool_calls']:
                                output['tool_calls'] = []
                            call_id = "call_" + sha256(str(next(_call_ids)).encode()).hexdigest()
                            output['tool_calls'].append({"id": call_id, "type": "function", "function": {
                                "arguments": json.dumps(tool_call['arguments'], ensure_ascii=False), "name": tool_call['name']}})
                except Exception:
                    pass
        if output['tool_calls'] is None:
            output['content'] = inputs.strip()
    return output


def parse_llama31(inputs: str):
    """``Code/utils/parse_output.py``'s Llama 3.1 parser (what ``data_sample.py --series llama31`` reads replies
    with), statement for statement, ``json_repair`` included; call ids numbered as in :func:`parse_qwen`, and
    its ``print(e)`` of a failed call left out. It raises where the reference raises (``json_repair`` failing on
    the whole reply leaves ``tool_calls`` unbound; an empty list has no first element)."""
    import json_repair

    output = {"role": "assistant", "content": None, "tool_calls": None}
    start_tool = '<|python_tag|>'

    start = inputs.find(start_tool)

    if start == -1:
        try:
            tool_calls = json_repair.loads(inputs.strip())
            tool_calls = inputs.strip()
        except:  # noqa: E722  (as the reference)
            output['content'] = inputs.strip()
    else:
        tool_calls = inputs[start:].lstrip(start_tool).strip()
        output['content'] = inputs[:start].strip()
    tool_call = tool_calls.split(start_tool)[0]  # unbound when the first loads failed, as there
    tool_call = json_repair.loads(tool_call)
    if type(tool_call) == list:
        tool_call = tool_call[0]

    if tool_call:
        try:
            if type(tool_call['parameters']) != dict:
                tool_call['arguments'] = json_repair.loads(
                    tool_call['parameters'])
            else:
                tool_call['arguments'] = tool_call['parameters'].copy()

            if not output['tool_calls']:
                output['tool_calls'] = []
            call_id = "call_" + sha256(str(next(_call_ids)).encode()).hexdigest()
            output['tool_calls'].append({"id": call_id, "type": "function", "function": {
                "arguments": json.dumps(tool_call['arguments'], ensure_ascii=False), "name": tool_call['name']}})
        except Exception:  # noqa: BLE001, S110  (as the reference, less its print)
            pass
    if not output['tool_calls']:
        output['content'] = inputs.strip()
    return output


_STEP = {
    "f1": lambda tmp, n: 2 * tmp / (n + 1),
    "precision": lambda tmp, n: tmp / n,
    "rate": lambda tmp, n: float(tmp),
    "product": lambda tmp, n: tmp * tmp / n,  # the reference's compute_solve_pr
}


def compute_solve(variant: str, response: str, codes: dict, unsolved_set: dict, solve_rate: float,
                  split: str = "train", answer: str = None):
    """``compute_solve_f1`` / ``_precision`` / ``_rate`` / ``_pr`` of ``Code/verl/utils/reward_score/tool.py``
    (the four differ only in the tool-call score). ``unsolved_set`` is consumed, as in the reference."""
    unsolved_cnt = sum([len(v) for v in unsolved_set.values()])
    if split != "train":
        raise NotImplementedError(split)
    response = response.strip().removesuffix(
        '<|endoftext|>').strip().removesuffix('<|im_end|>').strip()
    parsed_response = parse_qwen(response)
    if parsed_response.get('tool_calls', None):
        tmp = 0
        feedback = get_feedback(parsed_response['tool_calls'], codes)
        for tool_call, feed in zip(parsed_response['tool_calls'], feedback):
            assert tool_call['id'] == feed['tool_call_id'], f"{tool_call['id']}!= {feed['tool_call_id']}"
            tool_name = tool_call['function']['name']
            answers = unsolved_set.get(tool_name, [])
            for answer in answers:
                if answer_verify(feed['content'], answer):
                    answers.remove(answer)
                    tmp += 1
                    break
        score = _STEP[variant](tmp, len(parsed_response["tool_calls"]))
    else:
        if parsed_response['content'] is None or parsed_response['content'] == '':
            score = -0.5
        elif '<tool_call>' in parsed_response['content'] or '</tool_call>' in parsed_response['content'] or '<tool_parsed_response>' in parsed_response['content']:
            score = -0.3
        elif answer is not None and answer.lower().replace(',', '').strip() in parsed_response['content'].lower().replace(',', '').strip():
            score = 1 / (1 + unsolved_cnt)
        elif solve_rate == 1.:
            score = 0.5
        else:
            score = 0.
    return score
