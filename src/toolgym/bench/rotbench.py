"""RoTBench: robustness of tool use under noisy tool documents -- tool selection (TS), parameter
identification (PI) and content filling (CF).

Data: RoTBench's release (``Data/First_Turn/{clean,slight,medium,heavy,union}.json`` and ``Third_Turn``):
JSON lists of ``{"id", "conversations": [{"from", "value"}, ...], "scenario"}``. The first (system)
message holds the ReAct instructions and the tool list; the last message's ``value`` is the list of
acceptable answers ``"Thought: ...\\nAction: <tool>\\nAction Input: {json}"``. Give one file or a folder
(every ``*.json`` under it). The paper's JSONL layout (``messages``, ``answer`` list, ``data_source``) is
read too. Each item is one model turn; the category is the noise level (with the turn folder).

Metrics, RoTBench's ``Code/Evaluation/evaluate.py`` (``variant="rotbench"``, the default): the reply's
``Action``/``Action Input`` (the JSON after ``Action Input:``) against each acceptable answer; TS when the
tool matches (a reply "finish" matches the last tool of the list, whatever its noisy name), PI when also
the parameter names match, CF when also the values match, ignoring parameters whose gold value is
``"None"``; the ``finish`` and ``ask_to_user`` tools (the last two of the list) need no value match. As in
the original, a reply whose Action Input is not a non-empty JSON object scores 0 on all three.
``variant="ftrl"`` is the paper's ``evaluation_rotbench.py``: same TS and PI, CF compares the multisets
of values, no special tools, no ``"None"`` rule.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._report import BenchReport, summarize
from ._turns import ask, forget, read_reply

if TYPE_CHECKING:
    from ..models import Backend

ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant",
         "function": "user", "observation": "user", "tool": "user"}


def split_action(text: str) -> tuple[str | None, Any]:
    """(tool, parsed Action Input) of a ReAct reply, as RoTBench reads it; the input is ``None`` when it
    is not valid JSON."""
    if "Action:" not in text or "Action Input:" not in text:
        return None, None
    action = text[text.find("Action:") + len("Action:"): text.find("Action Input:")].strip()
    try:
        args = json.loads(text[text.find("Action Input:") + len("Action Input:"):])
    except json.JSONDecodeError:
        args = None
    return action, args


def tool_list(system: str) -> list[dict[str, Any]]:
    """The tool documents embedded in RoTBench's system prompt (the JSON list after the first ``[``)."""
    start = system.find("[")
    if start < 0:
        return []
    try:
        tools, _ = json.JSONDecoder().raw_decode(system[start:])
    except json.JSONDecodeError:
        return []
    return tools if isinstance(tools, list) else []


def score_rotbench(reply: str, answers: list[str], tools: list[dict[str, Any]]) -> dict[str, float]:
    """TS/PI/CF of one reply with RoTBench's own rules (see the module docstring)."""
    action, args = split_action(reply)
    ts = pi = cf = 0.0
    if action is None or not isinstance(args, dict) or not args:
        return {"TS": ts, "PI": pi, "CF": cf}
    names = [t.get("name") for t in tools]
    finish, ask_user = (names[-1] if names else None), (names[-2] if len(names) > 1 else None)
    for ans in answers:
        gold_action, gold_args = split_action(ans)
        test_action = gold_action if (gold_action == finish and action == "finish") else action
        if gold_action != test_action or not isinstance(gold_args, dict):
            continue
        ts = 1.0
        if gold_args.keys() != args.keys():
            continue
        pi = 1.0
        gold = {k: v for k, v in gold_args.items() if v != "None"}
        got = {k: v for k, v in args.items() if k in gold}
        if gold == got or gold_action in (finish, ask_user):
            cf = 1.0
            break
    return {"TS": ts, "PI": pi, "CF": cf}


def score_ftrl(reply: str, answers: list[str]) -> dict[str, float]:
    """TS/PI/CF as the paper's script computes them (values compared as multisets)."""
    action, args = split_action(reply)
    ts = pi = cf = 0.0
    if action is None or not isinstance(args, dict):
        return {"TS": ts, "PI": pi, "CF": cf}
    for ans in answers:
        gold_action, gold_args = split_action(ans)
        if gold_action != action or not isinstance(gold_args, dict):
            continue
        ts = 1.0
        if gold_args.keys() ^ args.keys():
            continue
        pi = 1.0
        if Counter(map(_hashable, gold_args.values())) == Counter(map(_hashable, args.values())):
            cf = 1.0
            break
    return {"TS": ts, "PI": pi, "CF": cf}


def _hashable(v: Any) -> Any:
    return json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v


def _item(record: dict[str, Any], category: str, ident: str) -> BenchItem:
    if "conversations" in record:
        conv = record["conversations"]
        messages = [{"role": ROLES.get(m["from"], "user"), "content": m["value"]} for m in conv[:-1]]
        answers = conv[-1]["value"]
    elif "messages" in record and "answer" in record:
        messages, answers = record["messages"], record["answer"]
    else:
        raise BenchDataError(f"RoTBench record {ident} has neither 'conversations' nor 'messages'+'answer'")
    if isinstance(answers, str):
        answers = [answers]
    return BenchItem(ident, category, {"messages": messages, "answers": list(answers),
                                       "scenario": record.get("scenario")})


def _category(path: Path, root: Path) -> str:
    turn = path.parent.name.lower() if path.parent != root and "turn" in path.parent.name.lower() else ""
    return f"{turn}/{path.stem.lower()}" if turn else path.stem.lower()


def load_items(path: Path) -> list[BenchItem]:
    if not path.exists():
        raise BenchDataError(f"RoTBench data not found at {path} (--rotbench: a file or the Data folder)")
    files = sorted(path.rglob("*.json*")) if path.is_dir() else [path]
    items = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        rows = json.loads(text) if f.suffix == ".json" else [json.loads(x) for x in text.splitlines() if x.strip()]
        for i, rec in enumerate(rows):
            cat = _category(f, path) if "conversations" in rec else str(rec.get("data_source", f.stem)).lower()
            items.append(_item(rec, cat, f"{cat}:{i}"))
    if not items:
        raise BenchDataError(f"no RoTBench records under {path}")
    return items


class RoTBench:
    name = "rotbench"
    metrics = ("TS", "PI", "CF")

    def __init__(self, path: str | Path, *, variant: str = "rotbench"):
        if variant not in ("rotbench", "ftrl"):
            raise BenchDataError(f"RoTBench metric variant must be 'rotbench' or 'ftrl', not {variant!r}")
        self.path, self.variant = Path(path), variant

    def items(self) -> list[BenchItem]:
        return load_items(self.path)

    def texts(self, item: BenchItem) -> ItemText:
        msgs = item.data["messages"]
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        users = [m["content"] for m in msgs if m["role"] == "user"][:1]
        return ItemText(users, [json.dumps(t, ensure_ascii=False) for t in tool_list(system)])

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        messages = [dict(m) for m in item.data["messages"]]
        episode = f"rotbench:{item.id}"
        try:
            reply = read_reply(await ask(backend, messages, None, episode=episode, turn=0))
        finally:
            forget(backend, episode)
        text = reply.visible
        if self.variant == "ftrl":
            scores = score_ftrl(text, item.data["answers"])
        else:
            system = next((m["content"] for m in messages if m["role"] == "system"), "")
            scores = score_rotbench(text, item.data["answers"], tool_list(system))
        messages.append({"role": "assistant", "content": text})
        return ItemResult(item.id, item.category, scores, messages, detail={"action": split_action(text)[0]})

    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        return summarize(self.name, results, self.metrics, model=model)
