"""Typed failure kinds: stable strings in files, and files written before kinds existed still read."""

import json

from toolgym.bench import ItemResult
from toolgym.builder import Rejection
from toolgym.errors import FailureKind, RejectionKind
from toolgym.schema import Trajectory, TrajectoryMetrics

METRICS = TrajectoryMetrics(calls=0, solved=0, needed=1, solve_precision=1.0, solve_rate=0.0, solve_f1=0.0)


def test_the_kinds_are_the_strings_files_hold():
    assert [str(k) for k in FailureKind] == ["backend", "sandbox", "data", "internal", "unknown"]
    assert [str(k) for k in RejectionKind] == ["no_plan", "invalid_reply", "request_failed", "verification", "internal"]
    assert all(k.meaning for k in FailureKind)


def test_a_trajectory_keeps_its_kind_and_an_old_one_reads_as_unknown():
    t = Trajectory(env_id="e", metrics=METRICS, status="failed", error="boom", error_kind=FailureKind.SANDBOX)
    line = t.model_dump_json()
    assert json.loads(line)["error_kind"] == "sandbox"
    assert Trajectory.model_validate_json(line).failure is FailureKind.SANDBOX
    old = json.loads(line)
    del old["error_kind"]
    assert Trajectory.model_validate(old).failure is FailureKind.UNKNOWN
    assert Trajectory(env_id="e", metrics=METRICS).failure is None  # a finished episode did not fail


def test_an_item_result_keeps_its_kind_and_an_old_one_reads_as_unknown():
    r = ItemResult("i", "c", {"acc": 0.0}, status="failed", error="HTTP 500", error_kind=FailureKind.BACKEND)
    row = json.loads(json.dumps(r.to_json()))
    assert row["error_kind"] == "backend" and ItemResult.from_json(row) == r
    del row["error_kind"]
    assert ItemResult.from_json(row).failure is FailureKind.UNKNOWN
    assert ItemResult("i", "c", {"acc": 1.0}).failure is None


def test_a_rejection_keeps_its_kind_and_an_old_line_gets_the_kind_its_stage_implies():
    r = Rejection(3, "single_hop", "verification", "gold_solves", "x", kind=RejectionKind.VERIFICATION)
    assert Rejection.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    old = {"index": 1, "scenario": "multi_hop", "reason": "r", "detail": ""}
    kinds = {stage: Rejection.from_dict({**old, "stage": stage}).kind
             for stage in ("decomposition", "deployment", "verification", "internal", "document")}
    assert kinds == {"decomposition": RejectionKind.NO_PLAN, "deployment": RejectionKind.INTERNAL,
                     "verification": RejectionKind.VERIFICATION, "internal": RejectionKind.INTERNAL,
                     "document": RejectionKind.INVALID_REPLY}
    failed = Rejection.from_dict({**old, "stage": "decompose", "reason": "request failed"})
    assert failed.kind is RejectionKind.REQUEST_FAILED
