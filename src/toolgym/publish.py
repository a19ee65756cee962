"""Cards and uploads for the Hugging Face Hub: the model card of every trained model folder, the dataset card
and repository layout of environments, and the push itself (``huggingface_hub``).

* :func:`write_model_card` writes ``README.md`` into a trained model's folder: the base model (the
  ``--model`` it started from), the data (a path or a dataset id), the algorithm, the reward and the main
  hyperparameters, with the Hub's metadata (``base_model`` and ``datasets`` where they are Hub ids).
* :func:`dataset_upload` lays environments out as a dataset repository: one parquet file per split
  (``data/<split>.parquet``, toolgym's flat table layout, which ``--envs owner/name`` reads back), a
  dataset card naming the builder, the seed and the counts, and the build's manifest.
* :func:`model_upload` is a trained model's folder with its card naming the repository.
* :func:`push` uploads an :class:`Upload` in one commit. It needs a token with write access (``hf auth
  login`` or ``HF_TOKEN``) and the network; anything that stops it is a :class:`PushError`, one line that
  names the fix, raised before anything is sent when it can be known (offline mode, no token, no network).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError

README = "README.md"
#: The build's manifest in a dataset repository (what built the environments, with which settings).
MANIFEST = "toolgym.manifest.json"


class PushError(ConfigError):
    """An upload to the Hub that could not be made (no token, no network, refused); the message names the fix."""


def _hub():
    try:
        import huggingface_hub
    except ImportError as exc:
        raise ConfigError("the Hugging Face Hub needs huggingface_hub: pip install 'toolgym[hf]'") from exc
    return huggingface_hub


def hub_id(name: str | os.PathLike | None) -> str | None:
    """``name`` when it is an id on the Hub (``owner/name``, not a local path), else ``None``: the Hub's card
    metadata may only name repositories."""
    from .io import dataset_id

    if name is None:
        return None
    found = dataset_id(name)
    return found.repo if found is not None else None


def source_name(path: str | os.PathLike | None) -> str | None:
    """How a card names data: the dataset id for a folder that ``--envs owner/name[:split]`` loaded
    (``.../toolgym/datasets/<owner>--<name>/<split or all>/<fingerprint>``), the path otherwise."""
    if path is None:
        return None
    parts = Path(path).parts
    if len(parts) >= 5 and parts[-5:-3] == ("toolgym", "datasets") and "--" in parts[-3]:
        repo = parts[-3].replace("--", "/", 1)
        return repo + ("" if parts[-2] == "all" else f":{parts[-2]}")
    return str(path)


# ---------------------------------------------------------------- model cards


@dataclass
class ModelCardInfo:
    """What a trained model's card says."""

    base_model: str  # the --model the run started from (name or path)
    data: str  # what it trained on: a data folder, an environments file or a dataset id
    algorithm: str  # e.g. "GRPO"
    trainer: str  # e.g. "TRL 1.16.0"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    data_from: str | None = None  # the environments the data was prepared from, when known
    reward: str | None = None  # the reward trained on, in words
    rows: int | None = None  # training rows
    steps: int | None = None  # optimizer steps done


def _cell(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list, tuple, bool)) or value is None else str(value)
    return text.replace("|", "\\|")


def model_card_text(info: ModelCardInfo, name: str, load: str | None = None) -> str:
    """The card of a model called ``name``, loaded from ``load`` (a repository id or a folder; default
    ``name``): YAML metadata, then Markdown."""
    hub = _hub()
    datasets_ = [d for d in (hub_id(info.data), hub_id(info.data_from)) if d]
    meta = hub.ModelCardData(base_model=hub_id(info.base_model), datasets=datasets_ or None,
                             library_name="transformers", pipeline_tag="text-generation",
                             tags=["toolgym", "tool-use", info.algorithm.split()[0].lower(), info.trainer.split()[0].lower()])
    data = f"`{info.data}`" + (f", prepared from the environments `{info.data_from}`" if info.data_from else "")
    load = load or name
    lines = [
        f"# {name}",
        "",
        (f"`{load}` is `{info.base_model}` fine-tuned with {info.algorithm} ({info.trainer}) by toolgym "
         f"{__version__} on {data}."),
        "",
        "## Training",
        "",
        f"- Base model: `{info.base_model}`",
        f"- Data: {data}" + (f" ({info.rows} training rows)" if info.rows is not None else ""),
        f"- Algorithm: {info.algorithm} ({info.trainer})",
    ]
    if info.reward:
        lines.append(f"- Reward: {info.reward}")
    if info.steps is not None:
        lines.append(f"- Steps: {info.steps}")
    lines += ["", "| hyperparameter | value |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in info.hyperparameters.items()]
    lines += ["", "## Use", "", "```python", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
              f'model = AutoModelForCausalLM.from_pretrained("{load}")',
              f'tokenizer = AutoTokenizer.from_pretrained("{load}")', "```", ""]
    return f"---\n{meta.to_yaml()}\n---\n\n" + "\n".join(lines)


def write_model_card(folder: str | os.PathLike, info: ModelCardInfo, *, repo_id: str | None = None,
                     name: str | None = None, load: str | os.PathLike | None = None) -> Path:
    """Write ``README.md`` (the model card) into a folder; returns its path. The model is called ``repo_id``,
    else ``name``, else the folder's name, and is loaded from ``repo_id``, else ``load``, else the folder."""
    folder = Path(folder)
    path = folder / README
    text = model_card_text(info, repo_id or name or folder.name, repo_id or str(load or folder))
    _hub().ModelCard(text).save(path)
    return path


# ---------------------------------------------------------------- datasets of environments


def _split_file(split: str) -> str:
    return f"data/{split}.parquet"


def dataset_card_text(envs: list, repo_id: str, manifest: dict[str, Any] | None) -> str:
    """The card of a dataset repository of ``envs``: the Hub's metadata (one config whose splits are the
    records' ``metadata.split``), then what built them, the counts, and how to use them."""
    hub = _hub()
    manifest = manifest or {}
    splits = Counter(e.split for e in envs)
    scenarios = Counter(e.scenario or "unknown" for e in envs)
    domains = Counter(e.metadata.domain or "unknown" for e in envs)
    n = len(envs)
    size = next(label for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                                           (1_000_000, "100K<n<1M"), (float("inf"), "n>1M")) if n < limit)
    meta = hub.DatasetCardData(
        pretty_name=repo_id.split("/")[-1], size_categories=size, tags=["toolgym", "tool-use", "function-calling"],
        configs=[{"config_name": "default",
                  "data_files": [{"split": s, "path": _split_file(s)} for s in sorted(splits)]}])
    builder = manifest.get("builder") or manifest.get("kind") or "unknown"
    seed = manifest.get("seed")
    lines = [
        f"# {repo_id.split('/')[-1]}",
        "",
        f"{n} executable, verifiable tool-use environments built by toolgym "
        f"{manifest.get('toolgym_version') or __version__} (builder `{builder}`"
        + (f", seed {seed}" if seed is not None else "") + ").",
        "",
        "| split | environments |", "|---|---|",
        *(f"| {s} | {k} |" for s, k in sorted(splits.items())),
        "",
        "| scenario | environments |", "|---|---|",
        *(f"| {s} | {k} |" for s, k in sorted(scenarios.items(), key=lambda kv: (-kv[1], kv[0]))),
        "",
        "| domain | environments |", "|---|---|",
        *(f"| {s} | {k} |" for s, k in sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))),
        "",
    ]
    if manifest.get("config"):
        import yaml

        config = yaml.safe_dump(manifest["config"], sort_keys=False, default_flow_style=None).rstrip()
        lines += ["## How they were built", "", "```yaml", config, "```", "",
                  f"The whole manifest of the build is `{MANIFEST}`.", ""]
    lines += [
        "## Use", "",
        ("Each row is one environment in toolgym's flat layout: `id`, `scenario`, `question`, `answer`, and "
         "`tools`, `code`, `expected`, `solution`, `metadata` as JSON strings."), "",
        "```bash",
        f"toolgym inspect {repo_id}",
        f"toolgym rollout --envs {repo_id}:test --base-url http://localhost:8000/v1 --model MODEL --out runs/test.jsonl",
        "```", "",
        "```python", "import datasets", "", f'envs = datasets.load_dataset("{repo_id}")', "```", "",
    ]
    return f"---\n{meta.to_yaml()}\n---\n\n" + "\n".join(lines)


@dataclass
class Upload:
    """What a push sends: every file under ``folder`` (the card is ``folder/README.md``) to ``repo_id``."""

    repo_id: str
    repo_type: str  # "model" or "dataset"
    folder: Path

    def files(self) -> list[str]:
        """The paths in the repository, sorted."""
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*") if p.is_file())


def dataset_upload(source: str | os.PathLike, repo_id: str, folder: str | os.PathLike) -> Upload:
    """Lay the environments of ``source`` out in ``folder`` (emptied first) as the dataset repository
    ``repo_id``: ``data/<split>.parquet``, ``README.md`` (the card), and the source's manifest if it has one."""
    from .io import env_to_row, read_environments, read_manifest, write_parquet

    folder = Path(folder)
    check_repo_id(repo_id)
    envs = list(read_environments(source))
    if not envs:
        raise ConfigError(f"{source} holds no environments to push")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for split in sorted({e.split for e in envs}):
        write_parquet(folder / _split_file(split), [env_to_row(e) for e in envs if e.split == split])
    manifest = read_manifest(source) if Path(source).is_file() else None
    if manifest:
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _hub().DatasetCard(dataset_card_text(envs, repo_id, manifest)).save(folder / README)
    return Upload(repo_id, "dataset", folder)


def model_upload(final: str | os.PathLike, repo_id: str) -> Upload:
    """A trained model's folder as the model repository ``repo_id``; its card (written when it was trained)
    is written again to name the repository."""
    final = Path(final)
    check_repo_id(repo_id)
    if not (final / "config.json").exists():
        raise ConfigError(f"{final} is not a saved model (it has no config.json)")
    info_path = final / CARD_INFO
    if info_path.exists():
        info = ModelCardInfo(**json.loads(info_path.read_text(encoding="utf-8")))
        write_model_card(final, info, repo_id=repo_id)
    return Upload(repo_id, "model", final)


#: The card's facts beside the model (so that a push can write the card again for its repository).
CARD_INFO = "toolgym_card.json"


def save_model_card(folder: str | os.PathLike, info: ModelCardInfo) -> Path:
    """:func:`write_model_card`, keeping the facts beside it for :func:`model_upload`."""
    from dataclasses import asdict

    from .io import atomic_write_text

    atomic_write_text(Path(folder) / CARD_INFO, json.dumps(asdict(info), indent=2, default=str) + "\n")
    return write_model_card(folder, info)


# ---------------------------------------------------------------- push


def check_repo_id(repo_id: str) -> None:
    """A repository id the Hub accepts (``owner/name``); a :class:`ConfigError` naming ``--push-to-hub``."""
    _hub()
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except Exception as exc:  # noqa: BLE001 -- HFValidationError; its module moved between versions
        raise ConfigError(f"--push-to-hub {repo_id!r} is not a repository id: {exc}") from None
    if repo_id.count("/") != 1:
        raise ConfigError(f"--push-to-hub {repo_id!r}: give the repository as owner/name")


def check_pushable(repo_id: str, token: str | None = None, *, kept: str = "") -> str:
    """The token a push to ``repo_id`` would use, after checking what can be known before sending anything:
    a valid id, offline mode off, a token, the Hub answering. :class:`PushError` naming the fix otherwise
    (``kept`` is appended: where the files stay)."""
    from .io import hub_unreachable, offline

    hub = _hub()
    check_repo_id(repo_id)
    where = f"--push-to-hub {repo_id}"
    if offline():
        raise PushError(f"{where}: offline mode is on (HF_HUB_OFFLINE); unset it to push (the Hub needs the "
                        f"network){kept}")
    token = token or hub.get_token()
    if not token:
        raise PushError(f"{where}: no Hugging Face token; log in with `hf auth login` or set HF_TOKEN to a token "
                        f"with write access{kept}")
    if (why := hub_unreachable()) is not None:
        raise PushError(f"{where}: {why}; check the network or HF_ENDPOINT{kept}")
    return token


def push(upload: Upload, *, private: bool = False, message: str | None = None,
         token: str | None = None) -> str:
    """Create ``upload.repo_id`` if needed and upload every file of the folder in one commit; the URL of the
    commit. :class:`PushError` (one line, naming the fix) for anything that stops it."""
    hub = _hub()
    where = f"--push-to-hub {upload.repo_id}"
    token = check_pushable(upload.repo_id, token, kept=f"; the files stay in {upload.folder}")
    api = hub.HfApi(token=token)
    operations: Iterable = [hub.CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(upload.folder / name))
                            for name in upload.files()]
    try:
        api.create_repo(upload.repo_id, repo_type=upload.repo_type, private=private, exist_ok=True)
        commit = api.create_commit(upload.repo_id, list(operations), repo_type=upload.repo_type,
                                   commit_message=message or f"Upload with toolgym {__version__}")
    except Exception as exc:  # noqa: BLE001 -- huggingface_hub raises many types (HTTP, auth, validation)
        text = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise PushError(f"{where}: the Hub refused the upload ({text}); check that the token (`hf auth login` or "
                        f"HF_TOKEN) can write to {upload.repo_id}; the files stay in {upload.folder}") from None
    return str(getattr(commit, "commit_url", commit))
