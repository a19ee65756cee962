import json

import pytest
from pydantic import ValidationError

from toolgym.schema import Environment, ToolCall, content_id, tool_function, tool_name


def _env(**over):
    data = dict(
        scenario="single_hop",
        question="What is 1 + 1?",
        tools=[{"type": "function", "function": {"name": "add", "parameters": {
            "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"]}}}],
        code={"add": "def add(a, b):\n    return a + b"},
        expected={"add": ["2"]},
        answer="2",
        solution=[[{"name": "add", "arguments": {"a": 1, "b": 1}}]],
    )
    data.update(over)
    return Environment(**data)


def test_id_is_derived_from_content_and_stable():
    a, b = _env(), _env()
    assert a.id == b.id and a.id.startswith("env_")
    assert a.id == a.computed_id()
    assert _env(question="What is 2 + 2?").id != a.id
    # metadata is not part of the identity
    assert _env(metadata={"domain": "math", "seed": 3}).id == a.id


def test_id_ignores_call_ids_in_the_solution():
    with_ids = _env(solution=[[ToolCall(name="add", arguments={"a": 1, "b": 1}, id="call_9")]])
    assert with_ids.id == _env().id


def test_given_id_is_kept_and_edits_are_detectable():
    env = _env(id="custom")
    assert env.id == "custom"
    assert env.computed_id() == _env().id


def test_record_is_frozen():
    env = _env()
    with pytest.raises(ValidationError):
        env.question = "changed"


def test_json_round_trip_is_lossless():
    env = _env(metadata={"domain": "math", "complexity": {"parameter_expansion": 2}, "extra": {"k": [1, 2]}})
    again = Environment.model_validate_json(env.model_dump_json())
    assert again == env
    assert again.model_dump_json() == env.model_dump_json()


def test_solution_serialises_calls_without_ids():
    data = json.loads(_env().model_dump_json())
    assert data["solution"] == [[{"name": "add", "arguments": {"a": 1, "b": 1}}]]


def test_derived_views():
    env = _env(expected={"add": ["2", "3"]})
    assert env.tool_names == ["add"]
    assert env.needed == 2
    assert [c.name for c in env.solution_calls] == ["add"]


def test_unknown_scenario_is_rejected():
    with pytest.raises(ValidationError):
        _env(scenario="triple_hop")


def test_tool_helpers_accept_bare_and_wrapped_schemas():
    bare = {"name": "f", "parameters": {"type": "object", "properties": {}}}
    assert tool_function({"type": "function", "function": bare}) is bare
    assert tool_function(bare) is bare
    assert tool_name(bare) == "f" and tool_name(42) is None


def test_content_id_is_order_insensitive_for_keys():
    a = content_id({"question": "q", "expected": {"x": ["1"], "y": ["2"]}})
    b = content_id({"expected": {"y": ["2"], "x": ["1"]}, "question": "q"})
    assert a == b


def test_toolcall_renderings():
    call = ToolCall(name="f", arguments={"city": "Zürich"})
    assert call.to_openai("c1") == {"id": "c1", "type": "function",
                                   "function": {"name": "f", "arguments": '{"city": "Zürich"}'}}
    assert call.to_hermes() == '<tool_call>\n{"name": "f", "arguments": {"city": "Zürich"}}\n</tool_call>'
