"""``--push-to-hub``: the dataset repository a build is laid out as (read back with ``datasets`` and with
``--envs``), its card, and every way a push cannot happen -- one line naming the fix, exit 2, before any
work. No Hub is reachable in tests: nothing here is pushed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import read_environments, read_manifest
from toolgym.publish import PushError, Upload, check_pushable, dataset_upload, push

datasets = pytest.importorskip("datasets")
runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "envs.jsonl"
    r = runner.invoke(app, ["build", "--out", str(out), "--n", "6", "--test-per-scenario", "1", "--seed", "4"])
    assert r.exit_code == 0, r.output
    return out


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_a_build_is_laid_out_as_a_dataset_repository_that_loads_back(built, tmp_path):
    envs = list(read_environments(built))
    upload = dataset_upload(built, "someone/tool-envs", tmp_path / "repo")
    assert upload.repo_type == "dataset" and upload.repo_id == "someone/tool-envs"
    assert upload.files() == ["README.md", "data/test.parquet", "data/train.parquet", "toolgym.manifest.json"]

    card = (upload.folder / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "test", "path": "data/test.parquet"}, {"split": "train", "path": "data/train.parquet"}]}]
    assert "toolgym" in meta["tags"] and meta["size_categories"] == "n<1K"
    assert "6 executable, verifiable tool-use environments" in card
    assert "builder `procedural`, seed 4" in card
    tests = sum(e.split == "test" for e in envs)
    assert f"| test | {tests} |" in card and f"| train | {len(envs) - tests} |" in card
    assert read_manifest(built)["builder"] == "procedural"

    # what the Hub would serve: `datasets` reads the splits from the card, and toolgym reads the records back
    loaded = datasets.load_dataset(str(upload.folder))
    assert sorted(loaded) == ["test", "train"] and loaded["test"].num_rows == tests
    loaded.save_to_disk(tmp_path / "back")
    assert {e.id: e for e in read_environments(tmp_path / "back")} == {e.id: e for e in envs}


def _one_line_error(output: str) -> str:
    lines = [x for x in output.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def test_a_push_that_cannot_happen_is_refused_before_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    out = tmp_path / "envs.jsonl"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = runner.invoke(app, ["build", "--out", str(out), "--n", "2", "--push-to-hub", "someone/envs"])
    assert r.exit_code == 2 and not out.exists()
    assert "offline mode is on (HF_HUB_OFFLINE); unset it" in _one_line_error(r.output)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    r = runner.invoke(app, ["build", "--out", str(out), "--n", "2", "--push-to-hub", "not/a/repo"])
    assert r.exit_code == 2 and not out.exists() and "not a repository id" in _one_line_error(r.output)


def test_no_token_and_no_network_are_one_line_naming_the_fix(built, tmp_path):
    """In a fresh process (the Hub's client reads HF_ENDPOINT and the token's home when imported)."""
    def toolgym(*args, **env):
        return subprocess.run([sys.executable, "-m", "toolgym", *map(str, args)], capture_output=True, text=True,
                              check=False, timeout=300, env={**os.environ, "COLUMNS": "1000", "HF_HUB_OFFLINE": "0",
                                                             "HF_HOME": str(tmp_path / "hf"), **env})

    out = tmp_path / "envs.jsonl"
    r = toolgym("build", "--out", out, "--n", 2, "--push-to-hub", "someone/envs", HF_TOKEN="")
    assert r.returncode == 2 and not out.exists()
    assert "no Hugging Face token; log in with `hf auth login` or set HF_TOKEN" in _one_line_error(r.stderr)
    r = toolgym("build", "--out", out, "--n", 2, "--push-to-hub", "someone/envs", HF_TOKEN="hf_not_a_real_token",
                HF_ENDPOINT="http://127.0.0.1:9")
    assert r.returncode == 2 and not out.exists()
    line = _one_line_error(r.stderr)
    assert "http://127.0.0.1:9 cannot be reached" in line and "HF_ENDPOINT" in line and "Retrying" not in r.stderr


def test_a_push_after_the_work_says_where_the_files_stay(built, tmp_path, monkeypatch):
    upload = dataset_upload(built, "someone/tool-envs", tmp_path / "repo")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PushError, match=f"offline mode is on.*the files stay in {upload.folder}"):
        push(upload)
    with pytest.raises(PushError, match="offline mode"):
        check_pushable("someone/tool-envs")
    assert isinstance(upload, Upload) and (upload.folder / "data" / "train.parquet").exists()
