"""The append-only run every resumable command writes through: identity, done keys, manifest, lock."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from toolgym.io import Line, Run, RunRefused, check_outputs, identity_changes, latest, read_manifest


def _items(path, **kw):
    """A run shaped like a benchmark's: per-item results, ``ok`` ones done, failed ones tried again."""
    return Run(path, kind="bench", identity={"benchmark": "b", "model": "m"}, key=lambda r: r.get("id"),
               done=lambda r: r.get("status") == "ok", **kw)


def test_done_keys_latest_line_wins_and_records_read_back(tmp_path):
    out = tmp_path / "r.jsonl"
    with _items(out) as run:
        assert not run.resumed
        run.write({"id": "a", "status": "ok"})
        run.write({"id": "b", "status": "failed"})
        run.save("incomplete", counts={"items": 2})
    with _items(out) as run:
        assert run.resumed and run.is_done("a") and not run.is_done("b")
        run.write({"id": "b", "status": "ok", "try": 2})
        assert run.keys == {"a": True, "b": True}
        assert list(run.records()) == [{"id": "a", "status": "ok"}, {"id": "b", "status": "ok", "try": 2}]
    m = read_manifest(out)
    assert m["kind"] == "bench" and m["config"] == {"benchmark": "b", "model": "m"} and m["status"] == "incomplete"


def test_another_identity_is_refused_in_one_line_and_overwrite_clears_what_the_run_owns(tmp_path):
    out = tmp_path / "r.jsonl"
    side = tmp_path / "r.jsonl.rejects.jsonl"
    with _items(out, owns=[side]) as run:
        run.write({"id": "a", "status": "ok"})
    side.write_text("{}\n")
    other = Run(out, kind="bench", identity={"benchmark": "b", "model": "n"})
    with pytest.raises(RunRefused) as err:
        other.open()
    assert str(err.value).count("\n") == 0 and 'model: "m" -> "n"' in str(err.value) and "--overwrite" in str(err.value)
    with pytest.raises(RunRefused, match="bench run, not of a trajectories run"):
        Run(out, kind="trajectories", identity={}).open()
    with Run(out, kind="bench", identity={"benchmark": "b", "model": "n"}, owns=[side], overwrite=True,
             key=lambda r: r.get("id")) as run:
        assert not run.resumed and run.keys == {} and not side.exists() and out.read_text() == ""
    assert read_manifest(out)["config"]["model"] == "n"


def test_an_output_no_manifest_describes_is_not_resumed(tmp_path):
    out = tmp_path / "foreign.jsonl"
    out.write_text('{"id": "x"}\n')
    with pytest.raises(RunRefused, match="no manifest says what wrote it"):
        _items(out).open()
    assert out.read_text() == '{"id": "x"}\n'
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with _items(empty) as run:  # an empty file holds nothing to protect
        assert not run.resumed


def test_the_lock_refuses_a_second_writer_and_goes_with_its_run(tmp_path):
    out = tmp_path / "r.jsonl"
    first = _items(out).open()
    with pytest.raises(RunRefused, match=f"another run \\(pid {os.getpid()}\\) is writing"):
        _items(out).open()
    first.close()
    with _items(out):
        pass
    assert not (tmp_path / "r.jsonl.lock").exists()


KILLED = textwrap.dedent("""
    import os, signal, sys, time
    from toolgym.io import Run
    Run(sys.argv[1], kind="bench", identity={"benchmark": "b", "model": "m"}).open()
    child = os.fork()  # a worker forked while the run is open (the build's process pool, say)
    if child == 0:  # the fork hooks have run once fork returns here: say so only now (no race with the test)
        print(os.getpid(), flush=True)
        time.sleep(120)
        os._exit(0)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_killed_run_leaves_no_lock_behind_even_with_live_children(tmp_path):
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(out)], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())  # written by the child (it keeps the pipe open: read the line, not to the end)
    proc.wait(timeout=60)
    proc.stdout.close()
    try:
        assert (tmp_path / "r.jsonl.lock").exists()  # left by the killed run, but no longer held
        with _items(out) as run:
            assert not run.resumed
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_folder_run_keeps_a_finished_manifest_until_the_caller_saves(tmp_path):
    folder = tmp_path / "train"
    with Run(folder, kind="trl-run", identity={"lr": 1}, folder=True, owns=[folder / "final"]) as run:
        (folder / "final").mkdir()
        run.save("complete", extra={"steps": 3})
    with Run(folder, kind="trl-run", identity={"lr": 1}, folder=True, owns=[folder / "final"]) as run:
        assert run.complete and run.previous["steps"] == 3
    assert json.loads((folder / "manifest.json").read_text())["status"] == "complete"
    assert read_manifest(folder) is None  # a folder's manifest is inside it, not beside it
    with pytest.raises(RunRefused, match="lr: 1 -> 2"):
        Run(folder, kind="trl-run", identity={"lr": 2}, folder=True, owns=[folder / "final"]).open()


def test_lines_already_serialised_are_appended_as_they_are(tmp_path):
    out = tmp_path / "b.jsonl"
    with Run(out, kind="build", identity={"seed": 1}) as run:
        run.write(Line('{"id":"e1","x":1}'))
    assert out.read_text() == '{"id":"e1","x":1}\n'


def test_outputs_over_inputs_are_refused(tmp_path):
    src = tmp_path / "envs.jsonl"
    src.write_text("{}\n")
    with pytest.raises(RunRefused, match="--out .* is also --envs"):
        check_outputs({"--envs": src}, {"--out": tmp_path / "sub" / ".." / "envs.jsonl"})
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    with pytest.raises(RunRefused, match="--report"):
        check_outputs({"PATH": src}, {"--report": link})
    with pytest.raises(RunRefused, match="--chart .* is also --out"):
        check_outputs({}, {"--out": tmp_path / "a", "--chart": tmp_path / "a"})
    check_outputs({"--envs": src, "--trajectories": None}, {"--out": tmp_path / "out.jsonl", "--json": None})


def test_latest_keeps_the_last_item_of_each_key():
    rows = [("a", 1), ("b", 1), ("a", 2)]
    assert latest(rows, key=lambda r: r[0]) == [("a", 2), ("b", 1)]


def test_identity_changes_name_the_nested_field_that_changed():
    old = {"model": "a", "sampling": {"temperature": 0.0, "seed": 1}}
    new = {"model": "a", "sampling": {"temperature": 1.0, "seed": 1}, "limit": 4}
    assert identity_changes(old, new) == ["limit: unset -> 4", "sampling.temperature: 0.0 -> 1.0"]
