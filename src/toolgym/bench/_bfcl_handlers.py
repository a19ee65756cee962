"""How BFCL reads a model's reply, per model family: its handlers' decoders, reproduced.

BFCL does not score a reply with one parser: each model handler turns the raw API response into the
handler's ``model_responses`` (what BFCL stores as the item's result) and decodes that with its own
``decode_ast`` (single turn) and ``decode_execute`` (multi-turn, memory). The verdicts differ between
handlers on the same text, so the handler is a named choice (``--bfcl-handler``):

* ``openai`` -- BFCL's ``OpenAICompletionsHandler`` in function-calling mode (the ``*-FC`` API models): the
  tools are BFCL's documents converted to OpenAI tools (``.`` in names becomes ``_``); only the native
  ``tool_calls`` of the response are calls, each ``{name: arguments}`` with ``arguments`` passed to
  ``json.loads`` (so ``""`` fails to decode and ``"null"`` decodes to something that is not a call); a
  reply without ``tool_calls`` is its text, which never decodes to a call.
* ``qwen`` -- BFCL's ``QwenFCHandler`` (the ``Qwen/Qwen3-*-FC`` local models; the paper's models are Qwen):
  the model sees BFCL's documents as they are; the reply text (after ``</think>``) is searched for
  ``<tool_call>\\n...\\n</tool_call>`` blocks, newlines included; blocks whose JSON does not load are
  dropped and the valid ones kept. A server that parsed the calls out of the text (vLLM
  ``--tool-call-parser hermes``) has them written back as the Qwen chat template writes them.
* ``prompt`` -- BFCL's prompting mode (``OpenAICompletionsHandler`` without function calling): BFCL's
  system prompt lists the functions, and its own ``default_decode_ast_prompting`` reads
  ``[func(arg=value)]`` from the reply text.

These decoders are this adapter's: they reproduce BFCL, and tests compare them with BFCL's handler classes
on the same responses. toolgym's own tool-call parser (:mod:`toolgym.parse`) is not used here.
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

from ._bfcl_lib import lib, registry_model

if TYPE_CHECKING:
    from ..models import Generation

_QWEN_BLOCK = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


def function_call_strings(calls: Any) -> list[str]:
    """BFCL's ``convert_to_function_call``: ``[{name: args}]`` (args a dict or a JSON string) as
    ``name(k=repr(v),...)`` strings, the form its multi-turn executors evaluate."""
    if type(calls) is dict:
        calls = [calls]
    out = []
    for call in calls:
        for name, value in call.items():
            if type(value) is str:
                value = json.loads(value)
            out.append(f"{name}({','.join(f'{k}={v!r}' for k, v in value.items())})")
    return out


class Handler:
    """One BFCL handler family (see the module docstring). ``registry`` is a BFCL model key whose
    config gives the checker the handler's ``underscore_to_dot``."""

    name: ClassVar[str]
    fc: ClassVar[bool]
    underscore_to_dot: ClassVar[bool]

    @property
    def registry(self) -> str:
        return registry_model(self.underscore_to_dot)

    def tools(self, functions: list[dict]) -> list[dict]:
        return []

    def first_turn(self, messages: list[dict], functions: list[dict], entry_id: str) -> list[dict]:
        return messages

    def response(self, gen: Generation) -> Any:
        """BFCL's ``model_responses`` of one generation."""
        raise NotImplementedError

    def decode_ast(self, response: Any, return_format: Any) -> Any:
        raise NotImplementedError

    def decode_execute(self, response: Any) -> list[str]:
        raise NotImplementedError

    def assistant(self, gen: Generation, response: Any, turn: int, step: int) -> dict[str, Any]:
        """The assistant message the handler keeps in the conversation."""
        return {"role": "assistant", "content": response if isinstance(response, str) else gen.text or ""}

    def tool_results(self, assistant: dict, decoded: list[str], results: list[str]) -> list[dict]:
        """The messages that carry the execution results back to the model."""
        raise NotImplementedError

    def holdout(self, tools: list[dict], functions: list[dict]) -> tuple[dict, list[dict]]:
        """The user message of a miss_func turn that adds the held-out ``functions``, and the new tools."""
        raise NotImplementedError


class OpenAIFC(Handler):
    name = "openai"
    fc = True
    underscore_to_dot = True

    def tools(self, functions):
        lb = lib()
        return lb.convert_to_tool(copy.deepcopy(functions), lb.GORILLA_TO_OPENAPI, lb.ModelStyle.OPENAI_COMPLETIONS)

    def response(self, gen):
        message = gen.message if gen.message is not None else {"content": gen.text}
        calls = message.get("tool_calls")
        if isinstance(calls, list):  # the handler iterates tool_calls; a reply without them is its content
            try:
                return [{c["function"]["name"]: c["function"]["arguments"]} for c in calls]
            except (KeyError, TypeError):
                pass
        return message.get("content")

    def decode_ast(self, response, return_format):
        out = []
        for invoked in response:  # a text reply raises here or on .keys(): it is not a call
            name = list(invoked.keys())[0]
            out.append({name: json.loads(invoked[name])})
        return out

    def decode_execute(self, response):
        return function_call_strings(response)

    def assistant(self, gen, response, turn, step):
        if gen.message is not None:
            return dict(gen.message)
        return {"role": "assistant", "content": gen.text or ""}

    def tool_results(self, assistant, decoded, results):
        ids = [c.get("id") for c in assistant.get("tool_calls") or []]
        return [{"role": "tool", "content": r, "tool_call_id": i} for r, i in zip(results, ids)]

    def holdout(self, tools, functions):
        return {"role": "user", "content": lib().ADDITIONAL_FUNCTION_FC}, [*tools, *self.tools(functions)]


def qwen_template_calls(content: str, tool_calls: list[dict]) -> str:
    """Native tool calls written back as the Qwen chat template writes them after the content."""
    text = content or ""
    for i, call in enumerate(tool_calls):
        fn = call.get("function", call)
        args = fn.get("arguments")
        if (i == 0 and text) or i > 0:
            text += "\n"
        text += '<tool_call>\n{"name": "' + str(fn.get("name")) + '", "arguments": '
        text += (args if isinstance(args, str) else json.dumps(args)) + "}\n</tool_call>"
    return text


def qwen_blocks(text: str) -> list[Any]:
    """The JSON of every ``<tool_call>\\n...\\n</tool_call>`` block; blocks that do not load are dropped."""
    out = []
    for match in _QWEN_BLOCK.findall(text):
        try:
            out.append(json.loads(match))
        except Exception:
            continue
    return out


class QwenFC(Handler):
    name = "qwen"
    fc = True
    underscore_to_dot = False

    def tools(self, functions):
        return [{"type": "function", "function": copy.deepcopy(f)} for f in functions]

    def response(self, gen):
        text = gen.text or ""
        message = gen.message or {}
        if message.get("tool_calls") and "<tool_call>" not in text:
            text = qwen_template_calls(message.get("content") or "", message["tool_calls"])
        if "</think>" in text:
            text = text.split("</think>")[-1].lstrip("\n")
        return text

    @staticmethod
    def _calls(response):
        calls = qwen_blocks(response)
        if any(type(c) is not dict for c in calls):
            raise ValueError(f"Model did not return a list of function calls: {response}")
        return calls

    def decode_ast(self, response, return_format):
        return [{c["name"]: {k: v for k, v in c["arguments"].items()}} for c in self._calls(response)]

    def decode_execute(self, response):
        return function_call_strings([{c["name"]: c["arguments"]} for c in self._calls(response)])

    def assistant(self, gen, response, turn, step):
        calls = qwen_blocks(response)
        if calls:
            # the handler keeps the blocks as tool calls; the API form needs ids and JSON arguments
            return {"role": "assistant", "content": "", "tool_calls": [
                {"id": f"call_{turn}_{step}_{i}", "type": "function",
                 "function": {"name": str(c.get("name")) if isinstance(c, dict) else "",
                              "arguments": json.dumps(c.get("arguments") if isinstance(c, dict) else c)}}
                for i, c in enumerate(calls)]}
        return {"role": "assistant", "content": response}

    def tool_results(self, assistant, decoded, results):
        ids = [c.get("id") for c in assistant.get("tool_calls") or []]
        return [{"role": "tool", "name": d, "content": r, "tool_call_id": ids[i] if i < len(ids) else f"call_{i}"}
                for i, (d, r) in enumerate(zip(decoded, results))]

    def holdout(self, tools, functions):
        return {"role": "user", "content": lib().ADDITIONAL_FUNCTION_PROMPTING.format(functions=functions)}, tools


class Prompting(Handler):
    name = "prompt"
    fc = False
    underscore_to_dot = False

    def first_turn(self, messages, functions, entry_id):
        return lib().system_prompt_pre_processing_chat_model(messages, copy.deepcopy(functions), entry_id)

    def response(self, gen):
        return gen.message.get("content") if gen.message is not None else gen.text

    def decode_ast(self, response, return_format):
        return lib().default_decode_ast_prompting(response, return_format, False)

    def decode_execute(self, response):
        return lib().default_decode_execute_prompting(response)

    def tool_results(self, assistant, decoded, results):
        text = lib().format_execution_results_prompting({}, results, {"model_responses_decoded": decoded})
        return [{"role": "user", "content": text}]

    def holdout(self, tools, functions):
        return {"role": "user", "content": lib().ADDITIONAL_FUNCTION_PROMPTING.format(functions=functions)}, tools


HANDLERS: dict[str, type[Handler]] = {"openai": OpenAIFC, "qwen": QwenFC, "prompt": Prompting}
#: The paper's models are Qwen, run locally: BFCL evaluates such a model with its Qwen FC handler.
PAPER_HANDLER = "qwen"


def make_handler(name: str) -> Handler:
    from ._base import BenchDataError

    try:
        return HANDLERS[name]()
    except KeyError:
        raise BenchDataError(f"unknown BFCL handler {name!r}; --bfcl-handler takes {', '.join(HANDLERS)}") from None
