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
import re

_dumps = json.dumps  # bound now: a tool that patches json must not change how results are formatted
_BUILTINS = dict(vars(builtins))


def error_message(name: str, detail: object) -> str:
    """The tool message for a failed call, in the reference's words (including its spelling)."""
    return f"an error occured when call {name}: {detail}"


def unknown_tool_message(name: str) -> str:
    # The reference looks the code up with codes[name]; the KeyError prints as the quoted name.
    return error_message(name, KeyError(name))


_STATEMENTS: dict[str, object] = {}  # top-level statement text -> code object
_CONTINUATIONS = ("else", "elif", "except", "finally", ")", "]", "}")
# a piece that starts with a string literal would be compiled as having a docstring (it sets __doc__)
_STARTS_WITH_STRING = re.compile(r"""^(?:\s*#[^\n]*\n|\s*\n)*[rRbBuUfF]{0,2}['"]""")


def split_statements(source: str) -> list[str]:
    """Cut a module's source before each line that starts a new top-level statement (a cheap, line-based
    guess; :func:`compile_source` only trusts it when every piece compiles on its own)."""
    pieces: list[str] = []
    current: list[str] = []
    has_code = False
    for line in source.splitlines(keepends=True):
        first = line[:1]
        starts = (first not in ("", " ", "\t", "\n", "\r", "#") and not line.startswith(_CONTINUATIONS)
                  and not (current and current[-1].rstrip("\r\n").endswith("\\")))
        if starts and has_code:
            pieces.append("".join(current))
            current, has_code = [], False
        current.append(line)
        if first not in ("", " ", "\t", "\n", "\r", "#", "@"):
            has_code = True
    if current:
        pieces.append("".join(current))
    return pieces


def _compile_pieces(source: str):
    """Code objects of the top-level statements, each compiled once per process whatever tool it is in.

    Built environments repeat the same function definitions around different data, so most statements
    are found in the cache and only the data is compiled. If a piece does not compile on its own the cut
    was wrong (an unclosed bracket or string always fails), and the caller compiles the whole source."""
    if "__future__" in source:
        return None
    codes = []
    for i, piece in enumerate(split_statements(source)):
        if i and _STARTS_WITH_STRING.match(piece):
            return None
        code = _STATEMENTS.get(piece)
        if code is None:
            try:
                code = compile(piece, "<string>", "exec")
            except BaseException:
                return None
            if len(_STATEMENTS) > 65536:
                _STATEMENTS.clear()
            _STATEMENTS[piece] = code
        codes.append(code)
    return tuple(codes)


def compile_source(source: str):
    """The tool's code as a tuple of code objects to run in order, or the exception compiling the whole
    source raised (the reference's message, reported on every call of that tool)."""
    pieces = _compile_pieces(source)
    if pieces is not None:
        return pieces
    try:
        return (compile(source, "<string>", "exec"),)
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
    for part in code:
        exec(part, namespace, namespace)
    if name not in namespace:
        raise NameError(f"name {name} is not defined")
    return format_output(namespace[name](**arguments))


def describe_exception(exc: BaseException) -> str:
    """``str(exc)``, defended against exceptions whose ``__str__`` itself fails."""
    try:
        text = str(exc)
    except BaseException:
        text = f"<unprintable {type(exc).__name__}>"
    if not isinstance(text, str):
        text = f"<unprintable {type(exc).__name__}>"
    return text


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [output truncated: {len(text)} characters, limit {limit}]"
