"""Test backends for the benchmark adapters: replies scripted per episode and turn (the adapters name
each conversation's episode ``<benchmark>:<item id>``), recording every request they get."""

from toolgym.models import Generation


def _generation(reply):
    """A reply as a generation: text, or a chat message (dict: native tool calls, arguments kept raw)."""
    if isinstance(reply, dict):
        return Generation(text=reply.get("content") or "", message={k: v for k, v in reply.items() if v is not None})
    return Generation(text=reply)


class Scripted:
    """``replies[episode]`` is the list of replies (text or chat messages), one per turn; ``default``
    answers anything else."""

    name = "scripted-test"

    def __init__(self, replies, default="I do not know.", model="scripted-test"):
        self.replies, self.default, self.model = replies, default, model
        self.requests = []

    async def generate(self, requests):
        out = []
        for r in requests:
            self.requests.append(r)
            script = self.replies.get(r.episode)
            if callable(script):
                out.append(_generation(script(r)))
            elif script is not None and r.turn < len(script):
                out.append(_generation(script[r.turn]))
            else:
                out.append(_generation(self.default))
        return out

    async def aclose(self):
        return None


class Failing:
    """A backend whose requests all fail for good (what the OpenAI backend returns after its retries)."""

    name = "failing"
    model = "failing"

    async def generate(self, requests):
        return [Generation(error="HTTP 500 after 5 attempts") for _ in requests]

    async def aclose(self):
        return None


def call(name, **arguments):
    import json

    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"
