"""The reference scoping runs a tool exactly as the paper's ``call_function`` does: item by item against the
oracle (``tests/helpers/ftrl_utils.py``, the reference's own statements over its own scoping), through both
executors; the compare scoping flags exactly the calls whose outputs differ between the two scopings."""

import json

import ftrl_utils
import pytest
from ftrl_reference import get_feedback

from toolgym.sandbox import ExecRequest, UnsafeInProcessExecutor

# (tool name, source, arguments): odd sources, each deciding a point of the reference's scoping.
CASES = [
    # module-level names and imports of the source
    ("f", "S = {'x': 1}\ndef f(k):\n    return S[k]", {"k": "x"}),
    ("f", "def f(k):\n    S = {'x': 1}\n    return S[k]", {"k": "x"}),
    ("f", "import re\ndef f(k):\n    return re.escape(k)", {"k": "a.b"}),
    ("f", "def f(k):\n    import re\n    return re.escape(k)", {"k": "a.b"}),
    ("f", "from math import sqrt\ndef f(k):\n    return sqrt(k)", {"k": 4}),
    ("f", "import math\nf = math.sqrt", {"x": 4}),
    ("f", "def _h(v):\n    return v * 2\ndef f(k):\n    return _h(k)", {"k": 3}),
    ("f", "def f(k):\n    def _h(v):\n        return v * 2\n    return _h(k)", {"k": 3}),
    ("f", "K = 2\nX = [1, 2]\nY = [x * K for x in X]\ndef f():\n    return 1", {}),  # a comprehension is a scope
    ("f", "X = [1, 2]\nY = [x * 2 for x in X]\nf = lambda: 1", {}),
    ("f", "def _make(t):\n    def f(k):\n        return t[k]\n    return f\nf = _make({'x': 'y'})", {"k": "x"}),
    # the globals of the utils module
    ("f", "def f(k):\n    return json.dumps({'k': k})", {"k": "é"}),
    ("f", "def f(k):\n    return sha256(k.encode()).hexdigest()[:8]", {"k": "x"}),
    ("f", "def f(k):\n    return deepcopy([k])", {"k": "x"}),
    ("f", "def f(k):\n    sleep(0)\n    return k", {"k": "x"}),
    ("f", "def f(k):\n    return FunctionTimedOut.__name__", {"k": "x"}),
    ("json", "def f():\n    return 1", {}),
    ("deepcopy", "def deepcopy(x=1):\n    return 'mine'", {}),
    ("f", "json = 5\ndef f():\n    return json.dumps([1])", {}),
    # names that collide with call_function's locals
    ("name", "def name():\n    return 1", {}),
    ("code", "def code():\n    return 1", {}),
    ("arguments", "def arguments():\n    return 1", {}),
    ("kwargs", "def kwargs():\n    return 1", {}),
    ("predict", "def predict():\n    return 1", {}),
    ("f", "def f(k):\n    return 1\nx = name + ':' + code[:3] + ':' + str(sorted(arguments))", {"k": 1}),
    ("f", "name = 'g'\ndef f():\n    return 'f'\ndef g():\n    return 'g'", {}),
    ("f", "code = 'g'\ndef f():\n    return code", {}),
    ("f", "arguments['k'] = 'changed'\ndef f(k):\n    return k", {"k": "x"}),
    ("f", "arguments = {'k': 'rebound'}\ndef f(k):\n    return k", {"k": "x"}),
    ("f", "kwargs['extra'] = 1\ndef f(k, extra=0):\n    return [k, extra]", {"k": "x"}),
    ("f", "predict = 5\ndef f():\n    return 1", {}),
    ("f", "del name\ndef f():\n    return 1", {}),
    # classes
    ("f", "class A:\n    def get(self, k):\n        return {'x': 1}[k]\ndef f(k):\n    return A().get(k)", {"k": "x"}),
    ("f", "class A:\n    def get(self, k):\n        return k * 2\nf = A().get", {"k": 3}),
    ("f", "K = 1\nclass A:\n    v = K\ndef f():\n    return 1", {}),
    ("f", "class A:\n    T = {'x': 1}\n    def get(self, k):\n        return self.T[k]\nf = A().get", {"k": "x"}),
    ("f", "class f:\n    def __init__(self, k):\n        self.k = k\n    def __str__(self):\n        return 'f' + self.k",
     {"k": "x"}),
    ("f", "class E(Exception):\n    pass\ndef f():\n    raise E('boom')", {}),
    # global statements
    ("f", "global G_SCOPING_1\nG_SCOPING_1 = {'x': 5}\ndef f(k):\n    return G_SCOPING_1[k]", {"k": "x"}),
    ("f", "def f(k):\n    global G_SCOPING_2\n    G_SCOPING_2 = k\n    return G_SCOPING_2", {"k": "x"}),
    ("f", "G_SCOPING_3 = 1\ndef f():\n    global G_SCOPING_3\n    return G_SCOPING_3", {}),
    # decorators, lambdas, recursion
    ("f", "def deco(fn):\n    return fn\n@deco\ndef f(k):\n    return k", {"k": "x"}),
    ("f", "def deco(fn):\n    def w(**kw):\n        return fn(**kw)\n    return w\n@deco\ndef f(k):\n    return k",
     {"k": "x"}),
    ("f", ("import functools\ndef deco(fn):\n    @functools.wraps(fn)\n    def w(*a, **kw):\n"
           "        return fn(*a, **kw)\n    return w\n@deco\ndef f(k):\n    return k"), {"k": "x"}),
    ("f", "S = {'x': 1}\nf = lambda k: S[k]", {"k": "x"}),
    ("f", "f = lambda k: k * 2", {"k": 2}),
    ("f", "def f(n):\n    return 0 if n <= 0 else 1 + f(n - 1)", {"n": 3}),
    ("f", "def f(n):\n    def r(m):\n        return 0 if m <= 0 else 1 + r(m - 1)\n    return r(n)", {"n": 3}),
    # results, errors, odd sources
    ("f", "def f():\n    return {'ü': [1, 2.5, None]}", {}),
    ("f", "def f():\n    return (1, 'a')", {}),
    ("f", "def f():\n    return None", {}),
    ("f", "def f(a, b=2):\n    return a + b", {"a": 1}),
    ("f", "def f(a):\n    return a", {"b": 1}),
    ("f", "def f():\n    return {'k': 1}['x']", {}),
    ("f", "def f(:\n    pass", {}),
    ("f", "def g():\n    return 1", {}),
    ("f", "'''A docstring.'''\ndef f():\n    return 1", {}),
    ("f", "def f():\n    return 1\nraise ValueError('at import')", {}),
    ("f", "x = 1\nif x:\n    def f():\n        return 'a'\nelse:\n    def f():\n        return 'b'", {}),
    ("f", "try:\n    import not_a_module_anywhere\nexcept ImportError:\n    pass\ndef f():\n    return 1", {}),
    ("f", "def f():\n    return eval('1 + 1')", {}),
    ("f", "def f():\n    return sorted(k for k in locals())", {}),
]


@pytest.fixture(autouse=True)
def _restore_the_oracles_globals():
    """A ``global`` statement run by the oracle writes into its utils module for good, as in the paper's
    process; later tests must not see what these cases left there."""
    saved = dict(vars(ftrl_utils))
    yield
    vars(ftrl_utils).clear()
    vars(ftrl_utils).update(saved)


def _oracle(name: str, source: str, arguments) -> str:
    call = {"id": "c", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return get_feedback([call], {name: source})[0]["content"]


@pytest.fixture(scope="module")
def inprocess():
    with UnsafeInProcessExecutor() as ex:
        yield ex


@pytest.mark.parametrize("executor", ["pool", "inprocess"])
def test_reference_scoping_matches_the_papers_call_function_item_by_item(executor, pool, inprocess):
    ex = pool if executor == "pool" else inprocess
    expected = [_oracle(*case) for case in CASES]
    got = ex.run([ExecRequest(n, a, {n: s}, scoping="reference") for n, s, a in CASES])
    for case, want, r in zip(CASES, expected, got):
        assert r.output == want, case
        assert r.ok == (not want.startswith("an error occured when call ")), case


@pytest.mark.parametrize("executor", ["pool", "inprocess"])
def test_compare_flags_exactly_the_calls_whose_scopings_disagree(executor, pool, inprocess):
    ex = pool if executor == "pool" else inprocess
    module = ex.run([ExecRequest(n, a, {n: s}) for n, s, a in CASES])
    reference = ex.run([ExecRequest(n, a, {n: s}, scoping="reference") for n, s, a in CASES])
    compared = ex.run([ExecRequest(n, a, {n: s}, scoping="compare") for n, s, a in CASES])
    differ = 0
    for case, m, r, c in zip(CASES, module, reference, compared):
        assert c.output == m.output, case  # what the model would see in the sandbox
        if m.output == r.output and m.status == r.status:
            assert c.status == m.status, case
        else:
            differ += 1
            assert c.status == "scoping", case
    assert 20 < differ < len(CASES) - 15  # the cases decide both ways


def test_each_reference_call_starts_from_the_utils_globals(inprocess):
    """A top-level ``global`` writes into the utils module's globals; each call gets a fresh copy of them,
    so no call sees what another left there (the reference's process would keep it)."""
    writer = ("f", "global LEFT_BEHIND\nLEFT_BEHIND = 1\ndef f():\n    return 1", {})
    reader = ("g", "def g():\n    return LEFT_BEHIND", {})
    out = inprocess.run([ExecRequest(n, a, {n: s}, scoping="reference") for n, s, a in (writer, reader)])
    assert [r.output for r in out] == ["1", "an error occured when call g: name 'LEFT_BEHIND' is not defined"]


def test_module_name_is_the_references(inprocess):
    src = "def f():\n    return __name__\ndef g():\n    class A:\n        pass\n    return A.__module__"
    out = inprocess.run([ExecRequest(n, {}, {n: src}, scoping="reference") for n in ("f", "g")])
    assert [r.output for r in out] == ["utils.utils", "utils.utils"]


def test_an_unknown_scoping_is_refused():
    with pytest.raises(ValueError, match="unknown scoping 'paper'"):
        ExecRequest("f", {}, {"f": "def f():\n    return 1"}, scoping="paper")
