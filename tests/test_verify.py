from toolgym.schema import Environment
from toolgym.verify import perturb, verify_environment, verify_environments


def _env(code, expected=None, answer="Paris", solution=None, **over):
    return Environment(
        scenario="single_hop", question="Capital of France?",
        tools=[{"type": "function", "function": {"name": "cap", "parameters": {
            "type": "object", "properties": {"country": {"type": "string"}}, "required": ["country"]}}}],
        code={"cap": code}, expected=expected or {"cap": ["Paris"]}, answer=answer,
        solution=solution if solution is not None else [[{"name": "cap", "arguments": {"country": "France"}}]],
        **over)


GOOD = "def cap(country):\n    if country == 'France':\n        return {'capital': 'Paris'}\n    return f'Error: unknown country {country!r}'"


def test_samples_pass(pool, samples):
    results = verify_environments(samples, pool)
    assert [r.status for r in results] == ["pass"] * len(samples)
    assert all({c.name for c in r.checks} == {"calls", "solves", "answer", "deterministic", "scoping",
                                                                     "perturbed"} for r in results)


def test_good_environment_passes(pool):
    assert verify_environment(_env(GOOD), pool).status == "pass"


def test_wrong_expected_answer_fails(pool):
    r = verify_environment(_env(GOOD, expected={"cap": ["Lyon"]}, answer="Lyon"), pool)
    assert r.status == "fail"
    failed = {c.name for c in r.checks if not c.ok}
    assert failed == {"solves", "answer"}
    assert "Lyon" in r.reason


def test_a_tool_that_always_answers_fails_the_perturbation_check(pool):
    leaky = "def cap(country):\n    return 'The capital is Paris'"
    r = verify_environment(_env(leaky), pool)
    assert r.status == "fail" and [c.name for c in r.checks if not c.ok] == ["perturbed"]


def test_a_tool_that_answers_without_arguments_fails(pool):
    lenient = "def cap(country='France'):\n    return 'Paris' if country in ('France', None, '') or country.startswith('France') else 'no'"
    r = verify_environment(_env(lenient), pool)
    assert r.status == "fail" and "no arguments" in r.reason


def test_non_deterministic_tool_fails(pool):
    flaky = "import random\ndef cap(country):\n    return f'Paris #{random.random()}' if country == 'France' else 'no'"
    r = verify_environment(_env(flaky), pool)
    assert r.status == "fail" and [c.name for c in r.checks if not c.ok] == ["deterministic"]


def test_crashing_solution_fails_with_the_tool_message(pool):
    r = verify_environment(_env("def cap(country):\n    raise ValueError('boom')"), pool)
    assert r.status == "fail" and "boom" in r.reason


def test_answer_must_follow_from_the_outputs(pool):
    r = verify_environment(_env(GOOD, answer="Paris, 2.1 million"), pool)
    assert [c.name for c in r.checks if not c.ok] == ["answer"]


def test_missing_solution_is_skipped_and_nothing_expected_fails(pool):
    assert verify_environment(_env(GOOD, solution=[]), pool).status == "skip"
    r = verify_environment(_env(GOOD, expected={"cap": []}), pool)
    assert r.status == "fail" and "nothing is expected" in r.reason


def test_perturb_keeps_types_and_never_contains_the_original():
    value = {"s": "France", "n": 3, "f": 1.5, "b": True, "l": ["a"], "e": [], "d": {"k": "v"}, "z": None}
    p = perturb(value)
    assert isinstance(p["s"], str) and "France" not in p["s"] and p["n"] != 3 and isinstance(p["n"], int)
    assert p["b"] is False and p["l"][0] != "a" and p["e"] == ["unknown"] and p["d"]["k"] != "v"
    assert perturb(value) == p  # deterministic


def test_results_serialise(pool):
    d = verify_environment(_env(GOOD), pool).to_dict()
    assert d["status"] == "pass" and d["checks"][0] == {"name": "calls", "ok": True, "detail": ""}


def test_samples_pass_the_reward_hacking_probes(pool, samples):
    results = verify_environments(samples, pool, probes=True)
    assert [r.status for r in results] == ["pass"] * len(samples)


def test_a_tool_that_lists_everything_for_a_wildcard_is_caught_by_the_probes(pool):
    lister = ("def cap(country):\n    D = {'France': 'Paris', 'Spain': 'Madrid'}\n    if country in D:\n        return {'capital': D[country]}\n"
              "    if country in ('*', 'all'):\n        return D\n"
              "    return 'Error: unknown country'")
    env = _env(lister)
    assert verify_environment(env, pool).status == "pass"  # the classic checks do not see it
    r = verify_environment(env, pool, probes=True)
    assert r.status == "fail" and [c.name for c in r.checks if not c.ok] == ["probes"]


MODULE_LEVEL = ("T = {'France': 'Paris'}\n"
                "def cap(country):\n    if country in T:\n        return {'capital': T[country]}\n"
                "    return f'Error: unknown country {country!r}'")


def test_a_tool_that_needs_its_module_level_names_fails_the_scoping_check(pool):
    r = verify_environment(_env(MODULE_LEVEL), pool, probes=True)
    assert r.status == "fail" and [c.name for c in r.checks if not c.ok] == ["scoping"]
    assert "under the paper's call_function scoping" in r.reason and "name 'T' is not defined" in r.reason


def test_a_scoping_difference_only_on_wrong_arguments_is_caught(pool):
    """The solution agrees under both scopings; a wrong argument reaches a module-level name."""
    code = ("HINT = 'try France'\n"
            "def cap(country):\n    if country == 'France':\n        return {'capital': 'Paris'}\n"
            "    return 'Error: unknown country; ' + HINT")
    r = verify_environment(_env(code), pool, probes=True)
    assert [c.name for c in r.checks if not c.ok] == ["scoping"]
    assert "returns 'Error: unknown country; try France' in the sandbox" in r.reason


def test_reference_scoped_environments_run_under_the_papers_scoping_only(pool):
    meta = {"metadata": {"scoping": "reference"}}
    r = verify_environment(_env(GOOD, **meta), pool, probes=True)
    assert r.status == "pass" and "scoping" not in {c.name for c in r.checks}
    r = verify_environment(_env(MODULE_LEVEL, **meta), pool)
    assert r.status == "fail" and "name 'T' is not defined" in r.reason


def test_a_non_deterministic_tool_is_not_blamed_on_its_scoping(pool):
    flaky = ("def cap(country):\n    import random\n"
             "    return f'Paris #{random.random()}' if country == 'France' else f'Error: no {random.random()}'")
    r = verify_environment(_env(flaky), pool, probes=True)
    assert [c.name for c in r.checks if not c.ok] == ["deterministic"]
