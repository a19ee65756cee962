"""How fast environment files load, against plain ``json.loads`` of every line of the same file, in the same run.

For each size a procedurally built file is read (built once with ``toolgym.builder.build`` into ``--cache`` and
reused while its manifest says it is complete):

* baseline: ``json.loads`` of every line, nothing kept (the floor any reader of the file pays);
* sha256 of the file (what deciding to trust it costs);
* stream: ``read_environments`` consumed one by one (the file is trusted: its manifest's digest matches), with
  the garbage collector on (a library user's loop) and paused (how ``inspect`` and ``import`` read);
* load: the records into a list, as commands load them (``load_envs``, collector paused);
* one split: only ``metadata.split == "test"``, as ``eval --split test`` reads;
* full check: the same records in a copy without a manifest (schemas against the metaschema, code compiled),
  on the first ``--check`` records, in a fresh process so that no cache of an earlier read helps.

With ``--commands``, the commands a user runs on such a file are timed end to end too, each in a fresh process
(``toolgym inspect FILE``, ``toolgym eval --envs FILE --split test --backend scripted``, and ``toolgym verify
FILE --no-probes`` on files of at most ``--verify-max`` environments: verifying runs every gold call in the
sandbox, so its time is the sandbox's, not the reading's), next to ``python -c pass`` (a process's start).

    python perf/load.py --n 10000 100000 [--cache DIR] [--repeat 3] [--commands]

Every figure is printed in seconds, environments per second, and as a ratio to the baseline of the same file
(the machine may be busy; ratios travel between machines). Nothing is asserted (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from toolgym.builder import BuildConfig, build
from toolgym.io import gc_paused, is_trusted, read_environments, read_manifest


def builder_digest() -> str:
    """A digest of the builder's code: a file built by other code is built again (its records may differ)."""
    import toolgym.builder

    h = hashlib.sha256()
    for f in sorted(Path(toolgym.builder.__file__).parent.rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def built_file(n: int, cache: Path, workers: int) -> Path:
    path = cache / f"envs-{n}.jsonl"
    manifest = read_manifest(path) if path.exists() else None
    stamp = path.with_name(path.name + ".builder")
    same_code = stamp.exists() and stamp.read_text() == builder_digest()
    if not (same_code and manifest and manifest.get("status") == "complete"
            and manifest.get("counts", {}).get("written") == n):
        print(f"building {n:,} environments into {path} ...", flush=True)
        build(BuildConfig(seed=0), path, n, workers=workers, overwrite=True)
        stamp.write_text(builder_digest())
    return path


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def baseline(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        for line in f:
            json.loads(line)
            n += 1
    return n


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load(path: Path) -> int:
    with gc_paused():
        return len(list(read_environments(path)))


def stream(path: Path, paused: bool) -> int:
    if not paused:
        return sum(1 for _ in read_environments(path))
    with gc_paused():
        return sum(1 for _ in read_environments(path))


_CHECK = """
import json, sys, time
from toolgym.io import read_environments
path = sys.argv[1]
t0 = time.perf_counter()
with open(path, "rb") as f:
    for line in f:
        json.loads(line)
base = time.perf_counter() - t0
t0 = time.perf_counter()
n = sum(1 for _ in read_environments(path))
print(json.dumps({"n": n, "seconds": time.perf_counter() - t0, "baseline": base}))
"""


def full_check(path: Path, records: int) -> dict:
    """The full check of the first ``records`` records of ``path``, untrusted, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.jsonl"
        with open(path, "rb") as src, open(copy, "wb") as dst:
            for i, line in enumerate(src):
                if i >= records:
                    break
                dst.write(line)
        done = subprocess.run([sys.executable, "-c", _CHECK, str(copy)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def command(args: list[str]) -> float:
    """Seconds a command takes end to end, in a fresh process (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def commands(path: Path, n: int, base: float, verify_max: int) -> None:
    """The CLI commands on ``path``, end to end."""
    toolgym = [sys.executable, "-m", "toolgym"]
    start = command([sys.executable, "-c", "pass"])
    with tempfile.TemporaryDirectory() as tmp:
        rows = [("`python -c pass` (a process's start)", start),
                ("`toolgym inspect FILE`", command([*toolgym, "inspect", str(path)])),
                ("`toolgym eval --envs FILE --split test --backend scripted`",
                 command([*toolgym, "eval", "--envs", str(path), "--split", "test", "--backend", "scripted",
                          "--out", str(Path(tmp) / "eval.jsonl")]))]
        if n <= verify_max:
            rows.append(("`toolgym verify FILE --no-probes`", command([*toolgym, "verify", str(path), "--no-probes"])))
    print("| command | time | vs json.loads of the file |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} s | {seconds / base:.1f}x |")


def row(name: str, seconds: float, n: int, base: float) -> str:
    return f"| {name} | {n:,} | {seconds:.2f} s | {n / seconds:,.0f} | {seconds / base:.2f}x |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "toolgym-perf")
    ap.add_argument("--workers", type=int, default=2, help="build workers (only when a file must be built)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", type=int, default=2000, help="records in the full-check measurement")
    ap.add_argument("--commands", action="store_true", help="also time inspect, eval --split test and verify")
    ap.add_argument("--verify-max", type=int, default=10_000, help="time verify only on files up to this size")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
          f" load average {os.getloadavg()[0]:.1f}")
    for n in args.n:
        path = built_file(n, args.cache, args.workers)
        assert is_trusted(path), f"{path} should match its manifest"
        size = path.stat().st_size
        base, lines = best(lambda p=path: baseline(p), args.repeat)
        digest, _ = best(lambda p=path: sha256(p), args.repeat)
        streamed, count = best(lambda p=path: stream(p, False), args.repeat)
        paused, _ = best(lambda p=path: stream(p, True), args.repeat)
        listed, _ = best(lambda p=path: load(p), args.repeat)
        split, tests = best(lambda p=path: sum(1 for _ in read_environments(p, split="test")), args.repeat)
        check = full_check(path, min(args.check, n))
        print(f"\n{n:,} environments, {size / 1e6:,.0f} MB ({path})")
        print("| read | records | time | env/s | vs json.loads |\n|---|---:|---:|---:|---:|")
        print(row("baseline: json.loads of every line", base, lines, base))
        print(row("sha256 of the file (trust check)", digest, lines, base))
        print(row("stream (trusted)", streamed, count, base))
        print(row("stream, collector paused (trusted; inspect, import)", paused, count, base))
        print(row("load into a list (trusted, load_envs)", listed, count, base))
        print(row('one split ("test", trusted)', split, tests, base) + f" ({tests:,} of {count:,} records)")
        print(row(f"full check, untrusted (first {check['n']:,})", check["seconds"], check["n"], check["baseline"]))
        if args.commands:
            commands(path, count, base, args.verify_max)
        if shutil.disk_usage(args.cache).free < 2 * size:
            print(f"(little disk left in {args.cache})")


if __name__ == "__main__":
    main()
