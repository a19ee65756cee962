"""tau-bench's simulated user: any toolgym backend playing the customer, or a recorded conversation
replayed turn by turn (offline, repeatable runs).

The live simulator follows tau-bench's ``LLMUserSimulationEnv``: its system prompt with the task's
instruction and rules, the agent's greeting "Hi! How can I help you today?" as the first message it
answers, the roles flipped (the agent's messages are its ``user`` turns). It ends the conversation by
writing ``###STOP###``. tau-bench calls its user model (gpt-4o) with no temperature and no token limit,
so the provider's defaults apply (1.0 for OpenAI): the user is not deterministic. The paper's script
calls the same model at temperature 0 with at most 512 tokens instead, and tau2 at temperature 0. The user
runs with whatever the backend given here is set to (``toolgym bench``: ``--tau-user-temperature``, default
0, and ``--tau-user-max-tokens``, default 512; ``--tau-user-temperature 1`` is what tau-bench's call gets
from an OpenAI model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..io import iter_jsonl
from ..parse import read_reply
from ._base import BenchDataError
from ._turns import ask, forget

if TYPE_CHECKING:
    from ..models import Backend

STOP = "###STOP###"
GREETING = "Hi! How can I help you today?"
RULES = """Rules:
- Just generate one line at a time to simulate the user's message.
- Do not give away all the instruction at once. Only provide the information that is necessary for the current step.
- Do not hallucinate information that is not provided in the instruction. For example, if the agent asks for the order id but it is not mentioned in the instruction, do not make up an order id, just say you do not remember or have it.
- If the instruction goal is satisified, generate '###STOP###' as a standalone message without anything else to end the conversation.
- Do not repeat the exact instruction in the conversation. Instead, use your own words to convey the same information.
- Try to make the conversation as natural as possible, and stick to the personalities in the instruction."""


def user_system_prompt(instruction: str) -> str:
    """tau-bench's ``LLMUserSimulationEnv.build_system_prompt``."""
    return f"You are a user interacting with an agent.\n\nInstruction: {instruction}\n\n{RULES}"


class UserSimulator(Protocol):
    """Plays the customer of one task at a time (keyed by task id; many tasks may run at once)."""

    model: str

    async def start(self, task_id: str, instruction: str) -> str: ...

    async def reply(self, task_id: str, agent_message: str) -> str: ...

    def finish(self, task_id: str) -> None: ...


class BackendUser:
    """A model behind any toolgym backend plays the user (tau-bench used gpt-4o, called with no
    temperature: see the module docstring)."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.model = backend.model
        self._chats: dict[str, list[dict[str, Any]]] = {}

    async def _next(self, task_id: str) -> str:
        chat = self._chats[task_id]
        gen = await ask(self.backend, chat, None, episode=f"tau-user:{task_id}", turn=len(chat))
        text = read_reply(gen).visible
        chat.append({"role": "assistant", "content": text})
        return text

    async def start(self, task_id: str, instruction: str) -> str:
        self._chats[task_id] = [{"role": "system", "content": user_system_prompt(instruction)},
                                {"role": "user", "content": GREETING}]
        return await self._next(task_id)

    async def reply(self, task_id: str, agent_message: str) -> str:
        self._chats[task_id].append({"role": "user", "content": agent_message})
        return await self._next(task_id)

    def finish(self, task_id: str) -> None:
        self._chats.pop(task_id, None)
        forget(self.backend, f"tau-user:{task_id}")


def _turns_from_row(row: dict[str, Any]) -> tuple[str, list[str]] | None:
    if "user_turns" in row:
        return str(row["id"]), [str(t) for t in row["user_turns"]]
    if "messages" in row and "id" in row:  # a toolgym tau-bench result line
        return str(row["id"]), [str(m.get("content") or "") for m in row["messages"] if m.get("role") == "user"]
    return None


def load_user_log(path: str | Path) -> dict[str, list[str]]:
    """Recorded user turns per task id, from a JSON object ``{task_id: [turn, ...]}``, or JSONL lines
    ``{"id": ..., "user_turns": [...]}``, or the results file of an earlier toolgym tau-bench run (its
    user messages, in order; the latest line of a task wins)."""
    p = Path(path)
    if not p.exists():
        raise BenchDataError(f"recorded user log {p} does not exist (--tau-user-log)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        return {str(k): [str(t) for t in v] for k, v in data.items()}
    log: dict[str, list[str]] = {}
    for _, row in iter_jsonl(p, on_error=lambda *_: None):
        got = _turns_from_row(row) if isinstance(row, dict) else None
        if got:
            log[got[0]] = got[1]
    if not log:
        raise BenchDataError(f"{p} holds no recorded user turns (expected {{task_id: [turns]}} or result lines)")
    return log


class RecordedUser:
    """Replays recorded user turns in order, whatever the agent says; ``###STOP###`` once they run out."""

    model = "recorded-user"

    def __init__(self, log: dict[str, list[str]] | str | Path):
        self.log = log if isinstance(log, dict) else load_user_log(log)
        self._pos: dict[str, int] = {}

    def _take(self, task_id: str) -> str:
        turns = self.log[task_id]
        i = self._pos.get(task_id, 0)
        self._pos[task_id] = i + 1
        return turns[i] if i < len(turns) else STOP

    async def start(self, task_id: str, instruction: str) -> str:
        if task_id not in self.log:
            raise BenchDataError(f"no recorded user turns for task {task_id!r} in the user log")
        self._pos[task_id] = 0
        return self._take(task_id)

    async def reply(self, task_id: str, agent_message: str) -> str:
        return self._take(task_id)

    def finish(self, task_id: str) -> None:
        self._pos.pop(task_id, None)
