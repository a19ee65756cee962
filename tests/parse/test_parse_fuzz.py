"""Property tests: no model output makes a parser raise or run super-linearly, and the Hermes parser reads
what the paper's ``parse_qwen`` reads, case for case, on a corpus that includes the shapes that once crashed.
"""

import json
import re
import subprocess
import sys
import textwrap

from ftrl_reference import parse_qwen
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from model_outputs import DEEP, HUGE_INT, NEAR_LIMIT, replies, responses, server_messages

from toolgym.parse import (
    ParsedResponse,
    clean_response,
    parse,
    parse_hermes,
    parse_llama3,
    parse_openai_message,
    strip_think,
)
from toolgym.reward import parse_for_reward

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
CRASHERS = [
    '<tool_call>{"name": "f", "arguments": {"x": ' + HUGE_INT + "}}</tool_call>",
    '<tool_call>{"name": "f", "arguments": "{\\"x\\": ' + HUGE_INT + '}"}</tool_call>',
    "<tool_call>" + DEEP + "</tool_call>",
    '<tool_call>{"name": "f", "arguments": {"x": ' + NEAR_LIMIT + "}}</tool_call>",
    '<tool_call>{"name": 7, "arguments": {}}</tool_call>',
    '<tool_call>{"name": [1], "arguments": "[1, 2]"}</tool_call>',
    "<|python_tag|>" + HUGE_INT,
    '{"name": "f", "parameters": "{\\"x\\": ' + HUGE_INT + '}"}',
    "</think>" + "<think>" * 1000,
    "x\ud800y<tool_call>{\"name\": \"f\", \"arguments\": {\"q\": \"\\ud800\"}}</tool_call>",
]


def _usable(p: ParsedResponse) -> None:
    """What every caller does with a parse result must work too."""
    assert isinstance(p.content, str)
    p.to_message()
    for call in p.tool_calls:
        assert isinstance(call.name, str)
        call.arguments_json()
        call.to_hermes()
    for bad in p.malformed:
        assert isinstance(bad.raw, str) and isinstance(bad.error, str)


@FUZZ
@given(replies)
@example(CRASHERS[0]).via("a 5,000-digit integer")
def test_no_text_makes_a_parser_raise(text):
    for fmt in ("auto", "hermes", "qwen", "llama3", "openai"):
        _usable(parse(text, format=fmt))
    _usable(parse_hermes(text))
    _usable(parse_llama3(text))
    _usable(parse_for_reward(text))
    assert isinstance(strip_think(text), str) and isinstance(clean_response(text), str)


def test_the_shapes_that_crashed_are_malformed_calls_now():
    for text in CRASHERS:
        for fmt in ("auto", "hermes", "llama3"):
            _usable(parse(text, format=fmt))
    p = parse_hermes(CRASHERS[0])
    assert p.tool_calls == [] and "4300 digits" in p.malformed[0].error
    assert parse_hermes(CRASHERS[2]).malformed[0].error.endswith("nested too deeply")


@FUZZ
@given(responses)
def test_no_server_message_makes_a_parser_raise(response):
    _usable(parse(response))
    _usable(parse_for_reward(response))
    if isinstance(response, dict):
        _usable(parse_openai_message(response))
        _usable(parse(response, format="hermes"))


@FUZZ
@given(responses)
def test_a_reply_made_plain_reads_as_the_reply_does(response):
    """``plain_reply`` (how a record holds a reply: text or a plain message dict) never raises and keeps what
    the reading of the reply sees."""
    from toolgym.parse import plain_reply, read_reply

    plain = plain_reply(response)
    assert isinstance(plain, (str, dict))
    before, after = read_reply(response).parsed, read_reply(plain).parsed
    assert (after.content, after.tool_calls, len(after.malformed)) == (before.content, before.tool_calls,
                                                                        len(before.malformed))


@FUZZ
@given(server_messages())
def test_unreadable_native_calls_are_reported_not_dropped(message):
    p = parse_openai_message(message)
    items = message.get("tool_calls")
    if isinstance(items, list) and items:
        assert len(p.tool_calls) + len(p.malformed) == len(items)


def test_malformed_server_messages():
    cases = [
        {"content": 5, "tool_calls": 3},
        {"content": {"type": "text", "text": "hi"}, "tool_calls": {"id": 9, "function": {"name": "f"}}},
        {"content": [1, None, {"text": 2}, {"text": "ok"}], "tool_calls": ["x", None]},
        {"tool_calls": [{"id": None, "function": {"name": "f", "arguments": 10 ** 5000}}]},
        {"tool_calls": [{"function": {"name": "f", "arguments": '{"x": ' + HUGE_INT + "}"}}]},
    ]
    results = [parse(m) for m in cases]
    assert results[0].content == "5" and len(results[0].malformed) == 1
    assert results[1].content == "hi" and results[1].tool_calls[0].id == "call_0"
    assert results[2].content == "ok" and len(results[2].malformed) == 2
    assert "cannot be written" in results[3].malformed[0].error
    assert "4300 digits" in results[4].malformed[0].error


# ---- the paper's parser, case for case -------------------------------------------------------------------

def _reference_calls(ref: dict) -> list[tuple[str, str]]:
    return [(str(c["function"]["name"]), c["function"]["arguments"]) for c in ref["tool_calls"] or []]


def _our_calls(p: ParsedResponse) -> list[tuple[str, str]]:
    return [(c.name, json.dumps(c.arguments, ensure_ascii=False)) for c in p.tool_calls]


def _reference_clean(response: str) -> str:  # compute_solve_*'s own cleaning, as written there
    return response.strip().removesuffix("<|endoftext|>").strip().removesuffix("<|im_end|>").strip()


def _agrees(text: str) -> None:
    ref, ours = parse_qwen(text), parse_hermes(text)
    assert ours.content == ref["content"]
    assert _our_calls(ours) == _reference_calls(ref)
    ref, ours = parse_qwen(_reference_clean(text)), parse_for_reward(text)
    assert ours.content == ref["content"]
    assert _our_calls(ours) == _reference_calls(ref)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(replies)
def test_hermes_reads_what_parse_qwen_reads(text):
    _agrees(text)


def test_hermes_agrees_with_parse_qwen_on_the_crashers_and_hand_cases():
    hand = [
        "", "  ", "plain", "<tool_call>", "</tool_call>", "a</tool_call>b<tool_call>",
        '<tool_call>{"name": "f", "arguments": {}}</tool_call> tail <tool_call>{"name": "g", "arguments": {}}',
        '<tool_call>call>{"name": "f", "arguments": {}}</tool_call>',  # lstrip eats the character set
        '<tool_call>{"name": "", "arguments": {}}</tool_call>',
        '<tool_call>{"name": 0, "arguments": {}}</tool_call>',
        '<tool_call>{"name": "f", "arguments": "null"}</tool_call>',
        '<tool_call>{"name": "f", "arguments": "\\"s\\""}</tool_call>',
        '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',
        '<tool_call>{"name": "f", "arguments": NaN}</tool_call>',
        '<tool_call>{"name": "f", "arguments": {"x": NaN, "y": Infinity}}</tool_call>',
        '<tool_call>{"name": "f", "arguments": {}}</tool_call><|im_end|>',
        'Sure.<tool_call>{"name": "f", "arguments": {}}</tool_call><|endoftext|>',
    ]
    for text in hand + CRASHERS:
        _agrees(text)


# ---- nothing is super-linear ---------------------------------------------------------------------------

# Inputs of a few MB, shaped to make a scan restarted at every tag quadratic: a linear parser reads each in
# well under a second; a quadratic one needs hours (the old strip_think took 8 s for 20,000 unclosed
# <think>, and these hold 300,000). The child process's generous timeout only catches the quadratic case.
_BIG = textwrap.dedent("""
    import json
    from toolgym.parse import parse, parse_hermes, parse_llama3, parse_openai_message, strip_think
    from toolgym.reward import parse_for_reward
    n = 300_000
    texts = [
        "</think>" + "<think>" * n,
        "<think>" * n + "</think>",
        "<tool_call>" * n,
        "</tool_call>" * n,
        "<tool_call>x" * n,
        "<tool_call>{" * n,
        "<|python_tag|>" * n,
        "<|python_tag|>{" * n,
        "{" * n,
        "[" * n,
        '{"name": "f"} ' * n,
        "x" * (10 * n) + "<|im_end|>" * n,
        " " * (10 * n) + "<tool_call>",
    ]
    for text in texts:
        for fmt in ("auto", "hermes", "llama3"):
            parse(text, format=fmt)
        strip_think(text)
        parse_for_reward(text)
        parse_openai_message({"content": text, "tool_calls": [{"function": {"name": "f", "arguments": text}}] * 3})
    print("ok")
""")


def test_no_parser_is_super_linear():
    done = subprocess.run([sys.executable, "-c", _BIG], check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["<think>", "</think>", "<think", "think>", "a", "\n", "</"]), max_size=12)
       .map("".join))
def test_strip_think_is_the_regex_it_replaces(text):
    old = _THINK_RE.sub("", text)
    if "</think>" in old:
        old = old.split("</think>", 1)[1]
    assert strip_think(text) == old.lstrip("\n")
