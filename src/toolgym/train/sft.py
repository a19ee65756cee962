"""Supervised fine-tuning on trajectories (``toolgym train sft``), tokenized exactly as the rollout tokenizes them.

Sources: **gold** trajectories (each environment's gold solution played in the sandbox by the scripted policy,
with its final answer) or the **successful trajectories of a rollout** (rejection-sampling fine-tuning: keep
the episodes whose Solve-F1 reaches ``min_f1``; a common warm start before RL).

Each trajectory is replayed through :class:`toolgym.models.ChatRenderer`, the renderer every local backend
uses: the prompt of each turn is the one the model saw in the rollout (each prompt extends the previous one
with the reply and the template's rendering of the tool messages), so the training sequence is the rollout's
own token sequence, and the loss falls on the assistant replies and the stop token after each (nothing else:
not the prompt, not the tool outputs, not the template's scaffolding). Training runs through
:func:`toolgym.train.trl_run.run_trl` with ``algo="sft"`` and TRL's ``SFTTrainer`` on the pre-tokenized rows,
so it shares ``train trl``'s configuration, LoRA, checkpoints, resume, final model, log and manifest.

With ``loss="all"`` the loss falls on every token instead: language modelling of whole conversations, for a model
from scratch (``toolgym model init``) that has yet to learn the text it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import Run, digest, manifest_path, read_environments, sha256_of
from ..models import ChatRenderer, ErrorRates, ScriptedPolicy, stop_token_ids
from ..rollout import EpisodeConfig, RolloutConfig, load_trajectories, rollout
from ..sandbox import Executor
from ..schema import Environment, Trajectory
from .data import assistant_text

SFT_FILE = "sft.jsonl"


@dataclass(frozen=True, slots=True)
class SftExample:
    """One training sequence: token ids, and 1 where the loss applies (the replies and their stop tokens)."""

    env_id: str
    input_ids: list[int]
    assistant_masks: list[int]
    turns: int


@dataclass
class SftRows:
    """The rows of a run and what was left out, by reason."""

    examples: list[SftExample] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def replies(t: Trajectory) -> list[str]:
    """The model's raw reply of every assistant turn (what it generated; ``Step.response``)."""
    steps = iter(t.steps)
    out = []
    for m in t.messages:
        if m.get("role") == "assistant":
            step = next(steps, None)
            out.append(assistant_text(step, m) if step is not None else (m.get("content") or ""))
    return out


def conversation_examples(renderer: ChatRenderer, env_id: str, messages: Sequence[Mapping[str, Any]],
                          tools: list[dict[str, Any]] | None, responses: Sequence[str],
                          stops: Iterable[int]) -> list[SftExample]:
    """The token sequences of one conversation, as the rollout built them. Normally one sequence: the last
    prompt (which holds every earlier prompt and reply), the last reply and the stop token. Where a prompt does
    not extend the previous one (the renderer had to render afresh), the sequence so far is closed and a new one
    starts, so every reply is trained once, after the exact prompt the model saw."""
    stops = set(stops)
    eot = renderer.encode(renderer.end_of_turn)
    final_stop = eot[0] if eot and eot[0] in stops else renderer.tokenizer.eos_token_id
    key = f"sft:{env_id}:{id(messages)}"
    out: list[SftExample] = []
    seq: list[int] = []
    mask: list[int] = []
    turns = 0
    assistant_at = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    try:
        for i, reply in zip(assistant_at, responses):
            _, ids = renderer.next_prompt(key, list(messages[:i]), tools)
            if seq and len(ids) > len(seq) and ids[:len(seq)] == seq:
                # The prompt extends the sequence; the stop token after the last reply is the model's to learn.
                mask += [int(j == 0 and ids[len(seq)] in stops) for j in range(len(ids) - len(seq))]
                seq = list(ids)
            else:
                if seq:
                    out.append(SftExample(env_id, seq + [final_stop], mask + [1], turns))
                seq, mask, turns = list(ids), [0] * len(ids), 0
            reply_ids = renderer.encode(reply)
            renderer.record(key, reply, reply_ids)
            seq += reply_ids
            mask += [1] * len(reply_ids)
            turns += 1
    finally:
        renderer.forget(key)
    if turns:
        out.append(SftExample(env_id, seq + [final_stop], mask + [1], turns))
    return out


LOSSES = ("replies", "all")


def sft_rows(trajectories: Iterable[Trajectory], envs: Mapping[str, Environment], tokenizer, *,
             template_kwargs: dict[str, Any] | None = None, max_length: int | None = None,
             dedupe: bool = True, loss: str = "replies") -> SftRows:
    """Token rows for ``trajectories`` (each rendered with its environment's tools; see the module docstring).
    Trajectories of unknown environments, and sequences longer than ``max_length``, are left out and counted.
    ``loss="all"`` puts the loss on every token (language modelling of the whole conversation: prompt, tools and
    tool outputs too), for a model from scratch that has yet to learn the text it reads."""
    if loss not in LOSSES:
        raise ConfigError(f"unknown --loss {loss!r}; use one of {', '.join(LOSSES)}")
    renderer = ChatRenderer(tokenizer, template_kwargs)
    stops = stop_token_ids(tokenizer)
    rows = SftRows()
    seen: set[tuple[int, ...]] = set()
    for t in trajectories:
        env = envs.get(t.env_id)
        if env is None:
            rows.skip("environment not in --envs")
            continue
        for ex in conversation_examples(renderer, t.env_id, t.messages, env.tools, replies(t), stops):
            if max_length is not None and len(ex.input_ids) > max_length:
                rows.skip(f"longer than --max-length {max_length}")
                continue
            if loss == "all":
                ex = SftExample(ex.env_id, ex.input_ids, [1] * len(ex.input_ids), ex.turns)
            if dedupe:
                k = tuple(ex.input_ids)
                if k in seen:
                    rows.skip("duplicate")
                    continue
                seen.add(k)
            rows.examples.append(ex)
    return rows


def successful(trajectories: Iterable[Trajectory], *, min_f1: float = 1.0) -> list[Trajectory]:
    """The episodes worth imitating: finished (not failed) with Solve-F1 of at least ``min_f1``."""
    return [t for t in trajectories if t.status != "failed" and t.metrics.solve_f1 >= min_f1]


def gold_trajectories(envs: Sequence[Environment], out: str | Path, executor: Executor | None = None,
                      max_turns: int = 20) -> list[Trajectory]:
    """Every environment's gold solution played in the sandbox, then its final answer: the scripted policy with
    no errors, through the rollout engine (so the tool outputs are the real ones). Resumes into ``out``."""
    rollout(envs, ScriptedPolicy(ErrorRates()), out, executor=executor,
            config=RolloutConfig(samples=1, episode=EpisodeConfig(max_turns=max_turns)),
            identity={"source": "gold solutions"})
    return load_trajectories(out)


@dataclass(frozen=True)
class SftData:
    """The conversations an SFT run trains on (``OUT/sft.jsonl``) and where they came from."""

    path: Path
    trajectories: int  # selected
    candidates: int  # before selection
    source: str


def prepare_sft(out: str | Path, envs: Sequence[Environment], *, trajectories: Sequence[Path] = (),
                min_f1: float = 1.0, executor: Executor | None = None, max_turns: int = 20,
                overwrite: bool = False) -> SftData:
    """Write ``out/sft.jsonl``: the gold trajectories of ``envs`` (no ``trajectories`` given; the gold rollout is
    kept in ``out/gold.jsonl``) or the successful trajectories of the given rollouts whose environment is in
    ``envs``. A rerun with the same sources finds the data ready; other sources into the same folder are refused
    (``overwrite`` writes it again)."""
    out = Path(out)
    source = "rollout" if trajectories else "gold"
    identity = {"source": source, "trajectories": [[str(p), sha256_of(p)] for p in trajectories], "min_f1": min_f1,
                "envs": digest(sorted(e.id for e in envs)), "max_turns": max_turns}
    path, gold = out / SFT_FILE, out / "gold.jsonl"
    with Run(path, kind="sft-data", identity=identity, overwrite=overwrite, key=lambda row: (row.get("env_id"),
                                                                                        row.get("sample")),
             owns=[gold, manifest_path(gold)]) as run:
        if run.complete:
            counts = run.previous.get("counts", {})
            return SftData(path, counts.get("selected", 0), counts.get("candidates", 0), source)
        ids = {e.id for e in envs}
        if trajectories:
            candidates = [t for p in trajectories for t in load_trajectories(p) if t.env_id in ids]
        else:
            candidates = gold_trajectories(envs, gold, executor, max_turns)
        chosen = successful(candidates, min_f1=min_f1)
        for t in chosen:  # an interrupted run left some: each is written once
            if not run.is_done((t.env_id, t.sample)):
                run.write(t, key=(t.env_id, t.sample))
        run.save("complete", counts={"selected": len(chosen), "candidates": len(candidates)})
    return SftData(path, len(chosen), len(candidates), source)


def read_sft_data(data: str | Path) -> list[Trajectory]:
    """The trajectories of an SFT run: a trajectory file, or a folder holding ``sft.jsonl``."""
    path = Path(data)
    path = path / SFT_FILE if path.is_dir() else path
    if not path.exists():
        raise ConfigError(f"no SFT data at {path}; write it with `toolgym train sft` (gold or --trajectories)")
    return load_trajectories(path)


def sft_data(c) -> list[Trajectory]:
    """The trajectories a :class:`~toolgym.train.trl_run.TrlRunConfig` with ``algo="sft"`` trains on, read and
    checked before any model is loaded: ``c.data`` holds them, ``c.envs`` their environments (their tools)."""
    if c.sft_loss not in LOSSES:
        raise ConfigError(f"unknown --loss {c.sft_loss!r}; use one of {', '.join(LOSSES)}")
    if c.envs is None:
        raise ConfigError("SFT needs the environments the trajectories ran in (their tools): give --envs")
    if not Path(c.envs).exists():
        raise ConfigError(f"--envs {c.envs} does not exist")
    trajectories = read_sft_data(c.data)
    if not trajectories:
        raise ConfigError(f"no trajectories in {c.data}; write them with `toolgym train sft`")
    return trajectories[: c.limit] if c.limit else trajectories


def sft_trainer(c, model, tokenizer, args, template_kwargs: dict[str, Any], trajectories: list[Trajectory]):
    """TRL's ``SFTTrainer`` with ``args`` (its ``SFTConfig``) on ``trajectories`` (from :func:`sft_data`),
    tokenized for ``tokenizer``."""
    from datasets import Dataset
    from trl import SFTTrainer

    from .trl_run import _peft_config

    envs = {e.id: e for e in read_environments(c.envs)}
    rows = sft_rows(trajectories, envs, tokenizer, template_kwargs=template_kwargs, max_length=c.max_length,
                    loss=c.sft_loss)
    if not rows.examples:
        raise ConfigError(f"no SFT sequence from {len(trajectories)} trajectories in {c.data}"
                          + (f" (left out: {rows.skipped})" if rows.skipped else ""))
    data = Dataset.from_list([{"input_ids": e.input_ids, "assistant_masks": e.assistant_masks}
                              for e in rows.examples])
    return SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                      peft_config=_peft_config(c))
