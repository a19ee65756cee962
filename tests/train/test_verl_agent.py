"""toolgym's verl agent loops and dataset, run inside verl's own machinery on the CPU.

verl's ``AgentLoopWorker`` is built from the configuration toolgym generates (composed with verl's Hydra
files); it loads the model config and tokenizer of a tiny model folder, reads the run's agent-loop file,
loads ``ToolRowsDataset`` by its ``pkg://`` path, and runs our loops. Only the LLM server is replaced: vLLM
and SGLang need GPUs, so a scripted stand-in returns fixed replies as token ids (the end-of-turn token
included, as a server returns it). Tool calls run in toolgym's real sandbox, and the single-turn rewards
come from verl's own reward loader with toolgym's reward file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

pytest.importorskip("verl")
pytest.importorskip("hydra")

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from verl import DataProto
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker, _agent_loop_registry
from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn, get_dataset_class
from verl.workers.rollout.replica import TokenOutput

from toolgym.formats import verl_to_turn
from toolgym.models import ErrorRates, ScriptedPolicy
from toolgym.rollout import RolloutConfig, ToolEnv, rollout
from toolgym.sandbox import ExecRequest
from toolgym.train import verl_agent
from toolgym.train.config import Hyperparameters
from toolgym.train.data import initial_prompt, prefixes
from toolgym.train.layouts import read_turns, write_data
from toolgym.train.verl_agent import (
    ToolgymMultiTurnAgentLoop,
    ToolgymSingleTurnAgentLoop,
    check_reward_decoding,
    prompt_token_ids,
)
from toolgym.train.verl_run import AGENT_LOOPS, VerlRunConfig, launch

ROOT = Path(__file__).resolve().parents[2]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def qwen_like_tokenizer():
    """A tiny byte-level BPE tokenizer laid out like Qwen2.5's: ChatML specials, the tool-call tags as
    ordinary added tokens, and the real Qwen2.5 chat template (TRL ships it as a file)."""
    import trl
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = ['{"name": "get_city_info", "arguments": {"city": "Orlay", "field": "population"}}',
              '{"type": "function", "function": {"description": "parameters properties required string"}}',
              "The answer is Talmerian crown. You are a helpful assistant. tool_response"] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=700, special_tokens=SPECIAL,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=SPECIAL[1:])
    hf.add_tokens(["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"])
    hf.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
    return hf


class ScriptedServer:
    """Stands in for verl's LLM server client: the reply to each trajectory's n-th call is scripted by the
    question its prompt contains; it records every prompt it was sent."""

    def __init__(self, tokenizer, script: dict[str, list[str]]):
        self.tokenizer, self.script = tokenizer, script
        self.prompts: list[list[int]] = []
        self.turns: dict[str, int] = {}

    async def generate(self, request_id, *, prompt_ids, sampling_params, **_):
        self.prompts.append(list(prompt_ids))
        text = self.tokenizer.decode(prompt_ids)
        question = next(q for q in self.script if q in text)
        turn = self.turns[request_id] = self.turns.get(request_id, -1) + 1
        reply = self.script[question][turn]
        ids = self.tokenizer(reply, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
        return TokenOutput(token_ids=ids, log_probs=[-0.25] * len(ids))


@pytest.fixture(scope="module")
def tok():
    return qwen_like_tokenizer()


@pytest.fixture(scope="module")
def model_dir(tok, tmp_path_factory):
    """A model folder as verl loads it (config.json and tokenizer; no weights are needed to roll out)."""
    from transformers import Qwen2Config

    folder = tmp_path_factory.mktemp("tiny-qwen")
    tok.save_pretrained(folder)
    Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=32768, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id, architectures=["Qwen2ForCausalLM"]).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def envs(samples):
    """The sample environments, all in the training split."""
    return [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "train"})}) for e in samples]


@pytest.fixture(scope="module")
def data_dir(envs, pool, tmp_path_factory):
    """The questions, then the paper's per-turn prompts of scripted rollouts (with tool turns in them)."""
    from toolgym.io import read_trajectories

    out = tmp_path_factory.mktemp("verl-agent-data")
    trajectories = out / "t.jsonl"
    summary = rollout(envs, ScriptedPolicy(ErrorRates(wrong_argument=0.3), seed=1), trajectories,
                      config=RolloutConfig(samples=1), executor=pool)
    assert summary.written == len(envs) and not summary.failed
    turns = [p for p in prefixes(read_trajectories(trajectories), {e.id: e for e in envs}) if p.turn > 0]
    assert turns, "the scripted rollouts must give prompts after tool turns"
    write_data(out, [initial_prompt(e) for e in envs] + turns, hf=False)
    return out


@pytest.fixture
def sandbox(pool, monkeypatch):
    """The loops' tool calls go to the test session's sandbox pool (the default is a process-wide one)."""
    monkeypatch.setattr(verl_agent, "worker_executor", lambda: pool)
    return pool


def run_config(model_dir, data_dir, out, max_completion_length=None, **kw):
    cfg = VerlRunConfig(model=str(model_dir), data=data_dir, out=out, gpus=1, train_batch_size=8,
                        hparams=Hyperparameters(num_generations=1, max_completion_length=max_completion_length),
                        ppo_mini_batch_size=4, max_prompt_length=8192, **kw)
    run = launch(cfg, dry_run=True)  # writes agent_loops.yaml, checks the configuration with verl
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    import verl.trainer.main_ppo as main

    with initialize_config_dir(config_dir=str(Path(main.__file__).parent / "config"), version_base=None):
        return compose(config_name="ppo_trainer", overrides=run.command[3:])


def rows(config, tok, indices=None):
    """Rows as verl's trainer feeds them: the configured dataset class, verl's collate_fn, a DataProto."""
    dataset_cls = get_dataset_class(config.data)
    assert dataset_cls is verl_agent.ToolRowsDataset  # data.custom_cls, loaded by verl from its pkg:// path
    ds = dataset_cls(data_files=[config.data.train_files], tokenizer=tok, config=config.data)
    items = [ds[i] for i in (indices if indices is not None else range(len(ds)))]
    return items, DataProto.from_single_dict(collate_fn(items))


def generate(config, server, batch) -> DataProto:
    worker = AgentLoopWorker(config, server)
    return asyncio.run(worker.generate_sequences(batch))


def unpadded(out: DataProto, i: int):
    prompt_len = out.batch["prompts"].shape[1]
    mask = out.batch["attention_mask"][i].bool()
    prompt = out.batch["prompts"][i][mask[:prompt_len]].tolist()
    response = out.batch["responses"][i][mask[prompt_len:]].tolist()
    response_mask = out.batch["response_mask"][i][mask[prompt_len:]].tolist()
    return prompt, response, response_mask


def test_loops_are_registered_with_verl():
    assert _agent_loop_registry["toolgym_single_turn"] == {"_target_": AGENT_LOOPS["toolgym_single_turn"]}
    assert _agent_loop_registry["toolgym_multi_turn"] == {"_target_": AGENT_LOOPS["toolgym_multi_turn"]}
    assert AGENT_LOOPS["toolgym_single_turn"].endswith(ToolgymSingleTurnAgentLoop.__qualname__)
    assert AGENT_LOOPS["toolgym_multi_turn"].endswith(ToolgymMultiTurnAgentLoop.__qualname__)


def test_the_reward_and_the_loops_read_a_row_alike(model_dir, data_dir, tok, sandbox, tmp_path, monkeypatch):
    """Every row, as verl's dataset hands it to an agent loop and as verl's reward manager hands it to
    compute_score, decodes into the TurnState `train prepare` wrote; the loop's episode and the reward
    score a reply there alike."""
    import toolgym.reward.verl as verl_reward

    monkeypatch.setattr(verl_reward, "worker_executor", lambda: sandbox)
    config = run_config(model_dir, data_dir, tmp_path)
    items, _ = rows(config, tok)
    written = read_turns(data_dir, split="train")
    assert len(items) == len(written)
    for item, state in zip(items, written):
        loop = verl_to_turn(item)
        truth, extra = item["reward_model"]["ground_truth"], item["extra_info"]
        reward, variant = verl_reward.scored_turn(item["data_source"], "", truth, extra)
        assert loop == state.model_copy(update={"response": "", "reward": None})
        assert reward == loop.model_copy(update={"messages": []}) and variant == "f1"  # verl passes no prompt
        env = verl_agent.row_environment(item)
        assert (env.question, env.tools, env.code, env.expected, env.answer) == \
            (loop.question, loop.tools, loop.codes, loop.unsolved, loop.answer)
        assert verl_agent.row_tools(item) == loop.tools
        for reply in {state.response, "", "I do not know.", f"The answer is {state.answer}.", "<tool_call>x"}:
            tenv = ToolEnv(env, sandbox)
            tenv.reset()
            _, in_loop, *_ = tenv.step(reply)
            assert verl_reward.compute_score(item["data_source"], reply, truth, extra) == pytest.approx(in_loop)


def test_single_turn_renders_each_rows_tools_and_verl_scores_the_reply(model_dir, data_dir, tok, envs, tmp_path):
    """The paper's recipe end to end on verl's code: dataset -> our loop in verl's worker -> verl's reward."""
    from verl.trainer.ppo.reward import load_reward_manager

    config = run_config(model_dir, data_dir, tmp_path)
    items, batch = rows(config, tok, range(len(envs)))  # the questions, one per environment
    by_question = {e.question: e for e in envs}
    script = {e.question: ["\n".join(c.to_hermes() for c in e.solution[0])] for e in envs}
    server = ScriptedServer(tok, script)
    out = generate(config, server, batch)
    manager = load_reward_manager(config, tok)  # reward.custom_reward_function: toolgym's reward file
    prompts = set()
    for i, item in enumerate(items):
        env = by_question[item["raw_prompt"][-1]["content"]]
        tools = json.loads(item["tools"])
        assert tools == env.tools
        prompt, response, response_mask = unpadded(out, i)
        # exactly the paper's fork: apply_chat_template(messages, tools=json.loads(row["tools"])), then tokenize
        text = tok.apply_chat_template(item["raw_prompt"], tools=tools, add_generation_prompt=True, tokenize=False)
        assert prompt == tok(text, add_special_tokens=False)["input_ids"]
        assert all(json.dumps(t["function"]["name"]) in tok.decode(prompt) for t in tools)
        assert prompt in server.prompts
        prompts.add(tuple(prompt))
        assert tok.decode(response) == script[env.question][0] + "<|im_end|>"
        assert response_mask == [1] * len(response)
        reward = manager.loop.run_until_complete(manager.run_single(out[i:i + 1]))["reward_score"]
        n = len(env.solution[0])
        assert reward == pytest.approx(2 * n / (n + 1))  # every gold call solves an item: 2k/(n+1), k = n
    assert len(prompts) == len(items)


def test_single_turn_prompts_after_tool_turns(model_dir, data_dir, tok, tmp_path):
    """Per-turn prefixes: earlier assistant turns (raw text with <tool_call> blocks) and tool results are
    rendered by the template; the reward uses the row's remaining unsolved set."""
    from verl.trainer.ppo.reward import load_reward_manager

    config = run_config(model_dir, data_dir, tmp_path)
    items, batch = rows(config, tok)
    later = [i for i, item in enumerate(items) if item["extra_info"]["turn"] > 0]
    items, batch = [items[i] for i in later], batch[later]
    truths = [json.loads(item["reward_model"]["ground_truth"]) for item in items]
    script = {item["raw_prompt"][0]["content"]: [f"So the answer is {t['answer']}."] for item, t in zip(items, truths)}
    out = generate(config, ScriptedServer(tok, script), batch)
    manager = load_reward_manager(config, tok)
    for i, (item, truth) in enumerate(zip(items, truths)):
        assert any(m["role"] == "tool" for m in item["raw_prompt"])
        prompt, _, _ = unpadded(out, i)
        assert prompt == prompt_token_ids(tok, item["raw_prompt"], json.loads(item["tools"]))
        assert "<tool_response>" in tok.decode(prompt)
        remaining = sum(len(v) for v in truth["unsolved_set"].values())
        reward = manager.loop.run_until_complete(manager.run_single(out[i:i + 1]))["reward_score"]
        assert reward == pytest.approx(1 / (1 + remaining))  # the final answer, with `remaining` left unsolved


def test_single_turn_refuses_a_tokenizer_that_hides_tool_tags(tok):
    from chat_fixtures import make_tokenizer

    check_reward_decoding(tok)  # Qwen-like: the tags survive skip_special_tokens=True
    with pytest.raises(ValueError, match="special token"):
        check_reward_decoding(make_tokenizer(tags_special=True))  # tags registered as special: they would vanish


def gold_script(env) -> list[str]:
    return ["\n".join(c.to_hermes() for c in turn) for turn in env.solution] + [f"The answer is {env.answer}."]


def test_multi_turn_episodes_mask_tool_tokens_and_score_every_turn(model_dir, data_dir, tok, envs, sandbox,
                                                                    tmp_path):
    config = run_config(model_dir, data_dir, tmp_path, multi_turn=True)
    assert config.actor_rollout_ref.rollout.agent.default_agent_loop == "toolgym_multi_turn"
    items, batch = rows(config, tok, range(len(envs)))
    by_question = {e.question: e for e in envs}
    server = ScriptedServer(tok, {e.question: gold_script(e) for e in envs})
    out = generate(config, server, batch)
    for i, item in enumerate(items):
        env = by_question[item["raw_prompt"][-1]["content"]]
        prompt, response, mask = unpadded(out, i)
        assert prompt == prompt_token_ids(tok, item["raw_prompt"], env.tools)
        expected_scores = [2 * len(t) / (len(t) + 1) for t in env.solution] + [1.0]
        assert list(out.non_tensor_batch["turn_scores"][i]) == pytest.approx(expected_scores)
        assert out.batch["rm_scores"][i].sum().item() == pytest.approx(sum(expected_scores) / len(expected_scores))
        assert out.batch["rm_scores"][i].nonzero().flatten().tolist() == [len(response) - 1]  # on the last token
        assert out.non_tensor_batch["__num_turns__"][i] == 2 * len(env.solution) + 2
        # the model's own tokens (mask 1) are exactly its replies; everything else is the environment
        replies = gold_script(env)
        assert tok.decode([t for t, m in zip(response, mask) if m]) == "".join(r + "<|im_end|>" for r in replies)
        observed = tok.decode([t for t, m in zip(response, mask) if not m])
        messages = list(item["raw_prompt"])
        for turn, reply in zip(env.solution, replies):
            outputs = sandbox.run([ExecRequest.of(c, env.code) for c in turn])
            messages.append({"role": "assistant", "content": reply})
            messages += [{"role": "tool", "content": r.output} for r in outputs]
            assert all(f"<tool_response>\n{r.output}\n</tool_response>" in observed for r in outputs)
        messages.append({"role": "assistant", "content": replies[-1]})
        # token by token, the episode is the chat template's rendering of the whole conversation
        full = tok.apply_chat_template(messages, tools=env.tools, tokenize=False)
        assert tok.decode(prompt + response) == full.removesuffix("\n")
    info = out.non_tensor_batch
    assert all(v == 1.0 for v in info["solve_f1"]) and all(v == 1.0 for v in info["solve_rate"])


def test_multi_turn_bad_replies_are_scored_and_the_episode_goes_on(model_dir, data_dir, tok, envs, sandbox,
                                                                   tmp_path):
    config = run_config(model_dir, data_dir, tmp_path, multi_turn=True, trajectory_reward="sum",
                        malformed="feedback")
    env = next(e for e in envs if e.scenario == "single_hop")
    _, batch = rows(config, tok, [envs.index(env)])
    wrong = env.solution[0][0].model_copy(update={"arguments": {**env.solution[0][0].arguments, "zz": 1}})
    script = ["<tool_call>\n{not json\n</tool_call>", wrong.to_hermes(), ""]
    out = generate(config, ScriptedServer(tok, {env.question: script}), batch)
    assert list(out.non_tensor_batch["turn_scores"][0]) == pytest.approx([-0.3, 0.0, -0.5])
    assert out.batch["rm_scores"][0].sum().item() == pytest.approx(-0.8)  # trajectory_reward=sum
    _, response, mask = unpadded(out, 0)
    observed = tok.decode([t for t, m in zip(response, mask) if not m])
    assert "could not be read" in observed  # the malformed call is explained to the model, mask 0
    assert out.non_tensor_batch["tool_calls"][0] == 1 and out.non_tensor_batch["solve_f1"][0] == 0.0


def test_multi_turn_stops_at_the_response_budget(model_dir, data_dir, tok, envs, sandbox, tmp_path):
    config = run_config(model_dir, data_dir, tmp_path, multi_turn=True, max_completion_length=200)
    env = next(e for e in envs if e.scenario == "parallel_multi_hop")
    _, batch = rows(config, tok, [envs.index(env)])
    out = generate(config, ScriptedServer(tok, {env.question: gold_script(env)}), batch)
    _, response, mask = unpadded(out, 0)
    assert len(response) <= 200 and mask[-1] == 1  # the observation that would overflow is dropped
    assert 1 <= len(out.non_tensor_batch["turn_scores"][0]) < len(gold_script(env))


def test_long_tool_outputs_are_cut_as_verl_cuts_them():
    text = "a" * 10 + "b" * 10
    assert verl_agent.truncate_tool_text(text, 20, "middle") == text
    assert verl_agent.truncate_tool_text(text, 8, "left") == "(truncated)..." + "b" * 8
    assert verl_agent.truncate_tool_text(text, 8, "right") == "a" * 8 + "...(truncated)"
    assert verl_agent.truncate_tool_text(text, 8, "middle") == "aaaa...(truncated)...bbbb"


def test_dataset_filter_counts_each_rows_tools(model_dir, data_dir, tok, tmp_path):
    config = run_config(model_dir, data_dir, tmp_path)
    items, _ = rows(config, tok)
    item = items[0]
    bare = len(prompt_token_ids(tok, item["raw_prompt"], None))
    full = len(prompt_token_ids(tok, item["raw_prompt"], json.loads(item["tools"])))
    assert full > bare
    data_config = config.data.copy()
    data_config.max_prompt_length = (bare + full) // 2
    files = [config.data.train_files]
    stock = RLHFDataset(data_files=files, tokenizer=tok, config=data_config)
    ours = verl_agent.ToolRowsDataset(data_files=files, tokenizer=tok, config=data_config)
    ours_keys = {json.dumps(ours[i]["raw_prompt"]) for i in range(len(ours))}
    assert json.dumps(item["raw_prompt"]) not in ours_keys  # too long with its tools: dropped
    assert len(stock) > len(ours)  # the stock filter renders without the row's tools and keeps it
    assert all(len(prompt_token_ids(tok, ours[i]["raw_prompt"], json.loads(ours[i]["tools"]))) <= data_config.max_prompt_length
               for i in range(len(ours)))
