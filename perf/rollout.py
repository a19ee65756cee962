"""Rollout engine throughput against a server with a fixed per-request latency.

A fake OpenAI-compatible server (a separate process, so it does not share this process's CPU) answers
every request after ``--latency`` seconds with the next turn of the gold solution. With ``C`` episodes
in flight and ``T`` turns per episode, the ideal is ``C / (T * latency)`` episodes/s; the engine's
overhead (HTTP client, parsing, sandbox calls, scoring, writing) shows as the shortfall. Throughput
is measured in the steady state (between the 10th and the 90th percentile of completions), so the
ramp-up and the tail of a finite run do not count against it; the whole-run figure is printed too.

    python perf/rollout.py [--episodes 1024] [--concurrency 64] [--latency 0.05 0.2 0.5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from toolgym.io import write_environments
from toolgym.models import BackendConfig, Endpoint, make_backend
from toolgym.models.fake_server import free_port
from toolgym.rollout import RolloutConfig, rollout
from toolgym.samples import sample_environments
from toolgym.sandbox import SandboxPool


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/models", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the fake server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=1024)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, nargs="+", default=[0.05, 0.2, 0.5])
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    base = sample_environments()
    samples = max(1, args.episodes // len(base))
    turns = sum(len(e.solution) + 1 for e in base) / len(base)
    print(f"{samples * len(base)} episodes per run ({turns:.2f} turns each on average), "
          f"concurrency {args.concurrency}, {os.cpu_count()} CPU(s), sandbox workers {args.workers}")
    for latency in args.latency:
        run_once(base, samples, turns, latency, args)


def run_once(base, samples: int, turns: float, latency: float, args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        envs_path = Path(tmp) / "envs.jsonl"
        write_environments(envs_path, base)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "toolgym", "serve-fake", "--envs", str(envs_path),
                                   "--port", str(port), "--latency", str(latency)])
        try:
            url = f"http://127.0.0.1:{port}/v1"
            wait_for(url)
            done: list[float] = []
            with SandboxPool(workers=args.workers) as pool:
                backend = make_backend(BackendConfig("openai", Endpoint(model="fake", base_urls=url,
                                                                        concurrency=args.concurrency)))
                t0 = time.perf_counter()
                summary = rollout(base, backend, Path(tmp) / "t.jsonl",
                                  config=RolloutConfig(samples=samples, concurrency=args.concurrency), executor=pool,
                                  on_trajectory=lambda _t: done.append(time.perf_counter()))
                elapsed = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait()
    n = len(done)
    lo, hi = n // 10, (9 * n) // 10
    steady = (hi - lo) / (done[hi - 1] - done[lo]) if hi - 1 > lo else n / elapsed
    ideal = args.concurrency / (turns * latency)
    print(f"latency {latency * 1000:4.0f} ms: steady {steady:6.1f} episodes/s, whole run {n / elapsed:6.1f}; "
          f"ideal {ideal:6.1f}; ratio {steady / ideal:.3f} (whole run {n / elapsed / ideal:.3f}); "
          f"Solve-F1 {summary.mean_f1:.3f}; failed {summary.failed}")


if __name__ == "__main__":
    main()
