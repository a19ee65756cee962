"""``--envs owner/name[:split]``: a dataset id on the Hugging Face Hub, resolved offline from the local cache.

No Hub is reachable in tests, so the cache is written here the way ``datasets.load_dataset`` leaves it after
downloading a dataset repository of parquet files (``$HF_HOME/datasets/<owner>___<name>/<config>/<version>/
<hash>``), and the commands run with ``HF_HUB_OFFLINE=1`` in a subprocess (the Hugging Face libraries read
their settings when imported)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict

import pytest

from toolgym.io import dataset_id, env_to_row, write_parquet
from toolgym.io.hub import DatasetId
from toolgym.publish import source_name

pytest.importorskip("datasets")


def test_dataset_ids_and_paths(tmp_path):
    assert dataset_id("owner/name") == DatasetId("owner/name")
    assert dataset_id("owner/name:test") == DatasetId("owner/name", "test")
    assert str(DatasetId("owner/name", "test")) == "owner/name:test"
    # a missing file is a missing file, and an existing folder is a folder, not a dataset id
    for path in ("data/envs.jsonl", "data/envs.parquet", "a/b/c", "envs.jsonl", "x"):
        assert dataset_id(path) is None
    (tmp_path / "owner" / "name").mkdir(parents=True)
    assert dataset_id(tmp_path / "owner" / "name") is None


def _cache_dataset(home, repo: str, envs) -> None:
    """Leave ``envs`` in the ``datasets`` cache under ``home`` as a download of Hub repository ``repo`` does:
    one split per ``metadata.split``, prepared by the parquet builder into <owner>___<name>/default/0.0.0/<hash>."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    owner, name = repo.split("/")
    by_split = defaultdict(list)
    for env in envs:
        by_split[env.split].append(env_to_row(env))
    files = {}
    for split, rows in by_split.items():
        files[split] = str(home / "src" / f"{split}.parquet")
        write_parquet(files[split], rows)
    builder = Parquet(cache_dir=str(home / "stage"), dataset_name=name, config_id="default",
                      data_files=files, hash="0123456789abcdef")
    builder.download_and_prepare()
    (home / "datasets").mkdir(parents=True, exist_ok=True)
    shutil.move(str(home / "stage" / name), str(home / "datasets" / f"{owner}___{name}"))


def _toolgym(*args, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolgym", *map(str, args)], capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "1000", **env}, cwd=cwd, timeout=300)


@pytest.fixture()
def split_samples(samples):
    return [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "test" if i % 2 else "train"})})
            for i, e in enumerate(samples)]


def test_a_cached_dataset_id_is_read_offline(tmp_path, split_samples):
    home = tmp_path / "hf"
    _cache_dataset(home, "someone/tool-envs", split_samples)
    env = {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    tests = [e for e in split_samples if e.split == "test"]

    r = _toolgym("rollout", "--envs", "someone/tool-envs:test", "--backend", "scripted", "--out", tmp_path / "t.jsonl",
                 "--workers", 1, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ids = [json.loads(line)["env_id"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(e.id for e in tests)
    saved = list((home / "toolgym" / "datasets" / "someone--tool-envs" / "test").iterdir())
    assert len(saved) == 1 and (saved[0] / "dataset_info.json").exists()
    assert source_name(saved[0]) == "someone/tool-envs:test"  # what a model card trained on it names

    # the whole dataset (every split), and the same records as the file they came from
    r = _toolgym("inspect", "someone/tool-envs", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f": {len(split_samples)} valid environment(s), 0 invalid" in r.stdout

    from toolgym.io import read_environments

    back = {e.id: e for e in read_environments(saved[0])}
    assert back == {e.id: e for e in tests}


def test_an_uncached_dataset_id_offline_is_one_line_naming_the_fix(tmp_path):
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = _toolgym("rollout", "--envs", "nobody/nothing", "--backend", "scripted", "--out", tmp_path / "t.jsonl",
                 env=env, cwd=tmp_path)
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("error: --envs nobody/nothing: no local file of that name")
    assert "HF_HUB_OFFLINE" in lines[0] and "give a local file" in lines[0]


def test_an_unreachable_hub_fails_at_once_with_one_line(tmp_path):
    """Not offline, but the Hub does not answer: one request, then one line (no half-minute of retries)."""
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0",
           "HF_DATASETS_OFFLINE": "0"}
    r = _toolgym("inspect", "nobody/nothing:train", env=env, cwd=tmp_path)
    assert r.returncode == 2
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr and "Retrying" not in r.stderr
    assert "http://127.0.0.1:9 cannot be reached" in lines[0] and "HF_ENDPOINT" in lines[0]


def test_a_local_datasets_folder_of_several_splits_is_read(tmp_path, split_samples):
    """A ``DatasetDict`` saved with ``save_to_disk`` (what ``load_dataset`` of a repository returns): every split."""
    import datasets

    from toolgym.cli._common import load_envs

    parts = defaultdict(list)
    for env in split_samples:
        parts[env.split].append(env_to_row(env))
    datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in parts.items()}).save_to_disk(tmp_path / "dd")
    assert {e.id for e in load_envs(tmp_path / "dd")} == {e.id for e in split_samples}
    assert {e.id for e in load_envs(tmp_path / "dd", split="test")} == {e.id for e in split_samples if e.split == "test"}
