"""A tiny tokenizer built in the test (no model hub), and Qwen-style chat templates written here:
``HERMES`` renders like Qwen2.5 (tools in the system prompt, ``<tool_call>`` blocks, ``<tool_response>``
in user turns); ``THINKING`` also renders a ``<think>`` block for the last assistant turn only and drops
the reasoning of earlier ones, as Qwen3's template does."""

NL = "{{ '\\n' }}"
TOOLS_HEADER = (
    "{%- if tools -%}<|im_start|>system" + NL +
    "{%- if messages[0].role == 'system' -%}{{ messages[0].content }}{%- else -%}You are a helpful assistant.{%- endif -%}"
    + NL + NL + "# Tools" + NL + NL + "<tools>{%- for tool in tools -%}" + NL + "{{ tool | tojson }}{%- endfor -%}"
    + NL + "</tools>" + NL + NL
    + "Call a function with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>.<|im_end|>" + NL
    + "{%- elif messages[0].role == 'system' -%}<|im_start|>system" + NL + "{{ messages[0].content }}<|im_end|>" + NL
    + "{%- endif -%}"
)
BODY = (
    "{%- for m in messages -%}"
    "{%- if m.role == 'system' and loop.first -%}"
    "{%- elif m.role == 'user' or m.role == 'system' -%}<|im_start|>{{ m.role }}" + NL + "{{ m.content }}<|im_end|>" + NL
    + "{%- elif m.role == 'assistant' -%}<|im_start|>assistant" + NL
    + "ASSISTANT_PREFIX"
    "{{ m.content or '' }}"
    "{%- for c in m.tool_calls or [] -%}{%- if m.content or not loop.first -%}" + NL + "{%- endif -%}"
    "<tool_call>" + NL + "{\"name\": \"{{ c.function.name }}\", \"arguments\": {{ c.function.arguments | tojson }}}"
    + NL + "</tool_call>"
    "{%- endfor -%}<|im_end|>" + NL
    + "{%- elif m.role == 'tool' -%}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}<|im_start|>user{%- endif -%}"
    + NL + "<tool_response>" + NL + "{{ m.content }}" + NL + "</tool_response>"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}<|im_end|>" + NL + "{%- endif -%}"
    "{%- endif -%}{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant" + NL + "GENERATION_SUFFIX{%- endif -%}"
)
HERMES = TOOLS_HEADER + BODY.replace("ASSISTANT_PREFIX", "").replace("GENERATION_SUFFIX", "")
THINKING = TOOLS_HEADER + BODY.replace(
    "ASSISTANT_PREFIX",
    "{%- if loop.last -%}<think>" + NL + "{{ m.reasoning_content or '' }}" + NL + "</think>" + NL + NL + "{%- endif -%}",
).replace("GENERATION_SUFFIX",
          "{%- if enable_thinking is defined and not enable_thinking -%}<think>" + NL + NL + "</think>" + NL + NL
          + "{%- endif -%}")

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ADDED = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"]


def make_tokenizer(template: str = HERMES, *, tags_special: bool = False):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = ['{"name": "get_city_info", "arguments": {"city": "Orlay", "field": "population"}}',
              "The answer is Talmerian crown. population temperature country capital currency"] * 20
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    # As in Qwen's tokenizers, the tool and reasoning tags are single tokens but not "special": decoding with
    # skip_special_tokens=True (as TRL and verl do before scoring) keeps them.
    # (``tags_special=True`` builds the mistake: tags that vanish when decoding skips special tokens.)
    tok.add_tokens([AddedToken(t, special=tags_special, normalized=False) for t in ADDED])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                 additional_special_tokens=SPECIAL[1:])
    hf.chat_template = template
    return hf
