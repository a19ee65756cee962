"""tau-bench (retail, airline): a tool-calling agent talking to a simulated user, scored as tau-bench scores it.

Data (see :mod:`toolgym.bench._tau_domain` for the two domain layouts): ``info`` is tau-bench's
``tau_bench/envs`` folder or the paper's ``Data/jsonl/raw/tau-bench`` folder. Tasks come from ``tasks``
(the paper's ``tau-bench.jsonl`` with ``instruction``, ``actions`` as OpenAI tool calls, ``outputs``,
``data_source`` = ``tau-bench/<domain>``; or one of tau-bench's ``tasks_*.py``) or, when ``tasks`` is not
given, from each domain folder's ``tasks_<split>.py`` (``split``: test, train, dev; retail has all three).
Task files are read as data (the literal ``Task(...)`` calls), never run.

Protocol, tau-bench's ``ToolCallingAgent.solve`` with its ``Env``: the wiki as system prompt, the user's
first message, then up to ``max_steps`` (30) agent steps. A reply with tool calls is the action of its
first call (only that one runs, on the episode's own copy of the database); a reply without is said to
the user, who answers. The episode is done when the user writes ``###STOP###`` or the agent calls
``transfer_to_human_agents``; only then is the reward computed. An episode that runs out of steps scores 0,
and so does one whose first tool call has arguments that are not a JSON object (tau-bench's
``json.loads`` raises and its runner records reward 0).

Reward (tau-bench's ``Env.calculate_reward``): 1 when the final database hash equals the hash after
replaying the task's gold actions on a fresh database, and every expected output occurs (case-folded,
commas removed from the message) in something the agent said to the user; else 0. With ``trials`` > 1
every task runs that many times, and the report gives tau-bench's pass^k for k = 1..trials: per task
``C(c, k) / C(n, k)`` with ``c`` successes out of ``n`` trials, averaged over tasks.

Replies: a server's native tool calls are read as tau-bench reads them (the ``arguments`` string must load
as a JSON object); calls written in the text are read with :func:`toolgym.parse.read_reply` in
``tool_format`` (``--tool-format``), after any ``<think>`` block, which is never said to the user.

Tools: the paper's converted ``codes.json`` run in this process, each source as a module of its own with the
episode's database as ``data`` (tau-bench's tool classes need the one database an episode changes, which a
sandbox call cannot share). The paper's ``evaluation_taubench.py`` runs them with ``get_feedback``, exec'd
inside its ``call_function``; the two scopings give the same result for its sources (each imports only
typing names at the top and reads no top-level name of its source), which the tests check call by call.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..parse import read_reply
from ..parse import tool_format as find_format
from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._report import BenchReport, add_pass_hat_k, summarize
from ._tau_domain import TERMINATE, Domain, data_hash
from ._tau_user import STOP, UserSimulator
from ._turns import ask, forget

if TYPE_CHECKING:
    from ..models import Backend

SPLITS = ("test", "train", "dev")

__all__ = ["SPLITS", "TERMINATE", "Domain", "TauBench", "data_hash", "load_tasks", "tasks_from_python"]


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


def _rows(path: Path, domain: str | None) -> list[dict[str, Any]]:
    if path.suffix == ".py":
        name = domain or path.parent.name
        return [{**t, "data_source": f"tau-bench/{name}"} for t in tasks_from_python(path)]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_tasks(path: Path | None, domain: str | None, *, info: Path | None = None, split: str = "test",
               trials: int = 1) -> list[BenchItem]:
    """The task items: from ``path``, or from every domain folder of ``info`` (its ``tasks_<split>.py``);
    ids ``<domain>-<index>`` (``<domain>-<split>-<index>`` for train/dev), ``@<trial>`` after the first trial."""
    if split not in SPLITS:
        raise BenchDataError(f"tau-bench task split must be one of {', '.join(SPLITS)}, not {split!r} (--tau-split)")
    rows: list[dict[str, Any]] = []
    if path is not None:
        if not path.exists():
            raise BenchDataError(f"tau-bench tasks not found at {path} (--taubench)")
        rows = _rows(path, domain)
    else:
        folders = [info / domain] if domain and info else sorted(p for p in (info or Path(".")).iterdir() if p.is_dir())
        for folder in folders:
            file = folder / f"tasks_{split}.py"
            if file.exists():
                rows.extend(_rows(file, folder.name))
        if not rows:
            raise BenchDataError(f"no tasks_{split}.py in the domain folders of {info}; give the tasks with --taubench "
                                 "or another --tau-split")
    items, seen = [], {}
    for row in rows:
        if "instruction" not in row or "actions" not in row:
            raise BenchDataError(f"{path}: a task without instruction/actions (not the tau-bench format)")
        name = str(row.get("data_source", "")).split("/")[-1] or (domain or "")
        if domain and name != domain:
            continue
        index = seen[name] = seen.get(name, -1) + 1
        base = f"{name}-{index}" if split == "test" else f"{name}-{split}-{index}"
        for trial in range(trials):
            items.append(BenchItem(base if trial == 0 else f"{base}@{trial}", name, {**row, "task": base, "trial": trial}))
    return items


class ActionError(ValueError):
    """The agent's tool call could not become a tau-bench action (its arguments are not a JSON object)."""


def first_action(reply) -> tuple[str, dict[str, Any]] | None:
    """tau-bench's ``message_to_action`` for the first tool call of a reply (``None``: a message to the
    user). Native calls keep their raw ``arguments`` string, which must load as a JSON object."""
    if reply.native_calls:
        first = reply.native_calls[0]
        fn = (first.get("function") if isinstance(first, dict) else None) or {}
        if not isinstance(fn, dict):
            raise ActionError("the tool call has no function object")
        try:
            args = json.loads(fn.get("arguments"))
        except (TypeError, json.JSONDecodeError) as exc:
            raise ActionError(f"arguments of {fn.get('name')} are not JSON: {exc}") from exc
        if not isinstance(args, dict):
            raise ActionError(f"arguments of {fn.get('name')} are not a JSON object")
        return str(fn.get("name")), args
    if reply.parsed.tool_calls:
        call = reply.parsed.tool_calls[0]
        return call.name, dict(call.arguments)
    if reply.parsed.malformed:
        raise ActionError(f"unreadable tool call: {reply.parsed.malformed[0].error}")
    return None


class TauBench:
    name = "taubench"
    metrics = ("reward",)

    def __init__(self, tasks: str | Path | None, info: str | Path, user: UserSimulator | None = None, *,
                 domain: str | None = None, max_steps: int = 30, split: str = "test", trials: int = 1,
                 tool_format: str = "hermes"):
        if trials < 1:
            raise BenchDataError("--tau-trials must be at least 1")
        self.format = find_format(tool_format).name
        self.tasks_path = Path(tasks) if tasks is not None else None
        self.info, self.user = Path(info), user
        self.domain_filter, self.max_steps, self.split, self.trials = domain, max_steps, split, trials
        self._domains: dict[str, Domain] = {}

    def domain(self, name: str) -> Domain:
        if name not in self._domains:
            self._domains[name] = Domain.load(self.info / name)
        return self._domains[name]

    def items(self) -> list[BenchItem]:
        return load_tasks(self.tasks_path, self.domain_filter, info=self.info, split=self.split, trials=self.trials)

    def texts(self, item: BenchItem) -> ItemText:
        return ItemText([item.data["instruction"]])

    async def _episode(self, item: BenchItem, dom: Domain, data: dict, backend: Backend,
                       messages: list[dict[str, Any]], said: list[str]) -> tuple[bool, str]:
        """Run the episode into ``messages``; ``(done, how it ended)``."""
        if self.user is None:
            raise BenchDataError("tau-bench needs a simulated user: --tau-user-backend/--tau-user-model or "
                                 "--tau-user-log")
        messages.append({"role": "system", "content": dom.wiki})
        messages.append({"role": "user", "content": await self.user.start(item.id, item.data["instruction"])})
        for step in range(self.max_steps):
            gen = await ask(backend, messages, dom.tools, episode=f"tau:{item.id}", turn=step)
            reply = read_reply(gen, self.format, strip_thinking=True)
            try:
                action = first_action(reply)
            except ActionError as exc:
                messages.append({"role": "assistant", "content": reply.parsed.content,
                                 "tool_calls": list(reply.native_calls)})
                return False, f"error: {exc}"
            if action is not None:
                name, args = action
                call_id = f"call_{step}_0"
                messages.append({"role": "assistant", "content": reply.parsed.content, "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]})
                messages.append({"role": "tool", "content": dom.call(data, name, args), "tool_call_id": call_id,
                                 "name": name})
                if name in TERMINATE:
                    return True, f"agent called {name}"
                continue
            content = reply.parsed.content
            said.append(content)
            messages.append({"role": "assistant", "content": content})
            answer = await self.user.reply(item.id, content)
            messages.append({"role": "user", "content": answer})
            if STOP in answer:
                return True, "user stopped"
        return False, f"ran out of steps ({self.max_steps})"

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        dom = self.domain(item.category)
        data = dom.fresh_data()
        messages: list[dict[str, Any]] = []
        said: list[str] = []
        try:
            done, how = await self._episode(item, dom, data, backend, messages, said)
        finally:
            if self.user is not None:
                self.user.finish(item.id)
            forget(backend, f"tau:{item.id}")
        detail: dict[str, Any] = {"done": done, "ended": how, "user": getattr(self.user, "model", "")}
        reward = 0.0
        if done:  # tau-bench computes the reward only for an episode that is done
            state_ok = data_hash(data) == dom.gold_hash(item.data["task"], _actions(item.data["actions"]))
            outputs = {str(o): any(str(o).lower() in (s or "").lower().replace(",", "") for s in said)
                       for o in item.data.get("outputs", [])}
            reward = float(state_ok and all(outputs.values()))
            detail.update({"database_ok": state_ok, "outputs": outputs})
        return ItemResult(item.id, item.category, {"reward": reward}, messages, detail=detail)

    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        """Average reward per domain and tau-bench's pass^k (k = 1..trials) over tasks, per domain and
        overall; a trial that failed to run counts as a failure, as in tau-bench's runner."""
        rep = summarize(self.name, results, self.metrics, model=model)
        add_pass_hat_k(rep, results)
        return rep
