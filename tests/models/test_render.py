"""Chat-template rendering turn after turn: every prompt extends the previous one, in text and tokens."""

import pytest
from chat_fixtures import THINKING, make_tokenizer

from toolgym.models import ChatRenderer
from toolgym.rollout import EpisodeConfig, ToolEnv

pytest.importorskip("transformers")


def _play(pool, env, renderer, replies):
    """Drive an episode with fixed replies, rendering each turn's prompt as a backend would."""
    tenv = ToolEnv(env, pool, EpisodeConfig(strip_thinking=True))
    tenv.reset()
    prompts = []
    for reply in replies:
        text, ids = renderer.next_prompt("ep", tenv.messages, env.tools)
        prompts.append((text, ids))
        renderer.record("ep", reply, renderer.encode(reply))
        _, _, term, trunc, _ = tenv.step(reply)
        if term or trunc:
            break
    return tenv, prompts


def _gold_replies(env, think=False):
    replies = ["\n".join(c.to_hermes() for c in turn) for turn in env.solution] + [f"The answer is {env.answer}."]
    if think:
        replies = [f"<think>\nstep {i}: plan carefully\n</think>\n\n{r}" for i, r in enumerate(replies)]
    return replies


def test_hermes_template_incremental_prompts_equal_fresh_renders(pool, samples, tokenizer):
    env = samples[7]
    renderer = ChatRenderer(tokenizer)
    tenv, prompts = _play(pool, env, renderer, _gold_replies(env))
    assert len(prompts) == 4
    assistant_at = [i for i, m in enumerate(tenv.messages) if m["role"] == "assistant"]
    for (text, ids), k in zip(prompts, assistant_at):
        assert text == renderer.render(tenv.messages[:k], env.tools)  # the template is prefix-consistent
        assert ids == renderer.encode(text)
    full = renderer.render(tenv.messages, env.tools, add_generation_prompt=False)
    for text, _ in prompts:
        assert full.startswith(text)


def test_thinking_template_keeps_the_models_own_earlier_output(pool, samples):
    tok = make_tokenizer(THINKING)
    env = samples[4]
    renderer = ChatRenderer(tok, {"enable_thinking": True})
    replies = _gold_replies(env, think=True)
    tenv, prompts = _play(pool, env, renderer, replies)
    # with one question, Qwen3's template keeps the reasoning of every turn after it; a later user message
    # (the malformed-call feedback, say) drops it from a fresh render ...
    first, k = [i for i, m in enumerate(tenv.messages) if m["role"] == "assistant"][:2]
    assert "step 0: plan carefully" in renderer.render(tenv.messages[:k], env.tools)
    later = renderer.render([*tenv.messages[:k], {"role": "user", "content": "Try again."}], env.tools)
    assert "step 0: plan carefully" not in later
    # ... the incremental prompt keeps what the model saw, verbatim, and each prompt extends the last
    assert "step 0: plan carefully" in prompts[1][0]
    for (t0, i0), (t1, i1), reply in zip(prompts, prompts[1:], replies):
        assert t1.startswith(t0 + reply)
        assert i1[: len(i0)] == i0
        assert i1[len(i0): len(i0) + len(renderer.encode(reply))] == renderer.encode(reply)
    # the reasoning was stripped before parsing and kept beside the content
    assert tenv.messages[first]["reasoning_content"] == "step 0: plan carefully"


def test_non_thinking_generation_prompt(samples):
    tok = make_tokenizer(THINKING)
    renderer = ChatRenderer(tok, {"enable_thinking": False})
    text, _ = renderer.next_prompt("", [{"role": "user", "content": "hi"}], samples[0].tools)
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_replay_reproduces_the_rollout_prompts(pool, samples, tokenizer):
    env = samples[5]
    renderer = ChatRenderer(tokenizer)
    replies = _gold_replies(env)
    tenv, prompts = _play(pool, env, renderer, replies)
    replayed = ChatRenderer(tokenizer).replay(tenv.messages, env.tools, [s.response for s in tenv.steps])
    assert replayed == [t for t, _ in prompts]


def test_an_edited_conversation_is_rendered_afresh(samples, tokenizer):
    renderer = ChatRenderer(tokenizer)
    msgs = [{"role": "user", "content": "q"}]
    renderer.next_prompt("e", msgs, None)
    renderer.record("e", "reply")
    other = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "different"},
             {"role": "user", "content": "again"}]
    text, _ = renderer.next_prompt("e", other, None)
    assert text == renderer.render(other, None) and "reply" not in text


def _conversations(env):
    """Episodes of one question: reasoning set apart or left in the content, a last turn without any, and
    the same followed by a later user message."""
    call = env.solution[0][0].to_openai("c0")
    tool = {"role": "tool", "tool_call_id": "c0", "content": "out"}
    apart = [{"role": "user", "content": env.question},
             {"role": "assistant", "content": "", "reasoning_content": "R-zero", "tool_calls": [call]}, tool,
             {"role": "assistant", "content": "", "reasoning_content": "R-one", "tool_calls": [call]}, tool]
    inline = [{"role": "user", "content": env.question},
              {"role": "assistant", "content": "<think>\nR-zero\n</think>\n\nfirst", "tool_calls": [call]}, tool,
              {"role": "assistant", "content": "plain"}]
    return [apart, apart[:2], inline, [*apart, {"role": "user", "content": "Try again."}],
            [*inline, {"role": "user", "content": "Again?"}, {"role": "assistant", "content": "<think>\nR-two\n</think>"}]]


@pytest.mark.parametrize("case", range(5))
def test_the_thinking_fixture_keeps_and_drops_reasoning_as_qwen3s_template(samples, case):
    """``chat_fixtures.THINKING`` renders reasoning in the same turns as the real ``qwen3.jinja`` (the copy the
    installed ``trl`` ships)."""
    pytest.importorskip("trl")
    from template_fixtures import trl_template

    tok = make_tokenizer(THINKING)
    messages = _conversations(samples[0])[case]

    def shown(template):
        text = tok.apply_chat_template(messages, tools=samples[0].tools, chat_template=template, tokenize=False,
                                       add_generation_prompt=messages[-1]["role"] != "assistant")
        return text.count("<think>"), [r for r in ("R-zero", "R-one", "R-two", "first", "plain") if r in text]

    assert shown(THINKING) == shown(trl_template("qwen3.jinja"))
