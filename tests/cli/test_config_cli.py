"""``--config FILE`` and ``--print-config`` on every long command: what --print-config writes, --config reads
back; options on the command line win over the file; a required option can come from the file; a key the
command does not have is a one-line error; and the file really configures the run."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from toolgym.cli import app
from toolgym.io import write_environments

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


# each long command with the options it requires, and one option with its default as printed
COMMANDS = [
    (["build"], [], ("n", 1000)),
    (["rollout"], ["--envs", "e.jsonl", "--out", "t.jsonl"], ("temperature", 0.0)),
    (["eval"], ["--envs", "e.jsonl"], ("max_turns", 20)),
    (["loop"], ["--envs", "e.jsonl", "--model", "m", "--out", "runs/loop"], ("learning_rate", 1e-6)),
    (["bench"], ["m"], ("max_turns", 20)),
    (["train", "prepare"], ["--trajectories", "t.jsonl", "--envs", "e.jsonl", "--out", "data"], ("pairs", "none")),
    (["train", "trl"], ["--model", "m", "--out", "run"], ("temperature", 0.7)),
    (["train", "verl"], ["--model", "m", "--data", "data", "--out", "run"], ("loss_aggregation", "seq-mean-token-mean")),
]


@pytest.mark.parametrize("command,required,default", COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_print_config_writes_what_config_reads(command, required, default, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = invoke(*command, *required, "--print-config")
    assert printed.exit_code == 0, printed.output
    settings = yaml.safe_load(printed.output)
    key, value = default
    assert settings[key] == value
    assert not {"config", "print_config", "overwrite", "dry_run", "list"} & set(settings)
    (tmp_path / "run.yaml").write_text(printed.output)
    # the file alone gives every option, required ones included, and reads back to the same settings
    again = invoke(*command, "--config", "run.yaml", "--print-config")
    assert again.exit_code == 0, again.output
    assert yaml.safe_load(again.output) == settings
    # an unknown key names itself
    (tmp_path / "bad.yaml").write_text("no_such_option: 1\n")
    bad = invoke(*command, *required, "--config", "bad.yaml")
    assert bad.exit_code == 2 and "no_such_option" in bad.output


def test_the_command_line_wins_over_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text("model: from-file\nout: run\nlearning_rate: 3.0e-6\nthinking: true\n"
                                       "report_to: [tensorboard]\nset: [warmup_steps=5]\n")
    r = invoke("train", "trl", "--config", "run.yaml", "--lr", "5e-6", "--set", "bf16=false", "--print-config")
    assert r.exit_code == 0, r.output
    settings = yaml.safe_load(r.output)
    assert settings["model"] == "from-file" and settings["learning_rate"] == 5e-6 and settings["thinking"] is True
    assert settings["report_to"] == ["tensorboard"] and settings["set"] == ["bf16=false"]
    for text, message in (("- a list\n", "mapping"), ("model: [unclosed\n", "not YAML")):
        (tmp_path / "bad.yaml").write_text(text)
        bad = invoke("train", "trl", "--config", "bad.yaml")
        assert bad.exit_code == 2 and message in bad.output
    missing = invoke("train", "trl", "--config", "nope.yaml")
    assert missing.exit_code == 2 and "nope.yaml" in missing.output


def test_a_config_file_configures_the_run(samples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_environments(tmp_path / "envs.jsonl", samples)
    (tmp_path / "rollout.yaml").write_text("envs: envs.jsonl\nout: t.jsonl\nbackend: scripted\nlimit: 3\nsamples: 2\n"
                                           "executor: unsafe-inprocess\n")
    r = invoke("rollout", "--config", "rollout.yaml", "--samples", "1")
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert len(lines) == 3  # limit 3 from the file, samples 1 from the command line


def test_hyperparameters_refused_with_the_option_that_fixes_them(tmp_path):
    r = invoke("train", "trl", "--model", "m", "--out", tmp_path / "run", "--data", tmp_path,
               "--loss-aggregation", "sum")
    assert r.exit_code == 2 and "--loss-aggregation" in r.output and "Traceback" not in r.output
    r = invoke("loop", "--envs", tmp_path, "--model", "m", "--out", tmp_path / "loop", "--report-to", "mlflow")
    assert r.exit_code == 2 and "--report-to" in r.output
    r = invoke("train", "trl", "--model", "m", "--out", tmp_path / "run", "--data", tmp_path, "--set", "novalue")
    assert r.exit_code == 2 and "--set" in r.output
