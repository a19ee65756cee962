"""Environments from a dataset on the Hugging Face Hub: ``--envs owner/name`` or ``--envs owner/name:split``.

A value of ``--envs`` that is not a local path and reads as a dataset id is loaded with
``datasets.load_dataset`` (the ``hf`` extra; the Hub's own cache, token and offline mode apply:
``HF_TOKEN``, ``HF_HUB_OFFLINE=1``) and saved once as a local ``datasets`` folder under
``$HF_HOME/toolgym/datasets/<owner>--<name>/<split>/<fingerprint>``. Every command then reads that folder
like any other input: a run's identity is the digest of the records it read, so a resumed run that would
mix two revisions of a dataset is refused, and nothing is downloaded twice.

Rows are our flat table layout (:mod:`toolgym.io.tables`), which is what ``toolgym build --push-to-hub``
uploads. A dataset that cannot be loaded is one :class:`~toolgym.errors.DataFileError` naming the id and
the fix, never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataFileError
from .tables import _datasets, is_dataset_dict

# owner/name with the Hub's characters, optionally :split; one slash, so "a/b/c.jsonl" stays a path
_ID = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?::(?P<split>[\w.-]+))?")
_FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow", ".csv", ".gz")


@dataclass(frozen=True)
class DatasetId:
    """A dataset on the Hub and, optionally, one of its splits."""

    repo: str
    split: str | None = None

    def __str__(self) -> str:
        return self.repo + (f":{self.split}" if self.split else "")


def dataset_id(source: str | os.PathLike) -> DatasetId | None:
    """The dataset id ``source`` names, or ``None`` when it is a local path (it exists, or it looks like a
    file name: ``data/envs.jsonl`` that is missing is a missing file, not a dataset)."""
    text = os.fspath(source)
    if Path(text).exists():
        return None
    match = _ID.fullmatch(text)
    if match is None or match["repo"].lower().endswith(_FILE_SUFFIXES):
        return None
    return DatasetId(match["repo"], match["split"])


def cache_root() -> Path:
    """Where loaded Hub datasets are kept as local folders: ``$HF_HOME/toolgym/datasets``."""
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "toolgym" / "datasets"


def offline() -> bool:
    """Whether the Hugging Face libraries are told not to use the network (``HF_HUB_OFFLINE``)."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_DATASETS_OFFLINE", ""), os.environ.get("HF_HUB_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(f.upper() in ("1", "ON", "YES", "TRUE") for f in flags)


def hub_unreachable(timeout: float = 5.0) -> str | None:
    """Why the Hub (``HF_ENDPOINT``) cannot be reached, or ``None`` when it answers. One request, no
    retries: the Hugging Face clients retry a refused connection for half a minute before they give up."""
    from huggingface_hub import constants, get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 -- any transport error means the same: not reachable now
        return f"{constants.ENDPOINT} cannot be reached: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


def fetch_dataset(dataset: DatasetId, root: Path | None = None) -> Path:
    """``dataset`` as a local ``datasets`` folder (loaded with ``datasets.load_dataset``, saved once)."""
    datasets = _datasets()
    if not offline() and (why := hub_unreachable()) is not None:
        raise DataFileError(f"{dataset}: no local file of that name, and the dataset cannot be loaded from "
                            f"the Hugging Face Hub ({why}); check the network or HF_ENDPOINT, set HF_HUB_OFFLINE=1 "
                            "to use a copy in the local Hugging Face cache, or give a local file")
    try:
        loaded = datasets.load_dataset(dataset.repo, split=dataset.split)
    except Exception as exc:  # noqa: BLE001 -- datasets and huggingface_hub raise many types for one problem
        raise DataFileError(_why(dataset, exc)) from None
    parts = [loaded[s] for s in sorted(loaded)] if is_dataset_dict(loaded) else [loaded]
    fingerprint = hashlib.sha256("".join(str(getattr(p, "_fingerprint", "")) for p in parts).encode()).hexdigest()
    owner, name = dataset.repo.split("/")
    folder = (root or cache_root()) / f"{owner}--{name}" / (dataset.split or "all") / fingerprint[:16]
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".loading.", dir=folder.parent))
        try:
            loaded.save_to_disk(str(tmp / "ds"))
            os.replace(tmp / "ds", folder)
        except OSError:
            if not folder.exists():  # another process saved the same snapshot first: use it
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _why(dataset: DatasetId, exc: Exception) -> str:
    """One line: what went wrong loading ``dataset`` and what fixes it."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if dataset.split and "split" in str(exc).lower():
        fix = f"check the split after ':' ({dataset.split!r})"
    elif offline():
        fix = "it is not in the local Hugging Face cache and offline mode is on (HF_HUB_OFFLINE); load it once " \
              "with the network, or give a local file"
    else:
        fix = "check the id and the network, log in (`hf auth login` or HF_TOKEN) for a private dataset, or give " \
              "a local file"
    return f"{dataset}: no local file of that name, and the dataset cannot be loaded from the Hugging " \
           f"Face Hub ({text}); {fix}"
