"""Tool formats -- how a model family writes its tool calls -- and the one reading of a model's reply.

A tool format is chosen once per run (``--tool-format`` on ``rollout``, ``eval``, ``loop``, ``bench`` and
``score``; the reward entry points read it from the row or a run-wide setting) and every place that reads
a model's output reads it through :func:`read_reply` with that format, so the rollout and training cannot
read the same reply differently:

* ``hermes`` (alias ``qwen``; the paper's ``--series qwen``): Qwen2.5 and Qwen3 write
  ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` blocks, read as the paper's
  ``parse_qwen`` reads them;
* ``llama3`` (the paper's ``--series llama31``): Llama 3.1 writes a JSON object
  ``{"name": ..., "parameters": {...}}`` as its whole reply, optionally after ``<|python_tag|>`` (Meta's
  template, and vLLM's ``tool_chat_template_llama3.1_json.jinja``; both render one call per turn), read as
  the paper's ``parse_llama31`` reads it: one call a reply (the first), its JSON repaired by ``json_repair``;
* ``llama3_multi``: the same JSON calls read strictly, several per reply (separated by ``;``, or a list) --
  toolgym's reading, for a model or server that writes several calls in one Llama turn;
* ``openai``: a server parses the calls (``vllm serve --tool-call-parser hermes|llama3_json``) and returns
  them as native ``tool_calls``; calls left in the text are read with ``auto``;
* ``auto``: the format is picked from what the reply contains.

A server's native ``tool_calls`` are read whatever the format. :meth:`ToolFormat.write` is the inverse:
the text a model of the family writes for given calls (the scripted baseline and the fake server write
replies with it, and a native call is kept in training rows in its model's own format).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..schema import ToolCall
from ._core import ParsedResponse, as_text, clean_response, parse, strip_think
from ._openai import _call_items, _get, content_text, parse_openai_message, plain_message


@dataclass(frozen=True, slots=True)
class ToolFormat:
    """One way of writing tool calls. ``text``: the parser of calls written in the text (``parse.PARSERS``);
    ``models``: which model families write it; ``end_markers``: end-of-turn tokens a decoded reply may still
    end with; ``one_call``: a reply holds one call (the first is read), ``several`` naming the format that
    reads the same calls several to a reply."""

    name: str
    text: str
    models: str
    end_markers: tuple[str, ...] = ()
    one_call: bool = False
    several: str | None = None

    @property
    def _json_calls(self) -> bool:  # Llama 3.1's {"name": ..., "parameters": ...}
        return self.text in ("llama3", "llama3_multi")

    def write_call(self, call: ToolCall) -> str:
        """One call as a model of this family writes it -- exactly as its chat template renders a
        structured call (Qwen's ``<tool_call>`` block; Llama 3.1's ``{"name": ..., "parameters": ...}``)."""
        if self._json_calls:
            return json.dumps({"name": call.name, "parameters": call.arguments}, ensure_ascii=False)
        return call.to_hermes()

    def write_broken(self, call: ToolCall) -> str:
        """A call that cannot be read (what the scripted baseline's ``malformed_call`` error writes): its JSON
        breaks off. The paper's Llama reading repairs broken JSON, so there the broken call also names its
        arguments ``arguments``, which that reading does not take."""
        if self._json_calls:  # the tag marks it as a call: a bare broken object reads as plain text
            key = "arguments" if self.one_call else "parameters"
            return "<|python_tag|>" + json.dumps({"name": call.name, key: call.arguments})[:-2]
        return "<tool_call>\n" + json.dumps({"name": call.name, "arguments": call.arguments})[:-2] + "\n</tool_call>"

    @property
    def separator(self) -> str:
        """Between two calls of one reply."""
        return "; " if self._json_calls else "\n"

    def write(self, calls: Sequence[ToolCall], content: str = "") -> str:
        """The reply a model of this family writes for ``calls`` after ``content``, as its chat template
        renders such an assistant turn (Llama 3.1's templates render a call turn without its content).
        Several calls in a ``one_call`` format are written as its ``several`` format writes them (see
        :meth:`for_calls`)."""
        body = self.separator.join(self.write_call(c) for c in calls)
        if self._json_calls and body:
            return body
        return "\n".join(p for p in (content, body) if p)

    def for_calls(self, n: int) -> ToolFormat:
        """The format a reply holding ``n`` calls is read in: this one, or for several calls in a ``one_call``
        format (a server's native calls written into a training row) its ``several`` format, so that the row
        is read with every call the rollout read."""
        return TOOL_FORMATS[self.several] if self.one_call and self.several and n > 1 else self

    def turns(self, solution: Sequence[Sequence[ToolCall]]) -> list[list[ToolCall]]:
        """A gold solution's turns as a model of this family plays them: each turn's calls in one reply, or
        one call a reply in a ``one_call`` format (Llama 3.1's templates render one call per turn)."""
        if self.one_call:
            return [[call] for turn in solution for call in turn]
        return [list(turn) for turn in solution]

    @property
    def instruction(self) -> str:
        """How a call is written, for the message that tells a model its call could not be read."""
        if self._json_calls:
            return 'a JSON object {"name": <function-name>, "parameters": <args-json-object>}'
        return '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'


_LLAMA_END = ("<|eot_id|>", "<|eom_id|>")
TOOL_FORMATS: dict[str, ToolFormat] = {
    "hermes": ToolFormat("hermes", "hermes", "Qwen2.5, Qwen3 (<tool_call> blocks)"),
    "llama3": ToolFormat("llama3", "llama3", "Llama 3.1 (a JSON call; the paper's parse_llama31)", _LLAMA_END,
                         one_call=True, several="llama3_multi"),
    "llama3_multi": ToolFormat("llama3_multi", "llama3_multi", "Llama 3.1 (JSON calls, several per reply)",
                               _LLAMA_END),
    "openai": ToolFormat("openai", "auto", "a server's native tool_calls"),
    "auto": ToolFormat("auto", "auto", "picked from the reply", _LLAMA_END),
}
_ALIASES = {"qwen": "hermes", "llama31": "llama3", "llama3.1": "llama3"}
#: What ``--tool-format`` accepts.
FORMAT_NAMES = tuple(TOOL_FORMATS)


def tool_format(name: str | ToolFormat | None) -> ToolFormat:
    """The format called ``name`` (``None``: ``hermes``, the paper's). An unknown name is a
    :class:`~toolgym.errors.ConfigError` naming ``--tool-format``."""
    if isinstance(name, ToolFormat):
        return name
    key = _ALIASES.get(name or "hermes", name or "hermes")
    try:
        return TOOL_FORMATS[key]
    except KeyError:
        raise ConfigError(f"unknown tool format {name!r}; give --tool-format one of {', '.join(FORMAT_NAMES)}") from None


@dataclass(frozen=True, slots=True)
class Reply:
    """A model reply as read: the raw text, the reasoning set apart (by ``strip_thinking``, or by a server
    that returned it apart as ``reasoning_content``), what the parser read, and a server's native
    ``tool_calls`` items as it returned them (benchmarks that decode a call's ``arguments`` string their own
    way read these)."""

    raw: str
    reasoning: str
    parsed: ParsedResponse
    native_calls: tuple[Any, ...] = ()

    @property
    def native(self) -> bool:
        """Whether the calls came as a server's native ``tool_calls``."""
        return bool(self.native_calls)

    @property
    def visible(self) -> str:
        """The reply as the user sees it (reasoning removed): what text-format benchmarks read."""
        return strip_think(self.raw).strip() if "</think>" in self.raw else self.raw.strip()

    @property
    def full_text(self) -> str:
        """The reply as the model wrote it, reasoning included: reasoning a server returned apart is put back
        in front as a ``<think>`` block, the way a local model's raw output has it."""
        if self.reasoning and "</think>" not in self.raw:
            return f"<think>\n{self.reasoning}\n</think>\n\n{self.raw}"
        return self.raw


def _text_of(reply: Any) -> tuple[str, Any]:
    """(text, native message or None) of whatever is passed as a reply; never raises (a reply of no known
    shape is read as its text)."""
    if isinstance(reply, str):
        return reply, None
    if reply is None:
        return "", None
    if hasattr(reply, "text") and hasattr(reply, "message"):  # a backend Generation
        text = _get(reply, "text")
        return (text if isinstance(text, str) else ""), _get(reply, "message")
    if isinstance(reply, Mapping) or hasattr(reply, "tool_calls"):  # an assistant message
        return content_text(_get(reply, "content")), reply
    return as_text(reply), None


def plain_reply(reply: Any) -> str | dict[str, Any]:
    """A reply as plain data a record can hold (``TurnState.response``): text as it is, and an assistant
    message or a backend ``Generation`` as a plain message dict that :func:`read_reply` reads as it reads the
    reply itself (the ``openai`` client's ``ChatCompletionMessage`` is converted once, here). Never raises."""
    if isinstance(reply, str):
        return reply
    text, message = _text_of(reply)
    return text if message is None else plain_message(message, text)


def _reasoning_apart(message: Any) -> str:
    """The reasoning a server returned beside the content (vLLM's ``reasoning_content``, or ``reasoning``)."""
    for key in ("reasoning_content", "reasoning"):
        value = _get(message, key) if message is not None else None
        if isinstance(value, str) and value:
            return value
    return ""


def read_reply(reply: Any, format: str | ToolFormat | None = "hermes", *, strip_thinking: bool = False,
               inline_reasoning: bool = False) -> Reply:
    """Read one model reply -- text, an OpenAI assistant message, or a backend ``Generation`` -- in
    ``format``. This is the one reading of a reply: the rollout, the reward entry points and the
    benchmarks all call it.

    Native ``tool_calls`` win. Otherwise the text is cleaned as the paper's reward cleans it (surrounding
    whitespace, a trailing ``<|endoftext|>``/``<|im_end|>``, and the format's own end-of-turn tokens) and
    parsed. With ``strip_thinking`` a ``<think>...</think>`` block is set apart first, so that calls are read
    only after the reasoning; without it (the paper's default) the whole reply is parsed, as ``parse_qwen``
    does. Reasoning a server returned apart is kept apart (``Reply.reasoning``); with ``inline_reasoning`` it
    is put back in front of the text as a ``<think>`` block and read with it, as the paper's scripts read a
    local model's raw output (the benchmarks that score the raw text)."""
    fmt = tool_format(format)
    text, message = _text_of(reply)
    apart = _reasoning_apart(message)
    if inline_reasoning and apart and "</think>" not in text:
        text, apart = f"<think>\n{apart}\n</think>\n\n{text}", ""
        message = plain_message(message, text)
    if message is not None and _get(message, "tool_calls"):
        return Reply(text, apart, parse_openai_message(message, text_format=fmt.text),
                     tuple(_call_items(_get(message, "tool_calls"))))
    body = clean_response(text)
    for marker in fmt.end_markers:
        body = body.removesuffix(marker).rstrip()
    reasoning = apart
    if strip_thinking and "</think>" in body:
        reasoning = body.split("</think>", 1)[0].replace("<think>", "").strip()
        body = strip_think(body)
    return Reply(text, reasoning, parse(body.strip(), fmt.text))
