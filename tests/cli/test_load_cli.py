"""Commands that read environment files: a bad file is a one-line error (exit 2, no traceback), bad records
are named by file, line and field, duplicate ids are rejected, and a slow load shows a progress bar."""

import json

import pytest
import typer
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.cli._common import LoadProgress, load_envs
from toolgym.io import write_environments

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def says(output: str, text: str) -> bool:
    """``text`` is in ``output`` however the console wrapped it."""
    return "".join(text.split()) in "".join(output.split())


@pytest.fixture()
def envs(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples)
    return path


def _unreadable(tmp_path, samples):
    folder = tmp_path / "folder"
    folder.mkdir()
    misnamed = tmp_path / "envs.parquet"
    misnamed.write_text(samples[0].model_dump_json() + "\n")
    return [(folder, "is a folder"), (misnamed, "is not a parquet file")]


def _commands(path, tmp_path):
    trajectories = tmp_path / "t.jsonl"
    trajectories.write_text("")
    out = tmp_path / "out.jsonl"
    return [["inspect", path], ["verify", path], ["export", "--format", "ftrl", path, out],
            ["import", "--format", "toolgym", path, out], ["score", trajectories, "--envs", path],
            ["eval", "--trajectories", trajectories, "--envs", path]]


def test_a_file_that_cannot_be_read_is_one_line(tmp_path, samples):
    for path, message in _unreadable(tmp_path, samples):
        for args in _commands(path, tmp_path):
            result = invoke(*args)
            assert result.exit_code == 2, (args, result.output)
            assert says(result.output, message) and "Traceback" not in result.output, (args, result.output)


def test_invalid_records_are_named_by_line_and_field(tmp_path, envs, samples):
    bad = samples[0].model_dump(mode="json")
    bad["id"] = ""
    bad["code"] = {}
    with open(envs, "a") as f:
        f.write(json.dumps(bad) + "\n" + "[" * 100_000 + "\n")
    result = invoke("inspect", envs)
    assert result.exit_code == 0
    assert says(result.output, f"{envs}, line 9") and says(result.output, "has no code")
    assert says(result.output, f"{envs}, line 10") and says(result.output, "nested too deeply")


def test_eval_rejects_a_second_environment_with_the_same_id(tmp_path, envs, samples):
    gold = tmp_path / "gold.jsonl"
    assert invoke("rollout", "--envs", envs, "--backend", "scripted", "--out", gold, "--workers", 1).exit_code == 0
    impostor = samples[0].model_dump(mode="json")
    impostor["expected"] = {name: ["nothing anyone returns"] for name in impostor["expected"]}
    lines = envs.read_text().splitlines()
    envs.write_text("\n".join([json.dumps(impostor)] + lines) + "\n")  # the impostor comes first
    result = invoke("eval", "--envs", envs, "--trajectories", gold, "--out", tmp_path / "report.json")
    assert says(result.output, f"{envs}, line 2") and says(result.output, "a different record with the id of")


def test_load_envs_limit_and_split(tmp_path, envs, samples):
    assert [e.id for e in load_envs(envs, limit=3)] == [e.id for e in samples[:3]]
    with pytest.raises(typer.Exit) as exit_:
        load_envs(envs, limit=-5)
    assert exit_.value.exit_code == 2
    with pytest.raises(typer.Exit):
        load_envs(envs, limit=0)


def test_progress_shows_only_for_a_slow_load():
    quick = LoadProgress("loading", after=3600)
    quick(5, 10)
    assert quick._bar is None
    slow = LoadProgress("loading", after=0)
    slow(5, 10)
    assert slow._bar is not None and slow._bar.tasks[0].completed == 5
    slow(10, 10)
    assert slow._bar.tasks[0].completed == 10
    slow.close()
    assert slow._bar is None
