"""The real chat templates of the model families toolgym trains, each with a small tokenizer built here (no
model hub), and a local backend that renders through toolgym's ``ChatRenderer`` and "generates" set replies.

Templates:

* ``qwen2.5``, ``qwen3`` (thinking on and off) and ``llama3.1`` (Meta's): the copies the installed ``trl``
  package ships in ``trl/chat_templates/`` (``qwen2_5.jinja``, ``qwen3.jinja``, ``llama3_1.jinja``);
* ``llama3.1-vllm-json``: vLLM's ``examples/tool_chat_template_llama3.1_json.jinja`` (vllm-project/vllm at
  545227602f2569dfe61adb608beb7bb69fc55fa8, Apache-2.0), kept in ``templates/`` beside this file because no
  installed package ships it. It stamps today's date into the prompt (``strftime_now``).

Tokenizers: Qwen's (``chat_fixtures.make_tokenizer``: ``<|im_start|>``/``<|im_end|>`` special, the tool and
reasoning tags single non-special tokens), and Llama 3's built here: its header and end-of-turn tokens
special, ``<|python_tag|>`` too, and a post-processor that adds ``<|begin_of_text|>`` when text is
tokenized with special tokens -- as Llama 3's own tokenizer does, which is what makes TRL's text prompts
carry a second BOS unless the text leaves the template's out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
LLAMA_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                 "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>"]


def trl_template(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / name).read_text()


def vllm_llama_json_template() -> str:
    return (HERE / "templates" / "llama3_1_vllm_json.jinja").read_text()


def make_llama_tokenizer(template: str):
    """A byte-level BPE tokenizer with Llama 3's special tokens and BOS handling, and ``template``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from toolgym.samples import sample_environments

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = []
    for env in sample_environments():
        texts += [env.question, str(env.answer)] + [str(t) for t in env.tools]
    texts += ['{"name": "get_city_info", "parameters": {"city": "Orlay"}}', "Environment: ipython Cutting Knowledge"]
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=LLAMA_SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts * 5, trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in LLAMA_SPECIAL])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                                       special_tokens=[("<|begin_of_text|>", bos)])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                 pad_token="<|finetune_right_pad_id|>",
                                 additional_special_tokens=LLAMA_SPECIAL[2:7])
    hf.chat_template = template
    return hf


@dataclass(frozen=True)
class Template:
    """A chat template under test: how to build its tokenizer, the template settings, the tool format its
    model writes, and whether its model thinks first."""

    name: str
    source: str
    family: str  # qwen | llama
    kwargs: dict[str, Any] = field(default_factory=dict)
    tool_format: str = "hermes"
    thinks: bool = False

    def tokenizer(self):
        text = vllm_llama_json_template() if self.source == "vllm" else trl_template(self.source)
        if self.family == "llama":
            return make_llama_tokenizer(text)
        from chat_fixtures import make_tokenizer

        return make_tokenizer(text)


TEMPLATES = [
    Template("qwen2.5", "qwen2_5.jinja", "qwen"),
    Template("qwen3-thinking", "qwen3.jinja", "qwen", {"enable_thinking": True}, thinks=True),
    Template("qwen3-no-thinking", "qwen3.jinja", "qwen", {"enable_thinking": False}),
    Template("llama3.1", "llama3_1.jinja", "llama", tool_format="llama3"),
    Template("llama3.1-vllm-json", "vllm", "llama", tool_format="llama3"),
]


def scripted_local_backend(tokenizer, template_kwargs: dict[str, Any], replies, *, odd_tokens: bool = False):
    """A local backend that renders every prompt through ``ChatRenderer`` exactly as the transformers and
    vLLM backends do (``_LocalBackend``), feeds the prompt's token ids to a "model" that answers with
    ``replies(request)``, and keeps what it was fed: ``seen[(episode, turn)] = (text, ids)``.

    ``odd_tokens``: the model writes its reply in tokens the tokenizer would not choose for the text (one
    token per character), as a sampled reply can be."""
    from toolgym.models._local import _LocalBackend

    class ScriptedLocal(_LocalBackend):
        name = "scripted-local"
        model = "scripted-local"

        def __init__(self):
            super().__init__(tokenizer, batch_size=8, batch_wait_s=0.0, enable_thinking=None,
                             template_kwargs=template_kwargs)
            self.seen: dict[tuple[str, int], tuple[str, list[int]]] = {}
            self._requests = []

        def generate_sync(self, requests):
            self._requests = list(requests)
            return super().generate_sync(requests)

        def _generate(self, prompts):
            out = []
            for req, ids in zip(self._requests, prompts, strict=True):
                self.seen[(req.episode, req.turn)] = (tokenizer.decode(ids, skip_special_tokens=False), list(ids))
                text = replies(req)
                if odd_tokens:
                    reply = [i for ch in text for i in tokenizer(ch, add_special_tokens=False)["input_ids"]]
                else:
                    reply = tokenizer(text, add_special_tokens=False)["input_ids"]
                assert tokenizer.decode(reply, skip_special_tokens=False) == text
                out.append((text, reply, len(reply) + 1))
            return out

    return ScriptedLocal()
