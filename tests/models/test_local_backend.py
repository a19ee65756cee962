"""The transformers backend on a tiny random Qwen2 model: the plumbing is real, the output is garbage,
and garbage is scored, not crashed on."""

import json

import pytest

from toolgym.errors import ConfigError
from toolgym.models import BackendConfig, Endpoint, GenerationRequest, make_backend
from toolgym.models._local import TransformersBackend, stop_token_ids
from toolgym.rollout import RolloutConfig, rollout

pytest.importorskip("torch")


@pytest.fixture()
def backend(tiny_model, tokenizer):
    return TransformersBackend(tiny_model, tokenizer, device="cpu", max_new_tokens=12, temperature=1.0,
                               batch_size=8, seed=0)


def test_stop_tokens(tokenizer):
    ids = stop_token_ids(tokenizer)
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in ids
    assert tokenizer.convert_tokens_to_ids("<|endoftext|>") in ids


def test_batched_generation_with_left_padding(backend, samples):
    reqs = [GenerationRequest(messages=[{"role": "user", "content": e.question}], tools=e.tools, episode=f"e{i}")
            for i, e in enumerate(samples)]
    gens = backend.generate_sync(reqs)
    assert len(gens) == len(samples)
    for g, r in zip(gens, reqs):
        assert isinstance(g.text, str) and g.error is None
        assert g.usage["prompt_tokens"] == len(backend.renderer.next_prompt("", r.messages, r.tools)[1])
        assert 1 <= g.usage["completion_tokens"] <= 12


def test_rollout_end_to_end_scores_garbage(backend, pool, samples, tmp_path):
    out = tmp_path / "traj.jsonl"
    summary = rollout(samples, backend, out, config=RolloutConfig(samples=2, concurrency=8), executor=pool)
    assert summary.written == 16 and summary.failed == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert {(r["env_id"], r["sample"]) for r in rows} == {(e.id, s) for e in samples for s in range(2)}
    for r in rows:
        assert r["steps"] and all(isinstance(s["reward"], float) for s in r["steps"])
        assert r["model"] == "Qwen2ForCausalLM"


def test_make_backend_needs_a_known_name():
    with pytest.raises(ConfigError, match="--backend with one of openai, transformers, vllm, scripted"):
        make_backend(BackendConfig("llamacpp"))


def test_a_model_that_cannot_be_loaded_is_one_line_naming_the_flag(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(ConfigError, match="--model .*no-such-model: no such folder; give the folder") as err:
        make_backend(BackendConfig("transformers", Endpoint(model=str(tmp_path / "no-such-model"))))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="--tau-user-model .*no-such-model: no such folder"):
        make_backend(BackendConfig("transformers", Endpoint(model=str(tmp_path / "no-such-model"), flags="tau-user-")))


def test_a_saved_model_loads_from_its_folder_without_the_network(tmp_path, tiny_model, tokenizer):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolgym.models import model_source, pretrained

    folder = tmp_path / "saved"
    tiny_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert model_source(str(folder)) == {"local_files_only": True}  # no request leaves the machine
    model = pretrained(AutoModelForCausalLM, str(folder))
    assert model.config.vocab_size == tiny_model.config.vocab_size
    assert pretrained(AutoTokenizer, str(folder)).get_vocab() == tokenizer.get_vocab()
    (folder / "model.safetensors").unlink()  # a folder that lost its weights: transformers' error, one line
    with pytest.raises(ConfigError, match="--model .*saved: cannot load it") as err:
        pretrained(AutoModelForCausalLM, str(folder))
    assert "\n" not in str(err.value)


def test_vllm_backend_explains_how_to_install_it():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="vllm"):
            make_backend(BackendConfig("vllm", Endpoint(model="x")))
    else:  # pragma: no cover - GPU machines
        pytest.skip("vLLM is installed here; the backend is exercised on GPU machines")


def test_threads_and_generation_batch_size(tiny_model, tokenizer, pool, samples, tmp_path):
    import torch

    from toolgym.errors import ConfigError
    from toolgym.models import set_threads

    before = torch.get_num_threads()
    try:
        backend = TransformersBackend(tiny_model, tokenizer, device="cpu", max_new_tokens=4, temperature=1.0,
                                      batch_size=3, threads=1)
        assert torch.get_num_threads() == 1
        sizes = []
        run = backend._generate
        backend._generate = lambda prompts: sizes.append(len(prompts)) or run(prompts)
        rollout(samples, backend, tmp_path / "t.jsonl", config=RolloutConfig(samples=2, concurrency=16),
                executor=pool)
        # Many episodes in flight, at most --gen-batch-size prompts per generate call, and some full batches.
        assert max(sizes) == 3 and sum(sizes) >= 16
        with pytest.raises(ConfigError, match="--threads"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)
