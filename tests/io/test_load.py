"""Fast loading gives exactly what a full check gives: a file toolgym wrote and validated is trusted only while
its manifest's digest is its own; split reading, progress, and the cached schema and code checks agree with
the checks they stand for."""

import ast
import json
import shutil

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from toolgym.builder import BuildConfig, build
from toolgym.io import (
    Rejects,
    gc_paused,
    is_trusted,
    read_environments,
    read_manifest,
    write_environments,
    write_manifest,
)
from toolgym.schema import validate_environment, validate_tool_schema
from toolgym.schema._validate import _check_code, _schema_checks, _valid_shapes


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "envs.jsonl"
    build(BuildConfig(seed=3, test_per_scenario=3), out, 60, workers=1)
    return out


def _untrusted_copy(path, tmp_path):
    copy = tmp_path / "copy.jsonl"
    shutil.copyfile(path, copy)
    return copy


def test_a_build_is_trusted_and_trusting_it_changes_nothing(built, tmp_path):
    assert is_trusted(built)
    copy = _untrusted_copy(built, tmp_path)
    assert not is_trusted(copy)  # no manifest
    rejects = Rejects()
    checked = list(read_environments(copy, on_error=rejects))
    assert rejects.records == 0
    assert list(read_environments(built)) == checked
    # what makes trusting a build sound: every record it writes passes the full check
    assert all(validate_environment(e) == [] for e in checked)


def test_a_stale_or_foreign_manifest_is_not_trusted(built, tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples)
    write_manifest(path, kind="environments")
    assert is_trusted(path)
    with open(path, "a") as f:  # the file changed after its manifest was written
        f.write(samples[0].model_copy(update={"id": "env_other"}).model_dump_json() + "\n")
    assert not is_trusted(path)
    write_manifest(path, kind="trajectories")  # right digest, a kind that is not validated records
    assert not is_trusted(path)
    write_manifest(path, kind="environments", config={"compile_code": False})  # imported without the code check
    assert not is_trusted(path)
    manifest = path.with_name(path.name + ".manifest.json")
    manifest.write_text("{broken")
    assert not is_trusted(path)


def test_an_untrusted_file_is_checked_in_full(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    bad = samples[0].model_dump(mode="json")
    name = samples[0].tool_names[0]
    bad["code"][name] = "def nothing():\n    pass\n"
    bad["id"] = ""
    path.write_text(json.dumps(bad) + "\n")
    write_manifest(path, kind="environments")
    path.write_text(json.dumps(bad) + "\n\n")  # edited afterwards: the manifest is stale
    rejects = Rejects()
    assert list(read_environments(path, on_error=rejects)) == []
    assert rejects.kinds == {"code_missing_function": 1}


@pytest.mark.parametrize("trusted", [True, False])
def test_reading_one_split(built, tmp_path, trusted):
    path = built if trusted else _untrusted_copy(built, tmp_path)
    everything = list(read_environments(path))
    for split in ("test", "train", "nothing", 'we"ird'):
        assert list(read_environments(path, split=split)) == [e for e in everything if e.metadata.split == split]


def test_split_reading_does_not_trust_the_bytes_of_other_fields(tmp_path, samples):
    # a record whose metadata.extra also has a "split" key, or whose question mentions one
    envs = [samples[0].model_copy(update={"metadata": samples[0].metadata.model_copy(update={
                "split": "train", "extra": {"split": "test"}})}),
            samples[1].model_copy(update={"question": '"split":"test"', "metadata": samples[1].metadata.model_copy(
                update={"split": "test"})})]
    path = tmp_path / "envs.jsonl"
    write_environments(path, envs)
    write_manifest(path, kind="environments")
    assert is_trusted(path)
    assert [e.id for e in read_environments(path, split="test")] == [envs[1].id]


def test_progress_reaches_the_end(built):
    calls = []
    n = sum(1 for _ in read_environments(built, progress=lambda done, total: calls.append((done, total))))
    size = built.stat().st_size
    assert n == 60 and calls[-1] == (size, size)
    assert all(0 < d <= t == size for d, t in calls) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_gc_is_paused_only_inside(built):
    import gc

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        assert len(list(read_environments(built))) == 60
    assert gc.isenabled()


def test_the_manifest_of_an_import_records_a_skipped_code_check(tmp_path, samples):
    from toolgym.formats import env_to_ftrl, import_file

    src = tmp_path / "ref.jsonl"
    src.write_text("".join(json.dumps(env_to_ftrl(e)) + "\n" for e in samples))
    import_file("ftrl", src, tmp_path / "a.jsonl")
    import_file("ftrl", src, tmp_path / "b.jsonl", compile_code=False)
    assert is_trusted(tmp_path / "a.jsonl") and not is_trusted(tmp_path / "b.jsonl")
    assert "compile_code" not in read_manifest(tmp_path / "a.jsonl")["config"]


# ---- the code check compiles from source: the same verdicts and messages as parse-then-compile ---------------

def _old_check(name, source):
    """The check as it was: an AST of Python objects, then compile, then the top-level names."""
    from toolgym.schema._validate import _defined_names

    try:
        tree = ast.parse(source, filename="<string>", mode="exec")
        compile(tree, "<string>", "exec")
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        return "code_compile", f"code does not compile: {msg}" + (f" (line {line})" if line else "")
    return (None, None) if name in _defined_names(tree) else ("code_missing_function", None)


SOURCES = [
    "def f():\n    return 1\n", "async def f():\n    pass\n", "class f:\n    pass\n", "f = lambda: 1\n",
    "import os as f\n", "from os import path as f\n", "f: int\n", "f: int = 1\n", "f += 1\n",
    "if True:\n    def f():\n        pass\n", "for f in []:\n    pass\n", "a, f = 1, 2\n", "@dec\ndef f():\n    pass\n",
    "s = '''\ndef f(\n'''\nif 1:\n    def f(): pass\n", "def g():\n    def f(): pass\n", "def f (x):\n    pass\n",
    "def f():\n  return (\n", "def f():\nreturn 1\n", "return 1\n", "def f():\n    nonlocal x\n", "x = 1 +\n",
    "def f(x, x):\n    pass\n", "def f():\n    yield = 1\n", "\x00", "def f():\n\tpass\n", "class f(object): pass\n",
    "def f[T](x): pass\n", "def f(): pass\r\nx = 1\r\n", "def f(): pass\rx = 1\r", "\ufeffdef f(): pass\n",
    "def f():\n    '''doc'''\n    print('a' 'b')\n", "def f(): return '\\d'\n", "def fx(): pass\n", "def f_(): pass\n",
    "def f():\n    x = " + "9" * 5000 + "\n", "def f(): pass\ndef f(): return 2\n",
]


@pytest.mark.parametrize("source", SOURCES)
def test_code_check_agrees_with_parse_then_compile(source):
    problem = _check_code("f", source)
    kind, message = _old_check("f", source)
    assert (str(problem.kind) if problem else None) == kind
    if message is not None:
        assert problem.message == message


# ---- the schema check once per shape agrees with checking every schema -----------------------------------

keywords = st.sampled_from(["type", "description", "title", "enum", "default", "const", "examples", "properties",
                            "items", "required", "minItems", "dependentRequired", "$comment", "format", "pattern",
                            "additionalProperties", "anyOf", "$defs"])
leaves = st.one_of(st.sampled_from(["string", "object", "integer", "strin", "[", "a", ""]), st.integers(-2, 3),
                   st.booleans(), st.none(), st.lists(st.sampled_from(["a", "b", 1]), max_size=3))
schemas = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(keywords, inner, max_size=4)), max_leaves=10)


def _direct(params):
    try:
        Draft202012Validator.check_schema(params)
    except SchemaError as exc:
        return exc.message
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.dictionaries(keywords, schemas, max_size=4), min_size=1, max_size=6))
@example([{"dependentRequired": {"enum": ["a", "b"]}}, {"dependentRequired": {"enum": ["a", "a"]}}])
@example([{"dependentRequired": {"description": ["a"]}}, {"dependentRequired": {"description": "a"}}])
@example([{"properties": {"default": {"type": "string"}}}, {"properties": {"default": {"type": 5}}}])
def test_schema_check_by_shape_agrees_with_checking_each(params_list):
    _schema_checks.clear()
    _valid_shapes.clear()
    for params in params_list + params_list[::-1]:
        params = {**params, "type": "object"}
        tool = {"type": "function", "function": {"name": "f", "parameters": params}}
        errors = validate_tool_schema(tool)
        problems = [e for e in errors if "not a valid JSON schema" in e.message]
        if len(problems) != len(errors):  # an earlier check failed, so the metaschema is not consulted
            continue
        direct = _direct(params)
        assert (problems[0].message if problems else None) == (f"not a valid JSON schema: {direct}" if direct else None)


def _vary(value, how):
    """The same shape with other text, defaults and enum values (what the shared check keys on)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("description", "title", "$comment") and isinstance(v, str):
                out[k] = how.draw(st.sampled_from(["", "other text", "x" * 50]))
            elif k in ("default", "const"):
                out[k] = how.draw(leaves)
            elif k in ("enum", "examples") and isinstance(v, list):
                out[k] = how.draw(st.lists(st.sampled_from(["a", "b", "c", 1, None]), max_size=4))
            else:
                out[k] = _vary(v, how)
        return out
    if isinstance(value, list):
        return [_vary(v, how) for v in value]
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(keywords, schemas, max_size=5), st.data())
def test_schemas_of_one_shape_get_their_own_verdicts(params, data):
    params = {**params, "type": "object"}
    variant = _vary(params, data)
    for order in ((params, variant), (variant, params)):
        _schema_checks.clear()
        _valid_shapes.clear()
        for p in order:
            errors = validate_tool_schema({"type": "function", "function": {"name": "f", "parameters": p}})
            problems = [e.message for e in errors if "not a valid JSON schema" in e.message]
            if len(problems) == len(errors):
                direct = _direct(p)
                assert problems == ([f"not a valid JSON schema: {direct}"] if direct else [])


def test_split_reading_of_a_trusted_file_reports_true_line_numbers(tmp_path, samples):
    def split(env, name):
        return env.model_copy(update={"metadata": env.metadata.model_copy(update={"split": name})})

    test = split(samples[2], "test")
    lines = [split(samples[0], "train"), split(samples[1], "train"), test, split(samples[3], "train"), test]
    path = tmp_path / "envs.jsonl"
    path.write_text("\n".join(e.model_dump_json() for e in lines[:3]) + "\n\n" +
                    "\n".join(e.model_dump_json() for e in lines[3:]))  # a blank line, no final newline
    write_manifest(path, kind="environments")
    assert is_trusted(path)
    rejects = Rejects()
    assert [e.id for e in read_environments(path, split="test", on_error=rejects)] == [test.id]
    (dup,) = rejects.errors
    assert dup.line == 6 and "identical copy of the record on line 3" in dup.message
