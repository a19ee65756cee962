"""The report as a reader sees it: headless Chromium at 1,400 px. A probe (added to a copy of the page by the
test) measures the layout after the page's own script ran, opens transcripts, filters the episode list and
writes what it found into the DOM, which Chromium prints."""

import html
import json
import re
import shutil
import subprocess

import pytest

from toolgym.analysis import build_report
from toolgym.analysis._transcripts import TEXT_LIMIT
from toolgym.io import JsonlWriter
from toolgym.rollout import load_trajectories

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs Debian's "
                                                          "chromium)")
WIDTH = 1400

PROBE = """
<script>
window.addEventListener('load', function () {
  function measure() {
    var W = window.innerWidth, over = [];
    document.querySelectorAll('body *').forEach(function (e) {
      var b = e.getBoundingClientRect();
      if (b.width > 0 && b.right > W + 0.5) over.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' +
                                                      String(e.className).replace(/ /g, '.') + ' ' + Math.round(b.right));
    });
    return {scrollWidth: document.documentElement.scrollWidth, over: over.slice(0, 12), overCount: over.length};
  }
  var r = {width: window.innerWidth, rendered: document.body.dataset.rendered, first: measure()};
  r.images = [].map.call(document.querySelectorAll('img'), function (i) {
    var f = i.closest('figure.chart'), b = i.getBoundingClientRect();
    return {inChart: !!f, labels: i.dataset.chart || '', alt: i.alt, natural: i.naturalWidth, shown: b.width};
  });
  r.opened = [].map.call(document.querySelectorAll('details.ep[open] .body'), function (b) { return b.innerText; });
  function count() { return document.getElementById('ep-count').textContent; }
  var q = document.getElementById('ep-q'), out = document.getElementById('ep-out');
  r.linked = count();
  q.value = ''; out.dispatchEvent(new Event('change'));  // the whole list again
  r.count = count();
  r.rows = document.querySelectorAll('details.ep').length;
  document.getElementById('ep-more').click();
  r.rowsAfterMore = document.querySelectorAll('details.ep').length;
  out.value = 'malformed'; out.dispatchEvent(new Event('change'));
  r.malformedCount = count();
  out.value = ''; out.dispatchEvent(new Event('change'));
  q.value = SEARCH; q.dispatchEvent(new Event('input'));
  setTimeout(function () {
    r.searchCount = count();
    q.value = ''; q.dispatchEvent(new Event('input'));
    setTimeout(function () {
      document.querySelectorAll('details').forEach(function (d) { d.open = true; });  // raw replies too
      setTimeout(function () {
        r.transcripts = document.querySelectorAll('details.ep .body').length;
        r.all = measure();
        document.body.setAttribute('data-probe', JSON.stringify(r));
      }, 50);
    }, 400);
  }, 400);
});
</script>
"""


def render(page, tmp_path, anchor="", search=""):
    """Chromium's DOM of ``page`` at 1,400 px after the probe ran, the probe's findings and the console."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE.replace("SEARCH", json.dumps(search)) + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
             f"--window-size={WIDTH},1000", "--virtual-time-budget=20000", "--dump-dom"]
    done = subprocess.run([CHROMIUM, *flags, probed.as_uri() + anchor], capture_output=True, text=True,
                          timeout=240, check=False)
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    return json.loads(html.unescape(found.group(1))), console


def _check_layout(probe, console):
    assert not [line for line in console if re.search(r"Uncaught|Error|error", line)], console
    assert probe["width"] == WIDTH and probe["rendered"] == "yes"
    for state in ("first", "all"):  # as loaded, and with everything open (every listed transcript included)
        assert probe[state]["scrollWidth"] <= WIDTH and probe[state]["overCount"] == 0, probe[state]
    for image in probe["images"]:
        labels = json.loads(image["labels"])
        assert image["inChart"] and image["natural"] > 0 and 0 < image["shown"] <= WIDTH
        assert labels["title"] and image["alt"].startswith(labels["title"])
        assert all(ax["ylabel"] and (ax["xlabel"] or i > 0) for i, ax in enumerate(labels["axes"])), labels


@pytest.fixture(scope="module")
def many(eval_run, tmp_path_factory):
    """2,500 episodes (the careless run's, repeated as samples), the first with a tool output longer than
    the page shows, without a space to break it."""
    base = load_trajectories(eval_run / "careless.trajectories.jsonl")
    t = next(t for t in base if t.steps and t.steps[0].results)
    first = t.steps[0]
    long = t.model_copy(update={"sample": 0, "steps": [first.model_copy(update={"results": [
        first.results[0].model_copy(update={"output": "y" * (TEXT_LIMIT + 100)})]})] + t.steps[1:]})
    path = tmp_path_factory.mktemp("many") / "many.jsonl"
    rows = [long] + [x.model_copy(update={"sample": 1 + k}) for k in range(2499 // len(base) + 1) for x in base]
    rows = rows[:2500]
    with JsonlWriter(path) as w:
        for x in rows:
            w.write(x.model_dump(mode="json"))
    return path, rows, long


def test_a_whole_run_fits_1400px_with_labelled_charts_and_transcripts(loop_run, rejecting, many, tmp_path):
    path, rows, long = many
    page = build_report(loop_run, tmp_path / "report.html", envs=rejecting[0], trajectories=[path], max_episodes=None)
    sources = 3 + 2  # the loop's evaluations and training rollouts, then the extra file
    probe, console = render(page, tmp_path, anchor=f"#episode={sources}/{long.env_id}/0", search=long.env_id)
    _check_layout(probe, console)
    assert len(probe["images"]) >= 9
    # the linked episode is open: its question, its long output (cut, and saying so) wrapped inside the page
    assert len(probe["opened"]) == 1
    text = probe["opened"][0]
    assert long.messages[0]["content"] in text and "more characters not shown" in text
    assert f"step reward {long.steps[0].reward:.2f}" in text.lower()
    # thousands of episodes: a page of 100 at a time, filters over all of them
    total = sum(len(load_trajectories(p)) for p in [*loop_run.glob("iter-*/eval.jsonl"),
                                                    *loop_run.glob("iter-*/trajectories.jsonl")]) + len(rows)
    assert probe["rows"] == 100 and probe["rowsAfterMore"] == 200
    malformed = sum(any(s.malformed for s in t.steps) for p in [*loop_run.glob("iter-*/eval.jsonl"),
                                                                *loop_run.glob("iter-*/trajectories.jsonl")]
                    for t in load_trajectories(p)) + sum(any(s.malformed for s in t.steps) for t in rows)
    assert f"of {malformed} matching episodes ({total} in this report)" in probe["malformedCount"]
    same_env = sum(t.env_id == long.env_id for p in [*loop_run.glob("iter-*/eval.jsonl"),
                                                      *loop_run.glob("iter-*/trajectories.jsonl")]
                   for t in load_trajectories(p)) + sum(t.env_id == long.env_id for t in rows)
    assert f"of {same_env} matching" in probe["searchCount"]
    assert probe["transcripts"] >= 100


def test_named_runs_render_within_1400px(eval_run, tmp_path):
    page = build_report(eval_run, tmp_path / "report.html")
    probe, console = render(page, tmp_path)
    _check_layout(probe, console)
    assert probe["opened"] == [] and probe["transcripts"] == probe["rows"] > 0
