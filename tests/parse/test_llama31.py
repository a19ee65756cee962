"""The ``llama3`` tool format reads a Llama 3.1 reply as the paper's ``parse_llama31`` does (bytedance/FTRL
``Code/utils/parse_output.py``, what ``data_sample.py --series llama31`` reads replies with), case for case,
``json_repair`` included; where that function raises, toolgym reads no call and does not raise. The
several-calls reading is ``llama3_multi``. Text over ``REPAIR_LIMIT`` characters is not repaired (``json_repair``
takes time quadratic in some broken JSON): there the reading agrees with the reference on valid JSON and on
what the reference cannot read, and broken JSON is an unreadable call."""

import json

import pytest
from ftrl_reference import parse_llama31 as reference
from hypothesis import HealthCheck, example, given, settings
from model_outputs import DEEP, HUGE_INT, replies

from toolgym.parse import parse, parse_llama31, read_reply, tool_format
from toolgym.parse._llama import REPAIR_LIMIT
from toolgym.schema import ToolCall

HAND = [
    "", "  ", "The answer is Paris.", "42", "[]", "{}", '{"answer": 42}',
    '{"name": "f", "parameters": {"x": 1}}',
    '<|python_tag|>{"name": "f", "parameters": {"x": 1}}',
    'Let me look. <|python_tag|>{"name": "f", "parameters": {"x": 1}}',
    'Sure, calling {"name": "f", "parameters": {"city": "Orlay"}} now',  # an object inside prose is a call
    '{"name": "f", "parameters": {"x": 1}}; {"name": "g", "parameters": {}}',  # several: the first
    '{"name": "f", "parameters": {}}; {"name": "g", "parameters": {}}',  # json_repair merges these two
    '[{"name": "f", "parameters": {}}, {"name": "g", "parameters": {}}]',
    '<|python_tag|>{"name": "f", "parameters": {"x": 1}}<|python_tag|>{"name": "g", "parameters": {}}',
    '<|python_tag|>{"name": "f", "parameters": {"x": 1',  # cut: repaired
    '<|python_tag|>{"name": "f", "parameters": ',  # parameters "" is a call with string arguments
    '{"name": "f", "parameters": "{\\"x\\": 2}"}',  # parameters as a JSON string
    "{'name': 'f', 'parameters': {'x': 3}}",  # Python quotes, repaired
    '{"name": "", "parameters": {}}', '{"name": 7, "parameters": {}}', '{"name": null, "parameters": {}}',
    '{"name": "f", "arguments": {"x": 1}}',  # Qwen's key: not a call here
    '{"parameters": {"x": 1}}', '<|python_tag|>[]', "<|python_tag|>", "<|python_tag|>nothing",
    '<|python_tag|>python {"name": "f", "parameters": {}}',  # the reference's lstrip of a character set
    '<|python_tag|>{"name": "f", "parameters": {"x": ' + HUGE_INT + "}}",
    "<|python_tag|>" + DEEP, HUGE_INT, DEEP, "[" + HUGE_INT + "]",
]


def _agrees(text: str) -> None:
    ours = parse_llama31(text)
    try:
        ref = reference(text)
    except Exception:  # noqa: BLE001 -- where the paper's function raises, toolgym reads no call
        assert ours.tool_calls == [] and ours.content == text.strip()
        return
    assert ours.content == (ref["content"] or "")
    assert [(c.name, json.dumps(c.arguments, ensure_ascii=False)) for c in ours.tool_calls] == [
        (str(c["function"]["name"]), c["function"]["arguments"]) for c in ref["tool_calls"] or []]


@pytest.mark.parametrize("text", HAND, ids=range(len(HAND)))
def test_reads_what_parse_llama31_reads(text):
    _agrees(text)
    reply = read_reply(text, "llama3")  # the reading the rollout, the reward and training use
    if text == text.strip():
        assert (reply.parsed.content, reply.parsed.tool_calls) == (parse_llama31(text).content,
                                                                   parse_llama31(text).tool_calls)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(replies.filter(lambda text: len(text) <= REPAIR_LIMIT))  # the reference may take hours on longer ones
@example('<|python_tag|>{"name": "f", "parameters": {"x": 1}}; junk').via("a call and junk after it")
def test_reads_what_parse_llama31_reads_on_any_reply(text):
    _agrees(text)


def test_what_the_reading_gives_the_reward():
    one = parse('{"name": "f", "parameters": {"x": 1}}; {"name": "g", "parameters": {"y": 2}}', "llama3")
    assert one.tool_calls == [ToolCall(name="f", arguments={"x": 1}, id="call_0")] and one.content == ""
    several = parse('{"name": "f", "parameters": {"x": 1}}; {"name": "g", "parameters": {"y": 2}}', "llama3_multi")
    assert [c.name for c in several.tool_calls] == ["f", "g"]
    # a reply that tried to call and gave no call is malformed (the step reward's -0.3); prose and data are not
    assert parse("<|python_tag|>nothing", "llama3").malformed
    assert parse('{"name": "f", "arguments": {}}', "llama3").malformed
    assert not parse("The answer is 42.", "llama3").malformed and not parse('{"answer": 42}', "llama3").malformed
    assert parse(tool_format("llama3").write_broken(ToolCall(name="f", arguments={"x": 1})), "llama3").malformed
    assert parse(tool_format("llama3_multi").write_broken(ToolCall(name="f", arguments={"x": 1})),
                 "llama3_multi").malformed


def test_the_aliases_of_the_papers_series_are_the_papers_reading():
    assert tool_format("llama31") == tool_format("llama3.1") == tool_format("llama3")
    assert tool_format("llama3").one_call and not tool_format("llama3_multi").one_call
    calls = [ToolCall(name="f", arguments={}), ToolCall(name="g", arguments={})]
    assert tool_format("llama3").turns([calls]) == [[calls[0]], [calls[1]]]
    assert tool_format("llama3_multi").turns([calls]) == [calls] == tool_format("hermes").turns([calls])
    assert tool_format("llama3").for_calls(2).name == "llama3_multi" and tool_format("llama3").for_calls(1).name == "llama3"


LONG = "x" * (REPAIR_LIMIT + 1)


@pytest.mark.parametrize("text", [
    '<|python_tag|>{"name": "f", "parameters": {"text": "' + LONG + '"}}',  # valid JSON: read as the paper reads it
    '{"name": "f", "parameters": "{\\"text\\": \\"' + LONG + '\\"}"}',
    '[{"name": "f", "parameters": {"text": "' + LONG + '"}}, {"name": "g", "parameters": {}}]',
    "The answer is " + LONG, "<|python_tag|>" + DEEP, DEEP, "[" + HUGE_INT + "]" + LONG,
], ids=["tag", "string-parameters", "list", "prose", "tag-deep", "deep", "huge-int"])
def test_long_text_agrees_where_the_reference_reads_it_quickly(text):
    _agrees(text)


def test_long_broken_json_is_an_unreadable_call_not_a_stall():
    # a run of ']' inside an unclosed string: json_repair 0.42.0 takes time quadratic in its length
    stall = '<|python_tag|>{"name": "f", "parameters": {"d": ["' + "]" * (REPAIR_LIMIT * 20) + "}}"
    parsed = parse_llama31(stall)
    assert parsed.tool_calls == [] and f"over {REPAIR_LIMIT:,}" in parsed.malformed[0].error
    cut = '<|python_tag|>{"name": "f", "parameters": {"text": "' + LONG  # repaired were it shorter
    assert parse_llama31(cut).malformed and not parse_llama31(cut[:200]).malformed
    two = '{"name": "f", "parameters": {"text": "' + LONG + '"}}; {"name": "g", "parameters": {}}'  # not one value
    assert parse_llama31(two).malformed and parse_llama31(two[:200] + '"}}; {"name": "g"}').tool_calls
