import json

import pyarrow.parquet as pq
import pytest

from toolgym.formats import env_to_verl, export_file, import_file
from toolgym.io import read_environments
from toolgym.reward.verl import compute_score


def test_verl_layout(tmp_path, samples):
    out = tmp_path / "train.parquet"
    report = export_file("verl", _write(tmp_path, samples), out)
    assert report.written == len(samples)
    rows = pq.read_table(out).to_pylist()
    row = rows[4]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info", "tools"}
    assert row["data_source"] == "toolgym/multi_hop" and row["ability"] == "tool_use"
    assert row["prompt"] == [{"role": "user", "content": samples[4].question}]
    assert row["reward_model"]["style"] == "rule"
    truth = json.loads(row["reward_model"]["ground_truth"])
    assert truth == {"unsolved_set": samples[4].expected, "solve_rate": 0.0, "answer": samples[4].answer}
    extra = row["extra_info"]
    assert json.loads(extra["codes"]) == samples[4].code and json.loads(extra["tools"]) == samples[4].tools
    assert extra["index"] == 4 and extra["split"] == "test" and extra["env_id"] == samples[4].id


def _write(tmp_path, samples):
    from toolgym.io import write_environments

    path = tmp_path / "envs.jsonl"
    write_environments(path, samples)
    return path


def test_verl_rows_feed_the_reward(samples):
    env = samples[4]
    row = env_to_verl(env, 0)
    call = env.solution[0][0]
    response = call.to_hermes() + "<|im_end|>"
    assert compute_score(row["data_source"], response, row["reward_model"]["ground_truth"], row["extra_info"]) == 1.0
    final = f"It is the {env.answer}."
    # nothing solved yet: 1 / (1 + 2 unsolved)
    assert compute_score(row["data_source"], final, row["reward_model"]["ground_truth"],
                         row["extra_info"]) == pytest.approx(1 / 3)


def test_verl_import_reads_our_export(tmp_path, samples):
    out = tmp_path / "train.parquet"
    export_file("verl", _write(tmp_path, samples), out)
    report = import_file("verl", out, tmp_path / "back.jsonl")
    assert report.written == len(samples)
    back = list(read_environments(tmp_path / "back.jsonl"))
    assert [(e.question, e.expected, e.code, e.scenario) for e in back] == \
        [(e.question, e.expected, e.code, e.scenario) for e in samples]


def test_verl_needs_parquet(tmp_path, samples):
    with pytest.raises(ValueError, match="parquet"):
        export_file("verl", _write(tmp_path, samples), tmp_path / "train.jsonl")
