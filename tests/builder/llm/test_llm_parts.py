"""The LLM builders' parts on their own: reading replies, the prompts, the stage checks, the mechanical
rename, the configuration (the reply cache is tested with the other model parts, in tests/models)."""

import json
from dataclasses import replace

import pytest

from toolgym.builder.config import EnvSpec
from toolgym.builder.llm import (
    BUILD_ENDPOINT,
    Invalid,
    LLMBuildConfig,
    export_prompts,
    extract_json,
    load_prompts,
    read_seeds,
)
from toolgym.builder.llm.prompts import FILES, STAGES
from toolgym.builder.llm.rename import RenameError, error_literals, name_problem, rewrite_source
from toolgym.builder.llm.stages import Toolset, check_calls, check_integrated, check_plan, check_scaled
from toolgym.builder.llm.structured import request_seed, schema_errors
from toolgym.errors import ConfigError
from toolgym.models import Endpoint
from toolgym.sandbox import ExecRequest, UnsafeInProcessExecutor

# ---- reading replies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    '{"a": 1}',
    'Here it is:\n```json\n{"a": 1}\n```\nDone.',
    '<think>Maybe {"a": 2}? No.</think>\n{"a": 1}',
    'reasoning without an opening tag</think>{"a": 1}',
    '```\n{"a": 1,}\n```\nSorry, fixed: {"a": 1} trailing words',
])
def test_the_json_object_is_found_in_the_reply(text):
    assert extract_json(text) == {"a": 1}


def test_a_reply_without_valid_json_says_where_it_broke():
    with pytest.raises(Invalid) as exc:
        extract_json('{"question": "What is\n the')
    assert exc.value.reason == "invalid JSON" and "(line 1, column 22)" in exc.value.message
    with pytest.raises(Invalid, match="holds no JSON object"):
        extract_json("I cannot help with that.")
    with pytest.raises(Invalid, match="cut off at the token limit"):
        extract_json('{"a": [1, 2', finish_reason="length")
    with pytest.raises(Invalid, match="no JSON object"):
        extract_json("[1, 2, 3]")


def test_schema_errors_are_located():
    schema = load_prompts().schemas["decompose"]
    data = {"question": "What is the capital of Vestia?", "answer": "Kelmora",
            "subquestions": [{"id": 1, "question": "What is it?", "answer": 5, "depends_on": []}]}
    assert schema_errors(schema, data) == ["at subquestions[0].answer: 5 is not of type 'string'"]
    assert schema_errors(schema, {**data, "subquestions": [{"id": 1, "question": "What is it?", "answer": "x",
                                                            "depends_on": []}]}) == []


def test_requests_get_distinct_seeds():
    seeds = {request_seed(0, i, s, a) for i in range(50) for s in STAGES for a in range(3)}
    assert len(seeds) == 50 * len(STAGES) * 3 and all(0 <= s < 2 ** 31 for s in seeds)


# ---- prompts -------------------------------------------------------------------------------------------------

def _variables(stage):
    return {v: "x" for v in STAGES[stage].variables if v != "schema"}


def test_every_packaged_prompt_renders_with_its_schema():
    prompts = load_prompts()
    for stage in STAGES:
        text = prompts.render(stage, **_variables(stage))
        assert json.loads(text.split("## Output schema\n\n```json\n")[1].split("\n```")[0]) == prompts.schemas[stage]
    assert "not accepted" in prompts.feedback_message("boom") and "boom" in prompts.feedback_message("boom")


def test_a_prompt_directory_overrides_files_and_is_checked(tmp_path):
    written = export_prompts(tmp_path / "p")
    assert sorted(p.name for p in written) == sorted(FILES)
    with pytest.raises(ConfigError, match="exists"):
        export_prompts(tmp_path / "p")
    (tmp_path / "p" / "decompose.md").write_text("Write a $scenario question about $seed.\n$schema")
    custom = load_prompts(tmp_path / "p")
    assert custom.render("decompose", **_variables("decompose")).startswith("Write a x question about x.")
    assert custom.digest != load_prompts().digest and custom.sources["decompose.md"].endswith("p/decompose.md")
    (tmp_path / "p" / "document.md").write_text("Use $inptu.")
    with pytest.raises(ConfigError, match=r"uses \$inptu; the placeholders of document.md are"):
        load_prompts(tmp_path / "p")
    (tmp_path / "p" / "document.md").write_text("Costs 5 $ each.")
    with pytest.raises(ConfigError, match=r"write '\$\$'"):
        load_prompts(tmp_path / "p")
    (tmp_path / "p" / "document.md").unlink()
    (tmp_path / "p" / "integrate.schema.json").write_text('{"type": "objekt"}')
    with pytest.raises(ConfigError, match="integrate.schema.json is not a valid JSON schema"):
        load_prompts(tmp_path / "p")
    (tmp_path / "p" / "integrate.schema.json").unlink()
    (tmp_path / "p" / "decompos.md").write_text("typo")
    with pytest.raises(ConfigError, match="decompos.md .* would be ignored"):
        load_prompts(tmp_path / "p")


# ---- stage checks ------------------------------------------------------------------------------------------------

def _q(i, answer, deps=(), question=None):
    return {"id": i, "question": question or f"Sub-question {i}?", "answer": answer, "depends_on": list(deps)}


def _plan_data(subqs, answer, question="Which city is twinned with the twin of Orvale?"):
    return {"question": question, "answer": answer, "subquestions": subqs}


SPEC = {s: EnvSpec(0, s, h, w, {}) for s, h, w in (("single_hop", 1, 1), ("parallel_single_hop", 1, 2),
                                                   ("multi_hop", 2, 1), ("parallel_multi_hop", 2, 2))}


def test_the_plan_must_have_the_scenarios_shape():
    chain = [_q(1, "Kelmora"), _q(2, "Tarnwick", [1])]
    assert check_plan(_plan_data(chain, "Tarnwick"), SPEC["multi_hop"], 3, 8).hops == 2
    cases = [("single_hop", chain, "exactly 1"), ("parallel_single_hop", chain, "2 independent"),
             ("multi_hop", [_q(1, "Kelmora"), _q(2, "Tarnwick")], "one chain"),
             ("parallel_multi_hop", chain, "at least 2 independent"),
             ("multi_hop", [_q(1, "Kelmora"), _q(3, "Tarnwick", [1])], "in order"),
             ("multi_hop", [_q(1, "Kelmora", [2]), _q(2, "Tarnwick")], "not earlier")]
    for scenario, subqs, message in cases:
        with pytest.raises(Invalid, match=message):
            check_plan(_plan_data(subqs, subqs[-1]["answer"]), SPEC[scenario], 3, 8)
    with pytest.raises(Invalid, match="at most 1 sub-questions"):
        check_plan(_plan_data(chain, "Tarnwick"), SPEC["multi_hop"], 3, 1)


def test_answers_must_be_long_hidden_and_make_the_final_answer():
    spec = SPEC["parallel_single_hop"]
    ok = [_q(1, "Kelmora"), _q(2, "Tarnwick")]
    assert check_plan(_plan_data(ok, "Kelmora, Tarnwick"), spec, 3, 8).width == 2
    with pytest.raises(Invalid, match="shorter than 3"):
        check_plan(_plan_data([_q(1, "Kelmora"), _q(2, "12")], "Kelmora, 12"), spec, 3, 8)
    with pytest.raises(Invalid, match="appears in the question"):
        check_plan(_plan_data(ok, "Kelmora, Tarnwick", "Is Kelmora twinned with anything?"), spec, 3, 8)
    with pytest.raises(Invalid, match="made of sub-question answers"):
        check_plan(_plan_data(ok, "Kelmora, Vestia"), spec, 3, 8)


def _tool(name, props=("city",)):
    return {"name": name, "description": "Return the twin of a city.",
            "parameters": {"type": "object", "properties": {p: {"type": "string"} for p in props},
                           "required": ["city"]}}


def test_calls_must_fit_their_tool_and_carry_their_inputs():
    plan = check_plan(_plan_data([_q(1, "Kelmora"), _q(2, "Tarnwick", [1])], "Tarnwick"), SPEC["multi_hop"], 3, 8)
    tools = (_tool("twin"),)
    good = [{"subquestion": 1, "tool": "twin", "arguments": {"city": "Orvale"}},
            {"subquestion": 2, "tool": "twin", "arguments": {"city": "Kelmora"}}]
    assert [c.arguments for c in check_calls(plan, tools, good).values()] == [{"city": "Orvale"}, {"city": "Kelmora"}]
    bad = [
        ([good[0], {**good[1], "arguments": {"city": "Orvale"}}], "must take the answer of sub-question 1"),
        ([good[0], {**good[1], "arguments": {"city": "Kelmora Tarnwick"}}], "contain its own answer"),
        ([good[0], {**good[1], "tool": "mayor"}], "not among the tools"),
        ([good[0]], r"no call for sub-question\(s\) \[2\]"),
        ([good[0], good[0], good[1]], "already has a call"),
        ([good[0], {**good[1], "arguments": {"town": "Kelmora"}}], "'city' is a required property"),
    ]
    for calls, message in bad:
        with pytest.raises(Invalid, match=message):
            check_calls(plan, tools, calls)


def test_integration_merges_and_scaling_extends():
    plan = check_plan(_plan_data([_q(1, "Kelmora")], "Kelmora", "Which city is twinned with Orvale?"),
                      SPEC["single_hop"], 3, 8)
    calls = [{"subquestion": 1, "tool": "twin", "arguments": {"city": "Orvale"}}]
    before = Toolset((_tool("twin"),), check_calls(plan, (_tool("twin"),), calls))
    with pytest.raises(Invalid, match="more than the 1 of the input"):
        check_integrated(plan, before, {"tools": [_tool("twin"), _tool("mayor")], "calls": calls})
    levels = {"toolset": 1, "parameters": 1}
    with pytest.raises(Invalid, match="toolset level 1"):
        check_scaled(plan, before, levels, {"tools": [_tool("twin", ("city", "verbose"))], "calls": calls})
    with pytest.raises(Invalid, match="parameters level 1"):
        check_scaled(plan, before, levels, {"tools": [_tool("twin"), _tool("mayor")], "calls": calls})
    scaled = check_scaled(plan, before, levels, {"tools": [_tool("twin", ("city", "verbose")), _tool("mayor")],
                                                 "calls": [{**calls[0], "arguments": {"city": "Orvale",
                                                                                      "verbose": "yes"}}]})
    assert len(scaled.tools) == 2 and scaled.parameters == 2
    with pytest.raises(Invalid, match="used twice or is a Python keyword"):
        check_scaled(plan, before, {}, {"tools": [_tool("twin"), _tool("twin")], "calls": calls})


# ---- the mechanical rename -----------------------------------------------------------------------------------------

SOURCE = '''S = {"name": "get_a", "other": "get_ab"}


def get_a(city=None, **extra):
    if extra:
        return f"Error: get_a does not take {', '.join(extra)}."
    if city is None:
        return "Error: 'city' is required: a city name."
    return {"tool": get_a.__name__, "via": get_b(city)}


def get_b(city):
    return "Error: no city " + repr(city)  # get_a calls this
'''


def test_rewrite_source_renames_names_and_words_in_strings():
    new = rewrite_source(SOURCE, {"get_a": "fetch_a", "get_b": "get_a"},
                         {"Error: 'city' is required: a city name.": "Error: 'city' must be given (a city's name)."})
    assert "def fetch_a(" in new and "def get_a(city):" in new and "via\": get_a(city)" in new
    assert '"name": "fetch_a", "other": "get_ab"' in new  # whole words only
    assert 'f"Error: fetch_a does not take' in new and "Error: 'city' must be given (a city's name)." in new
    assert "# get_a calls this" in new  # comments are not code
    result = UnsafeInProcessExecutor().run([ExecRequest("fetch_a", {"city": "X"}, {"fetch_a": new})])[0]
    assert json.loads(result.output) == {"tool": "fetch_a", "via": "Error: no city 'X'"}
    assert error_literals(SOURCE) == ["Error: 'city' is required: a city name.", "Error: no city "]


def test_rewrite_source_refuses_what_it_cannot_do_safely():
    with pytest.raises(RenameError, match="attribute, a parameter or a keyword"):
        rewrite_source("def f(x):\n    return x.f\n", {"f": "g"})
    with pytest.raises(RenameError, match="attribute, a parameter or a keyword"):
        rewrite_source("def f(f=1):\n    return f\n", {"f": "g"})
    assert name_problem({"get_a": "get_b", "get_b": "get_a"}, [SOURCE], set()) is None  # a swap is safe
    assert "already used" in name_problem({"get_a": "get_b"}, [SOURCE], set())
    assert "already used" in name_problem({"get_a": "S"}, [SOURCE], set())
    assert "built-in" in name_problem({"get_a": "len"}, [SOURCE], set())
    assert "two tools" in name_problem({"get_a": "x1", "get_b": "x1"}, [SOURCE], set())
    assert "already used" in name_problem({"get_a": "keep_me"}, [SOURCE], {"keep_me"})


# ---- configuration -----------------------------------------------------------------------------------------------

def test_configuration_errors_name_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="--llm-model"):
        LLMBuildConfig(BUILD_ENDPOINT)
    with pytest.raises(ConfigError, match="--llm-base-url"):
        replace(BUILD_ENDPOINT, model="m", base_urls="localhost:8000")
    with pytest.raises(ConfigError, match="--llm-json-mode"):
        LLMBuildConfig(Endpoint(model="m"), json_mode="schema")
    with pytest.raises(ConfigError, match="--builder"):
        LLMBuildConfig(Endpoint(model="m"), mode="magic")
    # an endpoint made without flags names the builder's in its errors
    assert LLMBuildConfig(Endpoint(model="m")).endpoint.flag("model") == "--llm-model"
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# topics\ntrain timetables\n\nrare minerals\n")
    assert read_seeds(seeds) == ("train timetables", "rare minerals")
    cfg = LLMBuildConfig(replace(BUILD_ENDPOINT, model="m"), seeds=read_seeds(seeds))
    assert [cfg.topic(i)[1] for i in range(3)] == ["train timetables", "rare minerals", "train timetables"]
    assert cfg.to_dict("p")["seeds"]["count"] == 2 and "concurrency" not in json.dumps(cfg.to_dict("p"))
    # what decides the output: the same record as before the endpoint moved to toolgym.models, so a build
    # made then still resumes
    assert cfg.to_dict("p")["llm"] == {"model": "m", "temperature": 0.7, "max_tokens": 4096, "json_mode": "none",
                                       "send_seed": True}
    seeds.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="holds no seed"):
        read_seeds(seeds)
