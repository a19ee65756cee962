"""ToolHop: multi-hop tool use, scored by answer correctness.

Data: the ToolHop release (``ToolHop.json``: a JSON list; or JSONL, as the paper's repository keeps
it). Each record has ``question``, ``answer``, ``tools`` (a dict of tool documents, keyed by
sub-question or name, each with a ``name``; or a list) and ``functions`` (the tools' Python source: a
list of sources, or a dict name -> source). The tools run in toolgym's sandbox (any executor).

Tools run as the paper's script runs them (``scoping="reference"``, the default): its ``get_feedback``
calls ``call_function``, which runs ``exec(code)`` inside a function and then ``eval(name)(**arguments)``, so
a tool does not see its source's top-level names (a module imported at the top, a table, a helper) and its
output and error messages are ``call_function``'s. ``scoping="module"`` (``--toolhop-scoping module``) runs
each source as a module of its own instead, where such a tool works: not the paper's protocol, and named in
the report.

Protocol, as the paper's ``evaluation_toolhop.py``: one user message with ToolHop's instructions and the
question; ``mode`` ``free`` (tools offered), ``mandatory`` (tools offered and the model is told to use
them for every step) or ``direct`` (no tools); up to ``max_turns`` model turns (9), every tool call of a
turn executed; the episode ends on a reply without tool calls.

Metric (``answer_correctness``), as the paper's ``_answer_correct``: the conversation must end with an
assistant reply whose content contains every comma-separated part of the gold answer (case-folded,
commas removed), or whose preceding tool message does.

Replies are read with :func:`toolgym.parse.read_reply` in ``tool_format`` (``--tool-format``; the paper's
``--series qwen`` reads them with ``parse_qwen``: ``hermes``). Reasoning: the paper's script reads the
model's raw output, so a reply's content keeps its ``<think>`` block and an answer written only inside the
reasoning counts. ``think="keep"`` (the default) does the same (a server that returns the reasoning apart
has it put back in front); ``think="strip"`` scores the reply with the reasoning removed, which is not the
paper's protocol and is named in the report.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..parse import read_reply
from ..parse import tool_format as find_format
from ..sandbox import ExecRequest
from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._report import BenchReport, summarize
from ._turns import ask, assistant_message, forget

if TYPE_CHECKING:
    from ..models import Backend
    from ..sandbox import Executor

_FORMAT = ("If the final answer is a date, format is as follows: YYYY-MM-DD (ISO standard)\n"
           "If the final nswer is a name, format it as follows: Firstname Lastname\n"  # sic, as the paper's prompt
           "If the final answer contains any number, format it as a number, not a word, and only output that "
           "number. Do not include leading 0s.\n\n"
           "Please provide the final answer in the following format: <answer>final answer here</answer>\n"
           "Answer as short as possible.\nQuestion: ")
PROMPTS = {
    "direct": ("You will be asked a question, and should provide a short answer.\n"
               "If the answer is a date, format is as follows: YYYY-MM-DD (ISO standard)\n"
               "If the answer is a name, format it as follows: Firstname Lastname\n"
               "If the answer contains any number, format it as a number, not a word, and only output that "
               "number. Do not include leading 0s.\n\n"
               "Please provide the answer in the following format: <answer>your answer here</answer>\n"
               "Answer as short as possible.\nQuestion: "),
    "mandatory": ("You will be asked a question with some tools, and should provide a short final answer.\n"
                  "Please note that you must call the tool at every step, you must not use your own knowledge. "
                  "Your final answer must also be returned from the tool.\n" + _FORMAT),
    "free": "You will be asked a question with some tools, and should provide a short final answer.\n" + _FORMAT,
}
#: How the tools run (``--toolhop-scoping``): ``reference``, the paper's ``call_function`` (the default), or
#: ``module``, each source as a module of its own.
SCOPINGS = ("reference", "module")


def answer_verify(predict: Any, golden: str) -> bool:
    """The paper's answer check: every ``", "``-separated part of ``golden`` occurs in ``predict``
    (both case-folded, commas removed)."""
    if isinstance(predict, (dict, list)):
        predict = json.dumps(predict, ensure_ascii=False)
    text = str(predict).lower().replace(",", "").strip()
    return all(part.lower().replace(",", "").strip() in text for part in str(golden).split(", "))


def answer_correct(messages: list[dict[str, Any]], answer: str) -> bool:
    last = messages[-1] if messages else {}
    if last.get("role") != "assistant" or not last.get("content"):
        return False
    if answer_verify(last["content"], answer):
        return True
    return len(messages) >= 2 and messages[-2].get("role") == "tool" and answer_verify(messages[-2].get("content"), answer)


def _defined_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def tool_code(functions: Any) -> dict[str, str]:
    """Tool name -> source, from ToolHop's ``functions`` (a list of sources, or already a dict)."""
    if isinstance(functions, dict):
        return {str(k): str(v) for k, v in functions.items()}
    code: dict[str, str] = {}
    for src in functions or []:
        for name in _defined_names(str(src)):
            code.setdefault(name, str(src))
    return code


def tool_schemas(tools: Any) -> list[dict[str, Any]]:
    """ToolHop's ``tools`` (dict or list of documents, bare or wrapped) as OpenAI tools."""
    docs = list(tools.values()) if isinstance(tools, dict) else list(tools or [])
    return [d if d.get("type") == "function" and "function" in d else {"type": "function", "function": d} for d in docs]


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise BenchDataError(f"ToolHop data not found at {path}; give the path of ToolHop.json with --toolhop")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        rows = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    for i, row in enumerate(rows):
        missing = [k for k in ("question", "answer", "tools", "functions") if k not in row]
        if missing:
            raise BenchDataError(f"{path}: record {i} has no {', '.join(missing)} (not the ToolHop format)")
    return rows


class ToolHop:
    name = "toolhop"
    metrics = ("answer_correctness",)

    def __init__(self, path: str | Path, *, executor: Executor | None = None, mode: str = "free", max_turns: int = 9,
                 think: str = "keep", tool_format: str = "hermes", scoping: str = "reference"):
        if mode not in PROMPTS:
            raise BenchDataError(f"ToolHop mode must be one of {', '.join(PROMPTS)}, not {mode!r} (--toolhop-mode)")
        if think not in ("keep", "strip"):
            raise BenchDataError(f"--toolhop-think must be 'keep' (the paper's) or 'strip', not {think!r}")
        if scoping not in SCOPINGS:
            raise BenchDataError(f"--toolhop-scoping must be 'reference' (the paper's) or 'module', not {scoping!r}")
        self.path, self.mode, self.max_turns, self.think = Path(path), mode, max_turns, think
        self.format, self.scoping = find_format(tool_format).name, scoping
        self._executor = executor

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            from ..sandbox import default_pool

            self._executor = default_pool()
        return self._executor

    def items(self) -> list[BenchItem]:
        rows = _read_records(self.path)
        return [BenchItem(str(row.get("id", i)), self.mode, row) for i, row in enumerate(rows)]

    def texts(self, item: BenchItem) -> ItemText:
        return ItemText([item.data["question"]], [json.dumps(t["function"], ensure_ascii=False)
                                                  for t in tool_schemas(item.data["tools"])])

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        data = item.data
        messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPTS[self.mode] + data["question"]}]
        tools = None if self.mode == "direct" else tool_schemas(data["tools"])
        code = tool_code(data["functions"])
        episode = f"toolhop:{item.id}"
        calls = 0
        try:
            for turn in range(self.max_turns if tools else 1):
                gen = await ask(backend, messages, tools, episode=episode, turn=turn)
                reply = read_reply(gen, self.format, strip_thinking=self.think == "strip",
                                   inline_reasoning=self.think == "keep")
                messages.append(assistant_message(reply, turn))
                if not reply.parsed.tool_calls or tools is None:
                    break
                requests = [ExecRequest.of(c, code, scoping=self.scoping) for c in reply.parsed.tool_calls]
                results = await asyncio.to_thread(self.executor.run, requests)
                calls += len(results)
                messages.extend({"role": "tool", "content": r.output, "tool_call_id": f"call_{turn}_{i}"}
                                for i, r in enumerate(results))
        finally:
            forget(backend, episode)
        ok = answer_correct(messages, str(data["answer"]))
        return ItemResult(item.id, item.category, {"answer_correctness": float(ok)}, messages,
                          detail={"tool_calls": calls, "turns": sum(m["role"] == "assistant" for m in messages)})

    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        rep = summarize(self.name, results, self.metrics, model=model)
        rep.notes.append("scored as the paper's evaluation_toolhop.py does, reasoning kept in the reply"
                         if self.think == "keep" else
                         "reasoning removed before scoring (the paper's script keeps it): not the paper's protocol")
        rep.notes.append("tools run as the paper's call_function runs them" if self.scoping == "reference" else
                         "tools run as modules of their own (the paper's call_function does not): not the paper's "
                         "protocol")
        rep.notes.append(f"replies read in the {self.format} tool format")
        return rep
