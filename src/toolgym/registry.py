"""Registries: explicit dictionaries from a name to a ``module:attr`` string, and the one function that
turns a name into the object it names.

Every registry of toolgym (``models.BACKENDS``, ``sandbox.EXECUTORS``, ``builder.BUILDERS``,
``bench.BENCHMARKS``) is a plain ``dict[str, str]``: nothing is imported until a name is used (choosing
the OpenAI backend never loads torch), and nothing registers itself as a side effect of an import. A
name that is not in the registry, or a target that cannot be loaded, is a
:class:`~toolgym.errors.ConfigError` naming the flag that chooses and the names it accepts.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError


def load(target: str) -> Any:
    """The object ``module:attr`` names (``attr`` may be dotted: ``module:Class.factory``)."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"a registry target is 'module:attr', not {target!r}")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def lookup(registry: Mapping[str, str], name: str, *, what: str, flag: str, targets: bool = False) -> Any:
    """The object registered as ``name``. ``what`` says what the registry holds ("backend"), ``flag`` the
    option that chooses ("--backend"); with ``targets``, a ``module:attr`` string not in the registry is
    loaded as well (a user's own factory)."""
    target = registry.get(name)
    if target is None and targets and ":" in name:
        target = name
    if target is None:
        raise ConfigError(f"unknown {what} {name!r}; use {flag} with one of {', '.join(registry)}"
                          + (" (or a module:attr factory)" if targets else ""))
    try:
        return load(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{what} {name!r}: cannot load {target} ({exc})") from None
