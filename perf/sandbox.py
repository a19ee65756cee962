"""Sandbox and reward speed, measured against the paper's way of running tools, in the same run.

(a) baseline: the paper's reference re-created -- ``exec`` the tool's source in a fresh namespace on
    every call, inside a new thread joined with a 10 s timeout, in the calling process;
(b) toolgym's unsafe in-process executor (compiled code cached, no isolation);
(c) toolgym's isolated sandbox pool (confined worker processes, batched, code cached per worker).

The same 10,000 calls over 500 distinct environments (each environment's tool sources differ, as they
do in built data) go through each. Then one paper-size batch: 8,192 responses (512 prompts x 16
samples) scored with the step reward, through the pool, and through the baseline.

    python perf/sandbox.py [--calls 10000] [--workers N]

Prints calls/s of each and the ratios; nothing is asserted (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import threading
import time

from toolgym.parse import clean_response, parse_hermes
from toolgym.reward import UnsolvedSet, score_batch, score_step
from toolgym.samples import sample_environments
from toolgym.sandbox import ExecRequest, SandboxPool, UnsafeInProcessExecutor
from toolgym.schema import TurnState


def make_envs(n: int):
    """``n`` environments: the samples with every tool source made distinct (as in real builds)."""
    base = sample_environments()
    envs = []
    for k in range(n):
        e = base[k % len(base)]
        envs.append(e.model_copy(update={"code": {t: f"# environment {k}\n{src}" for t, src in e.code.items()}}))
    return envs


def make_calls(envs, n: int, rng: random.Random) -> list[ExecRequest]:
    """Gold calls and wrong-argument calls, in equal measure."""
    reqs = []
    for i in range(n):
        env = envs[i % len(envs)]
        call = rng.choice(env.solution_calls)
        args = dict(call.arguments)
        if rng.random() < 0.5:
            key = rng.choice(sorted(args))
            args[key] = "nonexistent" if isinstance(args[key], str) else 0
        reqs.append(ExecRequest(call.name, args, env.code))
    return reqs


def baseline_call(name: str, arguments, codes, timeout: float = 10.0) -> str:
    """The reference's call_function under func_set_timeout(10), re-created with a thread."""
    box: dict = {}

    def target():
        try:
            namespace: dict = {}
            exec(codes[name], namespace, namespace)
            value = namespace[name](**arguments)
            if type(value) is dict or type(value) is list:
                value = json.dumps(value, ensure_ascii=False)
            elif type(value) is not str:
                value = str(value)
            box["out"] = value
        except Exception as exc:
            box["out"] = f"an error occured when call {name}: {exc}"

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    return box.get("out", f"an error occured when call {name}: timed out")


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def make_responses(envs, n: int, rng: random.Random) -> list[TurnState]:
    """Responses like a policy's: 1-3 calls (some wrong), or a final answer, or junk."""
    items = []
    for i in range(n):
        env = envs[(i // 16) % len(envs)]
        roll = rng.random()
        if roll < 0.75:
            calls = []
            for _ in range(rng.randint(1, 3)):
                c = rng.choice(env.solution_calls)
                args = dict(c.arguments)
                if rng.random() < 0.3:
                    args[rng.choice(sorted(args))] = "wrong"
                calls.append("<tool_call>\n" + json.dumps({"name": c.name, "arguments": args}) + "\n</tool_call>")
            text = "\n".join(calls)
        elif roll < 0.9:
            text = f"The answer is {env.answer}."
        else:
            text = "<tool_call>{broken"
        items.append(TurnState(response=text + "<|im_end|>", codes=env.code, unsolved=env.expected, answer=env.answer))
    return items


def baseline_score(items: list[TurnState]) -> list[float]:
    """The reference's compute_solve_f1 loop: parse, run each call with exec + thread timeout, score."""
    scores = []
    for item in items:
        parsed = parse_hermes(clean_response(item.response))
        outputs = [baseline_call(c.name, c.arguments, item.codes) for c in parsed.tool_calls]
        scores.append(score_step(parsed, outputs, UnsolvedSet(item.unsolved), item.solve_rate, item.answer).reward)
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--responses", type=int, default=8_192)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    rng = random.Random(0)
    envs = make_envs(500)
    reqs = make_calls(envs, args.calls, rng)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}; {args.calls} calls over {len(envs)} environments")
    base_out, t_base = timed(lambda: [baseline_call(r.name, r.arguments, r.code) for r in reqs])
    with UnsafeInProcessExecutor() as unsafe:
        unsafe_out, t_unsafe = timed(unsafe.run, reqs)
    with SandboxPool(workers=args.workers) as pool:
        pool.run(reqs[:64])  # start-up is not part of the steady state
        pool_out, t_pool = timed(pool.run, reqs)
        _, t_pool_warm = timed(pool.run, reqs)
        layers = ", ".join(f"{k}={v}" for k, v in pool.layers.items())
        # the paper-size batch
        items = make_responses(envs[:512], args.responses, rng)
        scored, t_score = timed(lambda: score_batch(items, executor=pool))
    same = sum(a == b.output for a, b in zip(base_out, pool_out))
    print(f"pool layers: {layers}")
    print(f"outputs identical to the baseline: {same}/{len(reqs)}; unsafe == pool: "
          f"{sum(a.output == b.output for a, b in zip(unsafe_out, pool_out))}/{len(reqs)}")
    rate = lambda t: len(reqs) / t
    print(f"(a) baseline exec + thread timeout : {rate(t_base):>10,.0f} calls/s")
    print(f"(b) unsafe in-process executor     : {rate(t_unsafe):>10,.0f} calls/s  ({t_base / t_unsafe:.1f}x baseline)")
    print(f"(c) isolated sandbox pool, {args.workers} worker(s): {rate(t_pool):>8,.0f} calls/s  "
          f"(cold code cache; {rate(t_pool_warm):,.0f} warm)")
    print(f"ratio (c)/(a) = {t_base / t_pool:.2f} (cold), {t_base / t_pool_warm:.2f} (warm)")

    base_scores, t_base_score = timed(baseline_score, items)
    agree = sum(abs(a - b.reward) < 1e-12 for a, b in zip(base_scores, scored))
    n_calls = sum(len(s.parsed.tool_calls) for s in scored)
    print(f"scoring {len(items)} responses ({n_calls} tool calls): pool {t_score:.3f} s, "
          f"baseline {t_base_score:.3f} s ({t_base_score / t_score:.1f}x); rewards identical: {agree}/{len(items)}")


if __name__ == "__main__":
    main()
