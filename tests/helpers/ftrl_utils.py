"""A stand-in for the paper's ``Code/utils/utils.py`` (bytedance/FTRL at HEAD), the module whose globals a
tool function sees under the reference's executor. Its global names are the same set as the reference
module's: what it imports (``json``, ``sha256``, ``sleep``, ``requests``, ``deepcopy``, ``func_set_timeout``,
``FunctionTimedOut``, ``AutoTokenizer``, ``AutoModelForCausalLM``) and the functions it defines. The model and
HTTP helpers are placeholders of the same names (tool code never calls them); ``answer_verify``,
``call_function`` and ``get_feedback`` are the reference's, statement for statement. See
``ftrl_reference.py``.
"""

import json
from copy import deepcopy  # noqa: F401  (a global of the reference's utils module)
from hashlib import sha256
from time import sleep  # noqa: F401  (a global of the reference's utils module)

try:  # a global of the reference's utils module; tool code never needs the network
    import requests  # noqa: F401
except ImportError:  # pragma: no cover
    requests = None


class FunctionTimedOut(Exception):  # the name ``from func_timeout import ...`` binds in the reference
    pass


def func_set_timeout(_seconds):  # the reference's decorator; the oracle does not time calls out
    return lambda fn: fn


AutoTokenizer = AutoModelForCausalLM = None  # names the reference imports from transformers


def load_model(args):  # the reference's model loader (transformers); never called by tool code
    raise NotImplementedError


def get_params(model, args):  # the reference's generation settings; never called by tool code
    raise NotImplementedError


def chat_open(messages, args, tools=None):  # the reference's local generation; never called by tool code
    raise NotImplementedError


def chat_close(messages, args, tools=None, one_tool_only=False, base_url=None, api_key=None, model=None, **kwargs):
    raise NotImplementedError  # the reference's HTTP client; never called by tool code


def answer_verify(predict, golden,):
    golden = golden.split(', ')
    if type(predict) == dict or type(predict) == list:  # noqa: E721  (as the reference)
        predict = json.dumps(predict, ensure_ascii=False)
    elif type(predict) != str:  # noqa: E721
        predict = str(predict)
    predict = predict.lower().replace(',', '').strip()

    for item in golden:
        item = item.lower().replace(',', '').strip()
        if item not in predict:
            return False

    return True


@func_set_timeout(10)
def call_function(name, arguments, code, **kwargs):
    exec(code)
    predict = eval(name)(**arguments, **kwargs)
    if type(predict) == dict or type(predict) == list:  # noqa: E721
        predict = json.dumps(predict, ensure_ascii=False)
    elif type(predict) != str:  # noqa: E721
        predict = str(predict)
    return predict


def get_feedback(tool_calls, codes, **kwargs):
    res = []
    for tool_call in tool_calls:
        try:
            tool_name = tool_call['function']['name']
            tool_args = json.loads(tool_call['function']['arguments'])
            code = codes[tool_name]

            feedback = call_function(
                tool_name, tool_args, code, **kwargs)

            res.append({"role": "tool", "content": feedback,
                       "tool_call_id": tool_call["id"]})
        except FunctionTimedOut as e:
            res.append(
                {"role": "tool", "content": f"an error occured when call {tool_call['function']['name']}: {str(e)}", "tool_call_id": tool_call["id"]})
        except Exception as e:
            res.append(
                {"role": "tool", "content": f"an error occured when call {tool_call['function']['name']}: {str(e)}", "tool_call_id": tool_call["id"]})

    return res
