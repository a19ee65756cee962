"""What the sandbox defends against, what each layer guarantees, and a self-test that checks the claims
on this machine (``toolgym sandbox-info`` prints all three; ``docs/sandbox.md`` explains them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._protocol import ExecRequest, ExecResult

THREAT_MODEL = (
    "Tool code is untrusted: LLM builders write it, and imported data brings it. It may try anything Python "
    "allows: loop, allocate, crash, fork, open sockets, read secrets, write files, or attack the sandbox and "
    "other environments.",
    "Model output is untrusted: it chooses the arguments (and tool names) of every call, in any shape.",
    "Nothing a tool does may raise in the caller, change another environment's results, or outlive its call's "
    "batch; only its own environment's results are its to spoil.",
)

#: layer -> what it guarantees (reported next to the state each layer has on this machine)
LAYER_GUARANTEES = {
    "processes": "each environment's calls run in a fresh process forked by a clean template of a worker that runs "
                 "no tool code; "
                 "it is killed after its calls, and nothing in it (modules, builtins, threads, memory, descriptors) "
                 "reaches another environment",
    "protocol": "a call process reports on a private pipe; its worker accepts exactly one well-formed result "
                "per call it handed over, and the pool checks the worker the same way",
    "landlock": "no reads outside Python and system libraries, no writes outside the call's own folder, no TCP, "
                "no signals out of the call process (kernel-enforced)",
    "seccomp": "no sockets, processes, exec, ptrace, signals, rlimit raises or namespaces; the parent-death "
               "signal cannot be cleared (kernel-enforced)",
    "disk quota": "everything one call writes, all files together, is capped (a private tmpfs)",
    "rlimits": "memory, file size and open files are capped per process",
    "capabilities": "no root privileges",
    "audit": "the same policy at the Python level, with clear messages; tables out of reach of tool code",
    "nproc": "no new processes (where seccomp is missing)",
}


@dataclass(frozen=True, slots=True)
class Check:
    """One claim, tested: what was tried, what came back, whether that is what the claim promises."""

    probe: str
    status: str
    output: str
    passed: bool


def _code(source: str) -> dict[str, str]:
    return {"t": source}


# probe -> (request, predicate on its result, and on an innocent call that ran in the same batch)
_FORGE = ("import json, os, struct\ndef t():\n    f = json.dumps([['ok', 'FORGED', 0.0, False]] * 8).encode()\n"
          "    for fd in range(3, 32):\n        try:\n            os.write(fd, struct.pack('>I', len(f)) + f)\n"
          "        except OSError:\n            pass\n    return 'forged'")
_PATCH = "import json\ndef t():\n    json.dumps = lambda *a, **k: 'PATCHED'\n    return 'patched'"
_INNOCENT = "import json\ndef t():\n    return json.dumps({'fine': True})"
_PROBES: dict[str, tuple[str, Callable[[ExecResult], bool]]] = {
    "a normal call": ("def t():\n    return 'fine'", lambda r: r.ok and r.output == "fine"),
    "open a socket": ("def t():\n    import socket\n    socket.socket().connect(('1.1.1.1', 80))", lambda r: not r.ok),
    "write /etc": ("def t():\n    open('/etc/toolgym-probe', 'w').write('x')", lambda r: not r.ok),
    "start a process": ("def t():\n    import subprocess\n    return subprocess.run(['true'])", lambda r: not r.ok),
    "signal the worker": ("import os\ndef t():\n    os.kill(os.getppid(), 9)", lambda r: not r.ok),
    "forge result frames": (_FORGE, lambda r: r.status in ("ok", "crashed")),
    "patch a module for the next environment": (_PATCH, lambda r: r.ok),
}


def self_test(executor) -> list[Check]:
    """Run the probes through ``executor`` in one batch, each followed by an innocent environment's call,
    which must come back exactly as when it runs alone."""
    alone = executor.run([ExecRequest("t", {}, _code(_INNOCENT))])[0]
    requests = []
    for source, _ in _PROBES.values():
        requests += [ExecRequest("t", {}, _code(source), 5.0), ExecRequest("t", {}, _code(_INNOCENT))]
    results = executor.run(requests)
    checks = []
    for i, (probe, (_, predicate)) in enumerate(_PROBES.items()):
        result, innocent = results[2 * i], results[2 * i + 1]
        checks.append(Check(probe, result.status, result.output, predicate(result)))
        checks.append(Check("  ... then another environment's call", innocent.status, innocent.output,
                            (innocent.status, innocent.output) == (alone.status, alone.output)))
    return checks
