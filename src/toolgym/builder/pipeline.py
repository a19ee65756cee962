"""One environment through the five stages, and a shard of them through sandbox verification.

``build_candidate`` is a pure function of (world, config, index). ``build_shard`` builds a range of
indices, verifies all candidates in one sandbox run (probes included) and returns the verified
environments as JSON lines plus a record of every rejection (stage and reason) and a small stats row
per environment, so the caller never has to parse the output again.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import RejectionKind
from ..sandbox import Executor
from ..schema import Environment
from ..verify import verify_environments
from .config import BuildConfig, env_rng, env_spec
from .decompose import DecompositionError, Shape, decompose
from .deploy import deploy
from .document import document
from .integrate import integrate
from .scale import scale
from .world import World, make_world


@dataclass(frozen=True, slots=True)
class Rejection:
    """An index a builder did not turn into an environment: at which ``stage``, of which ``kind`` (counted in
    the manifest), a finer countable ``reason`` (the failed check, the exception's type) and the ``detail``."""

    index: int
    scenario: str
    stage: str  # decomposition | deployment | verification | internal | an LLM stage
    reason: str  # a short, countable category
    detail: str = ""
    kind: RejectionKind = field(kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "scenario": self.scenario, "stage": self.stage, "kind": str(self.kind),
                "reason": self.reason, "detail": self.detail}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Rejection:
        """A line of ``<out>.rejects.jsonl``; one written before kinds were recorded gets the kind its stage
        and reason imply."""
        kind = row.get("kind")
        if kind not in RejectionKind._value2member_map_:
            kind = _OLD_KINDS.get(row["stage"], RejectionKind.INVALID_REPLY)  # the LLM builder's stages
            if row.get("reason") == "request failed":
                kind = RejectionKind.REQUEST_FAILED
        return cls(row["index"], row["scenario"], row["stage"], row["reason"], row.get("detail", ""),
                   kind=RejectionKind(kind))


_OLD_KINDS = {"decomposition": RejectionKind.NO_PLAN, "deployment": RejectionKind.INTERNAL,
              "verification": RejectionKind.VERIFICATION, "internal": RejectionKind.INTERNAL}


@dataclass(slots=True)
class ShardResult:
    lines: list[tuple[int, str, str]] = field(default_factory=list)  # (index, scenario, JSON line)
    rows: list[dict[str, Any]] = field(default_factory=list)  # stats row per written environment
    rejections: list[Rejection] = field(default_factory=list)
    attempted: int = 0


def world_for(config: BuildConfig) -> World:
    return make_world(config.world, config.seed)


def build_candidate(world: World, config: BuildConfig, index: int) -> Environment | Rejection:
    """Stages 1-5 for environment ``index`` (not verified yet)."""
    spec = env_spec(config, index)
    domains = tuple(config.domains) if config.domains else tuple(world.domains)
    shape = Shape(spec.scenario, spec.hops, spec.width, domains, unit_requests=spec.levels["types"] >= 1)
    try:
        plan = decompose(world, shape, env_rng(config, index, "decompose"))
    except DecompositionError as exc:
        return Rejection(index, spec.scenario, "decomposition", "no valid plan", str(exc), kind=RejectionKind.NO_PLAN)
    draft = document(world, plan, env_rng(config, index, "document"), spec.levels)
    draft = integrate(world, draft, env_rng(config, index, "integrate"))
    draft = scale(world, draft, env_rng(config, index, "scale"), config.distractors)
    metadata = {"domain": plan.domain, "complexity": dict(spec.levels), "builder": "procedural",
                "seed": config.seed, "split": "train", "data_source": f"toolgym/procedural/{plan.scenario}",
                "extra": {"index": index, "hops": plan.hops, "width": plan.width, "world": world.kind}}
    try:
        return deploy(world, draft, env_rng(config, index, "deploy"), metadata)
    except (ValueError, KeyError, TypeError) as exc:  # a bug in a stage: recorded, never a crash of the build
        return Rejection(index, spec.scenario, "deployment", type(exc).__name__, str(exc)[:300],
                         kind=RejectionKind.INTERNAL)


def _ngrams(question: str, n: int) -> list[int]:
    words = question.lower().replace("?", " ").replace(".", " ").replace(",", " ").split()
    return [zlib.crc32(" ".join(words[i:i + n]).encode()) for i in range(len(words) - n + 1)]


def stats_row(env: Environment) -> dict[str, Any]:
    """What the manifest's statistics need of one environment (small, cheap to send between processes)."""
    extra = env.metadata.extra
    return {"scenario": env.scenario, "domain": env.metadata.domain, "complexity": env.metadata.complexity,
            "hops": extra.get("hops"), "width": extra.get("width"), "tools": env.tool_names,
            "calls": len(env.solution_calls), "opening": " ".join(env.question.split()[:3]).lower(),
            "q3": _ngrams(env.question, 3), "split": env.metadata.split}


def build_shard(config: BuildConfig, start: int, stop: int, executor: Executor) -> ShardResult:
    """Build and verify indices ``[start, stop)``."""
    world = world_for(config)
    out = ShardResult(attempted=stop - start)
    candidates: list[Environment] = []
    for index in range(start, stop):
        made = build_candidate(world, config, index)
        if isinstance(made, Rejection):
            out.rejections.append(made)
        else:
            candidates.append(made)
    results = verify_environments(candidates, executor, probes=True)
    for env, result in zip(candidates, results):
        index = env.metadata.extra["index"]
        if result.status == "pass":
            out.lines.append((index, env.scenario, env.model_dump_json()))
            out.rows.append(stats_row(env))
        else:
            failed = [c for c in result.checks if not c.ok]
            out.rejections.append(Rejection(index, env.scenario or "", "verification", failed[0].name,
                                            failed[0].detail[:300], kind=RejectionKind.VERIFICATION))
    out.rejections.sort(key=lambda r: r.index)
    return out
