"""A small model from scratch (``toolgym model init``): for smoke runs, teaching, tests and the learning check,
where no pretrained weights can be downloaded.

What it writes is a normal local model folder (``save_pretrained``), loadable by path by every backend and
trainer: a Qwen2-architecture causal LM of a chosen size with random weights, and a byte-level BPE tokenizer
trained on the text of an environments file, carrying the real Qwen2.5 chat template (TRL's copy,
``trl/chat_templates/qwen2_5.jinja``).

Two tokenizer choices make a small model's job learnable -- the job being to copy a tool's name and an entity's
name from the prompt into a call:

* Runs of letters are pre-tokenized alone (no leading space or quote glued on, as GPT-style tokenizers do), so a
  name is the same tokens in the question, in the tool list and inside the call's JSON: copying a name is
  copying tokens.
* The chat template's fixed strings (``You are Qwen, created by ...``, the tool-list preamble, ``\\n{"name": "``,
  ``", "arguments": ``) and the tool and reasoning tags are single tokens, so the prompt is short and the call
  format is a few tokens. As in Qwen's tokenizers, these are ordinary added tokens, not special ones:
  decoding with ``skip_special_tokens=True`` (TRL, verl) keeps them. Only ``<|endoftext|>``, ``<|im_start|>``
  and ``<|im_end|>`` are special.

torch, transformers, tokenizers and trl are imported only when a function here runs (the ``train`` extra).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io import atomic_write_text
from ..schema import Environment

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: The tool and reasoning tags: single tokens, not special (they survive ``skip_special_tokens=True``).
TAG_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>")
#: Letters alone, one digit at a time (as Qwen), whitespace runs, punctuation runs.
PRETOKENIZE = r"\p{L}+|\p{N}|\s+|[^\s\p{L}\p{N}]+"


@dataclass(frozen=True)
class ModelSize:
    """The shape of a Qwen2 model (``Qwen2Config`` fields)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads or self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(f"--hidden-size ({self.hidden_size}) must be a multiple of --heads "
                              f"({self.num_attention_heads}), and --heads a multiple of --kv-heads "
                              f"({self.num_key_value_heads})")


#: Named sizes. ``tiny`` is for tests (it learns nothing useful); ``micro`` learns the call format and to copy
#: names on 2 CPU cores within minutes; ``small`` and ``base`` are for a GPU.
SIZES: dict[str, ModelSize] = {
    "tiny": ModelSize(32, 2, 4, 2, 64),
    "nano": ModelSize(64, 2, 4, 2, 256),
    "micro": ModelSize(128, 4, 4, 4, 512),  # every head its own keys: copying needs several attention patterns
    "small": ModelSize(256, 6, 8, 4, 1024),
    "base": ModelSize(512, 8, 8, 4, 2048),
}


@dataclass(frozen=True)
class StarterReport:
    """What ``model init`` wrote."""

    path: Path
    size: str
    shape: ModelSize
    parameters: int
    vocab_size: int
    fixed_strings: int  # chat-template strings made single tokens
    environments: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def qwen25_template() -> str:
    """The real Qwen2.5 chat template, as shipped inside the installed ``trl`` package."""
    try:
        import trl
    except ImportError as exc:
        raise ConfigError("the Qwen2.5 chat template is read from the trl package: pip install 'toolgym[train]'"
                          ) from exc
    return (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()


def template_strings(template: str, *, min_chars: int = 4) -> list[str]:
    """The fixed strings a chat template writes (its literal text), cut at the special tokens and tags, keeping
    the pieces of at least ``min_chars`` characters that hold a letter or a quote and are more than one word (a bare
    ``\\n``, ``}`` or ``user`` stays with the BPE). Longest first."""
    import re

    import jinja2
    from jinja2 import nodes

    tree = jinja2.Environment().parse(template)
    # Only what the template writes: strings compared in its tests (``message.role == "user"``) are not output.
    keys = {id(g.arg) for g in tree.find_all(nodes.Getitem)}  # ``message['content']`` is not output either
    literals = [n.value for out in tree.find_all(nodes.Output) for n in out.find_all(nodes.Const)
                if isinstance(n.value, str) and id(n) not in keys]
    literals += [n.data for n in tree.find_all(nodes.TemplateData)]
    cut = re.compile("|".join(re.escape(t) for t in (*SPECIAL_TOKENS, *TAG_TOKENS)))
    pieces = {p for lit in literals for p in cut.split(lit)}
    # A lone word (``user``) stays with the BPE: as an added token it would also split ``users``.
    keep = [p for p in pieces if len(p) >= min_chars and re.search(r"[A-Za-z\"']", p) and not re.fullmatch(r"\w+", p)]
    return sorted(keep, key=lambda p: (-len(p), p))


def corpus(envs: Iterable[Environment]) -> Iterator[str]:
    """The text a tokenizer for these environments must cover: questions, tool documents (as the chat template
    writes them), gold calls, expected answers and final answers."""
    for e in envs:
        yield e.question
        for tool in e.tools:
            yield json.dumps(tool, ensure_ascii=False)
        for turn in e.solution:
            for call in turn:
                yield call.to_hermes()
        for answers in e.expected.values():
            yield from answers
        if e.answer:
            yield f"The answer is {e.answer}."


def train_tokenizer(texts: Iterable[str], *, template: str | None = None, vocab_size: int = 4096):
    """A byte-level BPE tokenizer trained on ``texts`` (see the module docstring), with ``template`` as its chat
    template (default: the real Qwen2.5 template)."""
    try:
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import PreTrainedTokenizerFast
    except ImportError as exc:
        raise ConfigError("model init needs the 'train' extra: pip install 'toolgym[train]'") from exc
    template = template if template is not None else qwen25_template()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fixed = [t for t in template_strings(template) if t not in TAG_TOKENS]
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in (*TAG_TOKENS, *fixed)])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=list(SPECIAL_TOKENS[1:]))
    hf.chat_template = template
    return hf


def init_model(tokenizer, shape: ModelSize, *, seed: int = 0, max_positions: int = 8192):
    """A Qwen2 causal LM with random weights over ``tokenizer``'s vocabulary (tied embeddings)."""
    try:
        import torch
        from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
    except ImportError as exc:
        raise ConfigError("model init needs the 'train' extra: pip install 'toolgym[train]'") from exc
    stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=shape.hidden_size,
                         intermediate_size=shape.intermediate_size, num_hidden_layers=shape.num_hidden_layers,
                         num_attention_heads=shape.num_attention_heads, num_key_value_heads=shape.num_key_value_heads,
                         max_position_embeddings=max_positions, tie_word_embeddings=True, bos_token_id=None,
                         eos_token_id=stops[0], pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
    return model


def resolve_size(size: str, overrides: dict[str, int | None] | None = None) -> ModelSize:
    """A named size (:data:`SIZES`), with any field overridden."""
    if size not in SIZES:
        raise ConfigError(f"unknown --size {size!r}; use one of {', '.join(SIZES)}")
    fields = {**asdict(SIZES[size]), **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return ModelSize(**fields)


def model_init(envs: Sequence[Environment], out: str | Path, *, size: str = "micro",
               overrides: dict[str, int | None] | None = None, vocab_size: int = 4096, seed: int = 0,
               template: str | None = None, max_positions: int = 8192, overwrite: bool = False) -> StarterReport:
    """Train a tokenizer on ``envs``, make a model of ``size`` and save both to ``out`` (a model folder)."""
    out = Path(out)
    if (out / "config.json").exists() and not overwrite:
        raise ConfigError(f"{out} already holds a model; give another --out or --overwrite")
    if not envs:
        raise ConfigError("model init needs environments to train the tokenizer on (--envs)")
    shape = resolve_size(size, overrides)
    t0 = time.perf_counter()
    tokenizer = train_tokenizer(corpus(envs), template=template, vocab_size=vocab_size)
    model = init_model(tokenizer, shape, seed=seed, max_positions=max_positions)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    report = StarterReport(out, size, shape, sum(p.numel() for p in model.parameters()), len(tokenizer),
                           len(template_strings(tokenizer.chat_template)), len(envs), time.perf_counter() - t0)
    atomic_write_text(out / "toolgym_init.json", json.dumps({"kind": "toolgym-model-init", "seed": seed,
                                                             "vocab_size_asked": vocab_size, **report.to_dict()},
                                                            indent=2) + "\n")
    return report
