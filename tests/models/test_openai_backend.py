"""The OpenAI-compatible backend over real HTTP, against a local server started by the test."""

import json

import pytest

from toolgym.models import ErrorRates, GenerationRequest, make_backend
from toolgym.models.fake_server import Faults, ServerThread, create_app
from toolgym.rollout import RolloutConfig, rollout

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_native_tool_calls_round_trip(pool, samples, tmp_path):
    with ServerThread(create_app(samples)) as url:
        backend = make_backend("openai", model="fake-model", base_urls=url)
        summary = rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(samples=2), executor=pool)
    assert summary.written == 16 and summary.failed == 0
    rows = _rows(tmp_path / "t.jsonl")
    assert all(r["metrics"]["solve_f1"] == 1.0 and r["metrics"]["answer_correct"] for r in rows)
    assert all(r["model"] == "fake-model" for r in rows)
    assert summary.usage["requests"] == 2 * sum(len(e.solution) + 1 for e in samples)
    assert summary.usage["prompt_tokens"] > 0 and summary.usage["completion_tokens"] > 0


def test_calls_written_in_the_text_are_parsed_too(pool, samples, tmp_path):
    with ServerThread(create_app(samples, native=False)) as url:
        summary = rollout(samples, make_backend("openai", model="m", base_urls=url), tmp_path / "t.jsonl",
                          executor=pool)
    assert summary.mean_f1 == 1.0


def test_broken_calls_retries_and_failures(pool, samples, tmp_path):
    faults = Faults(status_500_every=5, status_429_every=7, broken_arguments_every=3,
                    always_fail={samples[0].question})
    app = create_app(samples, errors=ErrorRates(wrong_tool=0.2, malformed_call=0.2), faults=faults, seed=4)
    with ServerThread(app) as url:
        backend = make_backend("openai", model="m", base_urls=[url], backoff_s=0.001, max_retries=4)
        summary = rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(samples=3), executor=pool)
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
        backend = make_backend("openai", model="m", base_urls=[a, b], concurrency=16)
        rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(samples=4), executor=pool)
    served = [app.state.requests for app in apps]
    assert sum(served) == 4 * sum(len(e.solution) + 1 for e in samples)
    assert min(served) > 0.3 * sum(served)


def test_a_dead_server_fails_each_episode_cleanly(pool, samples, tmp_path):
    backend = make_backend("openai", model="m", base_urls="http://127.0.0.1:9/v1", max_retries=1, backoff_s=0.001,
                           timeout_s=2)
    summary = rollout(samples[:2], backend, tmp_path / "t.jsonl", executor=pool)
    assert summary.failed == 2 and all("Connection" in r["error"] for r in _rows(tmp_path / "t.jsonl"))


async def _one(backend, req):
    return await backend.generate([req])


def test_request_carries_tools_and_only_api_fields(samples):
    import asyncio

    seen = {}
    from fastapi import FastAPI, Request

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        seen.update(await request.json())
        return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}

    msgs = [{"role": "user", "content": "q"},
            {"role": "assistant", "content": "", "reasoning_content": "secret thoughts", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "name": "f", "content": "out"}]
    with ServerThread(app) as url:
        backend = make_backend("openai", model="m", base_urls=url, temperature=0.7, max_tokens=33)
        gen = asyncio.run(_one(backend, GenerationRequest(messages=msgs, tools=samples[0].tools)))[0]
    assert gen.text == "hi" and gen.message["content"] == "hi"
    assert seen["tools"] == samples[0].tools and seen["temperature"] == 0.7 and seen["max_tokens"] == 33
    assert "reasoning_content" not in seen["messages"][1] and "name" not in seen["messages"][2]
