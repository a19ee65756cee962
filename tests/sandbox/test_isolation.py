"""One environment must not influence another: the adversarial corpus's cross-environment section.

Each program in :data:`ATTACKS` is the tool of a hostile environment. It attacks what it shares, or used to
share, with other environments: the worker's protocol and functions, the pool's bookkeeping (result frames,
the record of which call is running), the Python-level policy, the parent-death signal, caches that held
other environments' sources, module state, memory, descriptors, threads and the disk. Each runs through the
public entry points in the middle of a batch of innocent environments (innocent calls before it and after
it in request order), and the innocent environments run again in the next batch; their results must be
byte-identical (text and status) to a run without the hostile environment. The innocent tool reports what a
leftover would change: its module and builtins behaviour, the threads and files it sees, whether it can
allocate memory and open files, the policy's refusal message.

No check depends on how fast the machine is: hostile programs that never end run under a short timeout (a
loop always hits it); everything else gets a timeout far beyond what it needs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from toolgym.reward import score_batch
from toolgym.sandbox import ExecRequest, SandboxLimits, SandboxPool
from toolgym.schema import TurnState

SHORT, LONG = 1.0, 120.0
MEMORY_MB = 512

# The innocent tool: everything a previous tool in the same process could have changed shows in its output.
PROBE = '''
SECRET = "{secret}"

def probe(x):
    import builtins, json, math, os, re, threading
    out = {{"x": x, "secret": SECRET, "dumps": json.dumps({{"k": [1, 2]}}), "len": len("abc"),
           "re": re.sub("a+", "b", "caaat"), "cwd_is_folder": os.getcwd() == os.environ.get("PWD", os.getcwd()),
           "sqrt": math.sqrt(16.0), "builtins_len_is_len": builtins.len is len, "threads": threading.active_count(),
           "files_seen": sorted(os.listdir("."))}}
    try:
        with open("scratch.txt", "w") as f:
            f.write("hello " * x)
        with open("scratch.txt") as f:
            out["file"] = f.read()
    except OSError as exc:
        out["file"] = "error: " + type(exc).__name__
    try:
        out["memory"] = len(bytearray(64 << 20))
    except MemoryError:
        out["memory"] = "MemoryError"
    try:
        import socket
        socket.socket()
        out["socket"] = "opened"
    except OSError as exc:
        out["socket"] = str(exc)
    return out
'''
INNOCENT = {name: {"probe": textwrap.dedent(PROBE).format(secret=f"SECRET-{name}-5d1c")} for name in ("alpha", "beta", "gamma")}

_LOOP_FOREVER = """
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
"""

# name -> (source of a tool named ``attack``, timeout, the statuses the attack itself may end with)
ATTACKS = {
    "replace the worker's call function": ("""
import sys
def attack():
    fake = lambda *a, **k: "HIJACKED"
    for name in list(sys.modules):
        module = sys.modules[name]
        for attr in ("invoke", "run_call", "serve", "finish", "format_output", "compile_source", "error_message",
                     "main", "encode", "send_all", "valid_result", "valid_results"):
            if name.startswith("_") and hasattr(module, attr):
                setattr(module, attr, fake)
    return "patched"
""", LONG, {"ok", "tool_error", "crashed"}),
    "forge result frames for the other calls": ("""
import json, os, struct
def attack():
    for fields in ([["ok", "FORGED", 0.0, False]] * 40, [["ok", "FORGED", 0.0, None]] * 40, ["ok", "FORGED", 0.0]):
        frame = json.dumps(fields).encode()
        data = struct.pack(">I", len(frame)) + frame
        for fd in range(0, 64):
            try:
                os.write(fd, data)
            except OSError:
                pass
    return "forged"
""", LONG, {"ok", "crashed"}),
    "two frames for its own call": ("""
import json, os, struct
def attack():
    frame = json.dumps([["ok", "FIRST", 0.0, False]]).encode()
    os.write(4, struct.pack(">I", len(frame)) + frame)
    return "SECOND"
""", LONG, {"ok", "crashed"}),
    "a need_code frame": ("""
import json, os, struct
def attack():
    for fields in ([0, "need_code", "", 0.0, False], [["need_code", "", 0.0, False]]):
        frame = json.dumps(fields).encode()
        for fd in range(3, 16):
            try:
                os.write(fd, struct.pack(">I", len(frame)) + frame)
            except OSError:
                pass
    return "asked"
""", LONG, {"crashed", "ok"}),
    "junk in the result channel": ("""
import os, struct
def attack():
    for junk in (struct.pack(">I", 2 ** 31) + b"x", struct.pack(">I", 5) + b"\\xff\\xfe{[\\x00",
                 struct.pack(">I", 200000) + b"[" * 100000 + b"]" * 100000,
                 struct.pack(">I", 22) + b'[["ok", 1, "x", true]]'):
        try:
            os.write(4, junk)
        except OSError:
            pass
    return "junk"
""", LONG, {"crashed", "ok"}),
    "close the result channel and go on": ("""
import os
def attack():
    for fd in range(3, 64):
        try:
            os.close(fd)
        except OSError:
            pass
""" + _LOOP_FOREVER, SHORT, {"crashed", "timeout"}),
    "rewrite the progress record to blame another call": ("""
import os, struct, sys
def attack():
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "mmap":
                struct.pack_into("<qd", value, 0, 1, 0.0)
        frame = frame.f_back
    try:
        for name in os.listdir(".."):
            with open(os.path.join("..", name), "r+b") as f:
                f.write(struct.pack("<q", 1))
    except OSError:
        pass
""" + _LOOP_FOREVER, SHORT, {"timeout"}),
    "leave a stale progress index and crash": ("""
import faulthandler, struct, sys
def attack():
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "mmap":
                struct.pack_into("<qd", value, 0, 10 ** 6, 0.0)
        frame = frame.f_back
    faulthandler._read_null()
""", LONG, {"crashed"}),
    "clear the Python policy table": ("""
import sys
def attack():
    for name in ("_confine", "toolgym.sandbox._confine"):
        module = sys.modules.get(name)
        if module is not None:
            for table in ("_DENIED_EVENTS", "_PATH_EVENTS"):
                getattr(module, table).clear()
    import socket
    socket.socket()
    return "socket opened"
""", LONG, {"tool_error"}),
    "clear the Python policy table via pickle": ("""
import pickle
def attack():
    pickle.loads(b"c_confine\\n_DENIED_EVENTS\\n.").clear()
    pickle.loads(b"c_confine\\n_PATH_EVENTS\\n.").clear()
    import socket
    socket.socket()
    return "socket opened"
""", LONG, {"tool_error"}),
    "clear the parent-death signal": ("""
import ctypes, sys
def attack():
    module = sys.modules.get("_confine")
    if module is not None:
        module._DENIED_EVENTS.clear()
    ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)
    return "cleared"
""", LONG, {"tool_error"}),
    "read other environments' sources": ("""
import sys
SECRETS = ["SECRET-" + name + "-5d1c" for name in ("alpha", "beta", "gamma")]  # built here: not in this source
def attack():
    found, seen, stack = set(), set(), []
    stack.extend(sys.modules.values())
    frame = sys._getframe()
    while frame is not None:
        stack.append(frame.f_locals)
        stack.append(frame.f_globals)
        frame = frame.f_back
    budget = 300000
    while stack and budget:
        budget -= 1
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if any(obj is s for s in SECRETS):
            continue
        try:
            if isinstance(obj, (str, bytes, bytearray, memoryview)) or type(obj).__name__ == "mmap":
                text = bytes(obj[:1 << 22]).decode("latin-1") if not isinstance(obj, str) else obj
                found.update(s for s in SECRETS if s in text)
                continue
            if isinstance(obj, dict):
                stack.extend(obj.keys())
                stack.extend(obj.values())
            elif isinstance(obj, (list, tuple, set, frozenset)):
                stack.extend(obj)
            elif hasattr(obj, "__dict__"):
                stack.append(vars(obj))
            if hasattr(obj, "co_consts"):
                stack.extend(obj.co_consts)
            if hasattr(obj, "__code__"):
                stack.append(obj.__code__)
        except Exception:  # objects that refuse to be looked at (ctypes libraries, say)
            continue
    for path in ("/proc/self/mem", "/proc/self/maps"):
        try:
            open(path, "rb").read(1)
            found.add(path + " readable")
        except OSError:
            pass
    return sorted(found)
""", LONG, {"ok", "crashed"}),  # poking at everything can crash its own interpreter
    "patch modules and builtins": ("""
import builtins, json, math, sys, threading, types
def attack():
    json.dumps = lambda *a, **k: "PATCHED"
    builtins.len = lambda x: 42
    math.sqrt = lambda x: -1.0
    fake = types.ModuleType("math")
    fake.sqrt = lambda x: -2.0
    sys.modules["math"] = fake
    threading.active_count = lambda: 99
    __builtins__["open"] = None
    return "patched"
""", LONG, {"ok", "crashed"}),  # with len patched, its own process can no longer report (its own loss)
    "hoard memory in a module global": ("""
import os
def attack():
    os._hoard = bytearray(360 << 20)
    return len(os._hoard)
""", LONG, {"ok", "memory"}),
    "hoard file descriptors in a module global": ("""
import os
def attack():
    os._fds = []
    try:
        while True:
            os._fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    return len(os._fds)
""", LONG, {"ok"}),
    "leave threads burning CPU": ("""
import threading
def spin():
    while True:
        pass
def attack():
    for _ in range(4):
        threading.Thread(target=spin, daemon=True).start()
    return "spinning"
""", LONG, {"ok"}),
    "leave files behind": ("""
import os
def attack():
    with open("scratch.txt", "w") as f:
        f.write("left by the attacker")
    os.mkdir("dir")
    with open("dir/deep.txt", "w") as f:
        f.write("x")
    return sorted(os.listdir("."))
""", LONG, {"ok"}),
    "fill the disk with many files": ("""
def attack():
    written = 0
    chunk = b"x" * (1 << 20)
    try:
        for i in range(64):
            with open(f"f{i}", "wb") as f:
                for _ in range(15):
                    f.write(chunk)
                    written += len(chunk)
    except OSError:
        pass
    return written
""", LONG, {"ok"}),
    "poison the regular-expression cache": ("""
import re
def attack():
    re.purge()
    re._cache[(str, "a+", 0)] = re.compile("t")
    re.compile = lambda *a, **k: re._compile("t", 0)
    return re.sub("a+", "b", "caaat")
""", LONG, {"ok"}),
    "change the working folder and the umask": ("""
import os
def attack():
    os.umask(0o777)
    os.chdir("/")
    return os.getcwd()
""", LONG, {"ok"}),
    "lower the resource limits": ("""
import resource
def attack():
    resource.setrlimit(resource.RLIMIT_NOFILE, (8, 8))
    resource.setrlimit(resource.RLIMIT_AS, (64 << 20, 64 << 20))
    return "lowered"
""", LONG, {"tool_error"}),
    "write into the other folders": ("""
import os
def attack():
    written = []
    for root in ("..", "../..", "/tmp"):
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(root, name, "scratch.txt"), "w") as f:
                    f.write("planted")
                written.append(name)
            except OSError:
                pass
    return written
""", LONG, {"ok", "tool_error"}),
    "signal the worker, the pool and other call processes": ("""
import os, signal
def attack():
    denied = []
    for pid in [os.getppid(), 1] + [os.getpid() + d for d in range(-8, 9) if d]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as exc:
            denied.append(type(exc).__name__)
    try:
        os.killpg(0, signal.SIGKILL)
    except OSError:
        pass
    return len(denied)
""", LONG, {"ok", "tool_error"}),
}


@pytest.fixture(scope="module")
def iso_pool():
    with SandboxPool(workers=2, limits=SandboxLimits(timeout_s=LONG, grace_s=0.5, memory_mb=MEMORY_MB)) as pool:
        yield pool


def innocent_requests() -> list[ExecRequest]:
    return [ExecRequest("probe", {"x": i}, INNOCENT[name]) for i in range(2) for name in INNOCENT]


def hostile_request(name: str) -> ExecRequest:
    source, timeout, _ = ATTACKS[name]
    # the hostile environment also carries one innocent environment's tool, source for source
    return ExecRequest("attack", {}, {"attack": source, "probe": INNOCENT["alpha"]["probe"]}, timeout)


def _seen(results) -> list[tuple[str, str]]:
    return [(r.status, r.output) for r in results]


@pytest.fixture(scope="module")
def clean(iso_pool):
    first = _seen(iso_pool.run(innocent_requests()))
    assert first == _seen(iso_pool.run(innocent_requests()))  # innocent results are reproducible
    for status, output in first:
        out = json.loads(output)
        assert status == "ok" and out["threads"] == 1 and out["files_seen"] == [] and out["memory"] == 64 << 20
        assert out["dumps"] == '{"k": [1, 2]}' and out["socket"].startswith("sandbox: network access")
    return first


def test_the_corpus_covers_every_attack_on_the_list():
    assert len(ATTACKS) >= 20


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_hostile_environment_does_not_reach_the_others(iso_pool, clean, name):
    innocent = innocent_requests()
    half = len(innocent) // 2
    batch = innocent[:half] + [hostile_request(name)] + innocent[half:]
    results = iso_pool.run(batch)  # returns (no exception, no hang), one result per request
    assert len(results) == len(batch)
    assert _seen(results[:half] + results[half + 1:]) == clean
    assert _seen(iso_pool.run(innocent)) == clean  # and the next batch
    hostile = results[half]
    assert hostile.status in ATTACKS[name][2], (hostile.status, hostile.output[:300])
    if name == "read other environments' sources" and hostile.ok:
        assert hostile.output == "[]"
    if name == "fill the disk with many files" and iso_pool.layers.get("disk quota", "").split()[0].isdigit():
        assert int(hostile.output) <= int(iso_pool.layers["disk quota"].split()[0]) << 20
    if name in ("clear the Python policy table", "clear the Python policy table via pickle"):
        assert "sandbox: network access" in hostile.output  # not even for itself


REACHABLE_RECORDS = """
import sys
def attack():
    # every mmap reachable from the frames and the objects they hold: the worker's running-call records
    seen, stack, found = set(), [], []
    frame = sys._getframe()
    while frame is not None:
        stack.append(frame.f_locals)
        stack.append(frame.f_globals)
        frame = frame.f_back
    budget = 200000
    while stack and budget:
        budget -= 1
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if type(obj).__module__ in ("ctypes", "_ctypes") or "ctypes" in type(type(obj)).__module__:
            continue  # C data: reading it can crash the process
        try:
            if type(obj).__name__ == "mmap":
                found.append(obj)
            elif isinstance(obj, dict):
                stack.extend(obj.values())
            elif isinstance(obj, (list, tuple, set, frozenset)):
                stack.extend(obj)
            elif hasattr(obj, "__dict__") and not isinstance(obj, type(sys)):
                stack.append(vars(obj))
            if hasattr(obj, "__closure__") and obj.__closure__:
                stack.extend(c.cell_contents for c in obj.__closure__)
        except Exception:
            continue
    writable = 0
    for m in found:
        try:
            if len(m) > 64:
                continue  # not a record (the worker's buffers for groups, not even mapped here)
            m[0:1] = m[0:1]
            writable += 1
        except (ValueError, TypeError):
            pass
    return writable
"""


def test_a_call_process_can_write_no_other_process_s_running_call_record(iso_pool):
    """The records of which call runs (one per folder) must not be writable from another folder's process:
    a wrong record could move the blame for another environment's timeout or crash."""
    (result,) = iso_pool.run([ExecRequest("attack", {}, {"attack": REACHABLE_RECORDS}, LONG)])
    assert (result.status, result.output) == ("ok", "1")  # its own


def test_the_hostile_environment_keeps_its_own_copy_of_a_shared_tool(iso_pool, clean):
    """A tool source that two environments share runs in each environment's own process."""
    patch = "import json\ndef attack():\n    json.dumps = lambda *a, **k: 'PATCHED'\n    return 'patched'"
    code = {"attack": patch, "probe": INNOCENT["alpha"]["probe"]}
    results = iso_pool.run([ExecRequest("attack", {}, code), ExecRequest("probe", {"x": 0}, code),
                            ExecRequest("probe", {"x": 0}, INNOCENT["alpha"])])
    assert _seen(results[2:]) == clean[:1]
    assert results[1].output != results[2].output  # its own calls see its own patches, as in one process


def test_every_attack_in_one_batch_with_the_innocent(iso_pool, clean):
    innocent = innocent_requests()
    batch, positions = [], []
    for name in ATTACKS:
        batch.append(hostile_request(name))
        positions.append(len(batch))
        batch.extend(innocent)
    results = iso_pool.run(batch)
    for start in positions:
        assert _seen(results[start:start + len(innocent)]) == clean
    assert _seen(iso_pool.run(innocent)) == clean


def test_score_batch_gives_the_innocent_the_same_rewards(iso_pool, clean):
    def item(code, name, args) -> TurnState:
        call = "<tool_call>\n" + json.dumps({"name": name, "arguments": args}) + "\n</tool_call>"
        return TurnState(response=call, codes=code, unsolved={"probe": ['"x": 2']})

    innocent = [item(INNOCENT[n], "probe", {"x": i}) for i in range(1, 3) for n in INNOCENT]
    alone = score_batch(innocent, executor=iso_pool)
    hostile = [item({"attack": src, "probe": INNOCENT["alpha"]["probe"]}, "attack", {}) for src, _, _ in ATTACKS.values()
               if _ is LONG]
    mixed = score_batch(hostile[:len(hostile) // 2] + innocent + hostile[len(hostile) // 2:], executor=iso_pool)
    mine = mixed[len(hostile) // 2:len(hostile) // 2 + len(innocent)]
    assert [(s.reward, _seen(s.results)) for s in mine] == [(s.reward, _seen(s.results)) for s in alone]
    assert [s.reward for s in alone].count(1.0) == len(INNOCENT)  # x == 2 solves it, once per environment


# ---- the parent-death signal and leftovers of a killed run ------------------------------------------------

_KILLED_RUN = """
import os, sys
from toolgym.sandbox import ExecRequest, SandboxLimits, SandboxPool
from toolgym.schema import TurnState
pool = SandboxPool(workers=1, limits=SandboxLimits(timeout_s=600)).start()
(worker,) = pool._all
print(worker.proc.pid, pool._root, flush=True)
source = '''
import ctypes
def hang():
    try:
        ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)
    except Exception:
        pass
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
'''
pool.run([ExecRequest("hang", {}, {"hang": source})])
"""


def _children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def _descendants(pid: int) -> set[int]:
    found = _children(pid)
    for child in list(found):
        found |= _descendants(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_until(condition, what: str, limit_s: float = 120.0) -> None:
    """Polls ``condition``; fails only when it is still false after ``limit_s`` (a hang detector, not a
    speed requirement)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {limit_s:g} s: {what}")
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals and /proc are Linux's")
def test_nothing_outlives_a_killed_run_and_its_folders_are_cleaned_next_time(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.Popen([sys.executable, "-c", _KILLED_RUN], stdout=subprocess.PIPE, text=True, env=env)
    try:
        worker_pid, root = run.stdout.readline().split()
        worker_pid = int(worker_pid)
        # the call is running once the worker's template has forked two call processes: the busy one and the
        # next, waiting
        _wait_until(lambda: len(_descendants(worker_pid)) >= 3, "the hostile call to start")
        processes = {worker_pid} | _descendants(worker_pid)
        run.send_signal(signal.SIGKILL)
        run.wait()
        _wait_until(lambda: not any(_alive(p) for p in processes), "the worker and its call processes to end")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert Path(root).exists()  # kill -9 left it; the next pool removes it
    subprocess.run([sys.executable, "-c", "from toolgym.sandbox import SandboxPool\nSandboxPool(workers=1).start().close()"],
                   env=env, check=True)
    assert not Path(root).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("toolgym-sandbox-")]
