"""The OpenAI-compatible backend over real HTTP, against a local server started by the test."""

import asyncio
import json

import pytest

from toolgym.errors import ConfigError
from toolgym.models import BackendConfig, Endpoint, ErrorRates, GenerationRequest, Sampling, make_backend
from toolgym.models.fake_server import Faults, ServerThread, create_app
from toolgym.rollout import EpisodeConfig, RolloutConfig, rollout

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def openai(urls, model="m", sampling=None, **endpoint):
    return make_backend(BackendConfig("openai", Endpoint(model=model, base_urls=urls, **endpoint),
                                      sampling or Sampling()))


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_native_tool_calls_round_trip(pool, samples, tmp_path):
    with ServerThread(create_app(samples)) as url:
        backend = openai(url, model="fake-model")
        summary = rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(samples=2), executor=pool)
    assert summary.written == 16 and summary.failed == 0
    rows = _rows(tmp_path / "t.jsonl")
    assert all(r["metrics"]["solve_f1"] == 1.0 and r["metrics"]["answer_correct"] for r in rows)
    assert all(r["model"] == "fake-model" for r in rows)
    assert summary.usage["requests"] == 2 * sum(len(e.solution) + 1 for e in samples)
    assert summary.usage["prompt_tokens"] > 0 and summary.usage["completion_tokens"] > 0


def test_calls_written_in_the_text_are_parsed_too(pool, samples, tmp_path):
    with ServerThread(create_app(samples, native=False)) as url:
        summary = rollout(samples, openai(url), tmp_path / "t.jsonl", executor=pool)
    assert summary.mean_f1 == 1.0


def test_broken_calls_retries_and_failures(pool, samples, tmp_path):
    faults = Faults(status_500_every=5, status_429_every=7, broken_arguments_every=3,
                    always_fail={samples[0].question})
    app = create_app(samples, errors=ErrorRates(wrong_tool=0.2, malformed_call=0.2), faults=faults, seed=4)
    with ServerThread(app) as url:
        backend = openai([url], backoff_s=0.001, max_retries=4)
        feedback = EpisodeConfig(malformed="feedback")  # the default ends the episode, as the paper's scripts do
        summary = rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(samples=3, episode=feedback),
                          executor=pool)
    rows = _rows(tmp_path / "t.jsonl")
    assert len(rows) == 24 and summary.written == 24
    failed = [r for r in rows if r["status"] == "failed"]
    # the question that always fails is recorded as failed episodes, with the reason; the run went on
    assert {r["env_id"] for r in failed} == {samples[0].id} and len(failed) == 3
    assert all("500" in r["error"] and "5 attempt(s)" in r["error"] for r in failed)
    assert backend.usage["retries"] > 0
    # malformed native arguments were told to the model and the episode continued
    told = [s for r in rows for s in r["steps"] if s["malformed"]]
    # (native calls with broken JSON leave no text: -0.5; broken calls written in the text: -0.3)
    assert told and all(s["reward"] in (-0.5, -0.3) or s["results"] for s in told)
    assert any(m["role"] == "user" and "could not be read" in m["content"] for r in rows for m in r["messages"])


def test_several_servers_share_the_load(pool, samples, tmp_path):
    apps = [create_app(samples, latency_s=0.02) for _ in range(2)]
    with ServerThread(apps[0]) as a, ServerThread(apps[1]) as b:
        backend = openai([a, b], concurrency=16)
        rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(samples=4), executor=pool)
    served = [app.state.requests for app in apps]
    assert sum(served) == 4 * sum(len(e.solution) + 1 for e in samples)
    assert min(served) > 0.3 * sum(served)


def test_a_dead_server_fails_each_episode_cleanly(pool, samples, tmp_path):
    backend = openai("http://127.0.0.1:9/v1", max_retries=1, backoff_s=0.001, timeout_s=2)
    summary = rollout(samples[:2], backend, tmp_path / "t.jsonl", executor=pool)
    assert summary.failed == 2 and all("Connection" in r["error"] for r in _rows(tmp_path / "t.jsonl"))


def test_a_server_that_stays_dead_stops_the_run_with_the_flag_to_fix(pool, samples, tmp_path):
    backend = openai("http://127.0.0.1:9/v1", max_retries=0, timeout_s=2, fail_limit=3, concurrency=1)
    with pytest.raises(ConfigError, match=r"failed 3 requests in a row .*--base-url"):
        rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(concurrency=1), executor=pool)
    assert len(_rows(tmp_path / "t.jsonl")) == 2  # the first two failed episodes stay recorded


@pytest.mark.parametrize("served,key,want", [
    ("other-model", None, r"HTTP 404.*--model"),
    (None, "the-right-key", r"HTTP 401.*\$TOOLGYM_TEST_KEY"),
])
def test_a_refused_request_stops_the_rollout_with_one_clear_error(pool, samples, tmp_path, monkeypatch, served,
                                                                   key, want):
    monkeypatch.setenv("TOOLGYM_TEST_KEY", "a-wrong-key")
    app = create_app(samples, model=served, api_key=key)
    out = tmp_path / "t.jsonl"
    with ServerThread(app) as url:
        backend = openai(url, api_key_env="TOOLGYM_TEST_KEY", backoff_s=0.001)
        with pytest.raises(ConfigError, match=want) as err:
            rollout(samples, backend, out, config=RolloutConfig(samples=4), executor=pool)
    assert "--base-url" in str(err.value) and backend.usage["retries"] == 0  # never retried
    assert _rows(out) == []  # not 32 failed trajectories


def test_the_api_key_comes_from_the_named_variable(pool, samples, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLGYM_TEST_KEY", "sesame")
    with ServerThread(create_app(samples, model="served", api_key="sesame")) as url:
        summary = rollout(samples[:2], openai(url, model="served", api_key_env="TOOLGYM_TEST_KEY"),
                          tmp_path / "t.jsonl", executor=pool)
    assert summary.written == 2 and summary.failed == 0


async def _one(backend, req):
    try:
        return await backend.generate([req])
    finally:
        await backend.aclose()


def test_request_carries_tools_sampling_seed_extra_fields_and_only_api_fields(samples):
    seen = {}
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        seen.update(await request.json())
        return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "length"}]}

    msgs = [{"role": "user", "content": "q"},
            {"role": "assistant", "content": "", "reasoning_content": "secret thoughts", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "name": "f", "content": "out"}]
    with ServerThread(app) as url:
        backend = openai(url, sampling=Sampling(temperature=0.7, max_tokens=33, thinking=False),
                         extra_body={"chat_template_kwargs": {"custom": 1}, "top_k": 5})
        req = GenerationRequest(messages=msgs, tools=samples[0].tools, seed=42)
        gen = asyncio.run(_one(backend, req))[0]
    assert gen.text == "hi" and gen.message["content"] == "hi" and gen.finish_reason == "length"
    assert seen["tools"] == samples[0].tools and seen["temperature"] == 0.7 and seen["max_tokens"] == 33
    assert seen["seed"] == 42 and seen["top_k"] == 5 and "extra_body" not in seen
    assert seen["chat_template_kwargs"] == {"enable_thinking": False, "custom": 1}
    assert "reasoning_content" not in seen["messages"][1] and "name" not in seen["messages"][2]
    assert backend.body(req) == seen  # the body is the request's identity for a reply cache


def test_endpoint_errors_name_the_flag():
    with pytest.raises(ConfigError, match="--base-url must be an http"):
        Endpoint(model="m", base_urls="localhost:8000")
    with pytest.raises(ConfigError, match="--llm-base-url"):
        Endpoint(model="m", base_urls=["http://a/v1", "b"], flags="llm-")
    with pytest.raises(ConfigError, match="--concurrency"):
        Endpoint(concurrency=0)
    with pytest.raises(ConfigError, match="needs a model: give --model"):
        make_backend(BackendConfig("openai"))
    assert Endpoint().base_urls == Endpoint(base_urls=()).base_urls == Endpoint(base_urls=None).base_urls
    assert Endpoint(base_urls="http://h:1/v1/").base_urls == ("http://h:1/v1",)
