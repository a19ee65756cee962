"""The command line, end to end on real files."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.formats import env_to_ftrl
from toolgym.io import read_environments, read_manifest, write_environments

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def ftrl_file(tmp_path, samples):
    rows = [env_to_ftrl(e) for e in samples]
    broken = dict(rows[0], codes="{oops")
    path = tmp_path / "ref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + [broken]))
    return path


def test_help_everywhere():
    for cmd in ([], ["import"], ["export"], ["inspect"], ["verify"], ["score"], ["demo"], ["sandbox-info"]):
        result = invoke(*cmd, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_import_keeps_good_rows_and_reports_rejects(tmp_path, ftrl_file, samples):
    out = tmp_path / "envs.jsonl"
    result = invoke("import", "--format", "ftrl", ftrl_file, out)
    assert result.exit_code == 0, result.output
    assert "imported 8 of 9" in result.output and "1 record(s) rejected" in result.output
    assert [e.id for e in read_environments(out)] == [e.id for e in samples]
    assert (tmp_path / "envs.jsonl.rejects.jsonl").exists()
    assert read_manifest(out)["counts"]["rejected"] == 1
    strict = invoke("import", "--format", "ftrl", "--strict", ftrl_file, tmp_path / "strict.jsonl")
    assert strict.exit_code == 1


def test_import_errors_are_clear(tmp_path):
    result = invoke("import", "--format", "nope", tmp_path, tmp_path / "o.jsonl")
    assert result.exit_code == 2 and "--format" in result.output
    missing = invoke("import", tmp_path / "absent.jsonl", tmp_path / "o.jsonl")
    assert missing.exit_code == 2 and "absent.jsonl does not exist" in " ".join(missing.output.split())


def test_export_formats(tmp_path, samples):
    src = tmp_path / "envs.jsonl"
    write_environments(src, samples)
    for fmt, name in (("ftrl", "a.jsonl"), ("ftrl", "a.parquet"), ("verl", "v.parquet"), ("parquet", "e.parquet"),
                      ("hf", "hfdir")):
        result = invoke("export", "--format", fmt, src, tmp_path / name)
        assert result.exit_code == 0, result.output
        assert f"exported {len(samples)} record(s)" in result.output
    bad = invoke("export", "--format", "verl", src, tmp_path / "v.jsonl")
    assert bad.exit_code == 2 and "parquet" in bad.output


def test_inspect(tmp_path, samples):
    src = tmp_path / "envs.jsonl"
    write_environments(src, samples)
    result = invoke("inspect", src, "--show", 6, "--code")
    assert result.exit_code == 0
    assert "8 valid environment(s)" in result.output and "parallel_multi_hop" in result.output
    assert "Glass Orchard" in result.output and "def calculate" in result.output
    by_id = invoke("inspect", src, "--id", samples[2].id)
    assert "warmer" in by_id.output
    assert invoke("inspect", src, "--id", "env_nope").exit_code == 1


def test_verify_passes_and_fails(tmp_path, samples):
    src = tmp_path / "envs.jsonl"
    bad = samples[0].model_copy(update={"expected": {"get_city_info": ["999"]}, "id": "env_badbad"})
    write_environments(src, samples)
    report = tmp_path / "report.jsonl"
    ok = invoke("verify", src, "--workers", 1, "--report", report)
    assert ok.exit_code == 0, ok.output
    assert "8 passed, 0 failed, 0 invalid" in ok.output
    assert len(report.read_text().splitlines()) == 8
    write_environments(src, samples + [bad])
    with open(src, "a") as f:
        f.write('{"id": "env_broken", "question": 3}\n')
    failed = invoke("verify", src, "--executor", "unsafe-inprocess")
    assert failed.exit_code == 1
    assert "8 passed, 1 failed, 1 invalid" in failed.output and "env_badbad" in failed.output


def test_score_reference_style_trajectories(tmp_path, samples):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, samples)
    env = samples[0]
    call = env.solution[0][0]
    good = {"messages": [{"role": "user", "content": env.question},
                         {"role": "assistant", "content": "", "tool_calls": [call.to_openai("c0")]},
                         {"role": "tool", "content": '{"city": "Varenholm", "population": 482113}', "tool_call_id": "c0"},
                         {"role": "assistant", "content": "About 482113 people."}],
            "metrics": {"solve_precision": 1.0, "solve_rate": 1.0, "solve_f1": 1.0}}
    lazy = {"messages": [{"role": "user", "content": samples[1].question},
                         {"role": "assistant", "content": "No idea."}],
            "metrics": {"solve_precision": 1.0, "solve_rate": 0.0, "solve_f1": 0.0}}
    traj = tmp_path / "traj.jsonl"
    traj.write_text(json.dumps(good) + "\n" + json.dumps(lazy) + "\n")
    out = tmp_path / "summary.json"
    result = invoke("score", traj, "--envs", envs, "--json", out)
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())["groups"]  # an eval report: the one aggregator's
    assert summary["single_hop"]["solve_f1"]["n"] == 2
    assert summary["overall"]["solve_f1"]["mean"] == pytest.approx(0.5)
    assert summary["overall"]["answer_accuracy"]["mean"] == pytest.approx(0.5)
    stored = invoke("score", traj)
    assert stored.exit_code == 0 and "overall" in stored.output
    missing = invoke("score", traj, "--envs", tmp_path / "absent.jsonl")
    assert missing.exit_code == 2 and "absent.jsonl does not exist" in " ".join(missing.output.split())
    # a toolgym-shaped line that does not validate is skipped and counted, not a crash
    with traj.open("a") as f:
        f.write(json.dumps({"env_id": "env_x", "steps": [], "messages": [], "metrics": {"solve_f1": "high"}}) + "\n")
    skipped = invoke("score", traj)
    assert skipped.exit_code == 0 and "1 trajectory line(s) skipped" in skipped.output


def test_demo_runs_offline(tmp_path):
    result = invoke("demo", "--out", tmp_path / "demo", "--workers", 2)
    assert result.exit_code == 0, result.output
    assert "8/8 environments verified" in result.output
    assert "8 of 8 records equal, field by field" in result.output
    assert "come back from the paper's layout unchanged" in result.output
    assert (tmp_path / "demo" / "envs.verl.parquet").exists()


def test_demo_fails_when_the_round_trip_changes_a_field(tmp_path, monkeypatch):
    from toolgym.cli import _demo

    real = _demo.import_file

    def import_changing_the_builder(fmt, src, dst, **kw):  # a round trip that changes metadata
        report = real(fmt, src, dst, **kw)
        lines = [json.loads(line) for line in Path(dst).read_text().splitlines()]
        lines[0]["metadata"]["builder"] = "someone else"
        Path(dst).write_text("".join(json.dumps(x) + "\n" for x in lines))
        return report

    monkeypatch.setattr(_demo, "import_file", import_changing_the_builder)
    result = invoke("demo", "--out", tmp_path / "demo", "--workers", 1)
    assert result.exit_code == 1
    assert "changed 'metadata'" in result.output


def test_sandbox_info():
    result = invoke("sandbox-info")
    assert result.exit_code == 0 and "self-test" in result.output and "network access is not allowed" in result.output


def test_error_messages_keep_the_extras_they_name(capsys):
    """`pip install 'toolgym[eval]'` is printed as written, not read as a rich style tag."""
    import typer

    from toolgym.cli._common import fail

    with pytest.raises(typer.Exit):
        fail("charts need matplotlib: pip install 'toolgym[eval]'")
    assert "pip install 'toolgym[eval]'" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_the_installed_packages(flag):
    from importlib.metadata import version

    result = runner.invoke(app, [flag])
    assert result.exit_code == 0
    assert result.output.strip() == f"toolgym {version('toolgym')}"
