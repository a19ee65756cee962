"""One model turn inside a benchmark conversation: ask the backend, read the reply with the one tool-call
parser, and write it back into the conversation as an OpenAI assistant message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..parse import ParsedResponse, parse, parse_openai_message, strip_think
from ._base import BackendFailed

if TYPE_CHECKING:
    from ..models import Backend, Generation


@dataclass(frozen=True, slots=True)
class Reply:
    """A model reply: the raw text, the reasoning taken out of it, and what the parser read."""

    raw: str
    reasoning: str
    parsed: ParsedResponse
    native_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def visible(self) -> str:
        """The reply as the user sees it (reasoning removed)."""
        return strip_think(self.raw).strip() if "</think>" in self.raw else self.raw.strip()

    @property
    def full_text(self) -> str:
        """The reply as the model wrote it, reasoning included: a server that returned the reasoning
        apart (``reasoning_content``) has it put back in front as a ``<think>`` block, the way a local
        model's raw output has it. What the references that score raw text read."""
        if self.reasoning and "</think>" not in self.raw:
            return f"<think>\n{self.reasoning}\n</think>\n\n{self.raw}"
        return self.raw


async def ask(backend: Backend, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *,
              episode: str, turn: int) -> Generation:
    """One generation; a request that failed for good raises :class:`BackendFailed`."""
    from ..models import GenerationRequest

    [gen] = await backend.generate([GenerationRequest(messages=[dict(m) for m in messages], tools=list(tools or []),
                                                      episode=episode, turn=turn)])
    if gen.error:
        raise BackendFailed(gen.error)
    return gen


def read_reply(gen: Generation, format: str = "auto", *, think: str = "strip") -> Reply:
    """Parse a generation: native ``tool_calls`` when the server returned them, else the calls written in
    the text (Hermes ``<tool_call>``, Llama 3.1 JSON). A ``<think>`` block is set apart first, unless
    ``think="keep"``: then the text is read with the reasoning in it, as the paper's scripts read a local
    model's raw output (its content keeps the ``<think>`` block)."""
    reply = _read(gen, format, think)
    native = list((gen.message or {}).get("tool_calls") or [])
    return Reply(reply.raw, reply.reasoning, reply.parsed, native) if native else reply


def _read(gen: Generation, format: str, think: str) -> Reply:
    raw = gen.text or ""
    message = gen.message
    if think == "keep":
        full = _read(gen, format, "strip").full_text
        if message is not None and message.get("tool_calls"):
            return Reply(full, "", parse_openai_message({**message, "content": full}, text_format=format))
        return Reply(full, "", parse(full, format))
    if message is not None and (message.get("reasoning_content") or message.get("reasoning")) and "</think>" not in raw:
        reasoning = str(message.get("reasoning_content") or message.get("reasoning"))
        return Reply(raw, reasoning, parse_openai_message(message, text_format=format) if message.get("tool_calls")
                     else parse(raw.strip(), format))
    if message is not None and message.get("tool_calls"):
        return Reply(raw, "", parse_openai_message(message, text_format=format))
    reasoning = ""
    text = raw
    if "</think>" in text:
        reasoning = text.split("</think>", 1)[0].replace("<think>", "").strip()
        text = strip_think(text)
    return Reply(raw, reasoning, parse(text.strip(), format))


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
