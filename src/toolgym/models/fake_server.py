"""A fake OpenAI-compatible chat server that plays the scripted baseline: try rollout, eval, bench or the
loop's plumbing without a GPU, and test and measure them over real HTTP (FastAPI + uvicorn; the
``serve`` extra). From the command line: ``toolgym serve-fake --envs FILE --port 8000`` (or ``python -m
toolgym serve-fake ...``).

It finds the environment by the question in the first user message, replies with the next turn of the
gold solution (with the configured error rates), and returns tool calls natively (like ``vllm serve
--tool-call-parser hermes`` or ``llama3_json``) or written in the text, in the model family's tool format
(``tool_format``: ``hermes`` for Qwen, ``llama3`` for Llama 3.1); a question it does not know gets "I do
not know.".
Like a real server it lists its model at ``GET /v1/models``, answers a request for another model with
HTTP 404 when a model name is set, and one without the right key with HTTP 401 when a key is set.
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
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..parse import read_reply
from ..schema import Environment
from ._base import GenerationRequest
from ._scripted import ErrorRates, ScriptedPolicy

#: The name ``/v1/models`` lists when the server accepts any model name.
FAKE_MODEL = "scripted-baseline"


@dataclass
class Faults:
    status_500_every: int = 0
    status_429_every: int = 0
    broken_arguments_every: int = 0
    always_fail: set[str] = field(default_factory=set)  # questions that always get HTTP 500


def _need_server_packages() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("the fake server needs fastapi and uvicorn: pip install 'toolgym[serve]'") from None


def create_app(envs: list[Environment], *, latency_s: float = 0.0, errors: ErrorRates | None = None,
               native: bool = True, faults: Faults | None = None, seed: int = 0, model: str | None = None,
               api_key: str | None = None, tool_format: str = "hermes"):
    """The server as an ASGI app. ``model``: the only model name it serves (``None``: any name);
    ``api_key``: the key every request must carry (``None``: none); ``tool_format``: how the scripted
    model writes its calls (and how the server's tool parser reads them, for native calls)."""
    _need_server_packages()
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    by_question = {e.question: e for e in envs}
    policy = ScriptedPolicy(errors, seed=seed, tool_format=tool_format)
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

    def error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)

    def refused(request: Request) -> JSONResponse | None:
        if api_key is not None and request.headers.get("authorization") != f"Bearer {api_key}":
            return error(401, "invalid API key", "authentication_error")
        return None

    @app.get("/v1/models")
    async def models(request: Request):
        if (no := refused(request)) is not None:
            return no
        return {"object": "list", "data": [{"id": model or FAKE_MODEL, "object": "model", "created": 0,
                                            "owned_by": "toolgym"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        if (no := refused(request)) is not None:
            return no
        body = await request.json()
        if model is not None and body.get("model") != model:
            return error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
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
            parsed = read_reply(text, tool_format).parsed
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
    """Run an ASGI app with uvicorn in a background thread: ``with ServerThread(app) as url:``."""

    def __init__(self, app, port: int | None = None, host: str = "127.0.0.1"):
        _need_server_packages()
        import uvicorn

        self.host = host
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="error",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise ConfigError(f"the fake server could not start on {self.host}:{self.port} (is the port in use? "
                                  "give another --port)")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(envs: list[Environment], *, host: str = "127.0.0.1", port: int = 8000, model: str | None = None,
          api_key: str | None = None, announce: Callable[[str], None] = print, **app_options) -> None:
    """Serve ``envs`` until interrupted (Ctrl+C); ``announce`` gets one line with the URL once the server
    is accepting requests, so a script can wait for it."""
    server = ServerThread(create_app(envs, model=model, api_key=api_key, **app_options), port=port, host=host)
    with server as url:
        announce(f"fake OpenAI-compatible server at {url} (model {model or 'any name'}, {len(envs)} environments"
                 f"{', API key required' if api_key else ''}); Ctrl+C stops it")
        try:
            while server.thread.is_alive():
                server.thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass

