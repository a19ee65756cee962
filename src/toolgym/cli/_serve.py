"""``toolgym serve-fake``: the fake OpenAI-compatible server (the scripted baseline over HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError
from ._common import console, fail, load_envs


def serve_fake_cmd(
    envs: Annotated[Path, typer.Option("--envs", help="Environments whose questions it answers (.jsonl, .parquet, "
                                                      "a `datasets` folder or a Hub dataset id).")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    model: Annotated[str | None, typer.Option(help="The only model name it serves (others get HTTP 404); "
                                                   "default: any name.")] = None,
    api_key: Annotated[str | None, typer.Option(help="Require this API key (others get HTTP 401).")] = None,
    latency: Annotated[float, typer.Option(help="Seconds added to every request, as a real model would take.")] = 0.0,
    text_tools: Annotated[bool, typer.Option("--text-tools", help="Write tool calls in the reply's text "
                                                                  "(in --tool-format), not as native tool_calls.")] = False,
    tool_format: Annotated[str, typer.Option("--tool-format", help="How the model writes its calls: hermes "
                                             "(Qwen's <tool_call> blocks) or llama3 (Llama 3.1's JSON calls).")] = "hermes",
    error_rate: Annotated[list[str] | None, typer.Option("--error-rate", help="NAME=RATE for wrong_tool, "
                          "wrong_argument, missing_call, malformed_call, early_answer.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the error draws.")] = 0,
) -> None:
    """Serve environments as a fake OpenAI-compatible model that follows each gold solution (with set error
    rates): try rollout, eval, bench and the loop without a GPU. It prints its URL once it is ready."""
    from ..models import ErrorRates
    from ..models.fake_server import serve
    from ..parse import tool_format as find_format

    try:
        errors = ErrorRates.parse(error_rate or [])
        fmt = find_format(tool_format).name
        serve(load_envs(envs), host=host, port=port, model=model, api_key=api_key, latency_s=latency,
              native=not text_tools, errors=errors, seed=seed, tool_format=fmt,
              announce=lambda line: console.print(line, soft_wrap=True))
    except ConfigError as exc:
        fail(str(exc))
