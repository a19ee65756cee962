"""Aggregation, the combined before/after table (markdown + PNG), and the n-gram contamination check."""

import json

import pytest

from toolgym.bench import (
    ItemResult,
    Suite,
    check_overlap,
    compare_suites,
    load_suite,
    markdown_table,
    plot_rows,
)
from toolgym.bench._report import combine_means, summarize
from toolgym.bench.contamination import doc_text, words
from toolgym.bench.toolhop import ToolHop
from toolgym.evaluate import MetricSummary


def _results(scores):
    return [ItemResult(f"i{k}", cat, {"acc": v}) for k, (cat, v) in enumerate(scores)]


def test_summaries_per_category_and_overall():
    rep = summarize("x", _results([("a", 1), ("a", 0), ("b", 1), ("b", 1)]), ("acc",))
    assert rep.value("a", "acc").mean == 0.5 and rep.value("overall", "acc").n == 4
    assert rep.value("b", "acc").low == rep.value("b", "acc").high == 1.0
    assert list(rep.groups)[-1] == "overall"


def test_bfcl_style_combinations():
    a, b = MetricSummary(1.0, 0.9, 1.0, 10), MetricSummary(0.0, 0.0, 0.2, 30)
    assert combine_means([a, b], weighted=False).mean == 0.5
    assert combine_means([a, b], weighted=True).mean == 0.25
    assert combine_means([a, b], weighted=True).n == 40


def test_before_after_table_markdown_and_png(tmp_path):
    before = Suite("base", reports={"rotbench": summarize("rotbench", _results([("clean", 0), ("clean", 1)]), ("acc",))})
    after = Suite("GRPO", reports={
        "rotbench": summarize("rotbench", _results([("clean", 1), ("clean", 1)]), ("acc",)),
        "toolhop": summarize("toolhop", _results([("free", 1)]), ("acc",))})
    path = after.save(tmp_path / "after.json")
    assert load_suite(path).reports["toolhop"].value("overall", "acc").mean == 1.0
    rows = compare_suites(before, load_suite(path))
    assert [(r.benchmark, r.group) for r in rows] == [("rotbench", "overall"), ("toolhop", "overall")]
    assert rows[0].delta == pytest.approx(0.5)
    md = markdown_table(rows, "base", "GRPO")
    assert "| rotbench | overall | acc | 50.00" in md and "+50.00 |" in md
    assert "| toolhop | overall | acc | - | 100.00" in md
    png = plot_rows(rows, tmp_path / "cmp.png", "base", "GRPO")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tool_documents_are_compared_as_text():
    doc = {"type": "function", "function": {"name": "get_city_info", "description": "Look up a city.",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string", "description": "The city name."}}}}}
    assert doc_text(doc) == doc_text(json.dumps(doc["function"])) == "get_city_info Look up a city. city The city name."
    assert "string" not in words(doc_text(doc))


def test_contamination_finds_a_leaked_question(samples, data_dir, tmp_path):
    bench = ToolHop(data_dir / "toolhop.json")
    clean = check_overlap(samples, bench, n=8)
    assert (clean.items, clean.question_overlap, clean.identical_questions, clean.envs_flagged) == (3, 0, 0, 0)
    leaked = json.loads((data_dir / "toolhop.json").read_text())
    leaked[1]["question"] = samples[3].question  # an evaluation item copied from the training set
    (tmp_path / "leak.json").write_text(json.dumps(leaked))
    dirty = check_overlap(samples, ToolHop(tmp_path / "leak.json"), n=8)
    assert dirty.identical_questions == 1 and dirty.question_overlap == 1 and dirty.any_overlap == 1
    assert dirty.examples[0].item == "1" and dirty.examples[0].env == samples[3].id
    assert dirty.envs_flagged >= 1
