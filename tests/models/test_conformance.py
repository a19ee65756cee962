"""One conformance suite for the Backend protocol: the same checks over every backend that can run here.

Each backend is made the way users make it (``make_backend(BackendConfig(...))``): the scripted baseline,
the OpenAI backend against the fake server over real HTTP, the transformers backend on a tiny model saved
to a folder by the test, vLLM where it is installed, and the reply cache in front of the first two. A new
backend proves itself by being added to ``KINDS``.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from toolgym.models import (
    BACKENDS,
    Backend,
    BackendConfig,
    CachedBackend,
    Endpoint,
    Generation,
    GenerationRequest,
    ReplyCache,
    Sampling,
    make_backend,
)
from toolgym.rollout import RolloutConfig, rollout

#: kind -> whether its replies follow the environment (so the order of a batch can be checked by content)
KINDS = {"scripted": True, "openai": True, "transformers": False, "vllm": False, "cached-scripted": True,
         "cached-openai": True}


@pytest.fixture(scope="module")
def server(samples):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from toolgym.models.fake_server import ServerThread, create_app

    with ServerThread(create_app(samples)) as url:
        yield url


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model", chatty=False)


def _make(kind: str, request, tmp_path) -> Backend:
    if kind == "scripted":
        return make_backend(BackendConfig("scripted"))
    if kind == "openai":
        return make_backend(BackendConfig("openai", Endpoint(model="fake", base_urls=request.getfixturevalue("server"))))
    if kind == "transformers":
        path = request.getfixturevalue("tiny_model_dir")
        return make_backend(BackendConfig("transformers", Endpoint(model=str(path)), Sampling(max_tokens=8),
                                          options={"device": "cpu", "dtype": "float32"}))
    if kind == "vllm":
        pytest.importorskip("vllm")
        if not pytest.importorskip("torch").cuda.is_available():
            pytest.skip("vLLM's engine needs a GPU")
        path = request.getfixturevalue("tiny_model_dir")  # pragma: no cover - GPU machines
        return make_backend(BackendConfig("vllm", Endpoint(model=str(path)), Sampling(max_tokens=8),
                                          options={"enforce_eager": True, "gpu_memory_utilization": 0.2}))
    inner = _make(kind.removeprefix("cached-"), request, tmp_path)
    return CachedBackend(inner, ReplyCache(tmp_path / "cache"))


@pytest.fixture(params=list(KINDS))
def backend(request, tmp_path):
    b = _make(request.param, request, tmp_path)
    yield b
    asyncio.run(b.aclose())


def _requests(envs, episode_prefix="e"):
    return [GenerationRequest(messages=[{"role": "user", "content": e.question}], tools=e.tools,
                              episode=f"{episode_prefix}{i}", turn=0, env=e) for i, e in enumerate(envs)]


def _gen(backend, requests):
    return asyncio.run(backend.generate(requests))


def test_it_is_a_backend_with_a_name_and_a_model(backend):
    assert isinstance(backend, Backend)
    assert backend.name in BACKENDS and isinstance(backend.model, str) and backend.model


def test_an_empty_batch_gives_an_empty_list(backend):
    assert _gen(backend, []) == []


def test_one_generation_per_request_in_order(backend, samples, request):
    reqs = _requests(samples[:4])
    gens = _gen(backend, reqs)
    assert len(gens) == len(reqs)
    for gen in gens:
        assert isinstance(gen, Generation) and gen.error is None
        assert isinstance(gen.text, str) or isinstance(gen.message, dict)
        assert all(isinstance(v, int) and v >= 0 for v in gen.usage.values())
        assert gen.retries >= 0 and isinstance(gen.finish_reason, str)
    if KINDS[request.node.callspec.params["backend"]]:
        # each reply answers its own request: the gold solution's first call of that environment
        for gen, env in zip(gens, samples[:4]):
            assert env.solution[0][0].name in json.dumps(gen.message or gen.text)


def _content(gen: Generation):
    """What a reply says (the ids a server gives native tool calls differ from reply to reply)."""
    calls = [c["function"] for c in (gen.message or {}).get("tool_calls") or []]
    return gen.text, calls


def test_the_same_request_gets_the_same_greedy_reply_in_every_event_loop(backend, samples):
    [req] = _requests(samples[:1])
    first, again = _gen(backend, [req]), _gen(backend, [req])  # two asyncio.run: two event loops
    assert _content(first[0]) == _content(again[0])


def test_many_concurrent_callers_each_get_their_reply(backend, samples):
    reqs = _requests(samples, "c")

    async def each():
        return await asyncio.gather(*(backend.generate([r]) for r in reqs))

    out = asyncio.run(each())
    assert [len(g) for g in out] == [1] * len(reqs) and all(g[0].error is None for g in out)


def test_forgetting_an_episode_is_safe(backend, samples):
    forget = getattr(backend, "forget", None)
    if forget is None:
        return
    _gen(backend, _requests(samples[:1], "f"))
    forget("f0")
    forget("never-seen")


def test_whole_episodes_are_rolled_out_and_scored(backend, samples, pool, tmp_path):
    out = tmp_path / "t.jsonl"
    summary = rollout(samples[:4], backend, out, config=RolloutConfig(samples=2, concurrency=4), executor=pool)
    assert summary.written == 8 and summary.failed == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {(r["env_id"], r["sample"]) for r in rows} == {(e.id, s) for e in samples[:4] for s in range(2)}
    assert all(r["steps"] and all(isinstance(s["reward"], float) for s in r["steps"]) for r in rows)
    assert all(r["model"] == backend.model for r in rows)
