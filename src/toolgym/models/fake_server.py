"""A fake OpenAI-compatible chat server, for tests and benchmarks (FastAPI; started on loopback).

It plays the scripted baseline over real HTTP: it finds the environment by the question in the first
user message, replies with the next turn of the gold solution (with the configured error rates), and
returns tool calls natively (like ``vllm serve --tool-call-parser hermes``) or written in the text.
Faults can be injected: transient HTTP 500 or 429 errors (about one request in k fails, chosen by the
request's content, and the same request succeeds when retried -- so results do not depend on how
concurrent requests interleave), native calls with broken JSON arguments, and questions that always
fail. A fixed latency per request simulates a real server.
"""

# no "from __future__ import annotations": FastAPI reads the handler annotations at run time

import asyncio
import hashlib
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field

from ..parse import parse_hermes
from ..schema import Environment
from . import ErrorRates, GenerationRequest, ScriptedPolicy


@dataclass
class Faults:
    status_500_every: int = 0
    status_429_every: int = 0
    broken_arguments_every: int = 0
    always_fail: set[str] = field(default_factory=set)  # questions that always get HTTP 500


def create_app(envs: list[Environment], *, latency_s: float = 0.0, errors: ErrorRates | None = None,
               native: bool = True, faults: Faults | None = None, seed: int = 0):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    by_question = {e.question: e for e in envs}
    policy = ScriptedPolicy(errors, seed=seed)
    faults = faults or Faults()
    counter = itertools.count(1)
    failed_once: set[tuple[str, str]] = set()
    app = FastAPI()
    app.state.requests = 0

    def transient(kind: str, every: int, digest: str) -> bool:
        """Fail this request once (for ``kind``) if its content picks it: about one request in ``every``."""
        if not every or int(digest[:8], 16) % every or (kind, digest) in failed_once:
            return False
        failed_once.add((kind, digest))
        return True

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        n = next(counter)
        app.state.requests = n
        if latency_s:
            await asyncio.sleep(latency_s)
        messages = body.get("messages", [])
        question = next((m.get("content") for m in messages if m.get("role") == "user"), None)
        digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        if question in faults.always_fail or transient("500", faults.status_500_every, digest):
            return JSONResponse({"error": {"message": "injected server error"}}, status_code=500)
        if transient("429", faults.status_429_every, digest[8:]):
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429)
        env = by_question.get(question)
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        text = ("I do not know." if env is None else
                policy.reply(GenerationRequest(messages=messages, tools=body.get("tools") or [],
                                               episode=question or "", turn=turn, env=env)))
        message: dict = {"role": "assistant", "content": text}
        if native:
            parsed = parse_hermes(text)
            if parsed.tool_calls:
                calls = []
                for i, c in enumerate(parsed.tool_calls):
                    args = json.dumps(c.arguments)
                    if faults.broken_arguments_every and int(digest[16:24], 16) % faults.broken_arguments_every == 0:
                        args = args[:-1]
                    calls.append({"id": f"chatcmpl-tool-{n}-{i}", "type": "function",
                                  "function": {"name": c.name, "arguments": args}})
                message = {"role": "assistant", "content": parsed.content or None, "tool_calls": calls}
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in messages) // 4 + 1
        return {
            "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text) // 4 + 1,
                      "total_tokens": prompt_tokens + len(text) // 4 + 1},
        }

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """Run an ASGI app with uvicorn on 127.0.0.1 in a background thread: ``with ServerThread(app) as url:``."""

    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    """``python -m toolgym.models.fake_server --envs FILE --port 8000 --latency 0.05``"""
    import argparse

    import uvicorn

    from ..io import read_environments

    ap = argparse.ArgumentParser(description="A fake OpenAI-compatible server playing the scripted baseline.")
    ap.add_argument("--envs", required=True)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    ap.add_argument("--text-tools", action="store_true", help="write tool calls in the text, not natively")
    args = ap.parse_args()
    app = create_app(list(read_environments(args.envs)), latency_s=args.latency, native=not args.text_tools)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
