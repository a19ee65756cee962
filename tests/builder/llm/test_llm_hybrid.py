"""The hybrid builder over real HTTP: procedural ground truth, the surface rewritten by a scripted LLM.

Rewritten environments verify again (probes included) and stay consistent everywhere (documents, code,
expected answers, gold calls); a rewrite that breaks consistency is refused and recorded, and one that is
fixed after the error is fed back is accepted. A rewrite applied without its checks is caught by the
sandbox.
"""

import json
import re
import zlib

import pytest
from ftrl_fidelity import fidelity
from scripted_llm import create_llm_app, rewrite

from toolgym.builder import BuildConfig, build_candidate, make_world
from toolgym.builder.llm import Invalid, LLMBuildConfig, build_llm
from toolgym.builder.llm.hybrid import Rewrite, apply_rewrite, check_rewrite, keep_list, rewrite_input
from toolgym.builder.runner import rejects_path
from toolgym.io import read_environments, read_manifest
from toolgym.models import Endpoint
from toolgym.models.fake_server import ServerThread
from toolgym.schema import validate_environment
from toolgym.verify import verify_environments

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

BASE = BuildConfig(seed=5, test_per_scenario=0)
N = 24


def bucket(question: str) -> int:
    return zlib.crc32(question.encode()) % 5


def scripted_rewrite(inp, attempt):
    """Bucket 0: a tool name that breaks the code (two tools get one name, or a built-in); 1: the question
    loses what the calls need; 2: first a name the code already uses, then a good rewrite; else good."""
    good = rewrite(inp)
    b = bucket(inp["question"])
    if b == 0:
        if len(good["tools"]) > 1:
            good["tools"][1]["new_name"] = good["tools"][0]["new_name"]
        else:
            good["tools"][0]["new_name"] = "round"
    elif b == 1:
        good["question"] = "Could you tell me the thing I want to know, please?"
    elif b == 2 and attempt == 0:
        good["tools"][0]["new_name"] = "_k" if "_k" in inp["reserved"] else "_date"
    return json.dumps(good)


@pytest.fixture(scope="module")
def built(pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("hybrid") / "envs.jsonl"
    app = create_llm_app({"*": {"rewrite": scripted_rewrite}})
    with ServerThread(app) as url:
        cfg = LLMBuildConfig(Endpoint(model="scripted", base_urls=url, concurrency=4), mode="hybrid", base=BASE,
                             attempts=2)
        report = build_llm(cfg, out, N, executor=pool)
    return out, report, app


def test_consistency_breaking_rewrites_are_rejected_and_fixed_ones_accepted(built):
    out, report, app = built
    assert report.written == N
    world = make_world(BASE.world, BASE.seed)
    rejects = [json.loads(x) for x in rejects_path(out).read_text().splitlines()]
    assert all(r["stage"] in ("rewrite", "decomposition") for r in rejects)
    rewrites = [r for r in rejects if r["stage"] == "rewrite"]
    assert {r["reason"] for r in rewrites} == {"names", "question"}
    for r in rewrites:
        question = build_candidate(world, BASE, r["index"]).question
        assert (bucket(question), r["reason"]) in ((0, "names"), (1, "question"))
    buckets = [bucket(e.question.removeprefix("Please help: ")) for e in read_environments(out)]
    assert set(buckets) <= {2, 3, 4} and 2 in buckets
    told = [x["last"] for x in app.state.log if x["attempt"] == 1]
    assert any("is already used in the tools' code" in t for t in told)  # the collision was fed back


def test_rewritten_environments_verify_and_are_consistent(built, pool):
    out, _, _ = built
    envs = list(read_environments(out))
    assert [r.status for r in verify_environments(envs, pool, probes=True)] == ["pass"] * N
    world = make_world(BASE.world, BASE.seed)
    for env in envs:
        assert validate_environment(env) == []
        original = build_candidate(world, BASE, env.metadata.extra["index"])
        assert original.id == env.metadata.extra["procedural_id"]
        renames = {old: "tg_" + old for old in original.tool_names}
        assert env.tool_names == [renames[n] for n in original.tool_names]
        assert set(env.code) == set(env.tool_names)
        assert env.expected == {renames[k]: v for k, v in original.expected.items()}
        assert [[(c.name, c.arguments) for c in t] for t in env.solution] == [
            [(renames[c.name], c.arguments) for c in t] for t in original.solution]
        assert env.answer == original.answer and env.question == "Please help: " + original.question
        for source in env.code.values():  # no old name is left anywhere in the code
            assert not any(re.search(rf"(?<![\w]){re.escape(old)}(?![\w])", source) for old in original.tool_names)
        assert "Error (rewritten)" in "".join(env.code.values())
        assert env.metadata.builder == "hybrid" and env.metadata.model == "scripted"
        assert env.metadata.complexity == original.metadata.complexity


def test_rewritten_environments_run_under_the_papers_executor(built, pool):
    """Renamed tools and reworded messages still give, call for call, what the paper's call_function gives,
    and the paper's reward solves every expected item on each gold path."""
    out, _, _ = built
    envs = list(read_environments(out))
    report = fidelity(envs, pool)
    assert report.ok and report.calls > 15 * N, (report.summary(), report.differ[:2], report.unsolved[:2])


def test_manifest_counts_the_rewrite_stage(built):
    out, _, _ = built
    m = read_manifest(out)
    assert m["config"]["builder"] == "hybrid"
    assert m["stats"]["rejections"]["by_stage"]["rewrite"] > 0
    usage = m["llm"]["usage"]["rewrite"]
    assert usage["requests"] > N and usage["invalid_replies"] > 0 and usage["prompt_tokens"] > 0


# ---- the checks and the mechanical rewrite, without the server ---------------------------------------------

@pytest.fixture(scope="module")
def env():
    config = BuildConfig(seed=3)
    made = build_candidate(make_world("synthetic", 3), config, 1)
    assert any("_lookup" in s for s in made.code.values())
    return made


def test_a_rewrite_applied_without_its_checks_is_caught_by_the_sandbox(env, pool):
    lookup = next(n for n, s in env.code.items() if "_lookup" in s and n in env.expected)
    data = rewrite(rewrite_input(env))
    for t in data["tools"]:
        if t["name"] == lookup:
            t["new_name"] = "code"  # a local of the paper's call_function: eval("code") is the source text there
    with pytest.raises(Invalid, match="local name of the paper's executor"):
        check_rewrite(env, data)
    forced = Rewrite(env.question, {lookup: "code"}, {})
    broken = apply_rewrite(env, forced, env.metadata.model_dump())
    result = verify_environments([broken], pool, probes=True)[0]
    assert result.status == "fail" and [c.name for c in result.checks if not c.ok] == ["scoping"]
    assert "'str' object is not callable" in result.reason
    fine = apply_rewrite(env, check_rewrite(env, rewrite(rewrite_input(env))), env.metadata.model_dump())
    assert verify_environments([fine], pool, probes=True)[0].status == "pass"


def test_the_question_must_keep_what_the_calls_need(env):
    keep = keep_list(env)
    assert keep and all(k in env.question for k in keep)
    data = rewrite(rewrite_input(env))
    data["question"] = data["question"].replace(keep[0], "that one")
    with pytest.raises(Invalid, match="must still contain"):
        check_rewrite(env, data)


def test_no_new_text_may_carry_an_answer(env):
    answer = next(iter(env.expected.values()))[0]
    for field in ("question", "description", "message"):
        data = rewrite(rewrite_input(env))
        if field == "question":
            data["question"] += f" (it is {answer})"
        elif field == "description":
            data["tools"][0]["description"] += f" For example {answer}."
        else:
            data["error_messages"][0]["new"] += f" Try {answer}."
        with pytest.raises(Invalid) as exc:
            check_rewrite(env, data)
        assert exc.value.reason in ("leak", "messages")


def test_tools_and_parameters_are_checked(env):
    data = rewrite(rewrite_input(env))
    data["tools"] = data["tools"][1:]
    with pytest.raises(Invalid, match="exactly once"):
        check_rewrite(env, data)
    data = rewrite(rewrite_input(env))
    data["tools"][0]["parameters"] = {"no_such_parameter": "x"}
    with pytest.raises(Invalid, match="no parameter"):
        check_rewrite(env, data)
    data = rewrite(rewrite_input(env))
    data["tools"][0]["new_name"] = "class"
    with pytest.raises(Invalid, match="identifier"):
        check_rewrite(env, data)
