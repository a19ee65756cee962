"""One model turn inside a benchmark conversation: ask the backend, and write a reply -- read with
:func:`toolgym.parse.read_reply`, the one reading of a reply, in the run's ``--tool-format`` -- back into the
conversation as an OpenAI assistant message. (BFCL reads replies with its own handlers' decoders.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import BackendFailed

if TYPE_CHECKING:
    from ..models import Backend, Generation
    from ..parse import Reply


async def ask(backend: Backend, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *,
              episode: str, turn: int) -> Generation:
    """One generation; a request that failed for good raises :class:`BackendFailed`."""
    from ..models import GenerationRequest

    [gen] = await backend.generate([GenerationRequest(messages=[dict(m) for m in messages], tools=list(tools or []),
                                                      episode=episode, turn=turn)])
    if gen.error:
        raise BackendFailed(gen.error)
    return gen


def assistant_message(reply: Reply, turn: int, *, max_calls: int | None = None) -> dict[str, Any]:
    """The assistant message for a conversation log and the next prompt (tool calls get stable ids)."""
    calls = reply.parsed.tool_calls[:max_calls] if max_calls else reply.parsed.tool_calls
    msg: dict[str, Any] = {"role": "assistant", "content": reply.parsed.content}
    if calls:
        msg["tool_calls"] = [c.to_openai(f"call_{turn}_{i}") for i, c in enumerate(calls)]
    if reply.reasoning:
        msg["reasoning_content"] = reply.reasoning
    return msg


def forget(backend: Backend, episode: str) -> None:
    """Let a local backend drop its per-episode prompt cache once a conversation is over."""
    drop = getattr(backend, "forget", None)
    if callable(drop):
        drop(episode)
