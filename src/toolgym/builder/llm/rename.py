"""Mechanical, checked rewriting of tool code: renaming tools and rewording error messages.

The hybrid builder renames tools and rewords their error messages, and the code must follow exactly.
:func:`rewrite_source` works on the token stream, so the rest of the source stays byte for byte:

* a NAME token that is an old tool name becomes the new name (definitions, assignments, uses);
* in a plain string literal that is one of the reworded messages, the new wording replaces it; in any
  other string literal (f-strings included) an old tool name written as a whole word is renamed
  (``S = {'name': 'get_x'}``, ``__name__ = 'get_x'``, ``f"Error: get_x does not take ..."``).

Then it checks the result against the syntax tree: the new source, with every string blanked, must
equal the old one with the renaming applied to names and definitions only. A tool name that the code
also uses as an attribute, a parameter or a keyword argument would be renamed there too by the token
pass; the check catches it and the rewrite is refused (:class:`RenameError`), never half-applied.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import re
import tokenize
from functools import lru_cache

from ...sandbox import REFERENCE_LOCALS

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_BUILTINS = frozenset(dir(builtins))


class RenameError(ValueError):
    """The code cannot be rewritten mechanically and safely."""


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise RenameError(f"the code cannot be tokenized: {exc}") from None


@lru_cache(maxsize=1024)
def _scan(source: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """(every NAME, the error literals) of a source, from one pass of the tokenizer (it is slow, and the
    hybrid builder asks about each source several times)."""
    names: set[str] = set()
    messages: list[str] = []
    for t in _tokens(source):
        if t.type == tokenize.NAME:
            names.add(t.string)
        elif t.type == tokenize.STRING:
            value = _plain_value(t.string)
            if value is not None and value.startswith("Error") and value not in messages:
                messages.append(value)
    return frozenset(names), tuple(messages)


def code_identifiers(source: str) -> set[str]:
    """Every NAME in the code (identifiers, attributes, keywords): what a new tool name must not be."""
    return set(_scan(source)[0])


def _plain_value(token: str) -> str | None:
    prefix = re.match(r"[A-Za-z]*", token).group(0).lower()
    if "f" in prefix or "b" in prefix:
        return None
    if not prefix and "\\" not in token:  # the common case, without a parse
        quote = 3 if token[:3] in ('"""', "'''") else 1
        return token[quote:-quote]
    value = ast.literal_eval(token)
    return value if isinstance(value, str) else None


def error_literals(source: str) -> list[str]:
    """The plain string literals that are error messages (or their first fragment), in order."""
    return list(_scan(source)[1])


def name_problem(renames: dict[str, str], sources: list[str], keep: set[str]) -> str | None:
    """Why a renaming is not safe, or ``None``. ``keep``: tool names that stay as they are."""
    taken = (set().union(*map(code_identifiers, sources)) - set(renames)) | keep
    seen: set[str] = set()
    for old, new in renames.items():
        if not IDENTIFIER.match(new) or keyword.iskeyword(new) or keyword.issoftkeyword(new):
            return f"{new!r} (for {old}) is not a valid Python identifier of at most 64 characters"
        if new in _BUILTINS:
            return f"{new!r} (for {old}) is a Python built-in; the code may use it"
        if new in REFERENCE_LOCALS:
            return f"{new!r} (for {old}) is a local name of the paper's executor, which could not call the tool"
        if new in taken:
            return f"{new!r} (for {old}) is already used in the tools' code or by another tool"
        if new in seen:
            return f"{new!r} is given to two tools"
        seen.add(new)
    return None


def _words(renames: dict[str, str]) -> re.Pattern | None:
    if not renames:
        return None
    names = sorted(renames, key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_])")


def rename_words(text: str, renames: dict[str, str]) -> str:
    """``text`` with every old tool name written as a whole word replaced by its new name."""
    words = _words(renames)
    return words.sub(lambda m: renames[m.group(1)], text) if words else text


def _new_string(token: str, words: re.Pattern | None, renames: dict[str, str], messages: dict[str, str]) -> str:
    value = _plain_value(token)
    if value is None:  # f-string (its expressions hold names too) or bytes: whole words in the raw text
        is_f = "f" in re.match(r"[A-Za-z]*", token).group(0).lower()
        return words.sub(lambda m: renames[m.group(1)], token) if words and is_f else token
    new = messages[value] if value in messages else (words.sub(lambda m: renames[m.group(1)], value) if words
                                                     else value)
    return token if new == value else _literal(new, token)


def _literal(value: str, like: str) -> str:
    """``value`` as a string literal, in the quotes of ``like`` where that needs no escaping."""
    text = repr(value)
    if like.lstrip("rRuU").startswith('"') and text.startswith("'") and '"' not in value and "'" not in value:
        text = '"' + text[1:-1] + '"'
    return text


def _offsets(source: str) -> list[int]:
    starts, total = [0], 0
    for line in source.splitlines(keepends=True):
        total += len(line)
        starts.append(total)
    return starts


class _Shape(ast.NodeTransformer):
    """Blank every string; rename names and definitions (only) by ``renames``."""

    def __init__(self, renames: dict[str, str]):
        self.renames = renames

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, str):
            node.value = ""
        return node

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.renames.get(node.id, node.id)
        return node

    def _definition(self, node):
        node.name = self.renames.get(node.name, node.name)
        return self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition

    def visit_Global(self, node):
        node.names = [self.renames.get(n, n) for n in node.names]
        return node

    visit_Nonlocal = visit_Global


def _same_shape(old: str, new: str, renames: dict[str, str], edited: set[int]) -> bool:
    """Is ``new`` the same program as ``old`` with the renaming applied to names and definitions, up to
    strings? Only the top-level statements on ``edited`` lines (of ``old``) can differ."""
    a, b = ast.parse(old), ast.parse(new)
    if len(a.body) != len(b.body):
        return False
    for x, y in zip(a.body, b.body):
        first = min([x.lineno] + [d.lineno for d in getattr(x, "decorator_list", [])])
        if any(first <= line <= x.end_lineno for line in edited) and \
                ast.dump(_Shape(renames).visit(x)) != ast.dump(_Shape({}).visit(y)):
            return False
    return True


def rewrite_source(source: str, renames: dict[str, str], messages: dict[str, str] | None = None) -> str:
    """``source`` with tools renamed and error messages reworded (see the module), or :class:`RenameError`."""
    messages = messages or {}
    words = _words(renames)
    starts = _offsets(source)
    edits: list[tuple[int, int, str]] = []
    edited: set[int] = set()
    for t in _tokens(source):
        new = t.string
        if t.type == tokenize.NAME and t.string in renames:
            new = renames[t.string]
        elif t.type == tokenize.STRING:
            new = _new_string(t.string, words, renames, messages)
        if new != t.string:
            edits.append((starts[t.start[0] - 1] + t.start[1], starts[t.end[0] - 1] + t.end[1], new))
            edited.update(range(t.start[0], t.end[0] + 1))
    out = source
    for a, b, new in reversed(edits):
        out = out[:a] + new + out[b:]
    try:
        same = _same_shape(source, out, renames, edited)
    except SyntaxError as exc:
        raise RenameError(f"the rewritten code does not parse: {exc}") from None
    if not same:
        used = sorted(n for n in renames if n in code_identifiers(source))
        raise RenameError(f"the code uses {', '.join(used)} as something other than the tool (an attribute, a "
                          "parameter or a keyword argument); renaming it there is not safe")
    return out
