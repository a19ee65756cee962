"""One environment of the LLM or hybrid builder: from its index to a verified record or a rejection.

``llm``: the five stages, each one prompt (decomposition, documentation, integration, scaling,
deployment), the last one verified in the sandbox. ``hybrid``: the procedural builder's candidate for
the same index, its surface rewritten by the model and verified again. The scenario, shape and
complexity levels of an index come from the procedural :func:`~toolgym.builder.config.env_spec`, so both
builders draw the same mix as ``--builder procedural`` with the same options.

A bad reply, a failed request or a tool that does not verify is a :class:`~toolgym.builder.Rejection`
(stage, reason, detail), never an exception; only a broken setup (``ConfigError``, a sandbox that
cannot run code) stops the build.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError, RejectionKind, SandboxUnavailable
from ...schema import Environment
from ..config import EnvSpec, env_spec
from ..pipeline import Rejection, build_candidate
from ..world import World
from .client import LLMClient
from .config import LLMBuildConfig
from .deploy import SandboxGate, deploy, verify
from .hybrid import apply_rewrite, check_rewrite, rewrite_input
from .prompts import Prompts
from .stages import decompose, document, integrate, scale
from .structured import Asker, StageRejected


@dataclass
class Context:
    """What every environment of one build shares."""

    config: LLMBuildConfig
    prompts: Prompts
    client: LLMClient
    sandbox: SandboxGate
    world: World | None = None  # hybrid mode: the procedural world
    wait_until_needed: Callable[[int], Awaitable[None]] | None = None  # see runner.Speculation

    def asker(self, index: int) -> Asker:
        wait = self.wait_until_needed
        return Asker(self.client, self.prompts, self.config.attempts, self.config.seed, index,
                     (lambda: wait(index)) if wait else None)


def _metadata(ctx: Context, spec: EnvSpec, domain: str, extra: dict[str, Any]) -> dict[str, Any]:
    cfg = ctx.config
    return {"domain": domain, "complexity": dict(spec.levels), "builder": cfg.mode, "model": cfg.endpoint.model,
            "seed": cfg.seed, "split": "train", "data_source": f"toolgym/{cfg.mode}/{spec.scenario}",
            "extra": {"index": spec.index, **extra}}


async def build_llm_env(ctx: Context, spec: EnvSpec) -> Environment:
    """The five stages for one index (raises StageRejected)."""
    cfg = ctx.config
    domain, seed = cfg.topic(spec.index)
    common = {"domain": domain, "seed": seed, "scenario": spec.scenario}
    asker = ctx.asker(spec.index)
    plan = await decompose(asker, common, spec, cfg.min_answer_chars, cfg.max_subquestions)
    toolset = await document(asker, common, plan)
    toolset = await integrate(asker, common, plan, toolset)
    toolset = await scale(asker, common, plan, toolset, spec.levels)
    metadata = _metadata(ctx, spec, domain, {"hops": plan.hops, "width": plan.width, "seed_text": seed})
    return await deploy(asker, common, plan, toolset, metadata, ctx.sandbox, cfg.tool_timeout_s)


async def build_hybrid_env(ctx: Context, spec: EnvSpec) -> Environment | Rejection:
    """The procedural candidate of one index with its surface rewritten (raises StageRejected)."""
    assert ctx.world is not None
    made = build_candidate(ctx.world, ctx.config.base, spec.index)
    if isinstance(made, Rejection):
        return made
    extra = {**made.metadata.extra, "procedural_id": made.id}
    metadata = _metadata(ctx, spec, made.metadata.domain or "", extra)
    metadata["complexity"] = dict(made.metadata.complexity)

    async def check(data: dict[str, Any]) -> Environment:
        env = apply_rewrite(made, check_rewrite(made, data), metadata)
        return await verify(env, ctx.sandbox, ctx.config.tool_timeout_s)

    return await ctx.asker(spec.index).ask("rewrite", {"input": rewrite_input(made)}, check)


BUILDS = {"llm": build_llm_env, "hybrid": build_hybrid_env}


async def build_one(ctx: Context, index: int) -> Environment | Rejection:
    """Environment ``index``, verified, or the rejection that says at which stage and why."""
    spec = env_spec(ctx.config.base, index)
    try:
        return await BUILDS[ctx.config.mode](ctx, spec)
    except StageRejected as r:
        return Rejection(index, spec.scenario, r.stage, r.reason, r.detail, kind=r.kind)
    except (ConfigError, SandboxUnavailable):
        raise
    except Exception as exc:
        return Rejection(index, spec.scenario, "internal", type(exc).__name__, str(exc)[:300],
                         kind=RejectionKind.INTERNAL)
