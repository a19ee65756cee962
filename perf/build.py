"""Benchmark of the procedural builder: verified environments per second, the whole pipeline (five stages,
sandbox verification with probes, writing) with 1 and 2 local workers.

    .venv/bin/python perf/build.py --n 20000 --workers 1 2
    .venv/bin/python perf/build.py --n 100000 --workers 2

Each run builds into a fresh temporary folder and checks that every worker count wrote the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import tempfile
import time
from pathlib import Path

from toolgym.builder import BuildConfig, build


def run(n: int, workers: int, seed: int) -> tuple[float, str, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "envs.jsonl"
        t0 = time.perf_counter()
        report = build(BuildConfig(seed=seed), out, n, workers=workers)
        seconds = time.perf_counter() - t0
        digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
        size = out.stat().st_size
    return seconds, digest, {"yield": report.stats["yield"], "mb": size / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    digests = set()
    for w in args.workers:
        seconds, digest, info = run(args.n, w, args.seed)
        digests.add(digest)
        print(f"workers={w}: {args.n} verified environments in {seconds:.1f}s = {args.n / seconds:.0f} env/s "
              f"(yield {100 * info['yield']:.1f}%, {info['mb']:.0f} MB, sha256 {digest})")
    print("identical output for every worker count" if len(digests) == 1 else "OUTPUTS DIFFER")


if __name__ == "__main__":
    main()
