"""Every bad input to a reader is a typed, located RecordError in the reject file -- never a traceback, never
lost data -- and a file that cannot be read at all is one DataFileError naming it."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolgym.errors import DataFileError, ErrorKind
from toolgym.formats import import_file
from toolgym.io import (
    JsonlWriter,
    Rejects,
    env_to_row,
    iter_jsonl,
    json_line,
    read_environments,
    read_trajectories,
)
from toolgym.schema import Trajectory, TrajectoryMetrics

HUGE_INT = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


def _data(samples, i=0, **change):
    data = samples[i].model_dump(mode="json")
    data.pop("id")
    data.update(change)
    return data


def _read(path, tmp_path):
    """Read ``path`` with a reject file; the valid records, and the reject lines as written."""
    rejects_path = tmp_path / "rejects.jsonl"
    with Rejects(rejects_path) as rejects:
        envs = list(read_environments(path, on_error=rejects))
    lines = [v for _, v in iter_jsonl(rejects_path)] if rejects_path.exists() else []
    return envs, lines


def _deep_schema(levels):
    schema = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"p": schema}}
    return schema


def _bad_records(samples):
    """(name, line text, kind, field) of records that used to raise in every reader."""
    name = samples[0].tool_names[0]
    with_schema = _data(samples)
    with_schema["tools"][0]["function"]["parameters"]["properties"]["deep"] = _deep_schema(100)
    long_sum = _data(samples)
    long_sum["code"][name] += "\nX = " + "+".join(["1"] * 100_000) + "\n"
    big_literal = _data(samples)
    big_literal["code"][name] += "\nX = " + HUGE_INT + "\n"
    return [
        ("deep JSON", DEEP, ErrorKind.JSON, None),
        ("5,000-digit integer", json.dumps(_data(samples))[:-1] + ', "answer": ' + HUGE_INT + "}", ErrorKind.JSON,
         None),
        ("100-level parameter schema", json.dumps(with_schema), ErrorKind.TOOL_SCHEMA, "tools[0].function.parameters"),
        ("100,000-term expression", json.dumps(long_sum), ErrorKind.CODE_COMPILE, f"code.{name}"),
        ("5,000-digit literal in code", json.dumps(big_literal), ErrorKind.CODE_COMPILE, f"code.{name}"),
        ("not UTF-8", b'{"question": "\xff\xfe"}'.decode("latin-1"), ErrorKind.JSON, None),
    ]


def test_each_bad_record_is_rejected_with_file_line_and_field(tmp_path, samples):
    cases = _bad_records(samples)
    path = tmp_path / "envs.jsonl"
    good = samples[1].model_dump_json()
    with open(path, "wb") as f:
        for _, text, _, _ in cases:
            f.write(text.encode("latin-1" if text.startswith('{"question": "\xff') else "utf-8") + b"\n")
            f.write(good.encode() + b"\n")
    envs, rejected = _read(path, tmp_path)
    assert [e.id for e in envs] == [samples[1].id]  # the first good copy; the rest are its duplicates
    by_line = {r["errors"][0]["line"]: r for r in rejected}
    for i, (what, text, kind, field) in enumerate(cases):
        r = by_line[2 * i + 1]
        assert r["errors"][0]["kind"] == kind, what
        assert r["errors"][0]["field"] == field, what
        assert r["errors"][0]["source"] == str(path), what
    assert len(rejected) == len(cases) + len(cases) - 1  # every bad line, and every later duplicate of `good`


def test_bytes_of_an_unreadable_line_are_kept_exactly(tmp_path):
    path = tmp_path / "envs.jsonl"
    raw = b'{"question": "caf\xe9 \xff"}'
    path.write_bytes(raw + b"\n")
    _, rejected = _read(path, tmp_path)
    assert rejected[0]["errors"][0]["kind"] == "json" and "not UTF-8" in rejected[0]["errors"][0]["message"]
    assert rejected[0]["raw"].encode("utf-8", "surrogateescape") == raw


def test_duplicate_ids_are_rejected_by_line(tmp_path, samples):
    first = samples[0].model_dump(mode="json")
    changed = dict(first, question="a different question, the same id")
    path = tmp_path / "envs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (first, changed, first, samples[1].model_dump(mode="json"))))
    envs, rejected = _read(path, tmp_path)
    assert [e.question for e in envs] == [samples[0].question, samples[1].question]
    assert [(r["errors"][0]["line"], r["errors"][0]["kind"], r["errors"][0]["field"]) for r in rejected] == [
        (2, "duplicate_id", "id"), (3, "duplicate_id", "id")]
    assert "a different record" in rejected[0]["errors"][0]["message"] and "line 1" in rejected[0]["errors"][0]["message"]
    assert "an identical copy" in rejected[1]["errors"][0]["message"]
    assert rejected[0]["raw"]["question"] == "a different question, the same id"  # kept whole


def test_files_that_cannot_be_read_at_all(tmp_path, samples):
    folder = tmp_path / "folder"
    folder.mkdir()
    misnamed = tmp_path / "envs.parquet"
    misnamed.write_text(samples[0].model_dump_json() + "\n")
    parquet_as_jsonl = tmp_path / "table.jsonl"
    pq.write_table(pa.Table.from_pylist([env_to_row(samples[0])]), parquet_as_jsonl)
    cases = [(folder, "is a folder"), (misnamed, "name it .jsonl"), (parquet_as_jsonl, "name it .parquet"),
             (tmp_path / "missing.jsonl", "does not exist")]
    for path, says in cases:
        with pytest.raises(DataFileError, match=says):
            list(read_environments(path))
        if path is not misnamed:  # trajectories are JSONL whatever the name
            with pytest.raises(DataFileError, match=says.replace("name it .parquet", "parquet file")):
                list(read_trajectories(path))
    assert [e.id for e in read_environments(misnamed, format="jsonl")] == [samples[0].id]


def test_parquet_columns_that_used_to_raise(tmp_path, samples):
    rows = [env_to_row(samples[0]), dict(env_to_row(samples[1]), tools=DEEP),
            dict(env_to_row(samples[2]), code='{"x": ' + HUGE_INT + "}")]
    path = tmp_path / "envs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    envs, rejected = _read(path, tmp_path)
    assert [e.id for e in envs] == [samples[0].id]
    assert [(r["errors"][0]["line"], r["errors"][0]["field"]) for r in rejected] == [(2, "tools"), (3, "code")]


def test_import_of_bad_ftrl_rows_writes_rejects_not_tracebacks(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(DEEP + "\n" + json.dumps({"codes": '{"a": ' + HUGE_INT + "}"}) + "\n")
    report = import_file("ftrl", src, tmp_path / "out.jsonl")
    assert report.read == 2 and report.rejected == 2 and report.written == 0


# ---- text that is not valid Unicode, and deep values: written, read back, nothing lost ----------------------

def _trajectory(output: str, arguments=None) -> Trajectory:
    from toolgym.schema import Step, ToolCall, ToolResult

    call = ToolCall(name="f", arguments=arguments if arguments is not None else {"q": output})
    step = Step(index=0, results=[ToolResult(call=call, output=output)])
    return Trajectory(env_id="e", steps=[step], messages=[{"role": "tool", "content": output}],
                      metrics=TrajectoryMetrics(calls=1, solved=0, needed=1, solve_precision=0, solve_rate=0,
                                                solve_f1=0))


@pytest.mark.parametrize("output", ["\ud800", "a\udfffb", "\ud83d\ude00", "\\\ud800", "\U0001F600" * 10])
def test_lone_surrogates_never_stop_the_writer(tmp_path, output):
    path, plain = tmp_path / "t.jsonl", tmp_path / "plain.jsonl"
    with JsonlWriter(path) as w, JsonlWriter(plain) as p:
        w.write(_trajectory(output))
        w.write(_trajectory("ok"))
        p.write({"plain": output})
    back = list(read_trajectories(path))
    expected = output.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")  # pairs join
    assert [t.steps[0].results[0].output for t in back] == [expected, "ok"]
    assert [v for _, v in iter_jsonl(plain)] == [{"plain": expected}]
    path.read_bytes().decode("utf-8")  # the files are valid UTF-8
    plain.read_bytes().decode("utf-8")


def test_valid_text_is_written_exactly_as_before(samples):
    t = _trajectory("café ☕ \U0001F600")
    assert json_line(t) == (t.model_dump_json() + "\n").encode("utf-8")
    assert json_line({"a": "é"}) == b'{"a": "\xc3\xa9"}\n'
    assert json_line(samples[0]) == (samples[0].model_dump_json() + "\n").encode()


def test_deep_arguments_are_written_and_read_back(tmp_path):
    deep = json.loads("[" * 900 + "]" * 900)
    path = tmp_path / "t.jsonl"
    with JsonlWriter(path) as w:
        w.write(_trajectory("x", {"a": deep}))
    (back,) = read_trajectories(path)
    assert back.steps[0].results[0].call.arguments == {"a": deep}


def test_rejects_of_surrogate_text_are_written(tmp_path):
    with Rejects(tmp_path / "r.jsonl") as rejects:
        rejects(pytest.importorskip("toolgym.errors").RecordError(ErrorKind.JSON, "bad"), "x\ud800")
    (line,) = [v for _, v in iter_jsonl(tmp_path / "r.jsonl")]
    assert line["raw"] == "x\ud800"


def test_environments_with_lone_surrogates_are_read_written_and_exported(tmp_path, samples):
    from toolgym.formats import export_file
    from toolgym.io import write_environments

    data = _data(samples, question="Where is x\ud800y?")
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(data) + "\n")
    (env,) = read_environments(path)
    assert env.question == "Where is x\ud800y?" and env.id.startswith("env_")
    write_environments(tmp_path / "out.jsonl", [env])
    assert list(read_environments(tmp_path / "out.jsonl")) == [env]
    export_file("ftrl", tmp_path / "out.jsonl", tmp_path / "ftrl.jsonl")
    (row,) = [v for _, v in iter_jsonl(tmp_path / "ftrl.jsonl")]
    assert row["messages"][0]["content"] == "Where is x\ud800y?"
