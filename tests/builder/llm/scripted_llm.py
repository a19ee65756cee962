"""A scripted OpenAI-compatible LLM for the builder tests (FastAPI, run with ``ServerThread``).

It reads each request as a model would: the stage from the template's heading, the seed and scenario
from the prompt, the stage's input from the JSON block under "## Input", and the attempt from the number
of assistant turns. By default it plays every stage competently over an invented world of "twinned
cities" (any scenario, hops and width, every complexity level); ``script`` replaces its replies for a
seed and a stage (one reply per attempt, the last repeated; a reply is text or a function of the input).
Faults: HTTP 500 / 429 on the listed request numbers; ``latency_s`` per request stands in for a real
server's generation time. Every request is logged.
"""

import asyncio
import hashlib
import json
import re
import time

STAGE_RE = re.compile(r"^# (?:Stage (\d) of 5|Hybrid builder)", re.MULTILINE)
STAGE_BY_NUMBER = {"1": "decompose", "2": "document", "3": "integrate", "4": "scale", "5": "deploy"}
SEED_RE = re.compile(r"^Seed[^:\n]*: (.*)$", re.MULTILINE)
SCENARIO_RE = re.compile(r"^Scenario: (\w+) \(hops: (\d+), width: (\d+)\)$", re.MULTILINE)
LEVELS_RE = re.compile(r"^Levels: (\{.*\})$", re.MULTILINE)
INPUT_RE = re.compile(r"## Input\s*```json\n(.*?)\n```", re.DOTALL)
TWIN_RE = re.compile(r"twinned with (Qx[0-9a-f]+)\?")


def city(seed: str, k: int) -> str:
    return "Qx" + hashlib.sha1(f"{seed}:{k}".encode()).hexdigest()[:8]


# ---- the competent model ----------------------------------------------------------------------------------

def _subq(i, seed, source, deps):
    return {"id": i, "question": f"Which city is twinned with {source}?", "answer": city(seed, 100 + i),
            "depends_on": deps}


def decompose(seed, scenario, hops, width):
    """Branches of chained 'twin of' lookups: branch 0 is ``hops`` long, the others one hop."""
    lengths = {"single_hop": [1], "parallel_single_hop": [1] * width, "multi_hop": [hops],
               "parallel_multi_hop": [max(hops, 2)] + [1] * (max(width, 2) - 1)}[scenario]
    subqs, leaves, starts = [], [], []
    for b, length in enumerate(lengths):
        source, deps = city(seed, b), []
        starts.append(source)
        for _ in range(length):
            q = _subq(len(subqs) + 1, seed, source, deps)
            subqs.append(q)
            source, deps = q["answer"], [q["id"]]
        leaves.append(source)
    question = "Which cities are the twins, through " + ", ".join(
        f"{n} twinning step(s) from {s}" for n, s in zip(lengths, starts)) + "?"
    return {"question": question, "answer": ", ".join(leaves), "subquestions": subqs}


def _params(extra=None):
    props = {"city": {"type": "string", "description": "The city's name."}, **(extra or {})}
    return {"type": "object", "properties": props, "required": ["city"]}


def document(inp):
    tools = []
    for q in inp["subquestions"]:
        source = TWIN_RE.search(q["question"]).group(1)
        tools.append({"subquestion": q["id"], "name": f"twin_lookup_{q['id']}", "parameters": _params(),
                      "description": "Return the twin city of a city, from the twinning registry.",
                      "arguments": {"city": source}})
    return {"tools": tools}


def integrate(inp):
    tool = {"name": "twin_lookup", "description": "Return the twin city of a city, from the twinning registry.",
            "parameters": _params()}
    return {"tools": [tool], "calls": [{**c, "tool": "twin_lookup"} for c in inp["calls"]]}


def scale(inp, levels):
    tools = [dict(t) for t in inp["tools"]]
    if levels.get("parameters", 0) >= 1:
        for t in tools:
            t["parameters"] = _params({"verbose": {"type": "boolean", "description": "Say where it comes from."}})
    if levels.get("toolset", 0) >= 1:
        tools.append({"name": "mayor_lookup", "description": "Return the mayor of a city, from the city registry.",
                      "parameters": _params()})
    return {"tools": tools, "calls": inp["calls"]}


def lookup_code(name, rows, field):
    return (f"ROWS = {rows!r}\n\n\n"
            f"def {name}(city=None, verbose=False, **extra):\n"
            "    if extra:\n"
            "        return \"Error: unknown parameter(s) \" + \", \".join(sorted(extra)) + \".\"\n"
            "    if not isinstance(city, str) or not city.strip():\n"
            "        return \"Error: 'city' is required: the city's name as a string.\"\n"
            "    row = ROWS.get(city.strip().lower())\n"
            "    if row is None:\n"
            "        return \"Error: no city called \" + repr(city) + \" in the registry.\"\n"
            f"    return {{'city': city, {field!r}: row}}\n")


def deploy(inp):
    code = {}
    for t in inp["tools"]:
        name = t["name"]
        mine = [c for c in inp["calls"] if c["tool"] == name]
        if mine:
            rows = {c["arguments"]["city"].lower(): c["expected"] for c in mine}
            rows.update({f"other{k}": f"Elsewhere{k}" for k in range(2)})
            code[name] = lookup_code(name, rows, "twin")
        else:
            code[name] = lookup_code(name, {"sample town": "Mayor Dorn", "far city": "Mayor Quill"}, "mayor")
    return {"code": code}


def rewrite(inp):
    tools = [{"name": t["name"], "new_name": "tg_" + t["name"], "description": "Rewritten: " + t["description"],
              "parameters": {p: "Rewritten: " + d for p, d in list(t["parameters"].items())[:1]}}
             for t in inp["tools"]]
    messages = [{"old": m, "new": m.replace("Error", "Error (rewritten)", 1)} for m in inp["error_messages"][:3]]
    return {"question": "Please help: " + inp["question"], "tools": tools, "error_messages": messages}


def competent(stage, prompt, inp):
    if stage == "decompose":
        scenario, hops, width = SCENARIO_RE.search(prompt).groups()
        return decompose(SEED_RE.search(prompt).group(1), scenario, int(hops), int(width))
    if stage == "scale":
        return scale(inp, json.loads(LEVELS_RE.search(prompt).group(1)))
    return {"document": document, "integrate": integrate, "deploy": deploy, "rewrite": rewrite}[stage](inp)


# ---- faults, as scripted replies --------------------------------------------------------------------------

def code_of(body):
    """A deploy reply whose every tool has ``body`` (the tool's parameters: city=None, **extra)."""
    return lambda inp: json.dumps({"code": {t["name"]: f"def {t['name']}(city=None, **extra):\n{body}"
                                            for t in inp["tools"]}})


RAISES = code_of("    raise RuntimeError('the registry is down')\n")
LOOPS = code_of("    while True:\n        pass\n")
WRONG = code_of("    return {'city': city, 'twin': 'Nowhere Special'}\n")


def no_def(inp):  # code that does not define the tool it is for
    return json.dumps({"code": {t["name"]: "def something_else():\n    return 1\n" for t in inp["tools"]}})


def utils_json(inp):
    """Code that works only where the paper's utils module is the tool's globals: ``json`` without an import.
    The sandbox and the paper's executor disagree on it, and no wrapping can repair it."""
    code = {}
    for t in inp["tools"]:
        rows = {c["arguments"]["city"].lower(): c["expected"] for c in inp["calls"] if c["tool"] == t["name"]}
        code[t["name"]] = (f"def {t['name']}(city=None, **extra):\n    rows = {rows!r}\n"
                           "    return json.dumps({'city': city, 'twin': rows.get(str(city).lower(), 'unknown')})\n")
    return json.dumps({"code": code})


def leaky(inp):  # answers whatever it is asked: the perturbed-arguments check catches it
    answers = {t["name"]: [c["expected"] for c in inp["calls"] if c["tool"] == t["name"]] for t in inp["tools"]}
    return json.dumps({"code": {n: f"def {n}(city=None, **extra):\n    return {{'twins': {a!r}}}\n"
                                for n, a in answers.items()}})


# ---- the server -------------------------------------------------------------------------------------------

def _reply(spec, stage, prompt, inp):
    if spec is None:
        return json.dumps(competent(stage, prompt, inp))
    return spec(inp) if callable(spec) else spec


def create_llm_app(script=None, *, status_500=(), status_429=(), latency_s=0.0):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.requests import ClientDisconnect

    script = script or {}
    app = FastAPI()
    app.state.requests = 0
    app.state.log = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        try:
            body = await request.json()
        except ClientDisconnect:  # the builder had enough environments and cancelled this one
            return JSONResponse({}, status_code=499)
        app.state.requests += 1
        n = app.state.requests
        if latency_s:
            await asyncio.sleep(latency_s)
        if n in status_500:
            return JSONResponse({"error": {"message": "injected"}}, status_code=500)
        if n in status_429:
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429)
        messages = body["messages"]
        prompt = messages[1]["content"]
        number = STAGE_RE.search(prompt).group(1)
        stage = STAGE_BY_NUMBER[number] if number else "rewrite"
        seed = (SEED_RE.search(prompt) or re.match("(.*)", "")).group(1)
        attempt = sum(1 for m in messages if m["role"] == "assistant")
        found = INPUT_RE.search(prompt)
        inp = json.loads(found.group(1)) if found else None
        replies = script.get(seed, {}).get(stage) or script.get("*", {}).get(stage)
        spec = replies(inp, attempt) if callable(replies) else (replies[min(attempt, len(replies) - 1)]
                                                                 if replies else None)
        text = _reply(spec, stage, prompt, inp)
        app.state.log.append({"stage": stage, "seed": seed, "attempt": attempt, "last": messages[-1]["content"],
                              "body": body})
        usage = {"prompt_tokens": sum(len(m["content"]) for m in messages) // 4, "completion_tokens": len(text) // 4}
        return {"id": f"cmpl-{n}", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {**usage, "total_tokens": sum(usage.values())}}

    return app
