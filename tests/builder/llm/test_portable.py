"""The repair of model-written code that reads its top-level names: after it, the paper's executor (the
oracle of its call_function) gives what the sandbox gave for the original, call for call."""

import pytest
from ftrl_fidelity import reference_output

from toolgym.builder.llm.portable import module_names_used_inside, repair
from toolgym.sandbox import ExecRequest, UnsafeInProcessExecutor
from toolgym.schema import ToolCall

TABLE = "ROWS = {'a': 1, 'b': 2}\n"
# (source, argument sets): sources that need the repair
NEEDS = [
    (TABLE + "def f(k=None, **extra):\n    return {'k': k, 'v': ROWS[k]} if k in ROWS else 'Error: unknown ' + repr(k)",
     [{"k": "a"}, {"k": "zz"}, {"k": "a", "x": 1}]),
    ("import re\ndef f(k):\n    return re.sub('[^a-z]', '', k)", [{"k": "a.b"}, {}]),
    (TABLE + "def _get(k):\n    return ROWS.get(k)\n\n\ndef f(k):\n    return _get(k)", [{"k": "b"}, {"j": 1}]),
    (("PREFIX = 'twice: '\ndef deco(fn):\n    def wrapped(**kw):\n        return PREFIX + str(fn(**kw))\n"
      "    return wrapped\n\n\n@deco\ndef f(k):\n    return k * 2"), [{"k": 3}]),
    (TABLE + "class Table:\n    def get(self, k):\n        return ROWS[k]\n\n\ndef f(k):\n    return Table().get(k)",
     [{"k": "a"}, {"k": "q"}]),
    ("def f(n):\n    return 0 if n <= 0 else 1 + f(n - 1)", [{"n": 4}]),
    (TABLE + "f = lambda k: ROWS.get(k, 'none')", [{"k": "b"}, {"k": "c"}]),
    (('"""Docstring\nof the module."""\nHELP = """Error: give k,\n  one of a, b."""\n'
      "def f(k=None):\n    return HELP if k is None else k"), [{}, {"k": "a"}]),
    (TABLE + "def f(k):\n    return [ROWS[x] for x in sorted(ROWS) if x >= k]", [{"k": "b"}]),
]
# sources left as they are
LEAVE = [
    "def f(k):\n    rows = {'a': 1}\n    return rows[k]",  # self-contained already
    "def deco(fn):\n    def w(**kw):\n        return fn(**kw)\n    return w\n@deco\ndef f(k):\n    return k",  # too
    "global ROWS\nROWS = {'a': 1}\ndef f(k):\n    return ROWS[k]",  # a global statement
    "ROWS = {'a': 1}\ndef f(k):\n\treturn ROWS[k]",  # tabs
    "from __future__ import annotations\nROWS = {'a': 1}\ndef f(k: str):\n    return ROWS[k]",
    "from math import *\nROWS = {'a': 1}\ndef f(k):\n    return ROWS[k]",
    "ROWS = {'a': 1}\ndef f(k:\n    return ROWS[k]",  # does not parse
]


@pytest.fixture(scope="module")
def sandbox():
    with UnsafeInProcessExecutor() as ex:
        yield ex


@pytest.mark.parametrize("source,calls", NEEDS)
def test_repaired_code_runs_under_the_papers_executor_as_the_original_ran_in_the_sandbox(sandbox, source, calls):
    assert module_names_used_inside(source)
    fixed = repair(source, "f")
    assert fixed is not None and not module_names_used_inside(fixed)
    before = sandbox.run([ExecRequest("f", a, {"f": source}) for a in calls])
    after = sandbox.run([ExecRequest("f", a, {"f": fixed}) for a in calls])
    for args, b, a in zip(calls, before, after):
        assert a.output == b.output == reference_output(ToolCall(name="f", arguments=args), {"f": fixed}), args
    assert reference_output(ToolCall(name="f", arguments=calls[0]), {"f": source}) != before[0].output


@pytest.mark.parametrize("source", LEAVE)
def test_code_that_needs_no_repair_or_cannot_take_one_is_left_alone(source):
    assert repair(source, "f") is None


@pytest.mark.parametrize("source", [
    TABLE + "def f(k):\n    return ROWS[k]",
    TABLE + "def deco(fn):\n    def wrapped(k):\n        return fn(k)\n    return wrapped\n@deco\ndef f(k):\n"
            "    return ROWS[k]",
    TABLE + "class f:\n    def __init__(self, k):\n        self.k = ROWS[k]\n    def __str__(self):\n        return str(self.k)",
])
def test_the_repair_keeps_the_names_errors_are_shown_with(sandbox, source):
    fixed = repair(source, "f")
    for args in ({"x": 1}, {"k": "a"}):
        before = sandbox.run([ExecRequest("f", args, {"f": source})])[0].output
        assert reference_output(ToolCall(name="f", arguments=args), {"f": fixed}) == before


def test_the_factory_name_does_not_collide_with_the_code():
    fixed = repair("_tool_scope = 1\n" + TABLE + "def f(k):\n    return ROWS[k] + _tool_scope", "f")
    assert fixed.startswith("def _tool_scope_():\n")
