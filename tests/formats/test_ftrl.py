"""The paper's layout: exact round trip, rejects, and what export adds."""

import json

import pyarrow.parquet as pq

from toolgym.formats import env_to_ftrl, export_file, ftrl_to_env_data, import_file
from toolgym.io import iter_jsonl, read_environments, read_manifest
from toolgym.schema import parse_environment


def _ftrl_row(**over):
    tools = [{"type": "function", "function": {"name": "get_x", "description": "X of a thing.",
                                               "parameters": {"type": "object", "properties": {
                                                   "thing": {"type": "string"}}, "required": ["thing"]}}}]
    codes = {"get_x": "def get_x(thing):\n    return {'x': 'Quartz' if thing == 'rock' else 'none'}"}
    row = {
        "messages": [{"role": "user", "content": "What is the X of a rock?"}],
        "tools": json.dumps(tools, ensure_ascii=False),
        "codes": json.dumps(codes, ensure_ascii=False),
        "unsolved_set": json.dumps({"get_x": ["Quartz"]}, ensure_ascii=False),
        "answer": "Quartz",
        "solve_rate": 0.0,
        "data_source": "ftrl/single_hop",
        "split": "train",
    }
    row.update(over)
    return row


def _round_trip(row):
    data, errors = ftrl_to_env_data(row)
    assert not errors
    return env_to_ftrl(parse_environment(data))


def test_round_trip_reproduces_every_field_and_adds_two():
    row = _ftrl_row()
    back = _round_trip(row)
    assert {k: back[k] for k in row} == row
    assert back["scenario"] == "single_hop"  # inferred from data_source
    assert back["solution"] == "[]"


def test_round_trip_keeps_the_quirks_of_real_data():
    row = _ftrl_row(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the X of a rock?"},
                  {"role": "assistant", "content": "", "tool_calls": [
                      {"id": "c", "type": "function", "function": {"name": "get_x", "arguments": "{}"}}]},
                  {"role": "tool", "content": "none", "tool_call_id": "c"}],
        tools=json.dumps(json.loads(_ftrl_row()["tools"]), indent=2),  # formatted differently from ours
        codes=json.dumps(json.loads(_ftrl_row()["codes"]), ensure_ascii=True, separators=(",", ":")),
        solve_rate=0.5,
        answer=None,
        extra_column={"kept": True},
    )
    del row["split"]
    back = _round_trip(row)
    assert {k: back[k] for k in row} == row
    assert "split" not in back


def test_solve_rate_type_is_preserved():
    for value in (0, 0.0, 1):
        back = _round_trip(_ftrl_row(solve_rate=value))
        assert back["solve_rate"] == value and type(back["solve_rate"]) is type(value)


def test_export_writes_scenario_and_solution(samples):
    row = env_to_ftrl(samples[4])
    assert row["scenario"] == "multi_hop"
    assert json.loads(row["solution"]) == [[{"name": c.name, "arguments": c.arguments} for c in t]
                                           for t in samples[4].solution]
    assert json.loads(row["unsolved_set"]) == samples[4].expected
    assert row["messages"] == [{"role": "user", "content": samples[4].question}]
    # and what we export imports back to the very same record
    data, errors = ftrl_to_env_data(row)
    assert not errors and parse_environment(data).id == samples[4].id


def test_import_file_with_bad_lines(tmp_path):
    src = tmp_path / "in.jsonl"
    good = _ftrl_row()
    bad_json = _ftrl_row(codes="{not json")
    bad_code = _ftrl_row(codes=json.dumps({"get_x": "def other():\n    pass"}))
    unknown_tool = _ftrl_row(unsolved_set=json.dumps({"nope": ["x"]}))
    lines = [json.dumps(good), json.dumps(bad_json), "{truncated", json.dumps(bad_code), json.dumps(unknown_tool),
             json.dumps(_ftrl_row(answer="Quartz!"))]
    src.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # last line cut off mid-write
    out = tmp_path / "envs.jsonl"
    report = import_file("ftrl", src, out)
    assert report.written == 1 and report.rejected == 5 and report.read == 6
    assert dict(report.kinds) == {"json": 2, "truncated": 1, "code_missing_function": 1,
                                  "expected_unknown_tool": 1}
    rejects = [v for _, v in iter_jsonl(report.rejects)]
    assert [r["errors"][0]["line"] for r in rejects] == [2, 3, 4, 5, 6]
    assert rejects[0]["raw"]["codes"] == "{not json"  # the raw row is kept
    assert len(list(read_environments(out))) == 1
    manifest = read_manifest(out)
    assert manifest["counts"]["written"] == 1 and manifest["counts"]["rejected"] == 5
    assert manifest["config"]["format"] == "ftrl"


def test_file_round_trip_jsonl_and_parquet(tmp_path):
    rows = [_ftrl_row(), _ftrl_row(messages=[{"role": "user", "content": "Another?"}], solve_rate=0.25)]
    src = tmp_path / "ref.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    ours = tmp_path / "ours.jsonl"
    import_file("ftrl", src, ours)
    for name in ("back.jsonl", "back.parquet"):
        back = tmp_path / name
        export_file("ftrl", ours, back)
        got = [v for _, v in iter_jsonl(back)] if name.endswith("jsonl") else pq.read_table(back).to_pylist()
        assert [{k: g[k] for k in r} for g, r in zip(got, rows)] == rows
        assert read_manifest(back)["counts"]["written"] == 2


def test_parquet_input_is_read(tmp_path):
    import pyarrow as pa

    src = tmp_path / "ref.parquet"
    pq.write_table(pa.Table.from_pylist([_ftrl_row()]), src)
    report = import_file("ftrl", src, tmp_path / "ours.jsonl")
    assert report.written == 1 and report.rejected == 0
