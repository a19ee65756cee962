"""tau-bench (retail, airline): pass^1 of a tool-calling agent talking to a simulated user.

Data, per domain, in the layout the paper's repository uses (``Data/jsonl/raw/tau-bench/<domain>``):
``tools.json`` (OpenAI tool schemas), ``codes.json`` (tool name -> Python source of a function whose first
parameter is the domain ``data``), ``wiki.md`` (the agent's policy, its system prompt) and the domain's
database as JSON files (``users.json``, ``orders.json``, ``products.json`` / ``flights.json``,
``reservations.json``; in the folder or its ``data/`` subfolder, as tau-bench ships them). Tasks: the
paper's ``tau-bench.jsonl`` (``instruction``, ``actions`` as OpenAI tool calls, ``outputs``,
``data_source`` = ``tau-bench/<domain>``) or tau-bench's own ``tasks_test.py`` (read as data, never run).

Protocol, as tau-bench's tool-calling agent: the wiki as system prompt, the user's first message, then
each agent turn either calls one tool (only the first call of a reply is executed) or speaks to the user,
who answers; it ends when the user writes ``###STOP###``, the agent calls ``transfer_to_human_agents``, or
after ``max_turns`` agent turns (30). Tools run in this process on the episode's own copy of the
database: they are the benchmark's code, only their arguments come from the model.

Metric (``pass^1``), tau-bench's ``calculate_reward``: 1 when the final database equals the database
after replaying the task's gold actions on a fresh copy, and every expected output (``outputs``) occurs
in some message the agent said to the user (case-folded, commas removed); else 0.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._report import BenchReport, summarize
from ._tau_user import STOP, UserSimulator
from ._turns import ask, assistant_message, forget, read_reply

if TYPE_CHECKING:
    from ..models import Backend

TERMINATE = ("transfer_to_human_agents",)


def data_hash(data: Any) -> str:
    """Order-insensitive for dict keys, order-sensitive for lists: tau-bench's ``to_hashable``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


@dataclass
class Domain:
    """One tau-bench domain: its tools, their code (compiled once), its policy and its initial database."""

    name: str
    tools: list[dict[str, Any]]
    functions: dict[str, Any]
    wiki: str
    data: dict[str, Any]
    _gold: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Domain:
        need = [folder / "tools.json", folder / "codes.json", folder / "wiki.md"]
        missing = [p.name for p in need if not p.exists()]
        if missing:
            raise BenchDataError(f"tau-bench domain folder {folder} lacks {', '.join(missing)} (--tau-info)")
        data_dir = folder / "data" if (folder / "data").is_dir() else folder
        data = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(data_dir.glob("*.json"))
                if p.name not in ("tools.json", "codes.json")}
        if not data:
            raise BenchDataError(f"no database JSON files in {data_dir} (users.json, orders.json, ...)")
        codes = json.loads((folder / "codes.json").read_text(encoding="utf-8"))
        functions = {}
        for name, source in codes.items():
            namespace: dict[str, Any] = {}
            exec(compile(source, f"<tau-bench {folder.name}:{name}>", "exec"), namespace)
            functions[name] = namespace[name]
        return cls(folder.name, json.loads((folder / "tools.json").read_text(encoding="utf-8")), functions,
                   (folder / "wiki.md").read_text(encoding="utf-8"), data)

    def call(self, data: dict[str, Any], name: str, arguments: Any) -> str:
        """One tool call, as tau-bench's environment answers it (errors become ``Error: ...``)."""
        fn = self.functions.get(name)
        if fn is None:
            return f"Unknown action {name}"
        if not isinstance(arguments, dict):
            return f"Error: the arguments of {name} must be a JSON object"
        try:
            out = fn(data=data, **arguments)
        except Exception as exc:
            return f"Error: {exc}"
        return json.dumps(out, ensure_ascii=False) if isinstance(out, (dict, list)) else str(out)

    def gold_hash(self, task_id: str, actions: list[tuple[str, dict]]) -> str:
        if task_id not in self._gold:
            data = copy.deepcopy(self.data)
            for name, kwargs in actions:
                if name not in TERMINATE:
                    self.call(data, name, kwargs)
            self._gold[task_id] = data_hash(data)
        return self._gold[task_id]


def _actions(raw: list[Any]) -> list[tuple[str, dict]]:
    out = []
    for a in raw:
        if "function" in a:  # the paper's layout: OpenAI tool calls
            args = a["function"].get("arguments") or "{}"
            out.append((a["function"]["name"], json.loads(args) if isinstance(args, str) else args))
        else:
            out.append((a["name"], dict(a.get("kwargs", {}))))
    return out


def tasks_from_python(path: Path) -> list[dict[str, Any]]:
    """tau-bench's ``tasks_*.py``: the literal ``Task(...)``/``Action(...)`` calls of its task list."""
    def literal(node: ast.AST) -> Any:
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Action":
            return {k.arg: literal(k.value) for k in node.keywords}
        if isinstance(node, ast.List):
            return [literal(e) for e in node.elts]
        return ast.literal_eval(node)

    tree = ast.parse(path.read_text(encoding="utf-8"))
    tasks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.List) and node.elts and all(
                isinstance(e, ast.Call) and getattr(e.func, "id", None) == "Task" for e in node.elts):
            for call in node.elts:
                kw = {k.arg: literal(k.value) for k in call.keywords}
                tasks.append({"instruction": kw["instruction"], "actions": kw.get("actions", []),
                              "outputs": kw.get("outputs", []), "user_id": kw.get("user_id")})
    return tasks


def load_tasks(path: Path, domain: str | None) -> list[BenchItem]:
    if not path.exists():
        raise BenchDataError(f"tau-bench tasks not found at {path} (--taubench)")
    if path.suffix == ".py":
        name = domain or path.parent.name
        rows = [{**t, "data_source": f"tau-bench/{name}"} for t in tasks_from_python(path)]
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    items, seen = [], {}
    for row in rows:
        if "instruction" not in row or "actions" not in row:
            raise BenchDataError(f"{path}: a task without instruction/actions (not the tau-bench format)")
        name = str(row.get("data_source", "")).split("/")[-1] or (domain or "")
        if domain and name != domain:
            continue
        index = seen[name] = seen.get(name, -1) + 1
        items.append(BenchItem(f"{name}-{index}", name, row))
    return items


class TauBench:
    name = "taubench"
    metrics = ("pass^1",)

    def __init__(self, tasks: str | Path, info: str | Path, user: UserSimulator | None = None, *,
                 domain: str | None = None, max_turns: int = 30):
        self.tasks_path, self.info, self.user = Path(tasks), Path(info), user
        self.domain_filter, self.max_turns = domain, max_turns
        self._domains: dict[str, Domain] = {}

    def domain(self, name: str) -> Domain:
        if name not in self._domains:
            self._domains[name] = Domain.load(self.info / name)
        return self._domains[name]

    def items(self) -> list[BenchItem]:
        return load_tasks(self.tasks_path, self.domain_filter)

    def texts(self, item: BenchItem) -> ItemText:
        return ItemText([item.data["instruction"]])

    async def _episode(self, item: BenchItem, dom: Domain, data: dict, backend: Backend) -> list[dict[str, Any]]:
        if self.user is None:
            raise BenchDataError("tau-bench needs a simulated user: --tau-user-backend/--tau-user-model or "
                                 "--tau-user-log")
        messages: list[dict[str, Any]] = [{"role": "system", "content": dom.wiki}]
        messages.append({"role": "user", "content": await self.user.start(item.id, item.data["instruction"])})
        for turn in range(self.max_turns):
            reply = read_reply(await ask(backend, messages, dom.tools, episode=f"tau:{item.id}", turn=turn))
            messages.append(assistant_message(reply, turn, max_calls=1))
            if reply.parsed.tool_calls:
                call = reply.parsed.tool_calls[0]
                messages.append({"role": "tool", "content": dom.call(data, call.name, call.arguments),
                                 "tool_call_id": f"call_{turn}_0"})
                if call.name in TERMINATE:
                    break
                continue
            said = await self.user.reply(item.id, reply.parsed.content)
            messages.append({"role": "user", "content": said})
            if STOP in said:
                break
        return messages

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        dom = self.domain(item.category)
        data = copy.deepcopy(dom.data)
        try:
            messages = await self._episode(item, dom, data, backend)
        finally:
            if self.user is not None:
                self.user.finish(item.id)
            forget(backend, f"tau:{item.id}")
        said = [m.get("content") or "" for m in messages if m["role"] == "assistant" and not m.get("tool_calls")]
        state_ok = data_hash(data) == dom.gold_hash(item.id, _actions(item.data["actions"]))
        outputs = {o: any(str(o).lower() in s.lower().replace(",", "") for s in said) for o in item.data.get("outputs", [])}
        reward = float(state_ok and all(outputs.values()))
        return ItemResult(item.id, item.category, {"pass^1": reward}, messages,
                          detail={"database_ok": state_ok, "outputs": outputs, "user": getattr(self.user, "model", "")})

    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        rep = summarize(self.name, results, self.metrics, model=model)
        rep.headline = [(g, "pass^1") for g in rep.groups]
        return rep
