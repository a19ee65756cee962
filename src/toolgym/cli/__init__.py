"""The ``toolgym`` command line: a thin layer over the library (typer + rich).

Each command lives in its own module; this one assembles them. Registration is explicit. Every long command
(``build``, ``rollout``, ``eval``, ``loop``, ``bench`` and each ``train`` command) takes ``--config FILE`` and
``--print-config`` (:mod:`toolgym.cli._config`).

Errors a person can act on are handled once, here: a broken setup or input (any
:class:`~toolgym.errors.ToolgymError`: a bad option, a model that cannot be loaded, data that cannot be
read) and an optional extra that is not installed are one line that names the fix, exit code 2; the
traceback only with ``toolgym --debug``. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from ..errors import ToolgymError
from . import (
    _analysis,
    _bench,
    _build,
    _common,
    _data,
    _demo,
    _model,
    _rollout,
    _serve,
    _sft,
    _train,
    _train_verl,
    _verify,
)
from ._config import configurable

app = typer.Typer(
    name="toolgym",
    help="Build verifiable tool-use environments, roll models out in them, score, train and evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"toolgym {__version__}")
        raise typer.Exit()


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an error (without it, a setup error is one line saying what to do).")]
        = False,
        version: Annotated[bool, typer.Option(
            "--version", "-V", is_eager=True, callback=_show_version,
            help="Print toolgym's version and exit.")] = False) -> None:
    _common.set_debug(debug)


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
_train.train_app.command("sft")(_sft.sft_cmd)
app.add_typer(_train.train_app, name="train")
app.command("loop")(_train.loop_cmd)
app.add_typer(_model.model_app, name="model")
app.add_typer(_analysis.analyse_app, name="analyse")
app.command("report")(_analysis.report_cmd)
app.command("demo")(_demo.demo_cmd)
app.command("build")(_build.build_cmd)
app.command("bench")(_bench.bench_cmd)
app.command("bench-compare")(_bench.bench_compare_cmd)
app.command("contamination")(_bench.contamination_cmd)
app.command("serve-fake")(_serve.serve_fake_cmd)

#: The commands that take --config and --print-config (with every command of `toolgym train`).
LONG_COMMANDS = ("build", "rollout", "eval", "loop", "bench")
for _info in [*(i for i in app.registered_commands if i.name in LONG_COMMANDS), *_train.train_app.registered_commands]:
    _info.callback = configurable(_info.callback)


def extra_for(module: str) -> str | None:
    """The optional extra of toolgym that installs ``module`` (from the installed package's metadata)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        requirements = requires("toolgym") or []
    except PackageNotFoundError:
        return None
    extras = []
    for r in requirements:
        name = re.split(r"[\s\[<>=!~;(]", r.strip(), maxsplit=1)[0].lower().replace("-", "_")
        marker = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", r)
        if marker and name == module.lower() and marker.group(1) != "dev":
            extras.append(marker.group(1))
    return module if module in extras else (extras[0] if extras else None)


def _missing(exc: ModuleNotFoundError) -> str:
    module = (exc.name or "").split(".")[0] or "a module"
    extra = extra_for(module)
    fix = f"pip install 'toolgym[{extra}]'" if extra else f"pip install {module}"
    return f"this needs {module}, which is not installed: {fix}"


def _setup_error(message: str) -> NoReturn:
    _common.debug_traceback()
    _common.err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise SystemExit(2)


def main() -> None:
    """The ``toolgym`` command (and ``python -m toolgym``)."""
    try:
        app()
    except ToolgymError as exc:  # a bad input or setup that a command did not handle itself
        _setup_error(str(exc))
    except ModuleNotFoundError as exc:  # an optional extra that a command imported without asking first
        _setup_error(_missing(exc))
