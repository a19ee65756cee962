"""BFCL's multi-turn and agentic-memory categories, offline: the rollout through toolgym's model seam,
BFCL's own stateful executors for the tool calls, BFCL's own checkers for the verdict.

The rollout follows BFCL's ``inference_multi_turn_FC`` / ``inference_multi_turn_prompting`` step for step:
each user turn is added (a ``miss_func`` turn adds the held-out functions instead, the way the chosen
handler does), then the model is asked until a reply decodes to no call (or fails to decode); every decoded
call runs in BFCL's executors (``execute_multi_turn_func_call``, the classes under
``eval_checker/multi_turn_eval/func_source_code``); after 21 steps in one turn the entry is force-quit.
What is kept per step is the handler's ``model_responses``, exactly what BFCL stores as the result.

Scoring is BFCL's evaluation of that result: every step decoded with the handler's ``decode_execute``
(failures and empty decodes skipped), then ``multi_turn_checker`` (state and response checks against the
ground-truth calls after every turn); for memory entries, the last reply that is not a call goes to
``agentic_checker``. Memory entries first need the scenario's prerequisite conversations, run once per
scenario with the same model, whose memory snapshot (written by BFCL's memory classes) the entries load.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base import BenchItem, ItemResult
from ._bfcl_lib import dataset, lib
from ._turns import ask, forget

if TYPE_CHECKING:
    from ..models import Backend
    from ._bfcl_handlers import Handler


def category_of(entry_id: str) -> str:
    return entry_id.rsplit("_", 1)[0]


class Executors:
    """BFCL's executor instances of one entry. BFCL keeps them in its module's globals, named after the
    model and the entry; a fresh name per attempt keeps retries and concurrent entries apart, and the
    instances are dropped when the entry is done."""

    def __init__(self, entry: dict[str, Any]):
        self.entry = entry
        self.name = f"toolgym_{uuid.uuid4().hex}"
        category = category_of(entry["id"])
        self.long_context = "long_context" in category or "composite" in category

    def run(self, calls: list[str], *, name: str | None = None, eval_run: bool = False) -> tuple[list[str], dict]:
        return lib().execute_multi_turn_func_call(calls, self.entry.get("initial_config", {}),
                                                  self.entry["involved_classes"], name or self.name, self.entry["id"],
                                                  long_context=self.long_context, is_evaL_run=eval_run)

    def close(self) -> None:
        names = lib().multi_turn_globals
        for key in [k for k in names if k.startswith(self.name)]:
            del names[key]


async def rollout(entry: dict[str, Any], handler: Handler, backend: Backend, episode: str,
                  executors: Executors) -> tuple[list[list[Any]], list[dict[str, Any]], bool]:
    """One BFCL multi-turn conversation: ``(result, messages, force_quit)`` where ``result[turn][step]`` is
    the handler's ``model_responses``."""
    lb = lib()
    entry = copy.deepcopy(entry)
    category = category_of(entry["id"])
    _, instances = executors.run([])
    if "memory" in category:
        [memory] = instances.values()
        entry["question"] = lb.add_memory_instruction_system_prompt(entry["question"], category, entry["scenario"], memory)
    functions = entry["function"]
    tools = handler.tools(functions)
    holdout = entry.get("missed_function", {})
    messages: list[dict[str, Any]] = []
    result: list[list[Any]] = []
    asked = 0
    force_quit = False
    for turn, turn_messages in enumerate(entry["question"]):
        turn_messages = copy.deepcopy(turn_messages)
        if str(turn) in holdout:
            message, tools = handler.holdout(tools, holdout[str(turn)])
            turn_messages = [message]
        if turn == 0:
            turn_messages = handler.first_turn(turn_messages, functions, entry["id"])
        messages.extend(turn_messages)
        steps: list[Any] = []
        count = 0
        while True:
            gen = await ask(backend, messages, tools or None, episode=episode, turn=asked)
            asked += 1
            response = handler.response(gen)
            assistant = handler.assistant(gen, response, turn, count)
            messages.append(assistant)
            steps.append(response)
            try:
                decoded = handler.decode_execute(response)
            except Exception:
                break  # BFCL: a reply that does not decode ends the turn
            if lb.is_empty_execute_response(decoded):
                break
            results, instances = executors.run(decoded)
            messages.extend(handler.tool_results(assistant, decoded, results))
            count += 1
            if count > lb.MAXIMUM_STEP_LIMIT:
                force_quit = True
                break
        result.append(steps)
        if force_quit:
            break
    if "prereq" in entry["id"]:
        [memory] = instances.values()
        memory._flush_memory_to_local_file()
    return result, messages, force_quit


def _decoded_steps(handler: Handler, steps: list[Any]) -> list[list[str]]:
    out = []
    for response in steps:
        try:
            decoded = handler.decode_execute(response)
        except Exception:
            continue
        if not lib().is_empty_execute_response(decoded):
            out.append(decoded)
    return out


def check_multi_turn(entry: dict[str, Any], result: Any, ground_truth: list[list[str]], handler: Handler) -> dict:
    """BFCL's verdict on a multi-turn result (its ``_evaluate_single_multi_turn_entry``)."""
    if not isinstance(result, list):
        return {"valid": False, "error_type": "multi_turn:inference_error"}
    if len(result) != len(ground_truth):
        return {"valid": False, "error_type": "multi_turn:force_terminated",
                "error_message": f"{len(result)} turns answered of {len(ground_truth)}"}
    decoded = [_decoded_steps(handler, steps) for steps in result]
    executors = Executors(entry)
    try:
        verdict = lib().multi_turn_checker(decoded, ground_truth, entry, category_of(entry["id"]), executors.name)
    finally:
        executors.close()
    return verdict


def check_memory(result: Any, answers: list[str], handler: Handler) -> dict:
    """BFCL's verdict on a memory entry (its ``_evaluate_single_agentic_entry``): the last reply that is not
    a call must contain one of the answers."""
    if not isinstance(result, list) or len(result) != 1:
        return {"valid": False, "error_type": "agentic:inference_error"}
    last = None
    for response in result[0]:
        try:
            if lib().is_empty_execute_response(handler.decode_execute(response)):
                last = response
        except Exception:
            last = response
    if not last:
        return {"valid": False, "error_type": "agentic:no_last_message"}
    return lib().agentic_checker(last, answers)


class MemoryPrereqs:
    """Runs each memory scenario's prerequisite conversations once (per category, scenario and model),
    in order, so that BFCL's memory classes leave the scenario's final snapshot in ``root``. A finished
    chain is marked, so a resumed run with the same model reuses it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _marker(self, category: str, scenario: str) -> Path:
        return self.root / "prereq_done" / f"{category}-{scenario}.json"

    async def ensure(self, category: str, scenario: str, handler: Handler, backend: Backend) -> None:
        lock = self._locks.setdefault((category, scenario), asyncio.Lock())
        async with lock:
            marker = self._marker(category, scenario)
            stamp = {"model": backend.model, "handler": handler.name}
            if marker.exists() and json.loads(marker.read_text()) == stamp:
                return
            entries = dataset(category, keep=lambda e: "prereq" in e["id"] and e.get("scenario") == scenario)
            lib().populate_memory(entries, self.root)
            for entry in entries:
                executors = Executors(entry)
                episode = f"bfcl:{entry['id']}"
                try:
                    await rollout(entry, handler, backend, episode, executors)
                finally:
                    executors.close()
                    forget(backend, episode)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(stamp))


async def run_entry(item: BenchItem, handler: Handler, backend: Backend, prereqs: MemoryPrereqs) -> ItemResult:
    """Run and score one multi-turn or memory item."""
    entry = copy.deepcopy(item.data["entry"])
    memory = item.category.startswith("memory")
    if memory:
        await prereqs.ensure(item.category, entry["scenario"], handler, backend)
        lib().populate_memory([entry], prereqs.root)
    executors = Executors(entry)
    episode = f"bfcl:{item.id}"
    try:
        result, messages, force_quit = await rollout(entry, handler, backend, episode, executors)
    finally:
        executors.close()
        forget(backend, episode)
    if memory:
        verdict = check_memory(result, item.data["ground_truth"], handler)
    else:
        verdict = check_multi_turn(item.data["entry"], result, item.data["ground_truth"], handler)
    detail: dict[str, Any] = {"bfcl_result": result, "force_quit": force_quit}
    if not verdict["valid"]:
        detail["error_type"] = verdict.get("error_type")
        detail["error"] = verdict.get("error_message")
    return ItemResult(item.id, item.category, {"accuracy": float(bool(verdict["valid"]))}, messages, detail=detail)
