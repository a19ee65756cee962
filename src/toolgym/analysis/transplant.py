"""The paper's ablation: take chosen modules of chosen layers from one checkpoint into another.

``transplant(base, trained, modules=["mlp"], layers=range(0, 14))`` writes a checkpoint that is the base
model with the trained model's lower-layer MLPs (``reverse=True``: the trained model with the base's),
ready for ``toolgym eval``. Files are written shard by shard with the receiving checkpoint's layout, and
its config and tokenizer files are copied, so the result loads like any checkpoint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ._checkpoint import resolve, tensor_files
from .weights import MODULES, classify

GROUPS = {"attn": [m for m in MODULES if m.startswith("attn.")], "mlp": [m for m in MODULES if m.startswith("mlp.")],
          "norm": [m for m in MODULES if m.startswith("norm.")]}


def parse_layers(text: str) -> list[int]:
    """``"0-13,20"`` -> [0, ..., 13, 20]."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ConfigError(f"bad layer range {part!r}; write e.g. 0-13,20") from None
        out.extend(range(min(a, b), max(a, b) + 1))
    return sorted(set(out))


def expand_modules(names: Iterable[str]) -> set[str]:
    """``mlp`` -> its three module types; ``attn.q``, ``embeddings``, ``lm_head``... as themselves."""
    known = set(MODULES) | {"embeddings", "norm.final", "lm_head"}
    out: set[str] = set()
    for n in names:
        n = n.strip()
        if n in GROUPS:
            out.update(GROUPS[n])
        elif n in known:
            out.add(n)
        else:
            raise ConfigError(f"unknown module {n!r}; use {', '.join(sorted(set(GROUPS) | known))}")
    return out


@dataclass
class TransplantReport:
    out: Path
    moved: list[str]
    kept: int


def transplant(base: str | Path, trained: str | Path, out: str | Path, *, modules: Iterable[str],
               layers: Iterable[int] | None = None, reverse: bool = False) -> TransplantReport:
    """Write ``out``: the receiving checkpoint (base, or trained with ``reverse``) with the selected tensors
    taken from the other. ``layers=None`` means every layer (and the modules outside layers)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    wanted = expand_modules(modules)
    layer_set = set(layers) if layers is not None else None
    receiver_dir, donor_dir = (resolve(trained), resolve(base)) if reverse else (resolve(base), resolve(trained))
    receiver, donor = tensor_files(receiver_dir), tensor_files(donor_dir)
    if set(receiver) != set(donor):
        raise ConfigError("the checkpoints have different tensors; transplant between the same architecture")

    def selected(name: str) -> bool:
        layer, module = classify(name)
        if module not in wanted:
            return False
        return layer_set is None or (layer is not None and layer in layer_set)

    moved = sorted(n for n in receiver if selected(n))
    if not moved:
        raise ConfigError("nothing matches these modules and layers")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for f in receiver_dir.iterdir():
        if f.is_file() and not f.name.endswith(".safetensors"):
            shutil.copy2(f, out / f.name)
    for shard in sorted(set(receiver.values())):
        tensors = {}
        with safe_open(str(shard), framework="pt") as h:
            metadata = h.metadata()
            for name in h.keys():
                tensors[name] = h.get_tensor(name)
        for name in tensors:
            if name in moved:
                with safe_open(str(donor[name]), framework="pt") as h:
                    value = h.get_tensor(name)
                if value.shape != tensors[name].shape:
                    raise ConfigError(f"{name}: shapes differ ({tuple(value.shape)} vs {tuple(tensors[name].shape)})")
                tensors[name] = value.to(tensors[name].dtype)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / shard.name), metadata=metadata or {"format": "pt"})
        del tensors
    note = {"receiver": str(receiver_dir), "donor": str(donor_dir), "modules": sorted(wanted),
            "layers": sorted(layer_set) if layer_set is not None else "all", "moved": moved}
    (out / "toolgym_transplant.json").write_text(json.dumps(note, indent=2) + "\n")
    return TransplantReport(out, moved, len(receiver) - len(moved))
