import json

import pyarrow.parquet as pq
import pytest

from toolgym.errors import ErrorKind
from toolgym.io import (
    Rejects,
    detect_format,
    env_to_row,
    manifest_path,
    read_environments,
    read_manifest,
    sha256_of,
    to_hf_dataset,
    write_environments,
    write_manifest,
    write_parquet,
)


def test_parquet_round_trip(tmp_path, samples):
    path = tmp_path / "envs.parquet"
    write_environments(path, samples)
    assert detect_format(path) == "parquet"
    table = pq.read_table(path)
    assert table.column_names == ["id", "scenario", "question", "answer", "tools", "code", "expected",
                                  "solution", "metadata"]
    assert list(read_environments(path)) == samples


def test_parquet_row_with_bad_json_column_is_rejected(tmp_path, samples):
    rows = [env_to_row(e) for e in samples[:2]]
    rows[1]["tools"] = "[{broken"
    path = tmp_path / "envs.parquet"
    write_parquet(path, rows)
    rejects = Rejects()
    envs = list(read_environments(path, on_error=rejects))
    assert [e.id for e in envs] == [samples[0].id]
    assert rejects.errors[0].kind == ErrorKind.JSON and rejects.errors[0].field == "tools"
    assert rejects.errors[0].line == 2


def test_hf_datasets_round_trip(tmp_path, samples):
    pytest.importorskip("datasets")
    path = tmp_path / "hfds"
    write_environments(path, samples, format="hf")
    assert detect_format(path) == "hf"
    assert list(read_environments(path)) == samples
    ds = to_hf_dataset([env_to_row(e) for e in samples])
    assert len(ds) == len(samples) and json.loads(ds[0]["expected"]) == samples[0].expected


def test_manifest_records_counts_config_and_hash(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples)
    out = write_manifest(path, kind="environments", config={"x": 1}, seed=7, counts={"written": 8})
    assert out == manifest_path(path) and out.name == "envs.jsonl.manifest.json"
    m = read_manifest(path)
    assert m["kind"] == "environments" and m["seed"] == 7 and m["counts"] == {"written": 8}
    assert m["config"] == {"x": 1} and m["toolgym_version"]
    assert m["sha256"] == sha256_of(path)
    assert "pydantic" in m["versions"]


def test_sha256_of_a_folder_depends_on_names_and_contents(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_text("1")
    h1 = sha256_of(d)
    (d / "a").write_text("2")
    assert sha256_of(d) != h1
