"""Data imported from the paper's layout runs, and is scored, the way the paper's code runs and scores it:
under its call_function scoping (``metadata.scoping == "reference"``), checked against the oracle of the
paper's code on a row whose tool works only as a module and a row whose tool works only there."""

import json

import pytest
from ftrl_reference import compute_solve, get_feedback
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.formats import import_file, row_to_turn, turn_to_row, turn_to_verl, verl_to_turn
from toolgym.io import read_environments
from toolgym.reward import score_batch
from toolgym.reward.verl import compute_score
from toolgym.rollout import ToolEnv
from toolgym.schema import TurnState
from toolgym.verify import verify_environments

TOOLS = [{"type": "function", "function": {"name": "cap", "description": "Capital of a country.", "parameters": {
    "type": "object", "properties": {"country": {"type": "string"}}, "required": ["country"]}}}]
CODES = {
    # works as a module; under the paper's call_function the table is not visible to the function
    "module_only": "T = {'France': 'Paris'}\ndef cap(country):\n    return {'capital': T.get(country, '?')}",
    # works only under the paper's call_function, where json is a global of its utils module
    "reference_only": "def cap(country):\n    return json.dumps({'capital': {'France': 'Paris'}.get(country, '?')})",
}
REPLY = '<tool_call>\n{"name": "cap", "arguments": {"country": "France"}}\n</tool_call>'


def _row(code: str) -> dict:
    return {"messages": [{"role": "user", "content": "Capital of France?"}], "tools": json.dumps(TOOLS),
            "codes": json.dumps({"cap": code}), "unsolved_set": json.dumps({"cap": ["Paris"]}), "answer": "Paris",
            "solve_rate": 0.0, "data_source": "ftrl/single_hop", "split": "train",
            "solution": json.dumps([[{"name": "cap", "arguments": {"country": "France"}}]])}


@pytest.fixture()
def imported(tmp_path):
    src = tmp_path / "paper.jsonl"
    src.write_text("".join(json.dumps(_row(c)) + "\n" for c in CODES.values()))
    import_file("ftrl", src, tmp_path / "envs.jsonl")
    return list(read_environments(tmp_path / "envs.jsonl"))


def _paper(code: str) -> tuple[str, float]:
    call = {"id": "c", "function": {"name": "cap", "arguments": '{"country": "France"}'}}
    output = get_feedback([call], {"cap": code})[0]["content"]
    return output, compute_solve("f1", REPLY, {"cap": code}, {"cap": ["Paris"]}, 0.0)


def test_imported_reference_data_runs_and_scores_as_in_the_papers_code(imported, pool):
    assert [e.metadata.scoping for e in imported] == ["reference", "reference"]
    for env, code in zip(imported, CODES.values()):
        output, reward = _paper(code)
        episode = ToolEnv(env, pool)
        episode.reset()
        _, step_reward, *_ = episode.step(REPLY)
        assert episode.steps[-1].results[0].output == output
        assert step_reward == reward
        turn = TurnState(response=REPLY, codes=env.code, unsolved=env.expected, scoping=env.metadata.scoping)
        scored = score_batch([turn], executor=pool)[0]
        assert scored.results[0].output == output and scored.reward == reward
    module_only, reference_only = verify_environments(imported, pool)
    assert module_only.status == "fail" and "name 'T' is not defined" in module_only.reason
    assert reference_only.status == "pass" and "scoping" not in {c.name for c in reference_only.checks}


def test_training_rows_of_imported_data_are_scored_as_in_the_papers_code(imported, pool):
    """The scoping travels with the per-turn record through verl's and toolgym's row layouts, and verl's
    reward entry point scores each reply as the paper's compute_solve does."""
    for env, code in zip(imported, CODES.values()):
        _, reward = _paper(code)
        turn = TurnState(messages=[{"role": "user", "content": env.question}], tools=env.tools, codes=env.code,
                         unsolved=env.expected, answer=env.answer, scoping=env.metadata.scoping)
        assert row_to_turn(turn_to_row(turn)).scoping == "reference"
        row = turn_to_verl(turn, 0)
        assert verl_to_turn(row).scoping == "reference"
        assert compute_score(row["data_source"], REPLY, row["reward_model"]["ground_truth"],
                             row["extra_info"]) == reward


def test_the_scoping_of_imported_data_can_be_chosen(tmp_path):
    src = tmp_path / "paper.jsonl"
    src.write_text(json.dumps(_row(CODES["module_only"])) + "\n")
    result = CliRunner().invoke(app, ["import", str(src), str(tmp_path / "m.jsonl"), "--scoping", "module"])
    assert result.exit_code == 0, result.output
    assert [e.metadata.scoping for e in read_environments(tmp_path / "m.jsonl")] == ["module"]
    result = CliRunner().invoke(app, ["import", str(src), str(tmp_path / "x.jsonl"), "--scoping", "paper"])
    assert result.exit_code != 0 and "--scoping reference" in result.output
