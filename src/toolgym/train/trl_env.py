"""Whole multi-turn episodes with TRL's ``environment_factory`` (beyond the paper, which trains on
single-turn prefixes): the model acts in a toolgym environment turn after turn during training.

TRL exposes the public methods of an environment object as tools and derives their schemas from type
hints and docstrings. Each toolgym environment has its own tools, so :func:`environment_factories`
makes one small class per environment: one method per tool, with a signature, type hints (enums as
``Literal``) and an ``Args:`` docstring built from the tool's JSON schema (the inner structure of object
parameters goes into their description, since type hints cannot carry it). A method runs the tool's
code in toolgym's sandbox, exactly as a rollout does, and books it in the episode's
:class:`~toolgym.reward.Episode`. The reward, :func:`episode_reward`, is the episode's Solve-F1 (the
paper's trajectory metric, from the same matching as the step reward); it is one reward function for
all environments (TRL hands it the batch's environment objects), not a ``get_reward`` per class, which TRL would log as one column per environment.
Rows select their environment with an ``environment`` column.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Literal

from ..reward import Episode
from ..sandbox import ExecRequest, Executor, default_pool
from ..schema import Environment, tool_function

_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list,
                          "object": dict}


def _hint(schema: dict[str, Any]) -> Any:
    if isinstance(schema.get("enum"), list) and schema["enum"] and all(
            isinstance(v, (str, int, float, bool)) for v in schema["enum"]):
        return Literal[tuple(schema["enum"])]
    kind = schema.get("type")
    items = schema.get("items")
    if kind == "array" and isinstance(items, dict) and items.get("type") in _TYPES:
        element = _TYPES[items["type"]]
        return list[element]
    return _TYPES.get(kind, str)


def _describe(name: str, schema: dict[str, Any]) -> str:
    text = schema.get("description") or name.replace("_", " ")
    if schema.get("type") == "object" and isinstance(schema.get("properties"), dict):
        inner = ", ".join(f"{k} ({v.get('type', 'any')})" for k, v in schema["properties"].items())
        text += f" An object with: {inner}."
    return " ".join(text.split())


def _method(tool: dict[str, Any]) -> Callable:
    fn = tool_function(tool)
    name = fn["name"]
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    required = set(params.get("required") or [])

    def call(self, **kwargs):
        return self._run_tool(name, kwargs)

    sig_params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    args_doc = []
    for pname, pschema in props.items():
        hint = _hint(pschema if isinstance(pschema, dict) else {})
        annotations[pname] = hint
        default = inspect.Parameter.empty if pname in required else None
        sig_params.append(inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint))
        args_doc.append(f"    {pname}: {_describe(pname, pschema if isinstance(pschema, dict) else {})}")
    annotations["return"] = str
    call.__name__ = call.__qualname__ = name
    call.__signature__ = inspect.Signature(sig_params, return_annotation=str)
    call.__annotations__ = annotations
    description = " ".join((fn.get("description") or name.replace("_", " ")).split())
    call.__doc__ = description + ("\n\nArgs:\n" + "\n".join(args_doc) if args_doc else "") + "\n\nReturns:\n    The tool's answer."
    return call


def environment_class(env: Environment, executor: Executor | None = None) -> type:
    """A class whose instances are TRL environments for ``env``: one method per tool, and the episode's
    books in ``_episode`` (private: a tool may have any public name)."""
    attrs: dict[str, Any] = {}
    for tool in env.tools:
        method = _method(tool)
        attrs[method.__name__] = method

    def __init__(self):
        self._executor = executor or default_pool()
        self._episode = Episode.of(env)

    def reset(self, **_row):
        self._episode = Episode.of(env)

    def _run_tool(self, name: str, arguments: dict[str, Any]) -> str:
        arguments = {k: v for k, v in arguments.items() if v is not None}  # parameters the model left out
        output = self._executor.run([ExecRequest(name, arguments, env.code, scoping=env.metadata.scoping)])[0].output
        self._episode.call(name, output)
        return output

    attrs.update(__init__=__init__, reset=reset, _run_tool=_run_tool,
                 __doc__=f"toolgym environment {env.id} ({env.scenario})")
    return type(f"ToolgymEnv_{env.id}", (), attrs)


def episode_reward(environments=None, **_: Any) -> list[float]:
    """TRL reward function for whole episodes: each episode's Solve-F1, from its environment's books."""
    return [e._episode.metrics().solve_f1 for e in environments or []]


episode_reward.__name__ = "toolgym_episode_f1"


def environment_factories(envs: Iterable[Environment], executor: Executor | None = None) -> dict[str, type]:
    """``environment_factory`` for TRL's GRPOTrainer: one entry per environment, keyed by its id."""
    return {e.id: environment_class(e, executor) for e in envs}


def episode_rows(envs: Iterable[Environment]) -> list[dict[str, Any]]:
    """Training rows for whole episodes: the question, and which environment answers the tool calls."""
    return [{"prompt": [{"role": "user", "content": e.question}], "environment": e.id} for e in envs]
