"""The isolated pool behaves exactly like the reference's in-process call, only isolated."""

import json
import threading

import pytest

from toolgym.errors import ConfigError
from toolgym.sandbox import (
    ExecRequest,
    ExecResult,
    SandboxLimits,
    SandboxPool,
    UnsafeInProcessExecutor,
    make_executor,
)

CODE = {
    "as_dict": "def as_dict(x):\n    return {'x': x, 'ü': 'ß'}",
    "as_list": "def as_list(n):\n    return list(range(n))",
    "as_tuple": "def as_tuple():\n    return (1, 'a')",
    "as_none": "def as_none():\n    return None",
    "as_float": "def as_float():\n    return 0.1 + 0.2",
    "as_str_subclass": "class S(str):\n    pass\ndef as_str_subclass():\n    return S('sub')",
    "as_ordered": "from collections import OrderedDict\ndef as_ordered():\n    return OrderedDict(a=1)",
    "as_set": "def as_set():\n    return {'b', 'a', 'c'}",
    "unserialisable": "def unserialisable():\n    return {'s': {1, 2}}",
    "raises": "def raises(k):\n    return {'a': 1}[k]",
    "syntax": "def syntax(:\n    pass",
    "defines_other": "def other():\n    return 1",
    "defaults": "def defaults(a, b=2, *, c=3):\n    return a + b + c",
    "module_state": "COUNTER = [0]\ndef module_state():\n    COUNTER[0] += 1\n    return COUNTER[0]",
    "uses_name": "def uses_name():\n    return __name__",
}

REQUESTS = [
    ("as_dict", {"x": [1, None]}), ("as_list", {"n": 3}), ("as_tuple", {}), ("as_none", {}), ("as_float", {}),
    ("as_str_subclass", {}), ("as_ordered", {}), ("unserialisable", {}), ("raises", {"k": "zz"}),
    ("syntax", {}), ("defines_other", {}), ("defaults", {"a": 1}), ("defaults", {"a": 1, "c": 10}),
    ("defaults", {}), ("defaults", {"a": 1, "d": 0}), ("defaults", [1, 2]), ("module_state", {}),
    ("module_state", {}), ("missing_tool", {}), ("uses_name", {}),
]


def _module_call(name, arguments, codes):
    """What toolgym's default scoping returns for one call: the source runs as a module of its own (a fresh
    namespace), then ``name(**arguments)``, formatted and worded as the paper's code does. (Equal to the
    paper's call_function for self-contained sources only; the conformance suite checks that against the
    reference's own code.)"""
    try:
        code = codes[name]
        namespace = {}
        exec(code, namespace, namespace)
        if name not in namespace:
            raise NameError(f"name '{name}' is not defined")
        value = namespace[name](**arguments)
        if type(value) is dict or type(value) is list:
            return json.dumps(value, ensure_ascii=False)
        return value if type(value) is str else str(value)
    except Exception as exc:
        return f"an error occured when call {name}: {exc}"


def test_outputs_are_the_default_scopings(pool):
    got = pool.run([ExecRequest(n, a, CODE) for n, a in REQUESTS])
    want = [_module_call(n, a, CODE) for n, a in REQUESTS]
    assert [r.output for r in got] == want


def test_statuses(pool):
    got = {n: r.status for (n, _), r in zip(REQUESTS, pool.run([ExecRequest(n, a, CODE) for n, a in REQUESTS]))}
    assert got["as_dict"] == "ok" and got["raises"] == "tool_error" and got["missing_tool"] == "tool_error"
    assert got["syntax"] == "tool_error" and got["defines_other"] == "tool_error"


def test_unsafe_inprocess_executor_gives_the_same_outputs(pool):
    reqs = [ExecRequest(n, a, CODE) for n, a in REQUESTS]
    with UnsafeInProcessExecutor() as unsafe:
        assert [r.output for r in unsafe.run(reqs)] == [r.output for r in pool.run(reqs)]


def test_set_order_is_the_same_in_every_worker(pool):
    # (sets are left out of the comparisons above: their order depends on the process's hash seed,
    # which the workers fix so that outputs are reproducible)
    outputs = {r.output for r in pool.run([ExecRequest("as_set", {}, CODE)] * 40)}
    assert len(outputs) == 1


def test_many_calls_over_many_environments_keep_their_order(pool):
    envs = [{"f": f"def f(i):\n    return 'env{k}:' + str(i)"} for k in range(50)]
    reqs = [ExecRequest("f", {"i": i}, envs[i % 50]) for i in range(3000)]
    results = pool.run(reqs)
    assert [r.output for r in results] == [f"env{i % 50}:{i}" for i in range(3000)]


def test_calls_of_one_environment_share_a_process_and_no_other_environment_does(pool):
    code_a = {"pid": "import os\ndef pid():\n    return os.getpid()"}
    code_b = {"pid": "import os\ndef pid():\n    return os.getpid()", "other": "def other():\n    return 1"}
    results = pool.run([ExecRequest("pid", {}, code_a)] * 3 + [ExecRequest("pid", {}, code_b)] * 3)
    a, b = {r.output for r in results[:3]}, {r.output for r in results[3:]}
    assert len(a) == 1 and len(b) == 1 and a != b  # same sources in both, but b has another tool
    again = pool.run([ExecRequest("pid", {}, code_a)])[0].output
    assert again not in a | b  # a fresh process for every batch


def test_per_request_timeout_and_output_cap():
    with SandboxPool(workers=1, limits=SandboxLimits(timeout_s=5, output_chars=100)) as pool:
        slow = {"s": "import time\ndef s():\n    time.sleep(2)\n    return 'late'",
                "big": "def big():\n    return 'y' * 1000"}
        r = pool.run([ExecRequest("s", {}, slow, timeout_s=0.3), ExecRequest("big", {}, slow)])
        assert r[0].status == "timeout" and "0.3 seconds" in r[0].output
        assert r[1].status == "ok" and r[1].output.startswith("y" * 100) and "truncated" in r[1].output


def test_arguments_that_are_not_json_are_a_tool_error(pool):
    r = pool.run([ExecRequest("as_none", {"x": {1, 2}}, CODE)])[0]
    assert r.status == "tool_error" and "not JSON" in r.output


def test_arguments_nested_too_deep_for_json_are_a_tool_error_of_their_own_call(pool):
    deep: list = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    results = pool.run([ExecRequest("as_list", {"n": 1}, CODE), ExecRequest("as_list", {"n": deep}, CODE),
                        ExecRequest("as_list", {"n": 2}, CODE)])
    assert [r.status for r in results] == ["ok", "tool_error", "ok"]
    assert "not JSON" in results[1].output


def test_concurrent_callers_share_the_pool(pool):
    out: dict[int, list[ExecResult]] = {}

    def worker(k):
        out[k] = pool.run([ExecRequest("as_list", {"n": k}, CODE)] * 50)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, results in out.items():
        assert {r.output for r in results} == {json.dumps(list(range(k)))}


def test_async_api(pool):
    import asyncio

    results = asyncio.run(pool.arun([ExecRequest("as_tuple", {}, CODE)]))
    assert results[0].output == "(1, 'a')"


def test_closed_pool_reports_infrastructure_errors():
    p = SandboxPool(workers=1).start()
    p.close()
    r = p.run([ExecRequest("as_none", {}, CODE)])[0]
    assert r.status == "infra_error" and "sandbox unavailable" in r.output


def test_crashes_and_timeouts_are_counted():
    with SandboxPool(workers=1, limits=SandboxLimits(timeout_s=0.3, grace_s=0.2)) as p:
        code = {"die": "import faulthandler\ndef die():\n    faulthandler._read_null()",
                # a swallowed timeout leaves the call to the worker's watchdog
                "swallow": "def swallow():\n    while True:\n        try:\n            while True: pass\n"
                           "        except BaseException:\n            pass"}
        results = p.run([ExecRequest("die", {}, code), ExecRequest("swallow", {}, code), ExecRequest("as_none", {}, CODE)])
        assert [r.status for r in results] == ["crashed", "timeout", "ok"]
        assert "SIGSEGV" in results[0].output
        assert p.stats["crashes"] == 1 and p.stats["timeouts"] == 1 and p.stats["worker_restarts"] == 0


def test_a_dead_worker_is_replaced_and_its_calls_sent_again():
    with SandboxPool(workers=1) as p:
        victim = next(iter(p._all))
        victim.proc.kill()
        victim.proc.wait()
        results = p.run([ExecRequest("as_list", {"n": 2}, CODE)] * 5)
        assert [r.output for r in results] == ["[0, 1]"] * 5
        assert p.stats["worker_restarts"] == 1


def test_make_executor():
    assert make_executor("unsafe-inprocess").name == "unsafe-inprocess"
    with pytest.raises(ConfigError, match="unknown executor 'docker'; use --executor with one of sandbox"):
        make_executor("docker")


def test_layers_are_reported(pool):
    assert {"rlimits", "audit"} <= set(pool.layers)


def test_default_pool_size_from_the_environment(monkeypatch):
    import toolgym.sandbox._pool as pool_module

    monkeypatch.setattr(pool_module, "_default", None)
    monkeypatch.setenv("TOOLGYM_SANDBOX_WORKERS", "1")
    p = pool_module.default_pool()
    try:
        assert p.size == 1 and pool_module.default_pool() is p
    finally:
        p.close()
        monkeypatch.setattr(pool_module, "_default", None)


def test_workers_replaced_from_a_short_lived_thread_outlive_it():
    """A worker's parent-death signal follows the thread that started it; the pool starts every worker from
    its own long-lived thread, so replacements made during a call from a temporary thread survive it."""
    with SandboxPool(workers=1) as p:
        code = {"ok": "def ok():\n    return 'fine'"}
        victim = next(iter(p._all))
        victim.proc.kill()
        victim.proc.wait()
        box = {}
        t = threading.Thread(target=lambda: box.update(r=p.run([ExecRequest("ok", {}, code)])))
        t.start()
        t.join()
        assert box["r"][0].output == "fine" and p.stats["worker_restarts"] == 1
        (replacement,) = p._all
        assert replacement.proc.poll() is None  # the thread that asked for it is gone; the worker is not
        assert p.run([ExecRequest("ok", {}, code)])[0].output == "fine"


def test_callers_in_many_threads_each_get_their_own_results():
    with SandboxPool(workers=1, limits=SandboxLimits(timeout_s=5.0, grace_s=0.5)) as p:
        code = {"die": "import faulthandler\ndef die():\n    faulthandler._read_null()",
                "ok": "def ok(i):\n    return i"}
        results = {}

        def call(k):
            name = "die" if k % 2 else "ok"
            results[k] = p.run([ExecRequest(name, {"i": k} if name == "ok" else {}, code)])[0]

        threads = [threading.Thread(target=call, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {r.status for k, r in results.items() if k % 2} == {"crashed"}
        assert all(results[k].output == str(k) for k in range(0, 8, 2))


def test_groups_larger_than_a_pipe_still_flow():
    """What the pool sends a worker can exceed what its pipe holds: the rest goes when there is room."""
    with SandboxPool(workers=1) as p:
        envs = [{"f": f"PAD = {'x' * 200_000!r}\ndef f(i):\n    return {k} + i"} for k in range(12)]
        results = p.run([ExecRequest("f", {"i": 1}, envs[k]) for k in range(12) for _ in range(3)])
        assert [r.output for r in results] == [str(k + 1) for k in range(12) for _ in range(3)]
        assert p.stats["worker_restarts"] == 0


def test_environments_may_share_a_process_when_asked():
    """``isolate_environments=False`` (trusted code only): calls of several environments share a call
    process, each still in a fresh namespace with its own sources, even when their tools have one name."""
    envs = [{"f": f"import os\ndef f():\n    return f'{k} ' + str(os.getpid())"} for k in range(6)]
    with SandboxPool(workers=1, isolate_environments=False) as p:
        results = p.run([ExecRequest("f", {}, env) for env in envs])
        assert [r.output.split()[0] for r in results] == [str(k) for k in range(6)]
        assert len({r.output.split()[1] for r in results}) == 1
        assert "several environments" in p.layers["processes"]
