import json

from hypothesis import given, settings
from hypothesis import strategies as st

from toolgym.parse import clean_response, parse, parse_hermes, parse_llama3, parse_openai_message, strip_think
from toolgym.schema import ToolCall


def block(obj):
    return "<tool_call>\n" + json.dumps(obj) + "\n</tool_call>"


class TestHermes:
    def test_plain_text(self):
        p = parse_hermes("  just text \n")
        assert p.content == "just text" and p.tool_calls == [] and p.malformed == []

    def test_calls_and_content_before_them(self):
        text = "Let me check.\n" + block({"name": "a", "arguments": {"x": 1}}) + block({"name": "b", "arguments": {}})
        p = parse_hermes(text)
        assert p.content == "Let me check."
        assert p.tool_calls == [ToolCall(name="a", arguments={"x": 1}, id="call_0"),
                                ToolCall(name="b", arguments={}, id="call_1")]

    def test_text_after_the_last_call_is_dropped_like_the_reference(self):
        p = parse_hermes(block({"name": "a", "arguments": {}}) + " trailing words")
        assert p.content == "" and len(p.tool_calls) == 1 and p.malformed == []

    def test_malformed_json_is_reported_not_raised(self):
        p = parse_hermes("<tool_call>{'name': 'a'}</tool_call>")
        assert p.tool_calls == []
        assert p.content == "<tool_call>{'name': 'a'}</tool_call>"  # the whole text, as in the reference
        assert "invalid JSON" in p.malformed[0].error

    def test_every_kind_of_bad_block(self):
        bad = [
            "<tool_call>[1, 2]</tool_call>",
            '<tool_call>{"arguments": {}}</tool_call>',
            '<tool_call>{"name": "a"}</tool_call>',
            '<tool_call>{"name": "a", "arguments": 5}</tool_call>',
            '<tool_call>{"name": "a", "arguments": "{not json"}</tool_call>',
        ]
        for text in bad:
            p = parse_hermes(text)
            assert p.tool_calls == [] and len(p.malformed) == 1, text

    def test_a_true_name_that_is_not_a_string_is_a_call_as_in_the_reference(self):
        # parse_qwen keeps {"name": 7} (it only asks that the name be true): a call of no tool, counted in n
        p = parse_hermes('<tool_call>{"name": 7, "arguments": {}}</tool_call>')
        assert p.tool_calls == [ToolCall(name="7", arguments={}, id="call_0")] and p.malformed == []

    def test_text_between_blocks_is_reported_and_its_block_ignored(self):
        p = parse_hermes(block({"name": "a", "arguments": {}}) + " and " + block({"name": "b", "arguments": {}}))
        assert [c.name for c in p.tool_calls] == ["a"]
        assert p.malformed[0].error.startswith("text before <tool_call>")

    def test_unclosed_last_block_still_parses(self):
        p = parse_hermes('<tool_call>{"name": "a", "arguments": {"q": "x"}}')
        assert p.tool_calls[0].arguments == {"q": "x"}

    def test_to_message(self):
        msg = parse_hermes("hi " + block({"name": "a", "arguments": {"x": 1}})).to_message()
        assert msg == {"role": "assistant", "content": "hi", "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}}]}


class TestOpenAI:
    def test_native_calls(self):
        msg = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
            {"id": "c2", "type": "function", "function": {"name": "b", "arguments": ""}},
            {"id": "c3", "type": "function", "function": {"name": "c", "arguments": "{oops"}},
            {"id": "c4", "type": "function", "function": {"arguments": "{}"}},
        ]}
        p = parse_openai_message(msg)
        assert [(c.name, c.arguments, c.id) for c in p.tool_calls] == [("a", {"x": 1}, "c1"), ("b", {}, "c2")]
        assert len(p.malformed) == 2 and p.content == ""

    def test_calls_written_in_the_text_are_found(self):
        p = parse({"role": "assistant", "content": block({"name": "a", "arguments": {}})})
        assert [c.name for c in p.tool_calls] == ["a"]

    def test_objects_with_attributes(self):
        class Fn:
            name, arguments = "a", '{"k": "v"}'

        class Call:
            id, function = "z", Fn()

        class Msg:
            content, tool_calls = "text", [Call()]

        p = parse(Msg())
        assert p.tool_calls == [ToolCall(name="a", arguments={"k": "v"}, id="z")] and p.content == "text"


class TestLlama:
    def test_python_tag(self):
        p = parse_llama3('Sure.<|python_tag|>{"name": "a", "parameters": {"x": 1}}')
        assert p.content == "Sure." and p.tool_calls[0].arguments == {"x": 1}

    def test_bare_json_and_several_calls(self):
        p = parse_llama3('{"name": "a", "parameters": {}}; {"name": "b", "arguments": "{\\"y\\": 2}"}')
        assert [(c.name, c.arguments) for c in p.tool_calls] == [("a", {}), ("b", {"y": 2})]

    def test_a_list_of_calls(self):
        p = parse_llama3('[{"name": "a", "parameters": {}}, {"name": "b", "parameters": {}}]')
        assert [c.name for c in p.tool_calls] == ["a", "b"]

    def test_ordinary_json_is_content(self):
        p = parse_llama3('{"answer": 42}')
        assert p.tool_calls == [] and p.content == '{"answer": 42}'

    def test_broken_call_after_tag(self):
        p = parse_llama3('<|python_tag|>{"name": "a", "parameters": ')
        assert p.tool_calls == [] and p.malformed and p.content.startswith("<|python_tag|>")


def test_auto_detection():
    assert parse(block({"name": "a", "arguments": {}})).tool_calls[0].name == "a"
    assert parse('<|python_tag|>{"name": "b", "parameters": {}}').tool_calls[0].name == "b"
    assert parse("plain").content == "plain"


def test_clean_and_think():
    assert clean_response("  hi <|im_end|> ") == "hi"
    assert clean_response("hi<|im_end|><|endoftext|>") == "hi"
    # the reference strips <|endoftext|> first, then <|im_end|>: the other order keeps the first marker
    assert clean_response("hi<|endoftext|><|im_end|>") == "hi<|endoftext|>"
    assert strip_think("<think>plan</think>\nanswer") == "answer"
    assert strip_think("plan only closed</think>answer") == "answer"


texts = st.text(alphabet=st.sampled_from(list('<>/{}[]":,\\ abcnmetoolcal_|\n0123456789')) , max_size=200)
fragments = st.lists(st.sampled_from(["<tool_call>", "</tool_call>", '{"name": "f", "arguments": {}}', '{"name":',
                                       "<|python_tag|>", '"arguments": "{"}', "}", "text", "\n", "[", "]", '"x"']),
                     max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), texts, fragments), st.sampled_from(["hermes", "llama3", "auto"]))
def test_parsing_never_raises(text, fmt):
    p = parse(text, fmt)
    assert isinstance(p.content, str)
    for c in p.tool_calls:
        assert isinstance(c.name, str) and c.name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({"name": st.text(min_size=1, max_size=5).filter(str.strip),
                                        "arguments": st.dictionaries(st.text(max_size=4), st.integers(), max_size=3)}),
                min_size=1, max_size=4))
def test_hermes_round_trip(calls):
    text = "".join(ToolCall(**c).to_hermes() for c in calls)
    p = parse_hermes(text)
    assert [(c.name, c.arguments) for c in p.tool_calls] == [(c["name"], c["arguments"]) for c in calls]


def test_read_reply_keeps_a_servers_reasoning_and_native_calls():
    """What the benchmarks read off a reply (they used to read replies with a twin of read_reply): the reasoning
    a server returned apart, the reply as the model wrote it, and the native call items as returned."""
    from toolgym.models import Generation
    from toolgym.parse import read_reply

    calls = [{"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}]
    native = Generation(text="", message={"role": "assistant", "content": None, "tool_calls": calls,
                                          "reasoning_content": "plan"})
    reply = read_reply(native)
    assert reply.native and reply.native_calls == tuple(calls) and reply.reasoning == "plan"
    assert reply.parsed.tool_calls[0].name == "f" and reply.full_text == "<think>\nplan\n</think>\n\n"
    text = Generation(text="The answer is 4.", message={"role": "assistant", "content": "The answer is 4.",
                                                        "reasoning": "2 + 2"})
    reply = read_reply(text)
    assert (reply.reasoning, reply.visible, reply.native) == ("2 + 2", "The answer is 4.", False)
    assert reply.full_text == "<think>\n2 + 2\n</think>\n\nThe answer is 4."
    # inline: read as the paper's scripts read a local model's raw output, the reasoning in front
    inline = read_reply(text, inline_reasoning=True)
    assert inline.reasoning == "" and inline.parsed.content == "<think>\n2 + 2\n</think>\n\nThe answer is 4."
    inline = read_reply(native, inline_reasoning=True)
    assert inline.parsed.content.startswith("<think>\nplan") and inline.native_calls == tuple(calls)
    # strip: calls only after the reasoning; a thought that mentions a tag hides nothing
    call = '<tool_call>\n{"name": "g", "arguments": {}}\n</tool_call>'
    thought = f"<think>\nuse a <tool_call> block\n</think>\n\n{call}"
    assert read_reply(thought).parsed.tool_calls == []  # the paper's parse_qwen stops at the first tag
    stripped = read_reply(thought, strip_thinking=True)
    assert [c.name for c in stripped.parsed.tool_calls] == ["g"] and stripped.reasoning == "use a <tool_call> block"
