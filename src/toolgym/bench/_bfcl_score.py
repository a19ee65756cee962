"""BFCL v4's summary rows and overall score, computed the way its leaderboard computes them
(``eval_runner_helper.generate_leaderboard_csv``), from the per-category accuracies of a run.

BFCL's rows: ``simple`` = unweighted mean of simple_python/java/javascript; ``non_live`` = unweighted mean
of simple, multiple, parallel, parallel_multiple; ``live`` = item-weighted mean of the four live AST
categories; the irrelevance row = unweighted mean of irrelevance and live_irrelevance; the relevance row =
live_relevance (named ``irrelevance_detection`` and ``relevance_detection``, as BFCL's columns, apart from
the categories); ``multi_turn`` = unweighted mean of its four categories; ``memory`` and ``web_search`` =
unweighted means of theirs; ``agentic`` = unweighted mean of web_search and memory; ``overall`` = the
percentage-weighted mean of non_live, live, irrelevance, multi_turn and agentic with weights 10, 10, 10,
30, 40.

BFCL counts a category that was not run as 0 (and shows "N/A"). Two rows are given so that a partial run
is still readable: ``overall`` uses BFCL's weights over the parts that were run (each mean over the
categories present), and ``leaderboard_overall`` is BFCL's own number, missing parts counted as 0; the two
are equal when every scoring category ran. The report's notes name what is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..evaluate import MetricSummary
from ._bfcl_lib import MEMORY, MULTI_TURN, SCORING, WEB_SEARCH

NA = MetricSummary(math.nan, math.nan, math.nan, 0)


@dataclass(frozen=True)
class Part:
    """A summary row's definition: its parts (categories or other rows) and how they are combined
    (``unweighted``, ``items``: weighted by item count, or fixed ``weights``)."""

    name: str
    parts: tuple[str, ...]
    how: str = "unweighted"
    weights: tuple[float, ...] = ()


ROWS = (
    Part("simple", ("simple_python", "simple_java", "simple_javascript")),
    Part("non_live", ("simple", "multiple", "parallel", "parallel_multiple")),
    Part("live", ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"), "items"),
    Part("irrelevance_detection", ("irrelevance", "live_irrelevance")),
    Part("relevance_detection", ("live_relevance",)),
    Part("multi_turn", MULTI_TURN),
    Part("web_search", WEB_SEARCH),
    Part("memory", MEMORY),
    Part("agentic", ("web_search", "memory")),
    Part("overall", ("non_live", "live", "irrelevance_detection", "multi_turn", "agentic"), "weights",
         (10, 10, 10, 30, 40)),
)
#: The rows shown in tables, in order.
SUMMARY_ROWS = ("non_live", "live", "irrelevance_detection", "relevance_detection", "multi_turn", "memory", "agentic",
                "overall")


def _mix(parts: list[MetricSummary], weights: list[float]) -> MetricSummary:
    total = sum(weights)
    if not parts or total <= 0:
        return NA

    def mix(attr: str) -> float:
        return sum(w * (0.0 if math.isnan(getattr(p, attr)) else getattr(p, attr)) for w, p in zip(weights, parts)) / total

    return MetricSummary(mix("mean"), mix("low"), mix("high"), sum(p.n for p in parts))


def _combine(row: Part, values: list[MetricSummary]) -> MetricSummary:
    if row.how == "weights":
        return _mix(values, list(row.weights))
    if row.how == "items":
        return _mix(values, [float(v.n) for v in values])
    return _mix(values, [1.0] * len(values))


def summary_rows(categories: dict[str, MetricSummary], dataset_sizes: dict[str, int]) -> dict[str, MetricSummary]:
    """Every summary row over the parts present (missing parts left out), plus ``leaderboard_overall``
    (BFCL's number: a missing category counts 0 with its dataset size as weight)."""
    present: dict[str, MetricSummary] = {c: s for c, s in categories.items() if s.n > 0}
    filled: dict[str, MetricSummary] = {c: present.get(c, MetricSummary(0.0, 0.0, 0.0, dataset_sizes.get(c, 0)))
                                        for c in SCORING}
    rows: dict[str, MetricSummary] = {}
    for row in ROWS:
        have = [(p, w) for p, w in zip(row.parts, row.weights or [1.0] * len(row.parts)) if p in present or p in rows]
        if have:
            sub = Part(row.name, tuple(p for p, _ in have), row.how, tuple(w for _, w in have) if row.weights else ())
            rows[row.name] = _combine(sub, [present.get(p) or rows[p] for p, _ in have])
        filled[row.name] = _combine(row, [filled[p] for p in row.parts])
    board = filled["overall"]
    rows["leaderboard_overall"] = MetricSummary(board.mean, board.low, board.high, sum(s.n for s in present.values()))
    return rows


def missing_parts(categories: dict[str, MetricSummary]) -> list[str]:
    """BFCL v4 scoring categories that were not run."""
    return [c for c in SCORING if c not in categories or categories[c].n == 0]
