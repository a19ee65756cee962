"""A model that answers BFCL entries from BFCL's own ground truth, in the form each handler reads (native
tool calls, Qwen ``<tool_call>`` blocks, or BFCL's prompting ``[f(a=1)]``): single-turn replies (right ones
and the kinds of wrong one the handlers differ on), and multi-turn/memory conversations as a toolgym
backend and as an OpenAI-compatible FastAPI app."""

import ast
import json
import time

from toolgym.models import Generation


def _value(v):
    """The first acceptable value of a BFCL possible-answer list ("" means: leave the parameter out)."""
    if isinstance(v, list):
        v = next((x for x in v if x != ""), "")
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items() if _value(x) != ""}
    return v


def single_turn_calls(item):
    calls = []
    for call in item.data.get("ground_truth", []):
        (name, args), = call.items()
        calls.append((name, {k: _value(v) for k, v in args.items() if _value(v) != ""}))
    return calls or [("get_weather", {"city": "Paris"})]


def native(calls, args=json.dumps, rename=True):
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{i}", "type": "function", "function": {"name": n.replace(".", "_") if rename else n, "arguments": args(a)}}
        for i, (n, a) in enumerate(calls)]}


def blocks(calls, newline=True):
    nl = "\n" if newline else ""
    return "\n".join(f"<tool_call>{nl}" + json.dumps({"name": n, "arguments": a}) + f"{nl}</tool_call>" for n, a in calls)


def python_calls(calls):
    return "[" + ", ".join(f"{n}(" + ", ".join(f"{k}={v!r}" for k, v in a.items()) + ")" for n, a in calls) + "]"


MALFORMED = '<tool_call>\n{"name": "x", "arguments": {\n</tool_call>'
REPLIES = {  # the kinds of reply each handler is tried on (gold answers and wrong ones)
    "openai": {
        "gold": lambda c: native(c), "empty_args": lambda c: native(c, lambda a: ""),
        "null_args": lambda c: native(c, lambda a: "null"), "broken_args": lambda c: native(c, lambda a: json.dumps(a)[:-1]),
        "text_blocks": lambda c: {"role": "assistant", "content": blocks(c)}, "prose": lambda c: "I cannot help.",
        "no_calls": lambda c: {"role": "assistant", "content": "", "tool_calls": []},
    },
    "qwen": {
        "gold": lambda c: blocks(c), "no_newlines": lambda c: blocks(c, newline=False),
        "one_malformed": lambda c: blocks(c) + "\n" + MALFORMED, "only_malformed": lambda c: MALFORMED,
        "think": lambda c: "<think>\n" + blocks([("zzz", {})]) + "\n</think>\n\n" + blocks(c),
        "list_block": lambda c: "<tool_call>\n[1, 2]\n</tool_call>", "native": lambda c: native(c, rename=False),
        "prose": lambda c: "I cannot help.",
    },
    "prompt": {
        "gold": lambda c: python_calls(c), "prose": lambda c: "None of the functions can be used.",
        "think": lambda c: "<think>x</think>" + python_calls(c), "empty_list": lambda c: "[]",
    },
}


def _positional(entry, name):
    for doc in entry["function"] + [d for ds in entry.get("missed_function", {}).values() for d in ds]:
        if doc["name"] == name:
            return list(doc["parameters"].get("properties", {}))
    return []


def gold_calls(entry, calls):
    """BFCL's ground-truth call strings as ``(name, kwargs)`` (positional arguments named from the doc)."""
    out = []
    for text in calls:
        node = ast.parse(text, mode="eval").body
        name = node.func.id
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        for pname, value in zip(_positional(entry, name), node.args):
            kwargs[pname] = ast.literal_eval(value)
        out.append((name, kwargs))
    return out


def _turn_starts(messages):
    return [m for m in messages if m.get("role") == "user" and not str(m.get("content", "")).startswith("[{'role': 'tool'")]


def render(calls, handler, n=0):
    """Calls ``[(name, kwargs)]`` as the assistant message the handler reads."""
    if not calls:
        return {"role": "assistant", "content": "Done."}
    if handler == "openai":
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{n}_{i}", "type": "function", "function": {"name": c, "arguments": json.dumps(a)}}
            for i, (c, a) in enumerate(calls)]}
    if handler == "qwen":
        return {"role": "assistant", "content": "\n".join(
            "<tool_call>\n" + json.dumps({"name": c, "arguments": a}) + "\n</tool_call>" for c, a in calls)}
    return {"role": "assistant", "content": "[" + ", ".join(
        f"{c}(" + ", ".join(f"{k}={v!r}" for k, v in a.items()) + ")" for c, a in calls) + "]"}


def gold_message(entry, truth, messages, handler, mode="gold"):
    """The next assistant message: the turn's gold calls when a turn has just started, else text.
    ``mode`` degrades it: ``wrong_value`` (a changed argument), ``skip`` (no calls in turn 1), ``loop``
    (the first gold call forever), ``wrong_answer`` (memory)."""
    last = messages[-1]
    starts = _turn_starts(messages)
    fresh = last.get("role") == "user" and last is starts[-1]
    if not isinstance(truth[0], list):  # memory: the answer
        answer = "nobody knows" if mode == "wrong_answer" else truth[0]
        return {"role": "assistant", "content": f"{{'answer': '{answer}', 'context': 'from memory'}}"}
    calls = gold_calls(entry, truth[len(starts) - 1]) if fresh else []
    if mode == "loop":
        first = next((t for t in truth if t), [])
        calls = gold_calls(entry, first[:1])
    elif mode == "skip" and len(starts) == 2:
        calls = []
    elif mode == "wrong_value" and calls and calls[0][1]:
        name, args = calls[0]
        key = next(iter(args))
        calls[0] = (name, {**args, key: "WRONG" if not isinstance(args[key], str) else args[key] + "_x"})
    return render(calls, handler, len(messages))


def prereq_message(messages, tools, handler):
    """A memory prerequisite conversation: store each user message in memory, then acknowledge."""
    last = messages[-1]
    if last.get("role") != "user" or str(last.get("content", "")).startswith("[{'role': 'tool'"):
        return {"role": "assistant", "content": "Noted."}
    names = json.dumps(tools) + str(messages[0].get("content", ""))
    k = len(_turn_starts(messages))
    text = str(last["content"])[:60]
    call = ("core_memory_add", {"key": f"note_{k}", "value": text}) if "core_memory_add" in names else \
        ("memory_append", {"text": text})
    return render([call], handler, len(messages))


class GoldBackend:
    """A toolgym backend answering each ``bfcl:<id>`` episode from ``items`` (id -> BenchItem)."""

    name = "bfcl-gold"

    def __init__(self, items, handler, model="bfcl-gold", mode="gold"):
        self.items, self.handler, self.model, self.mode = items, handler, model, mode
        self.requests = []

    async def generate(self, requests):
        out = []
        for r in requests:
            self.requests.append(r)
            item = self.items.get(r.episode.removeprefix("bfcl:"))
            if item is None:  # a memory prerequisite conversation
                msg = prereq_message(r.messages, r.tools, self.handler)
            else:
                msg = gold_message(item.data["entry"], item.data["ground_truth"], r.messages, self.handler, self.mode)
            out.append(Generation(text=msg.get("content") or "", message={k: v for k, v in msg.items() if v is not None}))
        return out

    async def aclose(self):
        return None


def gold_app(items, handler):
    """The same answers over HTTP: an OpenAI-compatible chat server finding the entry by its first user
    question."""
    from fastapi import FastAPI, Request

    by_question = {}
    for item in items:
        first = next(m["content"] for m in item.data["entry"]["question"][0] if m["role"] == "user")
        by_question[first] = item
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        messages = body["messages"]
        question = next((m["content"] for m in messages if m["role"] == "user"), None)
        item = by_question.get(question)
        if item is None:  # a memory prerequisite conversation, or a question it does not know
            tools = body.get("tools") or []
            msg = prereq_message(messages, tools, handler) if "memory" in json.dumps(tools) else \
                {"role": "assistant", "content": "I cannot help with that."}
        else:
            msg = gold_message(item.data["entry"], item.data["ground_truth"], messages, handler)
        return {"id": "x", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    return app
