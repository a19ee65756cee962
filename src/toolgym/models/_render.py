"""Rendering conversations through a model's own chat template, turn after turn, consistently.

A template may render an earlier assistant turn differently from what the model generated there: Qwen3's
keeps an assistant turn's ``<think>`` block only after the last real user message (so with thinking on,
the reasoning of earlier turns survives while the question is the last user message, and is dropped once
a later user message -- such as the malformed-call feedback -- follows), and with thinking off it never
writes the empty ``<think>\n\n</think>\n\n`` its generation prompt put before the reply; Qwen2.5 and
Llama 3.1 re-serialise structured tool calls. If each turn's prompt were rendered afresh, the model would
see its own past output changed, and a per-turn training prefix would not be a prefix of the
conversation. :class:`ChatRenderer` therefore renders the first prompt with the template and then
*extends* it: the model's generated text (its own tokens) verbatim, the template's end-of-turn string,
and the template's rendering of the new tool/user messages with the generation prompt. Every prompt is a
prefix of the next, and of the full conversation.

The rollout records each prompt it rendered (text and token ids); :meth:`ChatRenderer.training_prompt`
is the prompt of a training row: that record where there is one, the template's rendering otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_MARK = "TOOLGYM_RENDER_MARK_7f3a"


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as chat templates expect them: tool-call arguments as objects, not JSON strings."""
    out = []
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            m = dict(m)
            calls = []
            for c in m["tool_calls"]:
                fn = dict(c.get("function", {}))
                if isinstance(fn.get("arguments"), str):
                    try:
                        fn["arguments"] = json.loads(fn["arguments"])
                    except json.JSONDecodeError:
                        pass
                calls.append({**c, "function": fn})
            m["tool_calls"] = calls
        out.append(m)
    return out


def _fingerprint(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, sort_keys=True, ensure_ascii=False, default=str)


@dataclass
class _Entry:
    text: str
    ids: list[int]
    covered: int  # messages rendered into the prompt
    fingerprint: str  # of those messages: the conversation must really continue this one
    generated_text: str | None = None  # the model's reply to the prompt, verbatim
    generated_ids: list[int] | None = None


class ChatRenderer:
    """Per-episode prompts, as text and as token ids, each extending the previous one."""

    def __init__(self, tokenizer, template_kwargs: dict[str, Any] | None = None):
        self.tokenizer = tokenizer
        self.kwargs = {k: v for k, v in (template_kwargs or {}).items() if v is not None}
        self._episodes: dict[str, _Entry] = {}

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
               add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(template_messages(messages), tools=tools or None, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt, **self.kwargs)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @cached_property
    def end_of_turn(self) -> str:
        """What the template writes after an assistant message's text (e.g. ``<|im_end|>\\n``)."""
        text = self.render([{"role": "user", "content": "u"}, {"role": "assistant", "content": _MARK}], None, False)
        return text[text.rfind(_MARK) + len(_MARK):] if _MARK in text else ""

    def _delta(self, new: list[dict[str, Any]], tools) -> str | None:
        base = [{"role": "user", "content": _MARK}]
        head = self.render(base, tools, False)
        full = self.render(base + new, tools, True)
        return full[len(head):] if full.startswith(head) else None

    def next_prompt(self, episode: str, messages: list[dict[str, Any]],
                    tools: list[dict[str, Any]] | None) -> tuple[str, list[int]]:
        """The prompt (text, token ids) for the next turn of ``episode``: the previous prompt, the model's
        reply to it verbatim (its own tokens), the end of turn, and the new messages, when the
        conversation extends the previous one; otherwise the template's rendering of ``messages``."""
        entry = self._episodes.get(episode) if episode else None
        out = None
        if (entry is not None and entry.generated_text is not None and len(messages) > entry.covered + 1
                and messages[entry.covered].get("role") == "assistant"
                and (messages[entry.covered].get("content") or "") in entry.generated_text
                and all(m.get("role") != "assistant" for m in messages[entry.covered + 1:])
                and _fingerprint(messages[:entry.covered]) == entry.fingerprint):
            delta = self._delta(messages[entry.covered + 1:], tools)
            if delta is not None:
                tail = self.end_of_turn + delta
                generated = entry.generated_ids if entry.generated_ids is not None else self.encode(entry.generated_text)
                out = (entry.text + entry.generated_text + tail, entry.ids + generated + self.encode(tail))
        if out is None:
            text = self.render(messages, tools, True)
            out = (text, self.encode(text))
        if episode:
            self._episodes[episode] = _Entry(out[0], out[1], len(messages), _fingerprint(messages))
        return out

    def prompt(self, episode: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return self.next_prompt(episode, messages, tools)[0]

    def training_prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                        text: str | None = None, ids: list[int] | None = None) -> tuple[str, list[int]]:
        """The prompt (text, token ids) of a training row: the prompt the rollout recorded there (``text``,
        ``ids``: exactly what the model saw, whatever template or settings are given now), else the
        template's rendering of ``messages`` -- what a server renders from the same messages."""
        if text is not None:
            return text, list(ids) if ids is not None else self.encode(text)
        rendered = self.render(messages, tools, True)
        return rendered, self.encode(rendered)

    def record(self, episode: str, text: str, ids: list[int] | None = None) -> None:
        """Remember the model's reply to the episode's last prompt (without the stop token)."""
        entry = self._episodes.get(episode)
        if entry is not None:
            entry.generated_text, entry.generated_ids = text, (list(ids) if ids is not None else None)

    def forget(self, episode: str) -> None:
        self._episodes.pop(episode, None)

    def replay(self, messages: list[dict[str, Any]], tools, responses: list[str]) -> list[str]:
        """The prompt of every turn of a finished conversation, given the raw replies (``Step.response``):
        what the model saw when it was rolled out through this renderer."""
        prompts = []
        episode = f"replay-{id(messages)}"
        turn = 0
        for i, m in enumerate(messages):
            if m.get("role") != "assistant":
                continue
            prompts.append(self.prompt(episode, messages[:i], tools))
            self.record(episode, responses[turn] if turn < len(responses) else m.get("content") or "")
            turn += 1
        self.forget(episode)
        return prompts
