import json

import pytest

from toolgym.errors import ErrorKind, InvalidRecord
from toolgym.io import JsonlWriter, Rejects, iter_jsonl, read_environments, repair_tail, write_environments


def test_append_only_writer_writes_whole_lines(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlWriter(path) as w:
        w.write({"a": 1})
        w.write({"b": "é"})
    with JsonlWriter(path) as w:  # reopening appends
        w.write({"c": 3})
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"b": "é"}\n{"c": 3}\n'


def test_truncated_last_line_is_reported_not_fatal(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n{"c": ', encoding="utf-8")
    errors = []
    rows = list(iter_jsonl(path, lambda e, raw: errors.append((e, raw))))
    assert [v for _, v in rows] == [{"a": 1}, {"b": 2}]
    assert len(errors) == 1
    err, raw = errors[0]
    assert err.kind == ErrorKind.TRUNCATED and err.line == 3 and raw == '{"c": '


def test_complete_last_line_without_newline_is_accepted(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}', encoding="utf-8")
    assert [v for _, v in iter_jsonl(path)] == [{"a": 1}, {"b": 2}]


def test_corrupt_middle_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\nnot json\n\n{"b": 2}\n', encoding="utf-8")
    errors = []
    rows = list(iter_jsonl(path, lambda e, raw: errors.append(e)))
    assert [n for n, _ in rows] == [1, 4]
    assert errors[0].kind == ErrorKind.JSON and errors[0].line == 2


def test_default_is_to_raise(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("nope\n")
    with pytest.raises(InvalidRecord):
        list(iter_jsonl(path))


def test_writer_moves_a_partial_tail_aside_and_keeps_it(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"half": ')
    seen = []
    with JsonlWriter(path, on_repair=seen.append) as w:
        w.write({"c": 3})
    assert path.read_text() == '{"a": 1}\n{"b": 2}\n{"c": 3}\n'
    assert seen == [len(b'{"half": ')]
    assert (tmp_path / "t.jsonl.partial").read_bytes() == b'{"half": \n'
    assert [v for _, v in iter_jsonl(path)] == [{"a": 1}, {"b": 2}, {"c": 3}]


def test_repair_of_a_file_that_is_one_partial_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"x"')
    assert repair_tail(path) == 4
    assert path.read_bytes() == b""
    assert repair_tail(path) == 0


def test_reading_environments_rejects_bad_records_with_reasons(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    good = samples[0].model_dump(mode="json")
    bad = dict(good, id="env_bad", code={"get_city_info": "def nope(): pass", "get_country_info": "x = ("})
    lines = [json.dumps(good), "{broken", json.dumps(bad), json.dumps(samples[1].model_dump(mode="json"))]
    path.write_text("\n".join(lines) + "\n")
    side = tmp_path / "rejects.jsonl"
    with Rejects(side) as rejects:
        envs = list(read_environments(path, on_error=rejects))
    assert [e.id for e in envs] == [samples[0].id, samples[1].id]
    assert rejects.records == 2
    assert rejects.kinds == {"json": 1, "code_missing_function": 1, "code_compile": 1}
    rows = [json.loads(x) for x in side.read_text().splitlines()]
    assert rows[0]["raw"] == "{broken" and rows[0]["errors"][0]["line"] == 2
    assert rows[1]["raw"]["id"] == "env_bad" and len(rows[1]["errors"]) == 2
    assert {e["field"] for e in rows[1]["errors"]} == {"code.get_city_info", "code.get_country_info"}
    assert all(e["record_id"] == "env_bad" and e["line"] == 3 for e in rows[1]["errors"])


def test_write_environments_round_trip(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    assert write_environments(path, samples) == len(samples)
    assert list(read_environments(path)) == samples
