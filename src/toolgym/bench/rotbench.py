"""RoTBench: robustness of tool use under noisy tool documents -- tool selection (TS), parameter
identification (PI) and content filling (CF).

Data: RoTBench's release (``Data/First_Turn/{clean,slight,medium,heavy,union}.json`` and ``Third_Turn``):
JSON lists of ``{"id", "conversations": [{"from", "value"}, ...], "scenario"}``. The first (system)
message holds the ReAct instructions and the tool list; the last message's ``value`` is the list of
acceptable answers ``"Thought: ...\\nAction: <tool>\\nAction Input: {json}"``. Give one file or a folder
(every ``*.json`` under it). The paper's JSONL layout (``messages``, ``answer`` list, ``data_source``) is
read too. Each item is one model turn; the category is the noise level (with the turn folder).

Each variant reads the reply exactly as its reference does:

* ``rotbench`` (default): RoTBench's ``Code/Evaluation/evaluate.py`` (``ts_eval``, ``pi_eval``, ``cf_eval``
  with ``version=0``). The action is the text from 8 characters after the first ``"Action:"`` to the first
  ``"Action Input:"``, less one trailing newline; the input is ``json.loads`` of everything from 14
  characters after ``"Action Input:"``. An input that is not JSON, a string or empty scores 0 on all three.
  TS: the action equals an acceptable answer's (a reply ``finish`` matches the last tool of the list,
  whatever its noisy name); PI: also the same parameter names; CF: also the same values, leaving out
  parameters whose gold value is ``"None"`` -- and no value check at all when the gold action is the
  last or second-to-last tool of the list or is literally ``finish`` or ``ask_to_user``.
* ``ftrl``: the paper's ``Code/evaluation/evaluation_rotbench.py``: the action is the text between the
  first ``'Action: '`` and ``'Action Input: '``, stripped; the input is ``json.loads`` of the stripped text
  between the first and a second ``'Action Input: '`` and must be a dict; CF compares the multisets of
  values (a value that cannot be counted, such as a list, ends the check with CF 0).

Both references score the raw reply, ``<think>`` block included; so do the variants here by default.
``think="strip"`` (``rotbench`` only) removes the reasoning first, and ``lenient=True`` rewrites a reply
whose action and JSON input can be found at all into the canonical form first; both are departures from
the references, named in the report.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..parse import read_reply, strip_think
from ._base import BenchDataError, BenchItem, ItemResult, ItemText
from ._report import BenchReport, summarize
from ._turns import ask, forget

if TYPE_CHECKING:
    from ..models import Backend

ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant",
         "function": "user", "observation": "user", "tool": "user"}
VARIANTS = ("rotbench", "ftrl")
ZERO = {"TS": 0.0, "PI": 0.0, "CF": 0.0}


def official_action(text: str) -> tuple[str, Any]:
    """``get_test_value`` of RoTBench's evaluate.py: ``(action, input)``; the input is ``0`` when it is
    not JSON or is a string. Raises ``IndexError`` where the official script does (an empty action)."""
    action = text[text.find("Action:") + 8: text.find("Action Input:")]
    if action[-1] == "\n":
        action = action[:-1]
    try:
        args = json.loads(text[text.find("Action Input:") + 14:])
    except json.JSONDecodeError:
        return action, 0
    if isinstance(args, str):
        return action, 0
    return action, args


def tool_list(system: str) -> list[dict[str, Any]]:
    """The tool list of RoTBench's system prompt, as ``get_config`` cuts it (from the first ``[`` to 13
    characters before the end); a prompt in another shape is read from the first ``[`` on."""
    start = system.find("[")
    try:
        tools = json.loads(system[start:-13])
    except json.JSONDecodeError:
        try:
            tools, _ = json.JSONDecoder().raw_decode(system[start:]) if start >= 0 else ([], 0)
        except json.JSONDecodeError:
            return []
    return tools if isinstance(tools, list) else []


def _gold_action(answer: str) -> str:
    action = answer[answer.find("Action:") + 8: answer.find("Action Input:")]
    return action.removesuffix("\n")


def score_rotbench(reply: str, answers: list[str], tools: list[dict[str, Any]]) -> dict[str, float]:
    """TS/PI/CF of one reply, each computed as RoTBench's ``ts_eval`` / ``pi_eval`` / ``cf_eval`` does."""
    names = [t.get("name") for t in tools]
    last, second = (names[-1] if names else None), (names[-2] if len(names) > 1 else None)
    try:
        action, args = official_action(reply)
    except IndexError:  # the official script stops with an error on this reply; it scores nothing
        return dict(ZERO)
    if not args:
        return dict(ZERO)
    scores = dict(ZERO)
    test = action
    for ans in answers:  # ts_eval
        gold = _gold_action(ans)
        if gold == last and test == "finish":
            test = gold
        if gold == test:
            scores["TS"] = 1.0
            break
    if not isinstance(args, dict):  # pi_eval/cf_eval call .keys() on it: the official script fails here
        return scores
    for stage in ("PI", "CF"):
        test, test_args = official_action(reply)
        for ans in answers:
            gold = _gold_action(ans)
            gold_args = json.loads(ans[ans.find("Action Input:") + 14:])
            if gold == last and test == "finish":
                test = gold
            if gold != test or gold_args.keys() != test_args.keys():
                continue
            if stage == "PI":
                scores["PI"] = 1.0
                break
            gold = "finish" if gold == last else "ask_to_user" if gold == second else gold
            for key in [k for k, v in gold_args.items() if v == "None"]:
                del gold_args[key]
                del test_args[key]  # as cf_eval does: the deletion carries over to the next answer
            if gold_args == test_args or gold in ("finish", "ask_to_user"):
                scores["CF"] = 1.0
                break
    return scores


def score_ftrl(reply: str, answers: list[str]) -> dict[str, float]:
    """TS/PI/CF exactly as the paper's ``evaluation_rotbench.py`` computes them."""
    gold = []
    for answer in answers:
        gold.append((answer.split("Action: ")[1].split("Action Input: ")[0].strip(),
                     json.loads(answer.split("Action Input: ")[1].strip())))
    ts = pi = cf = 0.0
    try:
        tool = reply.split("Action: ")[1].split("Action Input: ")[0].strip()
        params = json.loads(reply.split("Action Input: ")[1].strip())
        if type(params) is not dict:
            raise TypeError("parameters should be a dict")
        for gold_tool, gold_params in gold:
            if gold_tool == tool:
                ts = 1.0
                if not gold_params.keys() ^ params.keys():
                    pi = 1.0
                    if Counter(gold_params.values()) == Counter(params.values()):
                        cf = 1.0
                        break
    except Exception:  # the paper's script: any failure keeps what was scored so far
        pass
    return {"TS": ts, "PI": pi, "CF": cf}


def lenient_form(text: str) -> str:
    """A reply rewritten as ``Action: <tool>\\nAction Input: <json>`` when its action and a JSON object
    after ``Action Input:`` can be found with spacing, case of surrounding text and trailing text
    ignored; unchanged otherwise."""
    a, b = text.find("Action:"), text.find("Action Input:")
    if a < 0 or b < a:
        return text
    action = text[a + len("Action:"): b].strip()
    body = text[b + len("Action Input:"):].lstrip()
    try:
        args, _ = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError:
        return text
    return f"Action: {action}\nAction Input: {json.dumps(args, ensure_ascii=False)}"


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

    def __init__(self, path: str | Path, *, variant: str = "rotbench", think: str = "keep", lenient: bool = False):
        if variant not in VARIANTS:
            raise BenchDataError(f"RoTBench metric variant must be one of {', '.join(VARIANTS)}, not {variant!r} "
                                 "(--rotbench-variant)")
        if think not in ("keep", "strip"):
            raise BenchDataError(f"--rotbench-think must be 'keep' or 'strip', not {think!r}")
        if variant == "ftrl" and think != "keep":
            raise BenchDataError("the ftrl variant scores the raw reply, <think> included, as the paper's script "
                                 "does; --rotbench-think strip is only for --rotbench-variant rotbench")
        self.path, self.variant, self.think, self.lenient = Path(path), variant, think, lenient

    def items(self) -> list[BenchItem]:
        return load_items(self.path)

    def texts(self, item: BenchItem) -> ItemText:
        msgs = item.data["messages"]
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        users = [m["content"] for m in msgs if m["role"] == "user"][:1]
        return ItemText(users, [json.dumps(t, ensure_ascii=False) for t in tool_list(system)])

    def score(self, item: BenchItem, reply: str) -> dict[str, float]:
        """TS/PI/CF of ``reply`` (the raw model text) under this variant and its options."""
        text = strip_think(reply) if self.think == "strip" else reply
        if self.lenient:
            text = lenient_form(text)
        if self.variant == "ftrl":
            return score_ftrl(text, item.data["answers"])
        system = next((m["content"] for m in item.data["messages"] if m["role"] == "system"), "")
        return score_rotbench(text, item.data["answers"], tool_list(system))

    async def run_item(self, item: BenchItem, backend: Backend) -> ItemResult:
        messages = [dict(m) for m in item.data["messages"]]
        episode = f"rotbench:{item.id}"
        try:
            # the raw text as the model wrote it (reasoning a server returned apart put back): RoTBench's
            # "Action:" lines are read by the variant's own rule, not as tool calls
            text = read_reply(await ask(backend, messages, None, episode=episode, turn=0)).full_text
        finally:
            forget(backend, episode)
        messages.append({"role": "assistant", "content": text.strip()})
        return ItemResult(item.id, item.category, self.score(item, text), messages)

    def report(self, results: list[ItemResult], *, model: str = "") -> BenchReport:
        rep = summarize(self.name, results, self.metrics, model=model)
        rep.notes.append(f"scored as {'RoTBench evaluate.py' if self.variant == 'rotbench' else 'the paper'} does"
                         f"; reasoning {'kept in' if self.think == 'keep' else 'removed from'} the reply"
                         + ("; lenient reading of Action/Action Input (not the reference's)" if self.lenient else ""))
        return rep
