"""The paper's layout: exact round trips both ways, rejects, and what export adds."""

import json

import pyarrow.parquet as pq
import pytest

from toolgym.errors import InvalidRecord
from toolgym.formats import env_to_ftrl, export_file, ftrl_to_env_data, import_file
from toolgym.io import iter_jsonl, read_environments, read_manifest, write_environments
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


# ---- ours -> ftrl -> ours ----------------------------------------------------------------------------------

def _edge_cases(samples):
    """Records whose every part the paper's columns cannot hold: set and unset metadata, seed 0, a chosen id,
    call ids in the solution, no scenario next to a data source that names one, a record imported from ftrl."""
    data = samples[4].to_json_dict()

    def variant(i: int, **over):  # each its own content, hence its own id
        return {**data, "id": "", "question": f"{data['question']} ({i})", **over}

    base = parse_environment(variant(0))
    yield base.model_copy(update={"metadata": base.metadata.model_copy(update={
        "domain": "geography", "complexity": {"functional": 1}, "builder": "llm", "model": "m", "seed": 0,
        "split": None, "data_source": None, "extra": {"note": ["a", 1, {"b": None}], "ftrl_like": True}})})
    yield parse_environment({**variant(1), "id": "my-own-id"})
    yield parse_environment(variant(2, solution=[[{**c, "id": f"call_{i}"} for i, c in enumerate(turn)]
                                                 for turn in data["solution"]]))
    yield parse_environment(variant(3, scenario=None, metadata={"data_source": "ftrl/multi_hop", "split": "test"}))
    yield parse_environment(variant(4, scenario=None, metadata={}))
    imported, errors = ftrl_to_env_data(_ftrl_row(solve_rate=0.5, split=None))
    assert not errors
    yield parse_environment(imported)


def test_every_record_of_a_build_survives_ours_ftrl_ours(tmp_path, samples):
    from toolgym.builder import BuildConfig, build

    built = tmp_path / "built.jsonl"
    build(BuildConfig(seed=5), built, 40)
    envs = list(read_environments(built)) + list(samples) + list(_edge_cases(samples))
    ours = tmp_path / "ours.jsonl"
    write_environments(ours, envs)
    for name in ("ftrl.jsonl", "ftrl.parquet"):
        export_file("ftrl", ours, tmp_path / name)
        back = tmp_path / f"back-{name}.jsonl"
        report = import_file("ftrl", tmp_path / name, back)
        assert report.rejected == 0
        again = list(read_environments(back))
        assert len(again) == len(envs) == len({e.id for e in envs})
        for a, b in zip(envs, again):
            for field in type(a).model_fields:  # field by field, so a failure names the field
                assert getattr(b, field) == getattr(a, field), (name, a.id, field)
            assert b.to_json_dict() == a.to_json_dict()


def test_the_metadata_column_is_absent_for_the_papers_rows_and_checked_on_import():
    row = _ftrl_row()
    assert "toolgym" not in _round_trip(row)
    for bad in ("{not json", "[1]", json.dumps({"extra": [1]}), json.dumps({"seed": "x"}),
                json.dumps({"colour": "red"})):
        data, errors = ftrl_to_env_data({**row, "toolgym": bad})
        if not errors:
            with pytest.raises(InvalidRecord):
                parse_environment(data)
        else:
            assert errors[0].field == "toolgym"


def test_papers_rows_are_exported_byte_for_byte(tmp_path):
    """A row of the paper's data comes back as the very bytes it was, followed by the two added columns."""
    rows = [_ftrl_row(), _ftrl_row(split=None, solve_rate=0.25, messages=[{"role": "user", "content": "Ça va? 東京"}])]
    src = tmp_path / "ref.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    src.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    import_file("ftrl", src, tmp_path / "ours.jsonl")
    export_file("ftrl", tmp_path / "ours.jsonl", tmp_path / "back.jsonl")
    got = (tmp_path / "back.jsonl").read_text(encoding="utf-8").splitlines()
    assert [g[:len(line) - 1] + "}" for g, line in zip(got, lines)] == lines
    assert [json.loads(g)["solution"] for g in got] == ["[]", "[]"]
