"""The five stages, each alone: structure of plans, merged tools, scaled documents, deployed code."""

import random

import pytest

from toolgym.builder.config import BuildConfig, env_spec
from toolgym.builder.decompose import DecompositionError, Shape, decompose
from toolgym.builder.deploy import deploy
from toolgym.builder.document import document
from toolgym.builder.integrate import integrate
from toolgym.builder.scale import scale
from toolgym.builder.world import DOMAINS, make_world
from toolgym.sandbox import ExecRequest, UnsafeInProcessExecutor
from toolgym.schema import ToolCall, validate_environment

WORLD = make_world("synthetic", 0)


def _plan(scenario, hops=1, width=1, seed=0, units=False):
    return decompose(WORLD, Shape(scenario, hops, width, DOMAINS, units), random.Random(seed))


@pytest.mark.parametrize("seed", range(20))
def test_decomposition_shapes(seed):
    single = _plan("single_hop", seed=seed)
    assert len(single.subqs) == 1 and single.hops == 1
    chain = _plan("multi_hop", hops=2 + seed % 4, seed=seed)
    assert chain.hops == 2 + seed % 4 and chain.width == 1
    for q in chain.subqs[1:]:  # each hop is fed by the previous one
        assert (q.source == q.id - 1) if q.kind == "lookup" else q.inputs == [q.id - 1]
        if q.kind == "lookup":
            assert chain.subqs[q.source].answer == q.entity
    par = _plan("parallel_single_hop", width=2 + seed % 3, seed=seed)
    assert par.width == 2 + seed % 3 and all(q.depth == 0 for q in par.subqs if q.kind == "lookup")
    pmh = _plan("parallel_multi_hop", hops=2 + seed % 2, width=2 + seed % 3, seed=seed)
    assert pmh.width == 2 + seed % 3 and pmh.hops >= 2


def test_questions_vary_and_answers_are_not_in_the_question():
    plans = [_plan("multi_hop", hops=3, seed=s) for s in range(60)]
    assert len({" ".join(p.question.split()[:3]) for p in plans}) > 10
    for p in plans:
        for q in p.subqs:
            if q.kind == "lookup":
                assert q.answer.lower() not in p.question.lower()


def test_decomposition_fails_cleanly_when_impossible():
    with pytest.raises(DecompositionError):
        decompose(WORLD, Shape("multi_hop", 5, 1, ("finance",)), random.Random(0))


def _draft(levels, scenario="multi_hop", hops=3, seed=1, distractors=3):
    plan = _plan(scenario, hops=hops, width=2, seed=seed, units=levels["types"] >= 1)
    draft = document(WORLD, plan, random.Random(seed), levels)
    draft = integrate(WORLD, draft, random.Random(seed))
    return scale(WORLD, draft, random.Random(seed), distractors)


def test_integration_merges_same_type_lookups_and_rewrites_calls():
    plan = _plan("parallel_single_hop", width=3, seed=3)
    doc = document(WORLD, plan, random.Random(0), {})
    merged = integrate(WORLD, doc, random.Random(0))
    by_type = {}
    for spec in doc.tools.values():
        if spec.role == "lookup":
            by_type.setdefault(spec.etypes[0], []).append(spec.name)
    for etype, names in by_type.items():
        if len(names) > 1:  # several attributes of one type -> one tool with a field parameter
            tool = next(t for t in merged.tools.values() if t.etypes == [etype])
            assert tool.field_param == "field"
            assert all("field" in c.arguments for c in merged.calls if c.tool == tool.name)


LEVELS0 = {"functional": 0, "parameters": 0, "types": 0, "toolset": 0}


def test_scaling_levels_change_the_documents():
    base = _draft(LEVELS0)
    rich = _draft({"functional": 2, "parameters": 3, "types": 3, "toolset": 3})
    lookups = [t for t in rich.tools.values() if t.role == "lookup"]
    names = {p.name for t in lookups for p in t.params}
    assert {"entity_type", "verbose", "format", "as_of_year"} <= names or {"query", "verbose"} <= names
    assert any(t.role == "near_miss" for t in rich.tools.values())
    assert any(t.role == "related" for t in rich.tools.values())
    assert not any(t.role in ("near_miss", "related") for t in base.tools.values())
    assert all("enum" not in p.schema for t in base.tools.values() if t.role == "lookup" for p in t.params)
    listy = _draft({"functional": 1, "parameters": 0, "types": 2, "toolset": 0})
    assert all(c.arguments.get("fields") for c in listy.calls if listy.tools[c.tool].role == "lookup")


def test_deployed_code_answers_and_refuses():
    levels = {"functional": 1, "parameters": 1, "types": 1, "toolset": 1}
    draft = _draft(levels, scenario="single_hop", hops=1)
    env = deploy(WORLD, draft, random.Random(0), {"domain": draft.plan.domain})
    assert validate_environment(env) == []
    call = env.solution[0][0]
    ex = UnsafeInProcessExecutor()
    good = ex.run([ExecRequest.of(call, env.code)])[0]
    assert env.expected[call.name][0].lower() in good.output.lower()
    bad = [ToolCall(name=call.name, arguments={**call.arguments, next(iter(call.arguments)): "Nowhere Land"}),
           ToolCall(name=call.name, arguments={}),
           ToolCall(name=call.name, arguments={**call.arguments, "bogus": 1})]
    for b in bad:
        out = ex.run([ExecRequest.of(b, env.code)])[0].output
        assert out.startswith("Error:") and env.expected[call.name][0] not in out


def test_env_spec_covers_the_config():
    cfg = BuildConfig(levels={"functional": (2, 2), "parameters": (0, 3), "types": (0, 3), "toolset": (0, 3)})
    specs = [env_spec(cfg, i) for i in range(400)]
    assert {s.scenario for s in specs} == {"single_hop", "parallel_single_hop", "multi_hop", "parallel_multi_hop"}
    assert {s.levels["functional"] for s in specs} == {2}
    assert {s.levels["types"] for s in specs} == {0, 1, 2, 3}
    assert all(2 <= s.hops <= 5 for s in specs if s.scenario == "multi_hop")
