"""The one definition of a tool call, shared by the parser, the executor and the reward."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

#: How one executed call ended. ``ok`` and ``tool_error`` are ordinary outcomes the model sees;
#: ``timeout``/``memory``/``crashed`` are tool failures the sandbox contained (the model still sees a
#: tool message); ``infra_error`` means the executor itself failed and the output is not the tool's.
#: ``scoping`` (only for a call run with ``scoping="compare"``): the output differs under the paper's scoping.
CallStatus = Literal["ok", "tool_error", "timeout", "memory", "crashed", "infra_error", "scoping"]
#: How a tool's source is run: ``module`` (toolgym's sandbox: the source is a module of its own) or
#: ``reference`` (the paper's ``call_function``: ``exec`` inside a function, then ``eval(name)``; see
#: ``toolgym.sandbox``).
Scoping = Literal["module", "reference"]


class ToolCall(BaseModel):
    """One call of one tool: ``name(**arguments)``.

    ``arguments`` is normally a JSON object. It is kept as parsed (possibly a list or a scalar) so that a
    model that sends non-object arguments gets the same error message the reference implementation
    gives, instead of the call silently disappearing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    arguments: Any = Field(default_factory=dict)
    id: str | None = None

    @model_serializer(mode="wrap")
    def _drop_missing_id(self, handler):  # the gold solution stores calls as {"name", "arguments"}
        data = handler(self)
        if data.get("id") is None:
            data.pop("id", None)
        return data

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)

    def to_openai(self, default_id: str = "call_0") -> dict[str, Any]:
        """The OpenAI ``tool_calls`` item for this call (arguments as a JSON string)."""
        return {
            "id": self.id or default_id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments_json()},
        }

    def to_hermes(self) -> str:
        """The Qwen/Hermes text form: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``."""
        body = json.dumps({"name": self.name, "arguments": self.arguments}, ensure_ascii=False)
        return f"<tool_call>\n{body}\n</tool_call>"


class MalformedCall(BaseModel):
    """A tool call the model tried to make but that could not be read (bad JSON, no name, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw: str
    error: str
