"""A scripted baseline policy that follows each environment's gold solution, with configurable error
rates. It is a baseline for tests and comparisons, never a model: its trajectories say ``scripted``.

Errors, each drawn per call (or per turn for ``early_answer``) from a generator seeded by the episode
and turn, so results do not depend on scheduling: ``wrong_tool`` (another tool's name),
``wrong_argument`` (the arguments replaced by wrong values of the same type), ``missing_call``
(the call is left out), ``malformed_call`` (the call's JSON is broken), ``early_answer`` (answer now,
without the remaining calls).

Its final reply states the gold answer only when the tool outputs it has seen contain it (the rule
verification checks for the gold solution); otherwise it says it could not find it. So its answer
accuracy reflects its calls, as the demo's scripted baselines' does.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ConfigError
from ..parse import tool_format as parse_tool_format
from ..reward import answer_matches
from ..schema import ToolCall, tool_name
from ..verify import perturb
from ._base import Generation, GenerationRequest


@dataclass(frozen=True, slots=True)
class ErrorRates:
    wrong_tool: float = 0.0
    wrong_argument: float = 0.0
    missing_call: float = 0.0
    malformed_call: float = 0.0
    early_answer: float = 0.0

    @classmethod
    def parse(cls, pairs: Iterable[str]) -> ErrorRates:
        """From ``NAME=RATE`` strings (the ``--error-rate`` option)."""
        names = [f.name for f in fields(cls)]
        values: dict[str, float] = {}
        for pair in pairs:
            name, _, rate = pair.partition("=")
            if name not in names:
                raise ConfigError(f"unknown error kind {name!r} in --error-rate; use {', '.join(names)}")
            try:
                values[name] = float(rate)
            except ValueError:
                raise ConfigError(f"--error-rate {pair!r}: the rate must be a number") from None
            if not 0.0 <= values[name] <= 1.0:
                raise ConfigError(f"--error-rate {pair!r}: the rate must be between 0 and 1")
        return cls(**values)


class ScriptedPolicy:
    name = "scripted"

    def __init__(self, errors: ErrorRates | None = None, *, seed: int = 0, delay_s: float = 0.0,
                 tool_format: str = "hermes"):
        self.errors = errors or ErrorRates()
        self.format = parse_tool_format(tool_format)  # how its calls are written: Qwen's or Llama 3.1's
        self.seed = seed
        self.delay_s = delay_s
        self.model = "scripted-baseline"

    def request_identity(self, req: GenerationRequest) -> dict[str, Any]:
        """Everything that decides the reply to ``req`` (the key of a reply cache)."""
        return {"backend": self.name, "errors": asdict(self.errors), "seed": self.seed, "episode": req.episode,
                "turn": req.turn, "env": req.env.id if req.env is not None else None, "messages": req.messages,
                **({"format": self.format.name} if self.format.name != "hermes" else {})}

    def _rng(self, req: GenerationRequest) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}|{req.episode}|{req.turn}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def reply(self, req: GenerationRequest) -> str:
        env = req.env
        if env is None:
            raise ValueError("the scripted policy needs the environment in each request")
        rng = self._rng(req)
        turn = sum(1 for m in req.messages if m.get("role") == "assistant")
        turns = self.format.turns(env.solution)  # Llama 3.1 (the paper's reading) plays one call a turn
        if turn >= len(turns) or rng.random() < self.errors.early_answer:
            return self._final(req)
        parts = []
        names = [n for n in (tool_name(t) for t in env.tools) if n]
        for call in turns[turn]:
            if rng.random() < self.errors.missing_call:
                continue
            if rng.random() < self.errors.wrong_tool:
                others = [n for n in names if n != call.name]
                call = ToolCall(name=rng.choice(others) if others else call.name + "_v2", arguments=call.arguments)
            if rng.random() < self.errors.wrong_argument:
                call = ToolCall(name=call.name, arguments=perturb(call.arguments))
            if rng.random() < self.errors.malformed_call:
                parts.append(self.format.write_broken(call))  # cut JSON
                continue
            parts.append(self.format.write_call(call))
        return self.format.separator.join(parts) if parts else self._final(req)

    @staticmethod
    def _final(req: GenerationRequest) -> str:
        """The answer, if the tools returned it (a baseline answers from what it found, like a model)."""
        seen = "\n".join(str(m.get("content") or "") for m in req.messages if m.get("role") == "tool")
        answer = req.env.answer
        if answer is not None and answer_matches(seen, answer):
            return f"The answer is {answer}."
        return "I could not find the answer."

    async def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return [Generation(text=self.reply(r)) for r in requests]

    async def aclose(self) -> None:
        return None
