"""A tiny tokenizer built in the test (``toolgym model init``'s, no model hub), and Qwen-style chat templates
written here:
``HERMES`` renders like Qwen2.5 (tools in the system prompt, ``<tool_call>`` blocks, ``<tool_response>``
in user turns); ``THINKING`` also renders reasoning as Qwen3's template (``trl/chat_templates/qwen3.jinja``)
does: an assistant turn after the last real user message (one that is not a wrapped ``<tool_response>``)
keeps its ``<think>`` block when it has reasoning (``reasoning_content``, or a ``<think>`` block in its
content), and the last turn always has one; the reasoning of turns before that user message is dropped. So
in a tool-calling episode with one question every earlier reasoning stays in the prompt; only a later user
message (such as the malformed-call feedback) drops it."""

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
    "LAST_QUERY"
    "{%- for m in messages -%}"
    "{%- if m.role == 'system' and loop.first -%}"
    "{%- elif m.role == 'user' or m.role == 'system' -%}<|im_start|>{{ m.role }}" + NL + "{{ m.content }}<|im_end|>" + NL
    + "{%- elif m.role == 'assistant' -%}<|im_start|>assistant" + NL
    + "{%- set content = m.content or '' -%}"
    "ASSISTANT_PREFIX"
    "{{ content }}"
    "{%- for c in m.tool_calls or [] -%}{%- if content or not loop.first -%}" + NL + "{%- endif -%}"
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
HERMES = TOOLS_HEADER + BODY.replace("LAST_QUERY", "").replace("ASSISTANT_PREFIX", "").replace("GENERATION_SUFFIX", "")
# Qwen3's rule: the index of the last user message that is a real query (not a wrapped tool response) ...
LAST_QUERY = (
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) -%}"
    "{%- for m in messages[::-1] -%}{%- set index = (messages|length - 1) - loop.index0 -%}"
    "{%- if ns.multi_step_tool and m.role == 'user' and m.content is string and not "
    "(m.content.startswith('<tool_response>') and m.content.endswith('</tool_response>')) -%}"
    "{%- set ns.multi_step_tool = false -%}{%- set ns.last_query_index = index -%}{%- endif -%}{%- endfor -%}"
)
# ... and an assistant turn after it shows its reasoning (set apart, or split off its content) when it has
# some, or when it is the last turn; a turn before it shows its content only
REASONING = (
    "{%- set reasoning = m.reasoning_content if m.reasoning_content is string else '' -%}"
    "{%- if m.reasoning_content is not string and '</think>' in content -%}"
    "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') -%}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}{%- endif -%}"
    "{%- if loop.index0 > ns.last_query_index and (loop.last or reasoning) -%}<think>" + NL
    + "{{ reasoning.strip('\\n') }}" + NL + "</think>" + NL + NL + "{%- set content = content.lstrip('\\n') -%}"
    "{%- endif -%}"
)
THINKING = TOOLS_HEADER + BODY.replace("LAST_QUERY", LAST_QUERY).replace("ASSISTANT_PREFIX", REASONING).replace(
    "GENERATION_SUFFIX",
    "{%- if enable_thinking is defined and not enable_thinking -%}<think>" + NL + NL + "</think>" + NL + NL
    + "{%- endif -%}")



def make_tokenizer(template: str = HERMES, *, tags_special: bool = False):
    """``toolgym model init``'s tokenizer (BPE trained on the sample environments' text; the tool and reasoning
    tags and the template's fixed strings as single, non-special tokens) with ``template`` as its chat template.

    ``tags_special=True`` builds the mistake some tokenizers make: tags registered as special tokens, which
    vanish when decoding skips special tokens (as TRL and verl do before scoring)."""
    from toolgym.samples import sample_environments
    from toolgym.train.starter import TAG_TOKENS, corpus, train_tokenizer

    tok = train_tokenizer(corpus(sample_environments()), template=template, vocab_size=600)
    if tags_special:
        import json

        from tokenizers import Tokenizer
        from transformers import PreTrainedTokenizerFast

        spec = json.loads(tok.backend_tokenizer.to_str())
        for added in spec["added_tokens"]:
            added["special"] = added["special"] or added["content"] in TAG_TOKENS
        tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)), eos_token="<|im_end|>",
                                      pad_token="<|endoftext|>", additional_special_tokens=["<|im_start|>", "<|im_end|>"])
        tok.chat_template = template
    return tok
