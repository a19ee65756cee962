"""Build statistics for the manifest: what was written, what was rejected and why, and how varied it is.

Fed one small row per written environment and one record per rejection, in index order, so the
figures are the same however the build was split across processes or resumed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class BuildStats:
    def __init__(self) -> None:
        self.written = 0
        self.by: dict[str, Counter] = {k: Counter() for k in ("scenario", "domain", "split", "hops", "width")}
        self.levels: dict[str, Counter] = {}
        self.rejected_stage: Counter = Counter()
        self.rejected_kind: Counter = Counter()
        self.rejected_reason: Counter = Counter()
        self.rejected_scenario: Counter = Counter()
        self.tool_names: set[str] = set()
        self.trigrams: set[int] = set()
        self.trigram_total = 0
        self.openings: set[str] = set()
        self.tools = 0
        self.calls = 0

    def add(self, row: dict[str, Any]) -> None:
        self.written += 1
        for k in self.by:
            self.by[k][str(row[k])] += 1
        for strategy, level in row["complexity"].items():
            self.levels.setdefault(strategy, Counter())[str(level)] += 1
        self.tool_names.update(row["tools"])
        self.tools += len(row["tools"])
        self.calls += row["calls"]
        self.trigrams.update(row["q3"])
        self.trigram_total += len(row["q3"])
        self.openings.add(row["opening"])

    def reject(self, rejection) -> None:
        self.rejected_stage[rejection.stage] += 1
        self.rejected_kind[str(rejection.kind)] += 1
        self.rejected_reason[f"{rejection.stage}: {rejection.reason}"] += 1
        self.rejected_scenario[rejection.scenario] += 1

    @property
    def rejected(self) -> int:
        return sum(self.rejected_stage.values())

    def to_dict(self) -> dict[str, Any]:
        n = max(self.written, 1)
        attempted = self.written + self.rejected
        return {
            "written": self.written,
            "attempted": attempted,
            "rejected": self.rejected,
            "yield": round(self.written / attempted, 4) if attempted else None,
            **{f"per_{k}": dict(sorted(v.items())) for k, v in self.by.items()},
            "per_complexity": {s: dict(sorted(c.items())) for s, c in sorted(self.levels.items())},
            "rejections": {"by_kind": dict(self.rejected_kind.most_common()), "by_stage": dict(self.rejected_stage),
                           "by_reason": dict(self.rejected_reason.most_common()),
                           "by_scenario": dict(sorted(self.rejected_scenario.items()))},
            "diversity": {"distinct_tool_names": len(self.tool_names),
                          "distinct_question_trigrams": len(self.trigrams),
                          "distinct_trigram_ratio": round(len(self.trigrams) / max(self.trigram_total, 1), 4),
                          "distinct_question_openings": len(self.openings)},
            "mean_tools_per_env": round(self.tools / n, 3),
            "mean_calls_per_env": round(self.calls / n, 3),
        }
