"""``toolgym model init``: a tokenizer trained on environments' text and a Qwen2 model from scratch, written as a
normal model folder with the real Qwen2.5 chat template, that every backend and trainer loads by path."""

import json
import re
from pathlib import Path

import pytest

from toolgym.errors import ConfigError
from toolgym.models import BackendConfig, ChatRenderer, Endpoint, Sampling, local_options, make_backend
from toolgym.rollout import EpisodeConfig, RolloutConfig, rollout
from toolgym.train.starter import SIZES, TAG_TOKENS, corpus, model_init, qwen25_template, template_strings

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def init_dir(samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("init") / "model"
    report = model_init(samples, out, size="tiny", vocab_size=700, seed=1)
    assert report.parameters > 0 and report.vocab_size > 256 and report.environments == len(samples)
    return out


def test_the_folder_loads_like_a_model_with_the_real_qwen25_template(init_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForCausalLM.from_pretrained(init_dir)
    trl_template = qwen25_template()
    assert tok.chat_template == trl_template
    assert Path(__import__("trl").__file__).parent.joinpath("chat_templates", "qwen2_5.jinja").read_text() == trl_template
    assert type(model).__name__ == "Qwen2ForCausalLM" and model.config.vocab_size == len(tok)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert set(model.generation_config.eos_token_id) == {tok.convert_tokens_to_ids("<|im_end|>"),
                                                        tok.convert_tokens_to_ids("<|endoftext|>")}
    meta = json.loads((init_dir / "toolgym_init.json").read_text())
    assert meta["size"] == "tiny" and meta["seed"] == 1


def test_tags_and_fixed_strings_are_single_tokens_that_decoding_keeps(init_dir, samples):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(init_dir)
    fixed = template_strings(tok.chat_template)
    assert '", "arguments": ' in fixed and any("You are Qwen" in s for s in fixed)
    assert "user" not in fixed and "\n" not in fixed  # lone words and bare newlines stay with the BPE
    for s in (*TAG_TOKENS, *fixed):
        assert len(tok(s, add_special_tokens=False)["input_ids"]) == 1, s
    text = samples[0].solution[0][0].to_hermes()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    # Ordinary added tokens, not special: decoding as TRL and verl do before scoring keeps them.
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.decode(tok("<|im_end|>", add_special_tokens=False)["input_ids"], skip_special_tokens=True) == ""


def test_text_round_trips_and_names_are_the_same_tokens_everywhere(init_dir, samples):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(init_dir)

    def ids(s):
        return tok(s, add_special_tokens=False)["input_ids"]

    for text in list(corpus(samples)) + ["Zürich — 3.5 km², naïve “quotes” 🙂\n\n\ttabs"]:
        assert tok.decode(ids(text)) == text
    renderer = ChatRenderer(tok)
    for env in samples:
        prompt = renderer.render([{"role": "user", "content": env.question}], env.tools)
        assert tok.decode(ids(prompt)) == prompt
        for call in env.solution[0]:
            for value in call.arguments.values():
                if isinstance(value, str) and re.search(rf"\b{re.escape(value)}\b", env.question):
                    # A name is the same tokens in the question and inside the call's JSON: copying is copying tokens.
                    name = ids(value)
                    for context in (ids(env.question), ids(call.to_hermes())):
                        assert any(context[i:i + len(name)] == name for i in range(len(context))), (value, context)


def test_sizes_overrides_and_refusals(samples, tmp_path):
    report = model_init(samples[:2], tmp_path / "m", size="tiny", vocab_size=400,
                        overrides={"num_hidden_layers": 3, "hidden_size": 48, "num_attention_heads": 4})
    assert report.shape.num_hidden_layers == 3 and report.shape.hidden_size == 48
    with pytest.raises(ConfigError, match="already holds a model"):
        model_init(samples[:2], tmp_path / "m", size="tiny")
    with pytest.raises(ConfigError, match="unknown --size"):
        model_init(samples[:2], tmp_path / "n", size="huge")
    with pytest.raises(ConfigError, match="multiple of --heads"):
        model_init(samples[:2], tmp_path / "n", size="tiny", overrides={"hidden_size": 30})
    assert {"tiny", "micro"} <= set(SIZES)


def test_it_rolls_out_in_the_transformers_backend(init_dir, samples, pool, tmp_path):
    backend = make_backend(BackendConfig("transformers", Endpoint(model=str(init_dir)),
                                         Sampling(temperature=1.0, max_tokens=8),
                                         options=local_options("transformers", threads=1, batch_size=4)))
    out = tmp_path / "t.jsonl"
    summary = rollout(samples[:4], backend, out, config=RolloutConfig(samples=2, episode=EpisodeConfig(max_turns=2)),
                      executor=pool)
    assert summary.written == 8 and summary.failed == 0


def test_cli_model_init(samples, tmp_path):
    from typer.testing import CliRunner

    from toolgym.cli import app
    from toolgym.io import write_environments

    envs = tmp_path / "envs.jsonl"
    write_environments(envs, [e.model_copy(update={"metadata": e.metadata.model_copy(update={"split": "train"})})
                              for e in samples])
    r = CliRunner().invoke(app, ["model", "init", "--envs", str(envs), "--out", str(tmp_path / "m"), "--size", "tiny",
                                 "--vocab-size", "500"])
    assert r.exit_code == 0, r.output
    assert "parameters" in r.output and (tmp_path / "m" / "model.safetensors").exists()
    r = CliRunner().invoke(app, ["model", "init", "--envs", str(envs), "--out", str(tmp_path / "m"), "--size", "tiny"])
    assert r.exit_code == 2 and "already holds a model" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["model", "init", "--envs", str(envs), "--out", str(tmp_path / "k"), "--split", "test"])
    assert r.exit_code == 2 and "no environments" in " ".join(r.output.split())


def test_eval_runs_a_model_init_model_with_small_model_settings(init_dir, samples, tmp_path):
    import torch
    from typer.testing import CliRunner

    from toolgym.cli import app
    from toolgym.io import write_environments

    envs = tmp_path / "envs.jsonl"
    write_environments(envs, samples)
    before = torch.get_num_threads()
    try:
        r = CliRunner().invoke(app, ["eval", "--envs", str(envs), "--backend", "transformers", "--model",
                                     str(init_dir), "--max-tokens", "6", "--max-turns", "2", "--threads", "1",
                                     "--gen-batch-size", "4", "--out", str(tmp_path / "r.json")])
        assert r.exit_code == 0, r.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["trajectories"] == len(samples)
