"""One tool-call parser: model output -> (content, tool calls, malformed calls).

Formats: Qwen/Hermes ``<tool_call>{...}</tool_call>`` blocks (the paper's ``parse_qwen``), OpenAI
``tool_calls`` objects, and Llama 3.1 JSON tool calls (the paper's ``parse_llama31``, one call a reply; or
several, read strictly). Parsing never raises; a call that cannot be read is returned in ``malformed`` so
the reward can tell. :class:`ToolFormat` names how a model family writes its calls (``--tool-format``) and
:func:`read_reply` is the one reading of a reply in a format.
"""

from ._core import ParsedResponse, as_text, clean_response, parse, strip_think
from ._formats import FORMAT_NAMES, TOOL_FORMATS, Reply, ToolFormat, plain_reply, read_reply, tool_format
from ._hermes import parse_hermes
from ._llama import parse_llama3, parse_llama31
from ._openai import content_text, parse_openai_message

PARSERS = {
    "hermes": parse_hermes,
    "qwen": parse_hermes,
    "llama3": parse_llama31,  # the paper's reading of a Llama 3.1 reply
    "llama3_multi": parse_llama3,
}

__all__ = [
    "FORMAT_NAMES",
    "PARSERS",
    "TOOL_FORMATS",
    "ParsedResponse",
    "Reply",
    "ToolFormat",
    "as_text",
    "clean_response",
    "content_text",
    "parse",
    "parse_hermes",
    "parse_llama3",
    "parse_llama31",
    "parse_openai_message",
    "plain_reply",
    "read_reply",
    "strip_think",
    "tool_format",
]
