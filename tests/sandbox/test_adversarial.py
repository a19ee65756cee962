"""An adversarial corpus: tool code that tries to escape, hang, exhaust or break the sandbox.

Each program must come back as a typed result (an error the model sees, or a harmless output); the
test process and the pool must survive, and a normal call must work right after. The checks here hold
with the Python-level layer alone; the OS layers (Landlock, seccomp) are tested separately where the
machine has them. Attacks on other environments (the worker's protocol, the pool's bookkeeping, state
left for the next environment) are in ``test_isolation.py``.

No check depends on how fast the machine is: a program that must end on a resource limit (memory,
processes, disk) gets a timeout far beyond what it needs (:data:`LONG`), and only programs that never end
on their own (loops, sleeps) run under a short one.
"""

import os
from pathlib import Path

import pytest

from toolgym.sandbox import ExecRequest, SandboxLimits, SandboxPool

SECRET = "tg-secret-7f3a9c"
BAD = {"tool_error", "timeout", "memory", "crashed"}
SHORT, LONG = 1.0, 120.0  # seconds: for programs that never end / for everything else

# name -> (source of a function called `t`, the statuses allowed, a string the output must NOT contain)
CORPUS = {
    "fork bomb": ("import os\ndef t():\n    while True:\n        os.fork()", BAD, None),
    "fork via ctypes": ("import ctypes\ndef t():\n    return ctypes.CDLL(None).fork()", BAD, None),
    "fork via multiprocessing": (
        "import multiprocessing\ndef t():\n    p = multiprocessing.Process(target=print)\n    p.start()\n    return 'started'",
        BAD, "started"),
    "memory bomb (10 GB)": ("def t():\n    x = bytearray(10 * 1024 ** 3)\n    return len(x)", {"memory"}, None),
    "memory creep": ("def t():\n    xs = []\n    while True:\n        xs.append(bytearray(8 << 20))", {"memory"}, None),
    "infinite loop": ("def t():\n    while True:\n        pass", {"timeout"}, None),
    "loop that swallows the timeout": (
        "def t():\n    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n            pass",
        {"timeout"}, None),
    "busy CPU in C (regex backtracking)": (
        "import re\ndef t():\n    return bool(re.match(r'(a+)+$', 'a' * 64 + 'b'))", {"timeout"}, None),
    "sleep": ("import time\ndef t():\n    time.sleep(3600)", {"timeout"}, None),
    "socket connect": ("import socket\ndef t():\n    s = socket.socket()\n    s.connect(('1.1.1.1', 80))\n    return 'connected'",
                       BAD, "connected"),
    "DNS lookup": ("import socket\ndef t():\n    return socket.gethostbyname('example.com')", BAD, None),
    "http request": ("import urllib.request\ndef t():\n    return urllib.request.urlopen('http://example.com').read()",
                     BAD, None),
    "UDP socket": ("import socket\ndef t():\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))",
                   BAD, None),
    "write to /etc": ("def t():\n    open('/etc/toolgym-pwned', 'w').write('x')\n    return 'written'", BAD, "written"),
    "write to the home folder": ("def t(home):\n    open(home + '/toolgym-pwned', 'w').write('x')\n    return 'written'",
                                 BAD, "written"),
    "delete a file outside": ("import os\ndef t(home):\n    os.remove(home + '/toolgym-victim')\n    return 'deleted'",
                              BAD, "deleted"),
    "rename into place outside": (
        "import os\ndef t(home):\n    open('f', 'w').write('x')\n    os.rename('f', home + '/toolgym-pwned')\n    return 'moved'",
        BAD, "moved"),
    "symlink escape": ("import os\ndef t():\n    os.symlink('/etc', 'etc')\n    open('etc/pwned', 'w')\n    return 'ok'",
                       BAD, None),
    "read the parent's environment": (
        "import os\ndef t(ppid):\n    return open(f'/proc/{ppid}/environ').read()", BAD, SECRET),
    "read our own environment": ("import os\ndef t():\n    return dict(os.environ)", {"ok"}, SECRET),
    "kill the parent": ("import os, signal\ndef t(ppid):\n    os.kill(ppid, signal.SIGKILL)\n    return 'killed'",
                        BAD, "killed"),
    "kill the process group": ("import os, signal\ndef t():\n    os.killpg(0, signal.SIGKILL)", BAD, None),
    "sys.exit": ("import sys\ndef t():\n    sys.exit(3)", {"tool_error"}, None),
    "os._exit": ("import os\ndef t():\n    os._exit(0)", BAD, None),
    "raise KeyboardInterrupt": ("def t():\n    raise KeyboardInterrupt", {"tool_error"}, None),
    # a call process may not send signals at all, not even to itself
    "kill itself": ("import os, signal\ndef t():\n    os.kill(os.getpid(), signal.SIGKILL)", {"crashed", "tool_error"}, None),
    "abort": ("import os\ndef t():\n    os.abort()", {"crashed", "tool_error"}, None),
    "segfault": ("import faulthandler\ndef t():\n    faulthandler._read_null()", {"crashed"}, None),
    "segfault by C recursion": ("import json, sys\ndef t():\n    sys.setrecursionlimit(10 ** 7)\n    x = []\n"
                                "    for _ in range(10 ** 6):\n        x = [x]\n    return json.dumps(x)", {"crashed"}, None),
    "ctypes segfault": ("import ctypes\ndef t():\n    return ctypes.string_at(0)", BAD, None),
    "deep recursion": ("def t():\n    return t()", {"tool_error"}, None),
    "recursion with the limit raised": (
        "import sys\ndef r(n):\n    return r(n + 1)\ndef t():\n    sys.setrecursionlimit(10 ** 7)\n    return r(0)",
        BAD, None),
    "replace the alarm handler": ("import signal\ndef t():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                  "    while True:\n        pass", BAD, None),
    "replace the handler via _signal": ("import _signal\ndef t():\n    _signal.signal(14, _signal.SIG_IGN)\n"
                                        "    while True:\n        pass", BAD, None),
    "giant output": ("def t():\n    return 'x' * 50_000_000", {"ok"}, None),
    "print flood": ("def t():\n    for _ in range(200000):\n        print('spam' * 10)\n    return 'done'", {"ok"}, None),
    "subprocess shell": ("import subprocess\ndef t():\n    return subprocess.check_output('id', shell=True)", BAD, None),
    "os.system": ("import os\ndef t():\n    return os.system('touch /tmp/toolgym-pwned')", BAD, None),
    "exec a binary": ("import os\ndef t():\n    os.execv('/bin/sh', ['sh', '-c', 'true'])", BAD, None),
    "raise resource limits": ("import resource\ndef t():\n    resource.setrlimit(resource.RLIMIT_AS, (-1, -1))", BAD, None),
    "big file": ("def t():\n    open('big', 'wb').write(b'x' * (64 << 20))\n    return 'written'", BAD, "written"),
    "threads left running": (
        "import threading\ndef spin():\n    while True:\n        pass\n"
        "def t():\n    for _ in range(4):\n        threading.Thread(target=spin, daemon=True).start()\n    return 'spawned'",
        {"ok"}, None),
    "forge the protocol": ("import os\ndef t():\n    for fd in range(3, 10):\n        try:\n"
                           "            os.write(fd, b'\\x00\\x00\\x00\\x05junk!')\n        except OSError:\n"
                           "            pass\n    return 'forged'", BAD | {"ok"}, None),
    "close the sandbox's pipes": ("import os\ndef t():\n    for fd in range(3, 10):\n        try:\n"
                                  "            os.close(fd)\n        except OSError:\n            pass\n    return 'closed'",
                                  BAD | {"ok"}, None),
    "read stdin": ("import sys\ndef t():\n    return sys.stdin.read() + 'EOF'", {"ok"}, None),
    "walk the heap": ("import gc\ndef t():\n    return len(gc.get_objects())", BAD, None),
    "unprintable exception": ("class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
                              "def t():\n    raise E()", {"tool_error"}, None),
    "result whose str() hangs": ("class R:\n    def __str__(self):\n        while True:\n            pass\n"
                                 "def t():\n    return R()", {"timeout"}, None),
    "poison builtins": ("def t():\n    __builtins__['len'] = None\n    import builtins\n    return 'poisoned'",
                        {"ok"}, None),
}


NEVER_ENDS = {"infinite loop", "loop that swallows the timeout", "busy CPU in C (regex backtracking)", "sleep",
              "replace the alarm handler", "replace the handler via _signal", "result whose str() hangs"}


def timeout_of(name: str) -> float:
    return SHORT if name in NEVER_ENDS else LONG


@pytest.fixture(scope="module")
def hostile_pool():
    with SandboxPool(workers=2, limits=SandboxLimits(timeout_s=LONG, grace_s=0.5, memory_mb=256)) as pool:
        yield pool


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    (home / "toolgym-victim").write_text("still here")
    os.environ["TOOLGYM_TEST_SECRET"] = SECRET
    return {"home": str(home), "ppid": os.getpid()}


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_tool_is_contained(hostile_pool, context, name):
    source, allowed, forbidden = CORPUS[name]
    args = {k: context[k] for k in ("home", "ppid") if f"def t({k})" in source}
    result = hostile_pool.run([ExecRequest("t", args, {"t": source}, timeout_of(name))])[0]
    assert result.status in allowed, (result.status, result.output[:300])
    if result.status != "ok":
        assert result.output.startswith("an error occured when call t: ")
    if forbidden:
        assert forbidden not in result.output
    assert len(result.output) <= hostile_pool.limits.output_chars + 200
    # the pool survives and works right after
    after = hostile_pool.run([ExecRequest("ok", {"x": 2}, {"ok": "def ok(x):\n    return {'double': x * 2}"})])[0]
    assert (after.status, after.output) == ("ok", '{"double": 4}')


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 30


def test_nothing_escaped_to_the_file_system(hostile_pool, context):
    # runs after the corpus (same module, later in order)
    home = Path(context["home"])
    assert (home / "toolgym-victim").read_text() == "still here"
    assert not (home / "toolgym-pwned").exists()
    assert not Path("/etc/toolgym-pwned").exists()
    assert not Path("/tmp/toolgym-pwned").exists()


def test_the_whole_corpus_in_one_batch(hostile_pool, context):
    """Hostile calls mixed with normal ones in a single run: every result lands at its own position."""
    requests = []
    for i, (name, (source, _, _)) in enumerate(CORPUS.items()):
        args = {k: context[k] for k in ("home", "ppid") if f"def t({k})" in source}
        requests.append(ExecRequest("t", args, {"t": source}, timeout_of(name)))
        requests.append(ExecRequest("echo", {"i": i}, {"echo": "def echo(i):\n    return f'echo {i}'"}))
    results = hostile_pool.run(requests)
    for i in range(1, len(requests), 2):
        assert results[i].status == "ok" and results[i].output == f"echo {requests[i].arguments['i']}"
    for i, name in zip(range(0, len(requests), 2), CORPUS):
        assert results[i].status in CORPUS[name][1], (name, results[i])


def test_state_does_not_leak_to_another_environment(hostile_pool):
    poison = {"poison": "import json\ndef poison():\n    __builtins__['len'] = None\n"
                        "    json.dumps = lambda *a, **k: 'HACKED'\n    return 1"}
    check = {"check": "def check():\n    return {'len works': len('abc')}"}
    results = hostile_pool.run([ExecRequest("poison", {}, poison)] + [ExecRequest("check", {}, check)] * 4)
    assert all(r.output == '{"len works": 3}' for r in results[1:])


def test_toolgyms_own_formatting_survives_a_patched_json(hostile_pool):
    code = {"poison": "import json\ndef poison():\n    json.dumps = lambda *a, **k: 'HACKED'\n    return {'a': 1}",
            "check": "def check():\n    return {'b': 2}"}
    results = hostile_pool.run([ExecRequest("poison", {}, code), ExecRequest("check", {}, code)])
    assert [r.output for r in results] == ['{"a": 1}', '{"b": 2}']


def test_files_written_by_a_tool_do_not_survive_the_call(hostile_pool):
    code = {"w": "import os\ndef w():\n    n = len(os.listdir('.'))\n    open('note', 'w').write('x')\n    return n"}
    results = hostile_pool.run([ExecRequest("w", {}, code)] * 6)
    assert [r.output for r in results] == ["0"] * 6
