"""BFCL agreement over the full sets: toolgym's verdicts against bfcl-eval's own ``evaluate_task``.

Every item of the chosen categories is answered with each kind of reply (BFCL's own ground truth, and the
kinds of wrong reply the handlers read differently), scored by toolgym's BFCL adapter, and the results it
stored are scored again by bfcl-eval's ``eval_runner.evaluate_task`` with BFCL's handler class for the same
model family. Prints, per category and kind, the items, how many each side counts right, and how many
verdicts differ (the test suite checks a sample of each category; this is the whole set).

    python perf/bfcl_agreement.py [--handlers openai qwen prompt] [--kinds gold null_args ...]
                                  [--categories simple_python ...] [--per-category N]
    python perf/bfcl_agreement.py --conversations [--modes gold wrong_value skip loop wrong_answer]

With ``--conversations`` the multi-turn and memory categories are run instead, by a model answering from
BFCL's ground truth in the chosen modes (right, a wrong argument, a skipped turn, never stopping, a wrong
memory answer).

It uses the reply makers and the reference runner of the test suite (tests/bench).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "bench"))

from bfcl_gold import REPLIES, GoldBackend, single_turn_calls  # noqa: E402
from bfcl_reference import bfcl_verdicts  # noqa: E402

from toolgym.bench import run_benchmark  # noqa: E402
from toolgym.bench.bfcl import BFCL, GROUPS  # noqa: E402


class Replies:
    """A backend answering each BFCL item with one kind of reply."""

    name = model = "bfcl-replies"

    def __init__(self, items, make):
        from toolgym.models import Generation

        self.replies = {}
        for it in items:
            reply = make(single_turn_calls(it))
            self.replies[f"bfcl:{it.id}"] = (Generation(text=reply.get("content") or "", message={
                k: v for k, v in reply.items() if v is not None}) if isinstance(reply, dict) else Generation(text=reply))

    async def generate(self, requests):
        return [self.replies[r.episode] for r in requests]

    async def aclose(self):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--handlers", nargs="+", default=["openai", "qwen", "prompt"])
    ap.add_argument("--kinds", nargs="+", default=None, help="reply kinds (default: every kind of the handler)")
    ap.add_argument("--categories", nargs="+", default=list(GROUPS["single_turn"]))
    ap.add_argument("--per-category", type=int, default=None)
    ap.add_argument("--conversations", action="store_true", help="multi-turn and memory instead of single-turn")
    ap.add_argument("--modes", nargs="+", default=["gold", "wrong_value", "skip", "loop", "wrong_answer"])
    args = ap.parse_args()
    if args.conversations:
        args.categories = [*GROUPS["multi_turn"], "memory_kv", "memory_rec_sum"]
    total = differ = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for handler in args.handlers:
            for kind in (args.modes if args.conversations else args.kinds or list(REPLIES[handler])):
                bench = BFCL(args.categories, handler=handler, per_category=args.per_category,
                             workdir=Path(tmp) / f"memory-{handler}-{kind}")
                items = bench.items()
                if args.conversations:
                    backend = GoldBackend({i.id: i for i in items}, handler, mode=kind)
                elif kind in REPLIES[handler]:
                    backend = Replies(items, REPLIES[handler][kind])
                else:
                    continue
                out = Path(tmp) / f"{handler}-{kind}.jsonl"
                run = run_benchmark(bench, backend, out, concurrency=64)
                for cat in args.categories:
                    rows = [r for r in run.results if r.category == cat]
                    theirs = bfcl_verdicts(cat, {r.id: r.detail["bfcl_result"] for r in rows}, handler,
                                           Path(tmp) / "scores")
                    ours = {r.id: r.metrics["accuracy"] == 1.0 for r in rows}
                    bad = sum(ours[i] != theirs[i] for i in ours)
                    total, differ = total + len(rows), differ + bad
                    print(f"{handler:7s} {kind:15s} {cat:24s} items {len(rows):4d}  toolgym {sum(ours.values()):4d}  "
                          f"bfcl {sum(theirs.values()):4d}  differ {bad}", flush=True)
    print(f"{total} verdicts, {differ} differ ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
