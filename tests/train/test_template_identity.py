"""The prompt of every training row is the prompt the model saw in the rollout, byte for byte and token for
token, for each real chat template toolgym trains: Qwen2.5, Qwen3 with thinking on and off, Llama 3.1
(Meta's template and vLLM's JSON template).

A local backend renders every prompt through ``ChatRenderer`` (as the transformers and vLLM backends do) and
keeps the token ids it fed its "model"; the rollout engine runs whole episodes with it; ``train prepare``'s
functions cut the trajectories into rows; and each row is read back the way training reads it -- the flat
rows (``turns.jsonl``), verl's parquet (the ids verl's toolgym loops feed the model) and TRL's text prompt
(tokenized the way TRL tokenizes it). Every one must equal what the model saw at that turn.
"""

import json

import pyarrow.parquet as pq
import pytest
from template_fixtures import TEMPLATES, scripted_local_backend

from toolgym.formats import verl_to_turn
from toolgym.models import ChatRenderer
from toolgym.parse import tool_format
from toolgym.rollout import EpisodeConfig, RolloutConfig, rollout
from toolgym.train.data import prefixes
from toolgym.train.layouts import read_turns, trl_rows, write_data

pytest.importorskip("transformers")
pytest.importorskip("trl")

BROKEN = {"hermes": '<tool_call>\n{"name": broken\n</tool_call>', "llama3": '<|python_tag|>{"name": broken'}


def replies_for(template, envs):
    """The "model": each environment's gold solution in the family's own tool format (after a reasoning
    block for a thinking model; one call a turn for Llama 3.1, whose templates render no more), then the
    answer; the first environment starts with a broken call, which the malformed-call feedback answers with a
    user message."""
    fmt = tool_format(template.tool_format)
    first = envs[0].id
    scripts = {}
    for env in envs:
        turns = [fmt.write(calls) for calls in fmt.turns(env.solution)] + [f"The answer is {env.answer}."]
        if env.id == first:
            turns = [BROKEN[fmt.name]] + turns
        if template.thinks:
            turns = [f"<think>\nStep {i}: what do I still need?\n</think>\n\n{t}" for i, t in enumerate(turns)]
        scripts[env.question] = turns

    def reply(request):
        return scripts[request.env.question][request.turn]

    return reply


def _episode_key(state):
    return f"{state.env_id}#{state.sample}", state.turn


def verl_rows(data):
    """The turns of every verl parquet file of a data folder, by (episode, turn)."""
    rows = [verl_to_turn(r) for f in sorted((data / "verl").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {_episode_key(r): r for r in rows}


def roll_out_and_prepare(template, envs, pool, tmp_path, *, odd_tokens=False):
    tok = template.tokenizer()
    backend = scripted_local_backend(tok, template.kwargs, replies_for(template, envs), odd_tokens=odd_tokens)
    episode = EpisodeConfig(format=template.tool_format, malformed="feedback")
    rollout(envs, backend, tmp_path / "t.jsonl", config=RolloutConfig(concurrency=4, episode=episode), executor=pool)
    from toolgym.io import read_trajectories

    trajectories = list(read_trajectories(tmp_path / "t.jsonl"))
    assert len(trajectories) == len(envs) and all(t.status == "completed" for t in trajectories)
    assert all(t.metrics.solve_f1 == 1.0 for t in trajectories[1:])
    states = list(prefixes(trajectories, {e.id: e for e in envs}, dedupe=False))
    write_data(tmp_path / "data", states)
    return tok, backend, trajectories, states


@pytest.fixture(scope="module")
def envs(samples):
    return [samples[i] for i in (0, 4, 7)]  # single-hop, multi-hop, parallel multi-hop (several calls a turn)


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_every_training_row_is_the_prompt_the_model_saw(template, envs, pool, tmp_path):
    tok, backend, trajectories, states = roll_out_and_prepare(template, envs, pool, tmp_path)
    seen = backend.seen
    assert len(seen) == sum(len(t.steps) for t in trajectories) >= 10

    # the rollout recorded every prompt, compactly (each after the first extends the one before)
    for t in trajectories:
        prompts = t.prompts()
        assert [(p.text, p.ids) for p in prompts] == [seen[(f"{t.env_id}#{t.sample}", k)] for k in range(len(t.steps))]
        assert all(s.prompt.extends for s in t.steps[1:])

    flat = read_turns(tmp_path / "data", split=None)
    verl = verl_rows(tmp_path / "data")
    # a training run given other template settings (or on another day: vLLM's template dates the prompt)
    # still trains on what the model saw
    other = {"enable_thinking": not template.kwargs.get("enable_thinking", True), "date_string": "01 Jan 2030"}
    trl = trl_rows(flat, tok, other)
    assert len(flat) == len(verl) == len(trl) == len(states) == len(seen)  # every row was seen by the model
    for state, row, trow in zip(states, flat, trl, strict=True):
        text, ids = seen[_episode_key(state)]
        vrow = verl[_episode_key(state)]
        where = f"{template.name} {state.env_id[:8]} turn {state.turn}"
        assert (state.prompt_text, state.prompt_ids) == (text, ids), where
        assert (row.prompt_text, row.prompt_ids) == (text, ids), f"turns.jsonl: {where}"
        assert (vrow.prompt_text, vrow.prompt_ids) == (text, ids), f"verl: {where}"
        assert ChatRenderer(tok, other).training_prompt(vrow.messages, vrow.tools, vrow.prompt_text,
                                                        vrow.prompt_ids) == (text, ids), where
        # TRL tokenizes a text prompt itself, special tokens added: it gets the model's very ids
        assert list(tok(trow["prompt"])["input_ids"]) == ids, f"TRL: {where}"
        assert trow["prompt"] == (text if template.family == "qwen" else text.removeprefix(tok.bos_token)), where
        assert (row.tool_format, vrow.tool_format, trow["tool_format"]) == (tool_format(template.tool_format).name,) * 3


def test_qwen3_without_thinking_a_fresh_render_is_not_what_the_model_saw(envs, pool, tmp_path):
    """Why rows carry the recorded prompt: rendered again from the messages, Qwen3's template drops the
    empty think block its generation prompt put before every earlier reply (the rows used to be rendered so)."""
    template = next(t for t in TEMPLATES if t.name == "qwen3-no-thinking")
    tok, _, _, states = roll_out_and_prepare(template, envs, pool, tmp_path)
    renderer = ChatRenderer(tok, template.kwargs)
    later = [s for s in states if s.turn > 0]
    assert later and all(renderer.render(s.messages, s.tools) != s.prompt_text for s in later)
    assert all(s.prompt_text.count("<think>\n\n</think>\n\n") == s.turn + 1 for s in later)


def test_qwen3_thinking_keeps_earlier_reasoning_until_a_later_user_message(envs, pool, tmp_path):
    """What Qwen3's template does with earlier reasoning (docs/rollout.md): rendered afresh, it keeps the
    reasoning of earlier turns while the question is the last user message, and drops it once a later user
    message (here the malformed-call feedback) follows."""
    template = next(t for t in TEMPLATES if t.name == "qwen3-thinking")
    tok, _, _, states = roll_out_and_prepare(template, envs, pool, tmp_path)
    renderer = ChatRenderer(tok, template.kwargs)
    feedback = [s for s in states if any(m["role"] == "user" and "could not be read" in m["content"]
                                         for m in s.messages)]
    plain = [s for s in states if s.turn > 0 and s not in feedback]
    assert feedback and plain
    for s in plain:  # one user message: every earlier <think> block is rendered again
        assert renderer.render(s.messages, s.tools).count("what do I still need?") == s.turn
    for s in feedback:  # after the feedback message: the reasoning before it is gone from a fresh render
        fresh = renderer.render(s.messages, s.tools)
        assert "Step 0: what do I still need?" not in fresh and "Step 0: what do I still need?" in s.prompt_text


def test_token_ids_are_the_models_own_even_where_its_tokenizer_would_choose_others(envs, pool, tmp_path):
    template = TEMPLATES[0]
    tok, backend, _, states = roll_out_and_prepare(template, envs, pool, tmp_path, odd_tokens=True)
    flat = read_turns(tmp_path / "data", split=None)
    verl = verl_rows(tmp_path / "data")
    odd = 0
    for state, row in zip(states, flat, strict=True):
        text, ids = backend.seen[_episode_key(state)]
        vrow = verl[_episode_key(state)]
        assert (row.prompt_text, row.prompt_ids) == (vrow.prompt_text, vrow.prompt_ids) == (text, ids)
        odd += tok(text, add_special_tokens=False)["input_ids"] != ids
    assert odd == sum(1 for s in states if s.turn > 0)  # every prompt after a reply holds the odd tokens
    with pytest.warns(UserWarning, match=f"{odd} of {len(flat)} training prompts tokenize to other token ids"):
        trl_rows(flat, tok)


def test_llama_rows_keep_the_models_json_calls(envs, pool, tmp_path):
    """A Llama 3.1 call stays the JSON the model wrote (it used to be rewritten as a Hermes block)."""
    template = next(t for t in TEMPLATES if t.name == "llama3.1")
    _, _, trajectories, states = roll_out_and_prepare(template, envs, pool, tmp_path)
    replies = [s.response for s in states if s.response]
    assert replies and not any("<tool_call>" in r for r in replies)
    by_env = {t.env_id: t for t in trajectories}
    for s in states:
        if s.response:
            assert s.response == by_env[s.env_id].steps[s.turn].response
    calls = [json.loads(part) for s in states for part in s.response.split("; ") if s.response.startswith("{")]
    assert calls and all(set(c) == {"name", "parameters"} for c in calls)
