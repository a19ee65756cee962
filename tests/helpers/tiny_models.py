"""A tiny Qwen2 model and tokenizer saved to a folder by ``toolgym model init`` (no model hub), loadable by
path like a real one, with the real Qwen2.5 chat template (TRL's copy), so TRL recognises it for tool calling.

``chatty=True`` tilts the output layer so that the model often writes ``<tool_call>`` or ends early: its replies
then get different rewards (-0.5, -0.3, 0), which gives the RL trainers a non-zero advantage to learn from, as a
real model's varied replies do.
"""

from __future__ import annotations

from pathlib import Path


def save_tiny_model(folder: Path, *, chatty: bool = True, seed: int = 0) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from toolgym.samples import sample_environments
    from toolgym.train.starter import model_init

    model_init(sample_environments(), folder, size="tiny", vocab_size=600, seed=seed, overwrite=True)
    if chatty:
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
        with torch.no_grad():
            # An output layer of its own (model init ties it to the input embeddings), tilted alone.
            model.lm_head.weight = torch.nn.Parameter(model.model.embed_tokens.weight.detach().clone())
            model.config.tie_word_embeddings = False
            head = model.lm_head.weight
            head[:, 0] *= 0.1
            head[tok.convert_tokens_to_ids("<tool_call>"), 0] = 0.8
            head[tok.eos_token_id, 0] = -2.0
            model.model.norm.weight[0] = 3.0
        model.save_pretrained(str(folder))
    return folder
