"""Running one tool call, minus the isolation, under our module scoping or the paper's.

Shared by the isolated worker (imported there as a top-level module, so: standard library only, no
relative imports) and the unsafe in-process executor. The result becomes text as the paper's
``call_function`` makes it: ``json.dumps(..., ensure_ascii=False)`` for an exact ``dict``/``list``,
``str()`` otherwise; every exception becomes the tool message ``an error occured when call NAME:
<str(exc)>`` (sic).

Scopings (``SCOPINGS``):

* ``module`` (default): the source runs as a module of its own, in a fresh namespace, and
  ``name(**arguments)`` is called; a tool function sees its source's top-level names.
* ``reference``: the paper's ``call_function`` (bytedance/FTRL ``Code/utils/utils.py``) exactly. It runs
  ``exec(code)`` *inside* a function and then ``eval(name)(**arguments)``: the source's top-level names go
  into that function's locals, which already hold its parameters (``name``, ``arguments``, ``code``,
  ``kwargs``); the tool function's globals are the ``utils`` module's, so it does not see its source's
  top-level names (tables, helpers, imports) but does see ``json``, ``sha256``, ``sleep``, ``deepcopy``...
  Re-created here with the same globals (:data:`REFERENCE_GLOBALS`, a fresh copy per call) and a locals
  dict refreshed before ``eval`` as CPython 3.11 refreshes a frame's locals.
* ``compare``: both, for verification: the ``module`` outcome, or :class:`ScopingMismatch` when the
  ``reference`` outcome differs.

Every output leaves through :func:`finish`: made valid Unicode text (:func:`clean_text`) and capped.
"""

from __future__ import annotations

import builtins
import copy
import hashlib
import json
import re
import time

_dumps = json.dumps  # bound now: a tool that patches json must not change how results are formatted
_BUILTINS = dict(vars(builtins))
SCOPINGS = ("module", "reference", "compare")
#: The locals ``call_function`` holds when it runs the source: its parameters, plus ``predict``, which is
#: unbound when ``eval(name)`` runs. A tool with one of these names cannot be called by the reference.
REFERENCE_LOCALS = ("name", "arguments", "code", "kwargs", "predict")


def error_message(name: str, detail: object) -> str:
    """The tool message for a failed call, in the reference's words (including its spelling)."""
    return f"an error occured when call {name}: {detail}"


def unknown_tool_message(name: str) -> str:
    # The reference looks the code up with codes[name]; the KeyError prints as the quoted name.
    return error_message(name, KeyError(name))


_STATEMENTS: dict[str, object] = {}  # top-level statement text -> code object
_CONTINUATIONS = ("else", "elif", "except", "finally", ")", "]", "}")
# a piece that starts with a string literal would be compiled as having a docstring (it sets __doc__)
_GLOBAL = re.compile(r"\bglobal\b")
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
    are found in the cache and only the data is compiled. The cache holds every source the process has
    compiled: the sandbox compiles in the pool's own process, whose memory no call process ever shares (its
    workers are started afresh), never in a worker or a call process that tool code could search. If a piece does not compile on its own the cut
    was wrong (an unclosed bracket or string always fails), and the caller compiles the whole source."""
    if "__future__" in source or ("global" in source and _GLOBAL.search(source)):
        # both change how other statements compile (a ``global`` in any function turns the top-level
        # stores of that name into global stores): only the whole source compiles them right
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


class Compiled(tuple):
    """The code objects of a source's top-level statements, run in order, and the source itself (the
    reference scoping hands it to the top-level code as the local ``code``)."""

    source: str


def compile_source(source: str):
    """The tool's code as :class:`Compiled`, or the exception compiling the whole source raised (the
    reference's message, reported on every call of that tool)."""
    pieces = _compile_pieces(source)
    if pieces is None:
        try:
            pieces = (compile(source, "<string>", "exec"),)
        except BaseException as exc:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError
            return exc
    compiled = Compiled(pieces)
    compiled.source = source
    return compiled


def format_output(value: object) -> str:
    if type(value) is dict or type(value) is list:
        return _dumps(value, ensure_ascii=False)
    if type(value) is not str:
        return str(value)
    return value


def invoke(code, name: str, arguments: object, scoping: str = "module", builtins_: dict | None = None) -> str:
    """Run the compiled source and return ``name(**arguments)`` as text, under ``scoping`` (see the module).
    Raises what the tool raises (:class:`ScopingMismatch` for ``compare``). Under ``module``, the namespace's
    builtins are ``builtins_`` (a sandbox call process passes one dict for its environment's calls, as the
    paper's code shares its process's) or else a fresh copy for each call."""
    if isinstance(code, BaseException):
        raise code
    if scoping == "module":
        return _invoke_module(code, name, arguments, builtins_)
    if scoping == "reference":
        return _invoke_reference(code, name, arguments)
    if scoping == "compare":
        return _invoke_compare(code, name, arguments)
    raise ValueError(f"unknown scoping {scoping!r}; choose one of {', '.join(SCOPINGS)}")


def _invoke_module(code, name: str, arguments: object, builtins_: dict | None = None) -> str:
    namespace = {"__builtins__": dict(_BUILTINS) if builtins_ is None else builtins_}
    for part in code:
        exec(part, namespace, namespace)
    if name not in namespace:  # worded as the reference's eval(name) words it
        raise NameError(f"name '{name}' is not defined")
    return format_output(namespace[name](**arguments))


class _Unavailable:
    """Stands in for a global of the paper's ``utils`` module that needs a package tool code has no use
    for (``requests``, ``transformers``): the name exists, as there, but using it fails clearly."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        raise AttributeError(f"{self._name}.{attr} is not available to tool code in toolgym's sandbox")

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} is not available to tool code in toolgym's sandbox")

    def __repr__(self) -> str:
        return f"<{self._name} (not available in toolgym's sandbox)>"


class FunctionTimedOut(Exception):
    """The name ``from func_timeout import FunctionTimedOut`` binds in the paper's ``utils`` module."""


def _func_set_timeout(_seconds):
    # the reference's decorator runs the function in a thread with a timeout; the sandbox times every call
    return lambda function: function


#: The globals of the paper's ``utils`` module (``Code/utils/utils.py``, imported as ``utils.utils``): what
#: it imports and the functions it defines. Modules that tool code may use are the real ones; the model,
#: HTTP and scoring helpers are stand-ins whose use fails (tool code has no business calling them).
#: ``__file__``, ``__spec__``, ``__loader__`` and ``__doc__`` are left out.
REFERENCE_GLOBALS: dict[str, object] = {
    "__name__": "utils.utils",
    "__package__": "utils",
    "json": json,
    "func_set_timeout": _func_set_timeout,
    "FunctionTimedOut": FunctionTimedOut,
    "AutoTokenizer": _Unavailable("AutoTokenizer"),
    "AutoModelForCausalLM": _Unavailable("AutoModelForCausalLM"),
    "sha256": hashlib.sha256,
    "sleep": time.sleep,
    "requests": _Unavailable("requests"),  # no network in the sandbox
    "deepcopy": copy.deepcopy,
    **{fn: _Unavailable(fn) for fn in ("answer_verify", "load_model", "get_params", "chat_open", "chat_close",
                                       "call_function", "get_feedback")},
}


def _invoke_reference(code, name: str, arguments: object) -> str:
    globals_ = dict(REFERENCE_GLOBALS)  # a fresh copy: a top-level ``global`` statement lasts one call
    globals_["__builtins__"] = dict(_BUILTINS)
    source, kwargs = code.source, {}
    frame = {"name": name, "arguments": arguments, "code": source, "kwargs": kwargs}
    for part in code:
        exec(part, globals_, frame)
    # ``eval(name)`` takes the frame's locals afresh: the parameters are written back over whatever the
    # source bound to their names, and ``predict`` (not assigned yet) is removed.
    frame.update(name=name, arguments=arguments, code=source, kwargs=kwargs)
    frame.pop("predict", None)
    return format_output(eval(_name_code(name), globals_, frame)(**arguments, **kwargs))


_NAMES: dict[str, object] = {}  # tool name -> its compiled eval expression


def _name_code(name: str):
    """``name`` compiled as ``eval`` compiles it (compiling costs more than the rest of a call); a name
    that does not compile raises here, where the reference's ``eval`` raises."""
    code = _NAMES.get(name)
    if code is None:
        code = compile(name, "<string>", "eval")
        if len(_NAMES) > 65536:
            _NAMES.clear()
        _NAMES[name] = code
    return code


class ScopingMismatch(Exception):
    """A ``compare`` call whose outcome under the reference scoping differs from the module one.
    ``module_output`` is what the model sees in the sandbox (the result or the error message)."""

    def __init__(self, name: str, module_output: str, reference_output: str):
        super().__init__(f"{name} returns {module_output!r} in the sandbox but {reference_output!r} under the "
                         "paper's call_function scoping")
        self.module_output, self.reference_output = module_output, reference_output


def _outcome(run, code, name: str, arguments: object) -> tuple[str, Exception | None]:
    try:
        return run(code, name, arguments), None
    except Exception as exc:  # anything wider (timeouts, memory, exits) ends the call as it is
        return error_message(name, describe_exception(exc)), exc


def _invoke_compare(code, name: str, arguments: object) -> str:
    output, exc = _outcome(_invoke_module, code, name, arguments)
    ref_output, ref_exc = _outcome(_invoke_reference, code, name, arguments)
    if output != ref_output or (exc is None) != (ref_exc is None):
        raise ScopingMismatch(name, output, ref_output)
    if exc is not None:
        raise exc
    return output


def describe_exception(exc: BaseException) -> str:
    """``str(exc)``, defended against exceptions whose ``__str__`` itself fails."""
    try:
        text = str(exc)
    except BaseException:
        text = f"<unprintable {type(exc).__name__}>"
    if not isinstance(text, str):
        text = f"<unprintable {type(exc).__name__}>"
    return text


def clean_text(text: str) -> str:
    """``text`` as valid Unicode: a surrogate pair (two halves of one astral character, as ``"\\ud83d\\ude00"``)
    becomes that character, and every unpaired surrogate becomes U+FFFD. Anything else is unchanged. A
    lone surrogate cannot be written as UTF-8, so without this one tool output would stop every writer of
    the run (JSONL, parquet, the HTTP client)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


NOTE_ROOM = 200  # room for the truncation note: a text already finished stays as it is when checked again


def finish(text: str, limit: int) -> str:
    """The text the model sees: valid Unicode (:func:`clean_text`), at most ``limit`` characters plus a note
    saying how long it was. Only the kept part is cleaned, so a huge output costs no more than a short one."""
    n = len(text)
    if n <= limit:
        return clean_text(text)
    return clean_text(text[:limit]) + f"\n... [output truncated: {n} characters, limit {limit}]"
