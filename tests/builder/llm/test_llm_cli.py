"""``toolgym build --builder llm|hybrid``: the command end to end against a scripted server, the prompts
round trip (export, edit, use), and the option errors."""

import json

import pytest
from scripted_llm import create_llm_app
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import read_environments, read_manifest
from toolgym.models.fake_server import ServerThread
from toolgym.verify import verify_environments

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def _run(*args):
    result = CliRunner().invoke(app, ["build", *map(str, args)])
    return result.exit_code, " ".join(result.output.split())  # rich wraps lines at the terminal's width


def test_llm_build_from_the_command_line_with_edited_prompts(tmp_path, pool):
    code, output = _run("--export-prompts", tmp_path / "prompts")
    assert code == 0 and "wrote 14 prompt files" in output
    system = tmp_path / "prompts" / "system.md"
    system.write_text(system.read_text() + "\nAlways invent names that sound Nordic.\n")
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("good-1\ngood-2\n")
    server = create_llm_app()
    with ServerThread(server) as url:
        args = ["--builder", "llm", "--llm-base-url", url, "--llm-model", "scripted", "--n", 3, "--seeds", seeds,
                "--prompts", tmp_path / "prompts", "--out", tmp_path / "envs.jsonl", "--test-per-scenario", 0,
                "--scenarios", "multi_hop", "--hops", "2-3", "--llm-json-mode", "object", "--llm-attempts", 2]
        code, output = _run(*args)
        assert code == 0, output
        asked = server.state.requests
        again_code, again = _run(*args)
    assert "LLM use per stage" in output and "deployment" in output
    assert again_code == 0 and "(0 new" in again and server.state.requests == asked
    envs = list(read_environments(tmp_path / "envs.jsonl"))
    assert len(envs) == 3 and {e.scenario for e in envs} == {"multi_hop"}
    assert [r.status for r in verify_environments(envs, pool, probes=True)] == ["pass"] * 3
    bodies = [x["body"] for x in server.state.log]
    assert all(b["messages"][0]["content"].endswith("sound Nordic.") for b in bodies)
    assert all(b["response_format"] == {"type": "json_object"} for b in bodies)
    assert read_manifest(tmp_path / "envs.jsonl")["config"]["llm"]["json_mode"] == "object"


def test_hybrid_build_from_the_command_line(tmp_path):
    server = create_llm_app()
    with ServerThread(server) as url:
        code, output = _run("--builder", "hybrid", "--llm-base-url", url, "--llm-model", "scripted", "--n", 4,
                            "--out", tmp_path / "h.jsonl", "--domains", "geography,culture", "--test-per-scenario", 0)
    assert code == 0, output
    envs = list(read_environments(tmp_path / "h.jsonl"))
    assert len(envs) == 4 and all(e.metadata.builder == "hybrid" and e.metadata.domain in ("geography", "culture")
                                  for e in envs)
    assert json.loads((tmp_path / "h.jsonl.manifest.json").read_text())["llm"]["usage"]["rewrite"]["requests"] >= 4


@pytest.mark.parametrize("args,message", [
    (["--builder", "llm"], "--llm-model"),
    (["--builder", "llm", "--llm-model", "m", "--ray", "local"], "--ray"),
    (["--builder", "procedural", "--llm-model", "m"], "--builder llm"),
    (["--builder", "hybrid", "--llm-model", "m", "--domains", "astrology"], "--domains"),
    (["--builder", "llm", "--llm-model", "m", "--seeds", "/no/such/file"], "--seeds"),
    (["--builder", "magic"], "unknown builder"),
])
def test_option_errors_say_how_to_fix_them(tmp_path, args, message):
    code, output = _run(*args, "--out", tmp_path / "x.jsonl")
    assert code == 2 and message in output


def test_a_broken_prompt_stops_before_any_request(tmp_path):
    _run("--export-prompts", tmp_path / "p")
    (tmp_path / "p" / "deploy.md").write_text("Write code for $tools.")
    code, output = _run("--builder", "llm", "--llm-model", "m", "--llm-base-url", "http://127.0.0.1:9/v1",
                        "--prompts", tmp_path / "p", "--out", tmp_path / "x.jsonl")
    assert code == 2 and "deploy.md uses $tools" in output
    assert _run("--out", tmp_path / "y.jsonl", "--n", 5)[0] == 0  # the procedural builder is unchanged
