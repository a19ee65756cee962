"""The HTML report: self-contained, and it renders in headless Chromium with no console errors."""

import re
import shutil
import subprocess

import pytest

from toolgym.analysis import Change, build_report, write_csv
from toolgym.builder import BuildConfig, build
from toolgym.evaluate import evaluate
from toolgym.io import JsonlWriter
from toolgym.schema import Trajectory, TrajectoryMetrics

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _traj(i, scenario, f1):
    m = TrajectoryMetrics(calls=2, solved=1, needed=2, solve_precision=f1, solve_rate=f1, solve_f1=f1,
                          answer_correct=f1 > 0.5)
    return Trajectory(env_id=f"e{i}", metrics=m, scenario=scenario)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, pool):
    run = tmp_path_factory.mktemp("run")
    scenarios = ["single_hop", "multi_hop", "parallel_single_hop", "parallel_multi_hop"]
    for k, level in enumerate((0.2, 0.45, 0.6)):
        folder = run / f"iter-{k}"
        folder.mkdir()
        ts = [_traj(i, scenarios[i % 4], min(1.0, level + 0.1 * (i % 3))) for i in range(24)]
        evaluate(ts, name=folder.name, resamples=100).save(folder / "report.json")
        if k:
            (folder / "train").mkdir()
            with JsonlWriter(folder / "train" / "log.jsonl") as w:
                for step in range(1, 6):
                    w.write({"step": step, "loss": 0.5 / step, "reward": level + 0.02 * step, "kl": 0.001 * step})
    changes = [Change(layer, module, 0.01 * (4 - layer) if module.startswith("mlp") else 0.002, 1.0, 1.0, 1)
               for layer in range(4) for module in ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.gate", "mlp.up",
                                                    "mlp.down")]
    write_csv(changes + [Change(None, "embeddings", 0.0005, 1.0, 1.0, 1)], run / "weights.csv")
    envs = run / "envs.jsonl"
    build(BuildConfig(seed=2), envs, 40)
    return run, envs


def test_report_is_self_contained(run_dir):
    run, envs = run_dir
    page = build_report(run, envs=envs, title="A toolgym run").read_text()
    for heading in ("Build", "Evaluation", "Training", "Where the model changed"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("data:image/png;base64,") >= 5  # comparison, curve, training curves x2, heatmap
    assert not re.search(r"""(src|href)=["']https?://""", page)
    assert "parallel_multi_hop" in page and "per_complexity" in page and "iter-2" in page


def test_a_run_without_anything_still_renders(tmp_path):
    page = build_report(tmp_path).read_text()
    assert "No evaluation reports" in page and "No training logs" in page and "No weight analysis" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs Debian's chromium)")
def test_report_renders_in_headless_chromium_without_console_errors(run_dir, tmp_path):
    run, envs = run_dir
    page = build_report(run, tmp_path / "report.html", envs=envs)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    shot = tmp_path / "report.png"
    done = subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1200,3000", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if re.search(r"Uncaught|Error|error", line)], console
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'data-rendered="yes"' in dom.stdout  # the page's script ran to the end
