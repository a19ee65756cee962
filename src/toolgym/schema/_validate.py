"""Validation of environment records, with every problem reported as a typed :class:`RecordError`.

Checks (none executes tool code; running the solution is ``toolgym.verify``'s job):

* structure and types (pydantic);
* every tool is a valid OpenAI function schema, names are unique;
* ``expected`` names only existing tools;
* every tool has code, the code compiles, and it defines the function the tool is named after;
* the gold solution calls only existing tools, with object arguments.

A record nested too deeply to check, or code too deeply nested to compile (a 100,000-term expression), is a
reported problem of that record like any other. Both expensive checks are done once per distinct input in a
process: a parameter schema is checked against the JSON Schema metaschema once per distinct schema (schemas
that differ only in descriptions, titles, defaults and enum values share one check, see
:func:`_schema_key`), and a tool's code is compiled once per distinct (name, source).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from typing import Any

from pydantic import ValidationError

from ..errors import ErrorKind, InvalidRecord, RecordError
from ._environment import Environment
from ._tools import tool_function

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _err(kind: ErrorKind, message: str, field: str) -> RecordError:
    return RecordError(kind=kind, message=message, field=field)


def validate_tool_schema(tool: Any, index: int = 0) -> list[RecordError]:
    """Problems with one tool document (bare or ``{"type": "function", "function": ...}`` form)."""
    where = f"tools[{index}]"
    if not isinstance(tool, dict):
        return [_err(ErrorKind.TOOL_SCHEMA, f"a tool must be a JSON object, got {type(tool).__name__}", where)]
    if tool.get("type", "function") != "function":
        return [_err(ErrorKind.TOOL_SCHEMA, f"unsupported tool type {tool.get('type')!r}", f"{where}.type")]
    if "function" in tool:
        if not isinstance(tool["function"], dict):
            return [_err(ErrorKind.TOOL_SCHEMA, "'function' must be a JSON object", f"{where}.function")]
        where += ".function"
    fn = tool_function(tool)
    errors: list[RecordError] = []
    name = fn.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        errors.append(_err(ErrorKind.TOOL_SCHEMA,
                           f"tool name must match [A-Za-z0-9_-]{{1,64}}, got {name!r}", f"{where}.name"))
    desc = fn.get("description")
    if desc is not None and not isinstance(desc, str):
        errors.append(_err(ErrorKind.TOOL_SCHEMA, "description must be a string", f"{where}.description"))
    params = fn.get("parameters")
    if params is None:
        return errors
    if not isinstance(params, dict):
        errors.append(_err(ErrorKind.TOOL_SCHEMA, "parameters must be a JSON schema object",
                           f"{where}.parameters"))
        return errors
    if params.get("type", "object") != "object":
        errors.append(_err(ErrorKind.TOOL_SCHEMA,
                           f"parameters must have type 'object', got {params.get('type')!r}",
                           f"{where}.parameters.type"))
    props = params.get("properties", {})
    if not isinstance(props, dict) or not all(isinstance(v, dict) for v in props.values()):
        errors.append(_err(ErrorKind.TOOL_SCHEMA, "properties must map parameter names to schemas",
                           f"{where}.parameters.properties"))
        props = {}
    required = params.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        errors.append(_err(ErrorKind.TOOL_SCHEMA, "required must be a list of parameter names",
                           f"{where}.parameters.required"))
    else:
        for r in required:
            if r not in props:
                errors.append(_err(ErrorKind.TOOL_SCHEMA, f"required parameter {r!r} is not in properties",
                                   f"{where}.parameters.required"))
    if not errors:
        problem = _metaschema_problem(params)
        if problem is not None:
            message, path = problem
            errors.append(_err(ErrorKind.TOOL_SCHEMA, message, f"{where}.parameters" + (f".{path}" if path else "")))
    return errors


_CACHE_LIMIT = 100_000  # entries per cache; a cache that fills up starts again (they only save time)
_schema_checks: dict[str, tuple[str, str] | None] = {}  # a schema's JSON -> its first problem, or None
_valid_shapes: dict[str, bool] = {}  # a blanked schema's JSON (see _blank) -> is it valid?


def _metaschema_problem(params: dict[str, Any]) -> tuple[str, str] | None:
    """``(message, path)`` of the first metaschema violation of a parameter schema, or ``None``."""
    raw = _json_key(params)
    if raw is not None and raw in _schema_checks:
        return _schema_checks[raw]
    blank = _blanked(params)
    shape = _json_key(blank) if blank is not None else None
    if shape is not None and shape not in _valid_shapes:
        _remember(_valid_shapes, shape, _check_schema(blank) is None)
    # a valid blanked schema means a valid schema (see _blank); otherwise the schema itself is checked
    problem = None if shape is not None and _valid_shapes[shape] else _check_schema(params)
    if raw is not None:
        _remember(_schema_checks, raw, problem)
    return problem


def _json_key(value: Any) -> str | None:
    try:
        return json.dumps(value)
    except (ValueError, TypeError, RecursionError):  # not plain JSON data, or too deep: checked every time
        return None


def _remember(cache: dict, key: str, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _check_schema(params: dict[str, Any]) -> tuple[str, str] | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(params)
    except SchemaError as exc:
        return f"not a valid JSON schema: {exc.message}", ".".join(str(p) for p in exc.path)
    except RecursionError:
        return "the schema is nested too deeply to be checked", ""
    return None


_ANY_VALUE = frozenset(("default", "const"))
_TEXT = frozenset(("description", "title", "$comment"))
_STRING_LISTS = frozenset(("enum", "examples"))


def _blanked(params: Any) -> Any:
    try:
        return _blank(params)
    except RecursionError:
        return None


def _blank(value: Any) -> Any:
    """The schema with its free text and example values blanked, so that the many tools whose schemas differ
    only in those share one check. Sound in one direction: if the blanked schema is valid, so is the original,
    because each blanking can only make a schema less valid for the 2020-12 metaschema -- a string at
    ``description``, ``title`` or ``$comment`` becomes ``""`` (no position accepts ``""`` but rejects another
    string); any value at ``default`` or ``const`` becomes ``null`` (accepted only where any value is); a list
    of distinct strings at ``enum`` or ``examples`` becomes ``[]`` (accepted only where any array, or any
    array of distinct strings, is); and the metaschema's constraints on a value do not depend on its siblings'
    contents. When the blanked schema is invalid (a property named ``default``, say), the original is checked
    itself."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _TEXT and isinstance(v, str):
                out[k] = ""
            elif k in _ANY_VALUE:
                out[k] = None
            elif (k in _STRING_LISTS and isinstance(v, list) and all(isinstance(x, str) for x in v)
                  and len(set(v)) == len(v)):
                out[k] = []
            else:
                out[k] = _blank(v)
        return out
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return value


def _defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


_code_checks: dict[bytes, RecordError | None] = {}


def check_code(name: str, source: str) -> RecordError | None:
    """Problem with one tool's code, or ``None``: it must compile and define ``name`` at top level."""
    key = hashlib.blake2b(f"{name}\0{source}".encode("utf-8", "surrogatepass"), digest_size=16).digest()
    if key not in _code_checks:
        if len(_code_checks) >= _CACHE_LIMIT:
            _code_checks.clear()
        _code_checks[key] = _check_code(name, source)
    return _code_checks[key]


def _check_code(name: str, source: str) -> RecordError | None:
    field = f"code.{name}"
    try:  # compiled from source, as the executor compiles it (an AST of Python objects is slower to build)
        code = compile(source, "<string>", "exec")
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes, a lone surrogate in the source
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        return _err(ErrorKind.CODE_COMPILE,
                    f"code does not compile: {msg}" + (f" (line {line})" if line else ""), field)
    except (RecursionError, MemoryError, OverflowError):  # e.g. an expression of 100,000 terms
        return _err(ErrorKind.CODE_COMPILE, "code does not compile: it is nested too deeply for the compiler", field)
    if _defines_function(code, name, source):
        return None
    try:
        names = _defined_names(ast.parse(source, filename="<string>", mode="exec"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # compiles, but too deep for an AST of objects
        return _err(ErrorKind.CODE_COMPILE, "code is nested too deeply to find the names it defines", field)
    if name not in names:
        return _err(ErrorKind.CODE_MISSING_FUNCTION, f"code does not define a function named {name!r}", field)
    return None


def _defines_function(code: Any, name: str, source: str) -> bool:
    """Does the compiled module define ``name`` with a ``def`` or ``class`` statement of its own body? The
    module's constants hold a code object for every function and class its top-level code creates; one whose
    first line reads ``def name(`` (or ``async def``, ``class``) from column 0 is a statement of the module's
    body, since any nested statement is indented. Only ever says yes for sure: anything else (a decorator, an
    assignment, an import, a source with ``\\r`` line breaks) is left to :func:`_defined_names`."""
    if "\r" in source:
        return False
    lines = None
    for const in code.co_consts:
        if getattr(const, "co_name", None) != name or not hasattr(const, "co_firstlineno"):
            continue
        lines = lines or source.split("\n")
        first = const.co_firstlineno - 1
        line = lines[first] if 0 <= first < len(lines) else ""
        for keyword in ("def ", "async def ", "class "):
            if line.startswith(keyword + name) and line[len(keyword) + len(name):].lstrip(" \t")[:1] in ("(", ":", "["):
                return True
    return False


def validate_environment(env: Environment, *, compile_code: bool = True) -> list[RecordError]:
    """Every semantic problem of a structurally valid record (empty list when it is valid)."""
    errors: list[RecordError] = []
    names: list[str] = []
    for i, tool in enumerate(env.tools):
        problems = validate_tool_schema(tool, i)
        errors.extend(problems)
        fn_name = tool_function(tool).get("name") if isinstance(tool, dict) else None
        if isinstance(fn_name, str):
            if fn_name in names:
                errors.append(_err(ErrorKind.DUPLICATE_TOOL, f"tool {fn_name!r} is defined twice", f"tools[{i}]"))
            names.append(fn_name)
    known = set(names)
    for tool in env.expected:
        if tool not in known:
            errors.append(_err(ErrorKind.EXPECTED_UNKNOWN_TOOL,
                               f"expected names tool {tool!r}, which is not among the tools", f"expected.{tool}"))
    for tool in names:
        if tool not in env.code:
            errors.append(_err(ErrorKind.CODE_MISSING, f"tool {tool!r} has no code", f"code.{tool}"))
    if compile_code:
        for tool, source in env.code.items():
            problem = check_code(tool, source)
            if problem is not None:
                errors.append(problem)
    for t, turn in enumerate(env.solution):
        for c, call in enumerate(turn):
            field = f"solution[{t}][{c}]"
            if call.name not in known:
                errors.append(_err(ErrorKind.SOLUTION, f"solution calls unknown tool {call.name!r}", field))
            if not isinstance(call.arguments, dict):
                errors.append(_err(ErrorKind.SOLUTION, "solution arguments must be a JSON object",
                                   f"{field}.arguments"))
    return errors


def _pydantic_errors(exc: ValidationError) -> list[RecordError]:
    out = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"]) or None
        out.append(RecordError(kind=ErrorKind.SCHEMA, message=e["msg"], field=field))
    return out


def build_environment(data: Any) -> Environment | list[RecordError]:
    """The record's structure only (pydantic): an :class:`Environment`, or every structural problem."""
    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        return _pydantic_errors(exc)
    except RecursionError:  # the id is a hash of the content, which cannot be serialised this deep
        return [RecordError(kind=ErrorKind.SCHEMA, message="the record is nested too deeply to be read")]


def parse_environment(data: Any, *, line: int | None = None, source: str | None = None,
                      compile_code: bool = True) -> Environment:
    """Build and validate an :class:`Environment` from plain data; raise :class:`InvalidRecord` with
    every problem (located by ``line``/``source`` and the record's id when known)."""
    record_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    built = build_environment(data)
    if isinstance(built, Environment):
        errs = validate_environment(built, compile_code=compile_code)
        record_id = built.id
        if not errs:
            return built
    else:
        errs = built
    raise InvalidRecord([e.with_context(line=line, record_id=record_id, source=source) for e in errs])
