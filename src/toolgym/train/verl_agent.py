"""verl agent loops and dataset for toolgym rows, on stock verl (imported only by verl's workers).

Stock verl renders a row's prompt inside an *agent loop* (``verl.experimental.agent_loop``). Its
``SingleTurnAgentLoop`` renders without tools, and its ``ToolAgentLoop`` takes one global tool list
from a tool config; toolgym rows each carry their own tools (a ``tools`` column, JSON of OpenAI function
schemas), as the paper's data does. So:

* :class:`ToolgymSingleTurnAgentLoop` (``toolgym_single_turn``) -- the paper's recipe: verl's own
  single-turn loop, with the row's tools passed to the chat template, as the paper's fork did
  (``apply_chat_template(messages, tools=json.loads(row["tools"]), add_generation_prompt=True)``) --
  except where the row carries the prompt the rollout recorded (``extra_info.prompt_ids``): the model is
  then given exactly the tokens it saw in the rollout. The reward is computed afterwards by verl's reward
  loop with ``toolgym.reward.verl.compute_score``.
* :class:`ToolgymMultiTurnAgentLoop` (``toolgym_multi_turn``) -- beyond the paper: the model acts in the
  environment turn after turn. Each reply is parsed, its tool calls run in toolgym's sandbox and are
  scored by :class:`toolgym.rollout.ToolEnv` (the same episode semantics and step reward as ``toolgym
  rollout``, reading replies in the row's tool format); the tool messages are appended with verl's Continuous Token builder, so tool tokens get
  response-mask 0 exactly as in verl's ``ToolAgentLoop``. The step rewards are ``turn_scores`` and the
  trajectory reward (``reward_score``) is their mean, sum, or the episode's Solve-F1.
* :class:`ToolRowsDataset` -- verl's ``RLHFDataset`` whose overlong-prompt filter counts each row's own
  tools (the stock filter only sees the global tool config).

Rows are read with ``toolgym.formats.verl_to_turn``, the reader ``toolgym.reward.verl`` uses too, so the
loop and the reward cannot read a row differently. The loops are registered in verl's agent-loop registry
under the names of ``toolgym.train.verl_run.AGENT_LOOPS`` (defined there, importable without verl);
``verl_run`` also writes them to the run's ``agent_loop_config_path`` file, which is how verl's workers
find them. This module uses absolute imports only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.utils.profiler import simple_timer
from verl.utils.rollout_trace import rollout_trace_op
from verl.utils.tokenizer import normalize_token_ids

from toolgym.formats import verl_row_tools, verl_row_variant, verl_to_turn
from toolgym.parse import clean_response
from toolgym.reward import worker_executor
from toolgym.rollout import EpisodeConfig, ToolEnv
from toolgym.schema import Environment, TurnState
from toolgym.train.verl_run import MULTI_TURN_LOOP, SINGLE_TURN_LOOP, TRAJECTORY_REWARDS

logger = logging.getLogger(__name__)

_SPEC_DECODE_KEYS = ("spec_num_draft_tokens", "spec_num_accepted_tokens", "spec_num_verify_steps")


# ---- rows ---------------------------------------------------------------------------------------
def row_tools(row: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The row's tool schemas for the chat template (None when it has none)."""
    return verl_row_tools(row) or None


def prompt_token_ids(tokenizer, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                     template_kwargs: Mapping[str, Any] | None = None, recorded: list[int] | None = None) -> list[int]:
    """The prompt's token ids: the ids the rollout recorded for the row (what the model saw), else the chat
    template's rendering with its tools, as verl's agent loops build them."""
    if recorded is not None:
        return list(recorded)
    return normalize_token_ids(tokenizer.apply_chat_template(
        list(messages), tools=tools, add_generation_prompt=True, tokenize=True,
        **dict(template_kwargs or {})))


def recorded_prompt_ids(row: Mapping[str, Any]) -> list[int] | None:
    """The prompt token ids the rollout recorded for a row (``extra_info.prompt_ids``), or None."""
    return verl_to_turn(row).prompt_ids


def row_environment(row: Mapping[str, Any]) -> Environment:
    """The episode a row starts: its tools and code, what is still to solve, and the answer."""
    return turn_environment(verl_to_turn(row))


def turn_environment(state: TurnState) -> Environment:
    """The environment an episode from ``state`` runs in (its question is the state's first user message)."""
    return Environment(question=state.question, tools=state.tools, code=state.codes, expected=state.unsolved,
                       answer=state.answer, metadata={"scoping": state.scoping})


def truncate_tool_text(text: str, limit: int, side: str) -> str:
    """verl's ``ToolAgentLoop`` truncation of a tool response the model sees."""
    if not text or len(text) <= limit:
        return text
    if side == "left":
        return "(truncated)..." + text[-limit:]
    if side == "right":
        return text[:limit] + "...(truncated)"
    half = limit // 2
    return text[:half] + "...(truncated)..." + text[-half:]


_checked_tokenizers: set[int] = set()


def check_reward_decoding(tokenizer) -> None:
    """verl's reward manager decodes a response with ``skip_special_tokens=True``. With a tokenizer that
    marks ``<tool_call>`` as a special token, every tool call would vanish before the reward sees it and
    the run would train on wrong rewards; stop instead. (Qwen's tokenizers keep these tags as ordinary
    added tokens; toolgym_multi_turn decodes with special tokens kept and is not affected.)"""
    if id(tokenizer) in _checked_tokenizers:
        return
    for tag in ("<tool_call>", "</tool_call>"):
        ids = tokenizer.encode(tag, add_special_tokens=False)
        if tag not in tokenizer.decode(ids, skip_special_tokens=True):
            raise ValueError(
                f"this tokenizer treats {tag} as a special token, so verl's reward manager (which decodes "
                "with skip_special_tokens=True) would never see a tool call; use a tokenizer whose tool-call "
                "tags are ordinary tokens, or train on whole episodes (toolgym train verl --episodes)")
    _checked_tokenizers.add(id(tokenizer))


# ---- the paper's single-turn recipe ---------------------------------------------------------------
@register(SINGLE_TURN_LOOP)
class ToolgymSingleTurnAgentLoop(SingleTurnAgentLoop):
    """verl's single-turn loop with the row's own tools in the chat template (the paper's fork)."""

    def __init__(self, *args, name: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._tools: list[dict[str, Any]] | None = None
        self._recorded: list[int] | None = None
        check_reward_decoding(self.tokenizer)

    async def run(self, sampling_params: dict[str, Any], **kwargs) -> AgentLoopOutput:
        self._tools = row_tools(kwargs)  # one loop instance per sample: this is that sample's tools
        self._recorded = recorded_prompt_ids(kwargs)
        return await super().run(sampling_params, **kwargs)

    async def ct_build_initial_tokens(self, messages, tools=None, **kwargs) -> list[int]:
        if self._recorded is not None:  # what the model saw in the rollout, token for token
            return list(self._recorded)
        tools = tools if tools is not None else self._tools
        return await super().ct_build_initial_tokens(messages, tools=tools, **kwargs)


# ---- beyond the paper: whole episodes ------------------------------------------------------------
@register(MULTI_TURN_LOOP)
class ToolgymMultiTurnAgentLoop(AgentLoopBase):
    """Whole episodes in the row's environment; step rewards per turn, a trajectory reward at the end.

    Limits come from verl's ``actor_rollout_ref.rollout`` config, as for ``ToolAgentLoop``:
    ``response_length`` (all turns' tokens, tool tokens included), ``multi_turn.max_assistant_turns``
    (default 20, the paper's limit), ``multi_turn.max_tool_response_length`` and
    ``tool_response_truncate_side``. ``max_parallel_calls`` is not applied: every call of a reply runs
    and counts in the step reward, as in the paper's reward.
    """

    def __init__(self, *args, name: str | None = None, trajectory_reward: str = "mean",
                 reward_variant: str | None = None, tool_format: str | None = None, malformed: str = "end",
                 **kwargs):
        super().__init__(*args, **kwargs)
        if trajectory_reward not in TRAJECTORY_REWARDS:
            raise ValueError(f"trajectory_reward must be one of {TRAJECTORY_REWARDS}, not {trajectory_reward!r}")
        self.trajectory_reward = trajectory_reward
        self.reward_variant = reward_variant
        self.tool_format = tool_format  # run-wide; a row's own tool_format wins, as in the reward
        self.malformed = malformed
        multi_turn = self.rollout_config.multi_turn
        self.max_turns = multi_turn.max_assistant_turns or EpisodeConfig().max_turns  # the paper's limit
        self.max_tool_chars = multi_turn.max_tool_response_length
        self.truncate_side = multi_turn.tool_response_truncate_side
        self.response_length = self.rollout_config.response_length

    @rollout_trace_op
    async def run(self, sampling_params: dict[str, Any], priority: int = 0, **kwargs) -> AgentLoopOutput:
        state = verl_to_turn(kwargs)
        messages = [dict(m) for m in state.messages]
        tools = state.tools or None
        variant = verl_row_variant(kwargs, self.reward_variant)  # as the reward reads it
        env = ToolEnv(turn_environment(state), worker_executor(),
                      EpisodeConfig(max_turns=self.max_turns, reward_variant=variant, malformed=self.malformed,
                                    format=state.tool_format or self.tool_format or "hermes",
                                    strip_thinking=bool(state.strip_thinking)))
        env.reset()
        metrics: dict[str, Any] = {}
        extra_fields: dict[str, Any] = {}
        request_id = f"det-{int(priority)}" if self.rollout_config.full_determinism else uuid4().hex
        prompt_ids = (list(state.prompt_ids) if state.prompt_ids is not None
                      else await self.ct_build_initial_tokens(messages, tools=tools))
        mask: list[int] = []
        logprobs: list[float] = []
        turn_scores: list[float] = []
        user_turns = assistant_turns = 0
        routed_experts = None
        while True:
            with simple_timer("generate_sequences", metrics):
                out = await self.server_manager.generate(
                    request_id=request_id, prompt_ids=prompt_ids, sampling_params=sampling_params,
                    priority=int(priority))
            if "num_preempted" not in metrics:  # -1: the server does not report it (as ToolAgentLoop)
                metrics["num_preempted"] = out.num_preempted if out.num_preempted is not None else -1
            else:
                metrics["num_preempted"] += out.num_preempted or 0
            self._merge_extra_fields(extra_fields, out.extra_fields, first=assistant_turns == 0)
            assistant_turns += 1
            merged, mask, new_logprobs = await self.ct_merge_assistant_token(
                prompt_ids, out.token_ids, mask, logprobs if (logprobs or out.log_probs) else None,
                assistant_logprobs=out.log_probs or None)
            prompt_ids = merged.token_ids
            logprobs = new_logprobs or logprobs
            if out.routed_experts is not None:
                routed_experts = out.routed_experts

            text = clean_response(self.tokenizer.decode(out.token_ids, skip_special_tokens=False))
            before = len(env.messages)
            with simple_timer("tool_calls", metrics):
                obs, reward, terminated, truncated, _ = await env.astep(text)
            turn_scores.append(float(reward))
            if terminated or truncated or len(mask) >= self.response_length:
                break
            previous = messages + [{"role": "assistant", "content": text}]
            appended = [self._for_model(m) for m in obs["messages"][before + 1:]]
            merged, new_mask, new_logprobs = await self.ct_merge_context_msg(
                previous, previous + appended, prompt_ids, mask, logprobs or None, tools=tools)
            if len(new_mask) >= self.response_length:
                break  # as verl's ToolAgentLoop: the observation that overflows is dropped
            messages = previous + appended
            prompt_ids, mask = merged.token_ids, new_mask
            logprobs = new_logprobs or logprobs
            user_turns += 1

        trajectory = env.trajectory()
        response_ids = prompt_ids[-len(mask):] if mask else []
        prompt_ids = prompt_ids[: len(prompt_ids) - len(mask)]
        limit = self.response_length
        output = AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids[:limit],
            response_mask=mask[:limit],
            response_logprobs=logprobs[:limit] if logprobs else None,
            routed_experts=routed_experts[: len(prompt_ids) + limit] if routed_experts is not None else None,
            reward_score=self._trajectory_reward(turn_scores, trajectory.metrics.solve_f1),
            num_turns=user_turns + assistant_turns + 1,
            metrics=metrics,
            extra_fields=extra_fields,
        )
        m = trajectory.metrics
        output.extra_fields.update({
            "turn_scores": turn_scores, "tool_rewards": [],
            "reward_extra_info": {"solve_f1": m.solve_f1, "solve_precision": m.solve_precision,
                                  "solve_rate": m.solve_rate, "tool_calls": m.calls, "turns": m.turns,
                                  "truncated": trajectory.status == "truncated"},
        })
        return output

    def _trajectory_reward(self, turn_scores: list[float], solve_f1: float) -> float:
        if self.trajectory_reward == "solve_f1":
            return float(solve_f1)
        total = float(sum(turn_scores))
        return total if self.trajectory_reward == "sum" else total / max(1, len(turn_scores))

    def _for_model(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message of the episode as the model sees it (tool output truncated as verl does)."""
        if message.get("role") != "tool":
            return {"role": message["role"], "content": message.get("content") or ""}
        text = truncate_tool_text(message.get("content") or "", self.max_tool_chars, self.truncate_side)
        return {"role": "tool", "content": text, "name": message.get("name"),
                "tool_call_id": message.get("tool_call_id")}

    @staticmethod
    def _merge_extra_fields(into: dict[str, Any], new: Mapping[str, Any], *, first: bool) -> None:
        """As verl's ToolAgentLoop: the first turn's fields, then the latest weight version and summed
        speculative-decoding counters."""
        if first or not into:
            into.update(new)
            return
        if new.get("max_global_steps"):
            into["max_global_steps"] = new["max_global_steps"]
        for key in _SPEC_DECODE_KEYS:
            if key in new and key in into:
                into[key] = int(into[key]) + int(new[key])


# ---- dataset ---------------------------------------------------------------------------------------
class ToolRowsDataset(RLHFDataset):
    """verl's ``RLHFDataset``; its overlong-prompt filter renders each row with the row's own tools (as the
    paper's fork did), so ``data.filter_overlong_prompts`` drops exactly the prompts that would not fit."""

    def maybe_filter_out_long_prompts(self, dataframe=None):
        if not self.filter_overlong_prompts or self.processor is not None:
            return super().maybe_filter_out_long_prompts(dataframe)
        tokenizer, key, limit = self.tokenizer, self.prompt_key, self.max_prompt_length
        kwargs = dict(self.apply_chat_template_kwargs or {})

        def fits(doc) -> bool:
            return len(prompt_token_ids(tokenizer, doc[key], row_tools(doc), kwargs, recorded_prompt_ids(doc))) <= limit

        kept = dataframe.filter(fits, num_proc=self.num_workers,
                                desc=f"Filtering prompts longer than {limit} tokens (row tools included)")
        print(f"filter dataset len: {len(kept)}")
        return kept
