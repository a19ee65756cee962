"""A tiny Qwen2 model and tokenizer saved to a folder, loadable by path like a real one (no model hub).

The tokenizer uses TRL's copy of the real Qwen2.5 chat template (shipped in the trl package), so TRL
recognises it for tool calling. ``chatty=True`` tilts the output layer so that the model often writes
``<tool_call>`` or ends early: its replies then get different rewards (-0.5, -0.3, 0), which gives the
RL trainers a non-zero advantage to learn from, as a real model's varied replies do.
"""

from __future__ import annotations

from pathlib import Path

from chat_fixtures import make_tokenizer


def qwen25_template() -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()


def save_tiny_model(folder: Path, *, chatty: bool = True, seed: int = 0) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = make_tokenizer(qwen25_template())
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    model = Qwen2ForCausalLM(config)
    if chatty:
        with torch.no_grad():
            head = model.lm_head.weight
            head[:, 0] *= 0.1
            head[tok.convert_tokens_to_ids("<tool_call>"), 0] = 0.8
            head[tok.eos_token_id, 0] = -2.0
            model.model.norm.weight[0] = 3.0
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder
