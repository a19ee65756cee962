"""A grammar of model outputs for property tests: what a policy under RL, a broken server or an attacker
may send to the parser and the reward.

Replies are concatenations of fragments: free text (with lone surrogates and astral characters), the tags
the parsers and the reward look for (``<tool_call>``, ``</think>``, ``<|python_tag|>``, end-of-turn
markers), Hermes and Llama call bodies whose names and arguments are drawn from every JSON type, and the
shapes that once crashed or stalled the reward: integer literals of more than 4,300 digits (bare and inside
a JSON-string ``arguments``), JSON nested 100,000 deep and just under the recursion limit, and unclosed
``<think>`` runs. Server messages (OpenAI format) get every field missing, ``None`` or of the wrong type.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

HUGE_INT = "9" * 5000  # past int max-str-digits (4,300)
DEEP = "[" * 100_000 + "]" * 100_000
NEAR_LIMIT = "[" * 960 + "]" * 960  # json.loads may succeed where json.dumps of the result recurses too deep
ODD_CHARS = [chr(0xD800), chr(0xDFFF), chr(0xDBFF) + "x", "\U0001F600" * 50, "\x00", "\ufeff", "\u2028"]

TAGS = ["<tool_call>", "</tool_call>", "<think>", "</think>", "<|python_tag|>", "<|im_end|>", "<|endoftext|>",
        "<tool_parsed_response>", "\n", " ", ";", "{", "}", "[", "]", '"', "\\", "call>"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(ODD_CHARS))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                           max_leaves=12)

names = st.one_of(st.sampled_from(["f", "g", "lookup", "a-b_1"]), st.text(max_size=8), st.integers(),
                  st.none(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({"a": 1}), st.just(""))


def _raw_json(value_and_ascii) -> str:
    value, ascii_only = value_and_ascii
    return json.dumps(value, ensure_ascii=ascii_only)


arguments = st.one_of(
    st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    json_values,
    st.tuples(json_values, st.booleans()).map(_raw_json),  # arguments given as a JSON string
    st.sampled_from(['{"x": ' + HUGE_INT + "}", HUGE_INT, DEEP, NEAR_LIMIT, "{not json", "", "  "]),
)


@st.composite
def hermes_bodies(draw) -> str:
    obj = {}
    if draw(st.booleans()) or draw(st.booleans()):
        obj["name"] = draw(names)
    if draw(st.booleans()) or draw(st.booleans()):
        obj["arguments"] = draw(arguments)
    if draw(st.booleans()):
        obj[draw(st.sampled_from(["parameters", "id", "type"]))] = draw(json_values)
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()))
    shape = draw(st.sampled_from(["plain", "huge_int", "deep", "near_limit", "cut", "value"]))
    if shape == "huge_int":
        return text[:-1] + (", " if obj else "") + '"n": ' + HUGE_INT + "}"
    if shape == "deep":
        return text[:-1] + (", " if obj else "") + '"d": ' + DEEP + "}"
    if shape == "near_limit":
        return text[:-1] + (", " if obj else "") + '"d": ' + NEAR_LIMIT + "}"
    if shape == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if shape == "value":
        return _raw_json((draw(json_values), draw(st.booleans())))
    return text


@st.composite
def llama_bodies(draw) -> str:
    obj = {"name": draw(names), draw(st.sampled_from(["parameters", "arguments"])): draw(arguments)}
    body = json.dumps(obj)
    return draw(st.sampled_from(["", "<|python_tag|>"])) + draw(st.sampled_from([body, "[" + body + "]",
                                                                                 body + "; " + body, HUGE_INT,
                                                                                 DEEP, body[:-1]]))


fragments = st.one_of(
    st.text(max_size=20),
    st.sampled_from(TAGS),
    st.sampled_from(ODD_CHARS),
    hermes_bodies().map(lambda b: "<tool_call>\n" + b + "\n</tool_call>"),
    hermes_bodies(),
    llama_bodies(),
    st.sampled_from(["<think>" * 50, "</think>" + "<think>" * 30, "Paris", "the answer is Paris"]),
)

#: A model's reply as text.
replies = st.lists(fragments, max_size=8).map("".join)


def _huge_int() -> int:
    return 10 ** 5000  # str() of it raises ValueError (int max-str-digits)


def _junk() -> st.SearchStrategy:
    return st.one_of(json_values, st.builds(object), st.builds(_huge_int), st.binary(max_size=4))


@st.composite
def server_messages(draw):
    """An OpenAI-format assistant message as a (possibly broken) server returns it."""
    def maybe(key, strategy, out):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            return
        out[key] = None if choice == 1 else draw(strategy)

    function: dict = {}
    maybe("name", st.one_of(names, _junk()), function)
    maybe("arguments", st.one_of(arguments, _junk()), function)
    item: dict = {}
    maybe("id", st.one_of(st.text(max_size=6), _junk()), item)
    maybe("type", st.one_of(st.just("function"), _junk()), item)
    maybe("function", st.one_of(st.just(function), _junk()), item)
    message: dict = {"role": "assistant"}
    maybe("content", st.one_of(replies, st.lists(st.one_of(st.fixed_dictionaries({"type": st.just("text"),
                                                                                      "text": replies}),
                                                               _junk()), max_size=3), _junk()), message)
    maybe("tool_calls", st.one_of(st.lists(st.one_of(st.just(item), _junk()), max_size=3), st.just(item),
                                  _junk()), message)
    return message


#: Anything a caller may hand the parser as a response.
responses = st.one_of(replies, server_messages(), _junk())
