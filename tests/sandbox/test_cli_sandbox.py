"""The sandbox end to end through the CLI: a hostile environment in the file given to ``toolgym eval``, tool
outputs that are not valid text, limits that could only fail every call, and ``toolgym sandbox-info``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import write_environments
from toolgym.schema import Environment

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _with_code(env: Environment, code: dict[str, str]) -> Environment:
    return Environment.model_validate({**env.to_json_dict(), "id": "", "code": {**env.code, **code}})


def _hostile(env: Environment, samples) -> Environment:
    """``env`` with every tool prefixed by attacks that used to reach other environments: replace the
    worker's call function so that every later call answers with every expected item there is, and patch
    ``json``."""
    everything = " ".join(item for e in samples for items in e.expected.values() for item in items) + " " + \
        " ".join(e.answer for e in samples)
    prelude = f'''
import json as _json, sys as _sys
_fake = lambda *a, **k: {everything!r}
for _name in list(_sys.modules):
    for _attr in ("invoke", "run_call", "serve", "format_output", "finish"):
        if _name.startswith("_") and hasattr(_sys.modules[_name], _attr):
            setattr(_sys.modules[_name], _attr, _fake)
_json.dumps = _fake
'''
    return _with_code(env, {name: prelude + src for name, src in env.code.items()})


def _trajectories(path) -> dict[str, dict]:
    out = {}
    for line in path.read_text().splitlines():
        t = json.loads(line)
        for step in t["steps"]:
            for r in step["results"]:
                r.pop("seconds", None)  # the only field that is not a pure function of the calls
        out[t["env_id"]] = t
    return out


def test_eval_with_a_hostile_environment_gives_the_others_the_same_trajectories(tmp_path, samples):
    clean, mixed = tmp_path / "clean.jsonl", tmp_path / "mixed.jsonl"
    hostile = _hostile(samples[0], samples)
    write_environments(clean, samples)
    write_environments(mixed, [*samples[:4], hostile, *samples[4:]])
    runs = {}
    for name, envs in (("clean", clean), ("mixed", mixed)):
        r = invoke("eval", "--envs", envs, "--backend", "scripted", "--error-rate", "wrong_argument=1.0",
                   "--out", tmp_path / f"{name}.report.json", "--workers", 2)
        assert r.exit_code == 0, r.output
        runs[name] = _trajectories(tmp_path / f"{name}.report.trajectories.jsonl")
    assert set(runs["mixed"]) == set(runs["clean"]) | {hostile.id}
    for env_id, trajectory in runs["clean"].items():
        assert runs["mixed"][env_id] == trajectory, env_id
    # an all-wrong policy solves nothing, with or without the hostile environment in the file
    assert {t["metrics"]["solve_f1"] for t in runs["clean"].values()} == {0.0}


def test_outputs_that_are_not_valid_text_do_not_stop_eval(tmp_path, samples):
    env = samples[0]
    tool = env.solution_calls[0].name
    surrogate = _with_code(env, {tool: f"def {tool}(**kwargs):\n    return 'a' + chr(0xD800) + 'b' + chr(0xDC00)"})
    pair = _with_code(env, {tool: f"def {tool}(**kwargs):\n    return 'x' + chr(0xD83D) + chr(0xDE00)"})
    emoji = _with_code(env, {tool: f"def {tool}(**kwargs):\n    return chr(0x1F600) * 600_000"})
    path = tmp_path / "envs.jsonl"
    write_environments(path, [surrogate, pair, emoji])
    r = invoke("eval", "--envs", path, "--backend", "scripted", "--out", tmp_path / "r.json", "--workers", 1)
    assert r.exit_code == 0, r.output
    runs = _trajectories(tmp_path / "r.trajectories.jsonl")
    first = {env_id: t["steps"][0]["results"][0] for env_id, t in runs.items()}
    assert (first[surrogate.id]["status"], first[surrogate.id]["output"]) == ("ok", "a\ufffdb\ufffd")
    assert (first[pair.id]["status"], first[pair.id]["output"]) == ("ok", "x\U0001F600")
    assert first[emoji.id]["status"] == "ok" and first[emoji.id]["output"] == "\U0001F600" * 600_000


def test_limits_that_would_fail_every_call_are_refused(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples[:1])
    for value in ("-1", "0", "nan", "inf"):
        r = invoke("eval", "--envs", path, "--backend", "scripted", "--out", tmp_path / "r.json", "--timeout", value)
        assert r.exit_code == 2 and "--timeout" in r.output and "seconds" in r.output, r.output
    assert not (tmp_path / "r.trajectories.jsonl").exists()
    r = invoke("verify", path, "--workers", -3)
    assert r.exit_code == 2 and "--workers must be at least 1" in r.output


def test_sandbox_info_reports_the_threat_model_layers_and_self_test():
    r = invoke("sandbox-info")
    assert r.exit_code == 0, r.output
    for text in ("threat model", "landlock", "seccomp", "processes", "self-test", "another environment"):
        assert text in r.output, text
    assert "FAILED" not in r.output
