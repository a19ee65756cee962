"""Test backends for the benchmark adapters: replies scripted per episode and turn (the adapters name
each conversation's episode ``<benchmark>:<item id>``), recording every request they get."""

from toolgym.models import Generation


class Scripted:
    """``replies[episode]`` is the list of replies, one per turn; ``default`` answers anything else."""

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
                out.append(Generation(text=script(r)))
            elif script is not None and r.turn < len(script):
                out.append(Generation(text=script[r.turn]))
            else:
                out.append(Generation(text=self.default))
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
