"""Contract test: hundreds of built environments across every scenario and level all verify, probes included,
and all are valid records; a leaky tool is caught by the probes."""

from collections import Counter

import pytest

from toolgym.builder import BuildConfig, build_candidate, build_shard
from toolgym.builder.pipeline import Rejection, world_for
from toolgym.schema import SCENARIOS, Environment, validate_environment, wrap_tool
from toolgym.verify import verify_environments


@pytest.fixture(scope="module")
def built(pool):
    """What the builder writes for 400 indices (verified), and its rejections."""
    result = build_shard(BuildConfig(seed=3), 0, 400, pool)
    return [Environment.model_validate_json(line) for _, _, line in result.lines], result.rejections


def test_candidates_mostly_pass_and_rejections_say_why():
    config = BuildConfig(seed=3)
    made = [build_candidate(world_for(config), config, i) for i in range(200)]
    rejected = [m for m in made if isinstance(m, Rejection)]
    assert len(rejected) <= 10
    assert all(r.stage in ("decomposition", "deployment") and r.reason and r.detail for r in rejected)


def test_every_built_environment_verifies_with_probes(built, pool):
    envs, rejected = built
    assert len(envs) >= 380 and len(rejected) <= 20
    assert all(r.stage in ("decomposition", "deployment", "verification") for r in rejected)
    assert {e.scenario for e in envs} == set(SCENARIOS)
    for strategy in ("functional", "parameters", "types", "toolset"):
        assert {e.metadata.complexity[strategy] for e in envs} == {0, 1, 2, 3}
    results = verify_environments(envs, pool, probes=True)
    failures = [(r.env_id, r.reason) for r in results if r.status != "pass"]
    assert failures == []
    assert all(any(c.name == "probes" for c in r.checks) for r in results)
    for env in envs:
        assert validate_environment(env) == []


def test_environments_are_shaped_like_their_scenario(built):
    envs, _ = built
    for env in envs:
        hops, width = env.metadata.extra["hops"], env.metadata.extra["width"]
        if env.scenario == "single_hop":
            assert len(env.solution) == 1 and len(env.solution_calls) == 1
        elif env.scenario == "multi_hop":
            assert 2 <= hops <= 5 and width == 1 and all(len(t) == 1 for t in env.solution)
        elif env.scenario == "parallel_single_hop":
            assert 2 <= width <= 4 and len(env.solution[0]) == width
        else:
            assert 2 <= width <= 4 and hops >= 2
        assert env.needed == len(env.solution_calls)


def test_names_are_invented_and_tools_are_varied(built):
    envs, _ = built
    names = Counter(t for e in envs for t in e.tool_names)
    assert len(names) > 300
    assert not any("Paris" in e.question or "France" in e.question for e in envs)


def test_real_world_builds_verified_environments(pool):
    config = BuildConfig(world="real", scenarios={"single_hop": 1, "multi_hop": 1}, hops=(2, 3))
    result = build_shard(config, 0, 60, pool)
    assert len(result.lines) >= 30
    assert any("Paris" in line or "Tokyo" in line or "euro" in line for _, _, line in result.lines)


def test_probes_catch_a_tool_that_answers_wildcards(pool):
    leaky = ("def get_pop(city):\n"
             "    D = {'orlay': 904311, 'brunmark': 300028}\n"
             "    if city in ('*', 'all'):\n"
             "        return D\n"
             "    return D.get(city.lower(), 'Error: unknown city')\n")
    leaky_listing = "def list_cities(country):\n    return 'Orlay (904311), Brunmark (300028)'\n"
    tools = [wrap_tool({"name": "get_pop", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}),
             wrap_tool({"name": "list_cities", "parameters": {"type": "object", "properties": {
                 "country": {"type": "string"}}, "required": ["country"]}})]
    env = Environment(question="How many people live in Orlay?", tools=tools,
                      code={"get_pop": leaky, "list_cities": leaky_listing}, expected={"get_pop": ["904311"]},
                      answer="904311", solution=[[{"name": "get_pop", "arguments": {"city": "Orlay"}}]])
    (plain,) = verify_environments([env], pool)
    (probed,) = verify_environments([env], pool, probes=True)
    assert plain.status == "pass"
    assert probed.status == "fail" and "probe" in probed.reason
    kinds = {c.detail.split()[0] for c in probed.checks if c.name == "probes" and not c.ok}
    assert kinds <= {"wildcard", "distractor"}
