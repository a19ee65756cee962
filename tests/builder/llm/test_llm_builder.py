"""The LLM builder over real HTTP, against a scripted OpenAI-compatible server started by the test.

Every fault a model can produce (invalid JSON, schema violations, a broken structure, code that raises,
loops, answers wrongly, leaks, or does not define its tool) ends as a recorded rejection with its stage,
the build goes on, and what is written verifies. Replies are cached (a rerun sends no request), a build
resumes, and the manifest counts rejections and tokens per stage.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from ftrl_fidelity import fidelity
from scripted_llm import LOOPS, RAISES, WRONG, create_llm_app, leaky, no_def, utils_json

from toolgym.builder import BuildConfig
from toolgym.builder.llm import BUILD_ENDPOINT, LLMBuildConfig, build_llm
from toolgym.builder.llm.client import merge_usage
from toolgym.builder.runner import rejects_path
from toolgym.errors import ConfigError
from toolgym.io import read_environments, read_manifest
from toolgym.models import request_key
from toolgym.models.fake_server import ServerThread
from toolgym.verify import verify_environments

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

BROKEN_IDS = json.dumps({"question": "Which city is twinned with Qx00000000?", "answer": "Qx11111111",
                         "subquestions": [{"id": 1, "question": "Which city is twinned with Qx00000000?",
                                           "answer": "Qx11111111", "depends_on": []},
                                          {"id": 3, "question": "And then?", "answer": "Qx22222222",
                                           "depends_on": [1]}]})
NO_PARAMETERS = json.dumps({"tools": [{"subquestion": 1, "name": "twin", "description": "Return the twin city.",
                                       "arguments": {"city": "x"}}]})
#: seed -> (stage, reason) it must be rejected with; None: it must be written
SEEDS = {
    "good-1": None,
    "bad-json": ("decomposition", "invalid JSON"),
    "schema-once": None,  # one schema violation, then a good reply: retried with the error, accepted
    "raises": ("verification", "calls"),
    "schema-always": ("integration", "schema violation"),
    "wrong": ("verification", "solves"),
    "loops": ("verification", "calls"),
    "structure": ("decomposition", "structure"),
    "leaky": ("verification", "perturbed"),
    "no-def": ("deployment", "code"),
    "utils-json": ("verification", "scoping"),
    "scoping-once": None,  # first code that depends on the scoping, then (told the rule) code that does not
    "good-2": None,
    "good-3": None,
    "good-4": None,
}
SCRIPT = {
    "bad-json": {"decompose": ['{"question": "Which city is twinned with Qx1234?", "answer": "Qx']},
    "schema-once": {"document": [NO_PARAMETERS, None]},
    "raises": {"deploy": [RAISES]},
    "schema-always": {"integrate": ['{"tools": "one big tool", "calls": []}']},
    "wrong": {"deploy": [WRONG]},
    "loops": {"deploy": [RAISES, LOOPS]},  # the last reply decides the recorded reason
    "structure": {"decompose": [BROKEN_IDS]},
    "leaky": {"deploy": [leaky]},
    "no-def": {"deploy": [no_def]},
    "utils-json": {"deploy": [utils_json]},
    "scoping-once": {"deploy": [utils_json, None]},
}
N = 6


def config(url, **kw):
    base = BuildConfig(seed=11, hops=(2, 3), width=(2, 3), test_per_scenario=1)
    endpoint = replace(BUILD_ENDPOINT, base_urls=url, model="scripted", backoff_s=0.01, concurrency=4)
    return LLMBuildConfig(endpoint, base=base, seeds=tuple(SEEDS), attempts=2, tool_timeout_s=1.0, **kw)


@pytest.fixture(scope="module")
def built(pool, tmp_path_factory):
    out = tmp_path_factory.mktemp("llm") / "envs.jsonl"
    app = create_llm_app(SCRIPT, status_500=(2, 3), status_429=(7,))
    with ServerThread(app) as url:
        report = build_llm(config(url), out, N, executor=pool)
    return out, report, app


def _rejects(out):
    return [json.loads(x) for x in rejects_path(out).read_text().splitlines()]


def test_every_fault_is_a_recorded_rejection_and_the_build_goes_on(built):
    out, report, _ = built
    assert report.written == N
    seeds = list(SEEDS)
    rejects = _rejects(out)
    got = {seeds[r["index"] % len(seeds)]: (r["stage"], r["reason"]) for r in rejects}
    assert got == {s: want for s, want in SEEDS.items() if want is not None}
    assert all(r["detail"] for r in rejects)
    loop = next(r for r in rejects if seeds[r["index"]] == "loops")
    assert "timed out" in loop["detail"]
    written = {seeds[e.metadata.extra["index"] % len(seeds)] for e in read_environments(out)}
    assert written == {s for s, want in SEEDS.items() if want is None}


def test_written_environments_verify_and_say_where_they_come_from(built, pool):
    out, _, _ = built
    envs = list(read_environments(out))
    results = verify_environments(envs, pool, probes=True)
    assert [r.status for r in results] == ["pass"] * N
    assert {e.scenario for e in envs} >= {"multi_hop", "parallel_multi_hop"}
    for e in envs:
        assert e.metadata.builder == "llm" and e.metadata.model == "scripted"
        assert e.metadata.data_source == f"toolgym/llm/{e.scenario}"
        assert e.metadata.extra["seed_text"] in SEEDS and set(e.metadata.complexity) == {
            "functional", "parameters", "types", "toolset"}
        hops = max(len(e.solution), 1)
        assert e.metadata.extra["hops"] == hops
        if e.metadata.complexity["toolset"] >= 1:
            assert len(e.tools) > len({c.name for c in e.solution_calls})
    assert [e.metadata.split for e in envs].count("test") == len({e.scenario for e in envs})


def test_written_environments_run_under_the_papers_executor(built, pool):
    """Call for call, the oracle of the paper's call_function gives what the sandbox gives, and the paper's
    reward solves every expected item on each gold path. The scripted model keeps its tables at the top
    level, as models do: the builder wrapped that code, and says so."""
    out, _, _ = built
    envs = list(read_environments(out))
    report = fidelity(envs, pool)
    assert report.ok and report.calls >= 6 * len(envs), (report.summary(), report.differ[:2], report.unsolved[:2])
    for e in envs:
        assert sorted(e.metadata.extra["scoping_repaired"]) == sorted(e.code)
        assert all(src.startswith("def _tool_scope():\n") for src in e.code.values())


def test_code_that_depends_on_the_scoping_is_rejected_with_the_rule(built):
    out, _, app = built
    retry = [x for x in app.state.log if x["seed"] == "scoping-once" and x["stage"] == "deploy" and x["attempt"] == 1]
    assert retry and "under the paper's executor" in retry[0]["last"]
    assert "exec(source) inside a function" in retry[0]["last"]
    seeds = list(SEEDS)
    detail = next(r["detail"] for r in _rejects(out) if seeds[r["index"] % len(seeds)] == "utils-json")
    assert "name 'json' is not defined" in detail and "paper's executor" in detail


def test_an_invalid_reply_is_retried_with_the_validation_error(built):
    _, _, app = built
    retry = [x for x in app.state.log if x["seed"] == "schema-once" and x["stage"] == "document" and x["attempt"] == 1]
    assert retry, "the rejected reply was not retried"
    assert "not accepted" in retry[0]["last"] and "'parameters' is a required property" in retry[0]["last"]
    # the retry carries the whole conversation: the rejected reply is the assistant's last turn
    assert retry[0]["body"]["messages"][-2] == {"role": "assistant", "content": NO_PARAMETERS}


def test_manifest_counts_rejections_and_tokens_per_stage(built):
    out, _, _ = built
    m = read_manifest(out)
    assert m["status"] == "complete" and m["config"]["builder"] == "llm"
    stats = m["stats"]
    rejects = _rejects(out)
    assert stats["rejected"] == len(rejects)
    assert stats["rejections"]["by_stage"] == {"decomposition": 2, "integration": 1, "deployment": 1,
                                               "verification": 5}
    assert stats["rejections"]["by_kind"] == {"invalid_reply": 4, "verification": 5}  # typed, beside the stage
    assert {r["kind"] for r in rejects if r["stage"] == "verification"} == {"verification"}
    usage = m["llm"]["usage"]
    assert set(usage) == {"decomposition", "documentation", "integration", "scaling", "deployment"}
    assert all(u["requests"] > 0 and u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 for u in usage.values())
    assert sum(u["http_retries"] for u in usage.values()) == 3 and all(u["failures"] == 0 for u in usage.values())
    assert usage["documentation"]["invalid_replies"] >= 1 and usage["deployment"]["invalid_replies"] >= 10
    assert m["last_run"]["usage"] == usage


def test_requests_carry_a_seed_per_environment_stage_and_attempt(built):
    _, _, app = built
    seeds = [x["body"]["seed"] for x in app.state.log]
    assert len(set(seeds)) == len(seeds)
    assert all(x["body"]["model"] == "scripted" and "response_format" not in x["body"] for x in app.state.log)


def test_the_cache_key_is_the_request_as_sent(built):
    out, _, app = built
    stored = {p.stem for p in Path(str(out) + ".llm-cache").rglob("*.json")}
    assert {request_key(x["body"]) for x in app.state.log} <= stored


def test_a_rerun_is_served_from_the_cache(built, pool, tmp_path):
    out, _, app = built
    before = app.state.requests
    with ServerThread(app) as url:
        again = tmp_path / "again.jsonl"
        report = build_llm(config(url, cache_dir=str(out) + ".llm-cache"), again, N, executor=pool)
    sent = [(x["stage"], x["seed"], x["attempt"], x["last"][:300]) for x in app.state.log[before - 3:]]
    assert app.state.requests == before, f"the rerun sent requests: {sent}"
    assert report.written == N and again.read_bytes() == out.read_bytes()
    m = read_manifest(again)
    assert m["last_run"]["cache_hits"] > 0
    assert all(u["requests"] == 0 and u["cache_hits"] > 0 for u in m["last_run"]["usage"].values())


def test_resume_continues_an_interrupted_build(built, pool, tmp_path):
    out, _, _ = built
    app = create_llm_app(SCRIPT)
    part = tmp_path / "part.jsonl"
    runs = []
    with ServerThread(app) as url:
        for n in (2, N, N):
            runs.append((build_llm(config(url), part, n, executor=pool), read_manifest(part)["last_run"]["usage"]))
    assert [r.new for r, _ in runs] == [2, N - 2, 0]
    assert part.read_bytes() == out.read_bytes()
    assert rejects_path(part).read_bytes() == rejects_path(out).read_bytes()
    assert runs[2][1] == {}  # nothing left to do: no request
    assert read_manifest(part)["llm"]["usage"] == merge_usage(*(u for _, u in runs))


def test_other_prompts_do_not_append_to_an_existing_build(built, tmp_path):
    out, _, _ = built
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "system.md").write_text("You write tool-use environments. Reply with JSON only.")
    with pytest.raises(ConfigError, match="--overwrite"):
        build_llm(config("http://127.0.0.1:9/v1", prompts_dir=str(folder)), out, N)


def _refusing_app(status):
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat():
        return JSONResponse({"error": {"message": "no"}}, status_code=status)

    return app


@pytest.mark.parametrize("status,match", [(401, "--llm-model"), (503, "in a row")])
def test_a_broken_setup_stops_the_build_with_the_fix(pool, tmp_path, status, match):
    with ServerThread(_refusing_app(status)) as url:
        cfg = LLMBuildConfig(replace(BUILD_ENDPOINT, base_urls=url, model="m", max_retries=1, backoff_s=0.001,
                                     fail_limit=3),
                             seeds=("anything",))
        with pytest.raises(ConfigError, match=match):
            build_llm(cfg, tmp_path / "x.jsonl", 3, executor=pool)
    m = read_manifest(tmp_path / "x.jsonl")  # written all the same, with what the run spent
    assert m["status"] == "running" and m["stats"]["written"] == 0
    if status == 503:
        assert m["llm"]["usage"]["decomposition"]["failures"] >= 2


def test_a_model_that_never_succeeds_stops_at_the_budget(pool, tmp_path):
    with ServerThread(create_llm_app(SCRIPT)) as url:
        cfg = LLMBuildConfig(replace(BUILD_ENDPOINT, base_urls=url, model="m"), seeds=("bad-json",), attempts=2,
                             budget=4)
        report = build_llm(cfg, tmp_path / "x.jsonl", 2, executor=pool)
    assert report.written == 0 and len(_rejects(tmp_path / "x.jsonl")) == 4
    m = read_manifest(tmp_path / "x.jsonl")
    assert m["status"] == "running" and m["last_run"]["stopped"] == "budget: tried 4 indices"
    assert m["llm"]["usage"]["decomposition"] == {**m["llm"]["usage"]["decomposition"], "requests": 8,
                                                  "invalid_replies": 8}
