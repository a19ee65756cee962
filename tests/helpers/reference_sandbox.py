"""The reference's ``get_feedback`` (``Code/utils/utils.py``) with toolgym's executor behind it.

Tests that compare toolgym's reward or per-turn cut with the paper's code on environments whose tools
read module-level data (the samples; the reference's exec-in-a-function scoping would not give them that
data) swap only the executor: the reference's parsing, matching and counting stay its own.
"""

import json

from toolgym.sandbox import ExecRequest


def feedback_from(executor):
    """A ``get_feedback(tool_calls, codes)`` returning the reference's tool messages, run by ``executor``."""

    def get_feedback(tool_calls, codes, **_):
        requests = [ExecRequest(c["function"]["name"], json.loads(c["function"]["arguments"]), codes)
                    for c in tool_calls]
        return [{"role": "tool", "content": r.output, "tool_call_id": c["id"]}
                for c, r in zip(tool_calls, executor.run(requests))]

    return get_feedback
