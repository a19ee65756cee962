"""Helpers for OpenAI function schemas, accepted in both the bare and the wrapped form.

Bare: ``{"name": ..., "description": ..., "parameters": {...}}``.
Wrapped (what the OpenAI API and our builders write): ``{"type": "function", "function": {...bare...}}``.
Records keep tools exactly as given (so external data round-trips); code that needs the function part
calls :func:`tool_function`.
"""

from __future__ import annotations

from typing import Any


def tool_function(tool: Any) -> dict[str, Any]:
    """The function part of a tool document (``{name, description, parameters}``)."""
    if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
        return tool["function"]
    if isinstance(tool, dict):
        return tool
    raise TypeError(f"a tool must be a JSON object, got {type(tool).__name__}")


def tool_name(tool: Any) -> str | None:
    try:
        name = tool_function(tool).get("name")
    except TypeError:
        return None
    return name if isinstance(name, str) else None


def wrap_tool(function: dict[str, Any]) -> dict[str, Any]:
    """The wrapped OpenAI form of a bare function schema."""
    return {"type": "function", "function": function}
