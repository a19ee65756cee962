"""The ``toolgym`` command line: a thin layer over the library (typer + rich).

Each command lives in its own module; this one assembles them. Registration is explicit.
"""

from __future__ import annotations

import typer
from rich.markup import escape

from ..errors import ToolgymError
from . import _analysis, _bench, _build, _common, _data, _demo, _rollout, _serve, _train, _train_verl, _verify

app = typer.Typer(
    name="toolgym",
    help="Build verifiable tool-use environments, roll models out in them, score, train and evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

app.command("import")(_data.import_cmd)
app.command("export")(_data.export_cmd)
app.command("inspect")(_data.inspect_cmd)
app.command("verify")(_verify.verify_cmd)
app.command("score")(_verify.score_cmd)
app.command("sandbox-info")(_verify.sandbox_info_cmd)
app.command("rollout")(_rollout.rollout_cmd)
app.command("eval")(_rollout.eval_cmd)
app.command("compare")(_rollout.compare_cmd)
_train.train_app.command("verl")(_train_verl.train_verl_cmd)
app.add_typer(_train.train_app, name="train")
app.command("loop")(_train.loop_cmd)
app.add_typer(_analysis.analyse_app, name="analyse")
app.command("report")(_analysis.report_cmd)
app.command("demo")(_demo.demo_cmd)
app.command("build")(_build.build_cmd)
app.command("bench")(_bench.bench_cmd)
app.command("bench-compare")(_bench.bench_compare_cmd)
app.command("contamination")(_bench.contamination_cmd)
app.command("serve-fake")(_serve.serve_fake_cmd)


def main() -> None:
    try:
        app()
    except ToolgymError as exc:  # a bad input or setup that a command did not handle itself: no traceback
        _common.err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise SystemExit(2) from None
