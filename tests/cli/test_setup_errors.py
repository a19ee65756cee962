"""Errors a person can act on: a model that cannot be reached offline, a mistyped model path, a missing
optional extra. Each is one line naming the fix, exit code 2, no traceback -- the traceback only with
``toolgym --debug``. Run as the real command (``python -m toolgym``) in a fresh process, so that the Hugging
Face settings of its environment apply; no request leaves the machine."""

import os
import subprocess
import sys

import pytest

from toolgym.io import write_environments

pytest.importorskip("huggingface_hub")


@pytest.fixture()
def envs(tmp_path, samples):
    path = tmp_path / "envs.jsonl"
    write_environments(path, samples[:2])
    return path


def toolgym(tmp_path, *args, env=None, block=()):
    """``toolgym ARGS`` in a fresh process with an empty Hugging Face cache; ``block``: modules to hide, as if
    their extra were not installed."""
    environ = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "COLUMNS": "1000"}
    environ.pop("HF_HUB_OFFLINE", None)
    environ.update(env or {})
    code = ("import sys\n"
            f"for name in {list(block)!r}:\n    sys.modules[name] = None\n"
            "from toolgym.cli import main\n"
            f"sys.argv = ['toolgym', *{[str(a) for a in args]!r}]\n"
            "main()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=300, check=False)


def one_line(result, *needles):
    """Exit 2, one error line holding every needle, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def with_traceback(result, needle):
    assert result.returncode == 2 and "Traceback" in result.stderr and needle in result.stderr, result.stderr


def rollout(envs, tmp_path, model):
    return ("rollout", "--envs", envs, "--backend", "transformers", "--model", model, "--out", tmp_path / "t.jsonl")


def test_a_hub_model_that_is_not_cached_and_cannot_be_reached_is_one_line(envs, tmp_path):
    closed = {"HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing listens there: the hub cannot be reached
    result = toolgym(tmp_path, *rollout(envs, tmp_path, "Qwen/NoSuchModel-0.5B"), env=closed)
    one_line(result, "--model Qwen/NoSuchModel-0.5B is not in the Hugging Face cache", "cannot be reached",
             "hf download Qwen/NoSuchModel-0.5B", "local model folder")
    assert not (tmp_path / "t.jsonl").exists()
    offline = toolgym(tmp_path, *rollout(envs, tmp_path, "Qwen/NoSuchModel-0.5B"), env={"HF_HUB_OFFLINE": "1"})
    one_line(offline, "HF_HUB_OFFLINE is set", "hf download Qwen/NoSuchModel-0.5B")
    debug = toolgym(tmp_path, "--debug", *rollout(envs, tmp_path, "Qwen/NoSuchModel-0.5B"), env=closed)
    with_traceback(debug, "ConfigError")


def test_a_mistyped_model_path_is_one_line(envs, tmp_path):
    one_line(toolgym(tmp_path, *rollout(envs, tmp_path, "./models/mymodel")), "--model ./models/mymodel: no such folder")
    (tmp_path / "empty").mkdir()
    one_line(toolgym(tmp_path, *rollout(envs, tmp_path, tmp_path / "empty")), "without a config.json")
    one_line(toolgym(tmp_path, *rollout(envs, tmp_path, "not a model!")), "neither a folder here nor a Hugging Face")
    with_traceback(toolgym(tmp_path, "--debug", *rollout(envs, tmp_path, "./models/mymodel")), "no such folder")


def test_data_is_checked_before_the_model(tmp_path):
    missing = tmp_path / "missing.jsonl"
    one_line(toolgym(tmp_path, *rollout(missing, tmp_path, "./models/mymodel")), "missing.jsonl does not exist")


def test_a_missing_optional_extra_is_one_line(envs, tmp_path):
    backend = toolgym(tmp_path, *rollout(envs, tmp_path, "./models/mymodel"), block=["torch", "transformers"])
    one_line(backend, "the transformers backend needs the 'train' extra: pip install 'toolgym[train]'")
    # a command that imports its extra without asking first: the last-resort handler names the extra
    weights = toolgym(tmp_path, "analyse", "weights", tmp_path, tmp_path, block=["torch"])
    one_line(weights, "this needs torch, which is not installed: pip install 'toolgym[train]'")
    with_traceback(toolgym(tmp_path, "--debug", "analyse", "weights", tmp_path, tmp_path, block=["torch"]),
                   "ModuleNotFoundError")
