"""The runner: byte-identical output for any number of workers, resumable, manifest with statistics."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from toolgym.builder import BuildConfig, build
from toolgym.builder.runner import rejects_path
from toolgym.cli import app
from toolgym.errors import ConfigError
from toolgym.io import read_environments, read_manifest

CONFIG = BuildConfig(seed=7, test_per_scenario=5)
N = 300


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "envs.jsonl"
    report = build(CONFIG, out, N, workers=1)
    return out, report


def test_same_output_whatever_the_number_of_workers(reference, tmp_path):
    out, report = reference
    assert report.written == N
    other = tmp_path / "envs.jsonl"
    build(CONFIG, other, N, workers=2)
    assert other.read_bytes() == out.read_bytes()
    assert rejects_path(other).read_bytes() == rejects_path(out).read_bytes()
    assert read_manifest(other)["stats"] == read_manifest(out)["stats"]


def test_manifest_statistics_and_split(reference):
    out, _ = reference
    manifest = read_manifest(out)
    stats = manifest["stats"]
    assert manifest["status"] == "complete" and stats["written"] == N
    assert sum(stats["per_scenario"].values()) == N and stats["per_split"]["test"] == 20
    assert set(stats["per_complexity"]) == {"functional", "parameters", "types", "toolset"}
    assert stats["diversity"]["distinct_tool_names"] > 100 and stats["diversity"]["distinct_question_trigrams"] > 1000
    assert stats["rejected"] == len(rejects_path(out).read_text().splitlines())
    envs = list(read_environments(out))
    assert [e.metadata.extra["index"] for e in envs] == sorted(e.metadata.extra["index"] for e in envs)
    firsts = {}
    for e in envs:
        firsts.setdefault(e.scenario, []).append(e.metadata.split)
    assert all(splits[:5] == ["test"] * 5 and "test" not in splits[5:] for splits in firsts.values())


def test_resume_after_an_interrupted_run_gives_the_same_file(reference, tmp_path):
    out, _ = reference
    partial = tmp_path / "envs.jsonl"
    build(CONFIG, partial, 120, workers=1)
    data = partial.read_bytes()
    cut = data[: data.rindex(b"\n", 0, len(data) - 1) + 40]  # lose the last record, leave half a line
    partial.write_bytes(cut)
    report = build(CONFIG, partial, N, workers=2)
    assert report.new == N - 119
    assert partial.read_bytes() == out.read_bytes()
    assert rejects_path(partial).read_bytes() == rejects_path(out).read_bytes()
    again = build(CONFIG, partial, N)
    assert again.new == 0 and partial.read_bytes() == out.read_bytes()


def test_other_options_do_not_append_to_an_existing_build(reference, tmp_path):
    out = tmp_path / "envs.jsonl"
    build(CONFIG, out, 20)
    with pytest.raises(ConfigError, match="--overwrite"):
        build(BuildConfig(seed=8), out, 20)
    assert build(BuildConfig(seed=8), out, 20, overwrite=True).written == 20


def test_cli_build_and_verify(tmp_path):
    out = tmp_path / "cli.jsonl"
    runner = CliRunner()
    args = ["build", "--out", str(out), "--n", "40", "--seed", "1", "--scenarios", "multi_hop=1,parallel_multi_hop=1",
            "--hops", "2-3", "--levels", "functional=0-1,toolset=2-3", "--distractors", "2", "--domains",
            "geography,business,culture", "--test-per-scenario", "0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    envs = list(read_environments(out))
    assert len(envs) == 40 and {e.scenario for e in envs} == {"multi_hop", "parallel_multi_hop"}
    assert all(e.metadata.complexity["toolset"] >= 2 and e.metadata.complexity["functional"] <= 1 for e in envs)
    assert all(e.metadata.domain in ("geography", "business", "culture") for e in envs)
    verify = runner.invoke(app, ["verify", str(out)])
    assert verify.exit_code == 0 and "40 passed" in verify.output
    bad = runner.invoke(app, ["build", "--out", str(tmp_path / "x.jsonl"), "--hops", "1-9"])
    assert bad.exit_code == 2 and "--hops" in bad.output
    assert json.loads((tmp_path / "cli.jsonl.manifest.json").read_text())["config"]["distractors"] == 2


def test_ray_gives_the_same_output(reference, tmp_path):
    pytest.importorskip("ray")
    out, _ = reference
    other = tmp_path / "envs.jsonl"
    build(CONFIG, other, N, workers=2, ray_address="local")
    assert other.read_bytes() == out.read_bytes()


HANDLER = textwrap.dedent("""
    import signal, sys
    signal.signal(signal.SIGTERM, lambda *_: None)  # a library's handler that does not end the process
    from toolgym.builder import BuildConfig, build
    print(build(BuildConfig(seed=1), sys.argv[1], 30, workers=2).written)
""")


def test_a_signal_handler_of_the_parent_does_not_hang_the_process_pool(tmp_path):
    """The pool stops its forked workers with SIGTERM when the build has what it needs; a handler inherited
    from the parent (importing bfcl-eval installs one) must not keep them alive."""
    proc = subprocess.Popen([sys.executable, "-c", HANDLER, str(tmp_path / "e.jsonl")], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError("the build hung when stopping its process pool") from None
    assert proc.returncode == 0 and out.split() == ["30"]
