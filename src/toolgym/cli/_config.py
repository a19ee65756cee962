"""Configuration files and settings objects for the commands, written once for all of them.

* :func:`configurable` gives a command ``--config FILE`` (a YAML mapping of its options by name; options given
  on the command line win) and ``--print-config`` (prints the command's resolved options in that format and
  exits, so ``toolgym loop ... --print-config > run.yaml`` writes a file that ``--config run.yaml`` reads
  back). The file's values become the command's defaults (click's ``default_map``) before the command line
  is parsed, so a required option can come from the file, and an unknown key is an error that names it.
* :func:`settings_options` turns the fields of a settings dataclass (``Hyperparameters``, ``Tracking``) into
  options of a command -- type, default and help from the dataclass, so they are written only there -- and
  hands the command the dataclass built from them.
* :func:`parse_set` reads ``--set key=value`` items for TRL (values in YAML: ``true``, ``1e-5``, ``[a, b]``).
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ..errors import ConfigError
from ._common import fail

#: Options that ask for an action rather than describe a run: never written by --print-config.
ACTIONS = ("config", "print_config", "overwrite", "dry_run", "list")


def _key(param: Any) -> str:
    """A parameter's name in a configuration file: its first long option without dashes
    (``--learning-rate`` -> ``learning_rate``, ``--set`` -> ``set``), an argument's own name."""
    for opt in getattr(param, "opts", []):
        if opt.startswith("--"):
            return opt[2:].replace("-", "_")
    return param.name or ""


def _names(command: Any) -> dict[str, str]:
    """Every name a configuration file may use for each parameter (file key and Python name) -> its name."""
    out = {}
    for p in command.params:
        if p.name and p.name not in ACTIONS[:2]:
            out[p.name] = p.name
            out[_key(p)] = p.name
    return out


def read_config(path: Path, command: Any) -> dict[str, Any]:
    """The options of ``path`` for ``command``, by parameter name; a clear error for a file that is not a
    mapping or a key the command does not have."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise typer.BadParameter(f"{path} is not YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} must hold a mapping of option names to values, as --print-config writes")
    names = _names(command)
    unknown = [str(k) for k in data if str(k).replace("-", "_") not in names]
    if unknown:
        raise typer.BadParameter(f"{path}: `{command.name}` has no option {', '.join(unknown)} "
                                 f"(--print-config shows the names it takes)")
    return {names[str(k).replace("-", "_")]: v for k, v in data.items()}


def _load(ctx: typer.Context, _param: typer.CallbackParam, value: Path | None) -> Path | None:
    if value is not None:
        ctx.default_map = {**(ctx.default_map or {}), **read_config(value, ctx.command)}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_config(ctx: typer.Context, values: dict[str, Any]) -> None:
    """Write the resolved options as the YAML ``--config`` reads (file keys, in the command's order)."""
    by_name = {p.name: p for p in ctx.command.params}
    out = {_key(by_name[name]): _plain(v) for name, v in values.items()
           if name in by_name and _key(by_name[name]) not in ACTIONS}
    typer.echo(yaml.safe_dump(out, sort_keys=False, allow_unicode=True), nl=False)


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", is_eager=True, callback=_load, dir_okay=False,
    help="Read options from this YAML file (as --print-config writes it); options on the command line win.")]
PrintConfigOpt = Annotated[bool, typer.Option(
    "--print-config", help="Print the resolved options as a --config file and exit.")]


def _signature(fn) -> tuple[inspect.Signature, list[inspect.Parameter]]:
    """``fn``'s signature with its annotations resolved (the modules use postponed annotations)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    sig = inspect.signature(fn)
    return sig, [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()]


def _with_params(wrapper, sig: inspect.Signature, params: list[inspect.Parameter]):
    wrapper.__signature__ = sig.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def configurable(fn):
    """``fn`` with ``--config FILE`` and ``--print-config`` (see the module's docstring)."""
    sig, params = _signature(fn)
    extra = [inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfigOpt),
             inspect.Parameter("print_config", inspect.Parameter.KEYWORD_ONLY, default=False,
                               annotation=PrintConfigOpt),
             inspect.Parameter("config_context_", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]

    @functools.wraps(fn)
    def wrapper(*args, config: Path | None = None, print_config: bool = False, config_context_: typer.Context,
                **kwargs):
        if print_config:
            write_config(config_context_, kwargs)
            raise typer.Exit(0)
        return fn(*args, **kwargs)

    return _with_params(wrapper, sig, params + extra)


def settings_options(param: str, cls: type, flags: dict[str, tuple[str, ...]] | None = None):
    """A decorator: the command's parameter ``param`` (a ``cls``) becomes one option per field of the
    dataclass ``cls`` -- ``--field-name`` unless ``flags`` names others -- with the field's type, default and
    help (``metadata["help"]``); the command receives ``param=cls(**values)``. A value the dataclass refuses
    (a :class:`~toolgym.errors.ConfigError`) ends the command with its one-line message."""
    flags = flags or {}
    hints = typing.get_type_hints(cls)
    options = []
    for f in fields(cls):
        default = f.default if f.default is not MISSING else None  # a factory default: None, the field's own
        decls = flags.get(f.name, ("--" + f.name.replace("_", "-"),))
        option = typer.Option(*decls, help=f.metadata.get("help"), show_default=f.default is not MISSING)
        options.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                         annotation=Annotated[hints[f.name], option]))
    factories = {f.name for f in fields(cls) if f.default is MISSING}

    def decorate(fn):
        sig, params = _signature(fn)
        kept = [p for p in params if p.name != param]
        taken = {p.name for p in kept} & {o.name for o in options}
        if taken:
            raise TypeError(f"{fn.__name__} already has parameters {sorted(taken)} of {cls.__name__}")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            values = {o.name: kwargs.pop(o.name) for o in options}
            values = {k: v for k, v in values.items() if not (v is None and k in factories)}
            try:
                kwargs[param] = cls(**values)
            except ConfigError as exc:
                fail(str(exc))
            return fn(*args, **kwargs)

        return _with_params(wrapper, sig, kept + options)

    return decorate


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``--set key=value`` items as ``{key: value}``, each value read as YAML (``true``, ``0.1``, ``[a, b]``,
    text as itself); an item without ``=`` ends the command with a message naming ``--set``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            fail(f"--set takes key=value with a TRL setting as the key (e.g. warmup_ratio=0.1), not {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = text
    return out
