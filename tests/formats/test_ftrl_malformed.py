"""The ftrl importer never raises on a row: every malformed row goes to the reject file with its reasons,
every good row is imported, and nothing read is lost."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_outputs import DEEP, HUGE_INT, NEAR_LIMIT, json_values

from toolgym.formats import ftrl_to_env_data, import_file
from toolgym.formats.ftrl import COLUMNS
from toolgym.io import iter_jsonl, read_environments

GOOD = {
    "messages": [{"role": "user", "content": "What is the X of a rock?"}],
    "tools": json.dumps([{"type": "function", "function": {"name": "get_x", "parameters": {
        "type": "object", "properties": {"thing": {"type": "string"}}, "required": ["thing"]}}}]),
    "codes": json.dumps({"get_x": "def get_x(thing):\n    return 'Quartz'"}),
    "unsolved_set": json.dumps({"get_x": ["Quartz"]}),
    "answer": "Quartz", "solve_rate": 0.0, "data_source": "ftrl/single_hop", "split": "train",
}
bad_text = st.sampled_from(['{"a": ' + HUGE_INT + "}", DEEP, NEAR_LIMIT, "{not json", "", "null", "[1]", '"s"',
                            '{"get_x": ' + NEAR_LIMIT + "}", "\ud800"])
values = st.one_of(json_values, bad_text, st.lists(st.one_of(json_values, st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", 5]), "content": st.one_of(json_values, bad_text)})), max_size=3))


@st.composite
def rows(draw):
    row = dict(GOOD)
    for column in draw(st.lists(st.sampled_from(COLUMNS + ("scenario", "solution", "extra")), max_size=4)):
        if draw(st.booleans()):
            row[column] = draw(values)
        else:
            row.pop(column, None)
    return row


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows())
def test_no_row_makes_the_converter_raise(row):
    data, errors = ftrl_to_env_data(row)
    assert errors or isinstance(data, dict)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(rows(), min_size=1, max_size=10))
def test_every_row_is_imported_or_rejected_with_reasons(tmp_path_factory, batch):
    tmp = tmp_path_factory.mktemp("ftrl")
    src = tmp / "in.jsonl"
    with open(src, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.writelines(json.dumps(row) + "\n" for row in batch)
    report = import_file("ftrl", src, tmp / "out.jsonl")
    assert report.read == len(batch) == report.written + report.rejected
    rejected = [v for _, v in iter_jsonl(report.rejects)] if report.rejects else []
    assert len(rejected) == report.rejected
    rows_as_written = {json.dumps(row, sort_keys=True) for row in batch}
    for r in rejected:
        assert r["errors"] and all(e["line"] and e["kind"] and e["message"] for e in r["errors"])
        assert json.dumps(r["raw"], sort_keys=True) in rows_as_written  # the row as read, kept whole
    assert len(list(read_environments(tmp / "out.jsonl"))) == report.written


def test_rows_that_used_to_raise_are_rejected():
    for column in ("tools", "codes", "unsolved_set", "messages", "solution"):
        for text in ('{"a": ' + HUGE_INT + "}", DEEP):
            _, errors = ftrl_to_env_data({**GOOD, column: text})
            assert errors and errors[0].field == column, (column, text[:20])
