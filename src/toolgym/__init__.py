"""toolgym: executable, verifiable tool-use environments, rollouts, rewards and training.

The package is laid out along the data's journey (see ``docs/architecture.md``):
``schema`` (records) -> ``io``/``formats`` (storage and conversion) -> ``sandbox`` (tool execution)
-> ``parse`` (tool calls out of model text) -> ``reward`` (the verifiable reward) -> ``verify``
(solution checks) -> ``cli``. Nothing imported here pulls in heavy dependencies.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("toolgym")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
