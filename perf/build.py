"""Benchmark of the procedural builder: verified environments per second, the whole pipeline (five stages,
sandbox verification with probes, writing) with 1 and 2 local workers.

    .venv/bin/python perf/build.py --n 20000 --workers 1 2
    .venv/bin/python perf/build.py --n 2000 --workers 1 --against main --rounds 3

Each run builds into a fresh temporary folder and checks that every worker count wrote the same bytes.
Machines differ and are shared, so every figure comes with an in-run baseline: the time of one ``exec``
of a fixed tool source and one call of it (the paper's executor does exactly that for every tool call),
measured in the same process just before and after the build. ``cost`` is the build's CPU time (this
process and every process it started: build workers, sandbox workers) per verified environment, in
baseline CPU units; lower is faster. CPU time, unlike wall time, hardly grows when other programs share
the machine, so costs are comparable between runs on a busy machine. (With ``--workers`` above 1 the build
processes' own sandbox workers end with them, unwaited, and their CPU is not counted: compare costs at
``--workers 1``.)

``--against REF`` also builds with the code of git revision REF (its ``src/`` checked out into a
temporary folder), in alternating child processes on the same machine, and prints both costs and their
ratio (REF / this tree: above 1 means this tree builds faster).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The baseline's tool: fixed here, independent of the code under test.
BASELINE_SOURCE = '''ROWS = {"kelmora": {"city": "Kelmora", "population": 482150}, "tarn": {"city": "Tarn", "population": 91200}}


def lookup(city=None, field="population", **extra):
    if extra:
        return "Error: unknown parameter(s) " + ", ".join(sorted(extra))
    row = ROWS.get(" ".join(str(city).lower().split()))
    if row is None:
        return "Error: no city called " + repr(city)
    return {"city": row["city"], field: row[field]}
'''


def baseline_s(repeat: int = 3000) -> float:
    """CPU seconds for one exec of the baseline source (compiled each time) and one call: the best of 5."""
    best = float("inf")
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(repeat):
            namespace: dict = {}
            exec(BASELINE_SOURCE, namespace)
            namespace["lookup"](city="Kelmora")
        best = min(best, (time.process_time() - t0) / repeat)
    return best


def _tree_cpu_s() -> float:
    """CPU seconds used so far by this process, its finished children and its living descendants (the
    sandbox workers stay alive until the end): from /proc, so Linux only (elsewhere: this process)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(os.times()[:4])
    pending = [os.getpid()]
    while pending:
        pid = pending.pop()
        try:
            kids = [int(k) for t in os.listdir(f"/proc/{pid}/task")
                    for k in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            try:
                fields = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
            pending.append(kid)
    return total


def run(n: int, workers: int, seed: int) -> dict:
    from toolgym.builder import BuildConfig, build

    before = baseline_s()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "envs.jsonl"
        t0, c0 = time.perf_counter(), _tree_cpu_s()
        report = build(BuildConfig(seed=seed), out, n, workers=workers)
        seconds, cpu = time.perf_counter() - t0, _tree_cpu_s() - c0
        digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
        size = out.stat().st_size
    base = (before + baseline_s()) / 2
    return {"seconds": seconds, "cpu": cpu, "digest": digest, "yield": report.stats["yield"], "mb": size / 1e6,
            "baseline_s": base, "cost": cpu / n / base}


def _line(label: str, n: int, workers: int, r: dict) -> str:
    return (f"{label}workers={workers}: {n} verified environments in {r['seconds']:.1f}s = {n / r['seconds']:.0f} env/s "
            f"(yield {100 * r['yield']:.1f}%, {r['mb']:.0f} MB, sha256 {r['digest']}); CPU {r['cpu']:.1f}s; baseline "
            f"exec+call {1e6 * r['baseline_s']:.1f} us CPU; cost {r['cost']:.1f} baseline units per environment")


def _checkout(ref: str, into: Path) -> Path:
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _child(src: Path, n: int, workers: int, seed: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--child", "--n", str(n), "--workers", str(workers), "--seed", str(seed)]
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def against(ref: str, n: int, workers: int, seed: int, rounds: int) -> None:
    here = Path(__file__).resolve().parent.parent / "src"
    with tempfile.TemporaryDirectory() as tmp:
        theirs = _checkout(ref, Path(tmp))
        costs: dict[str, list[float]] = {"this tree": [], ref: []}
        for k in range(rounds):
            for label, src in ((("this tree", here), (ref, theirs)) if k % 2 == 0 else ((ref, theirs), ("this tree", here))):
                r = _child(src, n, workers, seed)
                costs[label].append(r["cost"])
                print(_line(f"[{label}, round {k + 1}] ", n, workers, r), flush=True)
    mine, base = statistics.median(costs["this tree"]), statistics.median(costs[ref])
    print(f"median cost: this tree {mine:.1f}, {ref} {base:.1f} baseline units per environment; "
          f"ratio {ref} / this tree = {base / mine:.2f} (above 1: this tree builds faster)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--against", metavar="REF", help="also build with git revision REF's code, alternating runs")
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs per code version with --against")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run(args.n, args.workers[0], args.seed)))
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.against:
        for w in args.workers:
            against(args.against, args.n, w, args.seed, args.rounds)
        return
    digests = set()
    for w in args.workers:
        r = run(args.n, w, args.seed)
        digests.add(r["digest"])
        print(_line("", args.n, w, r))
    print("identical output for every worker count" if len(digests) == 1 else "OUTPUTS DIFFER")


if __name__ == "__main__":
    main()
