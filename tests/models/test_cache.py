"""The reply cache: content-addressed files on disk, and the decorator that puts them in front of a backend."""

import asyncio
import json

import pytest

from toolgym.errors import ConfigError
from toolgym.models import (
    BackendConfig,
    CachedBackend,
    Endpoint,
    Generation,
    GenerationRequest,
    ReplyCache,
    Sampling,
    make_backend,
    request_key,
)
from toolgym.rollout import RolloutConfig, rollout


def test_the_cache_is_content_addressed(tmp_path):
    cache = ReplyCache(tmp_path)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 1}
    key = request_key(body)
    assert key == request_key(json.loads(json.dumps(body))) != request_key({**body, "seed": 2})
    assert cache.get(key) is None
    cache.put(key, Generation(text="hello", finish_reason="stop", usage={"prompt_tokens": 3, "completion_tokens": 1}))
    got = ReplyCache(tmp_path).get(key)
    assert got == Generation(text="hello", finish_reason="stop", usage={"prompt_tokens": 3, "completion_tokens": 1},
                             cached=True)
    (tmp_path / key[:2] / f"{key}.json").write_text("{not json")
    assert ReplyCache(tmp_path).get(key) is None  # damaged: asked again
    assert ReplyCache(None).get(key) is None
    cache.put("ab" + "0" * 62, Generation(error="timed out"))
    assert not (tmp_path / "ab").exists()  # failures are never cached


def test_a_reply_stored_without_a_message_is_read_back(tmp_path):
    key = "cd" + "1" * 62
    (tmp_path / "cd").mkdir()
    (tmp_path / "cd" / f"{key}.json").write_text(json.dumps({"text": "x", "finish_reason": "length",
                                                              "usage": {"prompt_tokens": 2}}))
    assert ReplyCache(tmp_path).get(key) == Generation(text="x", finish_reason="length", usage={"prompt_tokens": 2},
                                                        cached=True)


def test_a_rerun_through_the_cache_sends_nothing_and_writes_the_same(pool, samples, tmp_path):
    pytest.importorskip("fastapi")
    from toolgym.models.fake_server import ServerThread, create_app

    app = create_app(samples)
    runs = []
    with ServerThread(app) as url:
        for name in ("a", "b"):
            inner = make_backend(BackendConfig("openai", Endpoint(model="m", base_urls=url)))
            backend = CachedBackend(inner, ReplyCache(tmp_path / "cache"))
            before = app.state.requests
            rollout(samples, backend, tmp_path / f"{name}.jsonl", config=RolloutConfig(samples=2), executor=pool)
            runs.append((app.state.requests - before, backend.cache.hits))
    assert runs[0][0] == 2 * sum(len(e.solution) + 1 for e in samples) and runs[0][1] == 0
    assert runs[1] == (0, runs[0][0])  # every request of the rerun was a hit
    a, b = ([json.loads(x) for x in (tmp_path / f"{n}.jsonl").read_text().splitlines()] for n in "ab")
    def content(rows):
        return [(r["messages"], r["metrics"]) for r in sorted(rows, key=lambda r: (r["env_id"], r["sample"]))]

    assert content(a) == content(b)


def test_episodes_sampled_from_one_prompt_do_not_share_a_reply(samples, tmp_path):
    backend = make_backend(BackendConfig("openai", Endpoint(model="m"), Sampling(temperature=1.0)))
    cached = CachedBackend(backend, ReplyCache(tmp_path))
    msgs = [{"role": "user", "content": samples[0].question}]
    keys = {cached.key(GenerationRequest(messages=msgs, tools=samples[0].tools, episode=f"{samples[0].id}#{s}"))
            for s in range(4)}
    assert len(keys) == 4
    other = CachedBackend(make_backend(BackendConfig("openai", Endpoint(model="m"), Sampling(temperature=0.5))),
                          ReplyCache(tmp_path))
    req = GenerationRequest(messages=msgs, tools=samples[0].tools)
    assert cached.key(req) != other.key(req)  # the sampling decides the reply: part of the key
    asyncio.run(backend.aclose())
    asyncio.run(other.aclose())


def test_the_scripted_baseline_is_cached_by_episode_and_error_rates(samples, tmp_path):
    from toolgym.models import ErrorRates

    careless = BackendConfig("scripted", errors=ErrorRates(wrong_argument=0.5))
    req = GenerationRequest(messages=[{"role": "user", "content": samples[0].question}], tools=samples[0].tools,
                            episode="e", env=samples[0])
    a = CachedBackend(make_backend(careless), ReplyCache(tmp_path))
    b = CachedBackend(make_backend(BackendConfig("scripted")), ReplyCache(tmp_path))
    assert a.key(req) != b.key(req)
    first = asyncio.run(a.generate([req]))[0]
    assert not first.cached and asyncio.run(a.generate([req]))[0] == Generation(text=first.text, cached=True)


def test_a_backend_that_keeps_episode_state_is_refused(tiny_model, tokenizer):
    from toolgym.models._local import TransformersBackend

    local = TransformersBackend(tiny_model, tokenizer, device="cpu", max_new_tokens=4)
    with pytest.raises(ConfigError, match="keeps state per episode"):
        CachedBackend(local, ReplyCache(None))
