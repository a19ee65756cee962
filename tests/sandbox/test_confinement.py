"""The operating-system layers, where this machine has them (Landlock, seccomp)."""

import pytest

from toolgym.sandbox import ExecRequest, SandboxPool


@pytest.fixture(scope="module")
def layers(pool):
    return pool.layers


def _run(pool, source, **args):
    return pool.run([ExecRequest("t", args, {"t": source})])[0]


def test_landlock_blocks_reading_private_files(pool, layers, tmp_path):
    if not layers.get("landlock", "").startswith("ABI"):
        pytest.skip(f"Landlock not available here: {layers.get('landlock')}")
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    r = _run(pool, "def t(p):\n    return open(p).read()", p=str(secret))
    assert r.status == "tool_error" and "private" not in r.output and "Permission denied" in r.output


def test_seccomp_blocks_fork_even_through_raw_syscalls(pool, layers):
    if layers.get("seccomp") != "on":
        pytest.skip(f"seccomp not available here: {layers.get('seccomp')}")
    # posix.fork is the C function behind os.fork; calling it bypasses any Python-level patching of os
    # but not the audit hook -- so go lower: ask the kernel through the syscall() of a pre-loaded module.
    r = _run(pool, "import posix\ndef t():\n    return posix.fork()")
    assert r.status == "tool_error"


def test_unconfined_pool_runs_without_os_layers():
    with SandboxPool(workers=1, confine=False) as p:
        assert set(p.layers) == {"rlimits", "processes"}
        r = p.run([ExecRequest("t", {}, {"t": "def t():\n    return 'plain'"})])[0]
        assert r.output == "plain"
