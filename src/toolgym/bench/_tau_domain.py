"""A tau-bench domain (retail, airline): its tools, its policy (wiki) and its database, read from either of
the two layouts it is published in, and the database hash tau-bench's reward compares.

* tau-bench's own folders (``tau_bench/envs/<domain>``): a ``tools`` package whose ``ALL_TOOLS`` lists
  Python tool classes with static ``invoke(data, **kwargs)`` and ``get_info()``; ``data/__init__.py`` with
  ``load_data()`` (or the ``data/*.json`` files); ``wiki.md``; ``tasks_<split>.py``. The tool classes and
  ``load_data`` are tau-bench's code and are imported as they are (the package ``__init__`` files that
  pull in the LLM client are not run: the domain is loaded as a plain package of its own).
* the paper's converted layout (``Data/jsonl/raw/tau-bench/<domain>``): ``tools.json`` (OpenAI tool
  schemas), ``codes.json`` (tool name -> Python source of a function whose first parameter is ``data``),
  ``wiki.md`` and the database JSON files (in the folder or its ``data/`` subfolder).

A tool call is answered as tau-bench's ``Env.step`` answers it: the tool's return value, ``Error: <exc>``
when it raises, ``Unknown action <name>`` for a tool the domain does not have.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import json
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._base import BenchDataError

#: The tool that ends an episode in both tau-bench domains (their ``Env.terminate_tools``).
TERMINATE = ("transfer_to_human_agents",)


def to_hashable(item: Any) -> Any:
    """tau-bench's ``to_hashable``: dicts as sorted key/value tuples, lists as tuples, sets sorted."""
    if isinstance(item, dict):
        return tuple((key, to_hashable(value)) for key, value in sorted(item.items()))
    if isinstance(item, list):
        return tuple(to_hashable(element) for element in item)
    if isinstance(item, set):
        return tuple(sorted(to_hashable(element) for element in item))
    return item


def data_hash(data: Any) -> str:
    """tau-bench's ``Env.get_data_hash``: sha256 of ``str(to_hashable(data))``."""
    return hashlib.sha256(str(to_hashable(data)).encode("utf-8")).hexdigest()


def _namespace(name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    sys.modules[name] = module
    return module


def _ensure_tool_base(envs: Path) -> None:
    """tau-bench's tool files import ``tau_bench.envs.tool.Tool``: make the checkout's ``tool.py`` (a base
    class with nothing in it) importable without running ``tau_bench/__init__``, which imports the LLM
    client."""
    if "tau_bench.envs.tool" in sys.modules:
        return
    if "tau_bench" not in sys.modules:
        _namespace("tau_bench", envs.parent)
    if "tau_bench.envs" not in sys.modules:
        _namespace("tau_bench.envs", envs)
    tool = envs / "tool.py"
    if not tool.exists():
        raise BenchDataError(f"{envs} is not tau-bench's envs folder: it has no tool.py (--tau-info)")
    spec = importlib.util.spec_from_file_location("tau_bench.envs.tool", tool)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tau_bench.envs.tool"] = module
    spec.loader.exec_module(module)


def _import_taubench_domain(folder: Path) -> tuple[list[Any], Callable[[], dict[str, Any]] | None]:
    """``(ALL_TOOLS, load_data or None)`` of a tau-bench domain folder, under a package name of its own."""
    _ensure_tool_base(folder.parent)
    name = f"_toolgym_taubench_{hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]}_{folder.name}"
    if name not in sys.modules:
        _namespace(name, folder)
    try:
        tools = importlib.import_module(f"{name}.tools").ALL_TOOLS
        load = importlib.import_module(f"{name}.data").load_data if (folder / "data" / "__init__.py").exists() else None
    except Exception as exc:
        raise BenchDataError(f"could not import tau-bench's tools of {folder}: {type(exc).__name__}: {exc}") from exc
    return list(tools), load


def _json_files(folder: Path) -> dict[str, Any]:
    data_dir = folder / "data" if (folder / "data").is_dir() else folder
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(data_dir.glob("*.json"))
            if p.name not in ("tools.json", "codes.json")}


@dataclass
class Domain:
    """One tau-bench domain: its tools (OpenAI schemas), how a call is answered, its policy, and its
    initial database (each episode works on its own copy)."""

    name: str
    tools: list[dict[str, Any]]
    invokers: dict[str, Callable[..., Any]]
    wiki: str
    data: dict[str, Any]
    layout: str
    _gold: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Domain:
        folder = Path(folder)
        if not (folder / "wiki.md").exists():
            raise BenchDataError(f"tau-bench domain folder {folder} has no wiki.md (--tau-info: tau-bench's "
                                 "tau_bench/envs folder or the paper's Data/jsonl/raw/tau-bench folder)")
        wiki = (folder / "wiki.md").read_text(encoding="utf-8")
        if (folder / "tools" / "__init__.py").exists():
            classes, load = _import_taubench_domain(folder)
            data = load() if load is not None else _json_files(folder)
            tools = [c.get_info() for c in classes]
            invokers = {c.get_info()["function"]["name"]: c.invoke for c in classes}
            return cls(folder.name, tools, invokers, wiki, data, "tau-bench")
        missing = [p for p in ("tools.json", "codes.json") if not (folder / p).exists()]
        if missing:
            raise BenchDataError(f"tau-bench domain folder {folder} lacks {', '.join(missing)} and has no tools/ "
                                 "package (--tau-info)")
        data = _json_files(folder)
        if not data:
            raise BenchDataError(f"no database JSON files in {folder} (users.json, orders.json, ...)")
        invokers = {}
        for name, source in json.loads((folder / "codes.json").read_text(encoding="utf-8")).items():
            namespace: dict[str, Any] = {}
            exec(compile(source, f"<tau-bench {folder.name}:{name}>", "exec"), namespace)
            invokers[name] = namespace[name]
        return cls(folder.name, json.loads((folder / "tools.json").read_text(encoding="utf-8")), invokers, wiki,
                   data, "ftrl")

    def fresh_data(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)

    def call(self, data: dict[str, Any], name: str, arguments: dict[str, Any]) -> str:
        """One tool call, answered as tau-bench's ``Env.step`` answers it."""
        invoke = self.invokers.get(name)
        if invoke is None:
            return f"Unknown action {name}"
        try:
            out = invoke(data=data, **arguments)
        except Exception as exc:
            return f"Error: {exc}"
        if self.layout == "ftrl" and isinstance(out, (dict, list)):
            return json.dumps(out, ensure_ascii=False)
        return out if isinstance(out, str) else str(out)

    def gold_hash(self, key: str, actions: list[tuple[str, dict]]) -> str:
        """The database hash after the task's gold actions (not the terminating tool) on a fresh copy."""
        if key not in self._gold:
            data = self.fresh_data()
            for name, kwargs in actions:
                if name not in TERMINATE:
                    self.call(data, name, kwargs)
            self._gold[key] = data_hash(data)
        return self._gold[key]
