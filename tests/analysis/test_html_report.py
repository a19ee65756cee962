"""The HTML report: self-contained, runs named by model or iteration, every chart titled and labelled (in the
DOM and in the PNG), every episode's transcript browsable, build statistics that fit the page."""

import base64
import html
import json
import re

from toolgym.analysis import build_report
from toolgym.analysis._transcripts import TEXT_LIMIT
from toolgym.evaluate import read_chart_labels
from toolgym.io import JsonlWriter
from toolgym.rollout import load_trajectories

CHART = re.compile(r'<figure class="chart[^"]*"><img alt="([^"]*)" data-chart="([^"]*)" width="\d+" '
                   r'src="data:image/png;base64,([^"]+)">')


def charts(page: str) -> list[tuple[str, dict, bytes]]:
    return [(html.unescape(alt), json.loads(html.unescape(labels)), base64.b64decode(png))
            for alt, labels, png in CHART.findall(page)]


def episodes(page: str) -> dict:
    text = re.search(r'<script type="application/json" id="episodes-data">(.*?)</script>', page, re.DOTALL).group(1)
    return json.loads(text)


def test_report_is_self_contained_and_has_every_section(loop_run, built):
    page = build_report(loop_run, envs=built[0], title="A toolgym run").read_text()
    for key, heading in (("evaluation", "Evaluation"), ("episodes", "Episodes"), ("training", "Training"),
                         ("weights", "Where the model changed"), ("build", "Build")):
        assert f'<section id="{key}"><h2>{heading}</h2>' in page and f'href="#{key}"' in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)  # nothing from elsewhere
    assert page.count("<img") == len(charts(page)) >= 9  # every image is a labelled chart


def test_every_chart_has_a_title_and_labelled_axes_in_the_dom_and_the_png(loop_run, built):
    page = build_report(loop_run, envs=built[0]).read_text()
    titles = []
    for alt, labels, png in charts(page):
        assert png[:4] == b"\x89PNG" and labels["title"] and alt.startswith(labels["title"])
        for ax in labels["axes"]:
            assert ax["ylabel"], labels
            assert ax["xlabel"] or labels["axes"].index(ax) > 0, labels  # a colour bar is labelled along itself
        carried = read_chart_labels(png)
        assert carried is not None and carried.to_json() == json.dumps(labels, ensure_ascii=True)
        titles.append(labels["title"])
    assert "Solve-F1 per iteration" in titles and "Relative weight change" in titles[-1]
    assert "Training loss" in titles and any(t.startswith("Reward") for t in titles)


def test_training_curves_are_one_labelled_chart_per_quantity_without_duplicates(loop_run):
    page = build_report(loop_run).read_text()
    curves = [labels for _, labels, _ in charts(page) if labels["axes"][0]["xlabel"] == "training step"]
    titles = [c["title"] for c in curves]
    assert len(titles) == len(set(titles))
    # one reward function: its mean is "reward", drawn once
    assert not any("reward function" in t for t in titles)
    assert {"Training loss", "KL divergence to the reference model", "Entropy of the policy"} <= set(titles)
    assert all(c["axes"][0]["ylabel"] for c in curves)


def test_runs_are_named_by_model_and_loops_by_iteration(eval_run, loop_run):
    page = build_report(eval_run).read_text()
    # both runs are the same model: named by it, told apart by their files; no bare file stem
    assert "scripted-baseline (careless)" in page and "scripted-baseline (careful)" in page
    assert ">careless.trajectories<" not in page
    page = build_report(loop_run).read_text()
    assert "iteration 0" in page and "iteration 2" in page and "Qwen/Qwen2.5-0.5B-Instruct" in page
    # a checkpoint inside the run is shown by its path there
    assert "iter-2/train/final" in page and str(loop_run / "iter-2") not in page


def test_transcripts_hold_the_question_every_reply_call_output_and_step_reward(eval_run):
    page = build_report(eval_run).read_text()
    data = episodes(page)
    S = data["strings"]
    labels = [s["label"] for s in data["sources"]]
    assert labels == ["scripted-baseline (careless)", "scripted-baseline (careful)"]
    shown = {(S[e[1]], e[2], e[0]): e for e in data["episodes"]}
    for k, name in enumerate(("careless", "careful")):
        for t in load_trajectories(eval_run / f"{name}.trajectories.jsonl"):
            e = shown[(t.env_id, t.sample, k)]
            assert S[e[6]] == t.messages[0]["content"]  # the question
            turns = [ev for ev in e[9] if ev[0] == "turn"]
            assert len(turns) == len(t.steps)
            for ev, step in zip(turns, t.steps):
                assert ev[5] == round(step.reward, 4) and S[ev[6]] == step.branch
                assert [(S[c[0]], json.loads(S[c[1]]), S[c[2]], c[3]) for c in ev[7]] == \
                    [(r.call.name, r.call.arguments, r.output, r.status) for r in step.results]
                assert [S[m[1]] for m in ev[8]] == [m.error for m in step.malformed]
            assert e[7][2] == round(t.metrics.solve_f1, 4)
    # the careless run made malformed calls, and the page has a filter for them
    assert any(ev[8] for e in data["episodes"] for ev in e[9] if ev[0] == "turn")
    assert '<option value="malformed">' in page


def test_caps_and_cut_texts_are_said(eval_run, tmp_path):
    big = load_trajectories(eval_run / "careless.trajectories.jsonl")
    t = next(t for t in big if t.steps and t.steps[0].results)
    long = t.model_copy(update={"sample": 99, "steps": [t.steps[0].model_copy(update={"results": [
        t.steps[0].results[0].model_copy(update={"output": "x" * (TEXT_LIMIT + 500)})]})] + t.steps[1:]})
    extra = tmp_path / "extra.jsonl"
    with JsonlWriter(extra) as w:
        for x in [long, *big]:
            w.write(x.model_dump(mode="json"))
    page = build_report(eval_run, tmp_path / "r.html", trajectories=[extra], max_episodes=5).read_text()
    assert f"the first 5 of {len(big)} episodes are shown" in page and f"the first 5 of {len(big) + 1}" in page
    assert "1 text(s) longer than" in page
    data = episodes(page)
    assert len(data["episodes"]) == 5 * 3
    assert any(s.endswith("[... 500 more characters not shown]") for s in data["strings"])
    page = build_report(eval_run, tmp_path / "r.html", trajectories=[extra], max_episodes=None).read_text()
    assert "are shown" not in page and len(episodes(page)["episodes"]) == 3 * len(big) + 1


def test_build_statistics_have_headings_in_words_and_rejections_as_their_own_tables(rejecting, tmp_path):
    envs, reason = rejecting
    page = build_report(tmp_path, envs=envs).read_text()
    for heading in ("Environments per scenario", "Rejections per reason", "Complexity level per scaling strategy"):
        assert f"<h3>{heading}</h3>" in page
    assert "<h3>per_scenario</h3>" not in page and "<h3>rejections</h3>" not in page
    # the long reason is a row of a two-column table, not a column header
    assert f"<th>{html.escape(reason)}</th>" not in page and f"<td>{html.escape(reason)}</td>" in page


def test_a_run_without_anything_still_renders(tmp_path):
    page = build_report(tmp_path).read_text()
    assert "No evaluation reports" in page and "No training logs" in page and "No weight analysis" in page
    assert "No trajectories in this run" in page and 'id="episodes-data"' not in page


def test_the_command_adds_trajectory_files_and_caps_episodes(eval_run, tmp_path):
    from typer.testing import CliRunner

    from toolgym.cli import app

    def invoke(*args):
        return CliRunner().invoke(app, ["report", *map(str, args)], catch_exceptions=False)

    done = invoke(eval_run, "--out", tmp_path / "r.html", "--trajectories", tmp_path / "missing.jsonl")
    assert done.exit_code == 2 and "--trajectories" in done.output and "Traceback" not in done.output
    assert not (tmp_path / "r.html").exists()
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes((eval_run / "careful.trajectories.jsonl").read_bytes())
    done = invoke(eval_run, "--out", tmp_path / "r.html", "--trajectories", extra, "--max-episodes", 2)
    assert done.exit_code == 0, done.output
    data = episodes((tmp_path / "r.html").read_text())
    assert [s["label"] for s in data["sources"]][-1] == str(extra) and len(data["episodes"]) == 3 * 2


def test_runs_whose_every_episode_failed_render_without_empty_charts(tmp_path):
    from toolgym.evaluate import evaluate
    from toolgym.schema import Trajectory, TrajectoryMetrics

    m = TrajectoryMetrics(calls=0, solved=0, needed=1, solve_precision=1.0, solve_rate=0.0, solve_f1=0.0)
    failed = Trajectory(env_id="e", metrics=m, status="failed", error="connection refused", model="m")
    for name in ("a", "b"):
        evaluate([failed], include_failed=False).save(tmp_path / f"{name}.json")
    page = build_report(tmp_path).read_text()
    assert "<img" not in page and "1 failed episode(s) (the model never answered) left out" in page
