"""The fake OpenAI-compatible server as a user runs it: ``toolgym serve-fake`` (here ``python -m toolgym
serve-fake``) in its own process, a start-up line naming its URL, ``/v1/models``, and the
refusals a real server gives (unknown model: 404, wrong key: 401)."""

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

from toolgym.cli import app as cli
from toolgym.io import write_environments

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def _get(url, key=None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _post(url, body, key=None):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _first_line(proc, limit_s=60.0):
    """The process's first line of output (generous limit: the machine may be busy)."""
    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(limit_s)
    return line[0] if line else ""


def test_the_server_runs_as_a_command_and_says_where_it_listens(samples, tmp_path):
    from toolgym.models.fake_server import free_port

    envs = tmp_path / "envs.jsonl"
    write_environments(envs, samples)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "toolgym", "serve-fake", "--envs", str(envs), "--port",
                             str(port), "--model", "fake-7b", "--api-key", "sesame"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        line = _first_line(proc)
        url = f"http://127.0.0.1:{port}/v1"
        assert f"fake OpenAI-compatible server at {url}" in line and "fake-7b" in line, line
        status, listing = _get(url + "/models", "sesame")
        assert status == 200 and [m["id"] for m in listing["data"]] == ["fake-7b"]
        assert _get(url + "/models")[0] == 401
        body = {"model": "fake-7b", "messages": [{"role": "user", "content": samples[0].question}],
                "tools": samples[0].tools}
        status, reply = _post(url + "/chat/completions", body, "sesame")
        call = reply["choices"][0]["message"]["tool_calls"][0]["function"]
        assert status == 200 and call["name"] == samples[0].solution[0][0].name
        status, reply = _post(url + "/chat/completions", {**body, "model": "gpt-4o"}, "sesame")
        assert status == 404 and "gpt-4o" in reply["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_any_model_name_is_served_when_none_is_set(samples):
    from toolgym.models.fake_server import FAKE_MODEL, ServerThread, create_app

    with ServerThread(create_app(samples)) as url:
        assert [m["id"] for m in _get(url + "/models")[1]["data"]] == [FAKE_MODEL]
        body = {"model": "whatever", "messages": [{"role": "user", "content": "Who are you?"}]}
        status, reply = _post(url + "/chat/completions", body)
    assert status == 200 and reply["choices"][0]["message"]["content"] == "I do not know."


def test_option_errors_name_the_fix(tmp_path, samples):
    envs = tmp_path / "envs.jsonl"
    write_environments(envs, samples)
    r = CliRunner().invoke(cli, ["serve-fake", "--envs", str(envs), "--error-rate", "typo=1"])
    assert r.exit_code == 2 and "wrong_argument" in r.output
    r = CliRunner().invoke(cli, ["serve-fake", "--envs", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2 and "does not exist" in " ".join(r.output.split())
