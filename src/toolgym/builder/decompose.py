"""Stage 1, scenario decomposition: sub-questions with the right dependency structure, and the question.

A chain is built backwards from the fact asked for: pick an entity and an attribute, then repeatedly
find an entity whose relation points at the current one (the reverse index of the world), so every
hop's input is the previous hop's answer. Scenarios are compositions of chains:

* ``single_hop``: one chain of one lookup;
* ``parallel_single_hop``: 2-4 independent lookups, listed, or combined by a computation;
* ``multi_hop``: one chain of 2-5 hops (the last hop may be a unit/currency/date computation);
* ``parallel_multi_hop``: 2-4 chains (at least one of 2+ hops), listed, or combined by a computation.

A plan whose answers would be ambiguous under the reward's substring matching (too short, one inside
another, already in the question) is redrawn; :class:`DecompositionError` after too many tries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import _compute, _phrasing
from ._records import Plan, SubQ
from .world import ALT_UNIT, Entity, World

_TRIES = 24


class DecompositionError(ValueError):
    """No valid plan could be drawn for this environment (recorded as a stage-1 rejection)."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What stage 1 is asked for (sampled per environment from the build config)."""

    scenario: str
    hops: int  # longest chain, computation hop included
    width: int  # number of parallel branches
    domains: tuple[str, ...]
    unit_requests: bool = False  # a lookup may be asked for in another unit (a ``unit`` parameter)


def _norm(text: str) -> str:
    return text.lower().replace(",", "").strip()


def reverse_index(world: World) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(type, name) -> [(source type, attribute, source entity name)] for every relation in the world."""
    cached = world.derived.get("reverse")
    if cached is not None:
        return cached
    rev: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for t, ents in world.entities.items():
        ref_attrs = [a for a in world.types[t].attrs if a.ref]
        for e in ents:
            for a in ref_attrs:
                target = e.values.get(a.name)
                if target is not None:
                    rev.setdefault((a.ref, target), []).append((t, a.name, e.name))
    world.derived["reverse"] = rev
    return rev


def chain_depth(world: World) -> dict[tuple[str, str], int]:
    """(type, name) -> how many hops a chain ending there can have, at most 5 (ignoring revisits, so it
    is an upper bound; the chain builder still checks). Lets stage 1 pick ends that can be reached."""
    cached = world.derived.get("depth")
    if cached is not None:
        return cached
    rev = reverse_index(world)
    depth = {key: 1 for key in rev}
    for _ in range(4):
        depth = {key: min(5, 1 + max((depth.get((t, n), 1) for t, _, n in srcs if not world.types[t].dated),
                                     default=0)) for key, srcs in rev.items()}
    world.derived["depth"] = depth
    return depth


def _answer(value) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def _lookup(world: World, sid: int, e: Entity, attr: str) -> SubQ:
    value = e.values[attr]
    if world.types[e.type].dated:
        return SubQ(sid, "lookup", _answer(value), value, etype=e.type, entity=e.owner, date=e.date, attr=attr)
    return SubQ(sid, "lookup", _answer(value), value, etype=e.type, entity=e.name, attr=attr)


class _Builder:
    """Draws the sub-questions of one plan; ids are assigned in creation order."""

    def __init__(self, world: World, rng: random.Random, shape: Shape):
        self.world, self.rng, self.shape = world, rng, shape
        self.types = [t for t in world.types_in(set(shape.domains))]
        self.allowed = {t.name for t in self.types}
        self.rev = reverse_index(world)
        self.depth = chain_depth(world)
        self.subqs: list[SubQ] = []
        self.seen: set[tuple[str, str]] = set()

    def final_entity(self, want=None, etype: str | None = None, hops: int = 1) -> tuple[Entity, str]:
        """A random (entity, attribute) whose value is usable and that a chain of ``hops`` can reach;
        ``want(attr)`` filters attributes."""
        rng = self.rng
        for _ in range(60):
            t = self.world.types[etype] if etype else rng.choice(self.types)
            attrs = [a for a in t.attrs if want is None or want(a)]
            if not attrs:
                continue
            e = rng.choice(self.world.entities[t.name])
            a = rng.choice(attrs)
            key = (t.owner or t.name, e.owner or e.name)
            if a.name in e.values and key not in self.seen and (hops == 1 or self.depth.get(key, 1) >= hops):
                return e, a.name
        raise DecompositionError("no entity with a usable attribute in the chosen domains")

    def chain(self, length: int, end: tuple[Entity, str]) -> list[SubQ]:
        """Lookups from a named entity to ``end``, ``length`` hops, each fed by the previous answer."""
        e, attr = end
        nodes = [(e, attr)]
        key = (self.world.types[e.type].owner or e.type, e.owner or e.name)
        visited = {key}
        for _ in range(length - 1):
            options = [o for o in self.rev.get(key, ()) if o[0] in self.allowed and (o[0], o[2]) not in visited
                       and not self.world.types[o[0]].dated]
            if not options:
                raise DecompositionError(f"no {length}-hop chain ends at this {e.type}")
            src_type, src_attr, src_name = self.rng.choice(options)
            src = self.world.get(src_type, src_name)
            nodes.append((src, src_attr))
            key = (src_type, src_name)
            visited.add(key)
        self.seen.update(visited)
        out: list[SubQ] = []
        for depth, (ent, a) in enumerate(reversed(nodes)):
            q = _lookup(self.world, len(self.subqs), ent, a)
            q.depth = depth
            q.source = out[-1].id if out else None
            self.subqs.append(q)
            out.append(q)
        return out

    def phrase(self, chain: list[SubQ], clause_ok: bool = False) -> str:
        """The nested phrase of a chain's last answer; only the outermost may be a clause."""
        rng, world = self.rng, self.world
        text = ""
        for i, q in enumerate(chain):
            t = world.types[q.etype]
            owner = world.types[t.owner] if t.dated else t
            plain = q.source is None
            inner = _phrasing.mention(rng, owner, q.entity) if plain else text
            plain = plain and inner == q.entity
            date = _phrasing.date_words(rng, q.date) if q.date else None
            text = _phrasing.attr_phrase(rng, t.attr(q.attr).phrases, inner, date, plain=plain,
                                         clause_ok=clause_ok and i == len(chain) - 1)
            q.phrase = text
        return text

    def compute(self, op: str, inputs: list[SubQ], extra: dict, names: list[str] | None = None) -> SubQ:
        values = [q.value for q in inputs]
        args = _compute.gold_arguments(op, values, names or [], extra)
        variant = _compute.OP_VARIANT[op]
        result = _compute.call(variant, args, self.world.rates)
        answer = _compute.result_answer(op, result)
        if answer is None:
            raise DecompositionError(f"the {op} computation refused its inputs: {result}")
        value = result.get("result", result.get("value", result.get("amount", result.get("days"))))
        q = SubQ(len(self.subqs), "compute", answer, value, depth=max(i.depth for i in inputs) + 1, op=op,
                 inputs=[i.id for i in inputs], extra={"names": names or [], **extra})
        self.subqs.append(q)
        return q


# ---- scenario shapes ---------------------------------------------------------------------------------

def _numeric(a) -> bool:
    return a.numeric


def _unit_request(b: _Builder, q: SubQ) -> str:
    """Maybe ask for the last lookup in another unit (answered by the tool's ``unit`` parameter)."""
    a = b.world.types[q.etype].attr(q.attr)
    if b.shape.unit_requests and a.unit in ALT_UNIT and b.rng.random() < 0.5:
        alt = ALT_UNIT[a.unit]
        value = _compute.call("convert_units", {"value": q.value, "from_unit": a.unit, "to_unit": alt})["value"]
        q.unit, q.value, q.answer = alt, value, _answer(value)
        return f"{q.phrase} in {_phrasing.UNIT_WORDS[alt]}"
    return q.phrase


def _tail(b: _Builder, q: SubQ) -> tuple[SubQ, str] | None:
    """A computation hop after a chain's last lookup: unit or currency conversion, or days to a date."""
    world, rng = b.world, b.rng
    a = world.types[q.etype].attr(q.attr)
    if a.unit in ALT_UNIT:
        alt = ALT_UNIT[a.unit]
        c = b.compute("convert_unit", [q], {"from_unit": a.unit, "to_unit": alt})
        return c, _phrasing.convert(rng, q.phrase, alt)
    if a.kind == "money":
        code = world.get("currency", world.get(q.etype, q.entity).values["currency"]).values["code"]
        target = "USD" if rng.random() < 0.7 else rng.choice(sorted(world.rates))
        if target == code:
            return None
        c = b.compute("convert_currency", [q], {"from_currency": code, "to_currency": target})
        return c, _phrasing.money(rng, q.phrase, target)
    if a.kind == "date":
        ref = f"{rng.randint(2032, 2040)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        marker = SubQ(-1, "given", ref, ref)
        c = b.compute("days_between", [q, marker], {})
        c.inputs = [q.id]
        c.extra["end_date"] = ref
        return c, _phrasing.days_to(rng, q.phrase, _phrasing.date_words(rng, ref))
    return None


def _single_hop(b: _Builder) -> tuple[str, str]:
    (q,) = b.chain(1, b.final_entity())
    b.phrase([q], clause_ok=True)
    return _phrasing.single(b.rng, _unit_request(b, q)), q.answer


def _multi_hop(b: _Builder) -> tuple[str, str]:
    hops, rng = b.shape.hops, b.rng
    with_tail = rng.random() < 0.35
    lookups = hops - 1 if with_tail else hops
    end = b.final_entity((lambda a: a.unit in ALT_UNIT or a.kind in ("money", "date")) if with_tail else None,
                         hops=lookups)
    chain = b.chain(lookups, end)
    b.phrase(chain, clause_ok=not with_tail)
    if with_tail:
        tail = _tail(b, chain[-1])
        if tail is None:
            raise DecompositionError("no computation applies to the chain's last answer")
        return tail[1], tail[0].answer
    return _phrasing.single(rng, _unit_request(b, chain[-1])), chain[-1].answer


_COMBINE = {"num": ("diff", "sum", "mean", "max", "min", "rank"), "date": ("days_between",)}


def _combined(b: _Builder, lengths: list[int]) -> tuple[str, str]:
    """Branches ending in the same numeric/date attribute of different entities, then one computation."""
    rng, world = b.rng, b.world
    first, attr_name = b.final_entity(lambda a: a.numeric or a.kind == "date", hops=lengths[0])
    t = world.types[first.type]
    kind = "date" if t.attr(attr_name).kind == "date" else "num"
    ops = [o for o in _COMBINE[kind] if (o not in ("diff", "days_between") or len(lengths) == 2)
           and (o not in ("max", "min", "rank") or not t.dated)]
    if not ops:
        raise DecompositionError(f"no computation combines {len(lengths)} {kind} values")
    op = rng.choice(ops)
    chains = [b.chain(lengths[0], (first, attr_name))]
    for n in lengths[1:]:
        chains.append(b.chain(n, b.final_entity(lambda a: a.name == attr_name, etype=first.type, hops=n)))
    nps = [b.phrase(c) for c in chains]
    lasts = [c[-1] for c in chains]
    names = [world.get(q.etype, q.entity).name if not t.dated else q.entity for q in lasts]
    c = b.compute(op, lasts, {}, names)
    if op in ("max", "min", "rank"):
        mentions = [_entity_phrase(b, chain) for chain in chains]
        attr_words = attr_name.replace("_", " ")
        return _phrasing.combine(rng, op, mentions, rng.choice(t.nouns), attr_words), c.answer
    return _phrasing.combine(rng, op, nps), c.answer


def _entity_phrase(b: _Builder, chain: list[SubQ]) -> str:
    """The phrase of the entity a chain's last lookup is about (the previous hop's phrase, or its name)."""
    last = chain[-1]
    if last.source is None:
        return _phrasing.mention(b.rng, b.world.types[last.etype], last.entity)
    return chain[-2].phrase


def _listed(b: _Builder, lengths: list[int]) -> tuple[str, str]:
    chains = [b.chain(n, b.final_entity(hops=n)) for n in lengths]
    nps = []
    for c in chains:
        b.phrase(c, clause_ok=True)
        nps.append(_unit_request(b, c[-1]))
    return _phrasing.listing(b.rng, nps), ", ".join(c[-1].answer for c in chains)


def _parallel(b: _Builder, lengths: list[int]) -> tuple[str, str]:
    if b.rng.random() < 0.45:
        return _combined(b, lengths)
    return _listed(b, lengths)


def _branch_lengths(rng: random.Random, shape: Shape) -> list[int]:
    if shape.scenario == "parallel_single_hop":
        return [1] * shape.width
    lengths = [rng.randint(1, shape.hops) for _ in range(shape.width)]
    lengths[rng.randrange(shape.width)] = shape.hops  # the longest chain has the requested hop count
    return lengths


def _checks(plan_subqs: list[SubQ], question: str) -> str | None:
    """Why this plan would make a bad task under substring matching, or None."""
    q_norm = _norm(question)
    for group in ("lookup", "compute"):
        answers = [_norm(q.answer) for q in plan_subqs if q.kind == group]
        for i, a in enumerate(answers):
            if len(a) < 3:
                return f"answer {a!r} is too short to match unambiguously"
            if any(i != j and a in other for j, other in enumerate(answers)):
                return f"answer {a!r} is contained in another answer"
    for q in plan_subqs:
        if q.kind == "lookup" and _norm(q.answer) in q_norm:
            return f"answer {q.answer!r} already appears in the question"
    return None


def decompose(world: World, shape: Shape, rng: random.Random) -> Plan:
    """Stage 1: a plan for ``shape``; raises :class:`DecompositionError` if none can be drawn."""
    last = "no attempt"
    for _ in range(_TRIES):
        b = _Builder(world, rng, shape)
        try:
            if shape.scenario == "single_hop":
                question, answer = _single_hop(b)
            elif shape.scenario == "multi_hop":
                question, answer = _multi_hop(b)
            else:
                question, answer = _parallel(b, _branch_lengths(rng, shape))
        except DecompositionError as exc:
            last = str(exc)
            continue
        problem = _checks(b.subqs, question)
        if problem:
            last = problem
            continue
        domain = world.types[b.subqs[-1].etype if b.subqs[-1].kind == "lookup" else
                             b.subqs[b.subqs[-1].inputs[0]].etype].domain
        hops = max(q.depth for q in b.subqs) + 1
        width = sum(1 for q in b.subqs if q.kind == "lookup" and q.source is None)
        return Plan(shape.scenario, domain, b.subqs, question, answer, hops, width)
    raise DecompositionError(f"no valid {shape.scenario} plan after {_TRIES} tries (last: {last})")
