"""Reading checkpoints tensor by tensor (safetensors), so a 7B model never has to fit in memory.

A checkpoint is a folder with ``model.safetensors`` or sharded ``model-0000k-of-0000n.safetensors`` plus
``model.safetensors.index.json``; a model name is resolved in the local Hugging Face cache (or fetched
when the machine can reach the hub). Tensors are read in row slices of bounded size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError

CHUNK_ELEMENTS = 1 << 24  # about 64 MB of float32 per slice


def resolve(model: str | Path) -> Path:
    """The local folder of a checkpoint given as a folder or a model name."""
    p = Path(model)
    if p.is_dir():
        return p
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise ConfigError(f"{model} is not a folder, and huggingface_hub is not installed to find it by name") from exc
    try:
        return Path(snapshot_download(str(model), allow_patterns=["*.safetensors", "*.json", "*.model", "*.txt"]))
    except Exception as exc:
        raise ConfigError(f"cannot find the checkpoint {model!r}: give a local folder with *.safetensors ({exc})") from exc


def tensor_files(folder: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file that holds it."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {name: folder / file for name, file in weight_map.items()}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"no *.safetensors in {folder}; save the model with save_pretrained(safe_serialization=True)")
    from safetensors import safe_open

    out = {}
    for f in files:
        with safe_open(str(f), framework="pt") as h:
            for name in h.keys():
                out[name] = f
    return out


def slices(path: Path, name: str) -> Iterator:
    """The tensor ``name`` from ``path`` as float64 row slices (scalars and vectors in one piece)."""
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as h:
        view = h.get_slice(name)
        shape = view.get_shape()
        if len(shape) < 2:
            yield h.get_tensor(name).to(torch.float64)
            return
        row = 1
        for d in shape[1:]:
            row *= d
        step = max(1, CHUNK_ELEMENTS // max(1, row))
        for start in range(0, shape[0], step):
            yield view[start:start + step].to(torch.float64)
