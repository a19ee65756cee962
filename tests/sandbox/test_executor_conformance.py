"""The executor conformance suite: the same checks over every executor in ``EXECUTORS``.

In the spirit of inspect_ai's ``self_check`` for sandbox providers: a new executor registers itself and
proves itself by passing this file. What every executor promises (``toolgym.sandbox.Executor``): one typed
result per request, in request order; never an exception for anything a tool or a model's arguments do;
outputs that are valid text, capped, worded as the paper's code words them; and, for self-contained tool
sources, exactly what the paper's ``call_function`` returns -- checked against the oracle of the
reference's own code (``tests/helpers/ftrl_reference.py``), item by item. Isolation is the sandbox's alone
and is tested in ``test_isolation.py`` and ``test_adversarial.py``.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from ftrl_reference import get_feedback

from toolgym.sandbox import (
    EXECUTORS,
    ExecRequest,
    ExecResult,
    Executor,
    SandboxLimits,
    make_executor,
)
from toolgym.schema import ToolCall

LIMITS = SandboxLimits(timeout_s=30.0, grace_s=0.5, output_chars=2000)


@pytest.fixture(scope="module", params=sorted(EXECUTORS))
def executor(request):
    kwargs = {"workers": 2} if request.param == "sandbox" else {}
    ex = make_executor(request.param, limits=LIMITS, **kwargs)
    yield ex
    ex.close()


# Self-contained sources: everything the function needs is defined or imported inside it. Under these,
# toolgym's default scoping and the paper's call_function agree; each is called with the arguments listed.
# (A source that reads its own top-level names, or the reference module's globals such as ``json`` without
# importing them, behaves differently under the two: see the reference-scoping check below.)
SELF_CONTAINED = {
    "as_dict": ("def as_dict(x):\n    return {'x': x, 'ü': 'ß', 'nested': [1, None, True]}", [{"x": 3}, {"x": "ä"}]),
    "as_list": ("def as_list(n):\n    return list(range(n))", [{"n": 3}, {"n": 0}]),
    "as_tuple": ("def as_tuple():\n    return (1, 'a')", [{}]),
    "as_none": ("def as_none():\n    return None", [{}]),
    "as_float": ("def as_float():\n    return 0.1 + 0.2", [{}]),
    "as_str_subclass": ("def as_str_subclass():\n    class S(str):\n        pass\n    return S('sub')", [{}]),
    "as_ordered": ("def as_ordered():\n    from collections import OrderedDict\n    return OrderedDict(a=1)", [{}]),
    "with_data_inside": ("def with_data_inside(k):\n    D = {'a': 1, 'b': [2, 3]}\n    return D[k]", [{"k": "b"}, {"k": "z"}]),
    "with_import_inside": ("def with_import_inside(s):\n    import re\n    return re.sub('a+', '-', s)", [{"s": "caaat"}]),
    "unserialisable": ("def unserialisable():\n    return {'s': {1, 2}}", [{}]),
    "raises": ("def raises(k):\n    raise ValueError(f'no such key: {k}')", [{"k": "q"}]),
    # (arguments that are not an object are left out: the reference's TypeError names the function with its
    # module, ``utils.utils.defaults()``, where the default scoping says ``defaults()``)
    "defaults": ("def defaults(a, b=2, *, c=3):\n    return a + b + c", [{"a": 1}, {"a": 1, "c": 10}, {}, {"a": 1, "d": 0}]),
    "syntax": ("def syntax(:\n    pass", [{}]),
    "defines_other": ("def other():\n    return 1", [{}]),
    "error_text": ("def error_text():\n    return 'Error: the city is unknown'", [{}]),
    "error_words": ("def error_words():\n    return 'an error occured when call error_words: but I returned'", [{}]),
}
CODE = {name: source for name, (source, _) in SELF_CONTAINED.items()}
CALLS = [(name, args) for name, (_, many) in SELF_CONTAINED.items() for args in many] + [("missing_tool", {})]


def _oracle(name: str, arguments) -> str:
    """The tool message the paper's code gives for one call (its get_feedback, which calls call_function)."""
    call = {"id": "c", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return get_feedback([call], CODE)[0]["content"]


def test_it_is_an_executor_named_as_registered(executor):
    assert isinstance(executor, Executor)
    assert EXECUTORS[executor.name].endswith(":" + type(executor).__name__)


def test_self_contained_sources_give_exactly_what_the_papers_call_function_gives(executor):
    results = executor.run([ExecRequest(name, args, CODE) for name, args in CALLS])
    for (name, args), result in zip(CALLS, results, strict=True):
        assert result.output == _oracle(name, args), (name, args)


def test_statuses_are_typed_and_decide_failure_not_the_text(executor):
    results = dict(zip([n for n, _ in CALLS], executor.run([ExecRequest(n, a, CODE) for n, a in CALLS])))
    for name in ("as_dict", "as_none", "error_text", "error_words"):
        assert results[name].status == "ok" and results[name].ok, name
    for name in ("raises", "syntax", "defines_other", "missing_tool", "unserialisable"):
        assert results[name].status == "tool_error" and not results[name].ok, name
    assert results["error_words"].output.startswith("an error occured")  # text a tool returned: still ok


def test_the_shared_tool_call_builds_a_request(executor):
    call = ToolCall(name="as_dict", arguments={"x": 1}, id="call_7")
    assert executor.run([ExecRequest.of(call, CODE)])[0].output == _oracle("as_dict", {"x": 1})
    assert ExecRequest.of(call, CODE, 2.5) == ExecRequest("as_dict", {"x": 1}, CODE, 2.5)


def test_results_keep_request_order_across_many_environments(executor):
    envs = [{"f": f"def f(i):\n    return 'env{k}:' + str(i)"} for k in range(40)]
    requests = [ExecRequest("f", {"i": i}, envs[(i * 7) % 40]) for i in range(600)]
    assert [r.output for r in executor.run(requests)] == [f"env{(i * 7) % 40}:{i}" for i in range(600)]
    assert executor.run([]) == []


def test_what_a_model_can_send_never_raises(executor):
    odd = [ExecRequest("as_none", {"x": {1, 2}}, CODE), ExecRequest("as_none", {"x": float("nan")}, CODE),
           ExecRequest("defaults", [1, 2], CODE), ExecRequest("\ud800", {}, CODE), ExecRequest("", {}, CODE),
           ExecRequest("as_none", {}, {"as_none": None}), ExecRequest("as_dict", {"x": "\ud800"}, CODE)]
    results = executor.run(odd)
    assert len(results) == len(odd) and all(isinstance(r, ExecResult) for r in results)
    assert results[0].status == "tool_error" and "not JSON" in results[0].output if executor.name == "sandbox" \
        else results[0].status in ("ok", "tool_error")
    for r in results:
        r.output.encode("utf-8")  # valid text, whatever came in


def test_outputs_are_valid_text(executor):
    code = {"lone": "def lone():\n    return 'a' + chr(0xD800) + 'b' + chr(0xDFFF)",
            "pair": "def pair():\n    return chr(0xD83D) + chr(0xDE00) + '!'",
            "emoji": "def emoji(n):\n    return chr(0x1F600) * n",
            "in_error": "def in_error():\n    raise ValueError(chr(0xDC80))"}
    lone, pair, emoji, in_error = executor.run([ExecRequest("lone", {}, code), ExecRequest("pair", {}, code),
                                                ExecRequest("emoji", {"n": LIMITS.output_chars}, code),
                                                ExecRequest("in_error", {}, code)])
    assert (lone.status, lone.output) == ("ok", "a\ufffdb\ufffd")
    assert (pair.status, pair.output) == ("ok", "\U0001F600!")
    assert (emoji.status, emoji.output) == ("ok", "\U0001F600" * LIMITS.output_chars)
    assert in_error.status == "tool_error" and in_error.output == "an error occured when call in_error: \ufffd"


def test_outputs_are_capped_with_a_note(executor):
    code = {"big": "def big(n):\n    return 'y' * n"}
    n = LIMITS.output_chars + 500
    (r,) = executor.run([ExecRequest("big", {"n": n}, code)])
    assert r.status == "ok"
    assert r.output == "y" * LIMITS.output_chars + f"\n... [output truncated: {n} characters, limit {LIMITS.output_chars}]"


def test_a_call_that_never_ends_times_out(executor):
    code = {"loop": "def loop():\n    while True:\n        pass", "ok": "def ok():\n    return 'after'"}
    loop, after = executor.run([ExecRequest("loop", {}, code, timeout_s=0.5), ExecRequest("ok", {}, code)])
    assert (loop.status, loop.output) == ("timeout", "an error occured when call loop: the tool timed out after 0.5 seconds")
    assert (after.status, after.output) == ("ok", "after")


def test_limits_that_would_fail_every_call_are_refused():
    for bad in ({"timeout_s": 0}, {"timeout_s": -1}, {"timeout_s": float("nan")}, {"memory_mb": 0}, {"grace_s": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SandboxLimits(**bad)
    with pytest.raises(ValueError, match="timeout_s"):
        ExecRequest("f", {}, {}, timeout_s=-1)


def test_the_reference_scoping_is_the_papers_call_function(executor):
    """Sources that read their own top-level names behave differently under the paper's scoping; the
    reference mode must reproduce it exactly, over every executor."""
    if "scoping" not in {f.name for f in dataclasses.fields(ExecRequest)}:
        pytest.skip("this version has no reference scoping mode")
    code = {"reads_top_level": "S = {'x': 1}\ndef reads_top_level(k):\n    return S[k]",
            "imports_at_top": "import re\ndef imports_at_top(s):\n    return re.escape(s)",
            "uses_json_global": "def uses_json_global(v):\n    return json.dumps({'v': v})", **CODE}
    calls = [("reads_top_level", {"k": "x"}), ("imports_at_top", {"s": "a.b"}), ("uses_json_global", {"v": [1]})] + CALLS
    results = executor.run([ExecRequest(n, a, code, scoping="reference") for n, a in calls])
    for (name, args), result in zip(calls, results, strict=True):
        call = {"id": "c", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        assert result.output == get_feedback([call], code)[0]["content"], (name, args)


def test_close_is_idempotent_and_it_is_a_context_manager():
    for kind in sorted(EXECUTORS):
        with make_executor(kind, limits=LIMITS) as ex:
            assert ex.run([ExecRequest("as_none", {}, CODE)])[0].output == "None"
        ex.close()
