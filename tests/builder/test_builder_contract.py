"""The contract every registered builder keeps, Gymnasium-style: each one (procedural, LLM, hybrid; the LLM
ones against the scripted OpenAI-compatible server) is made by name through ``BUILDERS``, is a ``Builder``,
writes through the one sink, and every environment it writes passes the episode checker ``check_env``.
A builder added to the registry is held to the same suite without a change here (only its options)."""

from dataclasses import replace

import pytest

from toolgym.builder import BUILDERS, BuildConfig, Builder, make_builder, rejects_path, run_build
from toolgym.errors import ConfigError
from toolgym.io import read_environments, read_manifest
from toolgym.rollout import check_env

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

N = 6
CONFIG = BuildConfig(seed=4, hops=(2, 3), width=(2, 3), test_per_scenario=1)


def _options(name: str, url: str | None, pool) -> dict:
    """A builder's own options for this suite: the LLM ones talk to the scripted server."""
    if name == "procedural":
        return {"workers": 1}
    from toolgym.builder.llm import BUILD_ENDPOINT

    endpoint = replace(BUILD_ENDPOINT, base_urls=url, model="scripted", backoff_s=0.01, concurrency=4)
    return {"endpoint": endpoint, "attempts": 2, "tool_timeout_s": 1.0, "executor": pool}


@pytest.fixture(scope="module")
def server():
    from scripted_llm import create_llm_app

    from toolgym.models.fake_server import ServerThread

    with ServerThread(create_llm_app()) as url:
        yield url


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def built(request, server, pool, tmp_path_factory):
    name = request.param
    builder = make_builder(name, CONFIG, **_options(name, server, pool))
    out = tmp_path_factory.mktemp(name) / "envs.jsonl"
    report = run_build(builder, out, N)
    return name, builder, out, report


def test_a_registered_builder_is_a_builder_writing_through_the_sink(built):
    name, builder, out, report = built
    assert isinstance(builder, Builder) and builder.name == name and builder.config == CONFIG
    envs = list(read_environments(out))
    assert report.written == len(envs) == N and report.new == N
    m = read_manifest(out)
    assert m["kind"] == "build" and m["status"] == "complete" and m["config"] == builder.identity()
    assert m["stats"]["written"] == N and m["stats"]["rejected"] == len(rejects_path(out).read_text().splitlines())
    indices = [e.metadata.extra["index"] for e in envs]
    assert indices == sorted(indices)  # one ordered sink
    assert sum(e.metadata.split == "test" for e in envs) == len({e.scenario for e in envs})  # 1 per scenario
    assert {e.metadata.builder for e in envs} == {name}


def test_every_environment_a_builder_writes_passes_check_env(built, pool):
    _, _, out, _ = built
    for env in read_environments(out):
        check_env(env, pool)


def test_a_rerun_resumes_and_another_identity_is_refused(built, server, pool):
    name, _, out, _ = built
    before = out.read_bytes()
    again = run_build(make_builder(name, CONFIG, **_options(name, server, pool)), out, N)
    assert again.new == 0 and again.written == N and out.read_bytes() == before
    with pytest.raises(ConfigError, match="seed: 4 -> 5.*--overwrite"):
        run_build(make_builder(name, replace(CONFIG, seed=5), **_options(name, server, pool)), out, N)


def test_an_unknown_builder_names_the_flag():
    with pytest.raises(ConfigError, match="unknown builder 'magic'; use --builder with one of procedural"):
        make_builder("magic", CONFIG)
