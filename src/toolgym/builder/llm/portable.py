"""Model-written tool code made to run under the paper's executor: find what breaks there, and repair it.

The paper's ``call_function`` runs a tool's source with ``exec`` inside a function and then
``eval(name)(**arguments)``: the source's top-level names (tables, helpers, imports) land in that
function's locals, and a tool function, whose globals are the paper's ``utils`` module, does not see
them. Models write module-level tables by habit, so before verification the LLM builder repairs such a
source mechanically: the whole source becomes the body of a factory function, which returns the tool,
and the tool is bound to what it returns. The tool function then reaches the old top-level names
through its closure, under either scoping, and nothing else about the code changes (the functions and
classes it defined at its top level keep their names in error messages). Verification still runs every call under both scopings and rejects any
difference; a source that cannot be wrapped safely (``global`` statements, ``from __future__``, a star
import, tab indentation) is left as it is, for verification to judge and the model to fix.
"""

from __future__ import annotations

import ast
import io
import symtable
import tokenize

from .rename import code_identifiers

#: What the model is told when its code still depends on the scoping (the deploy prompt says it first).
RULE = ("The code is run the way the paper's scripts run it: exec(source) inside a function, then "
        "eval(name)(**arguments). Names defined at the top level of the source (tables, helpers, imports) are "
        "NOT visible inside the tool function there; keep the data, the helpers and the imports inside the "
        "tool function.")


def _scopes(table: symtable.SymbolTable):
    for child in table.get_children():
        yield child
        yield from _scopes(child)


def module_names_used_inside(source: str) -> list[str]:
    """The top-level names of ``source`` that a function, lambda, class or comprehension reads: each is
    missing there under the paper's executor. Empty if the source is self-contained (or does not parse)."""
    try:
        top = symtable.symtable(source, "<tool>", "exec")
    except (SyntaxError, ValueError):
        return []
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    used: list[str] = []
    for scope in _scopes(top):
        for sym in scope.get_symbols():
            name = sym.get_name()
            if sym.is_global() and sym.is_referenced() and name in bound and name not in used:
                used.append(name)
    return used


def _wrappable(source: str, tree: ast.Module) -> bool:
    if any(line[:1] == "\t" or line.lstrip(" ")[:1] == "\t" for line in source.splitlines()):
        return False  # a uniform indent in spaces could change what tabs mean
    for node in ast.walk(tree):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            return False
        if isinstance(node, ast.ImportFrom) and (node.module == "__future__" or any(a.name == "*" for a in node.names)):
            return False
    return True


def _inside_strings(source: str) -> set[int]:
    """Line numbers (1-based) that start inside a string literal: indenting them would change the string."""
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
            lines.update(range(tok.start[0] + 1, tok.end[0] + 1))
    return lines


def repair(source: str, tool: str) -> str | None:
    """``source`` as the body of a factory that returns ``tool``, or ``None`` if it needs no repair or
    cannot be repaired safely (see the module)."""
    if not module_names_used_inside(source):
        return None
    try:
        tree = ast.parse(source)
        keep = _inside_strings(source)
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None
    if not _wrappable(source, tree):
        return None
    taken = code_identifiers(source) | {tool}
    factory = "_tool_scope"
    while {factory, factory + "_item", factory + "_part"} & taken:
        factory += "_"
    body = [line if (i in keep or not line.strip()) else "    " + line
            for i, line in enumerate(source.splitlines(), start=1)]
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    # Error messages show a function's qualified name: give what the source defined at its top level the
    # name it had there (without the factory's "<locals>" prefix).
    item, part = factory + "_item", factory + "_part"
    names = [f"    for {item} in ({', '.join(dict.fromkeys(defined))},):",
             f"        for {part} in ({item}, *(vars({item}).values() if isinstance({item}, type) else ())):",
             "            try:",
             f"                {part}.__qualname__ = {part}.__qualname__.removeprefix({factory + '.<locals>.'!r})",
             "            except (AttributeError, TypeError):",
             "                pass"] if defined else []
    fixed = "\n".join([f"def {factory}():", *body, *names, f"    return {tool}", "", "", f"{tool} = {factory}()", ""])
    try:
        ast.parse(fixed)
    except SyntaxError:
        return None
    return fixed
