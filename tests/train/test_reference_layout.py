"""``train prepare --layout reference``: the rows as the paper's ``data_sample.py`` writes them, compared row by
row, message by message, with that script's own rows (``test_reference_cut.reference_sample_process``) on
the same replies -- and what the layout changes once a chat template renders it."""

import json

import pytest
from chat_fixtures import make_tokenizer
from test_reference_cut import reference_sample_process, sandbox_feedback, scripts  # noqa: F401

from toolgym.formats import FTRL_TURN_COLUMNS, env_to_ftrl, turn_to_ftrl
from toolgym.models import ChatRenderer
from toolgym.rollout import EpisodeConfig, ToolEnv
from toolgym.train.data import turn_prompts


def _assistant_calls(message):
    return [(c["type"], c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"] or []]


def test_reference_rows_are_data_sample_rows(samples, pool, sandbox_feedback):  # noqa: F811
    compared = 0
    for env in samples:
        sample = env_to_ftrl(env)
        for name, (replies, max_turns) in scripts(env).items():
            theirs = reference_sample_process(sample, replies, max_turns, sandbox_feedback)
            tenv = ToolEnv(env, pool, EpisodeConfig(max_turns=max_turns))
            tenv.reset()
            for reply in replies:
                *_, terminated, truncated, _ = tenv.step(reply)
                if terminated or truncated:
                    break
            ours = [turn_to_ftrl(s) for s in turn_prompts(tenv.trajectory(), env)]
            assert len(ours) == len(theirs), f"{env.id} ({name})"
            for i, (a, b) in enumerate(zip(ours, theirs)):
                at = f"{env.id} ({name}) row {i}"
                assert list(a) == list(FTRL_TURN_COLUMNS), at  # data_sample.py's columns, in its order
                for column in ("tools", "codes", "data_source", "split", "answer"):
                    assert a[column] == b[column], f"{at}: {column}"
                assert json.loads(a["unsolved_set"]) == json.loads(b["unsolved_set"]), at
                assert a["solve_rate"] == pytest.approx(b["solve_rate"]), at
                assert len(a["messages"]) == len(b["messages"]), at
                ids: dict[str, str] = {}  # our call id -> theirs (theirs hash the time, ours the position)
                for m, n in zip(a["messages"], b["messages"]):
                    assert list(m) == list(n), f"{at}: the keys of a {n['role']} message"
                    assert (m["role"], m["content"]) == (n["role"], n["content"]), at
                    if m["role"] == "assistant":
                        assert _assistant_calls(m) == _assistant_calls(n), at
                        ids.update((c["id"], d["id"]) for c, d in zip(m["tool_calls"] or [], n["tool_calls"] or []))
                        assert all(c["id"].startswith("call_") and len(c["id"]) == 69 for c in m["tool_calls"] or [])
                    if m["role"] == "tool":
                        assert ids[m["tool_call_id"]] == n["tool_call_id"], f"{at}: a tool message answers its call"
                compared += 1
    assert compared > 8 * 8


def test_what_the_reference_layout_changes_once_rendered(samples, pool):
    """Structured calls with ``arguments`` as JSON strings: Qwen2.5's template writes the string with
    ``tojson``, so the model sees its arguments as a quoted, escaped string -- not the object it wrote
    (the paper's own pipeline renders them so too). toolgym's layout keeps the model's text."""
    import trl  # noqa: F401  (the template ships with it)
    from template_fixtures import trl_template

    env = samples[0]
    tenv = ToolEnv(env, pool)
    tenv.reset()
    reply = "\n".join(c.to_hermes() for c in env.solution[0])
    tenv.step(reply)
    tenv.step(f"The answer is {env.answer}.")
    row_state = list(turn_prompts(tenv.trajectory(), env))[1]
    tok = make_tokenizer(trl_template("qwen2_5.jinja"))
    ours = ChatRenderer(tok).render(row_state.messages, row_state.tools)
    # the paper's scripts hand their rows' messages to the template as they are
    theirs = tok.apply_chat_template(turn_to_ftrl(row_state)["messages"], tools=row_state.tools, tokenize=False,
                                     add_generation_prompt=True)
    assert reply in ours and reply not in theirs
    arguments = json.dumps(env.solution[0][0].arguments, ensure_ascii=False)
    assert f'"arguments": {json.dumps(arguments, ensure_ascii=False)}' in theirs  # double-encoded
