"""The core install is enough for the CLI and the demo: nothing outside the core dependencies is imported.

``make demo`` installs only ``[project] dependencies``; a module that imports an optional extra (or an
undeclared package) at import time breaks ``toolgym`` for everyone who did not install it. A fresh process
here refuses every module whose distribution is not a core dependency (or one of theirs), then imports the
CLI, shows every command's help and runs the demo.
"""

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires

import pytest


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def core_distributions() -> set[str]:
    """toolgym's core dependencies and, recursively, theirs (no extras)."""
    try:
        todo = [r for r in requires("toolgym") or [] if "extra ==" not in r]
    except PackageNotFoundError:
        pytest.skip("toolgym is not installed (pip install -e .)")
    seen = {"toolgym"}
    while todo:
        name = _name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [r for r in requires(name) or [] if "extra ==" not in r]
        except PackageNotFoundError:
            continue
    return seen


CHECK = r"""
import sys
from importlib.metadata import packages_distributions

allowed = set(sys.argv[1].split(","))
blocked = {module for module, dists in packages_distributions().items()
           if not any(d.lower().replace("_", "-") in allowed for d in dists)}
blocked -= set(sys.stdlib_module_names)


class CoreOnly:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in blocked:
            raise ModuleNotFoundError(f"No module named {top!r} (not a core dependency)", name=top)
        return None


sys.meta_path.insert(0, CoreOnly())
from typer.testing import CliRunner
from toolgym.cli import app

runner = CliRunner()
names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
for name in names:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, (name, result.output, result.exception)
result = runner.invoke(app, ["demo", "--out", sys.argv[2]])
assert result.exit_code == 0, (result.output, repr(result.exception))
print("ok", len(names))
"""


def test_the_cli_and_the_demo_need_only_the_core_dependencies(tmp_path):
    allowed = ",".join(sorted(core_distributions()))
    done = subprocess.run([sys.executable, "-c", CHECK, allowed, str(tmp_path / "demo")], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.strip().startswith("ok")
