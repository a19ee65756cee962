"""Running one tool call, exactly as the paper's reference does, minus the isolation.

Shared by the isolated worker (imported there as a top-level module, so: standard library only, no
relative imports) and the unsafe in-process executor. The reference ``call_function`` compiles the
tool's source, ``exec``s it into a fresh namespace, calls ``name(**arguments)`` and turns the result
into text: ``json.dumps(..., ensure_ascii=False)`` for an exact ``dict``/``list``, ``str()`` otherwise.
Every exception becomes the tool message ``an error occured when call NAME: <str(exc)>`` (sic).
"""

from __future__ import annotations

import builtins
import json

_dumps = json.dumps  # bound now: a tool that patches json must not change how results are formatted
_BUILTINS = dict(vars(builtins))


def error_message(name: str, detail: object) -> str:
    """The tool message for a failed call, in the reference's words (including its spelling)."""
    return f"an error occured when call {name}: {detail}"


def unknown_tool_message(name: str) -> str:
    # The reference looks the code up with codes[name]; the KeyError prints as the quoted name.
    return error_message(name, KeyError(name))


def compile_source(source: str):
    """A code object, or the exception compiling raised (reported on every call of that tool)."""
    try:
        return compile(source, "<string>", "exec")
    except BaseException as exc:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError
        return exc


def format_output(value: object) -> str:
    if type(value) is dict or type(value) is list:
        return _dumps(value, ensure_ascii=False)
    if type(value) is not str:
        return str(value)
    return value


def invoke(code, name: str, arguments: object) -> str:
    """Execute ``code`` in a fresh namespace and return ``name(**arguments)`` as text. Raises what the
    tool raises. Each call gets its own copy of the builtins, so a tool cannot change them for the next."""
    if isinstance(code, BaseException):
        raise code
    namespace = {"__builtins__": dict(_BUILTINS)}
    exec(code, namespace, namespace)
    if name not in namespace:
        raise NameError(f"name {name} is not defined")
    return format_output(namespace[name](**arguments))


def describe_exception(exc: BaseException) -> str:
    """``str(exc)``, defended against exceptions whose ``__str__`` itself fails."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not take the worker down
        text = f"<unprintable {type(exc).__name__}>"
    if not isinstance(text, str):
        text = f"<unprintable {type(exc).__name__}>"
    return text


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [output truncated: {len(text)} characters, limit {limit}]"
