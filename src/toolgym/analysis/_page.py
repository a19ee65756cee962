"""The HTML building blocks of the run report: tables, charts as figures, the page's style and script.

Everything is inline (no file, font or script from elsewhere), so the page opens offline and can be mailed.
A chart is an ``<img>`` of PNG data inside a ``<figure class="chart">``; its ``data-chart`` attribute holds the
labels the PNG carries (title, axis labels), so a test reads them from the DOM. Tables sort by a click on a
header; long cells wrap instead of widening the page.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from ..evaluate import figure_png

#: headings for the keys of the build statistics (anything else: its key in words)
STAT_TITLES = {
    "written": "environments written", "attempted": "environments attempted", "rejected": "rejected",
    "yield": "yield (written / attempted)", "mean_tools_per_env": "tools per environment (mean)",
    "mean_calls_per_env": "gold calls per environment (mean)", "per_scenario": "Environments per scenario",
    "per_domain": "Environments per domain", "per_split": "Environments per split",
    "per_hops": "Environments per chain length (hops)", "per_width": "Environments per branch count (width)",
    "per_complexity": "Complexity level per scaling strategy", "rejections": "Rejections",
    "by_stage": "Rejections per stage", "by_reason": "Rejections per reason", "by_scenario": "Rejections per scenario",
    "diversity": "Diversity", "distinct_tool_names": "distinct tool names",
    "distinct_question_trigrams": "distinct question 3-grams",
    "distinct_trigram_ratio": "distinct / all question 3-grams", "distinct_question_openings": "distinct question openings",
}


def title_of(key: str) -> str:
    """A heading for a statistics key: the known title, else the key in words."""
    if key in STAT_TITLES:
        return STAT_TITLES[key]
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def table(headers: list[str], rows: list[list[Any]], *, numeric: set[int] | None = None, cls: str = "") -> str:
    """A sortable table; a cell given as ``(text, sort_value)`` sorts by the value. Columns in ``numeric``
    (default: every column but the first) are right-aligned."""
    numeric = set(range(1, len(headers))) if numeric is None else numeric

    def cell(i: int, c: Any, tag: str = "td") -> str:
        text, key = c if isinstance(c, tuple) else (c, None)
        attrs = ' class="num"' if i in numeric else ""
        if key is not None:
            attrs += f' data-v="{esc(key)}"'
        return f"<{tag}{attrs}>{esc(text)}</{tag}>"

    head = "".join(cell(i, h, "th") for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f'<table class="sortable {cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def chart(fig, *, wide: bool = False) -> str:
    """A matplotlib figure as an inline PNG in a ``<figure>``, with its labels in ``alt`` and ``data-chart``."""
    drawn = figure_png(fig)
    data = base64.b64encode(drawn.png).decode()
    cls = "chart wide" if wide else "chart"
    # shown at 3/4 of its pixels (sharp on dense screens; text about the page's size), never wider than its box
    width = int(int.from_bytes(drawn.png[16:20], "big") * 0.75)
    return (f'<figure class="{cls}"><img alt="{esc(drawn.labels.alt)}" data-chart="{esc(drawn.labels.to_json())}" '
            f'width="{width}" src="data:image/png;base64,{data}"></figure>')


def muted(text: str) -> str:
    return f'<p class="muted">{text}</p>'


def json_script(element_id: str, data: Any) -> str:
    """Data for the page's script, safe inside ``<script>`` (no ``</script>`` can end it early)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;line-height:1.45;
background:#fafbfc}
main{max-width:1280px;margin:0 auto;padding:1.2rem 1.5rem 3rem}
header.top{background:#1d2b3a;color:#fff;padding:1rem 1.5rem}
header.top h1{margin:0;font-size:1.55rem}header.top p{margin:.2rem 0 0;color:#c5d0dc;font-size:.9rem}
nav{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;margin-top:.6rem}nav a{color:#9cc3ff;text-decoration:none}
h2{margin:2rem 0 .6rem;border-bottom:2px solid #e3e7ec;padding-bottom:.3rem;font-size:1.35rem}
h3{font-size:1.02rem;margin:1rem 0 .3rem}
section{min-width:0}
.muted{color:#5d6670;font-size:.9rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.88rem;background:#fff;max-width:100%}
th,td{border:1px solid #d9dee4;padding:.28rem .55rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef1f5;cursor:pointer;white-space:nowrap}th:hover{background:#e1e7ee}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.6rem 1.5rem}
.grid>div{min-width:0}.grid>div.span{grid-column:1/-1}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}
figure.chart{margin:.4rem 0;background:#fff;border:1px solid #e3e7ec;border-radius:6px;padding:.5rem;min-width:0}
figure.chart img{display:block;max-width:100%;height:auto;margin:0 auto}
figure.chart.wide{grid-column:1/-1}
code{background:#eef1f5;padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}
dl.meanings{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;font-size:.88rem}
dl.meanings dt{font-weight:600}dl.meanings dd{margin:0}
.filters{display:flex;flex-wrap:wrap;gap:.5rem .8rem;align-items:center;margin:.6rem 0;padding:.6rem;background:#fff;
border:1px solid #e3e7ec;border-radius:6px;position:sticky;top:0;z-index:2}
.filters input[type=search]{flex:1 1 260px;min-width:200px;padding:.35rem .5rem;font-size:.95rem}
.filters select{padding:.3rem;font-size:.9rem;max-width:260px}
.count{color:#5d6670;font-size:.88rem;margin:.2rem 0 .5rem}
details.ep{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:.35rem 0}
details.ep>summary{cursor:pointer;padding:.45rem .7rem;list-style:none;display:grid;
grid-template-columns:minmax(0,1fr) auto;gap:.2rem 1rem;align-items:baseline}
details.ep>summary::-webkit-details-marker{display:none}
details.ep[open]>summary{border-bottom:1px solid #e3e7ec;background:#f6f8fa}
.q{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:500}
.q::before{content:"\\25B8  ";color:#8a96a3}details.ep[open] .q::before{content:"\\25BE  "}
.chips{display:flex;flex-wrap:wrap;gap:.3rem;justify-content:flex-end;font-size:.8rem}
.meta{grid-column:1/-1;color:#5d6670;font-size:.8rem;overflow-wrap:anywhere}
.chip{border-radius:10px;padding:0 .45rem;background:#eef1f5;white-space:nowrap}
.chip.good{background:#dcf3e3;color:#185c30}.chip.bad{background:#fde2e1;color:#8a1c1c}
.chip.warn{background:#fff1d6;color:#7a4d00}
.body{padding:.5rem .8rem .8rem}
.msg{border-left:4px solid #ccd3db;padding:.3rem .6rem;margin:.45rem 0;background:#fbfcfd;min-width:0}
.msg.user{border-color:#2f6fdf}.msg.turn{border-color:#2a9d5b}.msg.sys{border-color:#8e44ad}
.msg.tool{border-color:#e8741c}.msg.error{border-color:#c0392b;background:#fff6f5}
.who{font-size:.78rem;font-weight:600;color:#5d6670;text-transform:uppercase;letter-spacing:.03em;
display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25rem 0;font-size:.84rem;
font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;max-height:28rem;overflow-y:auto}
.call{margin:.35rem 0 .35rem .6rem;border:1px solid #f0d9c4;border-radius:5px;padding:.25rem .5rem;background:#fffaf5}
.call .sig{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.84rem;overflow-wrap:anywhere}
.errtext{color:#8a1c1c;font-size:.86rem;overflow-wrap:anywhere}
section>details>summary{cursor:pointer;margin:.9rem 0 .3rem}
a.permalink{float:right;font-size:.8rem;color:#2f6fdf}
.more{margin:.6rem 0}button{font-size:.9rem;padding:.3rem .8rem;cursor:pointer}
"""

# Sorting of tables, and the episode browser: a filtered, sorted list of <details> rows, rendered a page at
# a time, each transcript built only when its row is opened (so thousands of episodes stay fast).
JS = r"""
(function () {
  document.querySelectorAll('table.sortable th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = th.closest('table').tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.dataset.asc !== 'true';
      var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
      rows.sort(function (a, b) {
        var x = a.cells[idx].dataset.v || a.cells[idx].textContent, y = b.cells[idx].dataset.v || b.cells[idx].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      th.dataset.asc = asc;
    });
  });

  var holder = document.getElementById('episodes-data');
  if (holder) episodes(JSON.parse(holder.textContent));
  document.body.dataset.rendered = 'yes';

  function episodes(D) {
    var S = D.strings, E = D.episodes, PAGE = 100;
    var BRANCH = {tool_calls: 'tool calls', empty: 'empty reply', malformed: 'malformed', answer: 'final answer',
                  all_solved: 'all items solved', none: 'no reward case'};
    var list = document.getElementById('ep-list'), count = document.getElementById('ep-count');
    var more = document.getElementById('ep-more');
    var f = {q: document.getElementById('ep-q'), src: document.getElementById('ep-src'),
             sc: document.getElementById('ep-sc'), out: document.getElementById('ep-out'),
             sort: document.getElementById('ep-sort')};
    var hay = null, matched = [], shown = 0, timer = null;
    function s(i) { return i < 0 ? '' : S[i]; }
    function el(tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined) e.textContent = text;
      return e;
    }
    function pct(x) { return (100 * x).toFixed(1); }
    // ep: [source, env, sample, scenario, status, error, question, [P, R, F1, answer, calls, solved, needed, turns], reward, events]
    function haystack(ep) {
      var ids = [ep[1], ep[3], ep[5], ep[6]];
      ep[9].forEach(function (ev) {
        if (ev[0] === 'turn') {
          ids.push(ev[2], ev[3], ev[4], ev[6]);
          ev[7].forEach(function (c) { ids.push(c[0], c[1], c[2], c[4]); });
          ev[8].forEach(function (m) { ids.push(m[0], m[1]); });
        } else ids.push(ev[1], ev[2] === undefined ? -1 : ev[2]);
      });
      return (ep[4] + '\n' + ids.map(s).join('\n')).toLowerCase();
    }
    function outcome(ep, want) {
      var m = ep[7];
      switch (want) {
        case 'solved': return m[6] > 0 && m[5] === m[6];
        case 'partial': return m[5] > 0 && m[5] < m[6];
        case 'none': return m[6] > 0 && m[5] === 0;
        case 'right': return m[3] === 1;
        case 'wrong': return m[3] === 0;
        case 'nocall': return m[4] === 0;
        case 'malformed': return ep[9].some(function (ev) { return ev[0] === 'turn' && ev[8].length; });
        case 'toolerror': return ep[9].some(function (ev) {
          return ev[0] === 'turn' && ev[7].some(function (c) { return c[3] !== null && c[3] !== 'ok'; });
        });
        case 'failed': case 'truncated': case 'completed': return ep[4] === want;
        default: return true;
      }
    }
    function apply() {
      var q = f.q.value.trim().toLowerCase(), src = f.src.value, sc = f.sc.value, out = f.out.value;
      if (q && !hay) hay = E.map(haystack);
      matched = [];
      for (var i = 0; i < E.length; i++) {
        var ep = E[i];
        if (src !== '' && String(ep[0]) !== src) continue;
        if (sc !== '' && s(ep[3]) !== sc) continue;
        if (out && !outcome(ep, out)) continue;
        if (q && hay[i].indexOf(q) < 0) continue;
        matched.push(i);
      }
      var key = f.sort.value;
      if (key !== 'file') {
        var sign = key.charAt(0) === '-' ? -1 : 1, k = key.replace('-', '');
        var val = function (i) { var ep = E[i]; return k === 'f1' ? ep[7][2] : k === 'reward' ? ep[8] : ep[7][7]; };
        matched.sort(function (a, b) { return sign * (val(a) - val(b)) || a - b; });
      }
      list.textContent = '';
      shown = 0;
      page();
    }
    function page() {
      var end = Math.min(matched.length, shown + PAGE);
      var frag = document.createDocumentFragment();
      for (; shown < end; shown++) frag.appendChild(row(matched[shown]));
      list.appendChild(frag);
      count.textContent = 'Showing ' + shown + ' of ' + matched.length + ' matching episodes (' + E.length + ' in this report).';
      more.hidden = shown >= matched.length;
    }
    function chip(text, cls, title) { var c = el('span', 'chip' + (cls ? ' ' + cls : ''), text); if (title) c.title = title; return c; }
    function row(i) {
      var ep = E[i], m = ep[7], d = el('details', 'ep');
      d.id = 'ep-' + i;
      var sum = el('summary');
      sum.appendChild(el('div', 'q', s(ep[6]) || '(no question)'));
      var chips = el('div', 'chips');
      chips.appendChild(chip('Solve-F1 ' + pct(m[2]), m[2] >= 0.999 ? 'good' : m[2] === 0 ? 'bad' : 'warn',
                             'Solve-P ' + pct(m[0]) + ', Solve-R ' + pct(m[1]) + ' (' + m[5] + ' of ' + m[6] + ' items solved)'));
      if (m[3] >= 0) chips.appendChild(chip(m[3] ? 'answer right' : 'answer wrong', m[3] ? 'good' : 'bad'));
      chips.appendChild(chip(m[7] + ' turns'));
      chips.appendChild(chip(m[4] + ' calls', m[4] === 0 ? 'warn' : ''));
      chips.appendChild(chip('reward ' + ep[8].toFixed(2), '', 'sum of the step rewards'));
      if (ep[4] !== 'completed') chips.appendChild(chip(ep[4], 'bad'));
      sum.appendChild(chips);
      sum.appendChild(el('div', 'meta', D.sources[ep[0]].label + ' \u00b7 ' + (s(ep[3]) || 'no scenario') + ' \u00b7 ' +
                                        S[ep[1]] + ' #' + ep[2]));
      d.appendChild(sum);
      d.addEventListener('toggle', function () { if (d.open) build(d, ep); });
      return d;
    }
    function build(d, ep) {
      if (!d.dataset.built) { d.appendChild(transcript(ep)); d.dataset.built = '1'; }
    }
    function block(cls, who, text) {
      var b = el('div', 'msg ' + cls), w = el('div', 'who');
      w.appendChild(el('span', '', who));
      b.appendChild(w);
      if (text !== undefined) b.appendChild(el('pre', '', text));
      return b;
    }
    function transcript(ep) {
      var body = el('div', 'body'), link = el('a', 'permalink', 'link to this episode');
      link.href = '#episode=' + ep[0] + '/' + encodeURIComponent(S[ep[1]]) + '/' + ep[2];
      body.appendChild(link);
      if (ep[5] >= 0) body.appendChild(block('error', 'episode failed', s(ep[5])));
      ep[9].forEach(function (ev) {
        var kind = ev[0];
        if (kind === 'sys') body.appendChild(block('sys', 'system', s(ev[1])));
        else if (kind === 'user') body.appendChild(block('user', 'user', s(ev[1])));
        else if (kind === 'tool') body.appendChild(block('tool', 'tool ' + s(ev[1]), s(ev[2])));
        else if (kind === 'msg') body.appendChild(block('', s(ev[1]), s(ev[2])));
        else if (kind === 'turn') body.appendChild(turn(ev));
      });
      return body;
    }
    // turn: ['turn', index, content, raw, thinking, reward, branch|-1, calls, malformed, solve_rate|null]
    function turn(ev) {
      var b = block('turn', 'assistant \u00b7 turn ' + (ev[1] + 1)), who = b.firstChild;
      if (ev[5] !== null) {
        var r = ev[5];
        who.appendChild(chip('step reward ' + r.toFixed(2), r > 0 ? 'good' : r < 0 ? 'bad' : '',
                             'reward branch: ' + s(ev[6])));
        who.appendChild(chip(BRANCH[s(ev[6])] || s(ev[6]), '', 'which case of the step reward applied'));
        if (ev[9] !== null) who.appendChild(chip('solved ' + pct(ev[9]) + '% so far'));
      }
      if (ev[4] >= 0) { var t = el('details'); t.appendChild(el('summary', 'muted', 'thinking')); t.appendChild(el('pre', '', s(ev[4]))); b.appendChild(t); }
      if (ev[2] >= 0 && s(ev[2])) b.appendChild(el('pre', '', s(ev[2])));
      else if (!ev[7].length && !ev[8].length) b.appendChild(el('p', 'muted', '(empty reply)'));
      ev[7].forEach(function (c) {
        var box = el('div', 'call'), head = el('div', 'who');
        head.appendChild(el('span', '', 'tool call'));
        if (c[3] !== null) head.appendChild(chip(c[3], c[3] === 'ok' ? '' : 'bad', 'how the call ended'));
        if (c[4] >= 0) head.appendChild(chip('solved: ' + s(c[4]), 'good', 'the expected item this call solved'));
        box.appendChild(head);
        box.appendChild(el('div', 'sig', s(c[0]) + '(' + s(c[1]) + ')'));
        if (c[2] >= 0) box.appendChild(el('pre', '', s(c[2])));
        b.appendChild(box);
      });
      ev[8].forEach(function (m) {  // the reply above already shows the text of the call
        var shown = ev[2] >= 0 && s(ev[2]).indexOf(s(m[0])) >= 0;
        var box = block('error', 'malformed call');
        box.appendChild(el('div', 'errtext', s(m[1])));
        if (!shown) box.appendChild(el('pre', '', s(m[0])));
        b.appendChild(box);
      });
      if (ev[3] >= 0) { var raw = el('details'); raw.appendChild(el('summary', 'muted', 'raw reply')); raw.appendChild(el('pre', '', s(ev[3]))); b.appendChild(raw); }
      return b;
    }
    // '#episode=SOURCE/ENV/SAMPLE' opens that episode (a link to it can be shared)
    function open(target) {
      var parts = target.split('/'), src = parts[0], env = parts.slice(1, -1).join('/'), n = parts[parts.length - 1];
      for (var i = 0; i < E.length; i++) {
        var ep = E[i];
        if (String(ep[0]) !== src || S[ep[1]] !== env || String(ep[2]) !== n) continue;
        f.src.value = ''; f.sc.value = ''; f.out.value = ''; f.q.value = env.toLowerCase();
        apply();
        while (!document.getElementById('ep-' + i) && shown < matched.length) page();
        var d = document.getElementById('ep-' + i);
        if (d) { build(d, ep); d.open = true; d.scrollIntoView(); }
        return;
      }
    }
    [f.src, f.sc, f.out, f.sort].forEach(function (x) { x.addEventListener('change', apply); });
    f.q.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(apply, 150); });
    more.addEventListener('click', page);
    apply();
    var h = decodeURIComponent(location.hash || '');
    if (h.indexOf('#episode=') === 0) open(h.slice(9));
    window.addEventListener('hashchange', function () {
      var x = decodeURIComponent(location.hash || '');
      if (x.indexOf('#episode=') === 0) open(x.slice(9));
    });
  }
})();
"""
