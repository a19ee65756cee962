"""Validation of environment records, with every problem reported as a typed :class:`RecordError`.

Checks (none executes tool code; running the solution is ``toolgym.verify``'s job):

* structure and types (pydantic);
* every tool is a valid OpenAI function schema, names are unique;
* ``expected`` names only existing tools;
* every tool has code, the code compiles, and it defines the function the tool is named after;
* the gold solution calls only existing tools, with object arguments.
"""

from __future__ import annotations

import ast
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
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(params)
        except SchemaError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(_err(ErrorKind.TOOL_SCHEMA, f"not a valid JSON schema: {exc.message}",
                               f"{where}.parameters" + (f".{path}" if path else "")))
    return errors


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


def check_code(name: str, source: str) -> RecordError | None:
    """Problem with one tool's code, or ``None``: it must compile and define ``name`` at top level."""
    field = f"code.{name}"
    try:
        tree = ast.parse(source, filename="<string>", mode="exec")
        compile(tree, "<string>", "exec")
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in source
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        return _err(ErrorKind.CODE_COMPILE,
                    f"code does not compile: {msg}" + (f" (line {line})" if line else ""), field)
    if name not in _defined_names(tree):
        return _err(ErrorKind.CODE_MISSING_FUNCTION, f"code does not define a function named {name!r}", field)
    return None


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


def parse_environment(data: Any, *, line: int | None = None, source: str | None = None,
                      compile_code: bool = True) -> Environment:
    """Build and validate an :class:`Environment` from plain data; raise :class:`InvalidRecord` with
    every problem (located by ``line``/``source`` and the record's id when known)."""
    record_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    try:
        env = Environment.model_validate(data)
    except ValidationError as exc:
        errs = _pydantic_errors(exc)
    else:
        errs = validate_environment(env, compile_code=compile_code)
        record_id = env.id
        if not errs:
            return env
    raise InvalidRecord([e.with_context(line=line, record_id=record_id, source=source) for e in errs])
