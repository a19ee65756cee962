"""Where did the model change? Per-layer/per-module weight change, module transplants, and the HTML report.
torch, safetensors and matplotlib are imported when a function runs."""

from .report import build_report
from .transplant import TransplantReport, expand_modules, parse_layers, transplant
from .weights import MODULES, Change, classify, heatmap, read_csv, weight_changes, write_csv

__all__ = ["MODULES", "Change", "TransplantReport", "build_report", "classify", "expand_modules", "heatmap",
           "parse_layers", "read_csv", "transplant", "weight_changes", "write_csv"]
