"""Every validation error kind, each named with the field it concerns."""

import pytest

from toolgym.errors import ErrorKind, InvalidRecord
from toolgym.schema import parse_environment, validate_tool_schema


def _data(**over):
    data = dict(
        scenario="single_hop",
        question="q?",
        tools=[{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
            "type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}}}],
        code={"f": "def f(x):\n    return x"},
        expected={"f": ["a"]},
        answer="a",
        solution=[[{"name": "f", "arguments": {"x": "a"}}]],
    )
    data.update(over)
    return data


def _errors(data, **kw):
    with pytest.raises(InvalidRecord) as exc:
        parse_environment(data, **kw)
    return exc.value.errors


def test_valid_record_parses():
    env = parse_environment(_data())
    assert env.tool_names == ["f"]


def test_bare_tool_schema_is_accepted():
    env = parse_environment(_data(tools=[{"name": "f", "parameters": {"type": "object", "properties": {}}}]))
    assert env.tool_names == ["f"]


def test_structural_error_names_the_field():
    errs = _errors(_data(question=None))
    assert errs[0].kind == ErrorKind.SCHEMA and errs[0].field == "question"


def test_expected_values_must_be_strings():
    errs = _errors(_data(expected={"f": [3]}))
    assert errs[0].kind == ErrorKind.SCHEMA and errs[0].field.startswith("expected")


@pytest.mark.parametrize("tool, field", [
    ({"type": "function", "function": {"name": "bad name!"}}, "tools[0].function.name"),
    ({"type": "function", "function": {"name": "f", "description": 3}}, "tools[0].function.description"),
    ({"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}, "tools[0].function.parameters.type"),
    ({"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": 1}}}},
     "tools[0].function.parameters.properties"),
    ({"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {}, "required": ["y"]}}}, "tools[0].function.parameters.required"),
    ({"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "strang"}}}}}, "tools[0].function.parameters.properties.x.type"),
    ({"type": "retrieval"}, "tools[0].type"),
    ("f", "tools[0]"),
])
def test_invalid_tool_schemas(tool, field):
    problems = validate_tool_schema(tool, 0)
    assert problems and problems[0].kind == ErrorKind.TOOL_SCHEMA
    assert problems[0].field == field


def test_duplicate_tool_names():
    tool = _data()["tools"][0]
    errs = _errors(_data(tools=[tool, tool]))
    assert ErrorKind.DUPLICATE_TOOL in {e.kind for e in errs}


def test_expected_names_unknown_tool():
    errs = _errors(_data(expected={"f": ["a"], "g": ["b"]}))
    assert [(e.kind, e.field) for e in errs] == [(ErrorKind.EXPECTED_UNKNOWN_TOOL, "expected.g")]


def test_tool_without_code():
    errs = _errors(_data(code={}))
    assert (ErrorKind.CODE_MISSING, "code.f") in {(e.kind, e.field) for e in errs}


def test_code_that_does_not_compile():
    errs = _errors(_data(code={"f": "def f(x):\n    return x +"}))
    assert errs[0].kind == ErrorKind.CODE_COMPILE and errs[0].field == "code.f"
    assert "line 2" in errs[0].message


def test_code_that_compiles_only_as_syntax_tree_is_caught():
    # ast.parse accepts a top-level return; compile() does not
    errs = _errors(_data(code={"f": "return 1\ndef f(x):\n    return x"}))
    assert errs[0].kind == ErrorKind.CODE_COMPILE


def test_code_without_the_named_function():
    errs = _errors(_data(code={"f": "def g(x):\n    return x"}))
    assert errs[0].kind == ErrorKind.CODE_MISSING_FUNCTION and errs[0].field == "code.f"


def test_solution_with_unknown_tool_and_non_object_arguments():
    errs = _errors(_data(solution=[[{"name": "h", "arguments": {}}, {"name": "f", "arguments": [1]}]]))
    assert {(e.kind, e.field) for e in errs} == {
        (ErrorKind.SOLUTION, "solution[0][0]"), (ErrorKind.SOLUTION, "solution[0][1].arguments")}


def test_errors_carry_line_source_and_id():
    errs = _errors(_data(id="env_x", code={"f": "def g(): pass"}), line=7, source="in.jsonl")
    e = errs[0]
    assert (e.line, e.source, e.record_id) == (7, "in.jsonl", "env_x")
    assert "line 7" in str(e) and "env_x" in str(e) and "code.f" in str(e)


def test_all_problems_are_reported_not_just_the_first():
    errs = _errors(_data(expected={"zz": ["a"]}, code={"f": "syntax error here"}))
    assert {e.kind for e in errs} == {ErrorKind.EXPECTED_UNKNOWN_TOOL, ErrorKind.CODE_COMPILE}
