"""One tool-call parser: model output -> (content, tool calls, malformed calls).

Formats: Qwen/Hermes ``<tool_call>{...}</tool_call>`` blocks (the paper's), OpenAI ``tool_calls``
objects, and Llama 3.1 JSON tool calls. Parsing never raises; a call that cannot be read is returned
in ``malformed`` so the reward can tell.
"""

from ._core import ParsedResponse, as_text, clean_response, parse, strip_think
from ._hermes import parse_hermes
from ._llama import parse_llama3
from ._openai import parse_openai_message

PARSERS = {
    "hermes": parse_hermes,
    "qwen": parse_hermes,
    "llama3": parse_llama3,
}

__all__ = [
    "PARSERS",
    "ParsedResponse",
    "as_text",
    "clean_response",
    "parse",
    "parse_hermes",
    "parse_llama3",
    "parse_openai_message",
    "strip_think",
]
