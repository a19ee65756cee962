"""Where did the model change? Relative weight change per layer and module type.

For every tensor, ``||W_trained - W_base|| / ||W_base||`` (Frobenius norms, computed in float64 over row
slices, so memory stays bounded). Tensors are grouped by layer and module type -- attention q/k/v/o, MLP
gate/up/down, the two norms of each layer, and the embeddings, final norm and output head outside the
layers -- and a group's change is ``sqrt(sum ||dW||^2) / sqrt(sum ||W||^2)`` over its tensors (weight and
bias together). The paper finds the gains come mainly from the lower layers' MLP.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..evaluate import pyplot, save_figure
from ._checkpoint import resolve, slices, tensor_files

#: module types, in heatmap column order
MODULES = ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.gate", "mlp.up", "mlp.down", "norm.input",
           "norm.post_attention")
_ATTN = {"q_proj": "attn.q", "query": "attn.q", "wq": "attn.q", "k_proj": "attn.k", "key": "attn.k", "wk": "attn.k",
         "v_proj": "attn.v", "value": "attn.v", "wv": "attn.v", "o_proj": "attn.o", "out_proj": "attn.o",
         "dense": "attn.o", "wo": "attn.o", "c_proj": "attn.o"}
_MLP = {"gate_proj": "mlp.gate", "w1": "mlp.gate", "up_proj": "mlp.up", "w3": "mlp.up", "fc1": "mlp.up",
        "c_fc": "mlp.up", "down_proj": "mlp.down", "w2": "mlp.down", "fc2": "mlp.down", "c_proj": "mlp.down"}
_NORMS = {"input_layernorm": "norm.input", "ln_1": "norm.input", "attention_norm": "norm.input",
          "post_attention_layernorm": "norm.post_attention", "ln_2": "norm.post_attention",
          "ffn_norm": "norm.post_attention"}
_GLOBAL = {"embed_tokens": "embeddings", "wte": "embeddings", "word_embeddings": "embeddings",
           "tok_embeddings": "embeddings", "norm": "norm.final", "ln_f": "norm.final", "final_layernorm": "norm.final",
           "lm_head": "lm_head", "output": "lm_head"}
_LAYER = re.compile(r"\.(?:layers|h|blocks|layer)\.(\d+)\.")


def classify(name: str) -> tuple[int | None, str]:
    """(layer index or None, module type) of a parameter name, e.g. ``model.layers.3.mlp.up_proj.weight``
    -> ``(3, "mlp.up")``; a name that fits nothing known is ``"other"``."""
    m = _LAYER.search(name)
    if m is None:
        return None, next((_GLOBAL[p] for p in name.split(".") if p in _GLOBAL), "other")
    parts = name[m.end():].split(".")
    if any(p in ("self_attn", "attn", "attention", "self_attention") for p in parts):
        table = _ATTN
    elif any(p in ("mlp", "feed_forward", "ffn") for p in parts):
        table = _MLP
    else:
        table = _NORMS
    return int(m.group(1)), next((table[p] for p in parts if p in table), "other")


@dataclass(frozen=True, slots=True)
class Change:
    layer: int | None
    module: str
    relative: float  # ||dW|| / ||W_base||
    diff_norm: float
    base_norm: float
    tensors: int


def weight_changes(base: str | Path, trained: str | Path, progress=None) -> list[Change]:
    """Relative change per (layer, module) between two checkpoints of the same architecture."""
    import torch

    base_files = tensor_files(resolve(base))
    trained_files = tensor_files(resolve(trained))
    missing = sorted(set(base_files) ^ set(trained_files))
    if missing:
        raise ConfigError(f"the checkpoints have different tensors (e.g. {missing[:3]}); compare the same architecture")
    sums: dict[tuple[int | None, str], list[float]] = {}
    for i, name in enumerate(sorted(base_files)):
        diff = ref = 0.0
        for a, b in zip(slices(base_files[name], name), slices(trained_files[name], name)):
            if a.shape != b.shape:
                raise ConfigError(f"tensor {name} has shape {tuple(a.shape)} in the base and {tuple(b.shape)} trained")
            diff += float(torch.sum((b - a) ** 2))
            ref += float(torch.sum(a ** 2))
        acc = sums.setdefault(classify(name), [0.0, 0.0, 0])
        acc[0] += diff
        acc[1] += ref
        acc[2] += 1
        if progress is not None:
            progress(i + 1, len(base_files))
    out = [Change(layer, module, math.sqrt(d) / math.sqrt(r) if r > 0 else (0.0 if d == 0 else math.inf),
                  math.sqrt(d), math.sqrt(r), n) for (layer, module), (d, r, n) in sums.items()]
    return sorted(out, key=lambda c: (c.layer is None, c.layer if c.layer is not None else 0, c.module))


def write_csv(changes: list[Change], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["layer", "module", "relative_change", "diff_norm", "base_norm", "tensors"])
        for c in changes:
            w.writerow(["" if c.layer is None else c.layer, c.module, f"{c.relative:.6e}", f"{c.diff_norm:.6e}",
                        f"{c.base_norm:.6e}", c.tensors])
    return path


def read_csv(path: str | Path) -> list[Change]:
    with open(path, newline="") as f:
        return [Change(int(r["layer"]) if r["layer"] else None, r["module"], float(r["relative_change"]),
                       float(r["diff_norm"]), float(r["base_norm"]), int(r["tensors"])) for r in csv.DictReader(f)]


def heatmap(changes: list[Change], path: str | Path, title: str = "Relative weight change") -> Path:
    """Layers (rows, layer 0 at the bottom) by module type (columns), colour = relative change."""
    return save_figure(heatmap_figure(changes, title), path)


def heatmap_figure(changes: list[Change], title: str = "Relative weight change"):
    """The figure :func:`heatmap` writes; the modules outside the layers are named under the title."""
    plt = pyplot()
    layers = sorted({c.layer for c in changes if c.layer is not None})
    modules = [m for m in MODULES if any(c.module == m for c in changes)]
    if not layers or not modules:
        raise ConfigError("no per-layer modules to draw (is this a transformer checkpoint?)")
    grid = [[math.nan] * len(modules) for _ in layers]
    for c in changes:
        if c.layer is not None and c.module in modules:
            grid[layers.index(c.layer)][modules.index(c.module)] = c.relative
    fig, ax = plt.subplots(figsize=(0.9 * len(modules) + 3.4, 0.28 * len(layers) + 2.4))
    image = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis")
    ax.set_xticks(range(len(modules)), modules, rotation=45, ha="right")
    step = max(1, len(layers) // 16)
    ax.set_yticks(range(0, len(layers), step), [str(layers[i]) for i in range(0, len(layers), step)])
    ax.set_xlabel("module")
    ax.set_ylabel("layer")
    fig.colorbar(image, ax=ax, label="relative change ||dW|| / ||W_base||")
    outside = [c for c in changes if c.layer is None]
    if outside:
        ax.set_title(title + "\n" + ", ".join(f"{c.module} {c.relative:.2e}" for c in outside), fontsize=9)
    else:
        ax.set_title(title)
    return fig
