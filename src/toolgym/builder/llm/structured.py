"""Structured output: ask a stage's prompt, read the reply's JSON, check it, retry with the error.

:meth:`Asker.ask` sends the system prompt and the rendered stage template, finds the JSON object in the
reply (code fences and ``<think>`` blocks are tolerated), validates it against the stage's JSON schema,
then runs the stage's own check (structure, consistency, for the last stage the sandbox). A reply that
fails is answered with the feedback template carrying the error, in the same conversation, until the
stage's ``attempts`` are spent; then :class:`StageRejected` records the stage, a short countable reason
and the last error. Checks signal a bad reply by raising :class:`Invalid`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from ...errors import RejectionKind
from .client import LLMClient, RequestFailed
from .prompts import STAGES, Prompts

T = TypeVar("T")
Check = Callable[[Any], "T | Awaitable[T]"]

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"```[A-Za-z]*\s*\n(.*?)```", re.DOTALL)


class Invalid(Exception):
    """A reply that fails a check. ``reason``: short, countable (it goes into the manifest);
    ``message``: what is wrong, told to the model; ``stage``: where to record a final rejection when it
    is not the asking stage (the deployment stage's sandbox failures are ``verification``)."""

    def __init__(self, reason: str, message: str, stage: str | None = None):
        super().__init__(message)
        self.reason, self.message, self.stage = reason, message, stage


class StageRejected(Exception):
    """A stage gave up on an environment: where, of which kind, the countable reason and the last error."""

    def __init__(self, stage: str, reason: str, detail: str, kind: RejectionKind = RejectionKind.INVALID_REPLY):
        super().__init__(f"{stage}: {reason}: {detail}")
        self.stage, self.reason, self.detail, self.kind = stage, reason, detail, kind


def extract_json(text: str, finish_reason: str = "") -> Any:
    """The JSON object of a reply (the first one that parses), or :class:`Invalid` saying why not."""
    text = _THINK.sub("", text)
    if "</think>" in text:  # a server that strips the opening tag
        text = text.split("</think>", 1)[1]
    cut = (" The reply was cut off at the token limit: write a shorter one."
           if finish_reason == "length" else "")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    error = "the reply holds no JSON object (it must be one object, {...})."
    decoder = json.JSONDecoder()
    for candidate in candidates:
        starts = [i for i, ch in enumerate(candidate) if ch == "{"][:64]  # the first object that parses
        for start in starts:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError as exc:
                if start == starts[0] and error.startswith("the reply holds"):
                    error = f"the reply is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
                continue
            if isinstance(value, dict):
                return value
    raise Invalid("invalid JSON", error + cut)


@lru_cache(maxsize=64)
def _validator(schema_json: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json))


def _where(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the top level"


def schema_errors(schema: dict[str, Any], data: Any, limit: int = 5) -> list[str]:
    """The first ``limit`` violations of ``schema``, each located by its path."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"at {_where(e.absolute_path)}: {e.message[:300]}" for e in errors[:limit]]


def request_seed(seed: int, index: int, stage: str, attempt: int) -> int:
    digest = hashlib.sha256(f"{seed}:{index}:{stage}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class Asker:
    """One environment's conversations with the LLM: every stage asked with the same seed and index."""

    client: LLMClient
    prompts: Prompts
    attempts: int
    seed: int
    index: int
    before_send: Callable[[], Awaitable[None]] | None = None  # awaited before a request leaves (not a cache hit)

    async def ask(self, key: str, variables: dict[str, Any], check: Check) -> T:
        stage = STAGES[key].name
        messages = [{"role": "system", "content": self.prompts.system},
                    {"role": "user", "content": self.prompts.render(key, **variables)}]
        last = Invalid("no reply", "no reply")
        for attempt in range(self.attempts):
            try:
                reply = await self.client.complete(stage, messages, request_seed(self.seed, self.index, key, attempt),
                                                   self.before_send)
            except RequestFailed as exc:
                raise StageRejected(stage, "request failed", str(exc)[:300], RejectionKind.REQUEST_FAILED) from None
            try:
                return await self._check(key, reply.text, reply.finish_reason, check)
            except Invalid as exc:
                last = exc
                self.client.stage(stage).invalid_replies += 1
                messages = messages + [{"role": "assistant", "content": reply.text},
                                       {"role": "user", "content": self.prompts.feedback_message(exc.message)}]
        kind = RejectionKind.VERIFICATION if last.stage == "verification" else RejectionKind.INVALID_REPLY
        raise StageRejected(last.stage or stage, last.reason, last.message[:500], kind)

    async def _check(self, key: str, text: str, finish_reason: str, check: Check) -> T:
        data = extract_json(text, finish_reason)
        problems = schema_errors(self.prompts.schemas[key], data)
        if problems:
            raise Invalid("schema violation", "the reply does not follow the output schema: " + "; ".join(problems))
        result = check(data)
        return await result if inspect.isawaitable(result) else result
