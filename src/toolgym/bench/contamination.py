"""Contamination check: word n-gram overlap between built environments and benchmark items.

Questions are compared with questions and tool documents with tool documents (a tool document is read
as text: its name, description, and each parameter's name and description; JSON punctuation and schema
keywords are left out so that two documents do not match on ``"type": "string"`` alone). Text is
case-folded and cut into runs of letters and digits; an item overlaps when one of its ``n``-grams (8 by
default) occurs in some environment. Identical questions (after the same normalisation) are counted
apart: they are the strongest sign of a leak.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ._base import Benchmark, ItemText

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("_", " "))


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def doc_text(doc: Any) -> str:
    """A tool document (OpenAI or bare function schema, or its JSON text) as plain text."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError:
            return doc
    if not isinstance(doc, dict):
        return str(doc)
    fn = doc.get("function", doc)
    parts = [str(fn.get("name", "")), str(fn.get("description", ""))]
    props = (fn.get("parameters") or {}).get("properties") or {}
    for name, spec in props.items() if isinstance(props, dict) else []:
        parts += [str(name), str(spec.get("description", "")) if isinstance(spec, dict) else ""]
    return " ".join(p for p in parts if p)


@dataclass
class Hit:
    """One overlap: which benchmark item, which environment, which field, and one shared n-gram."""

    item: str
    env: str
    field: str
    ngram: str


@dataclass
class BenchOverlap:
    benchmark: str
    items: int = 0
    question_overlap: int = 0
    tool_doc_overlap: int = 0
    identical_questions: int = 0
    any_overlap: int = 0
    envs_flagged: int = 0
    examples: list[Hit] = field(default_factory=list)


class _Index:
    """The n-grams of every benchmark item, by field: n-gram -> first item that has it."""

    def __init__(self, texts: list[tuple[str, ItemText]], n: int):
        self.n = n
        self.questions: dict[tuple[str, ...], str] = {}
        self.docs: dict[tuple[str, ...], str] = {}
        self.exact: dict[str, str] = {}
        for item_id, t in texts:
            for q in t.questions:
                toks = words(q)
                self.exact.setdefault(" ".join(toks), item_id)
                for g in ngrams(toks, n):
                    self.questions.setdefault(g, item_id)
            for d in t.tool_docs:
                for g in ngrams(words(doc_text(d)), n):
                    self.docs.setdefault(g, item_id)


def check_overlap(envs: Iterable[Any], benchmark: Benchmark, *, n: int = 8, examples: int = 10) -> BenchOverlap:
    """Overlap of ``envs`` (toolgym :class:`~toolgym.schema.Environment` records) with every item of
    ``benchmark``; ``examples`` hits are kept to show."""
    items = benchmark.items()
    index = _Index([(it.id, benchmark.texts(it)) for it in items], n)
    out = BenchOverlap(benchmark.name, items=len(items))
    hit_q: set[str] = set()
    hit_d: set[str] = set()
    exact: set[str] = set()
    for env in envs:
        flagged = False
        toks = words(env.question)
        if " ".join(toks) in index.exact:
            exact.add(index.exact[" ".join(toks)])
        for field_name, grams, table, hits in (
                ("question", ngrams(toks, n), index.questions, hit_q),
                ("tool_doc", {g for t in env.tools for g in ngrams(words(doc_text(t)), n)}, index.docs, hit_d)):
            for g in grams & table.keys():
                item = table[g]
                hits.add(item)
                flagged = True
                if len(out.examples) < examples:
                    out.examples.append(Hit(item, env.id, field_name, " ".join(g)))
        out.envs_flagged += flagged
    out.question_overlap, out.tool_doc_overlap, out.identical_questions = len(hit_q), len(hit_d), len(exact)
    out.any_overlap = len(hit_q | hit_d | exact)
    return out


def overlap_to_dict(o: BenchOverlap) -> dict[str, Any]:
    return asdict(o)
